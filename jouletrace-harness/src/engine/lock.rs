//! The machine-wide run lock: no other JouleTrace run's work may land inside a measured window.
//!
//! RAPL counters are package-wide (and psys system-wide): whatever else runs on the package while
//! a window is open is charged to the candidate. So a run holds the lock for its whole life, in
//! the mode its phase needs:
//!
//! - **shared** while it lists and checks candidates: any number of runs may check at once, but
//!   none may measure meanwhile;
//! - **exclusive** while it takes idle baselines and measures: nothing else of any JouleTrace run
//!   (checks, listings, idle, windows) runs on the machine.
//!
//! The lock is one file (`lock_path`; `/tmp/jouletrace-measure.lock` by default) locked with
//! open-file-description (OFD) byte-range locks, which the kernel drops when the process dies and
//! which conflict between two runs in one process (a job service hosting several). Byte 1 is the
//! run lock proper; byte 0 is a turnstile that gives a waiting measurer priority: every
//! acquisition passes the turnstile first, and a measurer keeps it while it waits, so that a
//! stream of checking runs cannot starve it. Containers that share a host must share this file
//! (bind-mount the host's path and point `lock_path` at it), or their runs do not see each other.
//!
//! Each hold is recorded ([`LockHold`]) with when it was asked for, got and given back, so a
//! results file proves what it shared the machine with.

use std::fs::{File, OpenOptions};
use std::io::ErrorKind;
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use nix::errno::Errno;
use nix::fcntl::{FcntlArg, fcntl};

use super::{CancelToken, EngineError, Event, Observer, clock_s};
use crate::energy::monotonic_ns;
use crate::results::{LockHold, LockMode};

/// Byte offsets of the two locks in the file.
const TURNSTILE: i64 = 0;
const RUN: i64 = 1;

/// How often a waiting run tries the lock again.
const POLL: Duration = Duration::from_millis(10);

/// How long a no-wait acquisition retries a busy turnstile: a checking run passes it in
/// microseconds, so a short retry tells "someone is passing" from "someone waits to measure".
const TURNSTILE_GRACE: Duration = Duration::from_millis(100);

#[derive(Debug, thiserror::Error)]
pub enum LockError {
    #[error(
        "cannot open the lock file {path}: {source}; point `lock_path` (JOULETRACE_LOCK_PATH, \
         --lock-path) at a file every JouleTrace run on this machine can open for writing",
        path = path.display()
    )]
    Open {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("cannot lock {path}: {source}", path = path.display())]
    Lock {
        path: PathBuf,
        #[source]
        source: Errno,
    },
}

/// The lock file of one run, open for the run's whole life.
pub struct RunLock {
    file: File,
    path: PathBuf,
    origin_ns: u64,
    holds: Vec<LockHold>,
}

/// The lock held in one mode; given back by [`RunLock::release`] (or when the run ends).
pub struct Held {
    mode: LockMode,
    requested_ns: u64,
    acquired_ns: u64,
}

