//! Python candidates: the embedded host script, finding an interpreter, and the target that runs
//! a [`Job`](crate::job::Job) of Python candidates through the engine.
//!
//! The host ([`HOST_SCRIPT`], `host.py` beside this file) speaks protocol v3 with orchestrator
//! metering: it never holds an energy counter; the engine reads its meter around each batch of
//! calls the host announces. Nor does it judge outputs: its job file has no expected outputs
//! ([`HostFiles::write`]), it reports what each call returned, and the engine compares
//! ([`crate::verdict`]). Semantics (input spreading, comparison, namespace, failure kinds)
//! are described in `docs/python.md`.
//!
//! ```no_run
//! use jouletrace::job::{Job, MeasureRequest};
//! use jouletrace::python::{HostFiles, Interpreter};
//!
//! let body = br#"{"candidate_code": "def solve(x):\n    return x * x\n",
//!                 "test_cases": [{"test_id": "t1", "inputs": [3], "expected_output": 9}]}"#;
//! let job = Job::from_requests(vec![MeasureRequest::parse(body).unwrap()]).unwrap();
//! let python = Interpreter::find(None).unwrap();
//! let files = HostFiles::write(&job).unwrap();
//! let target = files.target(&python, "request");
//! // engine::run(vec![target], …)
//! ```

use std::io;
use std::path::{Path, PathBuf};
use std::process::Command;

use std::collections::BTreeMap;
use std::sync::Arc;

use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;

use crate::engine::Target;
use crate::job::{Comparison, Job, JobCandidate, JobCase};
use crate::pool::sandbox::{self, SandboxPolicy};
use crate::verdict::{Answers, AnswersError};

/// The host script, written next to each job at run time.
pub const HOST_SCRIPT: &str = include_str!("host.py");

/// Environment variable naming the interpreter to use instead of `python3` on `PATH`.
pub const PYTHON_ENV: &str = "JOULETRACE_PYTHON";

/// Tried when `python3` on `PATH` is one the sandbox cannot run.
const SYSTEM_PYTHON: &str = "/usr/bin/python3";

/// The interpreter [`Interpreter::find_runnable`] chose, and why, when it is not the first
/// candidate.
#[derive(Clone, Debug)]
pub struct Chosen {
    pub interpreter: Interpreter,
    pub note: Option<String>,
}

/// The oldest Python the host supports (it uses nothing newer).
const MIN_VERSION: (u32, u32) = (3, 8);

#[derive(Debug, thiserror::Error)]
pub enum PythonError {
    #[error(
        "no Python interpreter: `{program}` could not be run ({source}); install python3 or set \
         {PYTHON_ENV} to an interpreter"
    )]
    NotFound {
        program: String,
        #[source]
        source: io::Error,
    },
    #[error("`{program}` did not report its version (exit {status}): {stderr}")]
    Probe {
        program: String,
        status: String,
        stderr: String,
    },
    #[error("`{path}` is Python {version}; the host needs {}.{} or newer", MIN_VERSION.0, MIN_VERSION.1)]
    TooOld { path: String, version: String },
    #[error(
        "the sandbox cannot run the interpreter {path}: {reason}; name one it can with \
         --python or {PYTHON_ENV} (a system interpreter such as /usr/bin/python3)"
    )]
    NotRunnable { path: String, reason: String },
    #[error("the job's expected outputs: {0}")]
    Answers(#[from] AnswersError),
    #[error("writing the host's files in {dir}: {source}")]
    Write {
        dir: PathBuf,
        #[source]
        source: io::Error,
    },
}

/// The interpreter that runs the host, as recorded in results.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Interpreter {
    /// Resolved path of the executable (`sys.executable`, symlinks followed).
    pub path: PathBuf,
    /// `platform.python_version()`, e.g. `3.11.2`.
    pub version: String,
    /// `sys.implementation.name`: `cpython`, `pypy`…
    pub implementation: String,
}

