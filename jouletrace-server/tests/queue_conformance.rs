//! The queue conformance suite against both backends: the embedded SQLite one (each case on a
//! fresh file) and Redis (each case in a fresh namespace of one real redis-server).

#[path = "support/redis_server.rs"]
mod redis_server;

use std::sync::Arc;
use std::time::Duration;

use jouletrace_server::queue::{
    DEFAULT_RESULT_TTL, JobId, JobState, Queue, RedisQueue, SqliteQueue, conformance,
};
use redis_server::RedisServer;

#[test]
fn sqlite_backend_passes_the_conformance_suite() {
    for (name, case) in conformance::CASES {
        let dir = tempfile::tempdir().unwrap();
        let q: Arc<dyn Queue> = Arc::new(SqliteQueue::open(&dir.path().join("queue.db")).unwrap());
        eprintln!("conformance: {name}");
        case(q);
    }
}

#[test]
fn sqlite_queue_survives_reopening() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("queue.db");
    let j = conformance::job("kept");
    {
        let q = SqliteQueue::open(&path).unwrap();
        q.submit(std::slice::from_ref(&j), 10).unwrap();
    }
    let q = SqliteQueue::open(&path).unwrap();
    assert_eq!(q.get(j.id).unwrap().unwrap().spec, "kept");
}

/// A queue file written before jobs could ask for a host class (no `host_class` column) opens,
/// keeps its jobs, and routes new ones.
#[test]
fn sqlite_queue_from_before_host_classes_is_migrated() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("queue.db");
    let old = JobId::new();
    {
        let conn = rusqlite::Connection::open(&path).unwrap();
        conn.execute_batch(
            "CREATE TABLE jobs (seq INTEGER PRIMARY KEY AUTOINCREMENT, id TEXT NOT NULL UNIQUE, \
             kind TEXT NOT NULL, state TEXT NOT NULL, spec TEXT NOT NULL, batch TEXT, \
             problem_name TEXT, candidate_id TEXT, key_id TEXT, submitted_at REAL NOT NULL, \
             started_at REAL, finished_at REAL, updated_at REAL NOT NULL, \
             attempts INTEGER NOT NULL DEFAULT 0, lease_owner TEXT, lease_expires_at REAL, \
             stage TEXT, progress REAL, outcome TEXT);",
        )
        .unwrap();
        conn.execute(
            "INSERT INTO jobs (id, kind, state, spec, submitted_at, updated_at) \
             VALUES (?1, 'measure', 'queued', 'old', 1.0, 1.0)",
            [old.to_string()],
        )
        .unwrap();
    }
    let q = SqliteQueue::open(&path).unwrap();
    let rec = q.get(old).unwrap().expect("the old job is kept");
    assert_eq!((rec.spec.as_str(), rec.host_class), ("old", None));
    let routed = conformance::job_for("new", "hc-aaaaaaaaaaaa");
    q.submit(std::slice::from_ref(&routed), 10).unwrap();
    let ttl = Duration::from_secs(60);
    let l = q.lease("b", Some("hc-bbbbbbbbbbbb"), ttl).unwrap().unwrap();
    assert_eq!(l.job.id, old, "an old job is for any class");
    assert!(
        q.lease("b", Some("hc-bbbbbbbbbbbb"), ttl)
            .unwrap()
            .is_none()
    );
    let l = q.lease("a", Some("hc-aaaaaaaaaaaa"), ttl).unwrap().unwrap();
    assert_eq!(l.job.host_class.as_deref(), Some("hc-aaaaaaaaaaaa"));
    drop(q);
    // Opening again does not migrate twice.
    SqliteQueue::open(&path).unwrap();
}

#[test]
fn redis_backend_passes_the_conformance_suite() {
    let server = RedisServer::start();
    for (name, case) in conformance::CASES {
        let ns = format!("conformance-{name}");
        let q: Arc<dyn Queue> =
            Arc::new(RedisQueue::connect_with(&server.url(), &ns, DEFAULT_RESULT_TTL).unwrap());
        eprintln!("conformance (redis): {name}");
        case(q);
    }
}

