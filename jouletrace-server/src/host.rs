//! What this host is, probed once at start-up: its environment and the meter the engine would
//! choose (or why none is usable). `/health`, `/capabilities` and the dashboard read it.

use std::path::PathBuf;
use std::sync::OnceLock;

use jouletrace::config::MeterChoice;
use jouletrace::energy::estimate::DEFAULT_WATTS_PER_CORE;
use jouletrace::results::{Environment, MeterRecord};
use jouletrace::sysfs::Sysfs;

pub struct HostInfo {
    pub environment: Environment,
    /// The meter a job would get, or why no meter opened.
    pub meter: Result<MeterRecord, String>,
    pub memory_gb: Option<f64>,
}

static HOST: OnceLock<HostInfo> = OnceLock::new();

/// Probes the host (about 100 ms: the meter's busy probe). Call once at start-up, off the
/// async runtime.
pub fn probe() -> &'static HostInfo {
    HOST.get_or_init(|| {
        let sys = Sysfs::default();
        let environment = jouletrace::platform::probe_environment(&sys);
        let root = std::env::var_os("JOULETRACE_SYSFS_ROOT")
            .map(PathBuf::from)
            .unwrap_or_else(|| PathBuf::from("/sys"));
        let meter = jouletrace::energy::select(MeterChoice::Auto, &root, DEFAULT_WATTS_PER_CORE)
            .map(|s| s.record())
            .map_err(|u| match u.remedy {
                Some(r) => format!("{:?}: {} ({r})", u.backend, u.reason),
                None => format!("{:?}: {}", u.backend, u.reason),
            });
        HostInfo {
            environment,
            meter,
            memory_gb: memory_gb(),
        }
    })
}

pub fn get() -> &'static HostInfo {
    probe()
}

fn memory_gb() -> Option<f64> {
    let text = std::fs::read_to_string("/proc/meminfo").ok()?;
    let line = text.lines().find(|l| l.starts_with("MemAvailable:"))?;
    let kb: f64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some((kb / 1024.0 / 1024.0 * 100.0).round() / 100.0)
}

/// 1, 5 and 15 minute load averages (the predecessor's `cpu_percent` blocked for a second).
pub fn load_average() -> Option<[f64; 3]> {
    let text = std::fs::read_to_string("/proc/loadavg").ok()?;
    let mut it = text.split_whitespace().map(|w| w.parse::<f64>().ok());
    Some([it.next()??, it.next()??, it.next()??])
}
