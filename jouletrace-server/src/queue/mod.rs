//! The job queue: durable, at-least-once, one result per job.
//!
//! [`Queue`] is the interface every backend implements: the embedded [`SqliteQueue`] (the
//! default: no external service) and [`RedisQueue`] for many hosts. One conformance suite
//! ([`conformance`]) states what a backend must do and runs against each of them, the way
//! nextest runs one test list against several runners.
//!
//! The life of a job: `submit` stores it `queued` (or refuses it when the queue is full: the API
//! answers 503 with `Retry-After`); an agent `lease`s it for a while and keeps the lease with
//! `heartbeat` while it runs; `finish` writes its outcome once, and only for the lease that holds
//! it. A lease that is not kept expires (`reap`): the job goes back to `queued` and runs again,
//! unless it has already been tried `max_attempts` times, when it fails as `worker_lost` instead
//! of killing agent after agent (the predecessor redelivered such poison jobs forever).
//! `cancel` ends a queued job at once and tells a running job's agent, through its next
//! heartbeat, to kill its workers. Finished jobs are deleted `purge` after the retention TTL.
//!
//! Routing (fleet): a job may ask for a host class (`host_class` in the request). An agent
//! leases with its own class and gets the oldest job that asked for that class or for none;
//! a job for a class no agent has waits, and [`Queue::waiting_by_class`] says how many do, so
//! the API can tell (never a silent forever-queued job).

pub mod conformance;
// fleet: the Redis backend (issue 15), in its own file.
mod redis;
mod sqlite;

use std::collections::BTreeMap;
use std::fmt;
use std::str::FromStr;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde::{Deserialize, Serialize};
use uuid::Uuid;

pub use self::redis::{DEFAULT_RESULT_TTL, RedisQueue, redact_url};
pub use sqlite::SqliteQueue;

/// A job's id: a UUID, shown hyphenated (the predecessor's task ids were Celery UUIDs).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct JobId(pub Uuid);

impl JobId {
    pub fn new() -> JobId {
        JobId(Uuid::new_v4())
    }
}

impl Default for JobId {
    fn default() -> Self {
        JobId::new()
    }
}

impl fmt::Display for JobId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.hyphenated().fmt(f)
    }
}

impl FromStr for JobId {
    type Err = uuid::Error;
    fn from_str(s: &str) -> Result<JobId, uuid::Error> {
        Uuid::parse_str(s).map(JobId)
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum JobState {
    Queued,
    Running,
    Completed,
    Failed,
    Cancelled,
}

impl JobState {
    pub const ALL: [JobState; 5] = [
        JobState::Queued,
        JobState::Running,
        JobState::Completed,
        JobState::Failed,
        JobState::Cancelled,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            JobState::Queued => "queued",
            JobState::Running => "running",
            JobState::Completed => "completed",
            JobState::Failed => "failed",
            JobState::Cancelled => "cancelled",
        }
    }

    pub fn parse(s: &str) -> Option<JobState> {
        JobState::ALL.into_iter().find(|st| st.as_str() == s)
    }

    pub fn is_terminal(self) -> bool {
        matches!(
            self,
            JobState::Completed | JobState::Failed | JobState::Cancelled
        )
    }
}

/// Seconds since the Unix epoch: what every timestamp in the queue is, and what the
/// predecessor's `timestamp` fields were.
#[derive(Clone, Copy, Debug, PartialEq, PartialOrd, Serialize, Deserialize)]
#[serde(transparent)]
pub struct UnixTime(pub f64);

impl UnixTime {
    pub fn now() -> UnixTime {
        let d = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap_or_default();
        UnixTime(d.as_secs_f64())
    }
    pub fn plus(self, d: Duration) -> UnixTime {
        UnixTime(self.0 + d.as_secs_f64())
    }
    pub fn minus(self, d: Duration) -> UnixTime {
        UnixTime(self.0 - d.as_secs_f64())
    }
    pub fn seconds_since(self, earlier: UnixTime) -> f64 {
        (self.0 - earlier.0).max(0.0)
    }
}

/// What a job asks the agent to do.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum JobKind {
    /// Check, then measure (`POST /api/v1/measure`, batches).
    Measure,
}

