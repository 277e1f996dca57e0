//! Settings from one source (a manifest table, the environment, the command line), and how the
//! sources are layered into one [`RunConfig`].
//!
//! Every source goes through the same table of [`KEYS`] and the same value parsers, so a key means
//! the same thing and is checked the same way wherever it is written:
//!
//! ```toml
//! [workspace.metadata.joule]
//! meter = "perf"
//! threshold = "3%"
//! min_sample_time = "200ms"
//! ```
//!
//! is the same as `JOULETRACE_METER=perf JOULETRACE_THRESHOLD=3%` or `--meter perf --threshold 3%`.
//! An unknown key or a bad value is an error naming where it was written, the key, and what the key
//! accepts.

use std::collections::BTreeMap;
use std::fmt;
use std::path::PathBuf;
use std::time::Duration;

use serde_json::Value;

use super::{CoreSelection, HostConfig, MeterChoice, RunConfig};
use crate::energy::Backend;

/// Where a setting was written.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Origin {
    /// A `[workspace.metadata.joule]` or `[package.metadata.joule]` table.
    Manifest { path: PathBuf, table: String },
    /// An environment variable.
    Env { var: String },
    /// A command-line flag.
    Flag { flag: String },
}

impl Origin {
    pub fn workspace(path: impl Into<PathBuf>) -> Origin {
        Origin::Manifest {
            path: path.into(),
            table: "[workspace.metadata.joule]".into(),
        }
    }

    pub fn package(path: impl Into<PathBuf>) -> Origin {
        Origin::Manifest {
            path: path.into(),
            table: "[package.metadata.joule]".into(),
        }
    }

    /// How the key is written in this source: `trials`, `JOULETRACE_TRIALS`, `--trials`.
    fn key_display(&self, key: &str) -> String {
        match self {
            Origin::Manifest { table, .. } => format!("{table} key `{key}`"),
            Origin::Env { var } => format!("environment variable {var}"),
            Origin::Flag { flag } => format!("flag {flag}"),
        }
    }
}

impl fmt::Display for Origin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Origin::Manifest { path, table } => write!(f, "{} {table}", path.display()),
            Origin::Env { var } => write!(f, "environment variable {var}"),
            Origin::Flag { flag } => write!(f, "command-line flag {flag}"),
        }
    }
}

/// A setting that cannot be used, with where it was written and what is allowed.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ConfigError {
    #[error("{path}: unknown key `{key}` in {table}{hint}; allowed keys: {allowed}", path = path.display(), hint = did_you_mean(key))]
    UnknownKey {
        path: PathBuf,
        table: String,
        key: String,
        allowed: String,
    },
    #[error("{location}: bad value {found}; expected {expected}")]
    BadValue {
        /// `Cargo.toml: [package.metadata.joule] key `trials``, `flag --trials`…
        location: String,
        key: String,
        found: String,
        expected: String,
    },
    #[error("{path}: {table} must be a table of settings, found {found}", path = path.display())]
    NotATable {
        path: PathBuf,
        table: String,
        found: String,
    },
    #[error(
        "`{key}` is set to different values by {first} and {second}; the packages of one run share \
         one setting: set it once in [workspace.metadata.joule] or with a command-line flag"
    )]
    Conflict {
        key: String,
        first: String,
        second: String,
    },
    #[error("{0}")]
    Inconsistent(String),
}

/// `; did you mean `trials`?` for a key one typo away from a known one, else nothing.
fn did_you_mean(key: &str) -> String {
    super::suggest::closest(&key.replace('-', "_"), KEYS.iter().copied())
        .map(|k| format!("; did you mean `{k}`?"))
        .unwrap_or_default()
}

/// How a key's value is read.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Kind {
    Meter,
    Cores,
    /// An integer ≥ 1.
    Count,
    /// An integer ≥ 0.
    Count0,
    U64,
    /// A duration above zero.
    Duration,
    /// A duration, where zero turns the feature off (`settle_timeout = "0s"`).
    Duration0,
    /// A fraction in (0, 1), written `0.05` or `"5%"`.
    Fraction,
    /// A confidence level in [0.5, 1).
    Level,
    MemoryLimit,
    Bool,
    Watts,
    /// A file or directory path (host keys only).
    Path,
    Sandbox,
    Uid,
}

