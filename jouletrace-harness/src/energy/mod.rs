//! Energy meters: one trait, one file per backend.
//!
//! A [`Meter`] reads raw counters into a [`Snapshot`] and turns two snapshots into joules per
//! [`Domain`] ([`Meter::energy_between`], wraparound corrected). The orchestrator picks one
//! backend per run with [`select`] (perf, then powercap, then the estimate, or the backend the
//! user forced), checks that its counter really advances, and hands workers a [`MeterSpec`];
//! each worker calls [`open`] on it.
//!
//! ```no_run
//! use jouletrace::config::MeterChoice;
//! use jouletrace::energy::{self, Meter};
//! let sel = energy::select(MeterChoice::Auto, "/sys".as_ref(), 10.0)?;
//! for w in &sel.warnings { eprintln!("warning: {w}"); }
//! let mut meter = energy::open(&sel.spec)?;
//! let a = meter.read()?;
//! // … measured work …
//! let b = meter.read()?;
//! for e in meter.energy_between(&a, &b) { println!("{}: {}", e.domain, e.energy); }
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! Backends: [`perf`] (the `power` PMU; preferred), [`powercap`] (`intel-rapl` zones), [`msr`]
//! (raw registers; only when forced), [`estimate`] (CPU time × watts; never "measured") and
//! [`nvml`] (GPUs, behind the `nvml` feature). "Unavailable" is a value, [`Unavailable`], with a
//! reason and a remedy; no backend ever stands in a zero for a reading it could not make.
//! The design notes are in `docs/meters.md`.

use std::fmt;
use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use crate::units::{Joules, Watts};

pub mod estimate;
pub mod msr;
pub mod nvml;
pub mod perf;
pub mod powercap;
mod probe;
mod select;
pub mod simulate;

pub use probe::{probe_advances, spin_on};
pub use select::{PROBE_TIME, Selection, open_backend, select, select_with};

/// Which way of reading energy.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Backend {
    Perf,
    Powercap,
    Msr,
    Estimate,
    Nvml,
}

/// Whether a meter's numbers were measured by hardware or estimated.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Provenance {
    Measured,
    Estimated,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DomainKind {
    /// A whole socket or die (RAPL PKG).
    Package,
    /// All cores of a package (RAPL PP0).
    Cores,
    /// Uncore or integrated GPU (RAPL PP1).
    Uncore,
    Dram,
    /// The whole platform (RAPL PSYS); contains package.
    Psys,
    /// One physical core (AMD per-core energy).
    Core,
    Gpu,
    /// Energy estimated from the worker's CPU time.
    Estimated,
}

/// The CPUs whose activity a domain's counter includes. Scheduling depends on it: two measured
/// windows must never overlap within one scope.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(tag = "scope", rename_all = "snake_case")]
pub enum Scope {
    /// The whole machine.
    System,
    Package {
        package: u32,
    },
    Core {
        package: u32,
        core: u32,
    },
    /// Only the measured process itself (the estimate): concurrent windows do not interfere.
    Process,
    Device {
        index: u32,
    },
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Domain {
    /// Stable name, e.g. `package-0`, `dram-1`, `core-0-3`, `psys`, `cpu-estimate`.
    pub id: String,
    pub kind: DomainKind,
    #[serde(flatten)]
    pub scope: Scope,
    /// The logical CPUs the domain covers (empty for `System`/`Process`/`Device`).
    pub cpus: Vec<u32>,
}

/// Energy used in one domain over one interval.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct DomainEnergy {
    pub domain: String,
    #[serde(rename = "energy_j")]
    pub energy: Joules,
}

/// Everything a worker needs to open the run's meter. Chosen once per run by the orchestrator.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct MeterSpec {
    pub backend: Backend,
    pub sysfs_root: PathBuf,
    /// Domain ids to read; empty means all the backend offers.
    pub domains: Vec<String>,
    /// For the estimate: watts charged per fully busy core.
    pub estimate_watts_per_core: Option<f64>,
}