/// A job as submitted.
#[derive(Clone, Debug, PartialEq)]
pub struct NewJob {
    pub id: JobId,
    pub kind: JobKind,
    /// The job spec, as the JSON the API validated (stored verbatim; the agent parses it again
    /// with the same type, so the queue never needs to know its fields).
    pub spec: String,
    pub batch: Option<JobId>,
    /// Copied from the spec for batch rankings and the dashboard.
    pub problem_name: Option<String>,
    pub candidate_id: Option<String>,
    /// The API key's id that submitted it (never the key itself).
    pub key_id: Option<String>,
    /// The host class (`hc-…`) whose agents alone may run it; `None`: any agent.
    pub host_class: Option<String>,
}

/// What the agent reports while it runs a job.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Progress {
    /// `initializing`, `validation`, `energy_measurement`, `finalizing` (the predecessor's names).
    pub stage: String,
    /// 0..=1.
    pub progress: f64,
}

/// How a job ended, as the agent writes it once.
#[derive(Clone, Debug, PartialEq)]
pub struct Finished {
    /// `Completed` or `Failed`.
    pub state: JobState,
    /// The outcome record (JSON), rendered into responses by the API.
    pub outcome: String,
}

/// A stored job.
#[derive(Clone, Debug, PartialEq)]
pub struct JobRecord {
    pub id: JobId,
    pub kind: JobKind,
    pub state: JobState,
    pub spec: String,
    pub batch: Option<JobId>,
    pub problem_name: Option<String>,
    pub candidate_id: Option<String>,
    pub key_id: Option<String>,
    /// The host class the job asked for (`None`: any).
    pub host_class: Option<String>,
    pub submitted_at: UnixTime,
    /// When the current (or last) attempt started.
    pub started_at: Option<UnixTime>,
    pub finished_at: Option<UnixTime>,
    /// Leases taken so far.
    pub attempts: u32,
    pub lease_owner: Option<String>,
    pub lease_expires_at: Option<UnixTime>,
    pub progress: Option<Progress>,
    pub outcome: Option<String>,
}

/// A job held by an agent. `attempt` identifies the lease: a stale holder (whose lease expired
/// and was taken by another) can neither keep it nor finish the job.
#[derive(Clone, Debug, PartialEq)]
pub struct Lease {
    pub job: JobRecord,
    pub owner: String,
    pub attempt: u32,
}

/// What a heartbeat learns.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LeaseStatus {
    /// Still ours; keep going.
    Held,
    /// Cancelled by a client: kill the workers and stop.
    Cancelled,
    /// Expired and taken back (or the job is gone): stop; another attempt owns it.
    Lost,
}

/// What a cancel did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CancelOutcome {
    NotFound,
    /// It was queued or running (`was`); it is cancelled now.
    Cancelled {
        was: JobState,
    },
    /// It had already finished: nothing to cancel.
    AlreadyFinished(JobState),
}

/// Number of jobs per state.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct Counts {
    pub queued: u64,
    pub running: u64,
    pub completed: u64,
    pub failed: u64,
    pub cancelled: u64,
}

impl Counts {
    pub fn get(&self, s: JobState) -> u64 {
        match s {
            JobState::Queued => self.queued,
            JobState::Running => self.running,
            JobState::Completed => self.completed,
            JobState::Failed => self.failed,
            JobState::Cancelled => self.cancelled,
        }
    }
    /// Jobs not yet finished: what admission control bounds.
    pub fn active(&self) -> u64 {
        self.queued + self.running
    }
}

