//! The part of the sandbox that runs in the forked child, between `fork` and `exec`.
//!
//! The orchestrator is multithreaded, so after `fork` only async-signal-safe calls are allowed:
//! everything here is a raw system call on memory prepared by the parent (paths as `CString`s,
//! the uid map as bytes, the landlock ruleset as an open fd, the seccomp programs as ready BPF).
//! Nothing allocates, nothing takes a lock.

use std::ffi::CString;
use std::io;
use std::os::fd::{AsRawFd, OwnedFd};

use seccompiler::BpfProgram;

pub(super) struct Limits {
    pub nproc: u64,
    pub fsize: u64,
    pub nofile: u64,
}

/// The uid/gid maps written into a new user namespace: the caller's ids mapped to themselves,
/// so the worker stays an ordinary user inside (it gains no capability that survives `exec`).
pub(super) struct UserMap {
    uid_map: Vec<u8>,
    gid_map: Vec<u8>,
    uid_path: CString,
    gid_path: CString,
    setgroups_path: CString,
}

impl UserMap {
    pub fn new(uid: u32, gid: u32) -> UserMap {
        UserMap {
            uid_map: format!("{uid} {uid} 1\n").into_bytes(),
            gid_map: format!("{gid} {gid} 1\n").into_bytes(),
            uid_path: CString::new("/proc/self/uid_map").expect("no NUL"),
            gid_path: CString::new("/proc/self/gid_map").expect("no NUL"),
            setgroups_path: CString::new("/proc/self/setgroups").expect("no NUL"),
        }
    }
}

pub(super) struct Plan {
    pub rlimits: Option<Limits>,
    /// `cgroup.procs` files of the worker's cgroups, opened for writing by the parent.
    pub cgroup_procs: Vec<OwnedFd>,
    pub userns: Option<UserMap>,
    /// `CLONE_NEW*` flags for `unshare` (without `CLONE_NEWUSER`, handled first).
    pub unshare: libc::c_int,
    /// A PID namespace was made: fork the reaper and init (see [`Plan::fork_reaper`]).
    pub pid_namespace: bool,
    pub mount_proc: bool,
    pub drop_to: Option<(u32, u32)>,
    /// After the drop: a user namespace mapping the sandbox user to itself (root's path).
    pub userns_after_drop: Option<UserMap>,
    pub landlock: Option<OwnedFd>,
    /// Landlock read rights for the fresh `/proc` (a new filesystem: the parent's rule on the
    /// host's `/proc` does not cover it, so the child adds one after mounting it).
    pub proc_rights: u64,
    /// Applied in order; the first answers `clone3` with ENOSYS so libc falls back to `clone`,
    /// whose flags the second can inspect.
    pub seccomp: Option<[BpfProgram; 2]>,
    pub proc_path: CString,
}

fn check(rc: libc::c_int) -> io::Result<()> {
    if rc == -1 {
        Err(io::Error::last_os_error())
    } else {
        Ok(())
    }
}

fn setrlimit(resource: libc::__rlimit_resource_t, value: u64) -> io::Result<()> {
    let lim = libc::rlimit {
        rlim_cur: value,
        rlim_max: value,
    };
    // SAFETY: a valid pointer to a local struct.
    check(unsafe { libc::setrlimit(resource, &lim) })
}

/// Writes all of `bytes` to the file at `path` (a `/proc/self/…` control file).
fn write_file(path: &CString, bytes: &[u8]) -> io::Result<()> {
    // SAFETY: `path` is NUL-terminated; the fd is closed on every path.
    unsafe {
        let fd = libc::open(path.as_ptr(), libc::O_WRONLY | libc::O_CLOEXEC);
        if fd == -1 {
            return Err(io::Error::last_os_error());
        }
        let n = libc::write(fd, bytes.as_ptr().cast(), bytes.len());
        let err = io::Error::last_os_error();
        libc::close(fd);
        if n != bytes.len() as isize {
            return Err(err);
        }
    }
    Ok(())
}

