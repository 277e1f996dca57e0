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
    /// The binary never spoke the worker protocol: not a JouleTrace bench (a criterion or
    /// libtest bench in the same package).
    #[error("{binary} is not a JouleTrace bench: {detail}")]
    NotAHarness { binary: String, detail: String },
    #[error("no candidates: {0}")]
    NoCandidates(String),
    #[error("CPU selection: {0}")]
    Cores(String),
    /// `sandbox = "strict"` and a layer is missing, or untrusted candidates with `sandbox = "off"`.
    #[error(transparent)]
    Sandbox(#[from] crate::pool::sandbox::SandboxError),
    #[error("{0}")]
    Other(String),
}