impl RunLock {
    /// Opens (creating, readable and writable by everyone) the lock file at `path`.
    pub fn open(path: &Path, origin_ns: u64) -> Result<RunLock, LockError> {
        let fail = |source| LockError::Open {
            path: path.to_owned(),
            source,
        };
        // Open an existing file without O_CREAT first: with `fs.protected_regular` (the default
        // on many distributions) O_CREAT on another user's file in sticky /tmp is refused even
        // when the file itself is writable by everyone.
        let file = match OpenOptions::new().read(true).write(true).open(path) {
            Ok(f) => f,
            Err(e) if e.kind() == ErrorKind::NotFound => {
                let f = OpenOptions::new()
                    .read(true)
                    .write(true)
                    .create(true)
                    .truncate(false)
                    .mode(0o666)
                    .open(path)
                    .map_err(fail)?;
                // The umask narrowed the mode; other users' runs must be able to lock it too.
                let _ = f.set_permissions(std::fs::Permissions::from_mode(0o666));
                f
            }
            Err(e) => return Err(fail(e)),
        };
        Ok(RunLock {
            file,
            path: path.to_owned(),
            origin_ns,
            holds: Vec::new(),
        })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Takes the run lock in `mode` (shared to list and check, exclusive to measure), waiting for other
    /// runs when `wait` (and saying so to `observer`), else failing at once with
    /// [`EngineError::Locked`]. `Ok(None)`: `cancel` was set while waiting.
    pub fn acquire(
        &mut self,
        mode: LockMode,
        wait: bool,
        observer: &mut dyn Observer,
        cancel: &CancelToken,
    ) -> Result<Option<Held>, EngineError> {
        let requested_ns = monotonic_ns();
        if !self.try_acquire(mode)? {
            if !wait {
                return Err(EngineError::Locked {
                    path: self.path.display().to_string(),
                    hint: "it was asked not to wait (--no-wait); try again when it is done".into(),
                });
            }
            observer.event(&Event::LockWaiting {
                path: self.path.display().to_string(),
                mode,
            });
            if !self.wait_for(mode, cancel)? {
                return Ok(None);
            }
        }
        let held = Held {
            mode,
            requested_ns,
            acquired_ns: monotonic_ns(),
        };
        observer.event(&Event::LockAcquired {
            mode,
            waited_s: clock_s(held.acquired_ns, requested_ns),
        });
        Ok(Some(held))
    }

    /// One attempt without blocking (the turnstile gets a short grace). `Ok(false)`: busy.
    fn try_acquire(&mut self, mode: LockMode) -> Result<bool, EngineError> {
        let start = Instant::now();
        while !self.set(TURNSTILE, libc::F_WRLCK)? {
            if start.elapsed() >= TURNSTILE_GRACE {
                return Ok(false);
            }
            std::thread::sleep(POLL);
        }
        let got = self.set(RUN, run_type(mode));
        self.unlock(TURNSTILE);
        got
    }

    /// Waits for the lock, holding the turnstile once it has it (so that later arrivals queue
    /// behind this run). Polls rather than blocks in the kernel, so that an interrupt ends the
    /// wait: a blocking `F_OFD_SETLKW` is restarted after the signal handler runs.
    /// `Ok(false)`: cancelled.
    fn wait_for(&mut self, mode: LockMode, cancel: &CancelToken) -> Result<bool, EngineError> {
        while !self.set(TURNSTILE, libc::F_WRLCK)? {
            if cancel.is_cancelled() {
                return Ok(false);
            }
            std::thread::sleep(POLL);
        }
        let got = loop {
            match self.set(RUN, run_type(mode)) {
                Ok(true) => break Ok(true),
                Ok(false) if cancel.is_cancelled() => break Ok(false),
                Ok(false) => std::thread::sleep(POLL),
                Err(e) => break Err(e),
            }
        };
        self.unlock(TURNSTILE);
        got
    }

    /// Gives `held` back and records it.
    pub fn release(&mut self, held: Held) {
        self.unlock(RUN);
        let released_ns = monotonic_ns();
        self.holds.push(LockHold {
            mode: held.mode,
            requested_at_s: clock_s(held.requested_ns, self.origin_ns),
            acquired_at_s: clock_s(held.acquired_ns, self.origin_ns),
            released_at_s: clock_s(released_ns, self.origin_ns),
            waited_s: clock_s(held.acquired_ns, held.requested_ns),
        });
    }

    /// Every hold so far, in order.
    pub fn holds(&self) -> &[LockHold] {
        &self.holds
    }

    /// Sets a lock of `kind` on the byte at `offset`, without blocking. `Ok(false)` when another
    /// run holds a conflicting lock.
    fn set(&self, offset: i64, kind: libc::c_int) -> Result<bool, EngineError> {
        let lock = flock(offset, kind);
        loop {
            return match fcntl(&self.file, FcntlArg::F_OFD_SETLK(&lock)) {
                Ok(_) => Ok(true),
                Err(Errno::EINTR) => continue,
                Err(Errno::EAGAIN | Errno::EACCES) => Ok(false),
                Err(source) => Err(EngineError::Lock(LockError::Lock {
                    path: self.path.clone(),
                    source,
                })),
            };
        }
    }

    fn unlock(&self, offset: i64) {
        let lock = flock(offset, libc::F_UNLCK);
        // Unlocking a range of our own open file cannot conflict; it fails only on a bad fd.
        let _ = fcntl(&self.file, FcntlArg::F_OFD_SETLK(&lock));
    }
}

fn run_type(mode: LockMode) -> libc::c_int {
    match mode {
        LockMode::Shared => libc::F_RDLCK,
        LockMode::Exclusive => libc::F_WRLCK,
    }
}

fn flock(offset: i64, kind: libc::c_int) -> libc::flock {
    // SAFETY: `flock` is a plain C struct for which all-zero is a valid value; OFD locks require
    // `l_pid` to be 0.
    let mut lock: libc::flock = unsafe { std::mem::zeroed() };
    lock.l_type = kind as libc::c_short;
    lock.l_whence = libc::SEEK_SET as libc::c_short;
    lock.l_start = offset;
    lock.l_len = 1;
    lock
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::NullObserver;

    fn open(path: &Path) -> RunLock {
        RunLock::open(path, monotonic_ns()).unwrap()
    }

    /// One attempt without waiting.
    fn try_take(lock: &mut RunLock, mode: LockMode) -> Result<Held, EngineError> {
        lock.acquire(mode, false, &mut NullObserver, &CancelToken::new())
            .map(|h| h.expect("a no-wait attempt is never cancelled"))
    }

    #[test]
    fn shared_holds_coexist_and_exclude_a_measurer() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("lock");
        let (mut a, mut b, mut c) = (open(&path), open(&path), open(&path));
        let ha = try_take(&mut a, LockMode::Shared).unwrap();
        let hb = try_take(&mut b, LockMode::Shared).unwrap();
        let refused = try_take(&mut c, LockMode::Exclusive);
        assert!(matches!(refused, Err(EngineError::Locked { .. })));
        a.release(ha);
        b.release(hb);
        let hc = try_take(&mut c, LockMode::Exclusive).unwrap();
        // And a measurer excludes checkers.
        let refused = try_take(&mut a, LockMode::Shared);
        assert!(matches!(refused, Err(EngineError::Locked { .. })));
        c.release(hc);
        assert_eq!(c.holds().len(), 1);
        assert_eq!(c.holds()[0].mode, LockMode::Exclusive);
        assert!(c.holds()[0].released_at_s >= c.holds()[0].acquired_at_s);
    }

