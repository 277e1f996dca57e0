//! Admission of request bodies. The job spec's meaning — fields, defaults, limits, lax
//! coercions and pydantic's error words — is `jouletrace::job` (shared with `cargo joule
//! measure`); the service adds only transport: where a request sits in a batch, and its own
//! limit on test cases per job.

use jouletrace::job::{MeasureRequest, QuickValidationRequest, RequestErrors};
use serde_json::value::RawValue;

use crate::api::error::FieldError;

/// A validated job, ready for the queue.
#[derive(Clone, Debug)]
pub struct Admitted {
    /// The request with its defaults filled in, as JSON (the worker parses it again with the
    /// same type).
    pub spec: String,
    pub problem_name: Option<String>,
    pub candidate_id: Option<String>,
    /// The host class the job asked for (fleet routing).
    pub host_class: Option<String>,
    pub test_cases: usize,
    pub trials: u64,
    pub warmup: u64,
    pub timeout_seconds: u64,
}

/// The library's errors as the 422 body's `field_errors`, their location moved under `loc`
/// (`body` for a single request, `body -> requests -> 3` inside a batch).
fn field_errors(e: RequestErrors, loc: &str) -> Vec<FieldError> {
    e.errors
        .into_iter()
        .map(|fe| {
            let field = fe.field();
            let field = match field.strip_prefix("body") {
                Some(rest) => format!("{loc}{rest}"),
                None => format!("{loc} -> {field}"),
            };
            FieldError {
                field,
                message: fe.message,
                kind: fe.kind,
            }
        })
        .collect()
}

fn too_many(loc: &str, n: usize, max: usize) -> Vec<FieldError> {
    vec![FieldError {
        field: format!("{loc} -> test_cases"),
        message: format!(
            "List should have at most {max} items after validation, not {n} (this server's \
             --max-test-cases)"
        ),
        kind: "too_long".into(),
    }]
}

/// Admits a whole `/measure` body.
pub fn admit_body(body: &[u8], max_test_cases: usize) -> Result<Admitted, Vec<FieldError>> {
    let req = MeasureRequest::parse(body).map_err(|e| field_errors(e, "body"))?;
    finish(req, "body", max_test_cases)
}

/// Admits one request of a batch.
pub fn admit_raw(
    raw: &RawValue,
    loc: &str,
    max_test_cases: usize,
) -> Result<Admitted, Vec<FieldError>> {
    let req = MeasureRequest::from_raw(raw).map_err(|e| field_errors(e, loc))?;
    finish(req, loc, max_test_cases)
}

fn finish(
    req: MeasureRequest,
    loc: &str,
    max_test_cases: usize,
) -> Result<Admitted, Vec<FieldError>> {
    if req.test_cases.len() > max_test_cases {
        return Err(too_many(loc, req.test_cases.len(), max_test_cases));
    }
    let spec = serde_json::to_string(&req).map_err(|e| {
        vec![FieldError {
            field: loc.to_owned(),
            message: format!("cannot store the request: {e}"),
            kind: "value_error".into(),
        }]
    })?;
    Ok(Admitted {
        spec,
        problem_name: req.problem_name,
        candidate_id: req.candidate_id,
        host_class: req.host_class,
        test_cases: req.test_cases.len(),
        trials: u64::from(req.energy_measurement_trials),
        warmup: u64::from(req.warmup_trials),
        timeout_seconds: u64::from(req.timeout_seconds),
    })
}

/// Admits a `/validate` body (its own defaults: timeout 10 s, at most 60).
pub fn admit_validation(body: &[u8], max_test_cases: usize) -> Result<Admitted, Vec<FieldError>> {
    let req = QuickValidationRequest::parse(body).map_err(|e| field_errors(e, "body"))?;
    if req.test_cases.len() > max_test_cases {
        return Err(too_many("body", req.test_cases.len(), max_test_cases));
    }
    Ok(Admitted {
        spec: serde_json::to_string(&req).unwrap_or_default(),
        problem_name: None,
        candidate_id: None,
        host_class: None,
        test_cases: req.test_cases.len(),
        trials: 0,
        warmup: 0,
        timeout_seconds: u64::from(req.timeout_seconds),
    })
}
