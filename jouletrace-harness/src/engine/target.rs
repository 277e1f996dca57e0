//! What a run is given: programs that speak the worker protocol.
//!
//! A [`Target`] is a program with arguments, environment and working directory. Today's bench
//! binaries are one kind ([`TargetKind::Bench`]: the binary re-executed with
//! [`WORKER_ARG`](crate::protocol::WORKER_ARG)); a language host (the Python host) is another
//! ([`TargetKind::Host`]: an interpreter, its host script and a job file naming the runtime
//! candidates). The engine treats them alike: it starts one worker per check or measured case
//! from the target's command line and talks to it over the versioned protocol.

use std::collections::BTreeMap;
use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use crate::pool::WorkerCommand;
use crate::protocol::WORKER_ARG;

/// Names the job file in a language host's environment.
pub const JOB_ENV: &str = "JOULETRACE_JOB";

/// A program whose candidates take part in a run.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Target {
    /// The executable started for each worker (a bench binary, `python3`…).
    pub program: PathBuf,
    /// Its arguments, before anything else (the bench's `--jouletrace-worker`; the host script
    /// and its job file).
    #[serde(default)]
    pub args: Vec<String>,
    /// Set in the worker's environment, over what it inherits.
    #[serde(default)]
    pub env: BTreeMap<String, String>,
    /// Working directory for its workers (the package root under cargo).
    #[serde(default)]
    pub cwd: Option<PathBuf>,
    /// How reports name it: `package/bench`, or the job's name.
    pub label: String,
    pub kind: TargetKind,
    /// Set for a host judged by the orchestrator (every Python host: `python::HostFiles`):
    /// the expected outputs, kept in this process. Its workers answer `check` with their
    /// outputs (`ran`) and the engine judges them; a target without answers judges itself.
    #[serde(skip)]
    pub answers: Option<std::sync::Arc<crate::verdict::Answers>>,
}

/// What sort of program a target is; decides how a failure to start is explained.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TargetKind {
    /// A bench binary built with `jouletrace::main!()`: its candidates are compiled in.
    Bench,
    /// A language host: its candidates and cases are data, read from a job file
    /// (`docs/protocol.md`, "Runtime candidates").
    Host,
}

impl Target {
    /// A bench binary, started as `binary --jouletrace-worker`.
    pub fn bench(binary: impl Into<PathBuf>, label: impl Into<String>) -> Target {
        Target {
            program: binary.into(),
            args: vec![WORKER_ARG.to_owned()],
            env: BTreeMap::new(),
            cwd: None,
            label: label.into(),
            kind: TargetKind::Bench,
            answers: None,
        }
    }

    /// A language host: `program args…`, speaking the protocol itself.
    pub fn host(
        program: impl Into<PathBuf>,
        args: impl IntoIterator<Item = impl Into<String>>,
        label: impl Into<String>,
    ) -> Target {
        Target {
            program: program.into(),
            args: args.into_iter().map(Into::into).collect(),
            env: BTreeMap::new(),
            cwd: None,
            label: label.into(),
            kind: TargetKind::Host,
            answers: None,
        }
    }

    /// A language host given a job file: `program args… job_file`, with `JOULETRACE_JOB` naming
    /// the file as well (docs/protocol.md, "Runtime candidates").
    pub fn for_job(
        program: impl Into<PathBuf>,
        args: impl IntoIterator<Item = impl Into<String>>,
        job_file: &std::path::Path,
        label: impl Into<String>,
    ) -> Target {
        let job = job_file.display().to_string();
        let mut t = Target::host(program, args, label).with_env(JOB_ENV, job.clone());
        t.args.push(job);
        t
    }

    /// Judges its outputs against `answers` in the orchestrator (the host reports outputs).
    pub fn with_answers(mut self, answers: std::sync::Arc<crate::verdict::Answers>) -> Target {
        self.answers = Some(answers);
        self
    }

    /// Runs its workers in `dir`.
    pub fn with_cwd(mut self, dir: impl Into<PathBuf>) -> Target {
        self.cwd = Some(dir.into());
        self
    }

    /// Sets `key=value` in its workers' environment.
    pub fn with_env(mut self, key: impl Into<String>, value: impl Into<String>) -> Target {
        self.env.insert(key.into(), value.into());
        self
    }

    /// The command line as a person would type it, for messages.
    pub fn command_line(&self) -> String {
        std::iter::once(self.program.display().to_string())
            .chain(self.args.iter().cloned())
            .collect::<Vec<_>>()
            .join(" ")
    }

    /// How to start one of its workers; the limits are the caller's.
    pub fn worker_command(&self, capture_limit: usize) -> WorkerCommand {
        WorkerCommand {
            program: self.program.clone(),
            args: self.args.clone(),
            env: self.env.clone(),
            cwd: self.cwd.clone(),
            cpu: None,
            memory_limit_mb: None,
            isolate_network: false,
            capture_limit,
            sandbox: None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_bench_is_its_binary_with_the_worker_argument() {
        let t = Target::bench("/b/sort-0123", "pkg/sort").with_cwd("/pkg");
        assert_eq!(t.args, [WORKER_ARG]);
        assert_eq!(t.kind, TargetKind::Bench);
        let cmd = t.worker_command(10);
        assert_eq!(cmd.program, PathBuf::from("/b/sort-0123"));
        assert_eq!(cmd.args, [WORKER_ARG]);
        assert_eq!(cmd.cwd.as_deref(), Some("/pkg".as_ref()));
        assert_eq!(t.command_line(), "/b/sort-0123 --jouletrace-worker");
    }

    #[test]
    fn a_host_target_round_trips_as_json() {
        let t = Target::host("/usr/bin/python3", ["host.py", "job.json"], "job")
            .with_env("PYTHONHASHSEED", "0");
        let json = serde_json::to_string(&t).unwrap();
        assert_eq!(serde_json::from_str::<Target>(&json).unwrap(), t);
        let j = Target::for_job("python3", ["host.py"], "/tmp/j.json".as_ref(), "j");
        assert_eq!(j.args, ["host.py", "/tmp/j.json"]);
        assert_eq!(j.env[JOB_ENV], "/tmp/j.json");
        let minimal: Target = serde_json::from_str(
            r#"{"program": "/usr/bin/python3", "label": "x", "kind": "host"}"#,
        )
        .unwrap();
        assert!(minimal.args.is_empty() && minimal.env.is_empty() && minimal.cwd.is_none());
    }
}
