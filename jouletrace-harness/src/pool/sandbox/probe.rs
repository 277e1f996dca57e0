//! Which layers this machine offers, found by trying each one in a throw-away child.
//!
//! Reading kernel versions or sysctls is not enough (AppArmor can refuse a user namespace the
//! kernel supports; a container can refuse `unshare`), so each layer is applied for real to a
//! child that then executes `true`; the layer is available when that child succeeds. The sysctls
//! serve only to explain a refusal and to give the remedy.

use std::io;
use std::os::unix::process::CommandExt;
use std::process::{Command, Stdio};
use std::sync::OnceLock;

use serde::{Deserialize, Serialize};

use super::{Layer, LayerState, SandboxPolicy, rules};

/// Whether one layer works here.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Availability {
    Available,
    /// Not needed here (a user namespace when running as root, which can make the other
    /// namespaces itself).
    NotNeeded(String),
    Unavailable {
        reason: String,
        remedy: Option<String>,
    },
}

impl Availability {
    pub fn ok(&self) -> bool {
        matches!(self, Availability::Available)
    }
}

/// What this machine offers, probed once per process.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Probe {
    pub root: bool,
    pub setuid: Availability,
    pub userns: Availability,
    pub net: Availability,
    pub pid: Availability,
    pub ipc: Availability,
    pub uts: Availability,
    pub mount: Availability,
    pub landlock: Availability,
    /// The kernel's Landlock ABI (0 when absent).
    pub landlock_abi: i32,
    pub seccomp: Availability,
    pub rlimits: Availability,
    pub cgroup: Availability,
}

/// Runs `true` with `step` applied between fork and exec.
fn try_in_child<F>(step: F) -> Result<(), String>
where
    F: FnMut() -> io::Result<()> + Send + Sync + 'static,
{
    let mut cmd = Command::new("true");
    cmd.stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    // SAFETY: every probe step makes only async-signal-safe system calls.
    unsafe {
        cmd.pre_exec(step);
    }
    match cmd.status() {
        Ok(s) if s.success() => Ok(()),
        Ok(s) => Err(format!("the probe child ended with {s}")),
        Err(e) => Err(e.to_string()),
    }
}

fn read_sysctl(path: &str) -> Option<String> {
    std::fs::read_to_string(path)
        .ok()
        .map(|s| s.trim().to_owned())
}

/// Why a user namespace may be refused, and what to do about it.
fn userns_remedy() -> String {
    if read_sysctl("/proc/sys/kernel/apparmor_restrict_unprivileged_userns").as_deref() == Some("1")
    {
        return "user namespaces are blocked by AppArmor \
                (kernel.apparmor_restrict_unprivileged_userns = 1): run as root, or allow them \
                with `sudo sysctl kernel.apparmor_restrict_unprivileged_userns=0`, or give the \
                binary an AppArmor profile with `userns,`"
            .into();
    }
    if read_sysctl("/proc/sys/kernel/unprivileged_userns_clone").as_deref() == Some("0") {
        return "unprivileged user namespaces are disabled \
                (kernel.unprivileged_userns_clone = 0): `sudo sysctl \
                kernel.unprivileged_userns_clone=1`, or run as root"
            .into();
    }
    if read_sysctl("/proc/sys/user/max_user_namespaces").as_deref() == Some("0") {
        return "user.max_user_namespaces = 0: `sudo sysctl user.max_user_namespaces=15000`, \
                or run as root"
            .into();
    }
    "in a container, namespaces are usually refused by its seccomp profile: run it with \
     `--security-opt seccomp=unconfined` (docker) or give it CAP_SYS_ADMIN, or run as root"
        .into()
}

fn unavailable(reason: String, remedy: impl Into<Option<String>>) -> Availability {
    Availability::Unavailable {
        reason,
        remedy: remedy.into(),
    }
}

fn unshare_in_child(root: bool, flags: libc::c_int) -> Result<(), String> {
    let flags = if root {
        flags
    } else {
        flags | libc::CLONE_NEWUSER
    };
    try_in_child(move || {
        // SAFETY: unshare has no memory arguments.
        if unsafe { libc::unshare(flags) } == -1 {
            return Err(io::Error::last_os_error());
        }
        Ok(())
    })
}

/// The kernel's Landlock ABI version (0 when Landlock is absent or disabled).
pub fn landlock_abi() -> i32 {
    // SAFETY: the documented version query: null attributes, size 0, the VERSION flag.
    let v = unsafe {
        libc::syscall(
            libc::SYS_landlock_create_ruleset,
            std::ptr::null::<u8>(),
            0usize,
            1u32, // LANDLOCK_CREATE_RULESET_VERSION
        )
    };
    if v < 0 { 0 } else { v as i32 }
}

