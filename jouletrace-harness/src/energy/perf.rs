//! RAPL through the perf `power` PMU (and AMD's per-core `power_core` PMU).
//!
//! The preferred backend: counts are 64-bit and folded by the kernel (no wrap handling), and
//! it needs no root when `perf_event_paranoid` ≤ 0 or the binary has CAP_PERFMON.
//!
//! The PMU's type, event encodings, scale and unit come from
//! `bus/event_source/devices/power/` under the sysfs root. RAPL is package-wide, so the PMU
//! refuses per-task counters: we open one system-wide counter per package, on the CPU its
//! `cpumask` names, with kernel and hypervisor counting included (the PMU rejects the default
//! exclusions with EINVAL).
//!
//! Reading goes through the small [`CounterSource`] trait so that a counter which opens but
//! never advances (what a hypervisor without RAPL emulation gives) can be reproduced in tests.

use std::io;

use perf_event::Builder;
use perf_event::events::Dynamic;

use crate::energy::{
    Backend, Domain, DomainEnergy, DomainKind, Meter, MeterError, MeterInfo, Provenance,
    ReadFailure, Scaling, Scope, Snapshot, Unavailable, Wrap, energies, filter_domains,
    take_snapshot,
};
use crate::sysfs::{Procfs, Sysfs};
use crate::topology::Topology;

/// The perf scale of RAPL events when the `.scale` file is missing: 2^-32 J per count.
const DEFAULT_SCALE: f64 = 2.328_306_436_538_696_3e-10;

/// Anything that yields a cumulative 64-bit count.
pub trait CounterSource: Send {
    fn read(&mut self) -> io::Result<u64>;
}

impl CounterSource for perf_event::Counter {
    fn read(&mut self) -> io::Result<u64> {
        perf_event::Counter::read(self)
    }
}

/// One counter to open: which event of which PMU, on which CPU, for which domain.
#[derive(Clone, Debug, PartialEq)]
pub struct PlannedCounter {
    pub domain: Domain,
    /// `power` or `power_core`.
    pub pmu: String,
    /// `energy-pkg`, `energy-ram`, `energy-core`…
    pub event: String,
    pub cpu: u32,
    /// Joules per count (from the event's `.scale` file).
    pub scale: f64,
}

impl PlannedCounter {
    fn describe(&self) -> String {
        format!("perf {}/{}/ on CPU {}", self.pmu, self.event, self.cpu)
    }
}

fn pmu_rel(pmu: &str) -> String {
    format!("bus/event_source/devices/{pmu}")
}

fn event_kind(event: &str) -> Option<DomainKind> {
    Some(match event {
        "energy-pkg" => DomainKind::Package,
        "energy-cores" => DomainKind::Cores,
        "energy-gpu" => DomainKind::Uncore,
        "energy-ram" => DomainKind::Dram,
        "energy-psys" => DomainKind::Psys,
        "energy-core" => DomainKind::Core,
        _ => return None,
    })
}

fn read_scale(sys: &Sysfs, pmu: &str, event: &str) -> Result<f64, Unavailable> {
    let rel = format!("{}/events/{event}.scale", pmu_rel(pmu));
    match sys.read_string(&rel) {
        Ok(s) => s
            .trim()
            .parse::<f64>()
            .ok()
            .filter(|v| *v > 0.0)
            .ok_or_else(|| {
                Unavailable::new(
                    Backend::Perf,
                    format!("{}: {s:?} is not a scale factor", sys.path(&rel).display()),
                )
            }),
        Err(e) if e.is_not_found() => Ok(DEFAULT_SCALE),
        Err(e) => Err(Unavailable::new(Backend::Perf, e.to_string())),
    }
}

/// Events of a PMU that we understand, sorted.
fn energy_events(sys: &Sysfs, pmu: &str) -> Result<Vec<(String, DomainKind)>, Unavailable> {
    let names = sys
        .list_dir(format!("{}/events", pmu_rel(pmu)))
        .map_err(|e| Unavailable::new(Backend::Perf, e.to_string()))?;
    let mut events: Vec<(String, DomainKind)> = names
        .into_iter()
        .filter(|n| !n.contains('.'))
        .filter_map(|n| event_kind(&n).map(|k| (n, k)))
        .collect();
    events.sort_by_key(|(_, k)| *k as u8);
    Ok(events)
}

