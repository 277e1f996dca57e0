//! What the sandbox allows, built in the parent before `fork`: the Landlock ruleset, the seccomp
//! programs and the worker's cgroups.

use std::collections::BTreeMap;
use std::os::fd::OwnedFd;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use landlock::{
    ABI, Access, AccessFs, AccessNet, BitFlags, PathBeneath, PathFd, Ruleset, RulesetAttr,
    RulesetCreatedAttr, Scope,
};
use seccompiler::{
    BpfProgram, SeccompAction, SeccompCmpArgLen, SeccompCmpOp, SeccompCondition, SeccompFilter,
    SeccompRule, TargetArch,
};

/// The newest Landlock ABI this code was written against; on older kernels the crate drops the
/// rights they lack (best effort) and [`super::Probe`] records the kernel's ABI.
const LANDLOCK_ABI: ABI = ABI::V7;

/// System paths any program may read and execute: the loader, libraries, interpreters'
/// standard libraries. `/etc` only by the files programs need (never `/etc/shadow`).
pub(super) const SYSTEM_READ: &[&str] = &[
    "/usr",
    "/lib",
    "/lib64",
    "/lib32",
    "/bin",
    "/sbin",
    "/etc/ld.so.cache",
    "/etc/ld.so.conf",
    "/etc/ld.so.conf.d",
    "/etc/localtime",
    "/etc/nsswitch.conf",
    "/etc/passwd",
    "/etc/group",
    "/etc/os-release",
    "/etc/alternatives",
    "/etc/python3",
    "/etc/python3.11",
    "/proc",
    // CPU topology (the Rust worker and `os.cpu_count` consult it); energy lives elsewhere
    // (/sys/class/powercap → /sys/devices/virtual/powercap).
    "/sys/devices/system/cpu",
    "/sys/fs/cgroup",
];

/// System paths a compiler (rustc, `cc`, the linker) may read and execute: the loader and the
/// system libraries it links against, and nothing of `/etc` but the loader's cache. Narrower
/// than [`SYSTEM_READ`] on purpose: a submission's `include_str!("/etc/passwd")` or
/// `#[path = "/etc/…"]` is read by the compiler, so every file it may name is listed here.
pub(super) const COMPILER_READ: &[&str] = &[
    "/usr",
    "/lib",
    "/lib64",
    "/bin",
    "/etc/ld.so.cache",
    "/etc/ld.so.conf",
    "/etc/ld.so.conf.d",
    "/proc",
    // std's `available_parallelism` (rustc sizes its thread pool with it) reads the CPU list and
    // the cgroup's CPU quota.
    "/sys/devices/system/cpu",
    "/sys/fs/cgroup",
];

/// Devices a program may open for reading and writing.
const DEVICES: &[&str] = &[
    "/dev/null",
    "/dev/zero",
    "/dev/full",
    "/dev/random",
    "/dev/urandom",
];

/// The ruleset as an fd the child hands to `landlock_restrict_self`: `read` (read and execute),
/// the system paths (`system`: [`SYSTEM_READ`] for workers, [`COMPILER_READ`] for builds), the
/// devices, and `workdir` with every right.
pub(super) fn landlock_ruleset(
    _kernel_abi: i32,
    system: &[&str],
    read: &[PathBuf],
    workdir: &Path,
) -> std::io::Result<OwnedFd> {
    let abi = LANDLOCK_ABI;
    let to_io = |e: landlock::RulesetError| std::io::Error::other(e.to_string());
    let read_rights = AccessFs::from_read(abi);
    let mut ruleset = Ruleset::default()
        .handle_access(AccessFs::from_all(abi))
        .map_err(to_io)?
        // No TCP bind or connect at all (kernels with ABI ≥ 4); the network namespace is the
        // first wall, this is the second.
        .handle_access(AccessNet::from_all(abi))
        .map_err(to_io)?
        // No signals to, and no abstract Unix sockets of, processes outside the sandbox
        // (ABI ≥ 6).
        .scope(Scope::from_all(abi))
        .map_err(to_io)?
        .create()
        .map_err(to_io)?;
    let mut add = |path: &Path, rights: BitFlags<AccessFs>| -> std::io::Result<()> {
        let Ok(fd) = PathFd::new(path) else {
            // A path this machine does not have (/lib32) grants nothing.
            return Ok(());
        };
        let rights = if path.is_dir() {
            rights
        } else {
            rights & file_rights(abi)
        };
        (&mut ruleset)
            .add_rule(PathBeneath::new(fd, rights))
            .map_err(to_io)?;
        Ok(())
    };
    for p in system {
        add(Path::new(p), read_rights)?;
    }
    for p in read {
        add(p, read_rights)?;
    }
    for d in DEVICES {
        add(
            Path::new(d),
            read_rights | AccessFs::WriteFile | AccessFs::IoctlDev,
        )?;
    }
    add(workdir, AccessFs::from_all(abi))?;
    let fd: Option<OwnedFd> = ruleset.into();
    fd.ok_or_else(|| std::io::Error::other("landlock is not supported by this kernel"))
}

