//! The operating-system sandbox every untrusted worker runs in.
//!
//! Candidates submitted as data (Python functions, Rust source built by the service) are hostile
//! until proven otherwise: they must not reach the network, other jobs' files, the energy counters
//! (an energy side channel) or the host. Safety comes from the kernel, never from an import
//! allow-list. Each layer is *detected* on this machine, by trying it in a throw-away child
//! ([`probe`]), never assumed; what a worker actually ran under is a [`SandboxLevel`] recorded in
//! every results file, shown by reports and by `cargo joule doctor` with the remedy for each
//! missing layer.
//!
//! The layers, in the order the child applies them between `fork` and `exec` ([`child`]):
//! 1. **rlimits**: processes (a fork bomb), file size, open files, no core dumps (the address
//!    space limit is the pool's own `memory_limit_mb`);
//! 2. **cgroup** (v1 `pids` + `memory`, when writable): a per-worker process count and memory
//!    bound that other jobs' workers do not share;
//! 3. **namespaces**: a user namespace when not root; network (only a down `lo`: nothing on the
//!    host's loopback is reachable), IPC, UTS, mount and PID. In a PID namespace the worker is
//!    pid 1 and a tiny reaper outside waits for it, so when the worker dies — or the pool kills
//!    the process group — every process it left behind dies with it, even ones that left the
//!    group with `setsid`. A fresh `/proc` shows only the sandbox's processes;
//! 4. **unprivileged user**: when the orchestrator runs as root, the worker runs as
//!    `sandbox_uid` (default `nobody`, 65534) with no supplementary groups;
//! 5. **Landlock**: read-only system paths the program needs, its own files, and one private
//!    writable working directory; nothing else (no `/etc/shadow`, no other job's directory, no
//!    `/sys/class/powercap`, no `/dev/cpu`). From ABI 4 TCP bind/connect is denied too; from ABI
//!    6 signals and abstract Unix sockets are scoped to the sandbox (no `kill` of the parent);
//! 6. **seccomp**: denies `perf_event_open`, `ptrace`, `process_vm_*`, `bpf`, mounts, module
//!    and kexec calls, keyrings, namespace creation, `io_uring` (which would bypass the socket
//!    rule) and sockets of any family but `AF_UNIX`.
//!
//! See `docs/sandbox.md` for what each layer does not cover and how to run in containers.

mod child;
mod command;
mod probe;
mod rules;

use std::ffi::CString;
use std::os::unix::fs::PermissionsExt;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use serde::{Deserialize, Serialize};

pub use command::{CommandLimits, Finished};
pub use probe::{Probe, probe};

/// How much isolation workers get. `docs/sandbox.md` explains the choice.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SandboxMode {
    /// Untrusted targets (candidates given as data) run under every layer this machine offers;
    /// bench binaries built from the user's own workspace run as before (process group, limits,
    /// `isolate_network` if set). Missing layers are recorded and reported, never hidden.
    #[default]
    Auto,
    /// Every worker, bench binaries too, under every layer this machine offers.
    On,
    /// Every worker under every layer; a layer this machine lacks fails the run (exit 2)
    /// naming the layer and its remedy. The cgroup layer is optional even here.
    Strict,
    /// No sandbox for bench binaries; untrusted targets refuse to run.
    Off,
}

impl SandboxMode {
    pub const NAMES: &'static str = "\"auto\", \"on\", \"strict\" or \"off\"";

    pub fn parse(text: &str) -> Option<SandboxMode> {
        Some(match text {
            "auto" => SandboxMode::Auto,
            "on" => SandboxMode::On,
            "strict" => SandboxMode::Strict,
            "off" => SandboxMode::Off,
            _ => return None,
        })
    }

    pub fn as_str(self) -> &'static str {
        match self {
            SandboxMode::Auto => "auto",
            SandboxMode::On => "on",
            SandboxMode::Strict => "strict",
            SandboxMode::Off => "off",
        }
    }
}

/// The sandbox settings of a run (part of [`RunConfig`](crate::config::RunConfig)).
#[derive(Clone, Debug, PartialEq)]
pub struct SandboxPolicy {
    pub mode: SandboxMode,
    /// The user workers run as when the orchestrator is root (default 65534, `nobody`).
    pub uid: u32,
    /// Its group (default 65534, `nogroup`).
    pub gid: u32,
    /// RLIMIT_NPROC (and the cgroup's `pids.max`): bounds a fork bomb. Counts threads too.
    pub max_processes: u64,
    /// RLIMIT_FSIZE in bytes: the largest file a worker may write in its directory.
    pub max_file_size: u64,
    /// RLIMIT_NOFILE.
    pub max_open_files: u64,
    /// Where private working directories are made (one per worker, removed after it).
    pub work_root: PathBuf,
}

