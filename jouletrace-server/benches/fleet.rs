//! The fleet benchmark: what the Redis queue costs next to the embedded one, and how throughput
//! grows from one agent to two. `cargo bench -p jouletrace-server --bench fleet` (needs
//! `redis-server` on PATH; it starts its own on a free loopback port).
//!
//! Two parts:
//! 1. The queue alone: N jobs submitted, then drained by 1 and by 2 consumers doing what an
//!    agent does per job (lease, one heartbeat, finish). Jobs/s, and the queue time per job
//!    (the three calls), for SQLite (WAL, synchronous=FULL) and Redis (no persistence; and
//!    AOF with `appendfsync always`, the durable setting).
//! 2. End to end: one API node and 1 or 2 agents (scripted runner: a worker process per job
//!    that measures nothing), against the embedded `serve` with its in-process agent.
//!    Jobs/s under load, and the latency one job sees on an idle service (submitted one at a
//!    time): its wait in the queue (accepted → leased, the server's own timestamps), accepted →
//!    result stored, and submit → result seen by a polling client; the fleet's figure minus
//!    the embedded one is the latency the fleet's queue adds per job.
//!
//! Figures depend on the machine (and on what else runs on it): read them as orders of
//! magnitude, compare within one run.

#[path = "../tests/support/agent.rs"]
mod agent;
#[path = "../tests/common/mod.rs"]
mod common;
#[path = "../tests/support/redis_server.rs"]
mod redis_server;

use std::sync::Arc;
use std::time::{Duration, Instant};

use jouletrace_server::queue::{
    DEFAULT_RESULT_TTL, Finished, JobState, Queue, RedisQueue, SqliteQueue, conformance,
};
use serde_json::{Value, json};

const QUEUE_JOBS: usize = 2000;
const E2E_JOBS: usize = 200;
const LATENCY_JOBS: usize = 40;

fn drain(q: Arc<dyn Queue>, consumers: usize) -> (f64, f64) {
    let jobs: Vec<_> = (0..QUEUE_JOBS)
        .map(|i| conformance::job(&format!("{{\"candidate_id\":\"c-{i}\"}}")))
        .collect();
    for chunk in jobs.chunks(50) {
        q.submit(chunk, u64::MAX).unwrap();
    }
    let start = Instant::now();
    let handles: Vec<_> = (0..consumers)
        .map(|c| {
            let q = q.clone();
            std::thread::spawn(move || {
                let mut busy = Duration::ZERO;
                let mut n = 0u32;
                loop {
                    let t = Instant::now();
                    let Some(l) = q
                        .lease(&format!("bench-{c}"), None, Duration::from_secs(60))
                        .unwrap()
                    else {
                        break;
                    };
                    q.heartbeat(&l, Duration::from_secs(60), None).unwrap();
                    let done = Finished {
                        state: JobState::Completed,
                        outcome: "{}".into(),
                    };
                    assert!(q.finish(&l, &done).unwrap());
                    busy += t.elapsed();
                    n += 1;
                }
                (busy, n)
            })
        })
        .collect();
    let mut busy = Duration::ZERO;
    let mut n = 0;
    for h in handles {
        let (b, k) = h.join().unwrap();
        busy += b;
        n += k;
    }
    assert_eq!(n as usize, QUEUE_JOBS);
    let wall = start.elapsed().as_secs_f64();
    (
        QUEUE_JOBS as f64 / wall,
        busy.as_secs_f64() / f64::from(n) * 1e3,
    )
}

fn queue_part() {
    println!("## queue alone: {QUEUE_JOBS} jobs, lease + heartbeat + finish per job");
    println!("| backend | consumers | jobs/s | queue ms per job |");
    println!("|---|---|---|---|");
    let plain = redis_server::RedisServer::start();
    let durable = redis_server::RedisServer::start_persistent();
    for consumers in [1, 2] {
        let dir = tempfile::tempdir().unwrap();
        let q = Arc::new(SqliteQueue::open(&dir.path().join("q.db")).unwrap());
        let (rate, ms) = drain(q, consumers);
        println!("| sqlite (WAL, sync=FULL) | {consumers} | {rate:.0} | {ms:.2} |");
        for (name, server) in [("redis", &plain), ("redis (AOF always)", &durable)] {
            let q = Arc::new(
                RedisQueue::connect_with(
                    &server.url(),
                    &format!("bench{consumers}"),
                    DEFAULT_RESULT_TTL,
                )
                .unwrap(),
            );
            let (rate, ms) = drain(q, consumers);
            println!("| {name} | {consumers} | {rate:.0} | {ms:.2} |");
        }
    }
}

fn request(i: usize) -> Value {
    json!({
        "candidate_code": "def solve(x):\n    return x\n",
        "function_name": "solve",
        "test_cases": [{"test_id": "t", "inputs": [i], "expected_output": i}],
        "candidate_id": format!("c-{i}"),
        "problem_name": "bench",
    })
}