/// The read rights the ruleset handles on this kernel, as raw bits (for the child's rule on its
/// fresh `/proc`): the crate's best-effort mode drops what the kernel lacks, so the raw rule must
/// too, or `landlock_add_rule` refuses it.
pub(super) fn read_bits(kernel_abi: i32) -> u64 {
    let abi = ABI::from(kernel_abi.min(LANDLOCK_ABI as i32));
    AccessFs::from_read(abi).bits()
}

/// Rights that apply to a file (as opposed to a directory).
fn file_rights(abi: ABI) -> BitFlags<AccessFs> {
    AccessFs::from_all(abi)
        & (AccessFs::Execute
            | AccessFs::WriteFile
            | AccessFs::ReadFile
            | AccessFs::Truncate
            | AccessFs::IoctlDev)
}

fn arch() -> Result<TargetArch, String> {
    TargetArch::try_from(std::env::consts::ARCH).map_err(|e| e.to_string())
}

/// System calls a candidate has no business making, answered with EPERM.
fn denied(energy: bool) -> Vec<i64> {
    let mut calls = vec![
        libc::SYS_ptrace,
        libc::SYS_process_vm_readv,
        libc::SYS_process_vm_writev,
        libc::SYS_bpf,
        libc::SYS_mount,
        libc::SYS_umount2,
        libc::SYS_pivot_root,
        libc::SYS_chroot,
        libc::SYS_move_mount,
        libc::SYS_open_tree,
        libc::SYS_fsopen,
        libc::SYS_fsconfig,
        libc::SYS_fsmount,
        libc::SYS_fspick,
        libc::SYS_mount_setattr,
        libc::SYS_kexec_load,
        libc::SYS_kexec_file_load,
        libc::SYS_init_module,
        libc::SYS_finit_module,
        libc::SYS_delete_module,
        libc::SYS_reboot,
        libc::SYS_swapon,
        libc::SYS_swapoff,
        libc::SYS_keyctl,
        libc::SYS_add_key,
        libc::SYS_request_key,
        libc::SYS_setns,
        libc::SYS_unshare,
        libc::SYS_open_by_handle_at,
        libc::SYS_name_to_handle_at,
        libc::SYS_userfaultfd,
        // io_uring performs socket and file operations without the system calls this filter
        // inspects.
        libc::SYS_io_uring_setup,
        libc::SYS_io_uring_enter,
        libc::SYS_io_uring_register,
        libc::SYS_acct,
        libc::SYS_quotactl,
        libc::SYS_syslog,
        libc::SYS_settimeofday,
        libc::SYS_clock_settime,
        libc::SYS_clock_adjtime,
        libc::SYS_adjtimex,
        libc::SYS_fanotify_init,
        libc::SYS_lookup_dcookie,
        libc::SYS_vhangup,
    ];
    #[cfg(target_arch = "x86_64")]
    calls.extend([libc::SYS_iopl, libc::SYS_ioperm]);
    if !energy {
        // RAPL through the power PMU, and every other hardware counter.
        calls.push(libc::SYS_perf_event_open);
    }
    calls
}

/// `CLONE_NEW*` flags: a candidate may fork and start threads, never make namespaces.
const NS_FLAGS: [u64; 7] = [
    libc::CLONE_NEWNS as u64,
    libc::CLONE_NEWCGROUP as u64,
    libc::CLONE_NEWUTS as u64,
    libc::CLONE_NEWIPC as u64,
    libc::CLONE_NEWUSER as u64,
    libc::CLONE_NEWPID as u64,
    libc::CLONE_NEWNET as u64,
];

/// Two programs: `clone3` → ENOSYS (its flags sit in memory a filter cannot read, and libc falls
/// back to `clone` on ENOSYS), then the deny list → EPERM.
pub(super) fn seccomp_filters(energy: bool) -> Result<[BpfProgram; 2], String> {
    let arch = arch()?;
    let err = |e: seccompiler::BackendError| e.to_string();
    let clone3 = SeccompFilter::new(
        BTreeMap::from([(libc::SYS_clone3, vec![])]),
        SeccompAction::Allow,
        SeccompAction::Errno(libc::ENOSYS as u32),
        arch,
    )
    .map_err(err)?;

    let mut rules: BTreeMap<i64, Vec<SeccompRule>> =
        denied(energy).into_iter().map(|s| (s, vec![])).collect();
    let cond = |arg: u8, op: SeccompCmpOp, value: u64| {
        SeccompCondition::new(arg, SeccompCmpArgLen::Dword, op, value).map_err(err)
    };
    // Sockets: AF_UNIX only (a Python host's own socketpair); no TCP, UDP, raw, netlink or
    // packet sockets.
    for call in [libc::SYS_socket, libc::SYS_socketpair] {
        rules.insert(
            call,
            vec![
                SeccompRule::new(vec![cond(0, SeccompCmpOp::Ne, libc::AF_UNIX as u64)?])
                    .map_err(err)?,
            ],
        );
    }
    let mut clone_rules = Vec::new();
    for flag in NS_FLAGS {
        let c = SeccompCondition::new(
            0,
            SeccompCmpArgLen::Qword,
            SeccompCmpOp::MaskedEq(flag),
            flag,
        )
        .map_err(err)?;
        clone_rules.push(SeccompRule::new(vec![c]).map_err(err)?);
    }
    rules.insert(libc::SYS_clone, clone_rules);
    let deny = SeccompFilter::new(
        rules,
        SeccompAction::Allow,
        SeccompAction::Errno(libc::EPERM as u32),
        arch,
    )
    .map_err(err)?;
    Ok([
        BpfProgram::try_from(clone3).map_err(err)?,
        BpfProgram::try_from(deny).map_err(err)?,
    ])
}

