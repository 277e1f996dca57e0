//! Escape attempts through the real sandboxed spawn path (`Worker::spawn` with a
//! `SandboxSpec`), each asserting what the candidate could NOT do.
//!
//! The sandboxed program is a small Python script (Debian's `/usr/bin/python3`, readable by the
//! unprivileged sandbox user) that says hello on the protocol fd like a worker, tries its
//! escape, and prints what happened; the test reads the printout and checks the world outside.
//! They do not depend on the Python host: the same path starts it.

use std::collections::BTreeMap;
use std::io::Write as _;
use std::net::TcpListener;
use std::os::unix::fs::PermissionsExt;
use std::os::unix::process::ExitStatusExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use jouletrace::pool::sandbox::{
    Layer, Sandbox, SandboxMode, SandboxPolicy, SandboxSpec, WorkerAccess,
};
use jouletrace::pool::{Ending, Worker, WorkerCommand, WorkerError, classify};
use jouletrace::protocol::PROTOCOL_VERSION;
use jouletrace::results::Status;

const PYTHON: &str = "/usr/bin/python3";
const MAX_PROCESSES: u64 = 48;

struct Run {
    /// `key: value` lines the script printed.
    said: BTreeMap<String, String>,
    stdout: jouletrace::results::Captured,
    status: Option<std::process::ExitStatus>,
    stderr: String,
    workdir_seen: Option<String>,
}

impl Run {
    fn said(&self, key: &str) -> &str {
        self.said.get(key).map(String::as_str).unwrap_or_else(|| {
            panic!(
                "the script did not report `{key}`; stdout:\n{}\nstderr:\n{}",
                self.stdout.text, self.stderr
            )
        })
    }
}

fn work_root() -> PathBuf {
    // Shared by every run of these tests: each worker's directory in it is unique and removed.
    std::env::temp_dir().join("jouletrace-sandbox-test")
}

fn sandbox() -> Arc<Sandbox> {
    Sandbox::new(SandboxPolicy {
        mode: SandboxMode::On,
        max_processes: MAX_PROCESSES,
        work_root: work_root(),
        ..SandboxPolicy::default()
    })
    .expect("mode on never refuses")
}

fn active(layer: Layer) -> bool {
    sandbox()
        .layer_states()
        .iter()
        .any(|s| s.layer == layer && s.active)
}

/// A directory others may read (tempfile makes 0700 ones), holding `name`.
fn readable_dir() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
    dir
}

/// Runs `body` (Python, indented by nothing) as a sandboxed worker and waits for it to end.
fn run_script(body: &str, timeout: Duration) -> Run {
    let (worker, _dir) = spawn_script(body);
    finish(worker, timeout)
}

/// Starts `body` as a sandboxed worker; the directory holds its script.
fn spawn_script(body: &str) -> (Worker, tempfile::TempDir) {
    assert!(
        Path::new(PYTHON).exists(),
        "these tests need Debian's {PYTHON} (apt-get install python3)"
    );
    let dir = readable_dir();
    let script = dir.path().join("candidate.py");
    let source = format!(
        "#!{PYTHON}\nimport os, sys, json\n\
         os.write(3, (json.dumps({{'response': 'hello', 'protocol': {PROTOCOL_VERSION}, 'pid': os.getpid()}}) + '\\n').encode())\n\
         sys.stdin.readline()  # the orchestrator's hello: read before anything can exit\n\
         def say(k, v):\n    print(f'{{k}}: {{v}}', flush=True)\n\
         say('cwd', os.getcwd())\n{body}\n"
    );
    std::fs::write(&script, source).unwrap();
    std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o755)).unwrap();
    let cmd = WorkerCommand {
        program: script,
        args: Vec::new(),
        env: BTreeMap::new(),
        cwd: None,
        cpu: None,
        memory_limit_mb: Some(1024),
        isolate_network: false,
        capture_limit: 64 * 1024,
        sandbox: Some(SandboxSpec {
            sandbox: sandbox(),
            access: WorkerAccess::default(),
        }),
    };
    match Worker::spawn(&cmd, Duration::from_secs(10)) {
        Ok(w) => (w, dir),
        Err(e) => panic!("the sandboxed script did not start: {e}"),
    }
}

/// Waits for a worker to end (killing it after `timeout`) and reads what it printed.
fn finish(mut worker: Worker, timeout: Duration) -> Run {
    let status = worker.wait_exit(timeout);
    if status.is_none() {
        worker.kill();
    }
    let (stdout, stderr) = worker.output();
    let said = stdout
        .text
        .lines()
        .filter_map(|l| l.split_once(": "))
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect::<BTreeMap<_, _>>();
    eprintln!("the candidate reported: {said:?}");
    Run {
        workdir_seen: said.get("cwd").cloned(),
        said,
        stdout,
        status,
        stderr: stderr.text,
    }
}

