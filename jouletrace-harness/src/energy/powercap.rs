//! RAPL through the powercap sysfs class: `class/powercap/intel-rapl:N[:M]/energy_uj`.
//!
//! Zones are named `package-N` (or `package-N-die-M`), `core`, `uncore`, `dram` and `psys`;
//! their ids after the colon are hexadecimal. `intel-rapl-mmio:N` zones repeat a package
//! through MMIO; they are used only for domains the MSR-backed zones lack. AMD machines use the
//! same `intel-rapl` names.
//!
//! `energy_uj` counts microjoules from 0 up to `max_energy_range_uj` and restarts at 0; one wrap
//! between two readings is corrected. Since Linux 5.10 (CVE-2020-8694, PLATYPUS) the file is
//! readable by root only, which is the commonest reason this backend is unavailable.
//!
//! Each reading re-opens the file: the kernel computes the value on `read`, and fake trees are
//! updated by rename, which an open descriptor would not see.

use std::io::Read;
use std::path::PathBuf;

use crate::energy::{
    Backend, Domain, DomainEnergy, DomainKind, Meter, MeterError, MeterInfo, Provenance,
    ReadFailure, Scaling, Scope, Snapshot, Unavailable, Wrap, energies, filter_domains,
    take_snapshot,
};
use crate::sysfs::{Sysfs, SysfsError};
use crate::topology::Topology;

const CLASS: &str = "class/powercap";

/// A zone found under `class/powercap`.
#[derive(Clone, Debug, PartialEq)]
pub struct Zone {
    /// Directory name, e.g. `intel-rapl:0:1`.
    pub dir: String,
    pub mmio: bool,
    /// Hexadecimal ids after the prefix: `[0]` for a top zone, `[0, 1]` for a subzone.
    pub ids: Vec<u32>,
    /// Contents of `name`.
    pub name: String,
}

/// Parses `intel-rapl:N` / `intel-rapl:N:M` / `intel-rapl-mmio:N` (ids in hex).
pub fn parse_zone_dir(dir: &str) -> Option<(bool, Vec<u32>)> {
    let (prefix, rest) = dir.split_once(':')?;
    let mmio = match prefix {
        "intel-rapl" => false,
        "intel-rapl-mmio" => true,
        _ => return None,
    };
    let ids = rest
        .split(':')
        .map(|h| u32::from_str_radix(h, 16).ok())
        .collect::<Option<Vec<u32>>>()?;
    (!ids.is_empty() && ids.len() <= 2).then_some((mmio, ids))
}

/// Lists RAPL zones, top zones first in id order, each followed by its subzones.
pub fn zones(sys: &Sysfs) -> Result<Vec<Zone>, SysfsError> {
    let mut zones = Vec::new();
    for dir in sys.list_dir(CLASS)? {
        let Some((mmio, ids)) = parse_zone_dir(&dir) else {
            continue;
        };
        let name = sys.read_string(format!("{CLASS}/{dir}/name"))?;
        zones.push(Zone {
            dir,
            mmio,
            ids,
            name,
        });
    }
    zones.sort_by(|a, b| (a.mmio, &a.ids).cmp(&(b.mmio, &b.ids)));
    Ok(zones)
}

/// Remedies for a root-only `energy_uj`.
pub const PERMISSION_REMEDY: &str = "run as root; or make energy_uj readable by a group with a udev rule \
     (ACTION==\"add\", SUBSYSTEM==\"powercap\", RUN+=\"/bin/chgrp power /sys%p/energy_uj\", \
     RUN+=\"/bin/chmod g+r /sys%p/energy_uj\") and add yourself to that group; \
     or use the perf backend (`--meter perf`), which needs perf_event_paranoid ≤ 0 or CAP_PERFMON";

/// Explains why `energy_uj` could not be read.
pub fn read_failure(err: &SysfsError) -> Unavailable {
    if err.is_permission_denied() {
        Unavailable::new(
            Backend::Powercap,
            format!(
                "{} is not readable: permission denied (energy_uj is readable by root only \
                 since Linux 5.10, CVE-2020-8694)",
                err.path().display()
            ),
        )
        .with_remedy(PERMISSION_REMEDY)
    } else {
        Unavailable::new(Backend::Powercap, err.to_string())
    }
}