impl Backend {
    pub const ALL: [Backend; 5] = [
        Backend::Perf,
        Backend::Powercap,
        Backend::Msr,
        Backend::Estimate,
        Backend::Nvml,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Backend::Perf => "perf",
            Backend::Powercap => "powercap",
            Backend::Msr => "msr",
            Backend::Estimate => "estimate",
            Backend::Nvml => "nvml",
        }
    }
}

impl fmt::Display for Backend {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.pad(self.as_str())
    }
}

impl DomainKind {
    /// The rank of a kind as the primary (compared) domain: lower is preferred; `None` for
    /// kinds that are never primary because they see only part of the work (cores, uncore,
    /// dram, one core).
    fn primary_rank(self) -> Option<u8> {
        match self {
            DomainKind::Package => Some(0),
            DomainKind::Psys => Some(1),
            DomainKind::Estimated => Some(2),
            DomainKind::Gpu => Some(3),
            _ => None,
        }
    }
}

/// What a meter offers: its backend, whether it measures or estimates, its domains, and which
/// of them is compared.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct MeterInfo {
    pub backend: Backend,
    pub provenance: Provenance,
    pub domains: Vec<Domain>,
    /// Id of the primary domain (the first of `primary_kind`). With several packages, each
    /// worker's primary domain is the package of its CPU: see [`MeterInfo::primary_for_cpu`].
    pub primary: String,
    pub primary_kind: DomainKind,
    /// For the estimate: the power charged per busy core.
    pub estimate_watts_per_core: Option<Watts>,
}

impl MeterInfo {
    /// Builds the info, choosing the primary domain: package(s), else psys, else the estimate,
    /// else a GPU. Overlapping domains are never summed, so exactly one kind is primary.
    /// `None` when no domain can be primary (only cores/dram/uncore were readable).
    pub fn new(
        backend: Backend,
        provenance: Provenance,
        domains: Vec<Domain>,
        estimate_watts_per_core: Option<Watts>,
    ) -> Option<MeterInfo> {
        let primary = domains
            .iter()
            .filter_map(|d| d.kind.primary_rank().map(|r| (r, d)))
            .min_by_key(|(r, _)| *r)
            .map(|(_, d)| d)?;
        Some(MeterInfo {
            backend,
            provenance,
            primary: primary.id.clone(),
            primary_kind: primary.kind,
            domains,
            estimate_watts_per_core,
        })
    }

    pub fn domain(&self, id: &str) -> Option<&Domain> {
        self.domains.iter().find(|d| d.id == id)
    }

    /// The primary-kind domains (one per package for package-wide RAPL).
    pub fn primary_domains(&self) -> impl Iterator<Item = &Domain> {
        self.domains.iter().filter(|d| d.kind == self.primary_kind)
    }

    /// The primary domain that sees work on `cpu`: its package's domain, or the system- or
    /// process-wide one.
    pub fn primary_for_cpu(&self, cpu: u32) -> Option<&Domain> {
        self.primary_domains()
            .find(|d| d.cpus.contains(&cpu))
            .or_else(|| self.primary_domains().find(|d| d.cpus.is_empty()))
    }

    pub fn is_estimated(&self) -> bool {
        self.provenance == Provenance::Estimated
    }
}

/// Raw counter values at one instant, in [`MeterInfo::domains`] order and in the backend's own
/// unit (perf counts, µJ, MSR ticks, CPU nanoseconds). Only [`Meter::energy_between`] of the
/// meter that took them gives them meaning.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Snapshot {
    /// `CLOCK_MONOTONIC`, nanoseconds, taken right after the counters were read.
    pub taken_ns: u64,
    pub raw: Vec<u64>,
}

