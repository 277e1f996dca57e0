//! The run's meter, chosen once, and the measuring lanes its domains allow.
//! Interim: only the estimate until the meters land.

use super::{EngineError, Lane, Slot};
use crate::config::{MeterChoice, RunConfig};
use crate::energy::{Backend, Domain, DomainKind, MeterSpec, Provenance, Scope};
use crate::results::MeterRecord;
use crate::units::Watts;

pub struct Selection {
    pub spec: MeterSpec,
    pub record: MeterRecord,
    /// The scope of the primary domain: what measured windows must not overlap within.
    pub scope: Scope,
}

pub fn select(config: &RunConfig) -> Result<Selection, EngineError> {
    let mut warnings = Vec::new();
    match config.meter {
        MeterChoice::Forced(Backend::Estimate) => {}
        MeterChoice::Auto => warnings.push(
            "no hardware energy meter is readable here: energy is ESTIMATED from CPU time \
             (run `cargo joule doctor` to see why and how to fix it)"
                .to_owned(),
        ),
        MeterChoice::Forced(other) => {
            return Err(EngineError::MeterUnavailable {
                backend: format!("{other:?}").to_lowercase(),
                reason: "not available in this build".into(),
                remedy: None,
            });
        }
    }
    let domain = Domain {
        id: "cpu-estimate".into(),
        kind: DomainKind::Estimated,
        scope: Scope::Process,
        cpus: Vec::new(),
    };
    Ok(Selection {
        spec: MeterSpec {
            backend: Backend::Estimate,
            sysfs_root: config.sysfs_root.clone(),
            domains: vec![domain.id.clone()],
            estimate_watts_per_core: Some(config.estimate_watts_per_core),
        },
        record: MeterRecord {
            backend: Backend::Estimate,
            provenance: Provenance::Estimated,
            estimated: true,
            primary_domain: domain.id.clone(),
            domains: vec![domain],
            estimate_watts_per_core: Some(Watts(config.estimate_watts_per_core)),
            rejected: Vec::new(),
            warnings,
        },
        scope: Scope::Process,
    })
}

/// One lane per unit of the primary domain's scope: per slot for per-process or per-core
/// domains, per package for package domains, one for the whole system.
pub fn lanes(slots: &[Slot], scope: &Scope) -> Vec<Lane> {
    match scope {
        Scope::Process | Scope::Core { .. } => slots.to_vec(),
        Scope::Package { .. } => {
            let mut seen = std::collections::BTreeSet::new();
            slots
                .iter()
                .filter(|s| seen.insert(s.package))
                .cloned()
                .collect()
        }
        Scope::System | Scope::Device { .. } => slots.iter().take(1).cloned().collect(),
    }
}