impl Default for SandboxPolicy {
    fn default() -> Self {
        SandboxPolicy {
            mode: SandboxMode::Auto,
            uid: 65534,
            gid: 65534,
            max_processes: 256,
            max_file_size: 64 * 1024 * 1024,
            max_open_files: 256,
            work_root: std::env::temp_dir().join("jouletrace-sandbox"),
        }
    }
}

/// One isolation layer.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Layer {
    /// Runs as an unprivileged user (a uid drop from root, or the caller's own non-root uid).
    UnprivilegedUser,
    UserNamespace,
    NetworkNamespace,
    PidNamespace,
    IpcNamespace,
    UtsNamespace,
    /// A private mount namespace with a fresh `/proc` of the PID namespace.
    MountNamespace,
    Landlock,
    Seccomp,
    Rlimits,
    Cgroup,
}

impl Layer {
    pub const ALL: [Layer; 11] = [
        Layer::UnprivilegedUser,
        Layer::UserNamespace,
        Layer::NetworkNamespace,
        Layer::PidNamespace,
        Layer::IpcNamespace,
        Layer::UtsNamespace,
        Layer::MountNamespace,
        Layer::Landlock,
        Layer::Seccomp,
        Layer::Rlimits,
        Layer::Cgroup,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Layer::UnprivilegedUser => "unprivileged user",
            Layer::UserNamespace => "user namespace",
            Layer::NetworkNamespace => "network namespace",
            Layer::PidNamespace => "pid namespace",
            Layer::IpcNamespace => "ipc namespace",
            Layer::UtsNamespace => "uts namespace",
            Layer::MountNamespace => "mount namespace + private /proc",
            Layer::Landlock => "landlock",
            Layer::Seccomp => "seccomp",
            Layer::Rlimits => "rlimits",
            Layer::Cgroup => "cgroup",
        }
    }

    /// Layers `strict` may go without: the cgroup is a second bound on processes and memory
    /// (rlimits are the first); a user namespace is only needed when not root.
    fn optional(self) -> bool {
        matches!(self, Layer::Cgroup | Layer::UserNamespace)
    }
}

/// Whether one layer is in force, and if not, why and what to do.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct LayerState {
    pub layer: Layer,
    pub active: bool,
    /// What it does here (`ABI 7: files, TCP, signals`), or why it is not needed.
    pub detail: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub remedy: Option<String>,
}

/// The isolation a run's workers ran under: recorded in every results file's environment.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SandboxLevel {
    pub mode: SandboxMode,
    /// `full`, `partial` (some layer missing: see `layers`), or `off`.
    pub level: String,
    /// Which workers were sandboxed: `untrusted targets`, `all workers`, `none`.
    pub applies_to: String,
    pub layers: Vec<LayerState>,
    /// Deliberate exceptions (`energy counters readable by bench workers that meter themselves`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub notes: Vec<String>,
}

impl SandboxLevel {
    /// One line for reports: `partial (auto, untrusted targets): missing cgroup`.
    pub fn summary(&self) -> String {
        let missing: Vec<&str> = self
            .layers
            .iter()
            .filter(|l| !l.active && l.reason.is_some())
            .map(|l| l.layer.name())
            .collect();
        let tail = if missing.is_empty() || self.level == "off" {
            String::new()
        } else {
            format!(": missing {}", missing.join(", "))
        };
        format!(
            "{} ({}, {}){tail}",
            self.level,
            self.mode.as_str(),
            self.applies_to
        )
    }
}

/// Why a sandboxed worker cannot start.
#[derive(Debug, thiserror::Error)]
pub enum SandboxError {
    #[error(
        "sandbox = \"strict\" but the {layer} layer is unavailable here: {reason}{}",
        remedy.as_ref().map(|r| format!("; remedy: {r}")).unwrap_or_default()
    )]
    LayerUnavailable {
        layer: &'static str,
        reason: String,
        remedy: Option<String>,
    },
    #[error(
        "sandbox = \"off\" cannot run {target}: its candidates are untrusted data and always run \
         sandboxed; use sandbox = \"auto\""
    )]
    UntrustedWithoutSandbox { target: String },
    #[error(
        "{path} is not readable by the sandbox user (uid {uid}): {why}; install the program \
         where other users can read it (e.g. /usr/bin/python3) or set `sandbox_uid`",
        path = path.display()
    )]
    ProgramUnreadable {
        path: PathBuf,
        uid: u32,
        why: String,
    },
    #[error("cannot prepare the sandbox: {what}: {source}")]
    Io {
        what: String,
        #[source]
        source: std::io::Error,
    },
}

