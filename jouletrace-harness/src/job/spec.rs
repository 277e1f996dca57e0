//! The job a runtime host is given (protocol v2): candidates, their cases per problem, and how
//! outputs are compared.

use std::collections::BTreeMap;
use std::time::Duration;

use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;

use super::request::{ComparisonMode, MeasureRequest, TestCaseRequest};
use crate::registry::CandidateOptions;

/// The job file's format version; a host refuses another.
pub const JOB_PROTOCOL: u32 = 2;

/// Tolerance of the predecessor's float comparison, absolute and relative.
const PREDECESSOR_TOLERANCE: f64 = 1e-9;

/// "Measure these candidates on these cases." Written to a file the host reads.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Job {
    pub protocol: u32,
    pub candidates: Vec<JobCandidate>,
    /// Cases per problem; every candidate of a problem runs all of them.
    pub cases: BTreeMap<String, Vec<JobCase>>,
    /// The rule for candidates that do not carry their own.
    #[serde(default)]
    pub comparison: Comparison,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Language {
    Python,
}

/// One candidate: source code and the function to call.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct JobCandidate {
    /// `problem::name`, as for `#[joule_bench]` candidates.
    pub id: String,
    pub problem: String,
    pub name: String,
    pub language: Language,
    pub code: String,
    /// The function the host calls (the request's `function_name`).
    pub entry: String,
    /// Timeout, memory limit, trial floor and warm-ups, in the engine's terms.
    pub options: CandidateOptions,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub comparison: Option<Comparison>,
    /// Where the candidate came from, for reports (`request 3`, `file.jsonl:3`).
    #[serde(default)]
    pub location: String,
}

/// One case: raw JSON inputs (spread into the call) and the expected output.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct JobCase {
    pub id: String,
    pub inputs: Box<RawValue>,
    pub expected: Box<RawValue>,
    /// From the test case's `metadata.size`, when it is a non-negative integer.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub size: Option<u64>,
    /// From `metadata.family`, when it is a string.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub family: Option<String>,
    #[serde(default)]
    pub metadata: serde_json::Map<String, serde_json::Value>,
}

/// How the host compares an output with the expected one.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct Comparison {
    pub mode: ComparisonMode,
    pub abs_tol: f64,
    pub rel_tol: f64,
}

impl Default for Comparison {
    fn default() -> Self {
        Comparison::from(ComparisonMode::default())
    }
}

impl From<ComparisonMode> for Comparison {
    fn from(mode: ComparisonMode) -> Self {
        Comparison {
            mode,
            abs_tol: PREDECESSOR_TOLERANCE,
            rel_tol: PREDECESSOR_TOLERANCE,
        }
    }
}

#[derive(Debug, thiserror::Error, PartialEq)]
pub enum JobError {
    #[error("no requests: a job needs at least one candidate")]
    Empty,
    #[error(
        "requests {first} and {other} share problem_name {problem:?} but not their test_cases; \
         candidates are ranked on the same cases, so give them identical test_cases or \
         different problem names"
    )]
    CasesDiffer {
        problem: String,
        /// 1-based positions of the requests.
        first: usize,
        other: usize,
    },
    #[error("request {request} has a duplicate test_id {test_id:?}; case ids must be unique")]
    DuplicateCase { request: usize, test_id: String },
}

impl Job {
    /// Builds a job from requests: one candidate each; requests sharing a `problem_name` form
    /// one problem and must carry the same test cases. A request without `problem_name` is a
    /// problem of its own. Candidates are named by `candidate_id`, else `candidate-N` (N its
    /// 1-based position); a repeated name within a problem gets a `-2`, `-3`… suffix.
    pub fn from_requests(requests: Vec<MeasureRequest>) -> Result<Job, JobError> {
        Self::from_located(
            requests
                .into_iter()
                .enumerate()
                .map(|(i, r)| (format!("request {}", i + 1), r))
                .collect(),
        )
    }

