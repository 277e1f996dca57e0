//! The queue conformance suite against the embedded SQLite backend (each case on a fresh file).

use std::sync::Arc;

use jouletrace_server::queue::{Queue, SqliteQueue, conformance};

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