fn io_err(what: impl Into<String>) -> impl FnOnce(std::io::Error) -> SandboxError {
    let what = what.into();
    move |source| SandboxError::Io { what, source }
}

/// The sandbox of one run: the policy and what this machine offers, probed once.
#[derive(Debug)]
pub struct Sandbox {
    pub policy: SandboxPolicy,
    pub probe: Probe,
}

/// What one worker asks of the sandbox beyond the policy.
#[derive(Clone, Debug, Default)]
pub struct WorkerAccess {
    /// Files and directories the worker may read (and execute): the target's own files.
    pub read: Vec<PathBuf>,
    /// The worker meters itself with a measured counter (a bench binary under worker-side
    /// metering): `perf_event_open` stays allowed and `sysfs_root` readable, and the worker keeps
    /// the orchestrator's user when that is what reading the counter needs. Never for
    /// untrusted targets (their energy is metered by the orchestrator).
    pub energy: Option<PathBuf>,
    /// Keep the host network (a trusted bench binary without `isolate_network`).
    pub network: bool,
    /// Work in the private directory even when the command names another one (an untrusted
    /// target's own directory is read-only to it).
    pub private_cwd: bool,
    /// Which system paths are readable: a worker's (`/usr`, `/lib*`, the few `/etc` files a
    /// program or interpreter reads), or a compiler's (no `/etc` but the loader cache).
    pub system: SystemAccess,
}

/// The system paths a sandboxed process may read besides its own files.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum SystemAccess {
    /// A worker: the loader, libraries, interpreters' standard libraries and the few `/etc`
    /// files programs read (`passwd`, `group`, `localtime`, `nsswitch.conf`, Python's config).
    #[default]
    Program,
    /// A compiler or linker building submitted source: `/usr`, `/lib*`, `/bin`, the loader
    /// cache; nothing else of `/etc` (the source could `include_str!` it).
    Compiler,
}

/// A sandbox for one worker, as a [`WorkerCommand`](crate::pool::WorkerCommand) carries it.
#[derive(Clone, Debug)]
pub struct SandboxSpec {
    pub sandbox: Arc<Sandbox>,
    pub access: WorkerAccess,
}

impl Sandbox {
    /// Probes this machine (cached for the process) and checks the policy against it: under
    /// `strict`, a missing layer is an error here, before any worker starts.
    pub fn new(policy: SandboxPolicy) -> Result<Arc<Sandbox>, SandboxError> {
        let sandbox = Sandbox::probed(policy);
        sandbox.check()?;
        Ok(Arc::new(sandbox))
    }

    /// The policy and this machine's probe, unchecked (see [`Sandbox::check`]).
    pub fn probed(policy: SandboxPolicy) -> Sandbox {
        Sandbox {
            policy,
            probe: probe::probe().clone(),
        }
    }

    /// Under `strict`, the first required layer this machine lacks.
    pub fn check(&self) -> Result<(), SandboxError> {
        if self.policy.mode == SandboxMode::Strict {
            for state in self.layer_states() {
                if !state.active && !state.layer.optional() {
                    return Err(SandboxError::LayerUnavailable {
                        layer: state.layer.name(),
                        reason: state.reason.unwrap_or_default(),
                        remedy: state.remedy,
                    });
                }
            }
        }
        Ok(())
    }

    /// Whether a target's workers run sandboxed: `trusted` is a bench binary built from the
    /// user's own workspace.
    pub fn applies(&self, trusted: bool, target: &str) -> Result<bool, SandboxError> {
        match (self.policy.mode, trusted) {
            (SandboxMode::Off, false) => Err(SandboxError::UntrustedWithoutSandbox {
                target: target.to_owned(),
            }),
            (SandboxMode::Off, true) | (SandboxMode::Auto, true) => Ok(false),
            _ => Ok(true),
        }
    }

    fn root() -> bool {
        // SAFETY: geteuid has no preconditions.
        unsafe { libc::geteuid() == 0 }
    }

    /// Each layer's state for workers of this run.
    pub fn layer_states(&self) -> Vec<LayerState> {
        self.probe.states(&self.policy)
    }

