//! The escape list through the real Python host (`jouletrace::python`), end to end: a job of
//! hostile candidates goes through `engine::run` under the default policy (`sandbox = auto`:
//! hosts are untrusted). Each candidate reports what its escape attempt got, and its expected
//! output is the refusal, so `passed` means "could not escape"; the test also checks the world
//! outside (files not written, the listener not reached, no process left behind).

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::time::Duration;

use jouletrace::config::{HostConfig, RunConfig};
use jouletrace::engine::{self, CancelToken, NullObserver, RunContext};
use jouletrace::job::Job;
use jouletrace::python::{HostFiles, Interpreter};
use jouletrace::results::{RunResults, Status};
use serde_json::{Value, json};

/// The system interpreter: the sandbox user (when these tests run as root) can execute it,
/// unlike pyenv's under /root.
fn python() -> Interpreter {
    Interpreter::find(Some(Path::new("/usr/bin/python3"))).expect("Debian's /usr/bin/python3")
}

/// One problem per candidate: `(name, code defining solve, inputs, expected)`.
fn job(candidates: &[(&str, String, Value, Value)]) -> Job {
    let mut cases = serde_json::Map::new();
    let list: Vec<Value> = candidates
        .iter()
        .map(|(name, code, inputs, expected)| {
            cases.insert(
                (*name).to_owned(),
                json!([{"id": "attempt", "inputs": inputs, "expected": expected}]),
            );
            json!({"id": format!("{name}::{name}"), "problem": name, "name": name,
                   "language": "python", "code": code, "entry": "solve",
                   "options": {"timeout": {"secs": 20, "nanos": 0}}})
        })
        .collect();
    let job = json!({"protocol": 2, "candidates": list, "cases": cases,
                     "comparison": {"mode": "predecessor", "abs_tol": 1e-9, "rel_tol": 1e-9}});
    serde_json::from_str(&job.to_string()).expect("a valid job")
}

fn run(job: &Job, dir: &Path) -> RunResults {
    let files = HostFiles::write(job).unwrap();
    let target = files.target(&python(), "escape");
    let config = RunConfig {
        measure: false,
        ..RunConfig::default()
    };
    let context = RunContext::new(&HostConfig {
        lock_path: dir.join("measure.lock"),
        ..HostConfig::default()
    });
    engine::run(
        &[target],
        &config,
        &context,
        &mut NullObserver,
        &CancelToken::new(),
    )
    .expect("engine run")
}

fn outcome(r: &RunResults, name: &str) -> (Status, String) {
    let c = r
        .candidates()
        .find(|c| c.name == name)
        .unwrap_or_else(|| panic!("no candidate {name}"));
    let detail = c
        .check
        .failure
        .as_ref()
        .map(|f| {
            format!(
                "{:?}: {} (expected {:?}, got {:?}, signal {:?})\nstderr: {}",
                f.kind, f.message, f.expected, f.actual, f.signal, c.check.stderr.text
            )
        })
        .unwrap_or_default();
    (c.status, detail)
}

fn attempt(body: &str) -> String {
    // `solve` returns what happened; an OSError's class name is the usual refusal.
    format!(
        "import os, sys, socket, subprocess, ctypes, errno, signal, time\n\
         def solve(arg):\n\
         \x20   try:\n\
         {body}\n\
         \x20   except OSError as e:\n\
         \x20       return type(e).__name__\n"
    )
}

