//! No accepted job is lost: the real binary SIGKILLed mid-job and restarted, and restarted with
//! 100 queued jobs. Jobs run on the scripted runner (stages of a known length, no code run), so
//! "mid-measurement" is a state the test can wait for; the lease TTL is short so expiry comes
//! quickly.

mod common;

use std::time::{Duration, Instant};

use common::{Server, readme_request};

fn env(ms: &'static str) -> Vec<(&'static str, &'static str)> {
    vec![
        ("JOULETRACE_SERVER_RUNNER", "scripted"),
        ("JOULETRACE_SERVER_SCRIPTED_MS", ms),
    ]
}

#[test]
fn sigkill_mid_measurement_then_restart_gives_exactly_one_result() {
    let dir = tempfile::tempdir().unwrap();
    let args = ["--lease-ttl", "2s"];
    let mut s = Server::start(dir.path(), &args, &env("1500"));
    let (st, q) = s.post("/api/v1/measure", &readme_request());
    assert_eq!(st, 202);
    let id = q["task_id"].as_str().unwrap().to_owned();
    let start = Instant::now();
    loop {
        let t = s.get(&format!("/api/v1/tasks/{id}")).1;
        if t["stage"] == "energy_measurement" {
            break;
        }
        assert!(start.elapsed() < Duration::from_secs(30), "{t}");
        std::thread::sleep(Duration::from_millis(50));
    }
    s.kill(); // SIGKILL: no shutdown, no cleanup; the job's worker dies with it (PDEATHSIG)
    let s = Server::start(dir.path(), &args, &env("10"));
    // Still "running" under the dead agent's lease until it expires, then run again.
    let done = s.wait_task(&id, Duration::from_secs(60));
    assert_eq!(done["status"], "completed", "{done}");
    assert_eq!(
        done["attempts"], 2,
        "one killed attempt, one that finished: {done}"
    );
    let m = s.get("/api/v1/metrics").1;
    assert_eq!(m["queue"]["completed"], 1, "exactly one result: {m}");
    assert_eq!(m["queue"]["running"], 0);
    let prom = Server::client()
        .get(s.url("/metrics"))
        .send()
        .unwrap()
        .text()
        .unwrap();
    assert!(prom.contains("jouletrace_lease_expiries_total 1"), "{prom}");
}

#[test]
fn restart_with_a_hundred_queued_jobs_completes_them_all() {
    let dir = tempfile::tempdir().unwrap();
    let mut ids = Vec::new();
    {
        // An API node with no agent accepts them; then it dies without a word.
        let mut s = Server::start(dir.path(), &["--no-agent"], &env("1"));
        let client = Server::client();
        for _ in 0..100 {
            let r = client
                .post(s.url("/api/v1/measure"))
                .json(&readme_request())
                .send()
                .unwrap();
            assert_eq!(r.status().as_u16(), 202);
            let b: serde_json::Value = r.json().unwrap();
            ids.push(b["task_id"].as_str().unwrap().to_owned());
        }
        s.kill();
    }
    let s = Server::start(dir.path(), &["--agent-slots", "2"], &env("1"));
    let start = Instant::now();
    loop {
        let m = s.get("/api/v1/metrics").1;
        if m["queue"]["completed"] == 100 {
            break;
        }
        assert!(start.elapsed() < Duration::from_secs(120), "{m}");
        std::thread::sleep(Duration::from_millis(200));
    }
    for id in &ids {
        let t = s.get(&format!("/api/v1/tasks/{id}")).1;
        assert_eq!(t["status"], "completed", "{t}");
        assert_eq!(t["attempts"], 1);
    }
}

/// Every process below `root`: (pid, start time in clock ticks, command name).
fn descendants(root: u32) -> Vec<(u32, u64, String)> {
    let mut all = Vec::new();
    for entry in std::fs::read_dir("/proc").unwrap().flatten() {
        let Ok(pid) = entry.file_name().to_string_lossy().parse::<u32>() else {
            continue;
        };
        let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else {
            continue;
        };
        // `pid (comm) state ppid …`: comm may hold spaces and parentheses; it ends at the last ')'.
        let Some(close) = stat.rfind(')') else {
            continue;
        };
        let comm = stat[stat.find('(').unwrap_or(0) + 1..close].to_owned();
        let fields: Vec<&str> = stat[close + 2..].split(' ').collect();
        let ppid: u32 = fields.get(1).and_then(|f| f.parse().ok()).unwrap_or(0);
        let start: u64 = fields.get(19).and_then(|f| f.parse().ok()).unwrap_or(0);
        all.push((pid, ppid, start, comm));
    }
    let mut found = vec![root];
    let mut out = Vec::new();
    while let Some(p) = found.pop() {
        for (pid, ppid, start, comm) in &all {
            if *ppid == p {
                found.push(*pid);
                out.push((*pid, *start, comm.clone()));
            }
        }
    }
    out
}

/// The same process (a pid may be reused: its start time says whether it is still the one).
fn alive(pid: u32, start: u64) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat")).is_ok_and(|stat| {
        let Some(close) = stat.rfind(')') else {
            return false;
        };
        let fields: Vec<&str> = stat[close + 2..].split(' ').collect();
        // A zombie is dead; only its parent has not reaped it yet.
        fields.first() != Some(&"Z") && fields.get(19).and_then(|f| f.parse().ok()) == Some(start)
    })
}

/// A SIGKILLed server leaves no process behind: its job worker and the engine's candidate
/// workers (each in a process group of its own, some in a PID namespace) die with it
/// (PR_SET_PDEATHSIG), instead of running on until their own time limits.
#[test]
fn workers_die_with_a_sigkilled_server() {
    if common::skip_without_python() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let mut s = Server::start(
        dir.path(),
        &[],
        &[
            ("JOULETRACE_SERVER_RUNNER", "engine"),
            ("JOULETRACE_MIN_SAMPLE_TIME", "5ms"),
        ],
    );
    // The candidate sleeps through its whole (120 s) limit in the check.
    let mut req = readme_request();
    req["candidate_code"] =
        "import time\ndef solve(x):\n  time.sleep(120)\n  return x * x\n".into();
    req["timeout_seconds"] = 120.into();
    let (st, q) = s.post("/api/v1/measure", &req);
    assert_eq!(st, 202, "{q}");
    let server = s.child.id();
    let start = Instant::now();
    let tree = loop {
        // The job worker, and below it the engine's worker running the Python host.
        let tree = descendants(server);
        if tree.iter().any(|(_, _, comm)| comm.starts_with("python")) {
            break tree;
        }
        assert!(
            start.elapsed() < Duration::from_secs(60),
            "no candidate worker: {tree:?}"
        );
        std::thread::sleep(Duration::from_millis(100));
    };
    s.kill();
    let start = Instant::now();
    loop {
        let left: Vec<_> = tree.iter().filter(|(p, t, _)| alive(*p, *t)).collect();
        if left.is_empty() {
            break;
        }
        assert!(
            start.elapsed() < Duration::from_secs(15),
            "still running after the server's SIGKILL: {left:?}"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}
