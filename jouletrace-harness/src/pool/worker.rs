use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::os::fd::{AsRawFd, OwnedFd};
use std::os::unix::process::CommandExt;
use std::path::PathBuf;
use std::process::{Child, ChildStdin, Command, ExitStatus, Stdio};
use std::sync::mpsc::{Receiver, RecvTimeoutError, channel};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use nix::fcntl::OFlag;
use nix::sys::signal::{Signal, killpg};
use nix::unistd::Pid;

use super::capture::{Capture, drain};
use super::sandbox::{Running, SandboxSpec};
use crate::cancel::CancelToken;
use crate::protocol::{
    HostInfo, Metering, PROTOCOL_FD, PROTOCOL_FD_ENV, PROTOCOL_VERSION, Request, Response,
};
use crate::results::Captured;

/// How to start one worker: a target's command line (see [`crate::engine::Target`]) and the
/// limits it runs under.
#[derive(Clone, Debug)]
pub struct WorkerCommand {
    pub program: PathBuf,
    pub args: Vec<String>,
    /// Set over the inherited environment.
    pub env: BTreeMap<String, String>,
    pub cwd: Option<PathBuf>,
    /// Pin the worker to this logical CPU.
    pub cpu: Option<u32>,
    pub memory_limit_mb: Option<u64>,
    /// Start the worker in a new network namespace with only loopback (needs root or
    /// CAP_SYS_ADMIN).
    pub isolate_network: bool,
    /// Bytes kept of each of stdout and stderr.
    pub capture_limit: usize,
    /// The operating-system sandbox ([`super::sandbox`]); `None` runs the worker as before.
    pub sandbox: Option<SandboxSpec>,
}

/// How a request to a worker failed.
#[derive(Debug, thiserror::Error)]
pub enum WorkerError {
    #[error("no answer within {limit:?}")]
    Timeout { limit: Duration },
    #[error("worker exited: {status}")]
    Died { status: ExitStatus },
    #[error("protocol error: {message}")]
    Protocol { message: String },
    #[error("cancelled")]
    Cancelled,
    #[error("cannot start worker: {0}")]
    Spawn(std::io::Error),
}

type Line = Result<Response, String>;

/// `PR_SET_PDEATHSIG`: SIGKILL this process when its parent (thread) ends. Async-signal-safe.
pub(super) fn die_with_parent() -> std::io::Result<()> {
    // SAFETY: prctl with integer arguments.
    if unsafe { libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL, 0, 0, 0) } != 0 {
        return Err(std::io::Error::last_os_error());
    }
    Ok(())
}

/// How long [`Worker::output`] waits, after the worker exited, for its output pipes to close.
/// They close as soon as the worker and its process group (or sandbox) are gone; only a
/// descendant that escaped both (a trusted bench may start a daemon) can hold them open longer,
/// and its output is then cut off here rather than holding up the run.
const DRAIN_LIMIT: Duration = Duration::from_secs(2);

/// The longest protocol message the orchestrator reads, newline included. A worker is untrusted
/// code: one that writes an endless line to the protocol channel must not make the orchestrator
/// buffer it until the machine runs out of memory. The largest honest message is a Python
/// host's `ran` answer, whose outputs are each bounded (16 MiB of text, a million values:
/// docs/python.md); a check whose outputs together pass this limit fails as a protocol error
/// that says so.
pub const MAX_MESSAGE_BYTES: u64 = 256 * 1024 * 1024;

/// A running worker process.
pub struct Worker {
    child: Child,
    stdin: Option<ChildStdin>,
    responses: Receiver<Line>,
    stdout: Arc<Mutex<Capture>>,
    stderr: Arc<Mutex<Capture>>,
    /// The threads draining stdout and stderr: each ends at its pipe's end of file.
    drains: [JoinHandle<()>; 2],
    /// The case the worker said it started last, for attributing a crash or timeout.
    pub last_case: Option<String>,
    pub pid: u32,
    /// What the worker said runs its candidates (`None` from a host that did not say).
    pub host: Option<HostInfo>,
    status: Option<ExitStatus>,
    sandbox: Option<Running>,
}

