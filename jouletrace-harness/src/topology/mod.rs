//! CPU topology from sysfs: online CPUs, packages, physical cores, SMT siblings, isolated CPUs.
//!
//! The pool runs one worker per physical core and keeps the SMT siblings of a measuring core
//! idle; the scheduler needs to know which CPUs share a package, because package-wide energy
//! counters see every core of it. Everything here comes from
//! `devices/system/cpu/cpuN/topology/*` under a [`Sysfs`] root, so fake trees describe fake
//! machines.
//!
//! ```no_run
//! use jouletrace::{sysfs::Sysfs, topology::Topology};
//! let topo = Topology::read(&Sysfs::from_env())?;
//! for cpu in topo.representatives() {
//!     println!("worker on CPU {cpu}, package {}", topo.package_of(cpu).unwrap());
//! }
//! # Ok::<(), jouletrace::topology::TopologyError>(())
//! ```

use serde::{Deserialize, Serialize};

use crate::sysfs::{Sysfs, SysfsError};

/// One online logical CPU.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct LogicalCpu {
    pub cpu: u32,
    /// `physical_package_id` (0 when the kernel does not say).
    pub package: u32,
    pub die: u32,
    /// `core_id`: unique within a package only.
    pub core_id: u32,
    /// The online logical CPUs of the same physical core, this one included, sorted.
    pub core_cpus: Vec<u32>,
}

/// One physical core and its online hardware threads.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PhysicalCore {
    pub package: u32,
    pub core_id: u32,
    /// Sorted; the first is the core's representative.
    pub cpus: Vec<u32>,
}

impl PhysicalCore {
    pub fn representative(&self) -> u32 {
        self.cpus[0]
    }
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Topology {
    /// Online logical CPUs, sorted.
    pub cpus: Vec<LogicalCpu>,
    /// `devices/system/cpu/isolated` (the `isolcpus=` boot parameter).
    pub isolated: Vec<u32>,
    /// `devices/system/cpu/nohz_full` (tickless CPUs).
    pub nohz_full: Vec<u32>,
}

#[derive(Debug, thiserror::Error)]
pub enum TopologyError {
    #[error("cannot read the CPU topology: {0}")]
    Sysfs(#[from] SysfsError),
    #[error("{path}: no online CPUs listed")]
    NoCpus { path: String },
}

impl Topology {
    /// Reads the topology of the online CPUs. Missing per-CPU topology files (some VMs, some
    /// architectures) degrade to "every CPU is its own core in package 0" rather than failing.
    pub fn read(sys: &Sysfs) -> Result<Topology, TopologyError> {
        let online = sys.read_cpu_list("devices/system/cpu/online")?;
        if online.is_empty() {
            return Err(TopologyError::NoCpus {
                path: sys.path("devices/system/cpu/online").display().to_string(),
            });
        }
        let optional_list = |rel: &str| -> Result<Vec<u32>, SysfsError> {
            match sys.read_cpu_list(rel) {
                Ok(l) => Ok(l),
                Err(e) if e.is_not_found() => Ok(Vec::new()),
                Err(e) => Err(e),
            }
        };
        let isolated = optional_list("devices/system/cpu/isolated")?;
        let nohz_full = optional_list("devices/system/cpu/nohz_full")?;

        let mut cpus = Vec::with_capacity(online.len());
        for &cpu in &online {
            let dir = format!("devices/system/cpu/cpu{cpu}/topology");
            let id = |name: &str| -> Result<Option<u32>, SysfsError> {
                // physical_package_id and die_id are -1 where the platform does not know them.
                match sys.read_string(format!("{dir}/{name}")) {
                    Ok(s) => Ok(Some(s.trim().parse::<i64>().map_or(0, |v| v.max(0) as u32))),
                    Err(e) if e.is_not_found() => Ok(None),
                    Err(e) => Err(e),
                }
            };
            let package = id("physical_package_id")?.unwrap_or(0);
            let die = id("die_id")?.unwrap_or(0);
            let core_id = id("core_id")?.unwrap_or(cpu);
            // core_cpus_list is the current name; thread_siblings_list is the older one.
            let mut core_cpus = match sys.read_cpu_list(format!("{dir}/core_cpus_list")) {
                Ok(l) => l,
                Err(e) if e.is_not_found() => {
                    match sys.read_cpu_list(format!("{dir}/thread_siblings_list")) {
                        Ok(l) => l,
                        Err(e) if e.is_not_found() => vec![cpu],
                        Err(e) => return Err(e.into()),
                    }
                }
                Err(e) => return Err(e.into()),
            };
            core_cpus.retain(|c| online.binary_search(c).is_ok());
            if !core_cpus.contains(&cpu) {
                core_cpus.push(cpu);
                core_cpus.sort_unstable();
            }
            cpus.push(LogicalCpu {
                cpu,
                package,
                die,
                core_id,
                core_cpus,
            });
        }
        Ok(Topology {
            cpus,
            isolated,
            nohz_full,
        })
    }

