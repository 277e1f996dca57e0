//! The runners a job worker can use.

use std::time::Duration;

use jouletrace::engine::CancelToken;
use serde_json::{Map, json};

use crate::outcome::Outcome;
use crate::queue::JobState;
use crate::worker::{Reporter, Runner};

/// The engine: checks the candidate in sandboxed workers, then measures it.
pub struct Engine;

impl Runner for Engine {
    fn run(
        &self,
        _spec: &str,
        _validate_only: bool,
        reporter: &mut dyn Reporter,
        _cancel: &CancelToken,
    ) -> Outcome {
        reporter.progress("initializing", 0.0);
        // Runtime (Python) candidates reach the engine through `jouletrace::job` and the Python
        // host (issue 13); until this build has them, say so instead of pretending.
        Outcome::failed(
            "engine_unavailable",
            "this build of jouletrace-server cannot run Python candidates yet (the engine's \
             runtime host is not linked in)",
        )
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