    /// What goes into the results file.
    pub fn level(&self, any_untrusted: bool) -> SandboxLevel {
        let layers = self.layer_states();
        let applies_to = match self.policy.mode {
            SandboxMode::Off => "none",
            SandboxMode::Auto if any_untrusted => "untrusted targets",
            SandboxMode::Auto => "none: bench binaries are trusted under auto",
            SandboxMode::On | SandboxMode::Strict => "all workers",
        };
        let off = applies_to.starts_with("none");
        let level = if off {
            "off"
        } else if layers.iter().all(|l| l.active || l.layer.optional()) {
            "full"
        } else {
            "partial"
        };
        SandboxLevel {
            mode: self.policy.mode,
            level: level.to_owned(),
            applies_to: applies_to.to_owned(),
            layers,
            notes: Vec::new(),
        }
    }
}

/// The sandbox of a worker of a target under `config` (`None`: the policy leaves it
/// unsandboxed). `trusted` is a bench binary built from the user's own workspace; `cwd` and
/// `args` are the target's: an untrusted target's working directory (its job directory) and the
/// absolute paths among its arguments (host script, job file) become read-only, and the worker
/// works in its private directory instead. The run checks the policy ([`Sandbox::check`],
/// [`Sandbox::applies`]) before any worker starts.
pub fn spec_for(
    config: &crate::config::RunConfig,
    trusted: bool,
    cwd: Option<&Path>,
    args: &[String],
) -> Option<SandboxSpec> {
    let sandbox = Sandbox::probed(config.sandbox.clone());
    if !sandbox.applies(trusted, "").unwrap_or(true) {
        return None;
    }
    let mut read: Vec<PathBuf> = args
        .iter()
        .map(PathBuf::from)
        .filter(|p| p.is_absolute() && p.exists())
        .collect();
    if !trusted {
        read.extend(cwd.map(Path::to_path_buf));
    }
    Some(SandboxSpec {
        sandbox: Arc::new(sandbox),
        access: WorkerAccess {
            read,
            energy: None,
            // A trusted bench keeps the host network unless `isolate_network` is set; an
            // untrusted candidate never has it.
            network: trusted && !config.isolate_network,
            private_cwd: !trusted,
            system: SystemAccess::Program,
        },
    })
}

static WORKER_SEQ: AtomicU64 = AtomicU64::new(0);

/// A private working directory, removed when dropped.
#[derive(Debug)]
pub struct WorkDir {
    path: PathBuf,
}

impl WorkDir {
    pub fn path(&self) -> &Path {
        &self.path
    }
}

impl Drop for WorkDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.path);
    }
}

/// What the parent keeps of a sandboxed worker: its directory and its cgroup.
#[derive(Debug)]
pub struct Running {
    pub workdir: WorkDir,
    cgroup: Option<rules::Cgroup>,
    pid_namespace: bool,
}

impl Running {
    /// The pid of the program itself, as this process sees it. In a PID namespace the spawned
    /// child is the reaper, its only child the namespace's init, and init's first child the
    /// program; `None` while the program is not forked yet or already gone.
    pub fn program_pid(&self, spawned: u32) -> Option<u32> {
        if !self.pid_namespace {
            return Some(spawned);
        }
        let child_of = |pid: u32| -> Option<u32> {
            std::fs::read_to_string(format!("/proc/{pid}/task/{pid}/children"))
                .ok()?
                .split_whitespace()
                .next()?
                .parse()
                .ok()
        };
        child_of(child_of(spawned)?)
    }

    /// Whether the process tree hit its memory cgroup's bound (false without a memory cgroup).
    pub fn memory_limit_reached(&self) -> bool {
        self.cgroup
            .as_ref()
            .is_some_and(rules::Cgroup::memory_limit_reached)
    }

    /// Kills whatever is left in the worker's cgroup (processes that escaped the group and
    /// the namespace) and removes it.
    pub fn cleanup(&mut self) {
        if let Some(cg) = self.cgroup.take() {
            cg.kill_and_remove();
        }
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        self.cleanup();
    }
}

