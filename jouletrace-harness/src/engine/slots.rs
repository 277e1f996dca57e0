//! The CPUs workers run on: one per physical core, never two SMT siblings.

use super::EngineError;
use crate::config::{CoreSelection, RunConfig};
use crate::sysfs::Sysfs;
use crate::topology::Topology;

/// A CPU a worker runs on.
#[derive(Clone, Debug)]
pub(crate) struct Slot {
    pub cpu: u32,
    pub package: Option<u32>,
}

/// A measuring lane: one slot whose measured windows may overlap with other lanes' (they are in
/// different energy-domain scopes).
pub(crate) type Lane = Slot;

pub fn slots(config: &RunConfig, sys: &Sysfs) -> Result<Vec<Slot>, EngineError> {
    let topo = Topology::read(sys).map_err(EngineError::Topology)?;
    let allowed = nix::sched::sched_getaffinity(nix::unistd::Pid::from_raw(0))
        .map_err(|e| EngineError::Affinity(e.into()))?;
    // A fake sysfs tree (tests, containers with a mounted host /sys) may describe CPUs this
    // process cannot use; then only the affinity mask decides.
    let usable = |cpu: u32| allowed.is_set(cpu as usize).unwrap_or(false);
    let wanted: Vec<u32> = match &config.cores {
        CoreSelection::AllPhysical => topo
            .representatives()
            .into_iter()
            .filter(|&c| usable(c) && !topo.is_isolated(c))
            .collect(),
        CoreSelection::List(list) => {
            for &c in list {
                if !usable(c) {
                    return Err(EngineError::Cores(format!(
                        "CPU {c} is not available to this process (allowed: {:?})",
                        topo.online()
                            .into_iter()
                            .filter(|&c| usable(c))
                            .collect::<Vec<_>>()
                    )));
                }
            }
            let mut seen = std::collections::BTreeSet::new();
            list.iter()
                .copied()
                .filter(|&c| seen.insert(topo.core_of(c).map(|k| k.representative()).unwrap_or(c)))
                .collect()
        }
    };
    if wanted.is_empty() {
        return Err(EngineError::Cores(
            "no CPU left to run workers on (all isolated or outside this process's affinity)"
                .into(),
        ));
    }
    Ok(wanted
        .into_iter()
        .map(|cpu| Slot {
            cpu,
            package: topo.package_of(cpu),
        })
        .collect())
}
