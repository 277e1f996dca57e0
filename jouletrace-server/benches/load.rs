//! The predecessor's stress test against the real binary: N jobs (default 1,000) posted by 30
//! client threads, each polling its own jobs every 0.5 s, as `try.ipynb` did. Reports lost and
//! duplicated jobs (both must be 0), throughput, latency percentiles and — with the engine
//! runner — the fraction of each job's wall time spent inside measured windows.
//!
//! ```text
//! cargo bench -p jouletrace-server --bench load -- [--jobs N] [--clients N]
//!     [--runner engine|scripted] [--slots N]
//! ```
//! `scripted` measures the service alone (queue, API, agent, worker processes; no code run);
//! `engine` runs the predecessor's LCG `solve(n)` candidate through the engine, with the
//! engine's sampling shortened (`JOULETRACE_MIN_SAMPLE_TIME=5ms`, `JOULETRACE_TIME_BUDGET=1s`).

#[path = "../tests/common/mod.rs"]
mod common;

use std::collections::HashSet;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use common::Server;
use serde_json::{Value, json};

struct Args {
    jobs: usize,
    clients: usize,
    runner: String,
    slots: usize,
}

fn args() -> Args {
    let mut a = Args {
        jobs: 1000,
        clients: 30,
        runner: "scripted".into(),
        slots: 1,
    };
    let mut it = std::env::args().skip(1);
    while let Some(k) = it.next() {
        let mut v = || it.next().expect("a value after the flag");
        match k.as_str() {
            "--jobs" => a.jobs = v().parse().unwrap(),
            "--clients" => a.clients = v().parse().unwrap(),
            "--runner" => a.runner = v(),
            "--slots" => a.slots = v().parse().unwrap(),
            "--bench" => {}
            other => panic!("unknown argument {other}"),
        }
    }
    a
}

/// The notebook's stress request: an LCG loop of n steps, two test cases.
fn lcg_request(i: usize, n: u64) -> Value {
    let code = "def solve(n):\n    x = 12345\n    for _ in range(n):\n        x = (1103515245 * x + 12345) % 2147483648\n    return x\n";
    let mut x: u64 = 12345;
    for _ in 0..n {
        x = (1_103_515_245 * x + 12345) % 2_147_483_648;
    }
    json!({
        "candidate_code": code,
        "test_cases": [
            {"test_id": "a", "inputs": [n], "expected_output": x},
            {"test_id": "b", "inputs": [n], "expected_output": x}
        ],
        "timeout_seconds": 20,
        "memory_limit_mb": 1024,
        "energy_measurement_trials": 1,
        "warmup_trials": 0,
        "candidate_id": format!("lcg-{i}"),
        "problem_name": "lcg"
    })
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i]
}

