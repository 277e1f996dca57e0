//! The runners a job worker can use.

use std::time::{Duration, Instant};

use jouletrace::config::{Layer, layered};
use jouletrace::engine::{self, CancelToken, Observer};
use jouletrace::job::{Job, MeasureRequest, QuickValidationRequest, limits};
use jouletrace::python::{HostFiles, Interpreter};
use jouletrace::results::{CaseMeasurement, CheckRecord, IdleRecord, RunResults, Sample};
use serde_json::{Map, json};

use crate::outcome::{JobFacts, Outcome, from_results};
use crate::queue::JobState;
use crate::worker::{Reporter, Runner};

/// The engine: checks the candidate in sandboxed workers (the Python host), then measures it
/// with the machine's meter, exactly as `cargo joule measure` does with the same request.
pub struct Engine;

/// Relays the engine's observations as the predecessor's stages and as SSE events.
struct StageObserver<'a> {
    reporter: &'a mut dyn Reporter,
    cases: u32,
    cases_done: u32,
}

impl StageObserver<'_> {
    fn measuring(&mut self, extra: f64) {
        // 0.4 → 0.9 across the measured cases.
        let frac = (f64::from(self.cases_done) + extra) / f64::from(self.cases.max(1));
        self.reporter
            .progress("energy_measurement", 0.4 + 0.5 * frac.clamp(0.0, 1.0));
    }
}

impl Observer for StageObserver<'_> {
    fn plan(&mut self, candidates: usize, measured_cases: usize) {
        self.cases = measured_cases as u32;
        self.reporter.event(json!({"kind": "plan", "candidates": candidates, "measured_cases": measured_cases}));
    }
    fn note(&mut self, message: &str) {
        self.reporter.event(json!({"kind": "note", "message": message}));
    }
    fn check_started(&mut self, candidate: &str) {
        self.reporter.progress("validation", 0.1);
        self.reporter.event(json!({"kind": "check_started", "candidate": candidate}));
    }
    fn check_finished(&mut self, candidate: &str, record: &CheckRecord) {
        self.reporter.event(json!({"kind": "check_finished", "candidate": candidate, "status": record.status, "cases_passed": record.cases_passed}));
    }
    fn idle_measured(&mut self, record: &IdleRecord) {
        self.reporter.progress("energy_measurement", 0.4);
        self.reporter.event(json!({"kind": "idle_measured", "domain": record.domain, "power_w": record.power.0}));
    }
    fn measure_started(&mut self, candidate: &str, case: &str, planned_samples: u32) {
        self.measuring(0.0);
        self.reporter.event(json!({"kind": "measure_started", "candidate": candidate, "case": case, "planned_samples": planned_samples}));
    }
    fn sample_done(&mut self, candidate: &str, case: &str, sample: &Sample, done: u32) {
        self.measuring(0.5_f64.min(f64::from(done) / 20.0));
        self.reporter.event(json!({"kind": "sample", "candidate": candidate, "case": case, "done": done, "calls": sample.calls, "measured_s": sample.measured_s}));
    }
    fn measure_finished(&mut self, candidate: &str, case: &str, m: &CaseMeasurement) {
        self.cases_done += 1;
        self.measuring(0.0);
        self.reporter.event(json!({"kind": "measure_finished", "candidate": candidate, "case": case, "stop_reason": m.stop_reason}));
    }
    fn finished(&mut self, _results: &RunResults) {
        self.reporter.progress("finalizing", 0.9);
    }
}

/// A `/validate` request as the check of a measure request (nothing is measured: the run's
/// `measure` is off, so trials and warm-up are never used).
fn check_only(v: QuickValidationRequest) -> MeasureRequest {
    MeasureRequest {
        candidate_code: v.candidate_code,
        test_cases: v.test_cases,
        function_name: v.function_name,
        timeout_seconds: v.timeout_seconds,
        memory_limit_mb: limits::MEMORY_LIMIT_MB.default as u32,
        energy_measurement_trials: 1,
        warmup_trials: 0,
        cpu_core: None,
        thermal_wait_seconds: None,
        candidate_id: None,
        problem_name: None,
        comparison: v.comparison,
    }
}

