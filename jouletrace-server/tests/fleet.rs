//! The fleet on loopback: two API nodes (`serve --no-agent`) and two agents (`agent`, each on
//! its own CPU and with its own lock path, standing in for two hosts) sharing a real Redis with
//! its append-only file fsynced on every write.
//!
//! The agents run the server's scripted runner (it walks the stages and measures nothing): the
//! engine's Python path is not wired into the server yet, and what is tested here is the queue,
//! not measurement.

#[path = "support/agent.rs"]
mod agent;
#[path = "common/mod.rs"]
mod common;
#[path = "support/redis_server.rs"]
mod redis_server;

use std::collections::{BTreeMap, HashSet};
use std::time::{Duration, Instant};

use agent::Agent;
use common::Server;
use redis_server::RedisServer;
use serde_json::{Value, json};

const JOBS: usize = 500;
const PER_BATCH: usize = 50;

fn request(i: usize) -> Value {
    json!({
        "candidate_code": "def solve(x):\n    return x * x\n",
        "function_name": "solve",
        "test_cases": [{"test_id": "t", "inputs": [i], "expected_output": i * i}],
        "timeout_seconds": 5,
        "energy_measurement_trials": 1,
        "warmup_trials": 0,
        "candidate_id": format!("c-{i}"),
        "problem_name": format!("p-{}", i % 5),
    })
}

fn api(dir: &std::path::Path, queue: &str) -> Server {
    Server::start(dir, &["--no-agent", "--queue", queue], &[])
}

fn counts(s: &Server) -> Value {
    let (st, h) = s.get("/api/v1/health");
    assert_eq!(st, 200);
    h["queue"].clone()
}

fn wait_until(what: &str, limit: Duration, mut f: impl FnMut() -> bool) {
    let start = Instant::now();
    while !f() {
        assert!(start.elapsed() < limit, "{what}: not within {limit:?}");
        std::thread::sleep(Duration::from_millis(100));
    }
}