/// Finds the counters to open, from sysfs alone (nothing is opened).
pub fn discover(sys: &Sysfs) -> Result<Vec<PlannedCounter>, Unavailable> {
    let pmu = "power";
    if !sys.exists(pmu_rel(pmu)) {
        return Err(Unavailable::new(
            Backend::Perf,
            format!(
                "no RAPL perf PMU: {} does not exist (a VM without RAPL, a kernel without \
                 the RAPL perf driver, or a CPU without RAPL; AMD needs Linux 5.8 or later)",
                sys.path(pmu_rel(pmu)).display()
            ),
        )
        .with_remedy(
            "measure on bare metal with a RAPL-capable CPU; otherwise try `--meter powercap`, \
             or `--meter estimate` for estimated figures",
        ));
    }
    let topo = Topology::read(sys).ok();
    let cpumask = sys
        .read_cpu_list(format!("{}/cpumask", pmu_rel(pmu)))
        .map_err(|e| Unavailable::new(Backend::Perf, e.to_string()))?;
    if cpumask.is_empty() {
        return Err(Unavailable::new(
            Backend::Perf,
            format!("{}/cpumask names no CPU", sys.path(pmu_rel(pmu)).display()),
        ));
    }
    let events = energy_events(sys, pmu)?;
    if events.is_empty() {
        return Err(Unavailable::new(
            Backend::Perf,
            format!(
                "the power PMU at {} offers no energy events",
                sys.path(pmu_rel(pmu)).display()
            ),
        ));
    }
    let package_of = |cpu: u32, index: usize| {
        topo.as_ref()
            .and_then(|t| t.package_of(cpu))
            .unwrap_or(index as u32)
    };
    let package_cpus = |pkg: u32, cpu: u32| {
        topo.as_ref()
            .map(|t| t.package_cpus(pkg))
            .unwrap_or_else(|| vec![cpu])
    };

    let mut planned = Vec::new();
    for (event, kind) in &events {
        let scale = read_scale(sys, pmu, event)?;
        for (i, &cpu) in cpumask.iter().enumerate() {
            let pkg = package_of(cpu, i);
            let domain = match kind {
                // psys covers the platform: one counter, whatever the number of packages.
                DomainKind::Psys if i > 0 => continue,
                DomainKind::Psys => Domain {
                    id: "psys".into(),
                    kind: *kind,
                    scope: Scope::System,
                    cpus: Vec::new(),
                },
                _ => Domain {
                    id: format!("{}-{pkg}", kind_prefix(*kind)),
                    kind: *kind,
                    scope: Scope::Package { package: pkg },
                    cpus: package_cpus(pkg, cpu),
                },
            };
            planned.push(PlannedCounter {
                domain,
                pmu: pmu.into(),
                event: event.clone(),
                cpu,
                scale,
            });
        }
    }

    // AMD's per-core energy, where the kernel has the power_core PMU (Linux 6.13 and later).
    let core_pmu = "power_core";
    if sys.exists(pmu_rel(core_pmu)) {
        let cores_mask = sys
            .read_cpu_list(format!("{}/cpumask", pmu_rel(core_pmu)))
            .unwrap_or_default();
        let core_events = energy_events(sys, core_pmu).unwrap_or_default();
        for (event, kind) in core_events.iter().filter(|(_, k)| *k == DomainKind::Core) {
            let scale = read_scale(sys, core_pmu, event)?;
            for &cpu in &cores_mask {
                let (pkg, core, cpus) = match topo.as_ref().and_then(|t| t.core_of(cpu)) {
                    Some(c) => (c.package, c.core_id, c.cpus),
                    None => (0, cpu, vec![cpu]),
                };
                planned.push(PlannedCounter {
                    domain: Domain {
                        id: format!("core-{pkg}-{core}"),
                        kind: *kind,
                        scope: Scope::Core { package: pkg, core },
                        cpus,
                    },
                    pmu: core_pmu.into(),
                    event: event.clone(),
                    cpu,
                    scale,
                });
            }
        }
    }
    Ok(planned)
}

pub(crate) fn kind_prefix(kind: DomainKind) -> &'static str {
    match kind {
        DomainKind::Package => "package",
        DomainKind::Cores => "cores",
        DomainKind::Uncore => "uncore",
        DomainKind::Dram => "dram",
        DomainKind::Psys => "psys",
        DomainKind::Core => "core",
        DomainKind::Gpu => "gpu",
        DomainKind::Estimated => "cpu-estimate",
    }
}