impl Worker {
    /// Starts the worker and waits for its hello (within `timeout`).
    pub fn spawn(cmd: &WorkerCommand, timeout: Duration) -> Result<Worker, WorkerError> {
        let (resp_read, resp_write) =
            nix::unistd::pipe2(OFlag::O_CLOEXEC).map_err(|e| WorkerError::Spawn(e.into()))?;
        let mut command = Command::new(&cmd.program);
        command
            .args(&cmd.args)
            .envs(&cmd.env)
            .env(PROTOCOL_FD_ENV, PROTOCOL_FD.to_string())
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            // A new process group, so that a timeout kills whatever the candidate started too.
            .process_group(0);
        if let Some(dir) = &cmd.cwd {
            command.current_dir(dir);
        }
        let write_fd = resp_write.as_raw_fd();
        let cpu = cmd.cpu;
        let mem = cmd.memory_limit_mb;
        // The sandbox makes its own network namespace.
        let isolate = cmd.isolate_network && cmd.sandbox.is_none();
        let parent = std::process::id();
        // SAFETY: the closure runs between fork and exec and only makes async-signal-safe
        // system calls (prctl, getppid, dup2, fcntl, sched_setaffinity, setrlimit, unshare); it
        // allocates nothing.
        unsafe {
            command.pre_exec(move || {
                // Die with the orchestrator: a SIGKILLed server, agent or `cargo joule` must not
                // leave a candidate running until its own limits. (The signal follows the
                // spawning thread: a worker lives within the lane thread that started it.)
                die_with_parent()?;
                // A parent that died before the prctl would never send the signal.
                if libc::getppid() as u32 != parent {
                    return Err(std::io::Error::other("the orchestrator exited"));
                }
                if write_fd == PROTOCOL_FD {
                    // dup2 onto itself would keep close-on-exec set; clear it instead.
                    if libc::fcntl(PROTOCOL_FD, libc::F_SETFD, 0) == -1 {
                        return Err(std::io::Error::last_os_error());
                    }
                } else if libc::dup2(write_fd, PROTOCOL_FD) == -1 {
                    return Err(std::io::Error::last_os_error());
                }
                if let Some(cpu) = cpu {
                    let mut set = nix::sched::CpuSet::new();
                    set.set(cpu as usize)?;
                    nix::sched::sched_setaffinity(Pid::from_raw(0), &set)?;
                }
                if let Some(mb) = mem {
                    let bytes = mb.saturating_mul(1024 * 1024);
                    nix::sys::resource::setrlimit(
                        nix::sys::resource::Resource::RLIMIT_AS,
                        bytes,
                        bytes,
                    )?;
                }
                if isolate {
                    nix::sched::unshare(nix::sched::CloneFlags::CLONE_NEWNET)?;
                }
                Ok(())
            });
        }
        // --- sandbox hook: last, because its pre_exec step may fork the pid-namespace reaper.
        let sandbox = match &cmd.sandbox {
            Some(spec) => Some(
                spec.apply(&mut command, cmd.cwd.as_deref(), cmd.memory_limit_mb)
                    .map_err(|e| WorkerError::Spawn(std::io::Error::other(e)))?,
            ),
            None => None,
        };
        // --- end of sandbox hook
        if cmd.sandbox.is_some() {
            // SAFETY: prctl only. Runs after the sandbox's step, in the program itself: its uid
            // change cleared the parent-death signal (the PID namespace's init keeps its own).
            unsafe { command.pre_exec(die_with_parent) };
        }
        let mut child = command.spawn().map_err(WorkerError::Spawn)?;
        // The parent must not hold the write end, or the reader never sees end of file.
        drop(resp_write);
        let (stdout, out_drain) = drain(child.stdout.take().expect("piped"), cmd.capture_limit);
        let (stderr, err_drain) = drain(child.stderr.take().expect("piped"), cmd.capture_limit);
        let responses = read_responses(resp_read, MAX_MESSAGE_BYTES);
        let mut worker = Worker {
            pid: child.id(),
            stdin: child.stdin.take(),
            child,
            responses,
            stdout,
            stderr,
            drains: [out_drain, err_drain],
            last_case: None,
            host: None,
            status: None,
            sandbox,
        };
        match worker.receive(timeout, None)? {
            Response::Hello { protocol, host, .. } if protocol == PROTOCOL_VERSION => {
                worker.host = host;
                // The worker checks our version in turn, and refuses a session of another one.
                worker.send(&Request::Hello {
                    protocol: PROTOCOL_VERSION,
                })?;
                Ok(worker)
            }
            Response::Hello { protocol, .. } => Err(WorkerError::Protocol {
                message: format!(
                    "worker speaks protocol {protocol}, this orchestrator {PROTOCOL_VERSION}: \
                     rebuild the bench (or update the host) against the same JouleTrace version"
                ),
            }),
            other => Err(WorkerError::Protocol {
                message: format!("expected hello, got {other:?}"),
            }),
        }
    }

