//! One typed configuration for a run.
//!
//! Built once at the edge from, in increasing precedence: the defaults below,
//! `[workspace.metadata.joule]`, `[package.metadata.joule]`, environment variables, CLI flags;
//! per-candidate attributes (`#[joule_bench(timeout = …)]`) then override the run's values for
//! that candidate only. Nothing downstream parses strings again.
//!
//! [`Layer`] reads one source and [`layered`] stacks them; the keys and the values they accept are
//! documented in `docs/cli.md` (“Configuration”). Sharding ([`Partition`]) and the name filters
//! come from the command line only.

mod layer;
mod partition;
mod suggest;

pub use layer::{ConfigError, KEYS, Layer, Origin, host_layered, layered};
pub use partition::{Partition, PartitionError, PartitionKind};
pub use suggest::{OTHER_ENV_VARS, unknown_env_vars};

use std::path::PathBuf;
use std::time::Duration;

pub use crate::energy::MeterChoice;
use crate::registry::CandidateOptions;

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

/// The default machine-wide lock file. A fixed path, not `$TMPDIR`: two runs with different
/// temporary directories must still find each other's lock.
pub const DEFAULT_LOCK_PATH: &str = "/tmp/jouletrace-measure.lock";

/// What belongs to the machine rather than to a run: where sysfs is and where the runs of this
/// machine meet. Kept apart from [`RunConfig`] because a job service fills `RunConfig` from
/// untrusted job specs, and a job must not choose the lock it is checked against or the counters
/// it is measured with. Keys `lock_path` and `sysfs_root` (`JOULETRACE_LOCK_PATH`,
/// `JOULETRACE_SYSFS_ROOT`, `--lock-path`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HostConfig {
    /// Root of the sysfs tree meters and topology read (`/sys`).
    pub sysfs_root: PathBuf,
    /// The machine-wide run lock; containers sharing a host must point it at one host file.
    pub lock_path: PathBuf,
}

impl Default for HostConfig {
    fn default() -> Self {
        HostConfig {
            sysfs_root: PathBuf::from("/sys"),
            lock_path: PathBuf::from(DEFAULT_LOCK_PATH),
        }
    }
}

/// How Rust source submissions are built (`jouletrace::rust_source::Builder`): the cache and
/// the bounds of each sandboxed compile.
#[derive(Clone, Debug, PartialEq)]
pub struct BuildConfig {
    /// `build_cache`: the cache directory; `None`: `/var/cache/jouletrace/build` as root (the
    /// sandbox user must reach it), else the user's cache dir.
    pub cache_dir: Option<PathBuf>,
    /// `build_cache_limit_mb`: bound on cached rlibs and binaries (LRU beyond it).
    pub cache_limit_bytes: u64,
    /// `build_timeout`: wall-clock bound of one compile or link.
    pub timeout: Duration,
    /// `build_memory_limit_mb`: address space per compiler process and memory of its tree.
    pub memory_limit_bytes: u64,
    /// `build_output_limit_kb`: compiler output kept before the compile is stopped.
    pub output_limit_bytes: u64,
}

impl Default for BuildConfig {
    fn default() -> Self {
        BuildConfig {
            cache_dir: None,
            // A few hundred candidates' rlibs (tens of kB each) and tens of glue binaries.
            cache_limit_bytes: 2 << 30,
            // A glue link with the support library takes seconds on an idle core, much more
            // on a loaded one.
            timeout: Duration::from_secs(120),
            // rustc reserves about 0.5 GB of address space for a one-line crate.
            memory_limit_bytes: 2 << 30,
            output_limit_bytes: 1 << 20,
        }
    }
}

#[derive(Clone, Debug, PartialEq)]
pub struct RunConfig {
    pub meter: MeterChoice,
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
    /// Longest wait, before each measured job, for the CPU temperature to come back to within
    /// 3 °C of its idle value (where the machine exposes sensors; zero turns the gate off).
    pub settle_timeout: Duration,
    /// Wall-clock limit for each worker step (a whole check, one sample).
    pub timeout: Duration,
    pub memory_limit_mb: Option<u64>,
    /// Bytes kept of each worker output stream.
    pub capture_limit: usize,
    pub isolate_network: bool,
    /// The operating-system sandbox of workers (`sandbox`, `sandbox_uid`,
    /// `sandbox_max_processes`; docs/sandbox.md).
    pub sandbox: crate::pool::sandbox::SandboxPolicy,
    /// Builds of Rust source submissions (`build_*` keys; docs/rust-candidates.md).
    pub build: BuildConfig,
    /// Relative change of energy per call that counts as a regression (0.05 = 5%).
    pub threshold: f64,
    pub confidence_level: f64,
    pub bootstrap_resamples: u32,
    pub seed: u64,
    /// Wait for the machine-wide run lock (`false`: fail at once).
    pub wait_for_lock: bool,
    /// Where the run history of this machine lives (`engine::history`): `cargo joule` sets
    /// `<target-dir>/joule/history/`. `None`: no history, and every interval is widened by the
    /// meter's prior run-to-run σ only. Set by code, never by a configuration key: a job
    /// service fills this struct from untrusted specs, and a job must not choose where files
    /// are written.
    pub history_dir: Option<PathBuf>,
    /// Key `history` (`--no-history` = false): read and append the run history in
    /// `history_dir`. `false` keeps `history_dir` untouched and uses the prior.
    pub history: bool,
    /// Name filters (libtest semantics: substring, or exact with `exact`).
    pub filters: Vec<String>,
    pub skip: Vec<String>,
    pub exact: bool,
    /// Run `#[joule_bench(ignore)]` candidates too (`--ignored`/`--include-ignored`).
    pub include_ignored: bool,
    /// This machine's shard of the candidates (`--partition`): [`Partition::selects`] with each
    /// candidate's position in the sorted ids of all candidates of all targets of the run.
    pub partition: Option<Partition>,
}