fn run_probe() -> Probe {
    // SAFETY: geteuid has no preconditions.
    let root = unsafe { libc::geteuid() } == 0;
    let ns = |flag: libc::c_int, what: &str| match unshare_in_child(root, flag) {
        Ok(()) => Availability::Available,
        Err(e) => unavailable(
            format!("unshare({what}) was refused: {e}"),
            if root {
                "in a container, run it with `--security-opt seccomp=unconfined` or \
                 CAP_SYS_ADMIN"
                    .to_owned()
            } else {
                userns_remedy()
            },
        ),
    };

    let setuid = if root {
        match try_in_child(|| {
            // SAFETY: id-setting calls with integer arguments.
            unsafe {
                if libc::setgroups(0, std::ptr::null()) == -1
                    || libc::setresgid(65534, 65534, 65534) == -1
                    || libc::setresuid(65534, 65534, 65534) == -1
                {
                    return Err(io::Error::last_os_error());
                }
            }
            Ok(())
        }) {
            Ok(()) => Availability::Available,
            Err(e) => unavailable(
                format!("cannot switch to an unprivileged user: {e}"),
                "give the orchestrator CAP_SETUID and CAP_SETGID".to_owned(),
            ),
        }
    } else {
        Availability::NotNeeded("the orchestrator is not root: workers run as its user".into())
    };

    // As root, the worker enters a user namespace after dropping to the sandbox user (so its
    // process limit is its own); otherwise the user namespace is what makes the others possible.
    // Either way, probe it as an unprivileged process would make it.
    let userns = match try_in_child(|| {
        // SAFETY: id-setting and unshare calls with integer arguments.
        unsafe {
            if libc::geteuid() == 0
                && (libc::setgroups(0, std::ptr::null()) == -1
                    || libc::setresgid(65534, 65534, 65534) == -1
                    || libc::setresuid(65534, 65534, 65534) == -1)
            {
                return Err(io::Error::last_os_error());
            }
            if libc::unshare(libc::CLONE_NEWUSER) == -1 {
                return Err(io::Error::last_os_error());
            }
        }
        Ok(())
    }) {
        Ok(()) => Availability::Available,
        Err(e) => unavailable(
            format!("unshare(CLONE_NEWUSER) was refused: {e}"),
            userns_remedy(),
        ),
    };

    let mount = match try_in_child(move || {
        let flags = libc::CLONE_NEWNS | libc::CLONE_NEWPID;
        let flags = if root {
            flags
        } else {
            flags | libc::CLONE_NEWUSER
        };
        // SAFETY: system calls with static strings; the grandchild only mounts and exits.
        unsafe {
            if libc::unshare(flags) == -1 {
                return Err(io::Error::last_os_error());
            }
            let pid = libc::fork();
            if pid == -1 {
                return Err(io::Error::last_os_error());
            }
            if pid == 0 {
                let ok = libc::mount(
                    std::ptr::null(),
                    c"/".as_ptr(),
                    std::ptr::null(),
                    libc::MS_REC | libc::MS_PRIVATE,
                    std::ptr::null(),
                ) == 0
                    && libc::mount(
                        c"proc".as_ptr(),
                        c"/proc".as_ptr(),
                        c"proc".as_ptr(),
                        libc::MS_NOSUID | libc::MS_NODEV | libc::MS_NOEXEC,
                        std::ptr::null(),
                    ) == 0;
                libc::_exit(if ok { 0 } else { 1 });
            }
            let mut status = 0;
            libc::waitpid(pid, &mut status, 0);
            if libc::WIFEXITED(status) && libc::WEXITSTATUS(status) == 0 {
                Ok(())
            } else {
                Err(io::Error::from_raw_os_error(libc::EPERM))
            }
        }
    }) {
        Ok(()) => Availability::Available,
        Err(e) => unavailable(
            format!("a private /proc could not be mounted: {e}"),
            "without it /proc shows the host's processes; in a container, run it with \
             `--security-opt seccomp=unconfined --security-opt apparmor=unconfined`"
                .to_owned(),
        ),
    };

    let abi = landlock_abi();
    let landlock = if abi >= 1 {
        Availability::Available
    } else {
        unavailable(
            "Landlock is not enabled in this kernel".into(),
            "use Linux ≥ 5.13 with `lsm=landlock,…` on the kernel command line \
             (CONFIG_SECURITY_LANDLOCK=y)"
                .to_owned(),
        )
    };

    let seccomp = match rules::seccomp_supported() {
        Err(e) => unavailable(
            format!("no seccomp filter for this architecture: {e}"),
            None,
        ),
        Ok(()) => {
            let filters = rules::seccomp_filters(false).expect("checked above");
            match try_in_child(move || {
                for f in &filters {
                    seccompiler::apply_filter(f)
                        .map_err(|_| io::Error::from_raw_os_error(libc::EINVAL))?;
                }
                Ok(())
            }) {
                Ok(()) => Availability::Available,
                Err(e) => unavailable(
                    format!("a seccomp filter could not be installed: {e}"),
                    "use a kernel with CONFIG_SECCOMP_FILTER=y".to_owned(),
                ),
            }
        }
    };

    let rlimits = match try_in_child(|| {
        let lim = libc::rlimit {
            rlim_cur: 64,
            rlim_max: 64,
        };
        // SAFETY: a valid pointer to a local struct.
        if unsafe { libc::setrlimit(libc::RLIMIT_NPROC, &lim) } == -1 {
            return Err(io::Error::last_os_error());
        }
        Ok(())
    }) {
        Ok(()) => Availability::Available,
        Err(e) => unavailable(format!("setrlimit was refused: {e}"), None),
    };

    let cgroup = match rules::Cgroup::create(16, None) {
        Ok(cg) => {
            cg.kill_and_remove();
            Availability::Available
        }
        Err(e) => unavailable(
            format!("no writable cgroup v1 pids controller: {e}"),
            "optional (rlimits bound processes already); as root with cgroup v1 mounted at \
             /sys/fs/cgroup/pids it is used automatically"
                .to_owned(),
        ),
    };

    Probe {
        root,
        setuid,
        userns,
        net: ns(libc::CLONE_NEWNET, "CLONE_NEWNET"),
        pid: ns(libc::CLONE_NEWPID, "CLONE_NEWPID"),
        ipc: ns(libc::CLONE_NEWIPC, "CLONE_NEWIPC"),
        uts: ns(libc::CLONE_NEWUTS, "CLONE_NEWUTS"),
        mount,
        landlock,
        landlock_abi: abi,
        seccomp,
        rlimits,
        cgroup,
    }
}