/// A reading that failed after the meter had opened.
#[derive(Debug, thiserror::Error)]
pub enum MeterError {
    #[error("{backend} meter: reading domain {domain} from {source_name}: {source}")]
    Read {
        backend: Backend,
        domain: String,
        /// The file or counter read (`/sys/class/powercap/intel-rapl:0/energy_uj`, `perf power/energy-pkg on CPU 0`).
        source_name: String,
        source: std::io::Error,
    },
    #[error(
        "{backend} meter: domain {domain}: {source_name} held {content:?}, not a counter value"
    )]
    Malformed {
        backend: Backend,
        domain: String,
        source_name: String,
        content: String,
    },
}

/// An energy meter. Object safe, so the engine holds a `Box<dyn Meter>` whatever the backend.
pub trait Meter: Send {
    fn info(&self) -> &MeterInfo;
    /// Reads every domain's counter, then timestamps the reading.
    fn read(&mut self) -> Result<Snapshot, MeterError>;
    /// Energy per domain from `a` to `b`, wraparound corrected. Domains overlap (a package
    /// contains its cores): never add them up; use the primary domain.
    fn energy_between(&self, a: &Snapshot, b: &Snapshot) -> Vec<DomainEnergy>;
}

/// Why a backend cannot be used here, and what would change that.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, thiserror::Error)]
#[error("{backend} meter unavailable: {reason}{}", remedy.as_ref().map(|r| format!(" (remedy: {r})")).unwrap_or_default())]
pub struct Unavailable {
    pub backend: Backend,
    pub reason: String,
    pub remedy: Option<String>,
}

impl Unavailable {
    pub fn new(backend: Backend, reason: impl Into<String>) -> Unavailable {
        Unavailable {
            backend,
            reason: reason.into(),
            remedy: None,
        }
    }

    pub fn with_remedy(mut self, remedy: impl Into<String>) -> Unavailable {
        self.remedy = Some(remedy.into());
        self
    }

    pub fn to_rejected(&self) -> crate::results::RejectedMeter {
        crate::results::RejectedMeter {
            backend: self.backend,
            reason: self.reason.clone(),
            remedy: self.remedy.clone(),
        }
    }
}

/// Opens the meter a [`MeterSpec`] describes. Used inside worker processes: the orchestrator has
/// already chosen and probed the backend with [`select`].
pub fn open(spec: &MeterSpec) -> Result<Box<dyn Meter>, Unavailable> {
    let sys = crate::sysfs::Sysfs::new(&spec.sysfs_root);
    let meter: Box<dyn Meter> = match spec.backend {
        Backend::Perf => Box::new(perf::PerfMeter::open(&sys, &spec.domains)?),
        Backend::Powercap => Box::new(powercap::PowercapMeter::open(&sys, &spec.domains)?),
        Backend::Msr => Box::new(msr::MsrMeter::open(&sys, &msr::dev_root(), &spec.domains)?),
        Backend::Estimate => {
            let watts = spec
                .estimate_watts_per_core
                .unwrap_or(estimate::DEFAULT_WATTS_PER_CORE);
            Box::new(estimate::EstimateMeter::new(Watts(watts))?)
        }
        Backend::Nvml => nvml::open(&spec.domains)?,
    };
    Ok(meter)
}

/// Opens the meter a [`MeterSpec`] describes in the orchestrator, to read around the windows of
/// the worker `pid` (a host metered from outside): the same backends as [`open`], except that the
/// estimate charges that worker's CPU time instead of this process's.
pub fn open_for_process(spec: &MeterSpec, pid: u32) -> Result<Box<dyn Meter>, Unavailable> {
    if spec.backend == Backend::Estimate {
        let watts = spec
            .estimate_watts_per_core
            .unwrap_or(estimate::DEFAULT_WATTS_PER_CORE);
        return Ok(Box::new(estimate::EstimateMeter::of_process(
            Watts(watts),
            pid,
        )?));
    }
    open(spec)
}

/// `CLOCK_MONOTONIC` in nanoseconds: the clock every process of a run shares.
pub fn monotonic_ns() -> u64 {
    clock_ns(libc::CLOCK_MONOTONIC)
}