fn open_counter(sys: &Sysfs, plan: &PlannedCounter) -> Result<perf_event::Counter, Unavailable> {
    let pmu_dir = sys.path(pmu_rel(&plan.pmu));
    let event = Dynamic::builder(&pmu_dir)
        .and_then(|mut b| {
            b.event(&plan.event)?;
            Ok(b.build()?)
        })
        .map_err(|e| {
            Unavailable::new(
                Backend::Perf,
                format!("{}: cannot decode {}: {e}", pmu_dir.display(), plan.event),
            )
        })?;
    let mut counter = Builder::new(event)
        .any_pid()
        .one_cpu(plan.cpu as usize)
        .include_kernel()
        .include_hv()
        .build()
        .map_err(|e| open_refused(plan, &e))?;
    counter.enable().map_err(|e| {
        Unavailable::new(Backend::Perf, format!("enabling {}: {e}", plan.describe()))
    })?;
    Ok(counter)
}

fn open_refused(plan: &PlannedCounter, e: &io::Error) -> Unavailable {
    match e.raw_os_error() {
        Some(libc::EACCES) | Some(libc::EPERM) => {
            let paranoid = Procfs::from_env()
                .perf_event_paranoid()
                .map(|p| p.to_string())
                .unwrap_or_else(|_| "unknown".into());
            Unavailable::new(
                Backend::Perf,
                format!(
                    "opening {} was refused: {e} (perf_event_paranoid = {paranoid}; \
                     system-wide counters need ≤ 0, CAP_PERFMON or root)",
                    plan.describe()
                ),
            )
            .with_remedy(
                "`sudo sysctl kernel.perf_event_paranoid=0`, or give the binary CAP_PERFMON \
                 (`sudo setcap cap_perfmon=ep <binary>`), or run as root",
            )
        }
        _ => Unavailable::new(
            Backend::Perf,
            format!("the kernel refused to open {}: {e}", plan.describe()),
        ),
    }
}

/// A meter over perf counters.
pub struct PerfMeter {
    info: MeterInfo,
    sources: Vec<Box<dyn CounterSource>>,
    names: Vec<String>,
    scalings: Vec<Scaling>,
}

impl PerfMeter {
    /// Opens one counter per domain (all the PMU offers when `wanted` is empty).
    pub fn open(sys: &Sysfs, wanted: &[String]) -> Result<PerfMeter, Unavailable> {
        let planned = discover(sys)?;
        let planned = filter_domains(
            Backend::Perf,
            planned.into_iter().map(|p| (p.domain.clone(), p)).collect(),
            wanted,
        )?;
        let mut sources: Vec<(PlannedCounter, Box<dyn CounterSource>)> = Vec::new();
        for (_, plan) in planned {
            let counter = open_counter(sys, &plan)?;
            sources.push((plan, Box::new(counter)));
        }
        PerfMeter::from_sources(sources)
    }

    /// A meter over any counter sources, one per planned domain. Tests use it to stand in
    /// for the kernel.
    pub fn from_sources(
        sources: Vec<(PlannedCounter, Box<dyn CounterSource>)>,
    ) -> Result<PerfMeter, Unavailable> {
        let mut domains = Vec::new();
        let mut names = Vec::new();
        let mut scalings = Vec::new();
        let mut boxes = Vec::new();
        for (plan, source) in sources {
            names.push(plan.describe());
            scalings.push(Scaling {
                joules_per_unit: plan.scale,
                wrap: Wrap::Never,
            });
            domains.push(plan.domain);
            boxes.push(source);
        }
        let info = MeterInfo::new(Backend::Perf, Provenance::Measured, domains, None).ok_or_else(
            || {
                Unavailable::new(
                    Backend::Perf,
                    "the power PMU offers no package or psys event (only partial domains)",
                )
            },
        )?;
        Ok(PerfMeter {
            info,
            sources: boxes,
            names,
            scalings,
        })
    }
}

impl Meter for PerfMeter {
    fn info(&self) -> &MeterInfo {
        &self.info
    }

    fn read(&mut self) -> Result<Snapshot, MeterError> {
        let (sources, names) = (&mut self.sources, &self.names);
        take_snapshot(Backend::Perf, &self.info.domains, |i| {
            sources[i]
                .read()
                .map_err(|e| (names[i].clone(), ReadFailure::Io(e)))
        })
    }

