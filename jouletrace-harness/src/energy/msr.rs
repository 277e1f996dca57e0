//! RAPL read straight from model-specific registers through `/dev/cpu/N/msr`.
//!
//! Used only when forced with `--meter msr`: raw MSR access needs root (CAP_SYS_RAWIO) and is
//! the surface the PLATYPUS attack used, so JouleTrace never picks it on its own.
//!
//! Registers (offsets into the msr device file):
//! - Intel: `0x606` unit, `0x611` package, `0x619` dram, `0x639` PP0 (cores), `0x641` PP1
//!   (uncore/GPU), `0x64D` platform (psys). Energy unit 2^-ESU J with ESU in bits 12:8 of
//!   `0x606`; server parts count DRAM in a fixed 2^-16 J (15.3 µJ) whatever `0x606` says.
//! - AMD (family 17h and later): `0xC0010299` unit, `0xC001029A` core (per physical core, read
//!   on one of its CPUs), `0xC001029B` package.
//!
//! Status registers are 32 bits wide; one wrap between readings is corrected.
//! `JOULETRACE_MSR_DEV_ROOT` relocates `/dev`; tests read registers through [`MsrDevice`] fakes.

use std::collections::HashMap;
use std::fs::File;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};

use crate::energy::{
    Backend, Domain, DomainEnergy, DomainKind, Meter, MeterError, MeterInfo, Provenance,
    ReadFailure, Scaling, Scope, Snapshot, Unavailable, Wrap, energies, filter_domains,
    take_snapshot,
};
use crate::sysfs::{CpuVendor, Sysfs};
use crate::topology::Topology;

/// Overrides the device root (default `/dev`).
pub const DEV_ROOT_ENV: &str = "JOULETRACE_MSR_DEV_ROOT";

pub const INTEL_POWER_UNIT: u64 = 0x606;
pub const INTEL_PKG_ENERGY: u64 = 0x611;
pub const INTEL_DRAM_ENERGY: u64 = 0x619;
pub const INTEL_PP0_ENERGY: u64 = 0x639;
pub const INTEL_PP1_ENERGY: u64 = 0x641;
pub const INTEL_PLATFORM_ENERGY: u64 = 0x64D;
pub const AMD_POWER_UNIT: u64 = 0xC001_0299;
pub const AMD_CORE_ENERGY: u64 = 0xC001_029A;
pub const AMD_PKG_ENERGY: u64 = 0xC001_029B;

/// Intel family-6 server models whose DRAM domain counts in 2^-16 J (Haswell-EP onwards, and
/// Xeon Phi), as the Linux RAPL driver lists them.
const FIXED_DRAM_UNIT_MODELS: [u32; 12] = [
    0x3F, 0x4F, 0x56, 0x55, 0x57, 0x85, 0x6A, 0x6C, 0x8F, 0xCF, 0xAD, 0xAE,
];

/// `$JOULETRACE_MSR_DEV_ROOT`, or `/dev`.
pub fn dev_root() -> PathBuf {
    std::env::var_os(DEV_ROOT_ENV)
        .filter(|v| !v.is_empty())
        .map_or_else(|| PathBuf::from("/dev"), PathBuf::from)
}

/// Joules per count from a unit register (ESU in bits 12:8).
pub fn energy_unit(unit_register: u64) -> f64 {
    let esu = (unit_register >> 8) & 0x1F;
    0.5f64.powi(esu as i32)
}

/// Where register values come from: the msr device, or a fake in tests.
pub trait MsrDevice: Send {
    /// The 64-bit value of `register` on logical CPU `cpu`.
    fn read(&mut self, cpu: u32, register: u64) -> std::io::Result<u64>;
    /// Names the source in messages (`/dev/cpu/3/msr`).
    fn describe(&self, cpu: u32) -> String;
}

/// `/dev/cpu/N/msr`: the file offset is the register number.
pub struct DevMsr {
    root: PathBuf,
    files: HashMap<u32, File>,
}