/// CPU time consumed by this process (all threads), nanoseconds.
pub fn process_cpu_ns() -> u64 {
    clock_ns(libc::CLOCK_PROCESS_CPUTIME_ID)
}

/// CPU time consumed so far by process `pid` (all its threads, not its children), through its
/// CPU-time clock; `Err` when the process is gone.
pub fn process_cpu_ns_of(pid: u32) -> std::io::Result<u64> {
    let mut clock: libc::clockid_t = 0;
    // SAFETY: `clock` is a valid out-pointer; an unknown pid makes the call fail, nothing more.
    let rc = unsafe { libc::clock_getcpuclockid(pid as libc::pid_t, &mut clock) };
    if rc != 0 {
        return Err(std::io::Error::from_raw_os_error(rc));
    }
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: `ts` is a valid, writable timespec.
    if unsafe { libc::clock_gettime(clock, &mut ts) } != 0 {
        return Err(std::io::Error::last_os_error());
    }
    Ok(ts.tv_sec as u64 * 1_000_000_000 + ts.tv_nsec as u64)
}

fn clock_ns(clock: libc::clockid_t) -> u64 {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: `ts` is a valid, writable timespec; these clocks always exist on Linux.
    let rc = unsafe { libc::clock_gettime(clock, &mut ts) };
    debug_assert_eq!(rc, 0);
    ts.tv_sec as u64 * 1_000_000_000 + ts.tv_nsec as u64
}

/// Adds per-domain energies to a running total (the windows of one sample), domain by domain.
pub fn add_energies(total: &mut Vec<DomainEnergy>, more: Vec<DomainEnergy>) {
    for d in more {
        match total.iter_mut().find(|e| e.domain == d.domain) {
            Some(e) => e.energy += d.energy,
            None => total.push(d),
        }
    }
}

/// Why one counter could not be read: the raw cause, turned into a [`MeterError`] with the
/// domain and source by [`take_snapshot`].
pub(crate) enum ReadFailure {
    Io(std::io::Error),
    Malformed(String),
}

/// Reads every domain with `read_one(index)` (which also names its source), then timestamps.
pub(crate) fn take_snapshot(
    backend: Backend,
    domains: &[Domain],
    mut read_one: impl FnMut(usize) -> Result<u64, (String, ReadFailure)>,
) -> Result<Snapshot, MeterError> {
    let mut raw = Vec::with_capacity(domains.len());
    for (i, d) in domains.iter().enumerate() {
        let v = read_one(i).map_err(|(source_name, failure)| match failure {
            ReadFailure::Io(source) => MeterError::Read {
                backend,
                domain: d.id.clone(),
                source_name,
                source,
            },
            ReadFailure::Malformed(content) => MeterError::Malformed {
                backend,
                domain: d.id.clone(),
                source_name,
                content,
            },
        })?;
        raw.push(v);
    }
    Ok(Snapshot {
        taken_ns: monotonic_ns(),
        raw,
    })
}

/// How a raw counter wraps.
#[derive(Clone, Copy, Debug, PartialEq)]
pub(crate) enum Wrap {
    /// 64-bit and folded by the kernel (perf, CPU time): a decrease is never a wrap.
    Never,
    /// powercap's `energy_uj`: values run from 0 to `max_energy_range_uj`, then restart at 0.
    AtRange(u64),
    /// RAPL status registers: 32 bits.
    Bits32,
}

/// How to turn one domain's raw counter into joules.
#[derive(Clone, Copy, Debug, PartialEq)]
pub(crate) struct Scaling {
    /// Joules per raw unit.
    pub joules_per_unit: f64,
    pub wrap: Wrap,
}