impl Plan {
    /// Applies every layer to the calling (child) process. With a PID namespace this forks: the
    /// parent becomes the reaper and never returns; the child, pid 1 of the new namespace,
    /// returns and goes on to `exec`.
    pub fn enter(&self) -> io::Result<()> {
        if let Some(l) = &self.rlimits {
            setrlimit(libc::RLIMIT_CORE, 0)?;
            setrlimit(libc::RLIMIT_FSIZE, l.fsize)?;
            setrlimit(libc::RLIMIT_NOFILE, l.nofile)?;
        }
        for fd in &self.cgroup_procs {
            // "0" moves the writing process into the cgroup.
            // SAFETY: a valid fd and a static buffer.
            if unsafe { libc::write(fd.as_raw_fd(), b"0".as_ptr().cast(), 1) } != 1 {
                return Err(io::Error::last_os_error());
            }
        }
        if let Some(map) = &self.userns {
            // SAFETY: unshare has no memory arguments.
            check(unsafe { libc::unshare(libc::CLONE_NEWUSER | self.unshare) })?;
            write_file(&map.setgroups_path, b"deny")?;
            write_file(&map.uid_path, &map.uid_map)?;
            write_file(&map.gid_path, &map.gid_map)?;
        } else if self.unshare != 0 {
            // SAFETY: unshare has no memory arguments.
            check(unsafe { libc::unshare(self.unshare) })?;
        }
        if self.pid_namespace {
            self.fork_reaper()?;
        }
        if self.mount_proc {
            // SAFETY: NUL-terminated static strings and null pointers where allowed.
            unsafe {
                check(libc::mount(
                    std::ptr::null(),
                    c"/".as_ptr(),
                    std::ptr::null(),
                    libc::MS_REC | libc::MS_PRIVATE,
                    std::ptr::null(),
                ))?;
                check(libc::mount(
                    c"proc".as_ptr(),
                    self.proc_path.as_ptr(),
                    c"proc".as_ptr(),
                    libc::MS_NOSUID | libc::MS_NODEV | libc::MS_NOEXEC,
                    std::ptr::null(),
                ))?;
            }
            if let Some(ruleset) = &self.landlock {
                self.allow_proc(ruleset)?;
            }
        }
        if let Some((uid, gid)) = self.drop_to {
            // SAFETY: plain id-setting calls; groups cleared first, uid last (it drops the
            // capability the others need).
            unsafe {
                check(libc::setgroups(0, std::ptr::null()))?;
                check(libc::setresgid(gid, gid, gid))?;
                check(libc::setresuid(uid, uid, uid))?;
            }
        }
        if let Some(map) = &self.userns_after_drop {
            // The sandbox user in a user namespace of its own: RLIMIT_NPROC then counts this
            // worker's processes, not every process of that user (other jobs' workers). Changing
            // uid cleared "dumpable", which makes /proc/self root's; the map files need it back.
            // SAFETY: prctl and unshare with integer arguments.
            unsafe {
                check(libc::prctl(libc::PR_SET_DUMPABLE, 1, 0, 0, 0))?;
                check(libc::unshare(libc::CLONE_NEWUSER))?;
            }
            write_file(&map.setgroups_path, b"deny")?;
            write_file(&map.uid_path, &map.uid_map)?;
            write_file(&map.gid_path, &map.gid_map)?;
        }
        if let Some(l) = &self.rlimits {
            // After the user namespace exists: there, the count is of this namespace's
            // processes; set before, it would count every process of the user.
            setrlimit(libc::RLIMIT_NPROC, l.nproc)?;
        }
        // SAFETY: prctl with integer arguments.
        check(unsafe { libc::prctl(libc::PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) })?;
        if let Some(fd) = &self.landlock {
            // SAFETY: a valid ruleset fd, no flags.
            let rc =
                unsafe { libc::syscall(libc::SYS_landlock_restrict_self, fd.as_raw_fd(), 0u32) };
            if rc != 0 {
                return Err(io::Error::last_os_error());
            }
        }
        if let Some(filters) = &self.seccomp {
            for f in filters {
                seccompiler::apply_filter(f).map_err(|e| match e {
                    seccompiler::Error::Seccomp(io) | seccompiler::Error::Prctl(io) => io,
                    _ => io::Error::from_raw_os_error(libc::EINVAL),
                })?;
            }
        }
        Ok(())
    }

    /// Adds a read rule for the `/proc` just mounted to the (not yet enforced) ruleset.
    fn allow_proc(&self, ruleset: &OwnedFd) -> io::Result<()> {
        /// `struct landlock_path_beneath_attr` (packed, from linux/landlock.h).
        #[repr(C, packed)]
        struct PathBeneath {
            allowed_access: u64,
            parent_fd: i32,
        }
        // SAFETY: open of a NUL-terminated path; the attr is a valid local struct; the fd is
        // closed on every path.
        unsafe {
            let fd = libc::open(self.proc_path.as_ptr(), libc::O_PATH | libc::O_CLOEXEC);
            if fd == -1 {
                return Err(io::Error::last_os_error());
            }
            let attr = PathBeneath {
                allowed_access: self.proc_rights,
                parent_fd: fd,
            };
            let rc = libc::syscall(
                libc::SYS_landlock_add_rule,
                ruleset.as_raw_fd(),
                1u32, // LANDLOCK_RULE_PATH_BENEATH
                &attr as *const PathBeneath,
                0u32,
            );
            let err = io::Error::last_os_error();
            libc::close(fd);
            if rc != 0 {
                return Err(err);
            }
        }
        Ok(())
    }