/// Submits E2E_JOBS jobs and returns jobs/s from the first submission to the last result.
fn run_e2e(api: &common::Server) -> f64 {
    let start = Instant::now();
    for chunk in (0..E2E_JOBS).collect::<Vec<_>>().chunks(50) {
        let reqs: Vec<Value> = chunk.iter().map(|&i| request(i)).collect();
        let (st, body) = api.post("/api/v1/batches", &json!({ "requests": reqs }));
        assert_eq!(st, 202, "{body}");
    }
    loop {
        let q = &api.get("/api/v1/health").1["queue"];
        if q["queued"] == 0 && q["running"] == 0 && q["completed"].as_u64().is_some() {
            break;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    E2E_JOBS as f64 / start.elapsed().as_secs_f64()
}

/// Medians over LATENCY_JOBS jobs submitted one at a time: (queue wait, accepted → stored,
/// submit → seen by the client), in ms.
fn latency(api: &common::Server) -> [f64; 3] {
    let mut rows: Vec<[f64; 3]> = Vec::new();
    for i in 0..LATENCY_JOBS {
        let t = Instant::now();
        let (st, body) = api.post("/api/v1/measure", &request(i));
        assert_eq!(st, 202, "{body}");
        let id = body["task_id"].as_str().unwrap().to_owned();
        let done = loop {
            let (_, r) = api.get(&format!("/api/v1/tasks/{id}"));
            if r["status"] == "completed" {
                break r;
            }
            assert!(r["status"] != "failed", "{r}");
            std::thread::sleep(Duration::from_millis(2));
        };
        let seen = t.elapsed().as_secs_f64() * 1e3;
        let at = |k: &str| done[k].as_f64().unwrap_or_else(|| panic!("no {k}: {done}"));
        rows.push([
            (at("started_at") - at("submitted_at")) * 1e3,
            (at("finished_at") - at("submitted_at")) * 1e3,
            seen,
        ]);
    }
    std::array::from_fn(|k| {
        let mut v: Vec<f64> = rows.iter().map(|r| r[k]).collect();
        v.sort_by(f64::total_cmp);
        v[v.len() / 2]
    })
}

fn e2e_part() {
    println!();
    println!("## end to end: {E2E_JOBS} jobs through the HTTP API, scripted runner (0 ms stages)");
    println!("| setup | jobs/s | ms per job |");
    println!("|---|---|---|");
    let env = [
        ("JOULETRACE_SERVER_RUNNER", "scripted"),
        ("JOULETRACE_SERVER_SCRIPTED_MS", "0"),
    ];
    let (embedded, embedded_latency) = {
        let dir = tempfile::tempdir().unwrap();
        let api = common::Server::start(dir.path(), &[], &env);
        (run_e2e(&api), latency(&api))
    };
    let mut latencies = vec![(
        "embedded (serve, SQLite, in-process agent)".to_owned(),
        embedded_latency,
    )];
    println!(
        "| embedded (serve, SQLite, in-process agent, 1 slot) | {embedded:.1} | {:.1} |",
        1e3 / embedded
    );
    for agents in [1usize, 2] {
        let dir = tempfile::tempdir().unwrap();
        let redis = redis_server::RedisServer::start_persistent();
        let api = common::Server::start(
            &dir.path().join("api"),
            &["--no-agent", "--queue", &redis.url()],
            &[],
        );
        let _agents: Vec<_> = (0..agents)
            .map(|i| {
                agent::Agent::start(
                    &redis.url(),
                    &format!("bench-{i}"),
                    &i.to_string(),
                    dir.path(),
                    &[],
                    &env,
                )
            })
            .collect();
        let rate = run_e2e(&api);
        println!(
            "| fleet: API node + {agents} agent(s), Redis AOF always, 1 slot each | {rate:.1} | {:.1} |",
            1e3 / rate
        );
        latencies.push((
            format!("fleet: API node + {agents} agent(s), Redis AOF always"),
            latency(&api),
        ));
    }
    println!();
    println!(
        "## latency of one job on an idle service: medians of {LATENCY_JOBS} jobs submitted one at a time (ms)"
    );
    println!(
        "| setup | queue wait (accepted → leased) | accepted → result stored | submit → result seen | added vs embedded (seen) |"
    );
    println!("|---|---|---|---|---|");
    for (name, [wait, stored, seen]) in &latencies {
        println!(
            "| {name} | {wait:.1} | {stored:.1} | {seen:.1} | {:+.1} |",
            seen - embedded_latency[2]
        );
    }
}

fn main() {
    // `cargo test --benches` runs this with `--test`-like args only when asked; a plain
    // `cargo test` never builds it.
    if std::env::args().any(|a| a == "--list") {
        return;
    }
    queue_part();
    e2e_part();
}