struct ZoneDomain {
    domain: Domain,
    energy_path: PathBuf,
    range_uj: u64,
}

/// Maps zones to domains, with the CPUs each covers.
fn plan(sys: &Sysfs) -> Result<Vec<ZoneDomain>, Unavailable> {
    let list = zones(sys).map_err(|e| Unavailable::new(Backend::Powercap, e.to_string()))?;
    if list.is_empty() {
        return Err(Unavailable::new(
            Backend::Powercap,
            format!(
                "no RAPL zones under {} (the intel_rapl driver is not loaded, or this is a VM \
                 that exposes no RAPL)",
                sys.path(CLASS).display()
            ),
        )
        .with_remedy(
            "`sudo modprobe intel_rapl_msr` on bare metal; in a VM, RAPL is usually not \
             emulated: `--meter estimate` gives estimated figures",
        ));
    }
    let topo = Topology::read(sys).ok();
    let amd = sys
        .cpu_id()
        .map(|id| id.vendor.is_amd_like())
        .unwrap_or(false);
    let package_cpus = |pkg: u32| {
        topo.as_ref()
            .map(|t| t.package_cpus(pkg))
            .unwrap_or_default()
    };

    let mut out: Vec<ZoneDomain> = Vec::new();
    for zone in &list {
        // The package a subzone belongs to is named by its parent zone.
        let parent_name = if zone.ids.len() == 2 {
            list.iter()
                .find(|z| z.mmio == zone.mmio && z.ids == zone.ids[..1])
                .map(|z| z.name.as_str())
        } else {
            None
        };
        let pkg_name = parent_name.unwrap_or(&zone.name);
        let package = parse_package_name(pkg_name);
        let domain = match (zone.name.as_str(), package) {
            ("psys", _) => Domain {
                id: "psys".into(),
                kind: DomainKind::Psys,
                scope: Scope::System,
                cpus: Vec::new(),
            },
            (n, Some((pkg, die))) if n.starts_with("package-") => Domain {
                id: match die {
                    Some(d) => format!("package-{pkg}-die-{d}"),
                    None => format!("package-{pkg}"),
                },
                kind: DomainKind::Package,
                scope: Scope::Package { package: pkg },
                cpus: package_cpus(pkg),
            },
            // On AMD, the `core` zone reads the core-energy MSR of the package's first CPU:
            // one core, not all of them.
            ("core", Some((pkg, _))) if amd => {
                let lead = package_cpus(pkg).first().copied();
                let core = lead.and_then(|c| topo.as_ref().and_then(|t| t.core_of(c)));
                let (core_id, cpus) = core.map_or((0, Vec::new()), |c| (c.core_id, c.cpus));
                Domain {
                    id: format!("core-{pkg}-{core_id}"),
                    kind: DomainKind::Core,
                    scope: Scope::Core {
                        package: pkg,
                        core: core_id,
                    },
                    cpus,
                }
            }
            (n, Some((pkg, die))) => {
                let kind = match n {
                    "core" => DomainKind::Cores,
                    "uncore" => DomainKind::Uncore,
                    "dram" => DomainKind::Dram,
                    _ => continue,
                };
                let prefix = super::perf::kind_prefix(kind);
                Domain {
                    id: match die {
                        Some(d) => format!("{prefix}-{pkg}-die-{d}"),
                        None => format!("{prefix}-{pkg}"),
                    },
                    kind,
                    scope: Scope::Package { package: pkg },
                    cpus: package_cpus(pkg),
                }
            }
            _ => continue,
        };
        if out.iter().any(|d| d.domain.id == domain.id) {
            // An MMIO zone repeating a domain the MSR zones already give.
            continue;
        }
        let rel = format!("{CLASS}/{}", zone.dir);
        let range_uj = sys
            .read_u64(format!("{rel}/max_energy_range_uj"))
            .map_err(|e| Unavailable::new(Backend::Powercap, e.to_string()))?;
        out.push(ZoneDomain {
            domain,
            energy_path: sys.path(format!("{rel}/energy_uj")),
            range_uj,
        });
    }
    Ok(out)
}

/// `package-3` → (3, None); `package-0-die-1` → (0, Some(1)).
fn parse_package_name(name: &str) -> Option<(u32, Option<u32>)> {
    let rest = name.strip_prefix("package-")?;
    match rest.split_once("-die-") {
        Some((p, d)) => Some((p.parse().ok()?, Some(d.parse().ok()?))),
        None => Some((rest.parse().ok()?, None)),
    }
}