/// Processes whose command line mentions `needle` (the candidate's script path).
fn processes_running(needle: &str) -> Vec<i32> {
    let mut found = Vec::new();
    for entry in std::fs::read_dir("/proc").unwrap().flatten() {
        let Ok(pid) = entry.file_name().to_string_lossy().parse::<i32>() else {
            continue;
        };
        if let Ok(cmd) = std::fs::read(entry.path().join("cmdline"))
            && String::from_utf8_lossy(&cmd).contains(needle)
        {
            found.push(pid);
        }
    }
    found
}

#[test]
fn the_worker_runs_unprivileged_in_its_own_directory() {
    let r = run_script(
        "say('uid', os.getuid())\n\
         open('scratch.txt', 'w').write('mine')\n\
         say('wrote_own_dir', open('scratch.txt').read())\n\
         say('home', os.environ.get('HOME'))\n\
         say('secret_env', os.environ.get('JOULETRACE_TEST_SECRET', 'absent'))\n\
         for line in open('/proc/self/cgroup'):\n\
         \x20   _, ctl, path = line.strip().split(':', 2)\n\
         \x20   if ctl == 'memory':\n\
         \x20       say('tree_memory', open('/sys/fs/cgroup/memory' + path + '/memory.limit_in_bytes').read().strip())\n\
         \x20   if ctl == 'pids':\n\
         \x20       say('tree_pids', open('/sys/fs/cgroup/pids' + path + '/pids.max').read().strip())",
        Duration::from_secs(10),
    );
    let cwd = r.workdir_seen.clone().unwrap();
    assert!(
        cwd.starts_with(&work_root().display().to_string()),
        "runs in a private directory under the work root, not {cwd}"
    );
    assert_eq!(
        r.said("wrote_own_dir"),
        "mine",
        "its own directory is writable"
    );
    assert_eq!(r.said("home"), cwd);
    // SAFETY: geteuid has no preconditions.
    if unsafe { libc::geteuid() } == 0 {
        assert_eq!(r.said("uid"), "65534", "root's workers run as nobody");
    }
    if active(Layer::Cgroup) {
        assert_eq!(
            r.said("tree_memory"),
            (1024u64 << 20).to_string(),
            "the memory limit bounds the whole process tree"
        );
        assert_eq!(r.said("tree_pids"), MAX_PROCESSES.to_string());
    }
    assert!(
        !Path::new(&cwd).exists(),
        "the private directory is removed after the worker"
    );
}

#[test]
fn the_orchestrators_environment_does_not_reach_the_candidate() {
    // SAFETY: set before any worker of this test starts; tests in this file do not read it
    // concurrently in a way that matters (only this test asserts on it).
    unsafe { std::env::set_var("JOULETRACE_TEST_API_KEY", "s3cret") };
    let r = run_script(
        "say('key', os.environ.get('JOULETRACE_TEST_API_KEY', 'absent'))",
        Duration::from_secs(10),
    );
    assert_eq!(r.said("key"), "absent");
}

