//! The run's meter, chosen once, and the measuring lanes its domains allow.

use std::collections::BTreeSet;
use std::path::Path;

use super::{EngineError, Lane, Slot};
use crate::config::RunConfig;
use crate::energy::{self, Domain, MeterInfo, MeterSpec, Scope};
use crate::results::MeterRecord;

pub struct Selection {
    pub spec: MeterSpec,
    pub info: MeterInfo,
    pub record: MeterRecord,
}

pub fn select(config: &RunConfig, sysfs_root: &Path) -> Result<Selection, EngineError> {
    let sel = energy::select(config.meter, sysfs_root, config.estimate_watts_per_core)
        .map_err(EngineError::MeterUnavailable)?;
    Ok(Selection {
        record: sel.record(),
        spec: sel.spec,
        info: sel.info,
    })
}

impl Selection {
    /// The domain whose energy a worker on `cpu` is ranked by: its package's, with several.
    pub fn primary_for(&self, cpu: u32) -> &Domain {
        self.info
            .primary_for_cpu(cpu)
            .or_else(|| self.info.domain(&self.info.primary))
            .expect("a selected meter has its primary domain")
    }

    /// The spec a worker on `cpu` opens: only the domains that can see its work (its package's,
    /// system-wide ones, its own process), so it reads no other package's counters.
    pub fn spec_for(&self, cpu: u32) -> MeterSpec {
        let mut spec = self.spec.clone();
        spec.domains = self
            .info
            .domains
            .iter()
            .filter(|d| covers(d, cpu))
            .map(|d| d.id.clone())
            .collect();
        spec
    }

    /// Domains whose idle power a lane on `cpu` may measure while its own scope is quiet.
    pub fn idle_domains(&self, cpu: u32) -> Vec<String> {
        if matches!(self.primary_for(cpu).scope, Scope::Process) {
            return Vec::new();
        }
        self.spec_for(cpu).domains
    }
}

fn covers(d: &Domain, cpu: u32) -> bool {
    match d.scope {
        Scope::System | Scope::Process | Scope::Device { .. } => true,
        Scope::Package { .. } | Scope::Core { .. } => d.cpus.is_empty() || d.cpus.contains(&cpu),
    }
}

/// One lane per unit of the primary domain's scope: per slot for per-process or per-core
/// domains, per package for package domains, one for the whole system.
pub fn lanes(slots: &[Slot], sel: &Selection) -> Vec<Lane> {
    let mut seen = BTreeSet::new();
    slots
        .iter()
        .filter(|s| {
            let key = match &sel.primary_for(s.cpu).scope {
                Scope::Process => format!("cpu{}", s.cpu),
                Scope::Core { package, core } => format!("core{package}-{core}"),
                Scope::Package { package } => format!("package{package}"),
                Scope::System | Scope::Device { .. } => "system".to_owned(),
            };
            seen.insert(key)
        })
        .cloned()
        .collect()
}
