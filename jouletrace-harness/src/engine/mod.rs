//! The orchestrator: the only place that combines topology, pool, meters and statistics.
//!
//! [`run`] takes bench binaries ([`Target`]s), asks each for its candidates over the worker
//! protocol, checks them all in parallel across the pool, then measures those that passed with
//! domain-aware scheduling, and returns one [`RunResults`]. The bench harness calls it with its
//! own executable; `cargo joule` calls it with every bench binary of a workspace, so that they
//! share one pool, one lock and one report.

mod observer;

pub use observer::{NullObserver, Observer};

use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use serde::{Deserialize, Serialize};

use crate::config::RunConfig;
use crate::registry::{CandidateOptions, CaseInfo};
use crate::results::RunResults;

/// A bench binary whose candidates take part in a run.
#[derive(Clone, Debug)]
pub struct Target {
    pub binary: PathBuf,
    /// How reports name it: `package/bench`.
    pub label: String,
    /// Working directory for its workers (the package root under cargo).
    pub cwd: Option<PathBuf>,
}

/// A candidate as a worker describes it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct CandidateDescriptor {
    pub id: String,
    pub problem: String,
    pub name: String,
    pub location: String,
    pub options: CandidateOptions,
    pub cases: Vec<CaseInfo>,
}

/// Set from a signal handler or another thread; the engine stops, kills its workers, and returns
/// what it gathered marked incomplete.
#[derive(Clone, Debug, Default)]
pub struct CancelToken(Arc<AtomicBool>);

impl CancelToken {
    pub fn new() -> Self {
        Self::default()
    }
    pub fn cancel(&self) {
        self.0.store(true, Ordering::SeqCst);
    }
    pub fn is_cancelled(&self) -> bool {
        self.0.load(Ordering::SeqCst)
    }
    /// The flag itself, for `signal_hook`-style registration.
    pub fn flag(&self) -> Arc<AtomicBool> {
        self.0.clone()
    }
}

/// Why a run could not start or continue. Candidate failures are not errors: they are results.
#[derive(Debug, thiserror::Error)]
pub enum EngineError {
    #[error("meter `{backend}` is unavailable: {reason}{}", remedy.as_deref().map(|r| format!("\n  remedy: {r}")).unwrap_or_default())]
    MeterUnavailable {
        backend: String,
        reason: String,
        remedy: Option<String>,
    },
    #[error("another JouleTrace run is measuring on this machine (lock {path}); {hint}")]
    Locked { path: String, hint: String },
    #[error("cannot start worker {binary}: {source}")]
    Spawn {
        binary: String,
        source: std::io::Error,
    },
    #[error("{binary}: {message}")]
    Listing { binary: String, message: String },
    #[error("no candidates: {0}")]
    NoCandidates(String),
    #[error("CPU selection: {0}")]
    Cores(String),
    #[error("{0}")]
    Other(String),
}

/// Runs checks (and, when `config.measure`, measurements) of every selected candidate of every
/// target. See the module documentation.
pub fn run(
    targets: &[Target],
    config: &RunConfig,
    observer: &mut dyn Observer,
    cancel: &CancelToken,
) -> Result<RunResults, EngineError> {
    let _ = (targets, config, observer, cancel);
    Err(EngineError::Other("the engine is being built".into()))
}