impl DevMsr {
    pub fn new(dev_root: impl Into<PathBuf>) -> DevMsr {
        DevMsr {
            root: dev_root.into(),
            files: HashMap::new(),
        }
    }

    fn path(&self, cpu: u32) -> PathBuf {
        self.root.join(format!("cpu/{cpu}/msr"))
    }
}

impl MsrDevice for DevMsr {
    fn read(&mut self, cpu: u32, register: u64) -> std::io::Result<u64> {
        let file = match self.files.entry(cpu) {
            std::collections::hash_map::Entry::Occupied(o) => o.into_mut(),
            std::collections::hash_map::Entry::Vacant(v) => {
                v.insert(File::open(self.root.join(format!("cpu/{cpu}/msr")))?)
            }
        };
        let mut buf = [0u8; 8];
        file.read_exact_at(&mut buf, register)?;
        Ok(u64::from_le_bytes(buf))
    }

    fn describe(&self, cpu: u32) -> String {
        self.path(cpu).display().to_string()
    }
}

fn unavailable(device: &dyn MsrDevice, cpu: u32, what: &str, e: &std::io::Error) -> Unavailable {
    let path = device.describe(cpu);
    match e.kind() {
        std::io::ErrorKind::NotFound => Unavailable::new(
            Backend::Msr,
            format!("{path} does not exist (the msr driver is not loaded)"),
        )
        .with_remedy("`sudo modprobe msr`, then run as root"),
        std::io::ErrorKind::PermissionDenied => Unavailable::new(
            Backend::Msr,
            format!("{path}: permission denied (MSRs need root with CAP_SYS_RAWIO)"),
        )
        .with_remedy("run as root, or prefer `--meter perf` / `--meter powercap`"),
        _ => Unavailable::new(Backend::Msr, format!("{path}: reading {what}: {e}")),
    }
}

struct Register {
    domain: Domain,
    cpu: u32,
    register: u64,
    unit: f64,
}

pub struct MsrMeter {
    info: MeterInfo,
    device: Box<dyn MsrDevice>,
    registers: Vec<(u32, u64)>,
    scalings: Vec<Scaling>,
}

impl MsrMeter {
    /// Opens the registers of every package through `/dev/cpu/N/msr` under `dev` (all domains
    /// when `wanted` is empty).
    pub fn open(sys: &Sysfs, dev: &Path, wanted: &[String]) -> Result<MsrMeter, Unavailable> {
        MsrMeter::open_with(sys, Box::new(DevMsr::new(dev)), wanted)
    }

