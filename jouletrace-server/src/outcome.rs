//! A job's outcome: what the worker writes once, the queue stores, and the API answers.
//!
//! The completed and failed response bodies are built here from the engine's
//! [`RunResults`], once, so every reader (poll, batch, dashboard, SSE) shows the same numbers.
//! The predecessor's fields keep their names and are documented honestly in
//! `docs/service.md`; what JouleTrace adds (meter, provenance, intervals, per-test-case figures,
//! idle power, sandbox level, host) sits beside them.

use jouletrace::energy::{DomainKind, Provenance};
use jouletrace::results::{CandidateResult, RunResults, Status};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};

use crate::queue::{JobState, UnixTime};

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Outcome {
    /// `completed` or `failed`.
    pub state: JobState,
    /// The response's fields beyond `task_id`/`request_id`/`status`.
    pub body: Map<String, Value>,
    /// The engine's full results record, for the HTML report and `/results`; absent when the
    /// job failed before the engine produced one.
    #[serde(default)]
    pub results: Option<RunResults>,
    /// Measured windows (samples, warm-ups included) in this job, for the metrics.
    #[serde(default)]
    pub windows: u64,
    /// Energy inside those windows and its provenance, for the metrics.
    #[serde(default)]
    pub window_energy_j: Option<(Provenance, f64)>,
}

impl Outcome {
    /// A failure with no validation block (the job never got to run its tests).
    pub fn failed(error_type: &str, error_message: impl Into<String>) -> Outcome {
        let mut body = Map::new();
        body.insert("error_type".into(), json!(error_type));
        body.insert("error_message".into(), json!(error_message.into()));
        body.insert("failure_timestamp".into(), json!(UnixTime::now().0));
        Outcome {
            state: JobState::Failed,
            body,
            results: None,
            windows: 0,
            window_energy_j: None,
        }
    }

    /// The `error_type` (failed) or `completed`, for the outcome metric.
    pub fn kind(&self) -> String {
        match self.state {
            JobState::Completed => "completed".into(),
            _ => self
                .body
                .get("error_type")
                .and_then(Value::as_str)
                .unwrap_or("failed")
                .to_owned(),
        }
    }
}

/// What the job asked for, as far as the response needs it.
#[derive(Clone, Debug, Default)]
pub struct JobFacts {
    pub candidate_id: Option<String>,
    pub problem_name: Option<String>,
    pub test_ids: Vec<String>,
    pub cpu_core: Option<u32>,
    pub thermal_wait_seconds: Option<f64>,
    pub sandbox_level: Option<String>,
}

/// The predecessor's `validation` block from the candidate's check. `pass_rate` is a
/// percentage, as the predecessor's was.
pub fn validation(c: &CandidateResult, total: usize) -> Value {
    let passed = c.check.cases_passed as usize;
    let all = c.check.status == Status::Passed && passed == total;
    let rate = if total == 0 {
        0.0
    } else {
        (passed as f64 * 10_000.0 / total as f64).round() / 100.0
    };
    json!({
        "is_correct": all,
        "passed_tests": passed,
        "total_tests": total,
        "pass_rate": rate,
        "error_summary": if all { Value::Null } else { json!(format!("Failed {}/{} tests", total - passed, total)) },
        "failure": c.check.failure,
    })
}

fn est(e: &jouletrace::results::Estimate<f64>) -> Value {
    json!({ "point": e.point, "lower": e.lower, "upper": e.upper })
}