/// Reads a counter file without allocating: the value is at most 20 digits.
fn read_energy_uj(path: &std::path::Path) -> Result<u64, SysfsError> {
    let mut buf = [0u8; 32];
    let mut file =
        std::fs::File::open(path).map_err(|e| SysfsError::from_io(path.to_owned(), e))?;
    let mut len = 0;
    loop {
        let n = file
            .read(&mut buf[len..])
            .map_err(|e| SysfsError::from_io(path.to_owned(), e))?;
        if n == 0 || len + n == buf.len() {
            len += n;
            break;
        }
        len += n;
    }
    let text = &buf[..len];
    let digits = text.trim_ascii();
    if digits.is_empty() || !digits.iter().all(u8::is_ascii_digit) || digits.len() > 20 {
        return Err(SysfsError::Parse {
            path: path.to_owned(),
            content: String::from_utf8_lossy(text).into_owned(),
            expected: "a microjoule count",
        });
    }
    Ok(digits.iter().fold(0u64, |acc, d| {
        acc.wrapping_mul(10).wrapping_add(u64::from(d - b'0'))
    }))
}

pub struct PowercapMeter {
    info: MeterInfo,
    paths: Vec<PathBuf>,
    scalings: Vec<Scaling>,
}

impl PowercapMeter {
    /// Opens the zones' counters (all when `wanted` is empty) and reads each once, so that a
    /// permission problem shows here and not in the middle of a run.
    pub fn open(sys: &Sysfs, wanted: &[String]) -> Result<PowercapMeter, Unavailable> {
        let planned = plan(sys)?;
        let planned = filter_domains(
            Backend::Powercap,
            planned
                .into_iter()
                .map(|z| (z.domain.clone(), (z.energy_path, z.range_uj)))
                .collect(),
            wanted,
        )?;
        let mut domains = Vec::new();
        let mut paths = Vec::new();
        let mut scalings = Vec::new();
        for (domain, (path, range)) in planned {
            read_energy_uj(&path).map_err(|e| read_failure(&e))?;
            domains.push(domain);
            paths.push(path);
            scalings.push(Scaling {
                joules_per_unit: 1e-6,
                wrap: Wrap::AtRange(range),
            });
        }
        let info = MeterInfo::new(Backend::Powercap, Provenance::Measured, domains, None)
            .ok_or_else(|| {
                Unavailable::new(
                    Backend::Powercap,
                    "the RAPL zones here offer no package or psys domain (only partial ones)",
                )
            })?;
        Ok(PowercapMeter {
            info,
            paths,
            scalings,
        })
    }
}

impl Meter for PowercapMeter {
    fn info(&self) -> &MeterInfo {
        &self.info
    }

    fn read(&mut self) -> Result<Snapshot, MeterError> {
        let paths = &self.paths;
        take_snapshot(Backend::Powercap, &self.info.domains, |i| {
            read_energy_uj(&paths[i]).map_err(|e| {
                let failure = match e {
                    SysfsError::Parse { content, .. } => ReadFailure::Malformed(content),
                    other => ReadFailure::Io(std::io::Error::other(other.to_string())),
                };
                (paths[i].display().to_string(), failure)
            })
        })
    }