impl Kind {
    fn expected(self) -> &'static str {
        match self {
            Kind::Meter => {
                "one of \"auto\", \"perf\", \"powercap\", \"msr\", \"estimate\", \"nvml\""
            }
            Kind::Cores => "\"all\" or a CPU list such as \"0,2-3\" (or an array of CPU numbers)",
            Kind::Count => "a whole number ≥ 1",
            Kind::Count0 => "a whole number ≥ 0",
            Kind::U64 => "a whole number",
            Kind::Duration => "a duration such as \"100ms\", \"2s\" or \"1m 30s\"",
            Kind::Duration0 => "a duration such as \"2s\" or \"1m 30s\", or \"0s\" to turn it off",
            Kind::Fraction => {
                "a percentage such as \"5%\" or a fraction such as 0.05, above 0 and below 100%"
            }
            Kind::Level => {
                "a confidence level such as 0.95 or \"95%\", at least 50% and below 100%"
            }
            Kind::MemoryLimit => "a limit in MiB (a whole number ≥ 1) or \"none\"",
            Kind::Bool => "true or false",
            Kind::Watts => "a power in watts, a number above 0",
            Kind::Path => "a non-empty path",
            Kind::Sandbox => crate::pool::sandbox::SandboxMode::NAMES,
            Kind::Uid => "a numeric user id, 1 to 4294967294 (not 0: the point is to drop root)",
        }
    }
}

/// Every key a configuration source may set, with how its value is read.
///
/// `trials` is the minimum number of measured samples per case (more are taken, up to
/// `max_trials`, until the interval reaches `target_ci` or the `time_budget` is spent).
pub const KEYS: &[&str] = &[
    "meter",
    "cores",
    "trials",
    "max_trials",
    "warmup",
    "min_sample_time",
    "target_ci",
    "time_budget",
    "timeout",
    "memory_limit_mb",
    "threshold",
    "isolate_network",
    "confidence_level",
    "bootstrap_resamples",
    "seed",
    "estimate_watts_per_core",
    "idle_window",
    "idle_every",
    "wait_for_lock",
    "history",
    "settle_timeout",
    "lock_path",
    "sysfs_root",
    // The sandbox (pool/sandbox, docs/sandbox.md).
    "sandbox",
    "sandbox_uid",
    "sandbox_max_processes",
    // Builds of Rust source submissions (rust_source, docs/rust-candidates.md).
    "build_cache",
    "build_cache_limit_mb",
    "build_timeout",
    "build_memory_limit_mb",
    "build_output_limit_kb",
];

fn kind_of(key: &str) -> Option<Kind> {
    Some(match key {
        "meter" => Kind::Meter,
        "cores" => Kind::Cores,
        "trials" | "max_trials" | "bootstrap_resamples" => Kind::Count,
        "warmup" => Kind::Count0,
        "seed" => Kind::U64,
        "min_sample_time" | "time_budget" | "timeout" | "idle_window" | "idle_every" => {
            Kind::Duration
        }
        // Zero means "do not wait for the CPU to cool", as the guide says.
        "settle_timeout" => Kind::Duration0,
        "target_ci" | "threshold" => Kind::Fraction,
        "confidence_level" => Kind::Level,
        "memory_limit_mb" => Kind::MemoryLimit,
        "isolate_network" | "wait_for_lock" | "history" => Kind::Bool,
        "estimate_watts_per_core" => Kind::Watts,
        "lock_path" | "sysfs_root" => Kind::Path,
        "sandbox" => Kind::Sandbox,
        "sandbox_uid" => Kind::Uid,
        "sandbox_max_processes" => Kind::Count,
        "build_cache" => Kind::Path,
        "build_cache_limit_mb" | "build_memory_limit_mb" | "build_output_limit_kb" => Kind::Count,
        "build_timeout" => Kind::Duration,
        _ => return None,
    })
}

/// A parsed value.
#[derive(Clone, Debug, PartialEq)]
enum Setting {
    Meter(MeterChoice),
    Cores(CoreSelection),
    Count(u32),
    U64(u64),
    Duration(Duration),
    Number(f64),
    MemoryLimit(Option<u64>),
    Bool(bool),
    Path(PathBuf),
    Sandbox(crate::pool::sandbox::SandboxMode),
    Uid(u32),
}