    /// Forks twice. The std child (outside the namespace) becomes the *reaper*: it waits for
    /// the namespace's init and dies as the program died. The init (pid 1 of the new PID
    /// namespace) reaps orphans and reports the program's wait status to the reaper. The
    /// program itself is pid 2 and returns here to go on to `exec`: it must not be pid 1, which
    /// the kernel protects from the signals it sends itself (`abort()` would turn into SIGSEGV,
    /// `os.kill(os.getpid(), SIGKILL)` would do nothing). When init dies, the kernel kills
    /// everything left in the namespace, even processes that left the process group.
    fn fork_reaper(&self) -> io::Result<()> {
        let mut fds = [0 as libc::c_int; 2];
        // SAFETY: a valid two-int array.
        check(unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC) })?;
        let (status_r, status_w) = (fds[0], fds[1]);
        // SAFETY: fork in a single-threaded child; every branch below makes only system calls
        // on local memory, and the reaper and init never return: they end in `_exit`.
        unsafe {
            let init = libc::fork();
            if init == -1 {
                return Err(io::Error::last_os_error());
            }
            if init > 0 {
                close_all_but(status_r);
                let mut status: libc::c_int = 0;
                let reported = read_full(status_r, &mut status);
                let mut own = 0;
                while libc::waitpid(init, &mut own, 0) == -1
                    && *libc::__errno_location() == libc::EINTR
                {}
                mirror(if reported { status } else { own });
            }
            // Init, pid 1 of the namespace: die with the reaper.
            libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL, 0, 0, 0);
            let program = libc::fork();
            if program == -1 {
                libc::_exit(127);
            }
            if program == 0 {
                libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL, 0, 0, 0);
                libc::close(status_r);
                libc::close(status_w);
                return Ok(());
            }
            close_all_but(status_w);
            loop {
                let mut status = 0;
                let r = libc::waitpid(-1, &mut status, 0);
                if r == program {
                    let bytes = status.to_ne_bytes();
                    libc::write(status_w, bytes.as_ptr().cast(), bytes.len());
                    libc::_exit(0);
                }
                if r == -1 && *libc::__errno_location() != libc::EINTR {
                    libc::_exit(127);
                }
            }
        }
    }
}

/// Closes every fd but `keep`: the reaper and init must hold none of the worker's pipes (nor
/// std's exec-status pipe, or `spawn` would wait for the whole worker's life).
///
/// # Safety
/// Only in a forked child that owns no Rust objects using those fds afterwards.
unsafe fn close_all_but(keep: libc::c_int) {
    // SAFETY: close_range on fd ranges; falls back to close in a loop.
    unsafe {
        let keep = keep as u32;
        let below = keep.checked_sub(1).map(|hi| (0, hi));
        let above = keep.checked_add(1).map(|lo| (lo, u32::MAX));
        for (lo, hi) in [below, above].into_iter().flatten() {
            if libc::syscall(libc::SYS_close_range, lo, hi, 0u32) != 0 {
                for fd in lo..hi.min(4096) {
                    libc::close(fd as libc::c_int);
                }
            }
        }
    }
}

/// Reads one `c_int` from `fd`; false on end of file or error.
///
/// # Safety
/// `fd` must be a readable fd.
unsafe fn read_full(fd: libc::c_int, out: &mut libc::c_int) -> bool {
    let mut buf = [0u8; 4];
    let mut got = 0;
    while got < buf.len() {
        // SAFETY: reading into the unfilled tail of a local buffer.
        let n = unsafe { libc::read(fd, buf[got..].as_mut_ptr().cast(), buf.len() - got) };
        if n <= 0 {
            // SAFETY: reading errno.
            if n == -1 && unsafe { *libc::__errno_location() } == libc::EINTR {
                continue;
            }
            return false;
        }
        got += n as usize;
    }
    *out = libc::c_int::from_ne_bytes(buf);
    true
}

/// Ends the calling process the way `status` (a wait status) says: the same exit code, or the
/// same signal, so the pool classifies the worker's end truthfully.
///
/// # Safety
/// Only in the forked reaper; never returns.
unsafe fn mirror(status: libc::c_int) -> ! {
    // SAFETY: signal-disposition calls on local memory, then _exit.
    unsafe {
        if libc::WIFSIGNALED(status) {
            let sig = libc::WTERMSIG(status);
            libc::signal(sig, libc::SIG_DFL);
            let mut set: libc::sigset_t = std::mem::zeroed();
            libc::sigemptyset(&mut set);
            libc::sigaddset(&mut set, sig);
            libc::sigprocmask(libc::SIG_UNBLOCK, &set, std::ptr::null_mut());
            libc::kill(libc::getpid(), sig);
            libc::_exit(128 + sig);
        }
        libc::_exit(libc::WEXITSTATUS(status));
    }
}
