//! Runtime candidates: candidates and cases that are data (a [`Job`]), hosted by a language host
//! rather than compiled into a bench binary.
//!
//! They meet compiled (`#[joule_bench]`) candidates in one shape, [`CandidateDescriptor`]: the
//! host answers `list` with exactly [`descriptors`] of its job, and from then on the engine
//! cannot tell them apart: the same checks, measurements, statistics and results records.

use crate::engine::CandidateDescriptor;
use crate::job::{Job, JobCandidate};
use crate::registry::CaseInfo;

/// The descriptor a host must answer for `candidate` of `job`: its problem's cases in file order,
/// its options as given, and its location (`job:<id>` when the job names none).
pub fn descriptor(job: &Job, candidate: &JobCandidate) -> CandidateDescriptor {
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
        cases: job
            .cases
            .get(&candidate.problem)
            .into_iter()
            .flatten()
            .map(|c| CaseInfo {
                id: c.id.clone(),
                size: c.size,
                measured: true,
            })
            .collect(),
    }
}

/// Every candidate of `job`, as its host lists them.
pub fn descriptors(job: &Job) -> Vec<CandidateDescriptor> {
    job.candidates.iter().map(|c| descriptor(job, c)).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::job::MeasureRequest;

    #[test]
    fn a_request_becomes_the_descriptor_a_compiled_candidate_would_have() {
        let body = br#"{"candidate_code": "def solve(x):\n    return x * x\n",
            "test_cases": [{"test_id": "t1", "inputs": [3], "expected_output": 9,
                            "metadata": {"size": 3}},
                           {"test_id": "t2", "inputs": [4], "expected_output": 16}],
            "candidate_id": "square", "problem_name": "sq", "timeout_seconds": 5}"#;
        let job = Job::from_requests(vec![MeasureRequest::parse(body).unwrap()]).unwrap();
        let d = descriptors(&job);
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