#[test]
fn redis_queue_survives_a_killed_redis_with_aof() {
    let mut server = RedisServer::start_persistent();
    let q = RedisQueue::connect(&server.url()).unwrap();
    let jobs: Vec<_> = (0..20)
        .map(|i| conformance::job(&format!("job {i}")))
        .collect();
    q.submit(&jobs, 1000).unwrap();
    let leased = q
        .lease("agent-1", None, Duration::from_secs(60))
        .unwrap()
        .unwrap();
    server.kill_and_restart();
    // The pooled connection died with the server: the first call may fail, then it reconnects.
    let _ = q.counts();
    let counts = q.counts().unwrap();
    assert_eq!(
        (counts.queued, counts.running),
        (19, 1),
        "no accepted job lost"
    );
    for j in &jobs {
        assert!(q.get(j.id).unwrap().is_some(), "job {} lost", j.id);
    }
    assert_eq!(
        q.heartbeat(&leased, Duration::from_secs(60), None).unwrap(),
        jouletrace_server::queue::LeaseStatus::Held,
        "the lease (pending entry) survived too"
    );
    let mut done = 0;
    while let Some(l) = q.lease("agent-2", None, Duration::from_secs(60)).unwrap() {
        assert!(q.finish(&l, &finished()).unwrap());
        done += 1;
    }
    assert_eq!(done, 19);
    assert!(q.finish(&leased, &finished()).unwrap());
    assert_eq!(q.counts().unwrap().completed, 20);
}

#[test]
fn redis_results_expire_and_cancel_is_published() {
    let server = RedisServer::start();
    // Two handles on one namespace: the cancel a running agent must hear is kept for the
    // default TTL, so its heartbeat answers `cancelled` however late it comes (with a 50 ms TTL
    // a heartbeat delayed by a loaded machine found the record gone and answered `lost`); the
    // short-TTL handle's cancelled result must be gone once its TTL has passed.
    let q = RedisQueue::connect_with(&server.url(), "ttl", DEFAULT_RESULT_TTL).unwrap();
    let short = RedisQueue::connect_with(&server.url(), "ttl", Duration::from_millis(50)).unwrap();
    let j = conformance::job("heard");
    let gone = conformance::job("short-lived");
    q.submit(&[j.clone(), gone.clone()], 10).unwrap();
    let client = redis::Client::open(server.url()).unwrap();
    let mut sub = client.get_connection().unwrap();
    let mut pubsub = sub.as_pubsub();
    pubsub.subscribe("ttl:cancel").unwrap();
    let mut leases = Vec::new();
    while let Some(l) = q.lease("agent", None, Duration::from_secs(60)).unwrap() {
        leases.push(l);
    }
    let l = leases.iter().find(|l| l.job.id == j.id).unwrap();
    assert!(matches!(
        q.cancel(j.id).unwrap(),
        jouletrace_server::queue::CancelOutcome::Cancelled {
            was: JobState::Running
        }
    ));
    let msg = pubsub.get_message().unwrap();
    assert_eq!(msg.get_payload::<String>().unwrap(), j.id.to_string());
    assert_eq!(
        q.heartbeat(l, Duration::from_secs(60), None).unwrap(),
        jouletrace_server::queue::LeaseStatus::Cancelled
    );

    assert!(leases.iter().any(|l| l.job.id == gone.id));
    assert!(matches!(
        short.cancel(gone.id).unwrap(),
        jouletrace_server::queue::CancelOutcome::Cancelled {
            was: JobState::Running
        }
    ));
    std::thread::sleep(Duration::from_millis(200));
    assert!(
        q.get(gone.id).unwrap().is_none(),
        "result expired after its TTL"
    );
    assert!(q.get(j.id).unwrap().is_some(), "kept for the default TTL");
}

fn finished() -> jouletrace_server::queue::Finished {
    jouletrace_server::queue::Finished {
        state: JobState::Completed,
        outcome: "{}".into(),
    }
}