    /// Who reads the meter around this worker's windows.
    pub fn metering(&self) -> Metering {
        self.host.as_ref().map(|h| h.metering).unwrap_or_default()
    }

    /// Sends `request` and waits for its final answer; interim messages (`case_started`) go to
    /// `interim`. On timeout or cancellation the worker's process group is killed.
    pub fn request(
        &mut self,
        request: &Request,
        timeout: Duration,
        cancel: Option<&CancelToken>,
    ) -> Result<Response, WorkerError> {
        self.send(request)?;
        self.receive(timeout, cancel)
    }

    /// Writes one request without waiting for an answer (a conversation such as a metered
    /// sample's windows: see [`Worker::receive_until`]).
    pub fn send(&mut self, request: &Request) -> Result<(), WorkerError> {
        let line = request.to_line();
        let sent = self
            .stdin
            .as_mut()
            .map(|s| s.write_all(line.as_bytes()).and_then(|_| s.flush()));
        if !matches!(sent, Some(Ok(()))) {
            return Err(self.died_or_protocol("the worker closed its input".into()));
        }
        Ok(())
    }

    fn receive(
        &mut self,
        timeout: Duration,
        cancel: Option<&CancelToken>,
    ) -> Result<Response, WorkerError> {
        self.receive_until(Instant::now() + timeout, timeout, cancel)
    }

    /// The next message other than `case_started`, by `deadline`; `limit` is the timeout the
    /// deadline stands for, for the error. On timeout or cancellation the worker's process group
    /// is killed.
    pub fn receive_until(
        &mut self,
        deadline: Instant,
        limit: Duration,
        cancel: Option<&CancelToken>,
    ) -> Result<Response, WorkerError> {
        let timeout = limit;
        loop {
            let now = Instant::now();
            if now >= deadline {
                self.kill();
                return Err(WorkerError::Timeout { limit: timeout });
            }
            if cancel.is_some_and(CancelToken::is_cancelled) {
                self.kill();
                return Err(WorkerError::Cancelled);
            }
            let wait = (deadline - now).min(Duration::from_millis(50));
            match self.responses.recv_timeout(wait) {
                Ok(Ok(Response::CaseStarted { case })) => self.last_case = Some(case),
                Ok(Ok(resp)) => return Ok(resp),
                Ok(Err(bad)) => {
                    self.kill();
                    return Err(WorkerError::Protocol { message: bad });
                }
                Err(RecvTimeoutError::Timeout) => {}
                Err(RecvTimeoutError::Disconnected) => {
                    return Err(
                        self.died_or_protocol("the worker closed its protocol channel".into())
                    );
                }
            }
        }
    }