#[test]
fn hostile_python_candidates_cannot_escape_the_real_host() {
    let dir = tempfile::tempdir().unwrap();
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    listener.set_nonblocking(true).unwrap();
    let port = listener.local_addr().unwrap().port();
    // Another job's files, as the service would keep them: a second job's host directory.
    let other = HostFiles::write(&job(&[(
        "other",
        "def solve(x):\n    return x\n".into(),
        json!([1]),
        json!(1),
    )]))
    .unwrap();
    let other_job = other.dir().join("job.json").display().to_string();
    let outside: PathBuf =
        std::env::temp_dir().join(format!("jouletrace-py-escape-{}", std::process::id()));
    let me = std::process::id();

    let candidates = vec![
        (
            "shadow",
            attempt("        return open('/etc/shadow').read()[:4]"),
            json!([0]),
            json!("PermissionError"),
        ),
        (
            "other_job",
            attempt("        return open(arg).read()[:10]"),
            json!([other_job]),
            json!("PermissionError"),
        ),
        (
            "write_outside",
            attempt("        open(arg, 'w').write('x')\n        return 'written'"),
            json!([outside.display().to_string()]),
            json!("PermissionError"),
        ),
        (
            "loopback",
            attempt(
                "        socket.create_connection(('127.0.0.1', arg), timeout=2)\n        \
                 return 'connected'",
            ),
            json!([port]),
            json!("PermissionError"),
        ),
        (
            "subprocess",
            attempt(
                "        p = subprocess.run(['/bin/sh', '-c', 'cat /etc/shadow'], \
                 capture_output=True, text=True)\n        \
                 return 'harmless' if p.returncode != 0 and 'root:' not in p.stdout else 'read'",
            ),
            json!([0]),
            json!("harmless"),
        ),
        (
            "fork_bomb",
            attempt(
                "        n = 0\n        \
                 try:\n            \
                 while n < 100000:\n                \
                 pid = os.fork()\n                \
                 if pid == 0:\n                    \
                 os.setsid(); time.sleep(60); os._exit(0)\n                \
                 n += 1\n        \
                 except OSError:\n            \
                 pass\n        \
                 return 'bounded' if n < 256 else 'unbounded %d' % n",
            ),
            json!([0]),
            json!("bounded"),
        ),
        (
            "kill_parent",
            attempt(
                "        os.kill(os.getppid(), signal.SIGKILL)\n        \
                 os.kill(arg, signal.SIGKILL)\n        \
                 return 'sent'",
            ),
            json!([me]),
            json!("PermissionError"),
        ),
        (
            "perf_events",
            attempt(
                "        libc = ctypes.CDLL(None, use_errno=True)\n        \
                 attr = ctypes.create_string_buffer(128)\n        \
                 rc = libc.syscall(298, attr, -1, 0, -1, 0)\n        \
                 return 'opened' if rc >= 0 else errno.errorcode[ctypes.get_errno()]",
            ),
            json!([0]),
            json!("EPERM"),
        ),
        (
            "rapl_sysfs",
            attempt(
                "        for p in ['/sys/class/powercap/intel-rapl:0/energy_uj', \
                 '/sys/bus/event_source/devices/msr/type', '/dev/cpu/0/msr']:\n            \
                 try:\n                \
                 open(p).read(); return 'read ' + p\n            \
                 except OSError:\n                \
                 pass\n        \
                 return 'denied'",
            ),
            json!([0]),
            json!("denied"),
        ),
        (
            "flood",
            attempt(
                "        chunk = 'z' * (1024 * 1024)\n        \
                 for _ in range(100):\n            \
                 sys.stdout.write(chunk)\n        \
                 return 'done'",
            ),
            json!([0]),
            json!("done"),
        ),
        (
            "segfault",
            "import ctypes\ndef solve(arg):\n    return ctypes.string_at(0)\n".to_owned(),
            json!([0]),
            json!(0),
        ),
    ];
    let r = run(&job(&candidates), dir.path());

    for name in [
        "shadow",
        "other_job",
        "write_outside",
        "loopback",
        "subprocess",
        "fork_bomb",
        "kill_parent",
        "perf_events",
        "rapl_sysfs",
        "flood",
    ] {
        let (status, detail) = outcome(&r, name);
        assert_eq!(status, Status::Passed, "{name}: {detail}");
    }
    let seg = r.candidates().find(|c| c.name == "segfault").unwrap();
    assert_eq!(seg.status, Status::Crashed, "{:?}", seg.check.failure);
    assert_eq!(
        seg.check.failure.as_ref().and_then(|f| f.signal.as_deref()),
        Some("SIGSEGV")
    );

    // The world outside.
    assert!(!outside.exists(), "nothing written outside the work dir");
    assert!(
        matches!(listener.accept(), Err(e) if e.kind() == std::io::ErrorKind::WouldBlock),
        "the host's loopback server saw no connection"
    );
    let flood = r.candidates().find(|c| c.name == "flood").unwrap();
    assert!(
        flood.check.stdout.total_bytes >= 100 * 1024 * 1024
            || flood.check.stdout.text.len() < 1 << 20,
        "the 100 MB of output are bounded in the record"
    );
    assert!(flood.check.stdout.text.len() < 1 << 20);
    let sandbox = r
        .environment
        .sandbox
        .as_ref()
        .expect("the level is recorded");
    assert_eq!(sandbox.applies_to, "untrusted targets");
    assert_ne!(sandbox.level, "off");
    // No forked child of the bomb survives its worker (they called setsid).
    let mut left = 1;
    for _ in 0..300 {
        left = std::fs::read_dir("/proc")
            .unwrap()
            .flatten()
            .filter(|e| {
                std::fs::read(e.path().join("cmdline"))
                    .is_ok_and(|c| String::from_utf8_lossy(&c).contains("host.py"))
            })
            .count();
        if left == 0 {
            break;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    assert_eq!(left, 0, "no host process outlives the run");
}