/// This machine's layers, probed on first use.
pub fn probe() -> &'static Probe {
    static PROBE: OnceLock<Probe> = OnceLock::new();
    PROBE.get_or_init(run_probe)
}

impl Probe {
    /// Each layer's state under `policy`, with reasons and remedies.
    pub fn states(&self, policy: &SandboxPolicy) -> Vec<LayerState> {
        let nsless = !self.root && !self.userns.ok();
        let state = |layer: Layer, a: &Availability, detail: String| -> LayerState {
            let (active, reason, remedy, detail) = match a {
                Availability::Available if nsless && is_namespace(layer) => (
                    false,
                    Some("no user namespace, so no other namespace can be made".to_owned()),
                    Some(userns_remedy()),
                    detail,
                ),
                Availability::Available => (true, None, None, detail),
                Availability::NotNeeded(why) => (false, None, None, why.clone()),
                Availability::Unavailable { reason, remedy } => {
                    (false, Some(reason.clone()), remedy.clone(), detail)
                }
            };
            LayerState {
                layer,
                active,
                detail,
                reason,
                remedy,
            }
        };
        let abi = self.landlock_abi;
        let mut landlock_parts = vec!["files"];
        if abi >= 4 {
            landlock_parts.push("TCP bind/connect");
        }
        if abi >= 6 {
            landlock_parts.push("signals and abstract sockets scoped");
        }
        let mut user = state(
            Layer::UnprivilegedUser,
            &self.setuid,
            format!("uid {} gid {} (from root)", policy.uid, policy.gid),
        );
        if !self.root {
            // SAFETY: getuid has no preconditions.
            let uid = unsafe { libc::getuid() };
            user = LayerState {
                layer: Layer::UnprivilegedUser,
                active: true,
                detail: format!("the orchestrator's own uid {uid} (not root)"),
                reason: None,
                remedy: None,
            };
        }
        let userns = state(
            Layer::UserNamespace,
            &self.userns,
            if self.root {
                "the sandbox user in its own user namespace: process limits count this worker only"
                    .into()
            } else {
                "own uid mapped to itself".into()
            },
        );
        vec![
            user,
            userns,
            state(
                Layer::NetworkNamespace,
                &self.net,
                "only a down loopback: no host network, nothing on the host's 127.0.0.1".into(),
            ),
            state(
                Layer::PidNamespace,
                &self.pid,
                "the worker is pid 2 under a tiny init; everything it started dies with it".into(),
            ),
            state(
                Layer::IpcNamespace,
                &self.ipc,
                "private SysV IPC and POSIX queues".into(),
            ),
            state(Layer::UtsNamespace, &self.uts, "private hostname".into()),
            state(
                Layer::MountNamespace,
                &self.mount,
                "/proc shows only the sandbox's processes".into(),
            ),
            state(
                Layer::Landlock,
                &self.landlock,
                format!("ABI {abi}: {}", landlock_parts.join(", ")),
            ),
            state(
                Layer::Seccomp,
                &self.seccomp,
                "no perf_event_open, ptrace, process_vm_*, bpf, mount, kexec, keyctl, \
                 namespaces, io_uring; sockets AF_UNIX only"
                    .into(),
            ),
            state(
                Layer::Rlimits,
                &self.rlimits,
                format!(
                    "NPROC {}, FSIZE {} MiB, NOFILE {}, CORE 0",
                    policy.max_processes,
                    policy.max_file_size / (1024 * 1024),
                    policy.max_open_files
                ),
            ),
            state(
                Layer::Cgroup,
                &self.cgroup,
                format!("v1 pids.max {} per worker", policy.max_processes),
            ),
        ]
    }
}

fn is_namespace(layer: Layer) -> bool {
    matches!(
        layer,
        Layer::NetworkNamespace
            | Layer::PidNamespace
            | Layer::IpcNamespace
            | Layer::UtsNamespace
            | Layer::MountNamespace
    )
}