#[test]
fn two_api_nodes_two_agents_500_jobs_survive_kills_and_restarts() {
    let dir = tempfile::tempdir().unwrap();
    let mut redis = RedisServer::start_persistent();
    let q = redis.url();
    let mut api1 = api(&dir.path().join("api1"), &q);
    let api2 = api(&dir.path().join("api2"), &q);
    // Short leases so a killed agent's jobs come back within seconds.
    let agent_args = ["--slots", "2", "--lease-ttl", "2s", "--max-attempts", "5"];
    let env = [("JOULETRACE_SERVER_SCRIPTED_MS", "5")];
    let mut a = Agent::start(&q, "host-a", "0", dir.path(), &agent_args, &env);
    // One CPU each where there are two (a 1-CPU CI runner shares its one).
    let cpu_b = if std::thread::available_parallelism().map_or(1, |n| n.get()) > 1 {
        "1"
    } else {
        "0"
    };
    let b = Agent::start(&q, "host-b", cpu_b, dir.path(), &agent_args, &env);

    // Both hosts are listed, with their class, by either API node.
    wait_until("two agents registered", Duration::from_secs(10), || {
        api2.get("/api/v1/health").1["agents"]
            .as_array()
            .is_some_and(|a| a.len() == 2)
    });
    let (_, health) = api1.get("/api/v1/health");
    assert_eq!(health["queue_backend"], "redis");
    assert_eq!(health["redis_connected"], true);
    for ag in health["agents"].as_array().unwrap() {
        assert!(ag["host_class"]["id"].as_str().unwrap().starts_with("hc-"));
        assert!(ag["host"]["cpus"].as_array().unwrap().len() == 1, "{ag}");
    }

    // 500 jobs in batches of 50, through both API nodes.
    let mut tasks = Vec::new();
    let mut batches = Vec::new();
    for (n, chunk) in (0..JOBS).collect::<Vec<_>>().chunks(PER_BATCH).enumerate() {
        let node = if n % 2 == 0 { &api1 } else { &api2 };
        let reqs: Vec<Value> = chunk.iter().map(|&i| request(i)).collect();
        let (st, body) = node.post("/api/v1/batches", &json!({ "requests": reqs }));
        assert_eq!(st, 202, "{body}");
        batches.push(body["batch_id"].as_str().unwrap().to_owned());
        for t in body["tasks"].as_array().unwrap() {
            tasks.push(t["task_id"].as_str().unwrap().to_owned());
        }
    }
    assert_eq!(tasks.len(), JOBS);

    // Mid-run: SIGKILL agent a (its jobs in hand must come back), restart API node 1, and
    // SIGKILL Redis and start it again from its append-only file.
    wait_until("100 jobs done", Duration::from_secs(60), || {
        counts(&api2)["completed"].as_u64().unwrap_or(0) >= 100
    });
    a.signal(libc::SIGKILL);
    a.wait();
    let started_by_a: HashSet<String> = a.task_ids("job started").into_iter().collect();
    let finished_by_a: HashSet<String> = a.finished().into_iter().collect();
    api1.kill();
    api1 = api(&dir.path().join("api1"), &q);
    redis.kill_and_restart();

    // The killed agent disappears from the fleet.
    wait_until("agent a gone from health", Duration::from_secs(15), || {
        api1.get("/api/v1/health").1["agents"]
            .as_array()
            .is_some_and(|ags| {
                ags.len() == 1 && ags[0]["id"].as_str().unwrap().starts_with("host-b:")
            })
    });

    // Every job completes: no accepted job lost (Redis restart), none stranded (agent kill).
    wait_until("all 500 jobs finished", Duration::from_secs(120), || {
        let c = counts(&api1);
        c["queued"] == 0 && c["running"] == 0
    });
    let mut by_state: BTreeMap<String, usize> = BTreeMap::new();
    for id in &tasks {
        let (st, t) = api1.get(&format!("/api/v1/tasks/{id}"));
        assert_eq!(st, 200, "task {id} lost: {t}");
        *by_state
            .entry(t["status"].as_str().unwrap().to_owned())
            .or_default() += 1;
        if t["status"] == "completed" {
            assert!(
                t["agent_id"]
                    .as_str()
                    .is_some_and(|a| a.starts_with("host-")),
                "{t}"
            );
            assert!(t["host_class"]["id"].is_string(), "{t}");
        }
    }
    assert_eq!(by_state.get("completed"), Some(&JOBS), "{by_state:?}");

    // Exactly once: no task's result was written twice, and every task's result was written
    // by an agent that says so — or, when Redis was killed between storing a result and
    // answering, by one that logged the store as failed (the job is completed in Redis; the
    // agent could not know).
    let mut writes: BTreeMap<String, usize> = BTreeMap::new();
    for id in finished_by_a.iter().cloned().chain(b.finished()) {
        *writes.entry(id).or_default() += 1;
    }
    assert!(writes.values().all(|&n| n == 1), "a result written twice");
    let unsure: HashSet<String> = a
        .task_ids("cannot store the result")
        .into_iter()
        .chain(b.task_ids("cannot store the result"))
        .collect();
    let missing: Vec<&String> = tasks.iter().filter(|t| !writes.contains_key(*t)).collect();
    // A job in agent a's hands when it was SIGKILLed may have been stored before its log line
    // was written: its result has no "finished" line from anyone, and it is not re-run.
    let in_hand_at_kill: HashSet<&String> = started_by_a.difference(&finished_by_a).collect();
    assert!(
        missing
            .iter()
            .all(|t| unsure.contains(*t) || in_hand_at_kill.contains(*t)),
        "results nobody wrote: {missing:?}"
    );
    assert!(missing.len() <= 4, "{missing:?}");
    // The jobs the killed agent had in hand were run again by the other.
    let orphans: Vec<&String> = started_by_a.difference(&finished_by_a).collect();
    let by_b: HashSet<String> = b.finished().into_iter().collect();
    // …unless agent a had stored its result just before the kill (then it stays a's).
    let stored_by_a = |id: &str| {
        let (_, t) = api1.get(&format!("/api/v1/tasks/{id}"));
        t["agent_id"]
            .as_str()
            .is_some_and(|a| a.starts_with("host-a"))
    };
    assert!(
        orphans
            .iter()
            .all(|id| by_b.contains(*id) || stored_by_a(id)),
        "{orphans:?}"
    );
    eprintln!(
        "fleet: {} by host-a before its SIGKILL ({} in hand re-run by host-b), {} by host-b",
        finished_by_a.len(),
        orphans.len(),
        by_b.len()
    );

    // Batches rank within one host class and say which.
    let (_, batch) = api2.get(&format!("/api/v1/batches/{}", batches[0]));
    assert_eq!(batch["status"], "completed");
    for (problem, classes) in batch["rankings"].as_object().unwrap() {
        // Two agents of one machine: one host class (CPU set and name are not part of it).
        let classes = classes.as_array().unwrap();
        assert_eq!(classes.len(), 1, "{problem}: {classes:?}");
        assert!(
            classes[0]["comparable_class"]
                .as_str()
                .unwrap()
                .contains("[hc-")
        );
    }
    drop(b);
}

