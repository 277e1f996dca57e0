//! The response bodies of a task in each state, built from the queue's record.

use serde_json::{Map, Value, json};

use crate::outcome::Outcome;
use crate::queue::{JobRecord, JobState, UnixTime};

pub fn poll_url(id: &impl std::fmt::Display) -> String {
    format!("/api/v1/tasks/{id}")
}

/// A rough estimate of seconds until the result: the predecessor's clients read it for their
/// first poll. Warm-up and trials per test case at ~1 s each, plus the jobs ahead.
pub fn estimate_seconds(
    test_cases: usize,
    trials: u64,
    warmup: u64,
    ahead: u64,
    slots: usize,
) -> u64 {
    let own = (trials + warmup).max(1) * test_cases.max(1) as u64 + 5;
    own * (1 + ahead / slots.max(1) as u64)
}

/// The body of `GET /api/v1/tasks/{id}` for any state; also one entry of a batch's status.
pub fn task_response(job: &JobRecord) -> Value {
    let id = job.id.to_string();
    let mut m = Map::new();
    m.insert("task_id".into(), json!(id));
    // The predecessor's GET answered request_id = task_id; kept so its clients keep working.
    m.insert("request_id".into(), json!(id));
    m.insert("status".into(), json!(job.state.as_str()));
    if let Some(b) = job.batch {
        m.insert("batch_id".into(), json!(b.to_string()));
    }
    // fleet: the host class the job asked for (only its agents run it).
    if let Some(class) = &job.host_class {
        m.insert("host_class_requested".into(), json!(class));
    }
    match job.state {
        JobState::Queued => {
            m.insert("estimated_completion_seconds".into(), Value::Null);
            m.insert("poll_url".into(), json!(poll_url(&id)));
            m.insert("submitted_at".into(), json!(job.submitted_at.0));
            m.insert("attempts".into(), json!(job.attempts));
        }
        JobState::Running => {
            let p = job.progress.clone();
            m.insert(
                "stage".into(),
                json!(p.as_ref().map_or("initializing", |p| p.stage.as_str())),
            );
            m.insert(
                "progress".into(),
                json!(p.as_ref().map_or(0.0, |p| p.progress)),
            );
            m.insert(
                "elapsed_seconds".into(),
                json!(
                    job.started_at
                        .map_or(0.0, |s| UnixTime::now().seconds_since(s))
                ),
            );
            m.insert("attempt".into(), json!(job.attempts));
            m.insert("agent".into(), json!(job.lease_owner));
        }
        JobState::Completed | JobState::Failed | JobState::Cancelled => {
            let outcome: Option<Value> = job
                .outcome
                .as_deref()
                .and_then(|o| serde_json::from_str(o).ok());
            // Outcomes written by an agent are `Outcome`s; those written by the queue itself
            // (cancelled, worker_lost) are bare bodies.
            let body = match outcome {
                Some(v) if v.get("body").is_some() && v.get("state").is_some() => {
                    serde_json::from_value::<Outcome>(v)
                        .map(|o| o.body)
                        .unwrap_or_default()
                }
                Some(Value::Object(b)) => b,
                _ => Map::new(),
            };
            for (k, v) in body {
                m.entry(k).or_insert(v);
            }
            if job.state != JobState::Completed {
                m.entry("failure_timestamp")
                    .or_insert(json!(job.finished_at.map(|t| t.0)));
            }
            m.insert("submitted_at".into(), json!(job.submitted_at.0));
            // fleet: when the (last) attempt was leased: `started_at - submitted_at` is the
            // job's wait in the queue.
            m.insert("started_at".into(), json!(job.started_at.map(|t| t.0)));
            m.insert("finished_at".into(), json!(job.finished_at.map(|t| t.0)));
            m.insert("attempts".into(), json!(job.attempts));
            m.insert(
                "report_url".into(),
                json!(format!("{}/report", poll_url(&id))),
            );
        }
    }
    Value::Object(m)
}