    fn energy_between(&self, a: &Snapshot, b: &Snapshot) -> Vec<DomainEnergy> {
        energies(&self.info.domains, &self.scalings, a, b)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::energy::probe_advances;
    use crate::energy::simulate::FakeMachine;
    use std::sync::Arc;
    use std::sync::atomic::{AtomicU64, Ordering};
    use std::time::Duration;

    #[test]
    fn discovers_two_packages_with_dram() {
        let dir = tempfile::tempdir().unwrap();
        let m = FakeMachine::intel_two_socket(dir.path()).unwrap();
        let planned = discover(&m.sysfs()).unwrap();
        let ids: Vec<(&str, u32)> = planned
            .iter()
            .map(|p| (p.domain.id.as_str(), p.cpu))
            .collect();
        assert_eq!(
            ids,
            vec![
                ("package-0", 0),
                ("package-1", 2),
                ("dram-0", 0),
                ("dram-1", 2)
            ]
        );
        assert_eq!(planned[1].domain.cpus, vec![2, 3, 6, 7]);
        assert!((planned[0].scale - DEFAULT_SCALE).abs() < 1e-20);
    }

    #[test]
    fn discovers_amd_per_core_pmu() {
        let dir = tempfile::tempdir().unwrap();
        let m = FakeMachine::amd_per_core(dir.path()).unwrap();
        let planned = discover(&m.sysfs()).unwrap();
        let ids: Vec<&str> = planned.iter().map(|p| p.domain.id.as_str()).collect();
        assert_eq!(
            ids,
            vec!["package-0", "core-0-0", "core-0-1", "core-0-2", "core-0-3"]
        );
        assert_eq!(
            planned[2].domain.scope,
            Scope::Core {
                package: 0,
                core: 1
            }
        );
        assert_eq!(planned[2].domain.cpus, vec![1, 5]);
    }

    #[test]
    fn no_power_pmu_is_unavailable_with_reason() {
        let dir = tempfile::tempdir().unwrap();
        let err = PerfMeter::open(&Sysfs::new(dir.path()), &[]).err().unwrap();
        assert_eq!(err.backend, Backend::Perf);
        assert!(err.reason.contains("no RAPL perf PMU"), "{}", err.reason);
        assert!(err.remedy.is_some());
    }

    /// On this machine kind the power PMU is either absent or opens and reads 0; either way
    /// the backend must come out unavailable, never as a meter reading 0 J.
    #[test]
    fn real_power_pmu_here_is_unavailable_or_advances() {
        match PerfMeter::open(&Sysfs::default(), &[]) {
            Err(u) => assert!(!u.reason.is_empty()),
            Ok(mut m) => {
                if let Err(u) = probe_advances(&mut m, Duration::from_millis(80)) {
                    assert!(u.reason.contains("did not advance"), "{}", u.reason);
                }
            }
        }
    }

    struct Stuck;
    impl CounterSource for Stuck {
        fn read(&mut self) -> io::Result<u64> {
            Ok(0)
        }
    }

    /// Advances by a fixed step per read, like a live counter.
    struct Ticking(Arc<AtomicU64>);
    impl CounterSource for Ticking {
        fn read(&mut self) -> io::Result<u64> {
            Ok(self.0.fetch_add(1 << 32, Ordering::Relaxed))
        }
    }

    fn plan(id: &str) -> PlannedCounter {
        PlannedCounter {
            domain: Domain {
                id: id.into(),
                kind: DomainKind::Package,
                scope: Scope::Package { package: 0 },
                cpus: vec![0],
            },
            pmu: "power".into(),
            event: "energy-pkg".into(),
            cpu: 0,
            scale: DEFAULT_SCALE,
        }
    }

    #[test]
    fn a_counter_that_reads_zero_is_unavailable() {
        let mut m = PerfMeter::from_sources(vec![(plan("package-0"), Box::new(Stuck))]).unwrap();
        let err = probe_advances(&mut m, Duration::from_millis(20)).unwrap_err();
        assert_eq!(err.backend, Backend::Perf);
        assert!(
            err.reason.contains("opened but did not advance"),
            "{}",
            err.reason
        );
        assert!(err.reason.contains("package-0"));
        assert!(err.reason.contains("VM"));
    }

    #[test]
    fn a_counter_that_advances_passes_and_scales() {
        let mut m = PerfMeter::from_sources(vec![(
            plan("package-0"),
            Box::new(Ticking(Arc::new(AtomicU64::new(0)))),
        )])
        .unwrap();
        probe_advances(&mut m, Duration::from_millis(5)).unwrap();
        let a = m.read().unwrap();
        let b = m.read().unwrap();
        // 2^32 counts at 2^-32 J per count.
        let e = m.energy_between(&a, &b);
        assert!((e[0].energy.get() - 1.0).abs() < 1e-9, "{e:?}");
    }
}