    /// As [`Job::from_requests`], with each request's location for reports
    /// (`examples/python/fib.jsonl:2`).
    pub fn from_located(requests: Vec<(String, MeasureRequest)>) -> Result<Job, JobError> {
        if requests.is_empty() {
            return Err(JobError::Empty);
        }
        let mut job = Job {
            protocol: JOB_PROTOCOL,
            candidates: Vec::new(),
            cases: BTreeMap::new(),
            comparison: Comparison::default(),
        };
        // problem → (first request's position, its test cases)
        let mut first_cases: BTreeMap<String, (usize, Vec<TestCaseRequest>)> = BTreeMap::new();
        for (i, (location, r)) in requests.into_iter().enumerate() {
            let position = i + 1;
            let mut seen = std::collections::HashSet::new();
            if let Some(dup) = r
                .test_cases
                .iter()
                .find(|c| !seen.insert(c.test_id.as_str()))
            {
                return Err(JobError::DuplicateCase {
                    request: position,
                    test_id: dup.test_id.clone(),
                });
            }
            let base_name = r
                .candidate_id
                .clone()
                .unwrap_or_else(|| format!("candidate-{position}"));
            let problem = r.problem_name.clone().unwrap_or_else(|| base_name.clone());
            match first_cases.get(&problem) {
                Some((first, cases)) if *cases != r.test_cases => {
                    return Err(JobError::CasesDiffer {
                        problem,
                        first: *first,
                        other: position,
                    });
                }
                Some(_) => {}
                None => {
                    job.cases.insert(
                        problem.clone(),
                        r.test_cases.iter().map(JobCase::from).collect(),
                    );
                    first_cases.insert(problem.clone(), (position, r.test_cases.clone()));
                }
            }
            let name = unique_name(&job.candidates, &problem, &base_name);
            job.candidates.push(JobCandidate {
                id: format!("{problem}::{name}"),
                problem,
                name,
                language: Language::Python,
                code: r.candidate_code,
                entry: r.function_name,
                options: CandidateOptions {
                    timeout: Some(Duration::from_secs(u64::from(r.timeout_seconds))),
                    memory_limit_mb: Some(u64::from(r.memory_limit_mb)),
                    trials: Some(r.energy_measurement_trials),
                    warmup: Some(r.warmup_trials),
                    ..CandidateOptions::DEFAULT
                },
                comparison: Some(Comparison::from(r.comparison)),
                location,
            });
        }
        Ok(job)
    }

    /// The comparison rule of a candidate.
    pub fn comparison_for(&self, candidate: &JobCandidate) -> Comparison {
        candidate.comparison.unwrap_or(self.comparison)
    }

    /// The job as the host reads it.
    pub fn to_json(&self) -> String {
        serde_json::to_string(self).expect("a job always serializes")
    }
}

fn unique_name(existing: &[JobCandidate], problem: &str, base: &str) -> String {
    let taken = |n: &str| existing.iter().any(|c| c.problem == problem && c.name == n);
    if !taken(base) {
        return base.to_owned();
    }
    (2..)
        .map(|k| format!("{base}-{k}"))
        .find(|n| !taken(n))
        .expect("an unused suffix exists")
}

impl From<&TestCaseRequest> for JobCase {
    fn from(c: &TestCaseRequest) -> Self {
        JobCase {
            id: c.test_id.clone(),
            inputs: c.inputs.clone(),
            expected: c.expected_output.clone(),
            size: c.metadata.get("size").and_then(serde_json::Value::as_u64),
            family: c
                .metadata
                .get("family")
                .and_then(serde_json::Value::as_str)
                .map(str::to_owned),
            metadata: c.metadata.clone(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request(id: Option<&str>, problem: Option<&str>, expected: i64) -> MeasureRequest {
        let body = serde_json::json!({
            "candidate_code": "def solve(x):\n    return x * x\n",
            "test_cases": [{"test_id": "t1", "inputs": [3], "expected_output": expected,
                            "metadata": {"size": 3, "family": "small"}}],
            "candidate_id": id,
            "problem_name": problem,
            "timeout_seconds": 5,
            "energy_measurement_trials": 3,
            "warmup_trials": 1,
        });
        MeasureRequest::parse(body.to_string().as_bytes()).unwrap()
    }

    #[test]
    fn candidates_sharing_a_problem_are_one_problem() {
        let job = Job::from_requests(vec![
            request(Some("fast"), Some("square"), 9),
            request(Some("slow"), Some("square"), 9),
            request(None, None, 9),
            request(Some("fast"), Some("square"), 9),
        ])
        .unwrap();
        let ids: Vec<&str> = job.candidates.iter().map(|c| c.id.as_str()).collect();
        assert_eq!(
            ids,
            [
                "square::fast",
                "square::slow",
                "candidate-3::candidate-3",
                "square::fast-2"
            ]
        );
        assert_eq!(job.cases.len(), 2);
        let case = &job.cases["square"][0];
        assert_eq!(
            (case.size, case.family.as_deref()),
            (Some(3), Some("small"))
        );
        let c = &job.candidates[0];
        assert_eq!(c.options.timeout, Some(Duration::from_secs(5)));
        assert_eq!((c.options.trials, c.options.warmup), (Some(3), Some(1)));
        assert_eq!(c.options.memory_limit_mb, Some(512));
        assert_eq!(c.entry, "solve");
        assert_eq!(c.location, "request 1");
        // The host reads exactly this; raw inputs stay raw.
        let back: Job = serde_json::from_str(&job.to_json()).unwrap();
        assert_eq!(back.cases["square"][0].inputs.get(), "[3]");
        assert_eq!(back.protocol, JOB_PROTOCOL);
    }

    #[test]
    fn a_shared_problem_needs_the_same_cases() {
        let err = Job::from_requests(vec![
            request(Some("a"), Some("square"), 9),
            request(Some("b"), Some("square"), 10),
        ])
        .unwrap_err();
        assert_eq!(
            err,
            JobError::CasesDiffer {
                problem: "square".into(),
                first: 1,
                other: 2
            }
        );
        assert_eq!(Job::from_requests(vec![]).unwrap_err(), JobError::Empty);
    }
}
