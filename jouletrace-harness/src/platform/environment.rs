//! The `environment` section of a results file.

use crate::results::Environment;
use crate::sysfs::{Procfs, Sysfs};
use crate::topology::Topology;

/// Probes the machine `sys` describes, with `/proc` from `$JOULETRACE_PROC_ROOT` or `/proc`.
/// `commit`, `rustc`, `worker_cpus` and `orchestrator_cpu` are left for the caller.
pub fn probe_environment(sys: &Sysfs) -> Environment {
    probe_environment_with(sys, &Procfs::from_env())
}

pub fn probe_environment_with(sys: &Sysfs, proc: &Procfs) -> Environment {
    let cpuinfo = proc.cpuinfo().unwrap_or_default();
    let first = cpuinfo.first();
    let field =
        |key: &str| first.and_then(|b| b.iter().find(|(k, _)| k == key).map(|(_, v)| v.clone()));
    let topo = Topology::read(sys).ok();
    let uts = uname();
    Environment {
        cpu_model: field("model name"),
        cpu_vendor: field("vendor_id")
            .map(|v| vendor_name(&v))
            .or_else(|| sys.cpu_id().ok().map(|id| id.vendor.to_string())),
        kernel: uts.as_ref().map(|u| u.release.clone()),
        os: std::env::consts::OS.into(),
        arch: std::env::consts::ARCH.into(),
        hostname: uts.map(|u| u.nodename),
        logical_cpus: topo.as_ref().map_or(0, |t| t.cpus.len() as u32),
        physical_cores: topo.as_ref().map_or(0, |t| t.physical_cores().len() as u32),
        packages: topo.as_ref().map_or(0, |t| t.packages().len() as u32),
        governor: governor(sys),
        turbo: turbo(sys),
        virtualized: virtualization(sys, proc).map(|(vm, _)| vm),
        commit: None,
        rustc: None,
        worker_cpus: Vec::new(),
        orchestrator_cpu: None,
        background: None,
        sandbox: None,
    }
}

fn vendor_name(vendor_id: &str) -> String {
    match vendor_id {
        "GenuineIntel" => "Intel".into(),
        "AuthenticAMD" => "AMD".into(),
        "HygonGenuine" => "Hygon".into(),
        other => other.into(),
    }
}

pub(crate) struct Uname {
    pub release: String,
    pub nodename: String,
}

pub(crate) fn uname() -> Option<Uname> {
    // SAFETY: utsname is plain old data; uname fills it.
    let mut u: libc::utsname = unsafe { std::mem::zeroed() };
    // SAFETY: `u` is a valid, writable utsname.
    if unsafe { libc::uname(&mut u) } != 0 {
        return None;
    }
    let text = |field: &[libc::c_char]| {
        let bytes: Vec<u8> = field
            .iter()
            .take_while(|&&c| c != 0)
            .map(|&c| c as u8)
            .collect();
        String::from_utf8_lossy(&bytes).into_owned()
    };
    Some(Uname {
        release: text(&u.release),
        nodename: text(&u.nodename),
    })
}

/// The scaling governor of every cpufreq policy: one name, or `mixed (a, b)`.
pub(crate) fn governor(sys: &Sysfs) -> Option<String> {
    let policies = sys.list_dir("devices/system/cpu/cpufreq").ok()?;
    let mut names: Vec<String> = policies
        .iter()
        .filter(|p| p.starts_with("policy"))
        .filter_map(|p| {
            sys.read_string(format!("devices/system/cpu/cpufreq/{p}/scaling_governor"))
                .ok()
        })
        .collect();
    names.sort();
    names.dedup();
    match names.len() {
        0 => None,
        1 => names.pop(),
        _ => Some(format!("mixed ({})", names.join(", "))),
    }
}

