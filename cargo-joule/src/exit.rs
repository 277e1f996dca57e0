//! Exit statuses, and the error type that carries one.
//!
//! The meanings are part of the interface (CI gates on them) and are listed in `--help`
//! ([`crate::cli::EXIT_CODES`]) and `docs/cli.md`.

use std::fmt;
use std::process::ExitCode;

use jouletrace::engine::EngineError;
use jouletrace::results::{ChangeVerdict, RunResults};

/// What a finished command says about the code it measured.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Status {
    Ok,
    /// An energy regression against the baseline.
    Regression,
    /// A candidate failed its check, crashed, timed out or hit a limit.
    CandidateFailed,
    /// Usage or environment error.
    Usage,
    Interrupted,
}

impl Status {
    pub fn code(self) -> u8 {
        match self {
            Status::Ok => 0,
            Status::CandidateFailed => 1,
            Status::Usage => 2,
            Status::Regression => 3,
            Status::Interrupted => 130,
        }
    }

    /// The status that wins when both apply: interrupted, then 2 over 1 over 3 (the derive order
    /// is that precedence).
    pub fn worst(self, other: Status) -> Status {
        self.max(other)
    }

    /// The status a results file implies: failures (1), regressions (3), or an interrupted run.
    pub fn of(results: &RunResults) -> Status {
        let mut status = Status::Ok;
        if results.candidates().any(|c| c.status.is_failure()) {
            status = status.worst(Status::CandidateFailed);
        }
        if results.baseline.as_ref().is_some_and(|b| {
            b.entries
                .iter()
                .any(|e| e.verdict == ChangeVerdict::Regressed)
        }) {
            status = status.worst(Status::Regression);
        }
        status
    }
}

impl From<Status> for ExitCode {
    fn from(s: Status) -> ExitCode {
        ExitCode::from(s.code())
    }
}

/// A command that could not do its job, with the status to exit with.
pub struct Failure {
    pub status: Status,
    pub error: anyhow::Error,
}

impl Failure {
    /// A usage or environment error (exit status 2).
    pub fn usage(error: impl Into<anyhow::Error>) -> Failure {
        Failure {
            status: Status::Usage,
            error: error.into(),
        }
    }
}

impl Failure {
    /// An engine error with its status: interrupted while waiting for the run lock is 130;
    /// everything else (meter, lock, CPUs, targets) is a usage or environment error, 2.
    pub fn engine(error: EngineError) -> Failure {
        Failure {
            status: match error {
                EngineError::Interrupted => Status::Interrupted,
                _ => Status::Usage,
            },
            error: error.into(),
        }
    }
}

impl fmt::Debug for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:?} ({:?})", self.error, self.status)
    }
}

/// Errors not otherwise classified are environment errors (status 2). (`anyhow::Error`s go
/// through [`Failure::usage`].)
impl<E: std::error::Error + Send + Sync + 'static> From<E> for Failure {
    fn from(e: E) -> Failure {
        Failure::usage(e)
    }
}

pub type CliResult<T = Status> = Result<T, Failure>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn precedence_is_interrupted_then_2_then_1_then_3() {
        use Status::*;
        assert_eq!(Regression.worst(CandidateFailed), CandidateFailed);
        assert_eq!(CandidateFailed.worst(Usage), Usage);
        assert_eq!(Usage.worst(Interrupted), Interrupted);
        assert_eq!(Ok.worst(Regression), Regression);
        assert_eq!(
            [Ok, CandidateFailed, Usage, Regression, Interrupted].map(Status::code),
            [0, 1, 2, 3, 130]
        );
    }
}
