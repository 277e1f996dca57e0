//! Why a run could not start or continue. Candidate failures are not errors: they are results.
//!
//! Each variant keeps what went wrong as a value (the meter's [`Unavailable`], the topology's
//! error, the I/O error) rather than as text, so a caller maps errors to exit statuses or HTTP
//! statuses by matching, and prints the whole chain (`{:#}` with anyhow) for people.

use crate::energy::Unavailable;
use crate::pool::WorkerError;
use crate::topology::TopologyError;

pub use super::lock::LockError;

#[derive(Debug, thiserror::Error)]
pub enum EngineError {
    /// The forced meter (or, with `auto`, every meter, even the estimate) cannot be read here.
    #[error("cannot measure energy")]
    MeterUnavailable(#[source] Unavailable),
    /// Another run holds the machine's run lock and this one was asked not to wait.
    #[error("another JouleTrace run holds the machine's run lock {path}; {hint}")]
    Locked { path: String, hint: String },
    /// Interrupted before anything was done (while waiting for the run lock).
    #[error("interrupted before the run started")]
    Interrupted,
    /// The run lock itself failed (its file cannot be opened or locked).
    #[error("the machine-wide run lock")]
    Lock(#[source] LockError),
    /// A target's program could not be listed: it did not start, or answered nonsense.
    #[error("cannot list the candidates of {binary}")]
    Listing {
        binary: String,
        #[source]
        source: ListingError,
    },
    /// The binary never spoke the worker protocol: not a JouleTrace bench (a criterion or
    /// libtest bench in the same package).
    #[error("{binary} is not a JouleTrace bench: {detail}")]
    NotAHarness { binary: String, detail: String },
    #[error("no candidates: {0}")]
    NoCandidates(String),
    /// The CPU topology (sysfs) cannot be read.
    #[error("cannot read the CPU topology")]
    Topology(#[source] TopologyError),
    /// The CPUs asked for cannot be used.
    #[error("CPU selection: {0}")]
    Cores(String),
    /// This process's CPU affinity cannot be read.
    #[error("cannot read this process's CPU affinity")]
    Affinity(#[source] std::io::Error),
    /// `sandbox = "strict"` and a layer is missing, or untrusted candidates with `sandbox = "off"`.
    #[error(transparent)]
    Sandbox(#[from] crate::pool::sandbox::SandboxError),
}

/// Why listing a target failed.
#[derive(Debug, thiserror::Error)]
pub enum ListingError {
    #[error(transparent)]
    Worker(WorkerError),
    #[error("unexpected answer to `list`: {0}")]
    Unexpected(String),
    #[error("{error}; its stderr: {stderr}")]
    Failed { error: WorkerError, stderr: String },
    /// A language host that does not start is broken, never "not a bench" to skip quietly.
    #[error("the host did not start as a worker of protocol {version}: {error}")]
    HostNotStarted { version: u32, error: WorkerError },
    /// A language host must be metered by the orchestrator (`engine/host.rs`).
    #[error("{0}")]
    Metering(String),
}

impl EngineError {
    /// Whether the error is the machine's or the environment's (a meter, the lock, the CPUs, the
    /// sandbox) rather than the targets' (exit status 2 for both in `cargo joule`; a job service
    /// answers 503 for the first kind and 422 for the second).
    pub fn is_environment(&self) -> bool {
        matches!(
            self,
            EngineError::MeterUnavailable(_)
                | EngineError::Locked { .. }
                | EngineError::Lock(_)
                | EngineError::Topology(_)
                | EngineError::Cores(_)
                | EngineError::Affinity(_)
                | EngineError::Sandbox(_)
        )
    }
}
