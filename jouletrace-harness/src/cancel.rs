//! The cancel token: shared vocabulary of the engine and the pool (re-exported as
//! `engine::CancelToken`), kept below both so that the pool need not know the engine.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

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