impl Runner for Engine {
    fn run(
        &self,
        spec: &str,
        validate_only: bool,
        reporter: &mut dyn Reporter,
        cancel: &CancelToken,
    ) -> Outcome {
        let started = Instant::now();
        reporter.progress("initializing", 0.0);
        let request = if validate_only {
            QuickValidationRequest::parse(spec.as_bytes()).map(check_only)
        } else {
            MeasureRequest::parse(spec.as_bytes())
        };
        let request = match request {
            Ok(r) => r,
            // The API validated it with the same type: reaching this is a bug, not bad input.
            Err(e) => return Outcome::failed("execution_error", format!("stored job spec: {e}")),
        };
        let facts = JobFacts {
            candidate_id: request.candidate_id.clone(),
            problem_name: request.problem_name.clone(),
            test_ids: request.test_cases.iter().map(|t| t.test_id.clone()).collect(),
            cpu_core: request.cpu_core.map(|c| c as u32),
            thermal_wait_seconds: request.thermal_wait_seconds,
            sandbox_level: None,
        };
        let job = match Job::from_requests(vec![request]) {
            Ok(j) => j,
            Err(e) => return Outcome::failed("execution_error", e.to_string()),
        };
        let python = match Interpreter::find(None) {
            Ok(p) => p,
            Err(e) => return Outcome::failed("engine_unavailable", e.to_string()),
        };
        let env = match Layer::from_env(std::env::vars()) {
            Ok(l) => l,
            Err(e) => return Outcome::failed("engine_unavailable", format!("configuration: {e}")),
        };
        let mut config = match layered(&[&env]) {
            Ok(c) => c,
            Err(e) => return Outcome::failed("engine_unavailable", format!("configuration: {e}")),
        };
        config.measure = !validate_only;
        // The host script and the job file live in a private directory for the run's length.
        let files = match HostFiles::write(&job) {
            Ok(f) => f,
            Err(e) => return Outcome::failed("execution_error", e.to_string()),
        };
        let targets = [files.target(&python, "request")];
        let mut observer = StageObserver {
            reporter,
            cases: 0,
            cases_done: 0,
        };
        match engine::run(&targets, &config, &mut observer, cancel) {
            Ok(results) => from_results(results, &facts, started.elapsed().as_secs_f64()),
            Err(e) => Outcome::failed("execution_error", e.to_string()),
        }
    }
}

/// A test aid for the service's own queue and reliability tests: walks through the stages,
/// sleeping `JOULETRACE_SERVER_SCRIPTED_MS` milliseconds in each, and completes. It runs no
/// code and measures nothing, and its outcome says so; it is selected only by
/// `JOULETRACE_SERVER_RUNNER=scripted`.
pub struct Scripted {
    stage_time: Duration,
}

impl Scripted {
    pub fn from_env() -> Scripted {
        let ms = std::env::var("JOULETRACE_SERVER_SCRIPTED_MS")
            .ok()
            .and_then(|v| v.parse().ok())
            .unwrap_or(20);
        Scripted {
            stage_time: Duration::from_millis(ms),
        }
    }
}

impl Runner for Scripted {
    fn run(
        &self,
        spec: &str,
        _validate_only: bool,
        reporter: &mut dyn Reporter,
        cancel: &CancelToken,
    ) -> Outcome {
        for (stage, p) in [
            ("initializing", 0.0),
            ("validation", 0.1),
            ("energy_measurement", 0.4),
            ("finalizing", 0.9),
        ] {
            reporter.progress(stage, p);
            reporter.event(json!({"kind": "stage", "stage": stage}));
            std::thread::sleep(self.stage_time);
            if cancel.is_cancelled() {
                return Outcome::failed("cancelled", "interrupted");
            }
        }
        let spec: serde_json::Value = serde_json::from_str(spec).unwrap_or_default();
        let mut body = Map::new();
        body.insert(
            "runner".into(),
            json!("scripted test aid: no code was run and nothing was measured"),
        );
        body.insert("candidate_id".into(), spec["candidate_id"].clone());
        body.insert("problem_name".into(), spec["problem_name"].clone());
        Outcome {
            state: JobState::Completed,
            body,
            results: None,
            windows: 0,
            window_energy_j: None,
        }
    }
}