/// What `reap` did to leases that expired.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Reaped {
    /// Put back in the queue to run again.
    pub requeued: Vec<JobId>,
    /// Failed as `worker_lost` after `max_attempts` leases expired.
    pub abandoned: Vec<JobId>,
}

/// The outcome record written for a job abandoned after its leases kept expiring.
pub fn worker_lost_outcome(attempts: u32) -> String {
    serde_json::json!({
        "error_type": "worker_lost",
        "error_message": format!(
            "the job's agent stopped answering {attempts} times (killed or out of memory); \
             it is not tried again"
        ),
    })
    .to_string()
}

#[derive(Debug, thiserror::Error)]
pub enum QueueError {
    /// Admission control: the API answers 503 with `Retry-After`.
    #[error("the queue is full ({active} jobs waiting or running, limit {limit}); retry later")]
    Full { active: u64, limit: u64 },
    #[error("queue store {path}: {source}")]
    Store {
        path: String,
        #[source]
        source: rusqlite::Error,
    },
    #[error("queue store {path}: {message}")]
    Corrupt { path: String, message: String },
    // fleet: the Redis backend's errors (`server` is `host:port/db`, never the password).
    #[error("redis queue at {server}: {source}")]
    Redis {
        server: String,
        #[source]
        source: ::redis::RedisError,
    },
}

/// The queue's interface. Calls block (SQLite, or a Redis round trip): async callers wrap them
/// in `spawn_blocking`.
pub trait Queue: Send + Sync + 'static {
    /// Stores the jobs `queued`, all or none; refuses them with [`QueueError::Full`] when the
    /// jobs not yet finished would exceed `max_active`.
    fn submit(&self, jobs: &[NewJob], max_active: u64) -> Result<(), QueueError>;
    /// The oldest queued job that asked for host class `class` or for any class, now
    /// `running` and leased to `owner` until `now + ttl`. `class: None` takes only jobs for any
    /// class.
    fn lease(
        &self,
        owner: &str,
        class: Option<&str>,
        ttl: Duration,
    ) -> Result<Option<Lease>, QueueError>;
    /// Extends the lease and records progress.
    fn heartbeat(
        &self,
        lease: &Lease,
        ttl: Duration,
        progress: Option<&Progress>,
    ) -> Result<LeaseStatus, QueueError>;
    /// Writes the job's outcome if `lease` still holds it. `false` when it does not (expired and
    /// re-leased, cancelled): the outcome is dropped, so every job has exactly one result.
    fn finish(&self, lease: &Lease, finished: &Finished) -> Result<bool, QueueError>;
    fn cancel(&self, id: JobId) -> Result<CancelOutcome, QueueError>;
    fn get(&self, id: JobId) -> Result<Option<JobRecord>, QueueError>;
    /// The jobs of a batch, in submission order; `None` for an unknown batch.
    fn batch(&self, batch: JobId) -> Result<Option<Vec<JobRecord>>, QueueError>;
    fn counts(&self) -> Result<Counts, QueueError>;
    /// Most recent first (by submission for queued, by last change otherwise).
    fn recent(&self, state: JobState, limit: usize) -> Result<Vec<JobRecord>, QueueError>;
    /// Queued jobs per host class they asked for (jobs for any class are not listed).
    fn waiting_by_class(&self) -> Result<BTreeMap<String, u64>, QueueError>;
    /// Unfinished jobs submitted with this API key (its concurrency quota).
    fn active_for_key(&self, key_id: &str) -> Result<u64, QueueError>;
    /// Jobs completed since `since`, and their mean run time (lease to result) in seconds.
    fn finished_since(&self, since: UnixTime) -> Result<(u64, Option<f64>), QueueError>;
    /// Takes back leases that expired before `now`.
    fn reap(&self, now: UnixTime, max_attempts: u32) -> Result<Reaped, QueueError>;
    /// Deletes finished jobs that finished before `before` (a batch is its jobs: it goes with
    /// them).
    fn purge(&self, before: UnixTime) -> Result<usize, QueueError>;
}