#[test]
fn sigterm_drains_the_job_in_hand_and_takes_no_more() {
    let dir = tempfile::tempdir().unwrap();
    let redis = RedisServer::start();
    let q = redis.url();
    let api1 = api(&dir.path().join("api"), &q);
    // Each scripted job takes 4 × 400 ms: long enough to be caught in hand.
    let env = [("JOULETRACE_SERVER_SCRIPTED_MS", "400")];
    let mut a = Agent::start(&q, "drainer", "0", dir.path(), &["--lease-ttl", "3s"], &env);
    let reqs: Vec<Value> = (0..3).map(request).collect();
    let (st, body) = api1.post("/api/v1/batches", &json!({ "requests": reqs }));
    assert_eq!(st, 202, "{body}");
    wait_until("a job in hand", Duration::from_secs(20), || {
        counts(&api1)["running"].as_u64() == Some(1)
    });
    a.signal(libc::SIGTERM);
    wait_until("draining shown", Duration::from_secs(10), || {
        api1.get("/api/v1/health").1["agents"][0]["state"] == "draining"
    });
    let status = a.wait().unwrap();
    assert!(status.success(), "drained agent exits 0: {status:?}");
    let c = counts(&api1);
    assert_eq!(
        (c["completed"].as_u64(), c["queued"].as_u64()),
        (Some(1), Some(2)),
        "{c}"
    );
    assert_eq!(a.finished().len(), 1);
    assert!(a.log_text().contains("agent left the fleet"));
    assert_eq!(
        api1.get("/api/v1/health").1["agents"],
        json!([]),
        "gone at once"
    );
}

#[test]
fn a_cancel_reaches_the_agent_running_the_job_at_once() {
    let dir = tempfile::tempdir().unwrap();
    let redis = RedisServer::start();
    let q = redis.url();
    let api1 = api(&dir.path().join("api"), &q);
    // A 60 s lease is renewed every 20 s: without the cancel channel, the agent would hear of
    // the cancel only then. The scripted job would take 4 × 10 s.
    let env = [("JOULETRACE_SERVER_SCRIPTED_MS", "10000")];
    let a = Agent::start(
        &q,
        "canceller",
        "0",
        dir.path(),
        &["--lease-ttl", "60s"],
        &env,
    );
    let (st, body) = api1.post("/api/v1/measure", &request(1));
    assert_eq!(st, 202, "{body}");
    let id = body["task_id"].as_str().unwrap().to_owned();
    wait_until("job running", Duration::from_secs(20), || {
        api1.get(&format!("/api/v1/tasks/{id}")).1["status"] == "running"
    });
    let r = Server::client()
        .delete(api1.url(&format!("/api/v1/tasks/{id}")))
        .send()
        .unwrap();
    assert!(r.status().is_success(), "{}", r.status());
    wait_until("the agent stopped the job", Duration::from_secs(15), || {
        a.log_text()
            .contains("job cancelled; its worker was killed")
    });
    assert_eq!(
        api1.get(&format!("/api/v1/tasks/{id}")).1["status"],
        "cancelled"
    );
}