impl SandboxSpec {
    /// Makes `command` start its program inside the sandbox: its working directory, its
    /// environment, and a `pre_exec` step that applies every layer. Call it last, after every
    /// other `pre_exec` (it forks the PID-namespace reaper, and what runs after it runs in the
    /// worker only). The returned [`Running`] must live as long as the worker.
    ///
    /// `memory_limit_mb` (the pool's RLIMIT_AS, per process) also bounds the worker's whole
    /// process tree through its memory cgroup, when there is one.
    pub fn apply(
        &self,
        command: &mut Command,
        cwd: Option<&Path>,
        memory_limit_mb: Option<u64>,
    ) -> Result<Running, SandboxError> {
        let sb = &self.sandbox;
        let policy = &sb.policy;
        let probe = &sb.probe;
        let root = Sandbox::root();
        let drop_uid = root && probe.setuid.ok() && self.access.energy.is_none();
        let (uid, gid) = if drop_uid {
            (policy.uid, policy.gid)
        } else {
            // SAFETY: getuid/getgid have no preconditions.
            unsafe { (libc::getuid(), libc::getgid()) }
        };

        let program = PathBuf::from(command.get_program());
        let program = resolve_program(&program).unwrap_or(program);
        if drop_uid {
            for path in std::iter::once(&program).chain(&self.access.read) {
                readable_by_other(path).map_err(|why| SandboxError::ProgramUnreadable {
                    path: path.clone(),
                    uid,
                    why,
                })?;
            }
        }

        // The private directory: <work_root>/w-<pid>-<n>, 0700, owned by the sandbox user.
        std::fs::create_dir_all(&policy.work_root)
            .map_err(io_err(format!("creating {}", policy.work_root.display())))?;
        let _ = std::fs::set_permissions(&policy.work_root, std::fs::Permissions::from_mode(0o711));
        let dir = policy.work_root.join(format!(
            "w-{}-{}",
            std::process::id(),
            WORKER_SEQ.fetch_add(1, Ordering::Relaxed)
        ));
        std::fs::create_dir(&dir).map_err(io_err(format!("creating {}", dir.display())))?;
        let workdir = WorkDir { path: dir };
        std::fs::set_permissions(&workdir.path, std::fs::Permissions::from_mode(0o700))
            .map_err(io_err("chmod of the work dir"))?;
        if drop_uid {
            std::os::unix::fs::chown(&workdir.path, Some(uid), Some(gid))
                .map_err(io_err("chown of the work dir"))?;
        }
        let cwd = cwd
            .filter(|_| !self.access.private_cwd)
            .map(Path::to_path_buf)
            .unwrap_or(workdir.path.clone());
        command.current_dir(&cwd);

        // Only what the worker needs of the environment: secrets of the orchestrator (API keys,
        // tokens) must not reach a candidate.
        let explicit: Vec<(std::ffi::OsString, Option<std::ffi::OsString>)> = command
            .get_envs()
            .map(|(k, v)| (k.to_owned(), v.map(ToOwned::to_owned)))
            .collect();
        command.env_clear();
        for key in ["PATH", "LANG", "LC_ALL", "LC_CTYPE", "TZ", "RUST_BACKTRACE"] {
            if let Some(v) = std::env::var_os(key) {
                command.env(key, v);
            }
        }
        if self.access.energy.is_some() {
            // A self-metering bench reads its meter's settings from the environment.
            for (k, v) in std::env::vars_os() {
                if k.to_string_lossy().starts_with("JOULETRACE_") {
                    command.env(k, v);
                }
            }
        }
        command
            .env("HOME", &workdir.path)
            .env("TMPDIR", &workdir.path)
            .env("JOULETRACE_SANDBOX_DIR", &workdir.path);
        for (k, v) in explicit {
            match v {
                Some(v) => command.env(k, v),
                None => command.env_remove(k),
            };
        }

        let mut read = self.access.read.clone();
        read.push(program.clone());
        if let Some(dir) = program.parent() {
            read.push(dir.to_owned());
            // An interpreter's install prefix (<prefix>/bin/python3 → <prefix>/lib/…).
            if dir.file_name().is_some_and(|n| n == "bin")
                && let Some(prefix) = dir.parent()
                && prefix != Path::new("/")
            {
                read.push(prefix.to_owned());
            }
        }
        if cwd != workdir.path {
            read.push(cwd.clone());
        }
        if let Some(sys) = &self.access.energy {
            read.push(sys.clone());
        }

        let landlock = if probe.landlock.ok() {
            Some(
                rules::landlock_ruleset(
                    probe.landlock_abi,
                    match self.access.system {
                        SystemAccess::Program => rules::SYSTEM_READ,
                        SystemAccess::Compiler => rules::COMPILER_READ,
                    },
                    &read,
                    &workdir.path,
                )
                .map_err(io_err("building the landlock ruleset"))?,
            )
        } else {
            None
        };
        let seccomp = if probe.seccomp.ok() {
            Some(
                rules::seccomp_filters(self.access.energy.is_some())
                    .map_err(|e| io_err("building the seccomp filter")(std::io::Error::other(e)))?,
            )
        } else {
            None
        };
        let cgroup = if probe.cgroup.ok() {
            rules::Cgroup::create(
                policy.max_processes,
                memory_limit_mb.map(|mb| mb.saturating_mul(1024 * 1024)),
            )
            .ok()
        } else {
            None
        };

        let mut ns = 0;
        let net = !self.access.network && probe.net.ok();
        if net {
            ns |= libc::CLONE_NEWNET;
        }
        if probe.ipc.ok() {
            ns |= libc::CLONE_NEWIPC;
        }
        if probe.uts.ok() {
            ns |= libc::CLONE_NEWUTS;
        }
        let pid_ns = probe.pid.ok();
        if pid_ns {
            ns |= libc::CLONE_NEWPID;
        }
        let mount_proc = pid_ns && probe.mount.ok();
        if mount_proc {
            ns |= libc::CLONE_NEWNS;
        }
        let userns = !root && probe.userns.ok();
        if !root && !userns {
            // Without privilege and without a user namespace no other namespace can be made.
            ns = 0;
        }
        let plan = child::Plan {
            rlimits: probe.rlimits.ok().then_some(child::Limits {
                nproc: policy.max_processes,
                fsize: policy.max_file_size,
                nofile: policy.max_open_files,
            }),
            cgroup_procs: cgroup.as_ref().map(|c| c.procs_fds()).unwrap_or_default(),
            userns: userns.then(|| child::UserMap::new(uid, gid)),
            unshare: ns,
            pid_namespace: pid_ns && (root || userns),
            mount_proc,
            drop_to: drop_uid.then_some((uid, gid)),
            userns_after_drop: (drop_uid && probe.userns.ok())
                .then(|| child::UserMap::new(uid, gid)),
            landlock,
            proc_rights: rules::read_bits(probe.landlock_abi),
            seccomp,
            proc_path: CString::new("/proc").expect("no NUL"),
        };
        // SAFETY: `Plan::enter` makes only async-signal-safe system calls on memory prepared
        // here; it allocates nothing (see child.rs).
        unsafe {
            command.pre_exec(move || plan.enter());
        }
        Ok(Running {
            workdir,
            cgroup,
            pid_namespace: pid_ns && (root || userns),
        })
    }
}