impl Interpreter {
    /// `explicit`, else `$JOULETRACE_PYTHON`, else `python3` on `PATH`; asks it for its path and
    /// version, so results name the interpreter that actually ran.
    pub fn find(explicit: Option<&Path>) -> Result<Interpreter, PythonError> {
        let program = explicit
            .map(Path::to_path_buf)
            .or_else(|| std::env::var_os(PYTHON_ENV).map(PathBuf::from))
            .unwrap_or_else(|| PathBuf::from("python3"));
        let name = program.display().to_string();
        let out = Command::new(&program)
            .args([
                "-I",
                "-S",
                "-c",
                "import os,sys,platform;print(os.path.realpath(sys.executable));\
                 print(platform.python_version());print(sys.implementation.name)",
            ])
            .output()
            .map_err(|source| PythonError::NotFound {
                program: name.clone(),
                source,
            })?;
        let text = String::from_utf8_lossy(&out.stdout);
        let mut lines = text.lines();
        let (Some(path), Some(version), Some(implementation)) =
            (lines.next(), lines.next(), lines.next())
        else {
            return Err(PythonError::Probe {
                program: name,
                status: out.status.to_string(),
                stderr: String::from_utf8_lossy(&out.stderr).trim().to_owned(),
            });
        };
        let interpreter = Interpreter {
            path: PathBuf::from(path),
            version: version.to_owned(),
            implementation: implementation.to_owned(),
        };
        if !interpreter.is_supported() {
            return Err(PythonError::TooOld {
                path: path.to_owned(),
                version: version.to_owned(),
            });
        }
        Ok(interpreter)
    }

    /// As [`Interpreter::find`], for workers started under `policy`: the interpreter must be
    /// one the sandbox can run (when the orchestrator is root, its unprivileged user must be able
    /// to read it; pyenv's under `/root` is not). When none was named and `python3` on `PATH`
    /// is not runnable, the system's `/usr/bin/python3` is used instead, and the note says so;
    /// never a weaker sandbox.
    pub fn find_runnable(
        explicit: Option<&Path>,
        policy: &SandboxPolicy,
    ) -> Result<Chosen, PythonError> {
        let named = explicit.is_some() || std::env::var_os(PYTHON_ENV).is_some();
        let first = Interpreter::find(explicit)?;
        let refused = match sandbox::runnable(policy, &first.path) {
            Ok(()) => {
                return Ok(Chosen {
                    interpreter: first,
                    note: None,
                });
            }
            Err(reason) => reason,
        };
        let not_runnable = |path: &Path, reason: String| PythonError::NotRunnable {
            path: path.display().to_string(),
            reason,
        };
        if named {
            return Err(not_runnable(&first.path, refused));
        }
        let system = Path::new(SYSTEM_PYTHON);
        match Interpreter::find(Some(system)) {
            Ok(fallback) if sandbox::runnable(policy, &fallback.path).is_ok() => Ok(Chosen {
                note: Some(format!(
                    "python3 on PATH ({}) cannot be run by the sandbox ({refused}); using {} \
                     (Python {})",
                    first.path.display(),
                    fallback.path.display(),
                    fallback.version
                )),
                interpreter: fallback,
            }),
            _ => Err(not_runnable(&first.path, refused)),
        }
    }

    fn is_supported(&self) -> bool {
        let mut parts = self
            .version
            .split('.')
            .map(|p| p.parse::<u32>().unwrap_or(0));
        let major_minor = (parts.next().unwrap_or(0), parts.next().unwrap_or(0));
        major_minor >= MIN_VERSION
    }

    /// Arguments before the script: isolated mode (no environment variables, user site or
    /// current directory on the path) and no `site` (only the standard library is importable).
    pub fn host_args() -> [&'static str; 2] {
        ["-I", "-S"]
    }
}

/// The host script and a job file, in a private temporary directory removed on drop, and the
/// job's expected outputs, kept in memory for the engine.
#[derive(Debug)]
pub struct HostFiles {
    dir: tempfile::TempDir,
    script: PathBuf,
    job: PathBuf,
    answers: Arc<Answers>,
}

