//! Python candidates: the embedded host script, finding an interpreter, and the target that runs
//! a [`Job`](crate::job::Job) of Python candidates through the engine.
//!
//! The host ([`HOST_SCRIPT`], `host.py` beside this file) speaks protocol v2 with orchestrator
//! metering: it never holds an energy counter; the engine reads its meter around each batch of
//! calls the host announces. Semantics (input spreading, comparison, namespace, failure kinds)
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

use serde::{Deserialize, Serialize};

use crate::engine::Target;
use crate::job::Job;
use crate::pool::sandbox::{self, SandboxPolicy};

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

/// The host script and a job file, in a private temporary directory removed on drop.
#[derive(Debug)]
pub struct HostFiles {
    dir: tempfile::TempDir,
    script: PathBuf,
    job: PathBuf,
}

impl HostFiles {
    /// Writes the host script and `job` into a fresh temporary directory.
    pub fn write(job: &Job) -> Result<HostFiles, PythonError> {
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
        write(&job_path, &job.to_json())?;
        Ok(HostFiles {
            dir,
            script,
            job: job_path,
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
    /// temporary directory.
    pub fn target(&self, python: &Interpreter, label: impl Into<String>) -> Target {
        let mut args: Vec<String> = Interpreter::host_args().map(str::to_owned).to_vec();
        args.push(self.script.display().to_string());
        args.push(self.job.display().to_string());
        Target::host(&python.path, args, label).with_cwd(self.dir.path())
    }
}

#[cfg(test)]
mod tests;
