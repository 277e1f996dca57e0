//! Energy meters: one trait, one file per backend.
//!
//! INTERFACE SKETCH — the backends are filled in by the meters work. The types below are the
//! contract the engine, the worker protocol and the results depend on.

use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use crate::units::Joules;

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
