use std::time::Duration;

use super::ErasedCandidate;

/// Per-candidate options from `#[joule_bench(...)]`. `None` means "use the run's default".
#[derive(Clone, Copy, Debug, Default, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(default)]
pub struct CandidateOptions {
    pub timeout: Option<Duration>,
    pub memory_limit_mb: Option<u64>,
    pub trials: Option<u32>,
    pub warmup: Option<u32>,
    /// Relative energy change (0.05 = 5%) above which a baseline comparison calls a regression.
    pub threshold: Option<f64>,
    pub ignore: bool,
}

impl CandidateOptions {
    pub const DEFAULT: CandidateOptions = CandidateOptions {
        timeout: None,
        memory_limit_mb: None,
        trials: None,
        warmup: None,
        threshold: None,
        ignore: false,
    };
}

/// One `#[joule_bench]` function.
pub struct CandidateEntry {
    /// The problem it solves; a candidate with its own cases is its own problem.
    pub problem: &'static str,
    /// The function's name.
    pub name: &'static str,
    pub module_path: &'static str,
    pub file: &'static str,
    pub line: u32,
    pub options: CandidateOptions,
    pub imp: &'static (dyn ErasedCandidate + Sync),
}

impl CandidateEntry {
    /// `problem::name`, the identity used in test names, filters, results and baselines.
    pub fn id(&self) -> String {
        format!("{}::{}", self.problem, self.name)
    }

    pub fn location(&self) -> String {
        format!("{}:{}", self.file, self.line)
    }
}

/// One `#[joule_cases]` function.
pub struct ProblemEntry {
    pub problem: &'static str,
    pub function: &'static str,
    pub file: &'static str,
    pub line: u32,
}

impl ProblemEntry {
    pub fn location(&self) -> String {
        format!("{}:{} ({})", self.file, self.line, self.function)
    }
}