    /// The worker stopped talking: if it exited, say how; otherwise it broke the protocol.
    fn died_or_protocol(&mut self, message: String) -> WorkerError {
        match self.wait_exit(Duration::from_secs(5)) {
            Some(status) if !status.success() => WorkerError::Died { status },
            Some(status) => WorkerError::Protocol {
                message: format!("{message}; it exited with {status} in the middle of a request"),
            },
            None => {
                self.kill();
                WorkerError::Protocol { message }
            }
        }
    }

    /// Waits up to `limit` for the worker to exit.
    pub fn wait_exit(&mut self, limit: Duration) -> Option<ExitStatus> {
        if self.status.is_some() {
            return self.status;
        }
        let deadline = Instant::now() + limit;
        loop {
            if let Ok(Some(status)) = self.child.try_wait() {
                self.status = Some(status);
                // Whatever it left behind in its group (and its cgroup) goes too.
                let _ = killpg(Pid::from_raw(self.pid as i32), Signal::SIGKILL);
                if let Some(s) = self.sandbox.as_mut() {
                    s.cleanup();
                }
                return Some(status);
            }
            if Instant::now() >= deadline {
                return None;
            }
            std::thread::sleep(Duration::from_millis(5));
        }
    }

    /// Kills the worker's whole process group and reaps it.
    pub fn kill(&mut self) {
        if self.status.is_none() {
            let _ = killpg(Pid::from_raw(self.pid as i32), Signal::SIGKILL);
            let _ = self.child.kill();
            self.status = self.child.wait().ok();
        }
        if let Some(s) = self.sandbox.as_mut() {
            s.cleanup();
        }
    }

    /// The pid of the program itself (read a CPU clock on this one): in a PID namespace
    /// [`Worker::pid`] is the sandbox's reaper, the process group leader. Waits up to a second
    /// for the program to be forked.
    pub fn program_pid(&self) -> u32 {
        let Some(s) = self.sandbox.as_ref() else {
            return self.pid;
        };
        for _ in 0..200 {
            if let Some(pid) = s.program_pid(self.pid) {
                return pid;
            }
            std::thread::sleep(Duration::from_millis(5));
        }
        self.pid
    }

    /// Asks the worker to exit, and kills it if it does not within a second.
    pub fn shutdown(&mut self) {
        if self.status.is_none() {
            if let Some(stdin) = self.stdin.as_mut() {
                let _ = stdin.write_all(Request::Shutdown.to_line().as_bytes());
            }
            self.stdin = None;
            if self.wait_exit(Duration::from_secs(1)).is_none() {
                self.kill();
            }
        }
    }

    /// What the worker wrote so far; once it has exited, all it wrote: the capture threads are
    /// given until their pipes' end of file (up to [`DRAIN_LIMIT`]). A fixed 20 ms pause lost the
    /// last pipeful (64 KiB) of a 100 MB flood whenever a loaded machine ran the capture thread
    /// later than that.
    pub fn output(&self) -> (Captured, Captured) {
        if self.status.is_some() {
            let deadline = Instant::now() + DRAIN_LIMIT;
            while !self.drains.iter().all(JoinHandle::is_finished) && Instant::now() < deadline {
                std::thread::sleep(Duration::from_millis(1));
            }
        }
        (
            self.stdout.lock().expect("capture lock").snapshot(),
            self.stderr.lock().expect("capture lock").snapshot(),
        )
    }
}

impl Drop for Worker {
    fn drop(&mut self) {
        self.kill();
    }
}