    /// Like [`MsrMeter::open`], over any register source.
    pub fn open_with(
        sys: &Sysfs,
        mut device: Box<dyn MsrDevice>,
        wanted: &[String],
    ) -> Result<MsrMeter, Unavailable> {
        let id = sys.cpu_id().map_err(|e| {
            Unavailable::new(Backend::Msr, format!("cannot tell the CPU vendor: {e}"))
        })?;
        let topo =
            Topology::read(sys).map_err(|e| Unavailable::new(Backend::Msr, e.to_string()))?;
        let mut planned: Vec<Register> = Vec::new();
        let package_domain = |kind: DomainKind, pkg: u32| Domain {
            id: format!("{}-{pkg}", super::perf::kind_prefix(kind)),
            kind,
            scope: Scope::Package { package: pkg },
            cpus: topo.package_cpus(pkg),
        };
        let (unit_register, unit_name) = if id.vendor.is_amd_like() {
            (AMD_POWER_UNIT, "the RAPL unit register 0xC0010299")
        } else {
            (INTEL_POWER_UNIT, "the RAPL unit register 0x606")
        };
        match id.vendor {
            CpuVendor::Intel | CpuVendor::Amd | CpuVendor::Hygon => {}
            other => {
                return Err(Unavailable::new(
                    Backend::Msr,
                    format!("no RAPL registers are known for {other} CPUs"),
                ));
            }
        }
        let fixed_dram = id.vendor == CpuVendor::Intel
            && id.family == 6
            && FIXED_DRAM_UNIT_MODELS.contains(&id.model);
        let packages = topo.packages();
        for &pkg in &packages {
            let cpu = topo.package_cpus(pkg)[0];
            let unit = energy_unit(
                device
                    .read(cpu, unit_register)
                    .map_err(|e| unavailable(device.as_ref(), cpu, unit_name, &e))?,
            );
            if id.vendor.is_amd_like() {
                planned.push(Register {
                    domain: package_domain(DomainKind::Package, pkg),
                    cpu,
                    register: AMD_PKG_ENERGY,
                    unit,
                });
                for core in topo
                    .physical_cores()
                    .into_iter()
                    .filter(|c| c.package == pkg)
                {
                    planned.push(Register {
                        domain: Domain {
                            id: format!("core-{pkg}-{}", core.core_id),
                            kind: DomainKind::Core,
                            scope: Scope::Core {
                                package: pkg,
                                core: core.core_id,
                            },
                            cpus: core.cpus.clone(),
                        },
                        cpu: core.representative(),
                        register: AMD_CORE_ENERGY,
                        unit,
                    });
                }
                continue;
            }
            let dram_unit = if fixed_dram { 0.5f64.powi(16) } else { unit };
            for (kind, register, unit) in [
                (DomainKind::Package, INTEL_PKG_ENERGY, unit),
                (DomainKind::Cores, INTEL_PP0_ENERGY, unit),
                (DomainKind::Uncore, INTEL_PP1_ENERGY, unit),
                (DomainKind::Dram, INTEL_DRAM_ENERGY, dram_unit),
            ] {
                planned.push(Register {
                    domain: package_domain(kind, pkg),
                    cpu,
                    register,
                    unit,
                });
            }
            if pkg == packages[0] {
                planned.push(Register {
                    domain: Domain {
                        id: "psys".into(),
                        kind: DomainKind::Psys,
                        scope: Scope::System,
                        cpus: Vec::new(),
                    },
                    cpu,
                    register: INTEL_PLATFORM_ENERGY,
                    unit,
                });
            }
        }

        let planned = filter_domains(
            Backend::Msr,
            planned.into_iter().map(|r| (r.domain.clone(), r)).collect(),
            wanted,
        )?;
        let explicit = !wanted.is_empty();
        let mut domains = Vec::new();
        let mut registers = Vec::new();
        let mut scalings = Vec::new();
        for (domain, reg) in planned {
            let optional = !explicit && domain.kind != DomainKind::Package;
            match device.read(reg.cpu, reg.register) {
                // A live energy counter is practically never exactly 0; a register that is
                // (PP1 on servers, psys on older parts) belongs to a domain this CPU lacks.
                Ok(0) | Err(_) if optional => continue,
                Ok(_) => {}
                Err(e) => {
                    let what = format!("MSR {:#x} for {}", reg.register, domain.id);
                    return Err(unavailable(device.as_ref(), reg.cpu, &what, &e));
                }
            }
            domains.push(domain);
            registers.push((reg.cpu, reg.register));
            scalings.push(Scaling {
                joules_per_unit: reg.unit,
                wrap: Wrap::Bits32,
            });
        }
        let info = MeterInfo::new(Backend::Msr, Provenance::Measured, domains, None)
            .ok_or_else(|| Unavailable::new(Backend::Msr, "no package energy register read"))?;
        Ok(MsrMeter {
            info,
            device,
            registers,
            scalings,
        })
    }
}

impl Meter for MsrMeter {
    fn info(&self) -> &MeterInfo {
        &self.info
    }

