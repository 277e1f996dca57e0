//! The job worker: one process per job (or per `/validate`), started by the agent as
//! `jouletrace-server worker`, so that nothing a job does — a hang, a memory bomb, a crash of
//! the engine — happens in the API's process.
//!
//! The agent writes the job spec (JSON) on the worker's stdin and reads [`WorkerLine`]s, one
//! JSON object per line, on its stdout: progress and the engine's events while it runs, then
//! exactly one `outcome`. A worker that exits without an outcome died (killed, out of memory):
//! the agent lets the job's lease expire so it runs again.
//!
//! The worker runs the job through a [`Runner`]: the engine for real jobs, or, in the service's
//! own tests only, a scripted runner that runs no code (selected by an environment variable the
//! tests set, see [`runner_from_env`]).

use std::io::{BufRead, Write};

use jouletrace::engine::CancelToken;
use serde::{Deserialize, Serialize};

use crate::outcome::Outcome;

/// What a worker writes on stdout, one per line.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(tag = "line", rename_all = "snake_case")]
pub enum WorkerLine {
    /// The predecessor's stages and a 0..1 progress.
    Progress { stage: String, progress: f64 },
    /// One of the engine's events, as the SSE stream relays it.
    Event { event: serde_json::Value },
    /// The job's end: written once, last.
    Outcome { outcome: Box<Outcome> },
}

/// Receives what a runner reports while it runs.
pub trait Reporter {
    fn progress(&mut self, stage: &str, progress: f64);
    fn event(&mut self, event: serde_json::Value);
}

/// Runs one job.
pub trait Runner {
    /// `spec` is the job spec JSON as the API admitted it.
    fn run(
        &self,
        spec: &str,
        validate_only: bool,
        reporter: &mut dyn Reporter,
        cancel: &CancelToken,
    ) -> Outcome;
}

/// The environment variable that selects the scripted runner; set by the service's tests.
pub const RUNNER_ENV: &str = "JOULETRACE_SERVER_RUNNER";

pub fn runner_from_env() -> Box<dyn Runner> {
    match std::env::var(RUNNER_ENV).as_deref() {
        Ok("scripted") => Box::new(crate::runner::Scripted::from_env()),
        _ => Box::new(crate::runner::Engine),
    }
}

struct LineReporter<W: Write> {
    out: W,
}

impl<W: Write> LineReporter<W> {
    fn write(&mut self, line: &WorkerLine) {
        // The agent reads until EOF; if it is gone, so is the point of writing.
        let _ = serde_json::to_writer(&mut self.out, line);
        let _ = self.out.write_all(b"\n");
        let _ = self.out.flush();
    }
}

impl<W: Write> Reporter for LineReporter<W> {
    fn progress(&mut self, stage: &str, progress: f64) {
        self.write(&WorkerLine::Progress {
            stage: stage.to_owned(),
            progress,
        });
    }
    fn event(&mut self, event: serde_json::Value) {
        self.write(&WorkerLine::Event { event });
    }
}

/// The `worker` subcommand: spec on stdin, lines on stdout. Exit code 0 once the outcome is
/// written, whatever it says.
pub fn main(validate_only: bool) -> anyhow::Result<()> {
    let mut spec = String::new();
    for line in std::io::stdin().lock().lines() {
        spec.push_str(&line?);
        spec.push('\n');
    }
    let cancel = CancelToken::new();
    // SIGTERM from the agent (a cancelled job) stops the engine, which kills its own workers.
    signal_hook_register(&cancel);
    let runner = runner_from_env();
    let task = std::env::var(crate::agent::TASK_ID_ENV).unwrap_or_else(|_| "validate".into());
    let _span = tracing::info_span!("worker", task_id = %task).entered();
    let mut rep = LineReporter {
        out: std::io::stdout().lock(),
    };
    let outcome = runner.run(&spec, validate_only, &mut rep, &cancel);
    rep.write(&WorkerLine::Outcome {
        outcome: Box::new(outcome),
    });
    Ok(())
}

fn signal_hook_register(cancel: &CancelToken) {
    for sig in [libc::SIGTERM, libc::SIGINT] {
        // Registration fails only for forbidden signals; these two are allowed.
        let _ = signal_hook::flag::register(sig, cancel.flag());
    }
}