    pub fn online(&self) -> Vec<u32> {
        self.cpus.iter().map(|c| c.cpu).collect()
    }

    pub fn cpu(&self, cpu: u32) -> Option<&LogicalCpu> {
        self.cpus
            .binary_search_by_key(&cpu, |c| c.cpu)
            .ok()
            .map(|i| &self.cpus[i])
    }

    /// Package ids, sorted.
    pub fn packages(&self) -> Vec<u32> {
        let mut p: Vec<u32> = self.cpus.iter().map(|c| c.package).collect();
        p.sort_unstable();
        p.dedup();
        p
    }

    pub fn package_of(&self, cpu: u32) -> Option<u32> {
        self.cpu(cpu).map(|c| c.package)
    }

    /// Online CPUs of a package, sorted.
    pub fn package_cpus(&self, package: u32) -> Vec<u32> {
        self.cpus
            .iter()
            .filter(|c| c.package == package)
            .map(|c| c.cpu)
            .collect()
    }

    /// Physical cores, ordered by their first logical CPU.
    pub fn physical_cores(&self) -> Vec<PhysicalCore> {
        let mut cores: Vec<PhysicalCore> = Vec::new();
        for c in &self.cpus {
            if c.core_cpus[0] == c.cpu {
                cores.push(PhysicalCore {
                    package: c.package,
                    core_id: c.core_id,
                    cpus: c.core_cpus.clone(),
                });
            }
        }
        cores
    }

    /// The physical core a logical CPU belongs to.
    pub fn core_of(&self, cpu: u32) -> Option<PhysicalCore> {
        let c = self.cpu(cpu)?;
        Some(PhysicalCore {
            package: c.package,
            core_id: c.core_id,
            cpus: c.core_cpus.clone(),
        })
    }

    /// One logical CPU per physical core (the lowest-numbered thread), sorted.
    pub fn representatives(&self) -> Vec<u32> {
        self.physical_cores()
            .iter()
            .map(PhysicalCore::representative)
            .collect()
    }

    /// The other hardware threads of `cpu`'s physical core.
    pub fn smt_siblings(&self, cpu: u32) -> Vec<u32> {
        self.cpu(cpu)
            .map(|c| c.core_cpus.iter().copied().filter(|&s| s != cpu).collect())
            .unwrap_or_default()
    }

    /// Whether any physical core has more than one online thread.
    pub fn smt_active(&self) -> bool {
        self.cpus.iter().any(|c| c.core_cpus.len() > 1)
    }

    pub fn is_isolated(&self, cpu: u32) -> bool {
        self.isolated.contains(&cpu)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::energy::simulate::FakeMachine;

    #[test]
    fn two_sockets_with_smt() {
        let dir = tempfile::tempdir().unwrap();
        let m = FakeMachine::intel_two_socket(dir.path()).unwrap();
        let topo = Topology::read(&m.sysfs()).unwrap();
        assert_eq!(topo.online(), (0..8).collect::<Vec<_>>());
        assert_eq!(topo.packages(), vec![0, 1]);
        assert_eq!(topo.physical_cores().len(), 4);
        // Siblings are n and n+4, as Linux numbers them on Intel servers.
        assert_eq!(topo.representatives(), vec![0, 1, 2, 3]);
        assert_eq!(topo.smt_siblings(1), vec![5]);
        assert_eq!(topo.smt_siblings(5), vec![1]);
        assert_eq!(topo.package_cpus(1), vec![2, 3, 6, 7]);
        assert_eq!(topo.package_of(6), Some(1));
        assert!(topo.smt_active());
        assert_eq!(topo.isolated, vec![3, 7]);
        assert_eq!(topo.nohz_full, vec![3, 7]);
        assert!(topo.is_isolated(7));
    }

    #[test]
    fn offline_siblings_are_dropped() {
        let dir = tempfile::tempdir().unwrap();
        let m = FakeMachine::intel_two_socket(dir.path()).unwrap();
        std::fs::write(dir.path().join("devices/system/cpu/online"), "0-4,6-7\n").unwrap();
        let topo = Topology::read(&m.sysfs()).unwrap();
        assert_eq!(topo.smt_siblings(1), Vec::<u32>::new());
        assert_eq!(topo.physical_cores().len(), 4);
    }

    #[test]
    fn missing_topology_files_degrade() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join("devices/system/cpu")).unwrap();
        std::fs::write(dir.path().join("devices/system/cpu/online"), "0-1\n").unwrap();
        let topo = Topology::read(&Sysfs::new(dir.path())).unwrap();
        assert_eq!(topo.representatives(), vec![0, 1]);
        assert_eq!(topo.packages(), vec![0]);
        assert!(topo.isolated.is_empty());
    }

    #[test]
    fn this_machine() {
        let topo = Topology::read(&Sysfs::default()).unwrap();
        assert!(!topo.representatives().is_empty());
        for cpu in topo.online() {
            assert!(topo.package_of(cpu).is_some());
        }
    }
}