/// Reads the worker's messages, one per line, each at most `limit` bytes: a longer one is
/// reported as a protocol error and nothing more is read (the receiver kills the worker).
fn read_responses(fd: OwnedFd, limit: u64) -> Receiver<Line> {
    let (tx, rx) = channel();
    std::thread::Builder::new()
        .name("jouletrace-protocol".into())
        .spawn(move || {
            let mut reader = BufReader::new(std::fs::File::from(fd));
            let mut line = Vec::new();
            loop {
                line.clear();
                match (&mut reader).take(limit).read_until(b'\n', &mut line) {
                    Ok(0) | Err(_) => break,
                    Ok(_) => {}
                }
                if line.last() == Some(&b'\n') {
                    line.pop();
                } else if line.len() as u64 >= limit {
                    let _ = tx.send(Err(format!(
                        "the worker sent a message longer than {limit} bytes, the protocol's \
                         limit (a candidate writing to the protocol channel, or outputs too \
                         large together)"
                    )));
                    break;
                }
                let parsed = serde_json::from_slice::<Response>(&line).map_err(|e| {
                    let shown = String::from_utf8_lossy(&line[..line.len().min(200)]).into_owned();
                    format!("unreadable message from worker ({e}): {shown}")
                });
                if tx.send(parsed).is_err() {
                    break;
                }
            }
        })
        .expect("spawn protocol reader");
    rx
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A line past the limit is one protocol error, read no further than the limit; the messages
    /// before it arrive intact, and a last message without its newline still counts.
    #[test]
    fn an_endless_protocol_line_is_an_error_not_a_growing_buffer() {
        let hello = format!(r#"{{"response":"hello","protocol":{PROTOCOL_VERSION},"pid":1}}"#);
        let (read, write) = nix::unistd::pipe().unwrap();
        let rx = read_responses(read, 1024);
        let writer = std::thread::spawn({
            let hello = hello.clone();
            move || {
                let mut w = std::fs::File::from(write);
                // The reader stops at the limit and drops its end: writes past it fail.
                let _ = w.write_all(format!("{hello}\n").as_bytes());
                let _ = w.write_all(&vec![b'x'; 1 << 20]);
            }
        });
        assert!(matches!(rx.recv().unwrap(), Ok(Response::Hello { .. })));
        let err = rx.recv().unwrap().unwrap_err();
        assert!(err.contains("longer than 1024 bytes"), "{err}");
        assert!(
            rx.recv().is_err(),
            "nothing is read after the over-long line"
        );
        writer.join().unwrap();

        let (read, write) = nix::unistd::pipe().unwrap();
        let rx = read_responses(read, 1024);
        std::fs::File::from(write)
            .write_all(hello.as_bytes())
            .unwrap();
        assert!(matches!(rx.recv().unwrap(), Ok(Response::Hello { .. })));
    }

    /// Everything a worker wrote is in its output once it has exited, however late the capture
    /// thread reads it: here the last 64 KiB reach the pipe 200 ms after the worker exited (from
    /// a process that left its group, which the worker waits for before it exits), as a pipeful
    /// still unread does when the capture thread runs late. The 20 ms pause this replaces missed them.
    #[test]
    fn output_after_exit_is_read_to_end_of_file() {
        let script = format!(
            "echo '{{\"response\":\"hello\",\"protocol\":{PROTOCOL_VERSION},\"pid\":1}}' >&3; \
             read hello; \
             setsid sh -c 'sleep 0.2; head -c 65536 /dev/zero' & \
             while read -r _ _ _ _ group _ < /proc/$!/stat && [ \"$group\" = $$ ]; do :; done; \
             exit 0"
        );
        let cmd = WorkerCommand {
            program: "/bin/sh".into(),
            args: vec!["-c".into(), script],
            env: BTreeMap::new(),
            cwd: None,
            cpu: None,
            memory_limit_mb: None,
            isolate_network: false,
            capture_limit: 1 << 20,
            sandbox: None,
        };
        let mut worker = Worker::spawn(&cmd, Duration::from_secs(10)).unwrap();
        assert!(worker.wait_exit(Duration::from_secs(10)).is_some());
        let (stdout, _) = worker.output();
        assert_eq!(stdout.total_bytes, 65536);
    }
}