#[test]
fn the_engine_measures_through_the_fleet_and_names_host_and_class() {
    if common::skip_without_python() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let redis = RedisServer::start();
    let q = redis.url();
    let api1 = api(&dir.path().join("api"), &q);
    // The real engine (the Python host, sandboxed checks, the estimate meter here), with short
    // samples as the server's own measure test uses.
    let env = [
        ("JOULETRACE_SERVER_RUNNER", "engine"),
        ("JOULETRACE_MIN_SAMPLE_TIME", "5ms"),
        ("JOULETRACE_TIME_BUDGET", "1s"),
        ("JOULETRACE_IDLE_WINDOW", "100ms"),
    ];
    let _a = Agent::start(&q, "engine-host", "0-1", dir.path(), &[], &env);
    let (st, body) = api1.post("/api/v1/measure", &common::readme_request());
    assert_eq!(st, 202, "{body}");
    let t = api1.wait_task(body["task_id"].as_str().unwrap(), Duration::from_secs(180));
    assert_eq!(t["status"], "completed", "{t}");
    assert!(
        t["agent_id"].as_str().unwrap().starts_with("engine-host:"),
        "{t}"
    );
    let class = &t["host_class"];
    assert!(class["id"].as_str().unwrap().starts_with("hc-"), "{t}");
    // This machine has no readable RAPL: the class says the numbers are estimated.
    let label = class["label"].as_str().unwrap();
    assert!(
        label.contains("estimated") || label.contains("measured"),
        "{label}"
    );
    let ident = &t["host_identity"];
    assert!(
        ident["kernel"].is_string() && ident["meter"].is_string(),
        "{ident}"
    );
    assert!(ident["sandbox_level"].is_string(), "{ident}");
    let (_, health) = api1.get("/api/v1/health");
    assert_eq!(
        health["agents"][0]["host_class"], *class,
        "health and result agree"
    );
}

#[test]
fn serve_with_a_redis_queue_runs_its_own_agent_as_a_fleet_member() {
    let dir = tempfile::tempdir().unwrap();
    let redis = RedisServer::start();
    let s = Server::start(
        dir.path(),
        &["--queue", &redis.url()],
        &[
            ("JOULETRACE_SERVER_RUNNER", "scripted"),
            ("JOULETRACE_SERVER_SCRIPTED_MS", "1"),
        ],
    );
    wait_until("its agent registered", Duration::from_secs(10), || {
        s.get("/api/v1/health").1["agents"]
            .as_array()
            .is_some_and(|a| a.len() == 1 && a[0]["host_class"]["id"].is_string())
    });
    let (st, body) = s.post("/api/v1/measure", &request(3));
    assert_eq!(st, 202, "{body}");
    let t = s.wait_task(body["task_id"].as_str().unwrap(), Duration::from_secs(30));
    assert_eq!(t["status"], "completed", "{t}");
    assert_eq!(
        t["host_class"],
        s.get("/api/v1/health").1["agents"][0]["host_class"]
    );
    // A bad queue URL is refused by name before anything starts.
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_jouletrace-server"))
        .args(["serve", "--queue", "mysql://db/x"])
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("--queue"),
        "{out:?}"
    );
}

