//! How a worker's end becomes a result status.

use std::os::unix::process::ExitStatusExt;
use std::time::Duration;

use super::WorkerError;
use crate::results::{Failure, Status};

/// What is known when a request failed.
pub struct Ending<'a> {
    pub error: &'a WorkerError,
    pub stderr: &'a str,
    pub case: Option<&'a str>,
    pub timeout: Duration,
    pub memory_limit_mb: Option<u64>,
}

fn signal_name(sig: i32) -> String {
    nix::sys::signal::Signal::try_from(sig)
        .map(|s| s.as_str().to_owned())
        .unwrap_or_else(|_| format!("signal {sig}"))
}

/// Classifies a failed request. The order matters: the stderr of an aborted process tells a
/// failed allocation (the memory limit) and a stack overflow apart from a plain abort.
pub fn classify(e: &Ending<'_>) -> Failure {
    let mem_limit = e.memory_limit_mb.map(|mb| format!("{mb} MiB"));
    match e.error {
        WorkerError::Timeout { limit } => Failure {
            limit: Some(humantime::format_duration(*limit).to_string()),
            ..Failure::new(
                Status::Timeout,
                e.case,
                format!(
                    "no result within the wall-clock limit of {}; the worker's process group was killed",
                    humantime::format_duration(*limit)
                ),
            )
        },
        WorkerError::Died { status } => {
            if let Some(sig) = status.signal() {
                let name = signal_name(sig);
                if e.stderr.contains("has overflowed its stack") {
                    return Failure {
                        signal: Some(name.clone()),
                        ..Failure::new(
                            Status::Crashed,
                            e.case,
                            format!("stack overflow (killed by {name})"),
                        )
                    };
                }
                if let Some(line) = e
                    .stderr
                    .lines()
                    .find(|l| l.contains("memory allocation of") && l.contains("failed"))
                {
                    return Failure {
                        signal: Some(name),
                        limit: mem_limit.clone(),
                        ..Failure::new(
                            Status::MemoryLimit,
                            e.case,
                            format!(
                                "{} (address-space limit {})",
                                line.trim(),
                                mem_limit.as_deref().unwrap_or("none")
                            ),
                        )
                    };
                }
                let why = match name.as_str() {
                    "SIGSEGV" => "invalid memory access",
                    "SIGBUS" => "bus error",
                    "SIGABRT" => "aborted",
                    "SIGILL" => "illegal instruction",
                    "SIGFPE" => "arithmetic exception",
                    "SIGKILL" => "killed from outside JouleTrace (often the kernel's OOM killer)",
                    _ => "terminated by a signal",
                };
                Failure {
                    signal: Some(name.clone()),
                    ..Failure::new(Status::Crashed, e.case, format!("{why} ({name})"))
                }
            } else {
                let code = status.code().unwrap_or(-1);
                let panicked = e.stderr.contains("panicked at");
                Failure::new(
                    if panicked {
                        Status::Panic
                    } else {
                        Status::Crashed
                    },
                    e.case,
                    if panicked {
                        format!(
                            "panicked and exited with status {code}: {}",
                            panic_line(e.stderr)
                        )
                    } else {
                        format!("exited with status {code} before answering")
                    },
                )
            }
        }
        WorkerError::Protocol { message } => {
            Failure::new(Status::ProtocolError, e.case, message.clone())
        }
        WorkerError::Cancelled => Failure::new(Status::NotRun, e.case, "the run was interrupted"),
        WorkerError::Spawn(err) => Failure::new(
            Status::ProtocolError,
            e.case,
            format!("the worker could not be started: {err}"),
        ),
    }
}

fn panic_line(stderr: &str) -> String {
    let mut lines = stderr.lines();
    while let Some(l) = lines.next() {
        if l.contains("panicked at") {
            return lines.next().unwrap_or(l).trim().to_owned();
        }
    }
    String::new()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::process::ExitStatus;

    fn died(raw: i32) -> WorkerError {
        WorkerError::Died {
            status: ExitStatus::from_raw(raw),
        }
    }

    fn run(err: &WorkerError, stderr: &str) -> Failure {
        classify(&Ending {
            error: err,
            stderr,
            case: Some("big"),
            timeout: Duration::from_secs(2),
            memory_limit_mb: Some(512),
        })
    }

    #[test]
    fn signals_are_named_and_explained() {
        let f = run(&died(libc::SIGSEGV), "");
        assert_eq!(
            (f.kind, f.signal.as_deref()),
            (Status::Crashed, Some("SIGSEGV"))
        );
        assert_eq!(f.case.as_deref(), Some("big"));
    }

    #[test]
    fn stack_overflow_and_failed_allocation_are_recognised() {
        let so = run(
            &died(libc::SIGABRT),
            "\nthread 'main' has overflowed its stack\nfatal runtime error: stack overflow",
        );
        assert_eq!(so.kind, Status::Crashed);
        assert!(so.message.starts_with("stack overflow"));
        let oom = run(
            &died(libc::SIGABRT),
            "memory allocation of 68719476736 bytes failed\n",
        );
        assert_eq!(oom.kind, Status::MemoryLimit);
        assert_eq!(oom.limit.as_deref(), Some("512 MiB"));
    }

    #[test]
    fn timeouts_carry_their_limit() {
        let f = run(
            &WorkerError::Timeout {
                limit: Duration::from_secs(2),
            },
            "",
        );
        assert_eq!((f.kind, f.limit.as_deref()), (Status::Timeout, Some("2s")));
    }
}
