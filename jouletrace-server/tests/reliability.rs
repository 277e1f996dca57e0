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
