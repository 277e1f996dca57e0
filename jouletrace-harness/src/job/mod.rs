//! The job spec: "measure these candidates on these cases", as data.
//!
//! Two layers, one meaning:
//! - [`MeasureRequest`] (and [`QuickValidationRequest`]) are the predecessor's HTTP request
//!   bodies, accepted unchanged: the same field names, defaults, limits and lax coercions
//!   (`"3"` → 3, `3.0` → 3, `true` → 1; `3.5`, `"three"` and `null` rejected), unknown keys
//!   ignored. [`MeasureRequest::parse`] reports *every* field error at once, in pydantic's
//!   words and type names ([`FieldError`]), so the service renders the predecessor's 422 body
//!   and `cargo joule measure` prints the same errors.
//! - [`Job`] is what a runtime host (the Python host) is given: candidates, cases per problem,
//!   and the comparison rule (protocol v2, `docs/protocol.md`). [`Job::from_requests`] builds
//!   it from requests; candidates that share a `problem_name` are one problem, ranked
//!   together, like the candidates of one `#[joule_bench]` problem.
//!
//! ```
//! use jouletrace::job::{Job, MeasureRequest};
//!
//! let body = br#"{"candidate_code": "def solve(x):\n    return x * x\n",
//!                 "test_cases": [{"test_id": "t1", "inputs": [3], "expected_output": 9}],
//!                 "timeout_seconds": "5"}"#;
//! let request = MeasureRequest::parse(body).unwrap();
//! assert_eq!(request.timeout_seconds, 5);
//! let job = Job::from_requests(vec![request]).unwrap();
//! assert_eq!(job.candidates.len(), 1);
//!
//! let errors = MeasureRequest::parse(br#"{"test_cases": [{"test_id": 1}]}"#).unwrap_err();
//! assert_eq!(errors.errors[0].field(), "body -> candidate_code");
//! ```
//!
//! Inputs and expected outputs are kept as raw JSON text ([`serde_json::value::RawValue`]), so
//! big integers (fib(100) = 354224848179261915075) reach the host exactly.

mod request;
mod spec;
mod validate;

pub use request::{
    ComparisonMode, MeasureRequest, QuickValidationRequest, TestCaseRequest, limits,
};
pub use spec::{
    Comparison, ComparisonError, JOB_PROTOCOL, Job, JobCandidate, JobCase, JobError, Language,
};
pub use validate::{FieldError, Loc, RequestErrors};
// fleet: the host class id a request may ask for (the service checks a batch's own with it).
pub use request::{HOST_CLASS_PATTERN, is_host_class_id};