/// Whether seccomp filters can be built for this architecture.
pub(super) fn seccomp_supported() -> Result<(), String> {
    seccomp_filters(false).map(|_| ())
}

const CGROUP_V1: &str = "/sys/fs/cgroup";

static CGROUP_SEQ: AtomicU64 = AtomicU64::new(0);

/// A worker's own cgroups (v1 `pids` and `memory`): a process bound that other jobs' workers do
/// not share (RLIMIT_NPROC counts per user), and a list of every process the worker started,
/// however it left the process group.
#[derive(Debug)]
pub(super) struct Cgroup {
    dirs: Vec<PathBuf>,
    procs: Vec<OwnedFd>,
}

impl Cgroup {
    /// The parent directories a worker cgroup is made in, when writable.
    pub fn parents() -> Vec<PathBuf> {
        ["pids", "memory"]
            .iter()
            .map(|c| Path::new(CGROUP_V1).join(c))
            .filter(|p| p.join("cgroup.procs").exists())
            .collect()
    }

    pub fn create(max_processes: u64, memory_bytes: Option<u64>) -> std::io::Result<Cgroup> {
        let name = format!(
            "jouletrace/w-{}-{}",
            std::process::id(),
            CGROUP_SEQ.fetch_add(1, Ordering::Relaxed)
        );
        let mut cg = Cgroup {
            dirs: Vec::new(),
            procs: Vec::new(),
        };
        let parents = Cgroup::parents();
        if !parents.iter().any(|p| p.ends_with("pids")) {
            return Err(std::io::Error::other("no pids controller"));
        }
        for parent in parents {
            let dir = parent.join(&name);
            std::fs::create_dir_all(&dir)?;
            cg.dirs.push(dir.clone());
            if parent.ends_with("pids") {
                std::fs::write(dir.join("pids.max"), max_processes.to_string())?;
            }
            if parent.ends_with("memory")
                && let Some(bytes) = memory_bytes
            {
                std::fs::write(dir.join("memory.limit_in_bytes"), bytes.to_string())?;
            }
            let f = std::fs::OpenOptions::new()
                .write(true)
                .open(dir.join("cgroup.procs"))?;
            cg.procs.push(f.into());
        }
        Ok(cg)
    }

    /// Duplicates of the `cgroup.procs` fds for the child (closed on exec).
    pub fn procs_fds(&self) -> Vec<OwnedFd> {
        self.procs
            .iter()
            .filter_map(|f| f.try_clone().ok())
            .collect()
    }

    /// Whether the memory controller ever refused memory to this cgroup (`memory.failcnt`, or
    /// an OOM kill counted in `memory.oom_control`): the tree hit its memory bound.
    pub fn memory_limit_reached(&self) -> bool {
        // Only the memory controller's directory has these files; the pids one reads as 0.
        self.dirs.iter().any(|dir| {
            let read = |f: &str| std::fs::read_to_string(dir.join(f)).unwrap_or_default();
            let failcnt = read("memory.failcnt").trim().parse::<u64>().unwrap_or(0);
            let oom_kills = read("memory.oom_control")
                .lines()
                .find_map(|l| l.strip_prefix("oom_kill "))
                .and_then(|n| n.trim().parse::<u64>().ok())
                .unwrap_or(0);
            failcnt > 0 || oom_kills > 0
        })
    }

    /// SIGKILLs every process still in the cgroup, then removes it (a cgroup with processes
    /// cannot be removed, so this retries briefly while they die).
    pub fn kill_and_remove(self) {
        for _ in 0..100 {
            let mut left = false;
            for dir in &self.dirs {
                let procs = std::fs::read_to_string(dir.join("cgroup.procs")).unwrap_or_default();
                for pid in procs.lines().filter_map(|l| l.trim().parse::<i32>().ok()) {
                    left = true;
                    // SAFETY: kill with integer arguments.
                    unsafe {
                        libc::kill(pid, libc::SIGKILL);
                    }
                }
            }
            if !left {
                break;
            }
            std::thread::sleep(std::time::Duration::from_millis(5));
        }
        for dir in &self.dirs {
            let _ = std::fs::remove_dir(dir);
        }
    }
}
