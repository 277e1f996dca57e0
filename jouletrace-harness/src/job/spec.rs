//! The job a runtime host is given (protocol v2): candidates, their cases per problem, and how
//! outputs are compared.

use std::collections::BTreeMap;
use std::time::Duration;

use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;

use super::request::{ComparisonMode, MeasureRequest, TestCaseRequest};
use crate::registry::{CandidateDescriptor, CandidateOptions, CaseInfo};

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

/// The language of a runtime candidate (the request's `language`; Python by default, as the
/// predecessor's requests are).
#[derive(
    Clone, Copy, Debug, Default, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize,
)]
#[serde(rename_all = "snake_case")]
pub enum Language {
    /// Source run by the Python host (`docs/python.md`).
    #[default]
    Python,
    /// Source compiled with the job's generated glue into a bench binary
    /// (`docs/rust-candidates.md`).
    Rust,
}

impl Language {
    pub(super) const NAMES: [&'static str; 2] = ["python", "rust"];

    pub(super) fn from_name(name: &str) -> Option<Self> {
        match name {
            "python" => Some(Language::Python),
            "rust" => Some(Language::Rust),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Language::Python => "python",
            Language::Rust => "rust",
        }
    }
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
    /// `false` for a case that is checked but never measured (an edge case worth checking,
    /// rarely worth measuring), as [`Case::check_only`](crate::Case::check_only).
    #[serde(default = "yes", skip_serializing_if = "Clone::clone")]
    pub measured: bool,
}

fn yes() -> bool {
    true
}

/// How the host compares an output with the expected one. On the wire, `mode` names the rule
/// and the other fields are its parameters: `{"mode": "predecessor", "abs_tol": 1e-9,
/// "rel_tol": 1e-9}`, `{"mode": "exact"}`, `{"mode": "custom", "code": "…", "entry": "check"}`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "mode", rename_all = "snake_case")]
pub enum Comparison {
    /// The predecessor's rule ([`ComparisonMode::Predecessor`]): type-strict, numbers within
    /// `abs_tol` or `rel_tol`.
    Predecessor { abs_tol: f64, rel_tol: f64 },
    /// The predecessor's rule plus what JSON cannot express ([`ComparisonMode::Lenient`]).
    Lenient { abs_tol: f64, rel_tol: f64 },
    /// Equal values of equal types, no tolerance: `1` ≠ `1.0`, `True` ≠ `1`, a tuple ≠ a list;
    /// NaN equals NaN.
    Exact,
    /// Float tolerance: any two numbers (ints and floats alike, at any depth) are equal within
    /// `abs_tol` or `rel_tol` × the larger magnitude; any sequence equals a list element-wise;
    /// everything else as in `exact`.
    Tolerance { abs_tol: f64, rel_tol: f64 },
    /// A validator in the candidate's language: `code` defines `entry`, called as
    /// `entry(inputs, actual, expected)`; a true result accepts the output. It runs in the
    /// candidate's worker, under the same limits.
    Custom { code: String, entry: String },
}

impl Default for Comparison {
    fn default() -> Self {
        Comparison::from(ComparisonMode::default())
    }
}

impl From<ComparisonMode> for Comparison {
    fn from(mode: ComparisonMode) -> Self {
        let (abs_tol, rel_tol) = (PREDECESSOR_TOLERANCE, PREDECESSOR_TOLERANCE);
        match mode {
            ComparisonMode::Predecessor => Comparison::Predecessor { abs_tol, rel_tol },
            ComparisonMode::Lenient => Comparison::Lenient { abs_tol, rel_tol },
        }
    }
}

/// A comparison that cannot work, found before any host starts.
#[derive(Debug, thiserror::Error, PartialEq)]
pub enum ComparisonError {
    #[error("comparison {mode}: {field} must be a finite number ≥ 0, not {value}")]
    Tolerance {
        mode: &'static str,
        field: &'static str,
        value: f64,
    },
    #[error("comparison custom: `entry` must name the validator function `code` defines")]
    NoEntry,
}

impl Comparison {
    /// Checks the parameters: tolerances finite and non-negative, a custom rule's entry named.
    pub fn validate(&self) -> Result<(), ComparisonError> {
        let (mode, tolerances) = match self {
            Comparison::Predecessor { abs_tol, rel_tol } => ("predecessor", [*abs_tol, *rel_tol]),
            Comparison::Lenient { abs_tol, rel_tol } => ("lenient", [*abs_tol, *rel_tol]),
            Comparison::Tolerance { abs_tol, rel_tol } => ("tolerance", [*abs_tol, *rel_tol]),
            Comparison::Exact => return Ok(()),
            Comparison::Custom { entry, .. } if entry.trim().is_empty() => {
                return Err(ComparisonError::NoEntry);
            }
            Comparison::Custom { .. } => return Ok(()),
        };
        for (field, value) in ["abs_tol", "rel_tol"].into_iter().zip(tolerances) {
            if !(value.is_finite() && value >= 0.0) {
                return Err(ComparisonError::Tolerance { mode, field, value });
            }
        }
        Ok(())
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
    #[error("{}: {source}", candidate.as_deref().map_or("the job".to_owned(), |c| format!("candidate `{c}`")))]
    Comparison {
        /// The candidate whose own rule is wrong; `None` for the job's.
        candidate: Option<String>,
        source: ComparisonError,
    },
    #[error("candidate `{candidate}`: problem `{problem}` has no cases in the job")]
    NoCases { candidate: String, problem: String },
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
                language: r.language,
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

    /// Checks what a host would otherwise fail on mid-run: every comparison's parameters, and
    /// that every candidate's problem has cases.
    pub fn validate(&self) -> Result<(), JobError> {
        self.comparison
            .validate()
            .map_err(|source| JobError::Comparison {
                candidate: None,
                source,
            })?;
        for c in &self.candidates {
            if let Some(rule) = &c.comparison {
                rule.validate().map_err(|source| JobError::Comparison {
                    candidate: Some(c.id.clone()),
                    source,
                })?;
            }
            if self.cases.get(&c.problem).is_none_or(Vec::is_empty) {
                return Err(JobError::NoCases {
                    candidate: c.id.clone(),
                    problem: c.problem.clone(),
                });
            }
        }
        Ok(())
    }

    /// The descriptor a host must answer for `candidate` in `list`, in the shape compiled
    /// (`#[joule_bench]`) candidates are described in: its problem's cases in file order,
    /// its options as given, and its location (`job:<id>` when the job names none).
    /// Everything downstream of listing works on descriptors, so runtime and compiled
    /// candidates get the same checks, measurements and results records.
    pub fn descriptor(&self, candidate: &JobCandidate) -> CandidateDescriptor {
        CandidateDescriptor {
            id: candidate.id.clone(),
            problem: candidate.problem.clone(),
            name: candidate.name.clone(),
            location: if candidate.location.is_empty() {
                format!("job:{}", candidate.id)
            } else {
                candidate.location.clone()
            },
            options: candidate.options,
            cases: self
                .cases
                .get(&candidate.problem)
                .into_iter()
                .flatten()
                .map(|c| CaseInfo {
                    id: c.id.clone(),
                    size: c.size,
                    measured: c.measured,
                })
                .collect(),
        }
    }

    /// Every candidate of the job, as its host lists them.
    pub fn descriptors(&self) -> Vec<CandidateDescriptor> {
        self.candidates.iter().map(|c| self.descriptor(c)).collect()
    }

    /// The comparison rule of a candidate.
    pub fn comparison_for<'a>(&'a self, candidate: &'a JobCandidate) -> &'a Comparison {
        candidate.comparison.as_ref().unwrap_or(&self.comparison)
    }

    /// The languages of the job's candidates, in order, each once.
    pub fn languages(&self) -> Vec<Language> {
        let mut seen: Vec<Language> = self.candidates.iter().map(|c| c.language).collect();
        seen.sort();
        seen.dedup();
        seen
    }

    /// The part of the job in `language` (its candidates and their problems' cases), or `None`
    /// when it has none. Each language's candidates run in their own target; the engine ranks
    /// the candidates of one problem together whatever their target.
    pub fn only(&self, language: Language) -> Option<Job> {
        let candidates: Vec<JobCandidate> = self
            .candidates
            .iter()
            .filter(|c| c.language == language)
            .cloned()
            .collect();
        if candidates.is_empty() {
            return None;
        }
        let cases = self
            .cases
            .iter()
            .filter(|(p, _)| candidates.iter().any(|c| &c.problem == *p))
            .map(|(p, c)| (p.clone(), c.clone()))
            .collect();
        Some(Job {
            protocol: self.protocol,
            candidates,
            cases,
            comparison: self.comparison.clone(),
        })
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
            measured: true,
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
    fn comparisons_are_tagged_by_mode_and_checked() {
        let wire = |c: &Comparison| serde_json::to_value(c).unwrap();
        assert_eq!(
            wire(&Comparison::default()),
            serde_json::json!({"mode": "predecessor", "abs_tol": 1e-9, "rel_tol": 1e-9})
        );
        assert_eq!(
            wire(&Comparison::Exact),
            serde_json::json!({"mode": "exact"})
        );
        let custom: Comparison = serde_json::from_str(
            r#"{"mode": "custom", "code": "def ok(i, a, e):\n    return a == e\n", "entry": "ok"}"#,
        )
        .unwrap();
        assert!(matches!(&custom, Comparison::Custom { entry, .. } if entry == "ok"));
        assert_eq!(custom.validate(), Ok(()));
        let tol: Comparison =
            serde_json::from_str(r#"{"mode": "tolerance", "abs_tol": 0.001, "rel_tol": 0}"#)
                .unwrap();
        assert_eq!(tol.validate(), Ok(()));
        let bad = Comparison::Tolerance {
            abs_tol: -1.0,
            rel_tol: 0.0,
        };
        assert_eq!(
            bad.clone().validate().unwrap_err().to_string(),
            "comparison tolerance: abs_tol must be a finite number ≥ 0, not -1"
        );
        assert!(
            serde_json::from_str::<Comparison>(r#"{"mode": "tolerance", "abs_tol": 0.1}"#).is_err(),
            "a tolerance names both of its bounds"
        );
        let mut job = Job::from_requests(vec![request(Some("a"), Some("square"), 9)]).unwrap();
        assert_eq!(job.validate(), Ok(()));
        job.candidates[0].comparison = Some(bad);
        assert_eq!(
            job.validate().unwrap_err().to_string(),
            "candidate `square::a`: comparison tolerance: abs_tol must be a finite number ≥ 0, not -1"
        );
        job.candidates[0].comparison = None;
        job.cases.clear();
        assert!(matches!(job.validate(), Err(JobError::NoCases { .. })));
        let case: JobCase =
            serde_json::from_str(r#"{"id": "e", "inputs": [], "expected": 0}"#).unwrap();
        assert!(
            case.measured,
            "cases are measured unless they say otherwise"
        );
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

    #[test]
    fn a_request_becomes_the_descriptor_a_compiled_candidate_would_have() {
        let body = br#"{"candidate_code": "def solve(x):\n    return x * x\n",
            "test_cases": [{"test_id": "t1", "inputs": [3], "expected_output": 9,
                            "metadata": {"size": 3}},
                           {"test_id": "t2", "inputs": [4], "expected_output": 16}],
            "candidate_id": "square", "problem_name": "sq", "timeout_seconds": 5}"#;
        let job = Job::from_requests(vec![MeasureRequest::parse(body).unwrap()]).unwrap();
        let d = job.descriptors();
        assert_eq!(d.len(), 1);
        assert_eq!(
            (d[0].id.as_str(), d[0].problem.as_str()),
            ("sq::square", "sq")
        );
        assert_eq!(d[0].location, "request 1");
        assert_eq!(
            d[0].cases,
            [
                CaseInfo {
                    id: "t1".into(),
                    size: Some(3),
                    measured: true
                },
                CaseInfo {
                    id: "t2".into(),
                    size: None,
                    measured: true
                }
            ]
        );
        assert_eq!(
            d[0].options.timeout,
            Some(std::time::Duration::from_secs(5))
        );
        // The wire shape is the compiled candidates' (what a bench binary's `list` answers).
        let wire = serde_json::to_value(&d[0]).unwrap();
        let keys: Vec<&str> = wire
            .as_object()
            .unwrap()
            .keys()
            .map(|k| k.as_str())
            .collect();
        assert_eq!(
            keys,
            ["cases", "id", "location", "name", "options", "problem"]
        );
    }
}