impl Scaling {
    pub fn delta(self, a: u64, b: u64) -> u64 {
        match self.wrap {
            Wrap::Never => b.saturating_sub(a),
            // One wrap at most between two readings: at 200 W, the common 262 kJ range
            // takes over 20 minutes to wrap, and samples last a fraction of a second.
            Wrap::AtRange(range) if b < a => range.saturating_sub(a) + b,
            Wrap::AtRange(_) => b - a,
            Wrap::Bits32 => u64::from((b as u32).wrapping_sub(a as u32)),
        }
    }

    pub fn energy(self, a: u64, b: u64) -> Joules {
        Joules(self.delta(a, b) as f64 * self.joules_per_unit)
    }
}

/// The shared body of `energy_between` for backends whose domains each have one [`Scaling`].
pub(crate) fn energies(
    domains: &[Domain],
    scalings: &[Scaling],
    a: &Snapshot,
    b: &Snapshot,
) -> Vec<DomainEnergy> {
    domains
        .iter()
        .zip(scalings)
        .zip(a.raw.iter().zip(&b.raw))
        .map(|((d, s), (&ra, &rb))| DomainEnergy {
            domain: d.id.clone(),
            energy: s.energy(ra, rb),
        })
        .collect()
}

/// Keeps the domains named in `wanted` (all when it is empty), in the meter's order; fails when
/// one that was asked for does not exist.
pub(crate) fn filter_domains<T>(
    backend: Backend,
    all: Vec<(Domain, T)>,
    wanted: &[String],
) -> Result<Vec<(Domain, T)>, Unavailable> {
    if wanted.is_empty() {
        return Ok(all);
    }
    if let Some(missing) = wanted
        .iter()
        .find(|w| !all.iter().any(|(d, _)| &d.id == *w))
    {
        let offered: Vec<&str> = all.iter().map(|(d, _)| d.id.as_str()).collect();
        return Err(Unavailable::new(
            backend,
            format!(
                "domain {missing} is not offered here (offered: {})",
                offered.join(", ")
            ),
        ));
    }
    Ok(all
        .into_iter()
        .filter(|(d, _)| wanted.contains(&d.id))
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wrap_corrections() {
        let pc = Scaling {
            joules_per_unit: 1e-6,
            wrap: Wrap::AtRange(1_000),
        };
        assert_eq!(pc.delta(100, 300), 200);
        assert_eq!(pc.delta(900, 100), 200);
        let msr = Scaling {
            joules_per_unit: 1.0,
            wrap: Wrap::Bits32,
        };
        assert_eq!(msr.delta(0xFFFF_FFF0, 0x10), 0x20);
        let perf = Scaling {
            joules_per_unit: 1.0,
            wrap: Wrap::Never,
        };
        assert_eq!(perf.delta(10, 5), 0);
    }

    fn dom(id: &str, kind: DomainKind) -> Domain {
        Domain {
            id: id.into(),
            kind,
            scope: Scope::System,
            cpus: vec![],
        }
    }

    #[test]
    fn primary_prefers_package_then_psys() {
        let info = MeterInfo::new(
            Backend::Powercap,
            Provenance::Measured,
            vec![
                dom("psys", DomainKind::Psys),
                dom("dram-0", DomainKind::Dram),
                dom("package-0", DomainKind::Package),
            ],
            None,
        )
        .unwrap();
        assert_eq!(info.primary, "package-0");
        let info = MeterInfo::new(
            Backend::Powercap,
            Provenance::Measured,
            vec![
                dom("cores-0", DomainKind::Cores),
                dom("psys", DomainKind::Psys),
            ],
            None,
        )
        .unwrap();
        assert_eq!(info.primary, "psys");
        assert!(
            MeterInfo::new(
                Backend::Powercap,
                Provenance::Measured,
                vec![dom("dram-0", DomainKind::Dram)],
                None
            )
            .is_none()
        );
    }

    #[test]
    fn unavailable_displays_reason_and_remedy() {
        let u = Unavailable::new(Backend::Perf, "no power PMU").with_remedy("run on bare metal");
        assert_eq!(
            u.to_string(),
            "perf meter unavailable: no power PMU (remedy: run on bare metal)"
        );
    }
}