fn main() {
    let a = args();
    let dir = tempfile::tempdir().unwrap();
    let slots = a.slots.to_string();
    let mut env = vec![("JOULETRACE_MAX_QUEUE", "100000")];
    if a.runner == "scripted" {
        env.extend([
            ("JOULETRACE_SERVER_RUNNER", "scripted"),
            ("JOULETRACE_SERVER_SCRIPTED_MS", "0"),
        ]);
    } else {
        env.extend([
            ("JOULETRACE_MIN_SAMPLE_TIME", "5ms"),
            ("JOULETRACE_TIME_BUDGET", "1s"),
            ("JOULETRACE_IDLE_WINDOW", "100ms"),
        ]);
    }
    let server = Server::start(dir.path(), &["--agent-slots", &slots], &env);
    println!(
        "load: {} jobs, {} clients, runner {}, {} agent slot(s)",
        a.jobs, a.clients, a.runner, a.slots
    );
    // n from a fixed LCG seed in 5k..12k (the notebook drew 50k..120k; a tenth keeps the
    // engine run short — the service's figures are the point here).
    let mut seed: u64 = 42;
    let ns: Vec<u64> = (0..a.jobs)
        .map(|_| {
            seed = seed
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            5_000 + (seed >> 33) % 7_000
        })
        .collect();
    let ns = Arc::new(ns);
    let latencies = Arc::new(Mutex::new(Vec::new()));
    let ids = Arc::new(Mutex::new(Vec::new()));
    let outcomes = Arc::new(Mutex::new(Vec::<Value>::new()));
    let start = Instant::now();
    let handles: Vec<_> = (0..a.clients)
        .map(|c| {
            let (ns, lat, ids, out) =
                (ns.clone(), latencies.clone(), ids.clone(), outcomes.clone());
            let base = server.base.clone();
            let (jobs, clients) = (a.jobs, a.clients);
            std::thread::spawn(move || {
                let client = Server::client();
                let mine: Vec<usize> = (c..jobs).step_by(clients).collect();
                let mut pending = Vec::new();
                for i in mine {
                    let t0 = Instant::now();
                    loop {
                        let r = client
                            .post(format!("{base}/api/v1/measure"))
                            .json(&lcg_request(i, ns[i]))
                            .send();
                        match r {
                            Ok(r) if r.status().as_u16() == 202 => {
                                let b: Value = r.json().unwrap();
                                let id = b["task_id"].as_str().unwrap().to_owned();
                                ids.lock().unwrap().push(id.clone());
                                pending.push((id, t0));
                                break;
                            }
                            // Retry non-202 answers, as the notebook's client did.
                            _ => std::thread::sleep(Duration::from_millis(500)),
                        }
                    }
                }
                while !pending.is_empty() {
                    std::thread::sleep(Duration::from_millis(500));
                    pending.retain(|(id, t0)| {
                        let Ok(r) = client.get(format!("{base}/api/v1/tasks/{id}")).send() else {
                            return true;
                        };
                        let Ok(b) = r.json::<Value>() else {
                            return true;
                        };
                        match b["status"].as_str() {
                            Some("completed" | "failed" | "cancelled") => {
                                lat.lock().unwrap().push(t0.elapsed().as_secs_f64());
                                out.lock().unwrap().push(b);
                                false
                            }
                            _ => true,
                        }
                    });
                }
            })
        })
        .collect();
    for h in handles {
        h.join().unwrap();
    }
    let wall = start.elapsed().as_secs_f64();
    let ids = ids.lock().unwrap();
    let unique: HashSet<&String> = ids.iter().collect();
    let outcomes = outcomes.lock().unwrap();
    let completed = outcomes
        .iter()
        .filter(|o| o["status"] == "completed")
        .count();
    let failed: Vec<&Value> = outcomes
        .iter()
        .filter(|o| o["status"] != "completed")
        .collect();
    let metrics = server.get("/api/v1/metrics").1;
    let stored = metrics["queue"]["completed"].as_u64().unwrap_or(0)
        + metrics["queue"]["failed"].as_u64().unwrap_or(0);
    let reruns = outcomes
        .iter()
        .filter(|o| o["attempts"].as_u64() != Some(1))
        .count();
    let lost = a.jobs - outcomes.len();
    let duplicated = ids.len() - unique.len() + (stored as usize).saturating_sub(a.jobs);
    let mut lat = latencies.lock().unwrap().clone();
    lat.sort_by(|x, y| x.partial_cmp(y).unwrap());
    println!(
        "accepted {} (unique {}), finished {}, completed {completed}, failed {}",
        ids.len(),
        unique.len(),
        outcomes.len(),
        failed.len()
    );
    println!("lost {lost}, duplicated {duplicated}, re-run {reruns}, results stored {stored}");
    println!(
        "throughput {:.2} jobs/s over {wall:.1} s; latency p50 {:.2} s, p95 {:.2} s, max {:.2} s",
        a.jobs as f64 / wall,
        percentile(&lat, 0.5),
        percentile(&lat, 0.95),
        lat.last().copied().unwrap_or(f64::NAN)
    );
    if let Some(f) = failed.first() {
        println!("first failure: {} {}", f["error_type"], f["error_message"]);
    }
    if a.runner == "engine" {
        // Time inside measured windows over each job's processing time, from the results.
        let client = Server::client();
        let (mut inside, mut total) = (0.0, 0.0);
        for o in outcomes.iter().filter(|o| o["status"] == "completed") {
            let id = o["task_id"].as_str().unwrap();
            let r: Value = client
                .get(server.url(&format!("/api/v1/tasks/{id}/results")))
                .send()
                .unwrap()
                .json()
                .unwrap();
            for p in r["problems"].as_array().into_iter().flatten() {
                for c in p["candidates"].as_array().into_iter().flatten() {
                    for m in c["measurements"].as_array().into_iter().flatten() {
                        for s in m["samples"]
                            .as_array()
                            .into_iter()
                            .flatten()
                            .chain(m["warmup"].as_array().into_iter().flatten())
                        {
                            inside += s["window_end_s"].as_f64().unwrap_or(0.0)
                                - s["window_start_s"].as_f64().unwrap_or(0.0);
                        }
                    }
                }
            }
            total += o["processing_time_seconds"].as_f64().unwrap_or(0.0);
        }
        println!(
            "inside measured windows: {:.1}% of the jobs' processing time ({inside:.1} s of {total:.1} s)",
            100.0 * inside / total.max(1e-9)
        );
    }
    assert_eq!(lost, 0, "lost jobs");
    assert_eq!(duplicated, 0, "duplicated jobs");
}