/// Whether turbo/boost is on: `intel_pstate/no_turbo`, else `cpufreq/boost`.
pub(crate) fn turbo(sys: &Sysfs) -> Option<bool> {
    if let Ok(v) = sys.read_u64("devices/system/cpu/intel_pstate/no_turbo") {
        return Some(v == 0);
    }
    sys.read_u64("devices/system/cpu/cpufreq/boost")
        .ok()
        .map(|v| v != 0)
}

const DMI_HINTS: [&str; 10] = [
    "QEMU",
    "KVM",
    "VMware",
    "VirtualBox",
    "Xen",
    "Virtual Machine",
    "Amazon EC2",
    "Google Compute Engine",
    "Bochs",
    "Parallels",
];

/// Whether this is a VM, and the evidence.
pub(crate) fn virtualization(sys: &Sysfs, proc: &Procfs) -> Option<(bool, String)> {
    let cpuinfo = proc.cpuinfo().ok();
    if let Some(blocks) = &cpuinfo {
        let hv = blocks.first().is_some_and(|b| {
            b.iter()
                .any(|(k, v)| k == "flags" && v.split_whitespace().any(|f| f == "hypervisor"))
        });
        if hv {
            return Some((true, "the CPU reports the `hypervisor` flag".into()));
        }
    }
    for file in ["sys_vendor", "product_name", "bios_vendor"] {
        if let Ok(v) = sys.read_string(format!("class/dmi/id/{file}")) {
            if let Some(hint) = DMI_HINTS.iter().find(|h| v.contains(*h)) {
                return Some((true, format!("DMI {file} is {v:?} ({hint})")));
            }
        }
    }
    cpuinfo.map(|_| (false, "no hypervisor flag, no VM vendor in DMI".into()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::energy::simulate::FakeMachine;

    fn fake_proc(dir: &std::path::Path, flags: &str) -> Procfs {
        let cpuinfo = format!(
            "processor\t: 0\nvendor_id\t: GenuineIntel\nmodel name\t: Intel(R) Xeon(R) Gold 6130\n\
             flags\t\t: fpu sse2 {flags}\n\nprocessor\t: 1\nvendor_id\t: GenuineIntel\n\n"
        );
        std::fs::write(dir.join("cpuinfo"), cpuinfo).unwrap();
        Procfs::new(dir)
    }

    #[test]
    fn fake_two_socket_server() {
        let sys_dir = tempfile::tempdir().unwrap();
        let proc_dir = tempfile::tempdir().unwrap();
        let m = FakeMachine::intel_two_socket(sys_dir.path()).unwrap();
        let env = probe_environment_with(&m.sysfs(), &fake_proc(proc_dir.path(), "rapl"));
        assert_eq!(env.cpu_model.as_deref(), Some("Intel(R) Xeon(R) Gold 6130"));
        assert_eq!(env.cpu_vendor.as_deref(), Some("Intel"));
        assert_eq!(
            (env.logical_cpus, env.physical_cores, env.packages),
            (8, 4, 2)
        );
        assert_eq!(env.governor.as_deref(), Some("performance"));
        assert_eq!(env.turbo, Some(false));
        assert_eq!(env.virtualized, Some(false));
        assert!(env.commit.is_none() && env.rustc.is_none());
    }

    #[test]
    fn hypervisor_flag_means_vm() {
        let sys_dir = tempfile::tempdir().unwrap();
        let proc_dir = tempfile::tempdir().unwrap();
        let m = FakeMachine::amd_per_core(sys_dir.path()).unwrap();
        let env = probe_environment_with(&m.sysfs(), &fake_proc(proc_dir.path(), "hypervisor"));
        assert_eq!(env.virtualized, Some(true));
        assert_eq!(env.turbo, Some(true));
    }

    #[test]
    fn this_machine() {
        let env = probe_environment(&Sysfs::default());
        assert!(env.logical_cpus >= 1);
        assert!(env.kernel.is_some());
        assert!(env.cpu_model.is_some());
    }
}