/// Every agent dead with a job in hand: the API node alone takes the lease back, so the job
/// shows `queued` again (not `running` forever) — on Redis and on the embedded queue.
fn api_node_requeues_a_dead_agents_job(api: &Server, kill_agent: impl FnOnce()) {
    let (st, body) = api.post("/api/v1/measure", &request(7));
    assert_eq!(st, 202, "{body}");
    let id = body["task_id"].as_str().unwrap().to_owned();
    wait_until("job running", Duration::from_secs(20), || {
        api.get(&format!("/api/v1/tasks/{id}")).1["status"] == "running"
    });
    kill_agent();
    // The lease is 2 s; the API node reaps once a second.
    wait_until("job queued again", Duration::from_secs(15), || {
        api.get(&format!("/api/v1/tasks/{id}")).1["status"] == "queued"
    });
    let (_, t) = api.get(&format!("/api/v1/tasks/{id}"));
    assert_eq!(t["attempts"], 1, "{t}");
    let (_, h) = api.get("/api/v1/health");
    assert_eq!(h["queue"]["queued"], 1, "{h}");
    assert_eq!(h["queue"]["running"], 0, "{h}");
}

#[test]
fn api_nodes_reap_when_every_agent_is_dead_on_redis() {
    let dir = tempfile::tempdir().unwrap();
    let redis = RedisServer::start();
    let q = redis.url();
    let api1 = api(&dir.path().join("api"), &q);
    let env = [("JOULETRACE_SERVER_SCRIPTED_MS", "10000")];
    let mut a = Agent::start(&q, "doomed", "0", dir.path(), &["--lease-ttl", "2s"], &env);
    api_node_requeues_a_dead_agents_job(&api1, || {
        a.signal(libc::SIGKILL);
        a.wait();
    });
}

#[test]
fn api_nodes_reap_when_every_agent_is_dead_on_the_embedded_queue() {
    let dir = tempfile::tempdir().unwrap();
    // Two processes on one SQLite file: a server with an agent, and an API node without.
    let mut measuring = Server::start(
        dir.path(),
        &["--lease-ttl", "2s"],
        &[
            ("JOULETRACE_SERVER_RUNNER", "scripted"),
            ("JOULETRACE_SERVER_SCRIPTED_MS", "10000"),
        ],
    );
    let api1 = Server::start(dir.path(), &["--no-agent"], &[]);
    api_node_requeues_a_dead_agents_job(&api1, || measuring.kill());
}

