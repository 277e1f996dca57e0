//! The host's identity and its host class.
//!
//! Why a class and not the identity: two results are comparable when the same kind of CPU ran
//! them with the same meter (same backend, same primary domain, same provenance) and the same
//! frequency settings (governor, turbo), with candidates confined by the same sandbox level
//! (seccomp, Landlock and namespaces cost time on every system call a candidate makes, so a
//! sandboxed and an unsandboxed host do not measure the same work) — the rule `cargo joule
//! compare` applies, plus the sandbox. Hostname,
//! kernel and microcode are recorded on every result but do not split classes: a fleet of
//! identical machines is one class even when one reboots into a newer kernel (a reader who
//! suspects the kernel can still split by it, it is on every result).

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::host::HostInfo;

/// What an agent says about its host when it registers, and what every result it writes names.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct HostIdentity {
    pub hostname: Option<String>,
    pub cpu_model: Option<String>,
    pub cpu_vendor: Option<String>,
    /// `microcode` of the first CPU in /proc/cpuinfo (absent in many VMs).
    pub microcode: Option<String>,
    pub kernel: Option<String>,
    pub logical_cpus: u32,
    pub physical_cores: u32,
    /// `perf`, `powercap`, `msr`, `estimate`, or `unavailable`.
    pub meter: String,
    /// `measured` or `estimated` (absent when no meter opened).
    pub provenance: Option<String>,
    pub primary_domain: Option<String>,
    pub domains: Vec<String>,
    /// Why no meter opened, when none did.
    pub meter_unavailable_reason: Option<String>,
    pub governor: Option<String>,
    pub turbo: Option<bool>,
    pub virtualized: Option<bool>,
    /// The sandbox level candidates get here (`full`, `partial`, `off`, and to whom it applies),
    /// from the same probe and configuration the engine uses; `None` if the configuration in
    /// the environment is invalid (then jobs fail and say why).
    pub sandbox_level: Option<String>,
    /// The CPUs this agent's jobs run on (its `--cpus`, or every CPU).
    pub cpus: Vec<u32>,
}

/// The comparability class of a host: a readable label and a short stable id.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct HostClass {
    /// `hc-` and 12 hex digits of the label's SHA-256.
    pub id: String,
    /// `<CPU model> | <meter>/<primary domain> (<provenance>) | governor <g>, turbo <on|off> |
    /// sandbox <level>`.
    pub label: String,
}

impl HostIdentity {
    /// The identity of this host, from the probe the server already made.
    pub fn of(host: &HostInfo, cpus: Vec<u32>) -> HostIdentity {
        let env = &host.environment;
        let meter = host.meter.as_ref().ok();
        HostIdentity {
            hostname: env.hostname.clone(),
            cpu_model: env.cpu_model.clone(),
            cpu_vendor: env.cpu_vendor.clone(),
            microcode: microcode(),
            kernel: env.kernel.clone(),
            logical_cpus: env.logical_cpus,
            physical_cores: env.physical_cores,
            meter: meter.map_or("unavailable".to_owned(), |m| {
                serde_json::to_value(m.backend)
                    .ok()
                    .and_then(|v| v.as_str().map(str::to_owned))
                    .unwrap_or_else(|| format!("{:?}", m.backend).to_lowercase())
            }),
            provenance: meter.map(|m| {
                if m.estimated {
                    "estimated".to_owned()
                } else {
                    "measured".to_owned()
                }
            }),
            primary_domain: meter.map(|m| m.primary_domain.clone()),
            domains: meter.map_or_else(Vec::new, |m| {
                m.domains.iter().map(|d| d.id.clone()).collect()
            }),
            meter_unavailable_reason: host.meter.as_ref().err().cloned(),
            governor: env.governor.clone(),
            turbo: env.turbo,
            virtualized: env.virtualized,
            sandbox_level: sandbox_level(),
            cpus,
        }
    }

    pub fn class(&self) -> HostClass {
        let or = |v: &Option<String>, none: &str| v.clone().unwrap_or_else(|| none.to_owned());
        let label = format!(
            "{} | {}/{} ({}) | governor {}, turbo {} | sandbox {}",
            or(&self.cpu_model, "unknown CPU"),
            self.meter,
            or(&self.primary_domain, "-"),
            or(&self.provenance, "no meter"),
            or(&self.governor, "unknown"),
            match self.turbo {
                Some(true) => "on",
                Some(false) => "off",
                None => "unknown",
            },
            // `None` is a configuration the engine refuses: its jobs fail, so no number from
            // such a host is ever ranked; it still gets a class of its own.
            or(&self.sandbox_level, "unknown"),
        );
        let digest = Sha256::digest(label.as_bytes());
        let hex: String = digest.iter().take(6).map(|b| format!("{b:02x}")).collect();
        HostClass {
            id: format!("hc-{hex}"),
            label,
        }
    }
}