#[test]
fn a_fork_bomb_is_bounded_and_dies_with_the_worker() {
    let r = run_script(
        "import time\n\
         n = 0\n\
         err = 'none'\n\
         for i in range(10000):\n\
         \x20   try:\n\
         \x20       pid = os.fork()\n\
         \x20   except OSError as e:\n\
         \x20       err = type(e).__name__\n\
         \x20       break\n\
         \x20   if pid == 0:\n\
         \x20       os.setsid()\n\
         \x20       time.sleep(60)\n\
         \x20       os._exit(0)\n\
         \x20   n += 1\n\
         say('forked', n)\n\
         say('error', err)\n\
         sys.stdout.flush()\n\
         os._exit(0)",
        Duration::from_secs(20),
    );
    let forked: u64 = r.said("forked").parse().unwrap();
    assert!(
        forked < MAX_PROCESSES,
        "at most {MAX_PROCESSES} processes (threads count too): {forked} forks succeeded"
    );
    assert_eq!(r.said("error"), "BlockingIOError", "fork fails with EAGAIN");
    // Children left their process group with setsid; the namespace (or cgroup) still ends them.
    let mut left = Vec::new();
    for _ in 0..200 {
        left = processes_running("candidate.py")
            .into_iter()
            .filter(|pid| {
                std::fs::read_to_string(format!("/proc/{pid}/status")).is_ok_and(|s| {
                    s.lines()
                        .any(|l| l.starts_with("Uid:") && l.contains("65534"))
                })
            })
            .collect();
        if left.is_empty() {
            break;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    assert!(
        left.is_empty(),
        "no child of the bomb outlives the worker, even after setsid: {left:?}"
    );
}

#[test]
fn a_fork_bomb_does_not_starve_another_jobs_worker() {
    // The bomb holds every process it could make...
    let (bomb, _dir) = spawn_script(
        "import time\n\
         n = 0\n\
         try:\n\
         \x20   while True:\n\
         \x20       if os.fork() == 0:\n\
         \x20           time.sleep(60); os._exit(0)\n\
         \x20       n += 1\n\
         except OSError:\n\
         \x20   pass\n\
         say('held', n)\n\
         time.sleep(60)",
    );
    for _ in 0..1000 {
        if bomb.output().0.text.contains("held: ") {
            break;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    assert!(
        bomb.output().0.text.contains("held: "),
        "the bomb reached its limit"
    );
    // ...and a neighbour running as the same user still forks: its limit is its own.
    let r = run_script(
        "pids = []\n\
         for i in range(16):\n\
         \x20   pid = os.fork()\n\
         \x20   if pid == 0:\n\
         \x20       os._exit(0)\n\
         \x20   pids.append(pid)\n\
         for p in pids:\n\
         \x20   os.waitpid(p, 0)\n\
         say('forked', len(pids))",
        Duration::from_secs(10),
    );
    drop(bomb);
    if active(Layer::UserNamespace) {
        assert_eq!(r.said("forked"), "16", "{}", r.stderr);
    }
}

#[test]
fn subprocess_runs_harmlessly_inside_the_sandbox() {
    let r = run_script(
        "import subprocess\n\
         p = subprocess.run(['/bin/sh', '-c', 'id -u; cat /etc/shadow; echo done'], capture_output=True, text=True)\n\
         say('child_uid', p.stdout.split()[0])\n\
         say('child_read_shadow', 'root:' in p.stdout)\n\
         say('child_stderr', p.stderr.strip().replace(chr(10), ' | '))",
        Duration::from_secs(10),
    );
    assert_eq!(
        r.said("child_read_shadow"),
        "False",
        "a child cannot read /etc/shadow either"
    );
    // SAFETY: geteuid has no preconditions.
    if unsafe { libc::geteuid() } == 0 {
        assert_eq!(r.said("child_uid"), "65534", "children stay unprivileged");
    }
    assert!(r.said("child_stderr").contains("Permission denied"));
}

#[test]
fn a_socket_cannot_reach_a_server_on_the_hosts_loopback() {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    listener.set_nonblocking(true).unwrap();
    let port = listener.local_addr().unwrap().port();
    let r = run_script(
        &format!(
            "import socket\n\
             try:\n\
             \x20   s = socket.create_connection(('127.0.0.1', {port}), timeout=2)\n\
             \x20   say('connect', 'connected')\n\
             except OSError as e:\n\
             \x20   say('connect', type(e).__name__ + ' ' + str(e.errno))\n\
             try:\n\
             \x20   a, b = socket.socketpair()\n\
             \x20   a.send(b'x'); say('socketpair', b.recv(1).decode())\n\
             except OSError as e:\n\
             \x20   say('socketpair', 'failed ' + str(e))"
        ),
        Duration::from_secs(10),
    );
    assert_ne!(r.said("connect"), "connected");
    assert!(
        matches!(listener.accept(), Err(e) if e.kind() == std::io::ErrorKind::WouldBlock),
        "the host's server saw no connection"
    );
    assert_eq!(r.said("socketpair"), "x", "AF_UNIX socket pairs still work");
}

#[test]
fn other_files_cannot_be_read_or_written() {
    // Another job's directory, readable by everyone as far as file modes go: only the sandbox
    // keeps the candidate out.
    let other = readable_dir();
    let secret = other.path().join("job.json");
    std::fs::write(&secret, "other job's data").unwrap();
    std::fs::set_permissions(&secret, std::fs::Permissions::from_mode(0o644)).unwrap();
    let outside = std::env::temp_dir().join(format!("jouletrace-escape-{}", std::process::id()));
    let r = run_script(
        &format!(
            "def attempt(name, f):\n\
             \x20   try:\n\
             \x20       f(); say(name, 'succeeded')\n\
             \x20   except OSError as e:\n\
             \x20       say(name, type(e).__name__)\n\
             attempt('shadow', lambda: open('/etc/shadow').read())\n\
             attempt('other_job', lambda: open({secret:?}).read())\n\
             attempt('other_job_list', lambda: os.listdir({other:?}))\n\
             attempt('work_root_list', lambda: os.listdir(os.path.dirname(os.getcwd())))\n\
             attempt('write_tmp', lambda: open({outside:?}, 'w').write('x'))\n\
             attempt('write_etc', lambda: open('/etc/jouletrace-escape', 'w').write('x'))\n\
             attempt('big_file', lambda: open('big', 'wb').write(b'x' * (100 * 1024 * 1024)))",
            secret = secret.display().to_string(),
            other = other.path().display().to_string(),
            outside = outside.display().to_string(),
        ),
        Duration::from_secs(20),
    );
    for key in [
        "shadow",
        "other_job",
        "other_job_list",
        "work_root_list",
        "write_tmp",
        "write_etc",
    ] {
        assert_eq!(
            r.said(key),
            "PermissionError",
            "{key}: the sandbox must refuse it"
        );
    }
    assert!(
        !outside.exists(),
        "nothing was written outside the work dir"
    );
    assert!(!Path::new("/etc/jouletrace-escape").exists());
    assert_eq!(
        r.said("big_file"),
        "OSError",
        "a file beyond RLIMIT_FSIZE (64 MiB) cannot be written (EFBIG)"
    );
}

#[test]
fn a_ctypes_segfault_is_classified_as_a_crash() {
    let r = run_script(
        "import ctypes\nsys.stdout.flush()\nctypes.string_at(0)",
        Duration::from_secs(10),
    );
    let status = r.status.expect("the worker ended");
    assert_eq!(
        status.signal(),
        Some(libc::SIGSEGV),
        "the reaper reports the program's own signal"
    );
    let f = classify(&Ending {
        error: &WorkerError::Died { status },
        stderr: &r.stderr,
        case: None,
        timeout: Duration::from_secs(10),
        memory_limit_mb: Some(1024),
    });
    assert_eq!(f.kind, Status::Crashed);
    assert_eq!(f.signal.as_deref(), Some("SIGSEGV"));
}

#[test]
fn abort_and_self_kill_end_the_worker_with_their_own_signal() {
    // The program is not pid 1 of its namespace (the kernel ignores signals pid 1 sends
    // itself), so an abort is an abort.
    let r = run_script("sys.stdout.flush()\nos.abort()", Duration::from_secs(10));
    assert_eq!(r.status.and_then(|s| s.signal()), Some(libc::SIGABRT));
    let r = run_script(
        "import signal\nos.kill(os.getpid(), signal.SIGKILL)\nsay('survived', 'yes')",
        Duration::from_secs(10),
    );
    assert_eq!(r.status.and_then(|s| s.signal()), Some(libc::SIGKILL));
    let r = run_script("say('bye', 1)\nsys.exit(3)", Duration::from_secs(10));
    assert_eq!(
        r.status.and_then(|s| s.code()),
        Some(3),
        "exit codes pass through"
    );
}

#[test]
fn the_parent_and_other_jobs_cannot_be_signalled() {
    use std::os::unix::process::CommandExt as _;
    let me = std::process::id();
    // Another job's worker: the same unprivileged user, outside this sandbox.
    let mut victim = std::process::Command::new("sleep");
    victim.arg("30");
    // SAFETY: geteuid has no preconditions.
    if unsafe { libc::geteuid() } == 0 {
        victim.uid(65534).gid(65534);
    }
    let mut victim = victim.spawn().unwrap();
    let vpid = victim.id();
    let r = run_script(
        &format!(
            "import signal\n\
             def attempt(name, pid, sig):\n\
             \x20   try:\n\
             \x20       os.kill(pid, sig); say(name, 'sent')\n\
             \x20   except OSError as e:\n\
             \x20       say(name, type(e).__name__)\n\
             ppid = os.getppid()\n\
             say('ppid', ppid)\n\
             attempt('kill_orchestrator', {me}, signal.SIGKILL)\n\
             attempt('kill_other_job', {vpid}, signal.SIGKILL)\n\
             attempt('kill_ppid', ppid, signal.SIGKILL)\n\
             signal.signal(signal.SIGTERM, signal.SIG_IGN)\n\
             attempt('kill_everyone', -1, signal.SIGTERM)\n\
             say('alive', 'yes')"
        ),
        Duration::from_secs(10),
    );
    assert_eq!(r.said("alive"), "yes");
    // Still here: this test process is the orchestrator the candidate aimed at.
    assert_ne!(r.said("kill_orchestrator"), "sent");
    assert_ne!(r.said("kill_other_job"), "sent");
    assert_ne!(r.said("kill_ppid"), "sent");
    if active(Layer::PidNamespace) {
        assert_eq!(
            r.said("ppid"),
            "1",
            "in its PID namespace the worker's parent is the sandbox's init"
        );
    }
    std::thread::sleep(Duration::from_millis(50));
    assert!(
        victim.try_wait().unwrap().is_none(),
        "another job's process of the same user survived kill(-1)"
    );
    victim.kill().unwrap();
    victim.wait().unwrap();
}

#[test]
fn energy_counters_cannot_be_opened() {
    let r = run_script(
        "import ctypes, errno\n\
         libc = ctypes.CDLL(None, use_errno=True)\n\
         attr = ctypes.create_string_buffer(128)\n\
         # perf_event_attr: type 9 (the power PMU here), size 128, config 5 (energy-psys)\n\
         import struct\n\
         struct.pack_into('IIQ', attr, 0, 9, 128, 5)\n\
         rc = libc.syscall(298, attr, -1, 0, -1, 0)\n\
         say('perf_event_open', 'opened' if rc >= 0 else errno.errorcode[ctypes.get_errno()])\n\
         rc = libc.syscall(298, attr, 0, -1, -1, 0)\n\
         say('perf_self', 'opened' if rc >= 0 else errno.errorcode[ctypes.get_errno()])\n\
         def attempt(name, path):\n\
         \x20   try:\n\
         \x20       open(path).read(); say(name, 'read')\n\
         \x20   except OSError as e:\n\
         \x20       say(name, type(e).__name__)\n\
         attempt('pmu_type', '/sys/bus/event_source/devices/power/type')\n\
         attempt('powercap', '/sys/class/powercap/intel-rapl:0/energy_uj')\n\
         attempt('msr', '/dev/cpu/0/msr')\n\
         attempt('msr_pmu', '/sys/bus/event_source/devices/msr/type')",
        Duration::from_secs(10),
    );
    assert_eq!(
        r.said("perf_event_open"),
        "EPERM",
        "seccomp refuses perf_event_open"
    );
    assert_eq!(r.said("perf_self"), "EPERM", "even a counter on itself");
    // Denied by Landlock where the path exists, absent otherwise: never read.
    for key in ["pmu_type", "powercap", "msr", "msr_pmu"] {
        assert_ne!(r.said(key), "read", "{key} must not be readable");
    }
    for (key, path) in [
        ("pmu_type", "/sys/bus/event_source/devices/power/type"),
        ("powercap", "/sys/class/powercap/intel-rapl:0/energy_uj"),
        ("msr_pmu", "/sys/bus/event_source/devices/msr/type"),
    ] {
        if Path::new(path).exists() {
            assert_eq!(
                r.said(key),
                "PermissionError",
                "{path} exists here: Landlock refuses it"
            );
        }
    }
}

#[test]
fn a_hundred_megabytes_of_output_are_bounded() {
    let r = run_script(
        "chunk = b'y' * (1024 * 1024)\n\
         for _ in range(100):\n\
         \x20   sys.stdout.buffer.write(chunk)\n\
         sys.stdout.flush()\n\
         sys.stdout.write('\\nend: reached\\n')",
        Duration::from_secs(60),
    );
    assert_eq!(r.status.map(|s| s.success()), Some(true), "{}", r.stderr);
    assert!(r.stdout.truncated);
    assert!(
        r.stdout.total_bytes > 100 * 1024 * 1024,
        "every byte was drained (counted), {} seen",
        r.stdout.total_bytes
    );
    assert!(
        r.stdout.text.len() < 64 * 1024 + 200,
        "only the capture limit is kept"
    );
    assert_eq!(r.said("end"), "reached", "the tail of the flood is kept");
}

#[test]
fn the_level_names_every_layer_and_strict_refuses_a_gap() {
    let sb = sandbox();
    let level = sb.level(true);
    assert_eq!(level.layers.len(), Layer::ALL.len());
    let mut out = std::io::stdout();
    let _ = writeln!(out, "sandbox here: {}", level.summary());
    for s in &level.layers {
        let _ = writeln!(
            out,
            "  {:<32} {} {}",
            s.layer.name(),
            if s.active { "active  " } else { "inactive" },
            s.reason.as_deref().unwrap_or(&s.detail)
        );
        if !s.active && s.reason.is_some() {
            assert!(
                s.remedy.is_some() || s.layer == Layer::Seccomp,
                "a missing layer says what to do"
            );
        }
    }
    // Strict fails loudly exactly when a required layer is missing.
    let strict = Sandbox::new(SandboxPolicy {
        mode: SandboxMode::Strict,
        ..SandboxPolicy::default()
    });
    assert_eq!(strict.is_ok(), level.level == "full", "{:?}", strict.err());
}