    fn read(&mut self) -> Result<Snapshot, MeterError> {
        let (device, registers) = (&mut self.device, &self.registers);
        take_snapshot(Backend::Msr, &self.info.domains, |i| {
            let (cpu, register) = registers[i];
            // Only the low 32 bits are the counter; the rest is reserved.
            device
                .read(cpu, register)
                .map(|v| v & 0xFFFF_FFFF)
                .map_err(|e| {
                    let name = format!("MSR {register:#x} in {}", device.describe(cpu));
                    (name, ReadFailure::Io(e))
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
    use crate::energy::simulate::{FakeMachine, FakeMsr};

    #[test]
    fn unit_decoding() {
        // ESU = 14 → 61 µJ; ESU = 16 → 15.3 µJ.
        assert!((energy_unit(0x000A_0E03) - 6.103_515_625e-5).abs() < 1e-15);
        assert!((energy_unit(0x10 << 8) - 1.525_878_906_25e-5).abs() < 1e-15);
    }

    #[test]
    fn intel_server_with_fixed_dram_unit_and_wrap() {
        let dir = tempfile::tempdir().unwrap();
        let m = FakeMachine::intel_two_socket(dir.path()).unwrap();
        let dev = FakeMsr::default();
        // ESU 14 for the package; the DRAM unit is fixed at 2^-16 J on this server model.
        for cpu in [0, 2] {
            dev.set(cpu, INTEL_POWER_UNIT, 0x000A_0E03);
            dev.set(cpu, INTEL_PKG_ENERGY, 0xFFFF_FF00);
            dev.set(cpu, INTEL_DRAM_ENERGY, 100);
        }
        let mut meter = MsrMeter::open_with(&m.sysfs(), Box::new(dev.clone()), &[]).unwrap();
        let ids: Vec<&str> = meter.info().domains.iter().map(|d| d.id.as_str()).collect();
        assert_eq!(ids, vec!["package-0", "dram-0", "package-1", "dram-1"]);
        let a = meter.read().unwrap();
        // The package counter wraps: 0xFFFFFF00 → 0x100 is 0x200 counts.
        dev.set(0, INTEL_PKG_ENERGY, 0x100);
        dev.set(0, INTEL_DRAM_ENERGY, 100 + 65_536);
        let b = meter.read().unwrap();
        let e = meter.energy_between(&a, &b);
        assert!((e[0].energy.get() - 512.0 * 6.103_515_625e-5).abs() < 1e-12);
        assert!((e[1].energy.get() - 1.0).abs() < 1e-12, "{e:?}");
        assert_eq!(e[2].energy.get(), 0.0);
    }

    #[test]
    fn amd_per_core_registers() {
        let dir = tempfile::tempdir().unwrap();
        let m = FakeMachine::amd_per_core(dir.path()).unwrap();
        let dev = FakeMsr::default();
        for cpu in 0..4 {
            dev.set(cpu, AMD_POWER_UNIT, 0x000A_1003);
            dev.set(cpu, AMD_CORE_ENERGY, 1000 + u64::from(cpu));
        }
        dev.set(0, AMD_PKG_ENERGY, 5);
        let meter = MsrMeter::open_with(&m.sysfs(), Box::new(dev), &[]).unwrap();
        let ids: Vec<&str> = meter.info().domains.iter().map(|d| d.id.as_str()).collect();
        assert_eq!(
            ids,
            vec!["package-0", "core-0-0", "core-0-1", "core-0-2", "core-0-3"]
        );
        assert_eq!(meter.info().primary, "package-0");
    }

    #[test]
    fn missing_device_explains_modprobe() {
        let dir = tempfile::tempdir().unwrap();
        let m = FakeMachine::intel_two_socket(dir.path()).unwrap();
        let err = MsrMeter::open(&m.sysfs(), &dir.path().join("nodev"), &[])
            .err()
            .unwrap();
        assert!(err.reason.contains("msr driver"), "{}", err.reason);
        assert!(err.remedy.unwrap().contains("modprobe msr"));
    }
}
