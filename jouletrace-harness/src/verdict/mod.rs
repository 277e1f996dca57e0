//! The orchestrator's verdict on a host's outputs (protocol 3): a host judged by the
//! orchestrator — every Python host — answers `check` with what each call returned
//! ([`CaseRun`]), never with whether it was right; [`Answers`] holds the expected outputs and
//! comparison rules, which never leave the orchestrator's process, and [`Answers::judge`] turns
//! the outputs into the check's outcome and per-case verdicts, with the "expected X, got Y" of
//! a wrong answer rendered as Python's `repr` would show them.
//!
//! Nothing the host says about correctness is taken: a `checked` answer from a judged host is
//! ignored (`engine::check`), and an output it cannot faithfully encode (an object with its own
//! `__eq__`, a `Fraction`) equals nothing. What a host can still do is report an output its
//! function did not return; to pass, that output must be the right one (see docs/python.md,
//! "Who judges").
//!
//! ```
//! use jouletrace::job::{Job, MeasureRequest};
//! use jouletrace::protocol::CaseRun;
//! use jouletrace::registry::CheckOutcome;
//! use jouletrace::verdict::Answers;
//!
//! let body = br#"{"candidate_code": "def solve(x):\n    return x * x\n", "problem_name": "sq",
//!                 "test_cases": [{"test_id": "t1", "inputs": [3], "expected_output": 9}]}"#;
//! let job = Job::from_requests(vec![MeasureRequest::parse(body).unwrap()]).unwrap();
//! let answers = Answers::from_job(&job).unwrap();
//! let ran = vec![CaseRun {
//!     case: "t1".into(),
//!     output: Some(vec![serde_json::json!(["t", 1]), serde_json::json!(9)]),
//!     kind: None,
//!     message: None,
//!     validated: None,
//! }];
//! let judged = answers.judge(&job.candidates[0].id, &ran).unwrap();
//! let CheckOutcome::WrongAnswer(m) = judged.outcome else { panic!() };
//! assert_eq!((m.expected.as_str(), m.actual.as_str()), ("9", "(9,)"));
//! ```

use std::collections::HashMap;

use crate::job::{Comparison, Job};
use crate::protocol::CaseRun;
use crate::registry::{CheckOutcome, Mismatch};
use crate::results::{CaseVerdict, VerdictKind};
use crate::rust_source::compare::{Val, outputs_equal, render, wire};

/// The expected outputs and comparison rule of every candidate of a job, kept by the
/// orchestrator.
#[derive(Clone, Debug, PartialEq)]
pub struct Answers {
    candidates: HashMap<String, CandidateAnswers>,
}

#[derive(Clone, Debug, PartialEq)]
struct CandidateAnswers {
    rule: Comparison,
    /// In the job's order, which is the order verdicts are given in.
    cases: Vec<(String, Val)>,
}

/// An expected output that is not JSON a comparison can read.
#[derive(Debug, thiserror::Error)]
#[error("case `{case}` of problem `{problem}`: {source}")]
pub struct AnswersError {
    pub problem: String,
    pub case: String,
    #[source]
    pub source: crate::rust_source::compare::JsonError,
}

/// What the orchestrator concluded from one check.
#[derive(Clone, Debug, PartialEq)]
pub struct Judged {
    /// The first failure, or `passed`.
    pub outcome: CheckOutcome,
    pub verdicts: Vec<CaseVerdict>,
}

impl Answers {
    /// The answers of every candidate of `job`.
    pub fn from_job(job: &Job) -> Result<Answers, AnswersError> {
        let mut parsed: HashMap<&str, Vec<(String, Val)>> = HashMap::new();
        for (problem, cases) in &job.cases {
            let values = cases
                .iter()
                .map(|c| {
                    Val::from_json(c.expected.get())
                        .map(|v| (c.id.clone(), v))
                        .map_err(|source| AnswersError {
                            problem: problem.clone(),
                            case: c.id.clone(),
                            source,
                        })
                })
                .collect::<Result<_, _>>()?;
            parsed.insert(problem, values);
        }
        let candidates = job
            .candidates
            .iter()
            .map(|c| {
                (
                    c.id.clone(),
                    CandidateAnswers {
                        rule: job.comparison_for(c).clone(),
                        cases: parsed.get(c.problem.as_str()).cloned().unwrap_or_default(),
                    },
                )
            })
            .collect();
        Ok(Answers { candidates })
    }

    /// Judges what the host reported for `candidate`'s cases. `Err` (a protocol error: no
    /// verdict) when the report does not cover every case or cannot be read.
    pub fn judge(&self, candidate: &str, ran: &[CaseRun]) -> Result<Judged, String> {
        let answers = self
            .candidates
            .get(candidate)
            .ok_or_else(|| format!("no expected outputs for candidate `{candidate}`"))?;
        let mut verdicts = Vec::with_capacity(answers.cases.len());
        let mut first: Option<CheckOutcome> = None;
        for (case, expected) in &answers.cases {
            let run = ran
                .iter()
                .find(|r| &r.case == case)
                .ok_or_else(|| format!("the host reported nothing for case `{case}`"))?;
            let (verdict, failure) = judge_case(&answers.rule, case, expected, run)?;
            if first.is_none() {
                first = failure;
            }
            verdicts.push(verdict);
        }
        let outcome = first.unwrap_or(CheckOutcome::Passed {
            cases: verdicts.len(),
        });
        Ok(Judged { outcome, verdicts })
    }
}

/// One case's verdict, and the check's outcome if it is the first failure.
fn judge_case(
    rule: &Comparison,
    case: &str,
    expected: &Val,
    run: &CaseRun,
) -> Result<(CaseVerdict, Option<CheckOutcome>), String> {
    let mut verdict = CaseVerdict {
        case: case.to_owned(),
        passed: false,
        kind: None,
        message: None,
        expected: None,
        actual: None,
    };
    if let Some(tokens) = &run.output {
        let actual = wire::decode(tokens).map_err(|e| format!("case `{case}`: {e}"))?;
        let custom = matches!(rule, Comparison::Custom { .. });
        verdict.passed = if custom {
            run.validated == Some(true)
        } else {
            outputs_equal(expected, &actual, rule)
        };
        if verdict.passed {
            return Ok((verdict, None));
        }
        let mismatch = Mismatch {
            case: case.to_owned(),
            expected: render::python_repr(expected),
            actual: render::python_repr(&actual),
            validator: custom,
        };
        verdict.kind = Some(VerdictKind::WrongAnswer);
        verdict.expected = Some(mismatch.expected.clone());
        verdict.actual = Some(mismatch.actual.clone());
        return Ok((verdict, Some(CheckOutcome::WrongAnswer(mismatch))));
    }
    let (Some(kind), message) = (&run.kind, &run.message) else {
        return Err(format!(
            "case `{case}`: the host reported neither an output nor a failure"
        ));
    };
    let message = message.clone().unwrap_or_default();
    verdict.kind = Some(
        serde_json::from_value(serde_json::Value::String(kind.clone()))
            .unwrap_or(VerdictKind::Other),
    );
    verdict.message = Some(message.clone());
    let outcome = CheckOutcome::Panic {
        case: case.to_owned(),
        message: format!("{kind}: {message}"),
    };
    Ok((verdict, Some(outcome)))
}
