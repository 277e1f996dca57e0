//! CPUs the workers run on. Interim: reads sysfs directly until `topology` lands.

use std::collections::BTreeSet;

use super::{EngineError, Slot};
use crate::config::{CoreSelection, RunConfig};

fn read(path: String) -> Option<String> {
    std::fs::read_to_string(path)
        .ok()
        .map(|s| s.trim().to_owned())
}

fn first_of_list(list: &str) -> Option<u32> {
    list.split([',', '-']).next()?.parse().ok()
}

pub fn slots(config: &RunConfig) -> Result<Vec<Slot>, EngineError> {
    let allowed = nix::sched::sched_getaffinity(nix::unistd::Pid::from_raw(0))
        .map_err(|e| EngineError::Cores(format!("cannot read this process's CPU affinity: {e}")))?;
    let root = config.sysfs_root.display().to_string();
    let cpus: Vec<u32> = (0..nix::sched::CpuSet::count() as u32)
        .filter(|c| allowed.is_set(*c as usize).unwrap_or(false))
        .collect();
    let wanted: Vec<u32> = match &config.cores {
        CoreSelection::AllPhysical => cpus.clone(),
        CoreSelection::List(list) => {
            for c in list {
                if !cpus.contains(c) {
                    return Err(EngineError::Cores(format!(
                        "CPU {c} is not available to this process (allowed: {cpus:?})"
                    )));
                }
            }
            list.clone()
        }
    };
    let mut seen_cores = BTreeSet::new();
    let mut out = Vec::new();
    for cpu in wanted {
        let base = format!("{root}/devices/system/cpu/cpu{cpu}/topology");
        let package = read(format!("{base}/physical_package_id")).and_then(|s| s.parse().ok());
        let core = read(format!("{base}/core_cpus_list"))
            .or_else(|| read(format!("{base}/thread_siblings_list")))
            .and_then(|l| first_of_list(&l))
            .unwrap_or(cpu);
        if seen_cores.insert(core) {
            out.push(Slot { cpu, package });
        }
    }
    if out.is_empty() {
        return Err(EngineError::Cores("no CPU left to run workers on".into()));
    }
    Ok(out)
}