impl HostFiles {
    /// Writes the host script and `job` into a fresh temporary directory: the job without its
    /// expected outputs (the candidates can read that directory), except the cases of problems
    /// with a `custom` comparison, which runs in the host.
    pub fn write(job: &Job) -> Result<HostFiles, PythonError> {
        let answers = Arc::new(Answers::from_job(job)?);
        let dir = tempfile::Builder::new()
            .prefix("jouletrace-python-")
            .tempdir()
            .map_err(|source| PythonError::Write {
                dir: std::env::temp_dir(),
                source,
            })?;
        let script = dir.path().join("host.py");
        let job_path = dir.path().join("job.json");
        let write = |path: &Path, text: &str| {
            std::fs::write(path, text).map_err(|source| PythonError::Write {
                dir: dir.path().to_owned(),
                source,
            })
        };
        write(&script, HOST_SCRIPT)?;
        write(&job_path, &without_expected(job))?;
        Ok(HostFiles {
            dir,
            script,
            job: job_path,
            answers,
        })
    }

    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    pub fn script(&self) -> &Path {
        &self.script
    }

    pub fn job(&self) -> &Path {
        &self.job
    }

    /// The engine target: `python -I -S host.py job.json`, its workers started in the
    /// temporary directory, its outputs judged by the engine against the job's answers.
    pub fn target(&self, python: &Interpreter, label: impl Into<String>) -> Target {
        let mut args: Vec<String> = Interpreter::host_args().map(str::to_owned).to_vec();
        args.push(self.script.display().to_string());
        args.push(self.job.display().to_string());
        Target::host(&python.path, args, label)
            .with_cwd(self.dir.path())
            .with_answers(Arc::clone(&self.answers))
    }

    /// The expected outputs the engine judges this job's outputs against.
    pub fn answers(&self) -> &Arc<Answers> {
        &self.answers
    }
}

/// The job file a host is given: the job, each case without `expected` unless a candidate of
/// its problem has a `custom` comparison. Written from the raw JSON, so big integers in the
/// inputs stay exact.
fn without_expected(job: &Job) -> String {
    #[derive(Serialize)]
    struct HostJob<'a> {
        protocol: u32,
        candidates: &'a [JobCandidate],
        cases: BTreeMap<&'a str, Vec<HostCase<'a>>>,
        comparison: &'a Comparison,
    }
    #[derive(Serialize)]
    struct HostCase<'a> {
        id: &'a str,
        inputs: &'a RawValue,
        #[serde(skip_serializing_if = "Option::is_none")]
        expected: Option<&'a RawValue>,
        #[serde(skip_serializing_if = "Option::is_none")]
        size: Option<u64>,
        #[serde(skip_serializing_if = "Option::is_none")]
        family: Option<&'a str>,
        metadata: &'a serde_json::Map<String, serde_json::Value>,
        measured: bool,
    }
    let custom = |problem: &str| {
        job.candidates.iter().any(|c| {
            c.problem == problem && matches!(job.comparison_for(c), Comparison::Custom { .. })
        })
    };
    let cases = job
        .cases
        .iter()
        .map(|(problem, cases)| {
            let keep = custom(problem);
            let cases = cases
                .iter()
                .map(|c: &JobCase| HostCase {
                    id: &c.id,
                    inputs: &c.inputs,
                    expected: keep.then_some(&*c.expected),
                    size: c.size,
                    family: c.family.as_deref(),
                    metadata: &c.metadata,
                    measured: c.measured,
                })
                .collect();
            (problem.as_str(), cases)
        })
        .collect();
    serde_json::to_string(&HostJob {
        protocol: job.protocol,
        candidates: &job.candidates,
        cases,
        comparison: &job.comparison,
    })
    .expect("a job always serializes")
}

#[cfg(any(test, feature = "test-support"))]
pub mod hacks;
#[cfg(test)]
mod tests;
