//! One typed configuration for a run.
//!
//! Built once at the edge from, in increasing precedence: the defaults below,
//! `[workspace.metadata.joule]`, `[package.metadata.joule]`, environment variables, CLI flags;
//! per-candidate attributes (`#[joule_bench(timeout = …)]`) then override the run's values for
//! that candidate only. Nothing downstream parses strings again.

use std::path::PathBuf;
use std::time::Duration;

use crate::energy::Backend;
use crate::registry::CandidateOptions;

/// Which meter to use.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum MeterChoice {
    /// perf, then powercap, then the estimate (with a warning).
    #[default]
    Auto,
    /// Exactly this backend; a run whose forced meter is unavailable fails (exit status 2).
    Forced(Backend),
}

/// Which CPUs workers may use.
#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub enum CoreSelection {
    /// One worker per physical core of the online, non-isolated CPUs (isolated CPUs are used
    /// only when named).
    #[default]
    AllPhysical,
    /// These logical CPUs (each stands for its physical core).
    List(Vec<u32>),
}

#[derive(Clone, Debug, PartialEq)]
pub struct RunConfig {
    pub meter: MeterChoice,
    pub sysfs_root: PathBuf,
    /// Watts charged per busy core by the estimate meter.
    pub estimate_watts_per_core: f64,
    pub cores: CoreSelection,
    /// Check only, or check then measure.
    pub measure: bool,
    pub min_sample_time: Duration,
    pub warmup: u32,
    pub min_trials: u32,
    pub max_trials: u32,
    /// Target relative half-width of the 95% CI of the median energy per call.
    pub target_ci: f64,
    /// Wall-time budget for the measured trials of one candidate on one case.
    pub time_budget: Duration,
    /// Length of each idle-baseline window.
    pub idle_window: Duration,
    /// Re-take the idle baseline after this long.
    pub idle_every: Duration,
    /// Wall-clock limit for each worker step (a whole check, one sample).
    pub timeout: Duration,
    pub memory_limit_mb: Option<u64>,
    /// Bytes kept of each worker output stream.
    pub capture_limit: usize,
    pub isolate_network: bool,
    /// Relative change of energy per call that counts as a regression (0.05 = 5%).
    pub threshold: f64,
    pub confidence_level: f64,
    pub bootstrap_resamples: u32,
    pub seed: u64,
    /// Wait for the machine-wide measurement lock (`false`: fail at once).
    pub wait_for_lock: bool,
    /// Where the machine-wide lock file lives.
    pub lock_path: PathBuf,
    /// Name filters (libtest semantics: substring, or exact with `exact`).
    pub filters: Vec<String>,
    pub skip: Vec<String>,
    pub exact: bool,
    /// Run `#[joule_bench(ignore)]` candidates too (`--ignored`/`--include-ignored`).
    pub include_ignored: bool,
}

impl Default for RunConfig {
    fn default() -> Self {
        RunConfig {
            meter: MeterChoice::Auto,
            sysfs_root: PathBuf::from("/sys"),
            estimate_watts_per_core: 10.0,
            cores: CoreSelection::AllPhysical,
            measure: true,
            min_sample_time: Duration::from_millis(100),
            warmup: 1,
            min_trials: 5,
            max_trials: 30,
            target_ci: 0.02,
            time_budget: Duration::from_secs(10),
            idle_window: Duration::from_millis(500),
            idle_every: Duration::from_secs(60),
            timeout: Duration::from_secs(10),
            memory_limit_mb: Some(4096),
            capture_limit: 64 * 1024,
            isolate_network: false,
            threshold: 0.05,
            confidence_level: 0.95,
            bootstrap_resamples: 2000,
            seed: 0x4A6F_756C_6554_7261, // "JouleTra"
            wait_for_lock: true,
            lock_path: std::env::temp_dir().join("jouletrace-measure.lock"),
            filters: Vec::new(),
            skip: Vec::new(),
            exact: false,
            include_ignored: false,
        }
    }
}

/// A candidate's effective limits: the run's, overridden by its attributes.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Effective {
    pub timeout: Duration,
    pub memory_limit_mb: Option<u64>,
    pub min_trials: u32,
    pub warmup: u32,
    pub threshold: f64,
}

impl RunConfig {
    pub fn effective(&self, options: &CandidateOptions) -> Effective {
        Effective {
            timeout: options.timeout.unwrap_or(self.timeout),
            memory_limit_mb: options.memory_limit_mb.or(self.memory_limit_mb),
            min_trials: options.trials.unwrap_or(self.min_trials),
            warmup: options.warmup.unwrap_or(self.warmup),
            threshold: options.threshold.unwrap_or(self.threshold),
        }
    }

    /// Whether a candidate id passes the name filters.
    pub fn selects(&self, id: &str) -> bool {
        let hit = |f: &String| if self.exact { id == f } else { id.contains(f.as_str()) };
        (self.filters.is_empty() || self.filters.iter().any(hit)) && !self.skip.iter().any(hit)
    }
}