    #[test]
    fn a_waiting_measurer_goes_before_later_checkers() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("lock");
        let mut reader = open(&path);
        let held = try_take(&mut reader, LockMode::Shared).unwrap();
        let p = path.clone();
        let writer = std::thread::spawn(move || {
            let mut w = open(&p);
            let h = w
                .acquire(
                    LockMode::Exclusive,
                    true,
                    &mut NullObserver,
                    &CancelToken::new(),
                )
                .unwrap()
                .unwrap();
            w.release(h);
        });
        // Until the measurer queues on the turnstile, a checker could still slip in; once it
        // has, a no-wait checker is refused even though only a shared hold is active.
        let mut late = open(&path);
        let mut refused = false;
        for _ in 0..200 {
            match try_take(&mut late, LockMode::Shared) {
                Ok(h) => late.release(h),
                Err(EngineError::Locked { .. }) => {
                    refused = true;
                    break;
                }
                Err(e) => panic!("{e}"),
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        assert!(refused, "a queued measurer blocks new shared holds");
        reader.release(held);
        writer.join().unwrap();
    }

    #[test]
    fn an_interrupt_ends_a_wait() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("lock");
        let mut holder = open(&path);
        let _held = try_take(&mut holder, LockMode::Exclusive).unwrap();
        let cancel = CancelToken::new();
        let later = cancel.clone();
        std::thread::spawn(move || {
            std::thread::sleep(Duration::from_millis(50));
            later.cancel();
        });
        let mut waits = Vec::new();
        let got = open(&path)
            .acquire(
                LockMode::Shared,
                true,
                &mut |e: &Event| waits.push(e.clone()),
                &cancel,
            )
            .unwrap();
        assert!(got.is_none(), "cancelled, not acquired");
        assert!(
            matches!(waits[..], [Event::LockWaiting { .. }]),
            "{waits:?}"
        );
    }

    #[test]
    fn the_lock_file_is_created_open_to_every_user() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("lock");
        let _ = open(&path);
        let mode = std::fs::metadata(&path).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o666);
        let missing = RunLock::open(&dir.path().join("no/such/dir/lock"), 0);
        assert!(matches!(missing, Err(LockError::Open { .. })));
    }
}
