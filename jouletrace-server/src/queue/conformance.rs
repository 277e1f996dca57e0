//! What every [`Queue`] backend must do, as functions over a fresh, empty queue.
//!
//! A backend's test file runs [`CASES`] against its own constructor (see
//! `tests/queue_conformance.rs`), so the embedded and Redis backends are held to one contract.
//! Each case panics with a message on failure; leases here are short (tens of milliseconds) so
//! expiry is exercised without slowing the suite.

use std::collections::HashSet;
use std::sync::Arc;
use std::time::Duration;

use super::{
    CancelOutcome, Finished, JobId, JobKind, JobState, LeaseStatus, NewJob, Progress, Queue,
    QueueError, UnixTime,
};

/// A conformance case: a name and a function over an empty queue.
pub type Case = (&'static str, fn(Arc<dyn Queue>));

pub const CASES: &[Case] = &[
    ("submit_then_get", submit_then_get),
    ("lease_is_fifo_and_exclusive", lease_is_fifo_and_exclusive),
    ("finish_writes_once", finish_writes_once),
    ("expired_lease_runs_again", expired_lease_runs_again),
    ("stale_holder_cannot_finish", stale_holder_cannot_finish),
    ("poison_job_is_abandoned", poison_job_is_abandoned),
    ("cancel_queued_and_running", cancel_queued_and_running),
    ("admission_is_bounded", admission_is_bounded),
    ("batch_lists_its_jobs", batch_lists_its_jobs),
    ("purge_keeps_unfinished", purge_keeps_unfinished),
    (
        "concurrent_leases_never_share",
        concurrent_leases_never_share,
    ),
    ("quota_and_day_counts", quota_and_day_counts),
    ("lease_routes_by_host_class", lease_routes_by_host_class),
    (
        "class_jobs_reap_and_cancel_in_their_class",
        class_jobs_reap_and_cancel_in_their_class,
    ),
];

const BIG: u64 = 1_000_000;
const TTL: Duration = Duration::from_secs(60);

pub fn job(spec: &str) -> NewJob {
    NewJob {
        id: JobId::new(),
        kind: JobKind::Measure,
        spec: spec.to_owned(),
        batch: None,
        problem_name: None,
        candidate_id: None,
        key_id: None,
        host_class: None,
    }
}

fn done(state: JobState) -> Finished {
    Finished {
        state,
        outcome: format!(r#"{{"state":"{}"}}"#, state.as_str()),
    }
}

fn submit_then_get(q: Arc<dyn Queue>) {
    let j = job(r#"{"candidate_code":"x"}"#);
    q.submit(std::slice::from_ref(&j), BIG).unwrap();
    let got = q.get(j.id).unwrap().expect("submitted job is found");
    assert_eq!(got.state, JobState::Queued);
    assert_eq!(got.spec, j.spec);
    assert_eq!(got.attempts, 0);
    assert!(q.get(JobId::new()).unwrap().is_none(), "unknown id is None");
    assert_eq!(q.counts().unwrap().queued, 1);
}

fn lease_is_fifo_and_exclusive(q: Arc<dyn Queue>) {
    let a = job("a");
    let b = job("b");
    q.submit(std::slice::from_ref(&a), BIG).unwrap();
    q.submit(std::slice::from_ref(&b), BIG).unwrap();
    let la = q.lease("agent-1", None, TTL).unwrap().unwrap();
    let lb = q.lease("agent-2", None, TTL).unwrap().unwrap();
    assert_eq!(la.job.id, a.id, "oldest first");
    assert_eq!(lb.job.id, b.id);
    assert!(
        q.lease("agent-3", None, TTL).unwrap().is_none(),
        "nothing left"
    );
    let rec = q.get(a.id).unwrap().unwrap();
    assert_eq!(rec.state, JobState::Running);
    assert_eq!(rec.attempts, 1);
    assert_eq!(rec.lease_owner.as_deref(), Some("agent-1"));
}

fn finish_writes_once(q: Arc<dyn Queue>) {
    let a = job("a");
    q.submit(std::slice::from_ref(&a), BIG).unwrap();
    let l = q.lease("agent", None, TTL).unwrap().unwrap();
    let p = Progress {
        stage: "energy_measurement".into(),
        progress: 0.5,
    };
    assert_eq!(q.heartbeat(&l, TTL, Some(&p)).unwrap(), LeaseStatus::Held);
    assert_eq!(q.get(a.id).unwrap().unwrap().progress, Some(p));
    assert!(q.finish(&l, &done(JobState::Completed)).unwrap());
    assert!(
        !q.finish(&l, &done(JobState::Failed)).unwrap(),
        "second finish is refused"
    );
    let rec = q.get(a.id).unwrap().unwrap();
    assert_eq!(rec.state, JobState::Completed);
    assert_eq!(rec.outcome.as_deref(), Some(r#"{"state":"completed"}"#));
    assert!(rec.finished_at.is_some());
    assert_eq!(q.heartbeat(&l, TTL, None).unwrap(), LeaseStatus::Lost);
}

fn expired_lease_runs_again(q: Arc<dyn Queue>) {
    let a = job("a");
    q.submit(std::slice::from_ref(&a), BIG).unwrap();
    let _l = q
        .lease("dead-agent", None, Duration::from_millis(1))
        .unwrap()
        .unwrap();
    std::thread::sleep(Duration::from_millis(20));
    let reaped = q.reap(UnixTime::now(), 3).unwrap();
    assert_eq!(reaped.requeued, vec![a.id]);
    assert_eq!(q.get(a.id).unwrap().unwrap().state, JobState::Queued);
    let l2 = q.lease("live-agent", None, TTL).unwrap().unwrap();
    assert_eq!(l2.job.id, a.id);
    assert_eq!(l2.attempt, 2);
    assert!(q.finish(&l2, &done(JobState::Completed)).unwrap());
}

fn stale_holder_cannot_finish(q: Arc<dyn Queue>) {
    let a = job("a");
    q.submit(std::slice::from_ref(&a), BIG).unwrap();
    let stale = q
        .lease("slow-agent", None, Duration::from_millis(1))
        .unwrap()
        .unwrap();
    std::thread::sleep(Duration::from_millis(20));
    q.reap(UnixTime::now(), 3).unwrap();
    assert_eq!(q.heartbeat(&stale, TTL, None).unwrap(), LeaseStatus::Lost);
    assert!(
        !q.finish(&stale, &done(JobState::Completed)).unwrap(),
        "a requeued job cannot be finished by its old holder"
    );
    let fresh = q.lease("slow-agent", None, TTL).unwrap().unwrap();
    assert!(
        !q.finish(&stale, &done(JobState::Completed)).unwrap(),
        "nor once re-leased, even by the same owner name"
    );
    assert!(q.finish(&fresh, &done(JobState::Completed)).unwrap());
}

fn poison_job_is_abandoned(q: Arc<dyn Queue>) {
    let a = job("a");
    q.submit(std::slice::from_ref(&a), BIG).unwrap();
    for attempt in 1..=2 {
        let l = q
            .lease("agent", None, Duration::from_millis(1))
            .unwrap()
            .unwrap();
        assert_eq!(l.attempt, attempt);
        std::thread::sleep(Duration::from_millis(20));
        let r = q.reap(UnixTime::now(), 2).unwrap();
        if attempt == 2 {
            assert_eq!(r.abandoned, vec![a.id]);
        } else {
            assert_eq!(r.requeued, vec![a.id]);
        }
    }
    let rec = q.get(a.id).unwrap().unwrap();
    assert_eq!(rec.state, JobState::Failed);
    assert!(rec.outcome.unwrap().contains("worker_lost"));
    assert!(q.lease("agent", None, TTL).unwrap().is_none());
}

fn cancel_queued_and_running(q: Arc<dyn Queue>) {
    let a = job("a");
    let b = job("b");
    q.submit(&[a.clone(), b.clone()], BIG).unwrap();
    let la = q.lease("agent", None, TTL).unwrap().unwrap();
    assert_eq!(
        q.cancel(b.id).unwrap(),
        CancelOutcome::Cancelled {
            was: JobState::Queued
        }
    );
    assert!(
        q.lease("agent", None, TTL).unwrap().is_none(),
        "cancelled is never leased"
    );
    assert_eq!(
        q.cancel(a.id).unwrap(),
        CancelOutcome::Cancelled {
            was: JobState::Running
        }
    );
    assert_eq!(q.heartbeat(&la, TTL, None).unwrap(), LeaseStatus::Cancelled);
    assert!(!q.finish(&la, &done(JobState::Completed)).unwrap());
    assert_eq!(q.get(a.id).unwrap().unwrap().state, JobState::Cancelled);
    assert_eq!(
        q.cancel(a.id).unwrap(),
        CancelOutcome::AlreadyFinished(JobState::Cancelled)
    );
    assert_eq!(q.cancel(JobId::new()).unwrap(), CancelOutcome::NotFound);
    let c = q.counts().unwrap();
    assert_eq!((c.cancelled, c.active()), (2, 0));
}

fn admission_is_bounded(q: Arc<dyn Queue>) {
    q.submit(&[job("a"), job("b")], 3).unwrap();
    match q.submit(&[job("c"), job("d")], 3) {
        Err(QueueError::Full { active, limit }) => assert_eq!((active, limit), (2, 3)),
        other => panic!("expected Full, got {other:?}"),
    }
    assert_eq!(q.counts().unwrap().queued, 2, "all or none");
    q.submit(&[job("c")], 3).unwrap();
    let l = q.lease("agent", None, TTL).unwrap().unwrap();
    assert!(q.submit(&[job("e")], 3).is_err(), "running jobs count too");
    assert!(q.finish(&l, &done(JobState::Completed)).unwrap());
    q.submit(&[job("e")], 3).unwrap();
}

fn batch_lists_its_jobs(q: Arc<dyn Queue>) {
    let batch = JobId::new();
    let jobs: Vec<NewJob> = (0..3)
        .map(|i| NewJob {
            batch: Some(batch),
            problem_name: Some("squares".into()),
            ..job(&format!("job {i}"))
        })
        .collect();
    q.submit(&jobs, BIG).unwrap();
    let got = q.batch(batch).unwrap().expect("batch found");
    let ids: Vec<JobId> = got.iter().map(|j| j.id).collect();
    assert_eq!(ids, jobs.iter().map(|j| j.id).collect::<Vec<_>>());
    assert!(
        got.iter()
            .all(|j| j.problem_name.as_deref() == Some("squares"))
    );
    assert!(q.batch(JobId::new()).unwrap().is_none());
}

fn purge_keeps_unfinished(q: Arc<dyn Queue>) {
    let a = job("a");
    let b = job("b");
    q.submit(&[a.clone(), b.clone()], BIG).unwrap();
    let l = q.lease("agent", None, TTL).unwrap().unwrap();
    assert!(q.finish(&l, &done(JobState::Completed)).unwrap());
    assert_eq!(
        q.purge(UnixTime::now().minus(TTL)).unwrap(),
        0,
        "too recent"
    );
    assert_eq!(q.purge(UnixTime::now().plus(TTL)).unwrap(), 1);
    assert!(q.get(a.id).unwrap().is_none());
    assert!(q.get(b.id).unwrap().is_some(), "queued job kept");
}

fn concurrent_leases_never_share(q: Arc<dyn Queue>) {
    let jobs: Vec<NewJob> = (0..40).map(|i| job(&i.to_string())).collect();
    q.submit(&jobs, BIG).unwrap();
    let handles: Vec<_> = (0..4)
        .map(|w| {
            let q = q.clone();
            std::thread::spawn(move || {
                let mut mine = Vec::new();
                while let Some(l) = q.lease(&format!("agent-{w}"), None, TTL).unwrap() {
                    assert!(q.finish(&l, &done(JobState::Completed)).unwrap());
                    mine.push(l.job.id);
                }
                mine
            })
        })
        .collect();
    let mut seen = HashSet::new();
    for h in handles {
        for id in h.join().unwrap() {
            assert!(seen.insert(id), "job {id} leased twice");
        }
    }
    assert_eq!(seen.len(), 40);
    assert_eq!(q.counts().unwrap().completed, 40);
}

fn quota_and_day_counts(q: Arc<dyn Queue>) {
    let mine = NewJob {
        key_id: Some("alice".into()),
        ..job("a")
    };
    q.submit(&[mine, job("b")], BIG).unwrap();
    assert_eq!(q.active_for_key("alice").unwrap(), 1);
    assert_eq!(q.active_for_key("bob").unwrap(), 0);
    let l = q.lease("agent", None, TTL).unwrap().unwrap();
    assert!(q.finish(&l, &done(JobState::Completed)).unwrap());
    assert_eq!(q.active_for_key("alice").unwrap(), 0);
    let (n, avg) = q.finished_since(UnixTime::now().minus(TTL)).unwrap();
    assert_eq!(n, 1);
    assert!(avg.is_some_and(|s| s >= 0.0));
}

const CLASS_A: &str = "hc-aaaaaaaaaaaa";
const CLASS_B: &str = "hc-bbbbbbbbbbbb";

/// A job that asks for host class `class`.
pub fn job_for(spec: &str, class: &str) -> NewJob {
    NewJob {
        host_class: Some(class.to_owned()),
        ..job(spec)
    }
}

fn leased(q: &Arc<dyn Queue>, owner: &str, class: Option<&str>) -> Option<String> {
    q.lease(owner, class, TTL).unwrap().map(|l| {
        assert!(q.finish(&l, &done(JobState::Completed)).unwrap());
        l.job.spec
    })
}

fn lease_routes_by_host_class(q: Arc<dyn Queue>) {
    // Submitted one by one, in this order: the oldest eligible job goes first.
    for j in [
        job("any-1"),
        job_for("a-1", CLASS_A),
        job_for("b-1", CLASS_B),
        job("any-2"),
        job_for("a-2", CLASS_A),
    ] {
        q.submit(std::slice::from_ref(&j), BIG).unwrap();
    }
    assert_eq!(
        q.waiting_by_class().unwrap(),
        [(CLASS_A.to_owned(), 2), (CLASS_B.to_owned(), 1)].into()
    );
    assert_eq!(leased(&q, "plain", None).as_deref(), Some("any-1"));
    assert_eq!(
        leased(&q, "agent-b", Some(CLASS_B)).as_deref(),
        Some("b-1"),
        "its own class before a younger any-class job"
    );
    assert_eq!(leased(&q, "agent-a", Some(CLASS_A)).as_deref(), Some("a-1"));
    assert_eq!(
        leased(&q, "agent-b", Some(CLASS_B)).as_deref(),
        Some("any-2"),
        "any class, never another class's job"
    );
    assert_eq!(leased(&q, "agent-b", Some(CLASS_B)), None);
    assert_eq!(
        leased(&q, "plain", None),
        None,
        "a class-less agent takes no class job"
    );
    assert_eq!(
        q.waiting_by_class().unwrap(),
        [(CLASS_A.to_owned(), 1)].into(),
        "a-2 waits for an agent of its class"
    );
    assert_eq!(leased(&q, "agent-a", Some(CLASS_A)).as_deref(), Some("a-2"));
    assert!(q.waiting_by_class().unwrap().is_empty());

    // An agent that looked at both kinds and took one leaves the other to whoever comes next.
    let a3 = job_for("a-3", CLASS_A);
    let any3 = job("any-3");
    q.submit(std::slice::from_ref(&a3), BIG).unwrap();
    q.submit(std::slice::from_ref(&any3), BIG).unwrap();
    assert_eq!(leased(&q, "agent-a", Some(CLASS_A)).as_deref(), Some("a-3"));
    assert_eq!(leased(&q, "plain", None).as_deref(), Some("any-3"));
    let rec = q.get(a3.id).unwrap().unwrap();
    assert_eq!(rec.host_class.as_deref(), Some(CLASS_A));
    assert_eq!(q.get(any3.id).unwrap().unwrap().host_class, None);
    assert_eq!(q.counts().unwrap().completed, 7);
}

fn class_jobs_reap_and_cancel_in_their_class(q: Arc<dyn Queue>) {
    let a = job_for("a", CLASS_A);
    q.submit(std::slice::from_ref(&a), BIG).unwrap();
    let _dead = q
        .lease("dead-a", Some(CLASS_A), Duration::from_millis(1))
        .unwrap()
        .unwrap();
    assert!(
        q.waiting_by_class().unwrap().is_empty(),
        "running, not waiting"
    );
    std::thread::sleep(Duration::from_millis(20));
    assert_eq!(q.reap(UnixTime::now(), 3).unwrap().requeued, vec![a.id]);
    assert_eq!(
        q.waiting_by_class().unwrap(),
        [(CLASS_A.to_owned(), 1)].into(),
        "re-queued, it waits for its class again"
    );
    assert!(
        q.lease("agent-b", Some(CLASS_B), TTL).unwrap().is_none(),
        "a re-queued job keeps its class"
    );
    let again = q.lease("live-a", Some(CLASS_A), TTL).unwrap().unwrap();
    assert_eq!((again.job.id, again.attempt), (a.id, 2));

    // Cancel reaches class jobs, queued and running.
    let queued = job_for("queued", CLASS_A);
    q.submit(std::slice::from_ref(&queued), BIG).unwrap();
    assert_eq!(
        q.cancel(queued.id).unwrap(),
        CancelOutcome::Cancelled {
            was: JobState::Queued
        }
    );
    assert!(q.waiting_by_class().unwrap().is_empty());
    assert!(q.lease("live-a", Some(CLASS_A), TTL).unwrap().is_none());
    assert_eq!(
        q.cancel(a.id).unwrap(),
        CancelOutcome::Cancelled {
            was: JobState::Running
        }
    );
    assert_eq!(
        q.heartbeat(&again, TTL, None).unwrap(),
        LeaseStatus::Cancelled
    );
    assert!(!q.finish(&again, &done(JobState::Completed)).unwrap());
    // A reap after all this finds nothing to take back, and nothing is left to lease.
    let r = q.reap(UnixTime::now(), 3).unwrap();
    assert!(r.requeued.is_empty() && r.abandoned.is_empty());
    assert!(q.lease("live-a", Some(CLASS_A), TTL).unwrap().is_none());
    assert_eq!(q.counts().unwrap().active(), 0);
}