/// What the engine's sandbox would be for a job (Python candidates are untrusted targets).
fn sandbox_level() -> Option<String> {
    use jouletrace::config::{Layer, layered};
    use jouletrace::pool::sandbox::Sandbox;
    let env = Layer::from_env(std::env::vars()).ok()?;
    let config = layered(&[&env]).ok()?;
    let level = Sandbox::probed(config.sandbox).level(true);
    Some(format!("{} ({})", level.level, level.applies_to))
}

fn microcode() -> Option<String> {
    let text = std::fs::read_to_string("/proc/cpuinfo").ok()?;
    parse_microcode(&text)
}

fn parse_microcode(cpuinfo: &str) -> Option<String> {
    cpuinfo
        .lines()
        .find(|l| l.starts_with("microcode"))
        .and_then(|l| l.split_once(':'))
        .map(|(_, v)| v.trim().to_owned())
}

/// The CPUs this process may run on (its affinity mask).
pub fn allowed_cpus() -> Vec<u32> {
    match nix::sched::sched_getaffinity(nix::unistd::Pid::from_raw(0)) {
        Ok(set) => (0..nix::sched::CpuSet::count())
            .filter(|&c| set.is_set(c).unwrap_or(false))
            .filter_map(|c| u32::try_from(c).ok())
            .collect(),
        Err(_) => Vec::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ident() -> HostIdentity {
        HostIdentity {
            hostname: Some("a".into()),
            cpu_model: Some("AMD EPYC 7763".into()),
            cpu_vendor: Some("AuthenticAMD".into()),
            microcode: Some("0xa0011d1".into()),
            kernel: Some("6.1.0".into()),
            logical_cpus: 8,
            physical_cores: 4,
            meter: "perf".into(),
            provenance: Some("measured".into()),
            primary_domain: Some("package-0".into()),
            domains: vec!["package-0".into()],
            meter_unavailable_reason: None,
            governor: Some("performance".into()),
            turbo: Some(false),
            virtualized: Some(false),
            sandbox_level: None,
            cpus: vec![0, 1],
        }
    }

    #[test]
    fn class_ignores_hostname_kernel_and_microcode() {
        let a = ident();
        let b = HostIdentity {
            hostname: Some("b".into()),
            kernel: Some("6.8.0".into()),
            microcode: Some("0xa0011d5".into()),
            cpus: vec![2, 3],
            ..ident()
        };
        assert_eq!(a.class(), b.class());
        assert!(a.class().id.starts_with("hc-") && a.class().id.len() == 15);
    }

    #[test]
    fn class_splits_on_meter_and_frequency_settings() {
        let a = ident().class();
        for other in [
            HostIdentity {
                turbo: Some(true),
                ..ident()
            },
            HostIdentity {
                governor: Some("powersave".into()),
                ..ident()
            },
            HostIdentity {
                meter: "estimate".into(),
                provenance: Some("estimated".into()),
                ..ident()
            },
            HostIdentity {
                cpu_model: Some("Intel Xeon Gold 6338".into()),
                ..ident()
            },
            HostIdentity {
                sandbox_level: Some("full (untrusted targets)".into()),
                ..ident()
            },
        ] {
            assert_ne!(a, other.class(), "{}", other.class().label);
        }
    }

    #[test]
    fn sandbox_level_splits_classes() {
        let full = HostIdentity {
            sandbox_level: Some("full (untrusted targets)".into()),
            ..ident()
        };
        let off = HostIdentity {
            sandbox_level: Some("off (untrusted targets)".into()),
            ..ident()
        };
        assert_ne!(full.class().id, off.class().id);
        assert!(
            full.class()
                .label
                .ends_with("| sandbox full (untrusted targets)")
        );
    }

    #[test]
    fn microcode_is_read_from_cpuinfo() {
        let text = "processor\t: 0\nmicrocode\t: 0xffffffff\ncpu MHz\t\t: 2000\n";
        assert_eq!(parse_microcode(text).as_deref(), Some("0xffffffff"));
        assert_eq!(parse_microcode("processor : 0\n"), None);
    }
}