/// A job may ask for a host class: it runs only on an agent of that class, and while no live
/// agent has the class, its 202, its status, `/api/v1/health` and the dashboard say so.
fn routes_by_host_class(s: &Server) {
    let (_, health) = s.get("/api/v1/health");
    let mine = health["agents"][0]["host_class"]["id"]
        .as_str()
        .unwrap_or_else(|| panic!("no agent class: {health}"))
        .to_owned();
    let absent = if mine == "hc-000000000000" {
        "hc-111111111111"
    } else {
        "hc-000000000000"
    };
    let with_class = |i: usize, class: &str| {
        let mut r = request(i);
        r["host_class"] = json!(class);
        r
    };

    // A malformed class is a 422 naming the field.
    let (st, body) = s.post("/api/v1/measure", &with_class(1, "fast-machines"));
    assert_eq!(st, 422, "{body}");
    assert_eq!(
        body["field_errors"][0]["field"], "body -> host_class",
        "{body}"
    );

    // A class no agent has: accepted, and said.
    let (st, body) = s.post("/api/v1/measure", &with_class(2, absent));
    assert_eq!(st, 202, "{body}");
    assert_eq!(body["live_agents_of_class"], 0, "{body}");
    assert!(body["warning"].as_str().unwrap().contains(absent), "{body}");
    let waiting = body["task_id"].as_str().unwrap().to_owned();

    // Its own class, and any class: both run on this agent, past the waiting job.
    let (st, body) = s.post(
        "/api/v1/batches",
        &json!({"requests": [with_class(3, &mine), request(4)]}),
    );
    assert_eq!(st, 202, "{body}");
    assert!(body.get("warnings").is_none(), "{body}");
    let batch = body["batch_id"].as_str().unwrap().to_owned();
    for t in body["tasks"].as_array().unwrap() {
        let t = s.wait_task(t["task_id"].as_str().unwrap(), Duration::from_secs(30));
        assert_eq!(t["status"], "completed", "{t}");
        assert_eq!(t["host_class"]["id"], mine.as_str(), "{t}");
    }
    let (_, b) = s.get(&format!("/api/v1/batches/{batch}"));
    assert_eq!(b["host_classes_requested"][&mine], 1, "{b}");

    // A batch may ask for a class for all its requests; a request that asks for another is a
    // contradiction (422 at its own field), and the batch's own field is checked as the
    // requests' is.
    let (st, body) = s.post(
        "/api/v1/batches",
        &json!({"host_class": mine, "requests": [request(5), with_class(6, absent)]}),
    );
    assert_eq!(st, 422, "{body}");
    assert_eq!(
        body["field_errors"][0]["field"], "body -> requests -> 1 -> host_class",
        "{body}"
    );
    let (st, body) = s.post(
        "/api/v1/batches",
        &json!({"host_class": "HC-1", "requests": [request(5)]}),
    );
    assert_eq!(st, 422, "{body}");
    assert_eq!(
        body["field_errors"][0]["field"], "body -> host_class",
        "{body}"
    );
    let (st, body) = s.post(
        "/api/v1/batches",
        &json!({"host_class": mine, "requests": [request(5), with_class(6, &mine)]}),
    );
    assert_eq!(st, 202, "{body}");
    let batch = body["batch_id"].as_str().unwrap().to_owned();
    for t in body["tasks"].as_array().unwrap() {
        let t = s.wait_task(t["task_id"].as_str().unwrap(), Duration::from_secs(30));
        assert_eq!(t["host_class_requested"], mine.as_str(), "{t}");
    }
    let (_, b) = s.get(&format!("/api/v1/batches/{batch}"));
    assert_eq!(b["host_classes_requested"][&mine], 2, "{b}");
    // Ranked within the requested class: one group per problem, that class's.
    for (problem, classes) in b["rankings"].as_object().unwrap() {
        let classes = classes.as_array().unwrap();
        assert_eq!(classes.len(), 1, "{problem}: {classes:?}");
        assert!(
            classes[0]["comparable_class"]
                .as_str()
                .unwrap()
                .contains(&mine),
            "{classes:?}"
        );
    }

    let (_, t) = s.get(&format!("/api/v1/tasks/{waiting}"));
    assert_eq!(t["status"], "queued", "{t}");
    assert_eq!(t["host_class_requested"], absent, "{t}");
    assert!(
        t["warning"].as_str().unwrap().contains("no live agent"),
        "{t}"
    );
    let (_, h) = s.get("/api/v1/health");
    assert_eq!(h["status"], "degraded", "{h}");
    assert_eq!(h["host_class_waits"][0]["host_class"], absent, "{h}");
    assert_eq!(h["host_class_waits"][0]["live_agents"], 0, "{h}");
    assert!(h["warnings"][0].as_str().unwrap().contains(absent), "{h}");
    let (st, page) = s.text("/dashboard");
    assert_eq!(st, 200);
    assert!(
        page.contains(absent) && page.contains("no live agent"),
        "{page}"
    );
}

#[test]
fn jobs_ask_for_a_host_class_on_redis() {
    let dir = tempfile::tempdir().unwrap();
    let redis = RedisServer::start();
    let q = redis.url();
    let api1 = api(&dir.path().join("api"), &q);
    let env = [("JOULETRACE_SERVER_SCRIPTED_MS", "1")];
    let _a = Agent::start(&q, "classy", "0", dir.path(), &[], &env);
    wait_until("the agent registered", Duration::from_secs(10), || {
        api1.get("/api/v1/health").1["agents"]
            .as_array()
            .is_some_and(|a| a.len() == 1)
    });
    routes_by_host_class(&api1);
}

#[test]
fn jobs_ask_for_a_host_class_on_the_embedded_queue() {
    let dir = tempfile::tempdir().unwrap();
    let s = Server::start(
        dir.path(),
        &[],
        &[
            ("JOULETRACE_SERVER_RUNNER", "scripted"),
            ("JOULETRACE_SERVER_SCRIPTED_MS", "1"),
        ],
    );
    routes_by_host_class(&s);
}