#[derive(Clone, Debug, PartialEq)]
struct Entry {
    setting: Setting,
    origin: Origin,
}

/// The settings of one source, already checked.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Layer {
    entries: BTreeMap<&'static str, Entry>,
}

impl Layer {
    pub fn new() -> Layer {
        Layer::default()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// The `joule` table of a manifest's metadata (`metadata.joule` as cargo_metadata gives it;
    /// `Value::Null` when the manifest has none).
    pub fn from_table(table: &Value, origin: Origin) -> Result<Layer, ConfigError> {
        let mut layer = Layer::new();
        let map = match table {
            Value::Null => return Ok(layer),
            Value::Object(map) => map,
            other => {
                let (path, table) = manifest_parts(&origin);
                return Err(ConfigError::NotATable {
                    path,
                    table,
                    found: describe(other),
                });
            }
        };
        for (key, value) in map {
            let canonical = key.replace('-', "_");
            if kind_of(&canonical).is_none() {
                let (path, table) = manifest_parts(&origin);
                return Err(ConfigError::UnknownKey {
                    path,
                    table,
                    key: key.clone(),
                    allowed: KEYS.join(", "),
                });
            }
            layer.set(&canonical, value, origin.clone())?;
        }
        Ok(layer)
    }

    /// `JOULETRACE_<KEY>` variables (`JOULETRACE_MIN_SAMPLE_TIME=200ms`) from `vars`, usually
    /// `std::env::vars()`. Other variables, including other `JOULETRACE_*` ones, are not settings
    /// and are ignored.
    pub fn from_env(
        vars: impl IntoIterator<Item = (String, String)>,
    ) -> Result<Layer, ConfigError> {
        let mut layer = Layer::new();
        let wanted: BTreeMap<String, &str> = KEYS
            .iter()
            .map(|k| (format!("JOULETRACE_{}", k.to_ascii_uppercase()), *k))
            .collect();
        for (var, value) in vars {
            if let Some(key) = wanted.get(&var) {
                layer.set(key, &Value::String(value), Origin::Env { var })?;
            }
        }
        Ok(layer)
    }

    /// Sets `key` from a command-line flag's text.
    pub fn set_flag(&mut self, key: &str, text: &str, flag: &str) -> Result<(), ConfigError> {
        self.set(
            key,
            &Value::String(text.to_owned()),
            Origin::Flag {
                flag: flag.to_owned(),
            },
        )
    }

    /// Checks and records one setting. `key` must be one of [`KEYS`].
    pub fn set(&mut self, key: &str, value: &Value, origin: Origin) -> Result<(), ConfigError> {
        let (name, kind) = KEYS
            .iter()
            .find(|k| **k == key)
            .and_then(|k| kind_of(k).map(|kind| (*k, kind)))
            .ok_or_else(|| ConfigError::Inconsistent(format!("`{key}` is not a setting")))?;
        let setting = parse(kind, value).ok_or_else(|| ConfigError::BadValue {
            location: match &origin {
                Origin::Manifest { path, .. } => {
                    format!("{}: {}", path.display(), origin.key_display(name))
                }
                _ => origin.key_display(name),
            },
            key: name.to_owned(),
            found: describe(value),
            expected: kind.expected().to_owned(),
        })?;
        self.entries.insert(name, Entry { setting, origin });
        Ok(())
    }

    /// Combines the layers of sources of equal rank (the `[package.metadata.joule]` tables of the
    /// packages in one run): the same key set to different values is a conflict.
    pub fn combine(layers: impl IntoIterator<Item = Layer>) -> Result<Layer, ConfigError> {
        let mut out = Layer::new();
        for layer in layers {
            for (key, entry) in layer.entries {
                match out.entries.get(key) {
                    Some(prev) if prev.setting != entry.setting => {
                        return Err(ConfigError::Conflict {
                            key: key.to_owned(),
                            first: prev.origin.to_string(),
                            second: entry.origin.to_string(),
                        });
                    }
                    Some(_) => {}
                    None => {
                        out.entries.insert(key, entry);
                    }
                }
            }
        }
        Ok(out)
    }

    /// Writes this layer's settings over `config`.
    pub fn apply(&self, config: &mut RunConfig) {
        for (key, entry) in &self.entries {
            match (*key, &entry.setting) {
                ("meter", Setting::Meter(m)) => config.meter = *m,
                ("cores", Setting::Cores(c)) => config.cores = c.clone(),
                ("trials", Setting::Count(n)) => config.min_trials = *n,
                ("max_trials", Setting::Count(n)) => config.max_trials = *n,
                ("warmup", Setting::Count(n)) => config.warmup = *n,
                ("bootstrap_resamples", Setting::Count(n)) => config.bootstrap_resamples = *n,
                ("seed", Setting::U64(n)) => config.seed = *n,
                ("min_sample_time", Setting::Duration(d)) => config.min_sample_time = *d,
                ("time_budget", Setting::Duration(d)) => config.time_budget = *d,
                ("timeout", Setting::Duration(d)) => config.timeout = *d,
                ("idle_window", Setting::Duration(d)) => config.idle_window = *d,
                ("idle_every", Setting::Duration(d)) => config.idle_every = *d,
                ("settle_timeout", Setting::Duration(d)) => config.settle_timeout = *d,
                ("target_ci", Setting::Number(x)) => config.target_ci = *x,
                ("threshold", Setting::Number(x)) => config.threshold = *x,
                ("confidence_level", Setting::Number(x)) => config.confidence_level = *x,
                ("estimate_watts_per_core", Setting::Number(x)) => {
                    config.estimate_watts_per_core = *x
                }
                ("memory_limit_mb", Setting::MemoryLimit(m)) => config.memory_limit_mb = *m,
                ("isolate_network", Setting::Bool(b)) => config.isolate_network = *b,
                ("wait_for_lock", Setting::Bool(b)) => config.wait_for_lock = *b,
                ("history", Setting::Bool(b)) => config.history = *b,
                // Host keys: see `apply_host`.
                ("lock_path" | "sysfs_root", _) => {}
                ("sandbox", Setting::Sandbox(m)) => config.sandbox.mode = *m,
                ("sandbox_uid", Setting::Uid(n)) => {
                    config.sandbox.uid = *n;
                    config.sandbox.gid = *n;
                }
                ("sandbox_max_processes", Setting::Count(n)) => {
                    config.sandbox.max_processes = u64::from(*n)
                }
                ("build_cache", Setting::Path(p)) => config.build.cache_dir = Some(p.clone()),
                ("build_cache_limit_mb", Setting::Count(n)) => {
                    config.build.cache_limit_bytes = u64::from(*n) << 20
                }
                ("build_timeout", Setting::Duration(d)) => config.build.timeout = *d,
                ("build_memory_limit_mb", Setting::Count(n)) => {
                    config.build.memory_limit_bytes = u64::from(*n) << 20
                }
                ("build_output_limit_kb", Setting::Count(n)) => {
                    config.build.output_limit_bytes = u64::from(*n) << 10
                }
                // `set` only stores the setting its key's kind produces.
                (key, setting) => unreachable!("setting {setting:?} stored for key {key}"),
            }
        }
    }

    /// Writes this layer's host settings (`lock_path`, `sysfs_root`) over `host`.
    pub fn apply_host(&self, host: &mut HostConfig) {
        for (key, entry) in &self.entries {
            match (*key, &entry.setting) {
                ("lock_path", Setting::Path(p)) => host.lock_path = p.clone(),
                ("sysfs_root", Setting::Path(p)) => host.sysfs_root = p.clone(),
                _ => {}
            }
        }
    }

    /// Where `key` was set in this layer, if it was.
    pub fn origin_of(&self, key: &str) -> Option<&Origin> {
        self.entries.get(key).map(|e| &e.origin)
    }
}

/// Layers `layers` (lowest precedence first) over the defaults, and checks that the result holds
/// together (`trials` ≤ `max_trials`).
pub fn layered(layers: &[&Layer]) -> Result<RunConfig, ConfigError> {
    let mut config = RunConfig::default();
    for layer in layers {
        layer.apply(&mut config);
    }
    if config.min_trials > config.max_trials {
        let origin = |key: &str| {
            layers
                .iter()
                .rev()
                .find_map(|l| l.origin_of(key))
                .map_or_else(|| "the default".to_owned(), ToString::to_string)
        };
        return Err(ConfigError::Inconsistent(format!(
            "`trials` ({}, from {}) is larger than `max_trials` ({}, from {}); trials is the \
             minimum number of samples and must not exceed max_trials",
            config.min_trials,
            origin("trials"),
            config.max_trials,
            origin("max_trials"),
        )));
    }
    Ok(config)
}

/// Layers `layers` (lowest precedence first) over the host defaults.
pub fn host_layered(layers: &[&Layer]) -> HostConfig {
    let mut host = HostConfig::default();
    for layer in layers {
        layer.apply_host(&mut host);
    }
    host
}

fn manifest_parts(origin: &Origin) -> (PathBuf, String) {
    match origin {
        Origin::Manifest { path, table } => (path.clone(), table.clone()),
        other => (PathBuf::from(other.to_string()), String::new()),
    }
}

fn describe(value: &Value) -> String {
    match value {
        Value::String(s) => format!("\"{s}\""),
        Value::Object(_) => "a table".to_owned(),
        other => other.to_string(),
    }
}

fn parse(kind: Kind, value: &Value) -> Option<Setting> {
    let text = value.as_str().map(str::trim);
    match kind {
        Kind::Meter => {
            let choice = match text? {
                "auto" => MeterChoice::Auto,
                "perf" => MeterChoice::Forced(Backend::Perf),
                "powercap" => MeterChoice::Forced(Backend::Powercap),
                "msr" => MeterChoice::Forced(Backend::Msr),
                "estimate" => MeterChoice::Forced(Backend::Estimate),
                "nvml" => MeterChoice::Forced(Backend::Nvml),
                _ => return None,
            };
            Some(Setting::Meter(choice))
        }
        Kind::Cores => match value {
            Value::Array(items) => {
                let cpus: Option<Vec<u32>> = items
                    .iter()
                    .map(|v| v.as_u64().and_then(|n| u32::try_from(n).ok()))
                    .collect();
                let mut cpus = cpus.filter(|c| !c.is_empty())?;
                cpus.sort_unstable();
                cpus.dedup();
                Some(Setting::Cores(CoreSelection::List(cpus)))
            }
            _ => match text? {
                "all" => Some(Setting::Cores(CoreSelection::AllPhysical)),
                list => parse_cpu_list(list).map(|c| Setting::Cores(CoreSelection::List(c))),
            },
        },
        Kind::Count | Kind::Count0 => {
            let n = integer(value)?;
            let n = u32::try_from(n).ok()?;
            (kind == Kind::Count0 || n >= 1).then_some(Setting::Count(n))
        }
        Kind::U64 => integer(value).map(Setting::U64),
        Kind::Sandbox => crate::pool::sandbox::SandboxMode::parse(text?).map(Setting::Sandbox),
        Kind::Uid => integer(value)
            .and_then(|n| u32::try_from(n).ok())
            .filter(|n| *n != 0 && *n != u32::MAX)
            .map(Setting::Uid),
        Kind::Duration | Kind::Duration0 => humantime::parse_duration(text?)
            .ok()
            .filter(|d| kind == Kind::Duration0 || !d.is_zero())
            .map(Setting::Duration),
        Kind::Fraction => fraction(value)
            .filter(|x| *x > 0.0 && *x < 1.0)
            .map(Setting::Number),
        Kind::Level => fraction(value)
            .filter(|x| *x >= 0.5 && *x < 1.0)
            .map(Setting::Number),
        Kind::MemoryLimit => match text {
            Some("none") => Some(Setting::MemoryLimit(None)),
            _ => integer(value)
                .filter(|n| *n >= 1)
                .map(|n| Setting::MemoryLimit(Some(n))),
        },
        Kind::Bool => match (value, text) {
            (Value::Bool(b), _) => Some(Setting::Bool(*b)),
            (_, Some("true" | "1" | "yes")) => Some(Setting::Bool(true)),
            (_, Some("false" | "0" | "no")) => Some(Setting::Bool(false)),
            _ => None,
        },
        Kind::Watts => number(value)
            .filter(|w| w.is_finite() && *w > 0.0)
            .map(Setting::Number),
        Kind::Path => text
            .filter(|t| !t.is_empty())
            .map(|t| Setting::Path(PathBuf::from(t))),
    }
}

fn integer(value: &Value) -> Option<u64> {
    match value {
        Value::Number(n) => n.as_u64(),
        Value::String(s) => s.trim().parse().ok(),
        _ => None,
    }
}

fn number(value: &Value) -> Option<f64> {
    match value {
        Value::Number(n) => n.as_f64(),
        Value::String(s) => s.trim().parse().ok(),
        _ => None,
    }
}

/// `"5%"` → 0.05; `0.05` or `"0.05"` → 0.05. A bare number of 1 or more is refused rather than
/// guessed at: `threshold = 5` could mean 5% or 500%.
fn fraction(value: &Value) -> Option<f64> {
    let x = match value.as_str().map(str::trim) {
        Some(s) if s.ends_with('%') => s[..s.len() - 1].trim().parse::<f64>().ok()? / 100.0,
        _ => number(value)?,
    };
    x.is_finite().then_some(x)
}

/// `0,2-3` → [0, 2, 3], sorted, without duplicates.
fn parse_cpu_list(text: &str) -> Option<Vec<u32>> {
    let mut cpus = Vec::new();
    for part in text.split(',') {
        let part = part.trim();
        match part.split_once('-') {
            Some((a, b)) => {
                let (a, b): (u32, u32) = (a.trim().parse().ok()?, b.trim().parse().ok()?);
                if a > b {
                    return None;
                }
                cpus.extend(a..=b);
            }
            None => cpus.push(part.parse().ok()?),
        }
    }
    cpus.sort_unstable();
    cpus.dedup();
    (!cpus.is_empty()).then_some(cpus)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn ws() -> Origin {
        Origin::workspace("/proj/Cargo.toml")
    }

    #[test]
    fn layers_override_in_order() {
        let workspace = Layer::from_table(
            &json!({"trials": 7, "threshold": "3%", "meter": "estimate", "min-sample-time": "250ms"}),
            ws(),
        )
        .unwrap();
        let package = Layer::from_table(
            &json!({"trials": 9, "cores": "0,2-3"}),
            Origin::package("/proj/a/Cargo.toml"),
        )
        .unwrap();
        let env = Layer::from_env([
            ("JOULETRACE_THRESHOLD".to_owned(), "0.1".to_owned()),
            ("JOULETRACE_PROTOCOL_FD".to_owned(), "3".to_owned()),
            ("PATH".to_owned(), "/bin".to_owned()),
        ])
        .unwrap();
        let mut flags = Layer::new();
        flags.set_flag("trials", "11", "--trials").unwrap();
        let config = layered(&[&workspace, &package, &env, &flags]).unwrap();
        assert_eq!(config.min_trials, 11);
        assert_eq!(config.threshold, 0.1);
        assert_eq!(config.meter, MeterChoice::Forced(Backend::Estimate));
        assert_eq!(config.min_sample_time, Duration::from_millis(250));
        assert_eq!(config.cores, CoreSelection::List(vec![0, 2, 3]));
        // Untouched keys keep their defaults.
        assert_eq!(config.max_trials, RunConfig::default().max_trials);
    }

    #[test]
    fn settle_timeout_zero_turns_the_cooling_wait_off() {
        // The guide: `settle_timeout = "0s"` turns the wait off. Other durations stay above 0.
        let off = Layer::from_table(&json!({"settle_timeout": "0s"}), ws()).unwrap();
        assert_eq!(layered(&[&off]).unwrap().settle_timeout, Duration::ZERO);
        let env =
            Layer::from_env([("JOULETRACE_SETTLE_TIMEOUT".to_owned(), "0s".to_owned())]).unwrap();
        assert_eq!(layered(&[&env]).unwrap().settle_timeout, Duration::ZERO);
        let msg = Layer::from_table(&json!({"idle_window": "0s"}), ws())
            .unwrap_err()
            .to_string();
        assert!(msg.contains("`idle_window`"), "{msg}");
        let msg = Layer::from_table(&json!({"settle_timeout": "soon"}), ws())
            .unwrap_err()
            .to_string();
        assert!(
            msg.contains("`settle_timeout`") && msg.contains("\"0s\""),
            "{msg}"
        );
    }

    #[test]
    fn unknown_key_names_file_table_key_and_allowed_keys() {
        let err = Layer::from_table(&json!({"trails": 3}), ws()).unwrap_err();
        let msg = err.to_string();
        assert!(msg.contains("/proj/Cargo.toml"), "{msg}");
        assert!(msg.contains("[workspace.metadata.joule]"), "{msg}");
        assert!(msg.contains("`trails`"), "{msg}");
        assert!(msg.contains("trials, max_trials"), "{msg}");
        // Issue 12: a typo gets the key it most likely meant.
        assert!(msg.contains("did you mean `trials`?"), "{msg}");
        let far = Layer::from_table(&json!({"colour": true}), ws()).unwrap_err();
        assert!(!far.to_string().contains("did you mean"), "{far}");
    }

    #[test]
    fn bad_values_name_the_key_and_what_is_allowed() {
        let cases = [
            (json!({"meter": "rapl"}), "`meter`", "\"perf\""),
            (json!({"trials": 0}), "`trials`", "≥ 1"),
            (json!({"threshold": 5}), "`threshold`", "\"5%\""),
            (json!({"timeout": 10}), "`timeout`", "\"2s\""),
            (json!({"cores": "3-1"}), "`cores`", "\"0,2-3\""),
            (
                json!({"memory_limit_mb": "lots"}),
                "`memory_limit_mb`",
                "\"none\"",
            ),
            (
                json!({"isolate_network": "maybe"}),
                "`isolate_network`",
                "true or false",
            ),
        ];
        for (table, key, allowed) in cases {
            let msg = Layer::from_table(&table, Origin::package("/p/Cargo.toml"))
                .unwrap_err()
                .to_string();
            assert!(
                msg.starts_with("/p/Cargo.toml: [package.metadata.joule] key"),
                "{msg}"
            );
            assert!(msg.contains(key) && msg.contains(allowed), "{msg}");
        }
        let msg = Layer::from_env([("JOULETRACE_WARMUP".into(), "-1".into())])
            .unwrap_err()
            .to_string();
        assert!(
            msg.contains("JOULETRACE_WARMUP") && msg.contains("≥ 0"),
            "{msg}"
        );
        let msg = Layer::new()
            .set_flag("threshold", "150%", "--threshold")
            .unwrap_err();
        assert!(msg.to_string().contains("flag --threshold"), "{msg}");
    }

    #[test]
    fn non_table_metadata_is_refused() {
        let err = Layer::from_table(&json!("fast"), ws()).unwrap_err();
        assert!(matches!(err, ConfigError::NotATable { .. }), "{err}");
    }

    #[test]
    fn packages_that_disagree_conflict_and_agreeing_ones_do_not() {
        let a = Layer::from_table(
            &json!({"meter": "perf", "trials": 5}),
            Origin::package("/a/Cargo.toml"),
        )
        .unwrap();
        let b = Layer::from_table(&json!({"trials": 5}), Origin::package("/b/Cargo.toml")).unwrap();
        let c = Layer::from_table(
            &json!({"meter": "estimate"}),
            Origin::package("/c/Cargo.toml"),
        )
        .unwrap();
        assert!(Layer::combine([a.clone(), b]).is_ok());
        let msg = Layer::combine([a, c]).unwrap_err().to_string();
        assert!(
            msg.contains("`meter`")
                && msg.contains("/a/Cargo.toml")
                && msg.contains("/c/Cargo.toml"),
            "{msg}"
        );
    }

    #[test]
    fn trials_above_max_trials_is_inconsistent() {
        let mut flags = Layer::new();
        flags.set_flag("trials", "50", "--trials").unwrap();
        let msg = layered(&[&flags]).unwrap_err().to_string();
        assert!(
            msg.contains("--trials") && msg.contains("max_trials"),
            "{msg}"
        );
    }

    #[test]
    fn value_forms() {
        assert_eq!(parse_cpu_list("3, 0-1,1"), Some(vec![0, 1, 3]));
        assert_eq!(fraction(&json!("2.5%")), Some(0.025));
        assert_eq!(
            parse(Kind::MemoryLimit, &json!("none")),
            Some(Setting::MemoryLimit(None))
        );
        assert_eq!(
            parse(Kind::Cores, &json!([2, 0])),
            Some(Setting::Cores(CoreSelection::List(vec![0, 2])))
        );
        assert_eq!(
            parse(Kind::Level, &json!("99%")),
            Some(Setting::Number(0.99))
        );
        assert_eq!(parse(Kind::Duration, &json!("0s")), None);
        assert_eq!(
            parse(Kind::Duration0, &json!("0s")),
            Some(Setting::Duration(Duration::ZERO))
        );
    }
}