    fn energy_between(&self, a: &Snapshot, b: &Snapshot) -> Vec<DomainEnergy> {
        energies(&self.info.domains, &self.scalings, a, b)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::energy::simulate::{FakeMachine, SimulatedCounter};
    use crate::units::Joules;

    #[test]
    fn zone_dirs_are_hex() {
        assert_eq!(parse_zone_dir("intel-rapl:0"), Some((false, vec![0])));
        assert_eq!(parse_zone_dir("intel-rapl:a:1"), Some((false, vec![10, 1])));
        assert_eq!(parse_zone_dir("intel-rapl-mmio:0"), Some((true, vec![0])));
        assert_eq!(parse_zone_dir("dtpm"), None);
        assert_eq!(parse_zone_dir("intel-rapl:x"), None);
        assert_eq!(parse_package_name("package-0-die-1"), Some((0, Some(1))));
    }

    #[test]
    fn two_sockets_with_dram() {
        let dir = tempfile::tempdir().unwrap();
        let m = FakeMachine::intel_two_socket(dir.path()).unwrap();
        let meter = PowercapMeter::open(&m.sysfs(), &[]).unwrap();
        let ids: Vec<&str> = meter.info().domains.iter().map(|d| d.id.as_str()).collect();
        assert_eq!(ids, vec!["package-0", "dram-0", "package-1", "dram-1"]);
        assert_eq!(meter.info().primary, "package-0");
        assert_eq!(meter.info().primary_for_cpu(6).unwrap().id, "package-1");
        assert_eq!(meter.info().domains[2].cpus, vec![2, 3, 6, 7]);
    }

    #[test]
    fn amd_core_zone_is_one_core() {
        let dir = tempfile::tempdir().unwrap();
        let m = FakeMachine::amd_per_core(dir.path()).unwrap();
        let meter = PowercapMeter::open(&m.sysfs(), &[]).unwrap();
        let d = &meter.info().domains;
        assert_eq!(d[0].id, "package-0");
        assert_eq!(d[1].id, "core-0-0");
        assert_eq!(d[1].kind, DomainKind::Core);
        assert_eq!(d[1].cpus, vec![0, 4]);
    }

    #[test]
    fn psys_only_laptop_uses_psys_and_skips_mmio_duplicates() {
        let dir = tempfile::tempdir().unwrap();
        let m = FakeMachine::psys_laptop(dir.path()).unwrap();
        let meter = PowercapMeter::open(&m.sysfs(), &[]).unwrap();
        let ids: Vec<&str> = meter.info().domains.iter().map(|d| d.id.as_str()).collect();
        assert_eq!(ids, vec!["psys"]);
        assert_eq!(meter.info().primary, "psys");
        assert_eq!(meter.info().primary_kind, DomainKind::Psys);
    }

    #[test]
    fn no_zones_is_unavailable() {
        let dir = tempfile::tempdir().unwrap();
        let err = PowercapMeter::open(&Sysfs::new(dir.path()), &[])
            .err()
            .unwrap();
        assert!(err.reason.contains("no RAPL zones"), "{}", err.reason);
        assert!(err.remedy.unwrap().contains("modprobe"));
    }

    #[test]
    fn permission_denied_is_explained() {
        let err = SysfsError::PermissionDenied {
            path: "/sys/class/powercap/intel-rapl:0/energy_uj".into(),
        };
        let u = read_failure(&err);
        assert!(
            u.reason.contains("root only since Linux 5.10"),
            "{}",
            u.reason
        );
        assert!(u.reason.contains("intel-rapl:0/energy_uj"));
        let remedy = u.remedy.unwrap();
        assert!(remedy.contains("udev") && remedy.contains("--meter perf"));
    }

    #[test]
    fn asking_for_a_missing_domain_fails() {
        let dir = tempfile::tempdir().unwrap();
        let m = FakeMachine::psys_laptop(dir.path()).unwrap();
        let err = PowercapMeter::open(&m.sysfs(), &["package-0".into()])
            .err()
            .unwrap();
        assert!(
            err.reason.contains("package-0 is not offered"),
            "{}",
            err.reason
        );
    }

    #[test]
    fn energy_read_back_across_a_wrap_equals_energy_put_in() {
        let dir = tempfile::tempdir().unwrap();
        let m = FakeMachine::intel_two_socket(dir.path()).unwrap();
        let zone = m.zone_dir("intel-rapl:0");
        let mut sim = SimulatedCounter::new(&zone, 1_000_000, 900_000).unwrap();
        let mut meter = PowercapMeter::open(&m.sysfs(), &["package-0".into()]).unwrap();
        let mut total = Joules::ZERO;
        let mut prev = meter.read().unwrap();
        // 0.35 J per step against a 1 J range: several wraps over the run.
        for _ in 0..20 {
            sim.add(Joules(0.35)).unwrap();
            let next = meter.read().unwrap();
            total += meter.energy_between(&prev, &next)[0].energy;
            prev = next;
        }
        assert!(
            (total.get() - sim.true_energy().get()).abs() < 1e-5,
            "{total}"
        );
        assert!((total.get() - 7.0).abs() < 1e-5);
    }
}