/// Whether the sandbox can start `program` under `policy`: when the orchestrator is root the
/// worker runs as `policy.uid`, which must be able to reach and read it (an interpreter under
/// `/root`, like pyenv's, cannot be). Callers choosing an interpreter use this to pick one the
/// sandbox can run, instead of a weaker sandbox.
pub fn runnable(policy: &SandboxPolicy, program: &Path) -> Result<(), String> {
    if !Sandbox::root() || policy.mode == SandboxMode::Off {
        return Ok(());
    }
    let program = resolve_program(program).unwrap_or(program.to_path_buf());
    readable_by_other(&program)
}

/// `program` as the kernel will execute it: searched on PATH when it has no slash, then
/// canonicalized (a venv's `bin/python3` is a symlink to the real interpreter).
fn resolve_program(program: &Path) -> Option<PathBuf> {
    let found = if program.components().count() > 1 {
        program.to_path_buf()
    } else {
        std::env::var_os("PATH").and_then(|paths| {
            std::env::split_paths(&paths)
                .map(|d| d.join(program))
                .find(|p| p.is_file())
        })?
    };
    found.canonicalize().ok()
}

/// Whether a user who is neither owner nor group member can read `path`: every directory on
/// the way must be searchable by others, the file readable.
fn readable_by_other(path: &Path) -> Result<(), String> {
    let mut ancestors: Vec<&Path> = path.ancestors().collect();
    ancestors.reverse();
    for dir in ancestors.iter().take(ancestors.len().saturating_sub(1)) {
        let mode = std::fs::metadata(dir)
            .map_err(|e| format!("{}: {e}", dir.display()))?
            .permissions()
            .mode();
        if mode & 0o001 == 0 {
            return Err(format!(
                "{} is mode {:o}: others cannot enter it",
                dir.display(),
                mode & 0o7777
            ));
        }
    }
    let mode = std::fs::metadata(path)
        .map_err(|e| format!("{}: {e}", path.display()))?
        .permissions()
        .mode();
    if mode & 0o004 == 0 {
        return Err(format!("it is mode {:o}", mode & 0o7777));
    }
    Ok(())
}

#[cfg(test)]
mod tests;