impl Default for RunConfig {
    fn default() -> Self {
        RunConfig {
            meter: MeterChoice::Auto,
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
            settle_timeout: Duration::from_secs(10),
            timeout: Duration::from_secs(10),
            memory_limit_mb: Some(4096),
            capture_limit: 64 * 1024,
            isolate_network: false,
            sandbox: crate::pool::sandbox::SandboxPolicy::default(),
            build: BuildConfig::default(),
            threshold: 0.05,
            confidence_level: 0.95,
            bootstrap_resamples: 2000,
            seed: 0x4A6F_756C_6554_7261, // "JouleTra"
            wait_for_lock: true,
            history_dir: None,
            history: true,
            filters: Vec::new(),
            skip: Vec::new(),
            exact: false,
            include_ignored: false,
            partition: None,
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
    /// The history directory the engine reads and appends: `history_dir` unless `history` is off.
    pub fn history_dir(&self) -> Option<&std::path::Path> {
        self.history_dir.as_deref().filter(|_| self.history)
    }

    pub fn effective(&self, options: &CandidateOptions) -> Effective {
        Effective {
            timeout: options.timeout.unwrap_or(self.timeout),
            memory_limit_mb: options.memory_limit_mb.or(self.memory_limit_mb),
            min_trials: options.trials.unwrap_or(self.min_trials),
            warmup: options.warmup.unwrap_or(self.warmup),
            threshold: options.threshold.unwrap_or(self.threshold),
        }
    }

    /// Whether a candidate id passes the name filters (the partition is separate: see
    /// [`RunConfig::partitioned`]).
    pub fn selects(&self, id: &str) -> bool {
        let hit = |f: &String| {
            if self.exact {
                id == f
            } else {
                id.contains(f.as_str())
            }
        };
        (self.filters.is_empty() || self.filters.iter().any(hit)) && !self.skip.iter().any(hit)
    }

    /// The ids this run selects from every candidate id of the run: the partition over the sorted
    /// ids (positions counted before name filters, as the engine counts them), then the name
    /// filters. The result is sorted.
    pub fn partitioned<'a>(&self, ids: impl IntoIterator<Item = &'a str>) -> Vec<&'a str> {
        let mut all: Vec<&str> = ids.into_iter().collect();
        all.sort_unstable();
        all.dedup();
        all.into_iter()
            .enumerate()
            .filter(|(i, id)| self.partition.is_none_or(|p| p.selects(id, *i)) && self.selects(id))
            .map(|(_, id)| id)
            .collect()
    }
}

/// The configuration of a bench binary started by `cargo bench` or `cargo test`: its package's
/// `[package.metadata.joule]` (cargo sets `CARGO_MANIFEST_DIR` for the binaries it runs), then
/// `JOULETRACE_*` environment variables. `cargo joule` layers `[workspace.metadata.joule]` and
/// its flags on top of the same keys.
pub fn for_bench_binary() -> Result<(RunConfig, HostConfig), ConfigError> {
    let mut layers = Vec::new();
    if let Some(dir) = std::env::var_os("CARGO_MANIFEST_DIR") {
        let path = PathBuf::from(dir).join("Cargo.toml");
        if let Ok(text) = std::fs::read_to_string(&path) {
            let table = toml::from_str::<toml::Value>(&text)
                .ok()
                .and_then(|v| v.get("package")?.get("metadata")?.get("joule").cloned())
                .map(|t| serde_json::to_value(t).unwrap_or(serde_json::Value::Null))
                .unwrap_or(serde_json::Value::Null);
            layers.push(Layer::from_table(&table, Origin::package(path))?);
        }
    }
    layers.push(Layer::from_env(std::env::vars())?);
    let layers: Vec<&Layer> = layers.iter().collect();
    Ok((layered(&layers)?, host_layered(&layers)))
}
