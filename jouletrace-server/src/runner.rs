//! The runners a job worker can use.

use std::os::unix::fs::PermissionsExt as _;
use std::path::Path;
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

use jouletrace::config::{Layer, RunConfig, host_layered, layered};
use jouletrace::engine::{self, CancelToken, Event, Observer, RunContext};
use jouletrace::job::{Job, Language, MeasureRequest, QuickValidationRequest, limits};
use jouletrace::python::{HostFiles, Interpreter};
use jouletrace::rust_source::{self, Builder, BuilderOptions};
use serde_json::{Map, json};

use crate::outcome::{JobFacts, Outcome, from_results};
use crate::queue::JobState;
use crate::worker::{Reporter, Runner};

/// The engine: checks the candidate in sandboxed workers (the Python host, or the binary built
/// from a Rust candidate's source), then measures it with the machine's meter, exactly as
/// `cargo joule measure` does with the same request.
pub struct Engine;

/// The process's one builder of Rust candidates (its cache and toolchain are shared by every
/// job this process runs), made on the first Rust job. A builder that cannot be made (no
/// toolchain, no sandbox) fails the Rust jobs, with the reason, and nothing else. Its cache and
/// bounds are the first job's configuration (`JOULETRACE_BUILD_*`, the same for every job of a
/// process).
fn builder(config: &RunConfig) -> Result<Arc<Builder>, String> {
    static BUILDER: OnceLock<Result<Arc<Builder>, String>> = OnceLock::new();
    BUILDER
        .get_or_init(|| {
            Builder::new(BuilderOptions::from_config(config))
                .map(Arc::new)
                .map_err(|e| e.to_string())
        })
        .clone()
}

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

/// Every engine event goes to the stream as it is serialized (`jouletrace::engine::Event`, tagged
/// by `"event"`), the same shape `cargo joule --message-format json` prints; the stages are
/// derived from it.
impl Observer for StageObserver<'_> {
    fn event(&mut self, event: &Event) {
        match event {
            Event::Plan { measured_cases, .. } => self.cases = *measured_cases as u32,
            Event::CheckStarted { .. } => self.reporter.progress("validation", 0.1),
            Event::IdleMeasured { .. } => self.reporter.progress("energy_measurement", 0.4),
            Event::MeasureStarted { .. } => self.measuring(0.0),
            Event::Sample { done, .. } => self.measuring(0.5_f64.min(f64::from(*done) / 20.0)),
            Event::MeasureFinished { .. } => {
                self.cases_done += 1;
                self.measuring(0.0);
            }
            Event::RunFinished { .. } => self.reporter.progress("finalizing", 0.9),
            _ => {}
        }
        match serde_json::to_value(event) {
            Ok(v) => self.reporter.event(v),
            Err(e) => self.reporter.event(
                json!({"event": "warning", "message": format!("unserializable event: {e}")}),
            ),
        }
    }
}

/// The interpreter for candidates: `$JOULETRACE_PYTHON`, else `python3` on `PATH` — unless that
/// one lives where the sandbox's unprivileged user cannot reach it (a pyenv under `/root`) and
/// the system's `/usr/bin/python3` exists: a service must not fail every job over its PATH.
fn find_python() -> Result<Interpreter, jouletrace::python::PythonError> {
    let found = Interpreter::find(None);
    let system = Path::new("/usr/bin/python3");
    let unreachable = |p: &Path| {
        p.ancestors()
            .skip(1)
            .any(|dir| std::fs::metadata(dir).is_ok_and(|m| m.permissions().mode() & 0o001 == 0))
    };
    match &found {
        Ok(py)
            if std::env::var_os("JOULETRACE_PYTHON").is_none()
                && unreachable(&py.path)
                && system.exists() =>
        {
            tracing::warn!(
                found = %py.path.display(),
                "python3 on PATH is not reachable by the sandbox user; using /usr/bin/python3 \
                 (set JOULETRACE_PYTHON to choose)"
            );
            Interpreter::find(Some(system))
        }
        _ => found,
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
        language: v.language,
        host_class: None,
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
            test_ids: request
                .test_cases
                .iter()
                .map(|t| t.test_id.clone())
                .collect(),
            cpu_core: request.cpu_core.map(|c| c as u32),
            thermal_wait_seconds: request.thermal_wait_seconds,
            sandbox_level: None,
        };
        let job = match Job::from_requests(vec![request]) {
            Ok(j) => j,
            Err(e) => return Outcome::failed("execution_error", e.to_string()),
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
        // The machine's sysfs and run lock come from this host's environment, never the job.
        let mut context = RunContext {
            command_line: std::env::args().collect(),
            ..RunContext::new(&host_layered(&[&env]))
        };
        // The job's files (the host script or the built binary, and the job file) live in a
        // private directory for the run's length.
        let mut _python_files = None;
        let mut prepared = None;
        let targets = match job.candidates.first().map(|c| c.language) {
            Some(Language::Rust) => {
                // Building is part of initializing (the predecessor's stages are kept).
                reporter.progress("initializing", 0.05);
                let builder = match builder(&config) {
                    Ok(b) => b,
                    Err(e) => return Outcome::failed("engine_unavailable", e),
                };
                let p = match rust_source::prepare(&job, &builder, "request") {
                    Ok(p) => p,
                    Err(e) => return Outcome::failed("execution_error", e.to_string()),
                };
                context.rustc = Some(p.rustc.clone());
                let targets: Vec<_> = p.target.iter().cloned().collect();
                prepared = Some(p);
                targets
            }
            _ => {
                let python = match find_python() {
                    Ok(p) => p,
                    Err(e) => return Outcome::failed("engine_unavailable", e.to_string()),
                };
                let files = match HostFiles::write(&job) {
                    Ok(f) => f,
                    Err(e) => return Outcome::failed("execution_error", e.to_string()),
                };
                let targets = vec![files.target(&python, "request")];
                _python_files = Some(files);
                targets
            }
        };
        let mut observer = StageObserver {
            reporter,
            cases: 0,
            cases_done: 0,
        };
        match engine::run(&targets, &config, &context, &mut observer, cancel) {
            Ok(mut results) => {
                if let Some(p) = &prepared {
                    p.record(&mut results);
                }
                from_results(results, &facts, started.elapsed().as_secs_f64())
            }
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