/// Builds the outcome of a finished engine run of one candidate.
pub fn from_results(results: RunResults, facts: &JobFacts, processing_time_s: f64) -> Outcome {
    let Some(cand) = results.candidates().next().cloned() else {
        return Outcome::failed(
            "execution_error",
            "the engine returned no candidate for this job",
        );
    };
    let total = facts
        .test_ids
        .len()
        .max(results.problems.first().map(|p| p.cases.len()).unwrap_or(0));
    let validation = validation(&cand, total);
    let meter = results.meter.clone();
    let provenance = meter.as_ref().map(|m| m.provenance);
    let provenance_str = match provenance {
        Some(Provenance::Measured) => "measured",
        Some(Provenance::Estimated) => "estimated",
        None => "unavailable",
    };
    let windows: u64 = cand
        .measurements
        .iter()
        .map(|m| (m.samples.len() + m.warmup.len()) as u64)
        .sum();
    let window_energy: f64 = cand
        .measurements
        .iter()
        .flat_map(|m| m.samples.iter().chain(&m.warmup))
        .filter_map(|s| {
            let domain = meter.as_ref().map(|m| m.primary_domain.as_str())?;
            s.energy
                .iter()
                .find(|e| e.domain == domain)
                .map(|e| e.gross.0)
        })
        .sum();
    let mut body = Map::new();
    body.insert("candidate_id".into(), json!(facts.candidate_id));
    body.insert("problem_name".into(), json!(facts.problem_name));
    body.insert("validation".into(), validation.clone());
    // The engine records the isolation its workers ran under; "unknown" only for a results
    // record that predates it.
    let sandbox = results.environment.sandbox.as_ref();
    body.insert(
        "sandbox_level".into(),
        json!(
            sandbox
                .map(|s| s.level.clone())
                .or_else(|| facts.sandbox_level.clone())
                .unwrap_or_else(|| "unknown".into())
        ),
    );
    body.insert("sandbox".into(), json!(sandbox));
    body.insert("host".into(), json!(results.environment));
    body.insert(
        "idle_power_watts".into(),
        json!(
            results
                .idle
                .iter()
                .map(|i| json!({"domain": i.domain, "watts": i.power.0, "window_seconds": i.window_s}))
                .collect::<Vec<_>>()
        ),
    );
    body.insert("meter".into(), json!(meter));
    body.insert("provenance".into(), json!(provenance_str));
    let timestamp = UnixTime::now().0;

    if cand.status != Status::Passed {
        let msg = match &cand.check.failure {
            Some(f) => format!(
                "Failed {}/{} tests: {}{}",
                total.saturating_sub(cand.check.cases_passed as usize),
                total,
                f.case
                    .as_deref()
                    .map(|c| format!("test {c}: "))
                    .unwrap_or_default(),
                f.message
            ),
            None => format!("the candidate's check ended as {}", cand.status.as_str()),
        };
        body.insert("error_type".into(), json!("incorrect_solution"));
        body.insert("error_message".into(), json!(msg));
        body.insert("failure_timestamp".into(), json!(timestamp));
        body.insert("failure_kind".into(), json!(cand.status.as_str()));
        return Outcome {
            state: JobState::Failed,
            body,
            results: Some(results),
            windows,
            window_energy_j: provenance.map(|p| (p, window_energy)),
        };
    }

    // Per test case: the median idle-subtracted energy per call and time per call.
    let mut per_case = Vec::new();
    let mut total_j = 0.0;
    let (mut total_lo, mut total_hi) = (0.0, 0.0);
    let mut total_gross = 0.0;
    let mut total_s = 0.0;
    let mut failure = None;
    for m in &cand.measurements {
        match (&m.stats, &m.failure) {
            (Some(s), None) => {
                total_j += s.net_energy_per_call_j.point.0;
                total_lo += s.net_energy_per_call_j.lower.0;
                total_hi += s.net_energy_per_call_j.upper.0;
                total_gross += s.energy_per_call_j.point.0;
                total_s += s.time_per_call_s.point;
                per_case.push(json!({
                    "test_id": m.case,
                    "energy_joules": est(&jouletrace::results::Estimate {
                        point: s.net_energy_per_call_j.point.0,
                        lower: s.net_energy_per_call_j.lower.0,
                        upper: s.net_energy_per_call_j.upper.0,
                    }),
                    "gross_energy_joules": s.energy_per_call_j.point.0,
                    "execution_time_seconds": est(&s.time_per_call_s),
                    "power_watts": s.net_power_w.point.0,
                    "samples": s.samples,
                    "calls_per_sample": m.calls_per_sample,
                    "cv": s.cv,
                    "outliers": s.outliers,
                    "stop_reason": m.stop_reason,
                    "flags": s.flags,
                    "domain": s.domain,
                    "provenance": provenance_str,
                }));
            }
            (_, f) => {
                failure = Some(
                    f.as_ref()
                        .map(|f| f.message.clone())
                        .unwrap_or_else(|| format!("test {}: no statistics", m.case)),
                );
            }
        }
    }
    if let Some(msg) =
        failure.or_else(|| (per_case.is_empty()).then(|| "no test case was measured".to_owned()))
    {
        body.insert("error_type".into(), json!("energy_measurement_failed"));
        body.insert(
            "error_message".into(),
            json!(format!("Energy measurement error: {msg}")),
        );
        body.insert("failure_timestamp".into(), json!(timestamp));
        body.insert("per_test_case".into(), json!(per_case));
        return Outcome {
            state: JobState::Failed,
            body,
            results: Some(results),
            windows,
            window_energy_j: provenance.map(|p| (p, window_energy)),
        };
    }
    let n = per_case.len() as f64;
    let power = if total_s > 0.0 {
        json!(total_j / total_s)
    } else {
        Value::Null
    };
    let is_package = meter.as_ref().is_some_and(|m| {
        m.domains
            .iter()
            .any(|d| d.id == m.primary_domain && d.kind == DomainKind::Package)
    });
    let dram: Option<f64> = None; // the engine ranks one domain; DRAM is never folded in silently
    body.insert(
        "energy_metrics".into(),
        json!({
            "median_package_energy_joules": if is_package { json!(total_j) } else { Value::Null },
            "median_ram_energy_joules": dram,
            "median_total_energy_joules": total_j,
            "median_execution_time_seconds": total_s,
            "energy_per_test_case_joules": total_j / n,
            "power_consumption_watts": power,
            "energy_efficiency_score": total_j / n,
            "provenance": provenance_str,
            "estimated": provenance == Some(Provenance::Estimated),
            "idle_subtracted": true,
            "median_total_gross_energy_joules": total_gross,
            "median_total_energy_joules_bounds": [total_lo, total_hi],
            "domain": meter.as_ref().map(|m| m.primary_domain.clone()),
        }),
    );
    body.insert("per_test_case".into(), json!(per_case));
    body.insert(
        "measurement_environment".into(),
        json!({
            "meter_type": meter.as_ref().map(|m| json!(m.backend)).unwrap_or(Value::Null),
            "cpu_model": results.environment.cpu_model,
            "measurement_core": cand.measurements.first().and_then(|m| m.samples.first()).map(|s| s.cpu).or(facts.cpu_core),
            // The request's thermal wait is accepted but not slept: the engine's idle baseline
            // and cooling gate replace it, so nothing here is "thermally controlled" as the
            // predecessor meant it.
            "thermal_controlled": false,
            "thermal_wait_seconds_requested": facts.thermal_wait_seconds,
            "timestamp": results.run.started_at,
        }),
    );
    body.insert("processing_time_seconds".into(), json!(processing_time_s));
    body.insert("measurement_timestamp".into(), json!(timestamp));
    Outcome {
        state: JobState::Completed,
        body,
        results: Some(results),
        windows,
        window_energy_j: provenance.map(|p| (p, window_energy)),
    }
}
