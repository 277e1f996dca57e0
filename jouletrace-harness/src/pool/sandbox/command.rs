//! One bounded command in the sandbox — a build step such as `rustc` of a submitted crate — as
//! opposed to a worker that speaks the protocol (`pool::worker`).
//!
//! The same layers as a worker ([`SandboxSpec::apply`]), plus what a one-shot command needs
//! that a worker gets from the pool: a wall-clock deadline enforced from outside (the process
//! group, the PID namespace and the cgroup are killed), an address-space limit, and bounded
//! captured output with a kill when it overflows (a recursive macro can print without end).

use std::ffi::OsString;
use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::{Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

use nix::sys::signal::{Signal, killpg};
use nix::unistd::Pid;

use super::{Running, SandboxError, SandboxSpec, io_err};
use crate::pool::capture::{Capture, drain};
use crate::pool::worker::die_with_parent;

type Shared = std::sync::Arc<std::sync::Mutex<Capture>>;

/// The bounds of one command.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CommandLimits {
    /// Killed (with everything it started) after this long.
    pub wall: Duration,
    /// RLIMIT_AS of each process, and the memory cgroup's bound on the whole tree.
    pub memory_bytes: u64,
    /// Bytes of stdout + stderr; the command is killed when it writes more.
    pub output_bytes: u64,
}

/// How a bounded command ended. Holds the sandbox's [`Running`]: its private directory (with
/// what the command wrote) lives until this is dropped.
#[derive(Debug)]
pub struct Finished {
    pub status: ExitStatus,
    pub timed_out: bool,
    /// Killed for writing more than `output_bytes`.
    pub output_exceeded: bool,
    /// The memory cgroup refused memory at least once (false where there is no memory cgroup;
    /// the caller also reads the command's own allocation-failure messages).
    pub memory_limit_reached: bool,
    /// The captured output, at most `output_bytes` of each stream (head and tail).
    pub stdout: String,
    pub stderr: String,
    pub elapsed: Duration,
    pub running: Running,
}

impl Finished {
    /// The private directory the command ran in.
    pub fn workdir(&self) -> &Path {
        self.running.workdir.path()
    }
}

impl SandboxSpec {
    /// Runs `program` in the sandbox, in its private directory, under `limits`. `setup` gets
    /// that directory before the start (write the inputs there) and returns the arguments.
    /// `env` is set over the sandbox's cleared environment. Never returns an error for what the
    /// command did (a non-zero status, a timeout): only for a sandbox that could not be made.
    pub fn run_command(
        &self,
        program: &Path,
        env: &[(&str, OsString)],
        limits: CommandLimits,
        setup: impl FnOnce(&Path) -> std::io::Result<Vec<OsString>>,
    ) -> Result<Finished, SandboxError> {
        let mut command = Command::new(program);
        command
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            // A new process group: the deadline kills whatever the command started.
            .process_group(0);
        for (k, v) in env {
            command.env(k, v);
        }
        let memory = limits.memory_bytes;
        let parent = std::process::id();
        // SAFETY: prctl, getppid and setrlimit only, between fork and exec; nothing allocates.
        unsafe {
            command.pre_exec(move || {
                // Die with the builder: a SIGKILLed service must not leave a compile running.
                die_with_parent()?;
                if libc::getppid() as u32 != parent {
                    return Err(std::io::Error::other("the builder exited"));
                }
                let lim = libc::rlimit {
                    rlim_cur: memory,
                    rlim_max: memory,
                };
                if libc::setrlimit(libc::RLIMIT_AS, &lim) != 0 {
                    return Err(std::io::Error::last_os_error());
                }
                Ok(())
            });
        }
        let memory_mb = limits.memory_bytes.div_ceil(1024 * 1024);
        let mut running = self.apply(&mut command, None, Some(memory_mb))?;
        // SAFETY: prctl only. Runs in the program after the sandbox's step: its uid change
        // cleared the parent-death signal (the PID namespace's init keeps its own).
        unsafe { command.pre_exec(die_with_parent) };
        let args =
            setup(running.workdir.path()).map_err(io_err("preparing the command's inputs"))?;
        command.args(args);

        let start = Instant::now();
        let mut child = command
            .spawn()
            .map_err(io_err(format!("starting {}", program.display())))?;
        let limit = usize::try_from(limits.output_bytes).unwrap_or(usize::MAX);
        let (stdout, out_thread) = drain(child.stdout.take().expect("piped"), limit);
        let (stderr, err_thread) = drain(child.stderr.take().expect("piped"), limit);
        let total = || {
            let bytes = |c: &Shared| c.lock().map(|c| c.total_bytes()).unwrap_or(0);
            bytes(&stdout) + bytes(&stderr)
        };
        let group = Pid::from_raw(child.id() as i32);
        let (mut timed_out, mut output_exceeded) = (false, false);
        let status = loop {
            if let Some(status) = child
                .try_wait()
                .map_err(io_err("waiting for the command"))?
            {
                break status;
            }
            if start.elapsed() >= limits.wall {
                timed_out = true;
            } else if total() > limits.output_bytes {
                output_exceeded = true;
            }
            if timed_out || output_exceeded {
                let _ = killpg(group, Signal::SIGKILL);
                let _ = child.kill();
                break child.wait().map_err(io_err("reaping the command"))?;
            }
            std::thread::sleep(Duration::from_millis(10));
        };
        let elapsed = start.elapsed();
        // What it left behind in its group goes too, before the pipes are read to the end (a
        // straggler holding them open would otherwise keep the drains waiting).
        let _ = killpg(group, Signal::SIGKILL);
        let memory_limit_reached = running.memory_limit_reached();
        running.cleanup();
        let _ = out_thread.join();
        let _ = err_thread.join();
        let text = |c: &Shared| c.lock().map(|c| c.snapshot().text).unwrap_or_default();
        output_exceeded |= total() > limits.output_bytes;
        Ok(Finished {
            status,
            timed_out,
            output_exceeded,
            memory_limit_reached,
            stdout: text(&stdout),
            stderr: text(&stderr),
            elapsed,
            running,
        })
    }
}
