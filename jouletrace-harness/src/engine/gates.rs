//! Optional gates, where the machine exposes what they need: warnings about frequency scaling,
//! and a wait for the CPU to cool back to its idle temperature between measured jobs.
//!
//! Energy per call depends on frequency (a higher clock burns more per cycle) and on
//! temperature (leakage grows with it), so a candidate measured right after a hot one pays for
//! its heat. Where no sensor or cpufreq exists (most VMs), the gates do nothing and say nothing.

use std::time::{Duration, Instant};

use crate::engine::CancelToken;
use crate::platform::temperature_sensors;
use crate::results::Environment;
use crate::sysfs::Sysfs;

/// How far above its idle value the temperature may be when a measured job starts.
const SETTLE_MARGIN_C: f64 = 3.0;

/// Warnings about the frequency settings of the measured CPUs.
pub fn frequency_warnings(env: &Environment) -> Vec<String> {
    let mut out = Vec::new();
    if let Some(g) = env.governor.as_deref().filter(|g| *g != "performance") {
        out.push(format!(
            "the CPU frequency governor is `{g}`, not `performance`: the clock (and energy per \
             call) moves with load; `sudo cpupower frequency-set -g performance` pins it"
        ));
    }
    if env.turbo == Some(true) {
        out.push(
            "turbo/boost is on: energy per call depends on temperature and on how long the \
             package has been busy; turn it off for comparable numbers"
                .to_owned(),
        );
    }
    out
}

/// The hottest sensor, in °C.
fn hottest(sys: &Sysfs) -> Option<f64> {
    temperature_sensors(sys)
        .into_iter()
        .filter_map(|s| s.celsius)
        .max_by(f64::total_cmp)
}

pub struct Thermal {
    sys: Sysfs,
    idle_c: Option<f64>,
}

impl Thermal {
    /// Takes the idle temperature now (call it with every worker quiet).
    pub fn at_idle(sys: Sysfs) -> Thermal {
        let idle_c = hottest(&sys);
        Thermal { sys, idle_c }
    }

    /// Waits, up to `timeout`, until the temperature is back within the margin of idle.
    /// Returns how long it waited; `None` when there is nothing to wait for.
    pub fn settle(&self, timeout: Duration, cancel: &CancelToken) -> Option<Duration> {
        let idle = self.idle_c?;
        if timeout.is_zero() {
            return None;
        }
        let start = Instant::now();
        while hottest(&self.sys).is_some_and(|t| t > idle + SETTLE_MARGIN_C)
            && start.elapsed() < timeout
            && !cancel.is_cancelled()
        {
            std::thread::sleep(Duration::from_millis(100));
        }
        Some(start.elapsed())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn zone(root: &std::path::Path, milli_c: u32) {
        let dir = root.join("class/thermal/thermal_zone0");
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join("type"), "x86_pkg_temp\n").unwrap();
        std::fs::write(dir.join("temp"), format!("{milli_c}\n")).unwrap();
    }

    #[test]
    fn settle_waits_for_cooling_and_gives_up_at_the_timeout() {
        let dir = tempfile::tempdir().unwrap();
        zone(dir.path(), 40_000);
        let t = Thermal::at_idle(Sysfs::new(dir.path()));
        let cancel = CancelToken::new();
        assert!(t.settle(Duration::from_secs(5), &cancel).unwrap() < Duration::from_secs(1));
        zone(dir.path(), 60_000);
        let waited = t.settle(Duration::from_millis(300), &cancel).unwrap();
        assert!(
            waited >= Duration::from_millis(300),
            "still hot: waits the whole timeout"
        );
        let none = Thermal::at_idle(Sysfs::new(dir.path().join("nothing")));
        assert_eq!(
            none.settle(Duration::from_secs(5), &cancel),
            None,
            "no sensor, no gate"
        );
    }

    #[test]
    fn governor_and_turbo_warnings() {
        let env = Environment {
            governor: Some("powersave".into()),
            turbo: Some(true),
            ..Environment::default()
        };
        assert_eq!(frequency_warnings(&env).len(), 2);
        let quiet = Environment {
            governor: Some("performance".into()),
            turbo: Some(false),
            ..Environment::default()
        };
        assert!(frequency_warnings(&quiet).is_empty());
    }
}
