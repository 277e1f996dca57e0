//! The embedded queue: one SQLite file in WAL mode, `synchronous=FULL`.
//!
//! Why SQLite: a proven, durable store with transactions and no service to run; WAL lets the
//! dashboard read while an agent writes. `synchronous=FULL` because a job answered with 202 must
//! survive a power cut, not only a crash of the process (the cost, one fsync per commit, is small
//! next to a measurement). One connection behind a mutex: every operation is a short transaction,
//! and serialising them is what makes `lease` hand a job to exactly one agent.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::Duration;

use rusqlite::{Connection, OptionalExtension, Row, TransactionBehavior, params};

use super::{
    CancelOutcome, Counts, Finished, JobId, JobKind, JobRecord, JobState, Lease, LeaseStatus,
    NewJob, Progress, Queue, QueueError, Reaped, UnixTime, worker_lost_outcome,
};

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS jobs (
    seq              INTEGER PRIMARY KEY AUTOINCREMENT,
    id               TEXT NOT NULL UNIQUE,
    kind             TEXT NOT NULL,
    state            TEXT NOT NULL,
    spec             TEXT NOT NULL,
    batch            TEXT,
    problem_name     TEXT,
    candidate_id     TEXT,
    key_id           TEXT,
    host_class       TEXT,
    submitted_at     REAL NOT NULL,
    started_at       REAL,
    finished_at      REAL,
    updated_at       REAL NOT NULL,
    attempts         INTEGER NOT NULL DEFAULT 0,
    lease_owner      TEXT,
    lease_expires_at REAL,
    stage            TEXT,
    progress         REAL,
    outcome          TEXT
);
CREATE INDEX IF NOT EXISTS jobs_state ON jobs(state, seq);
CREATE INDEX IF NOT EXISTS jobs_batch ON jobs(batch, seq);
CREATE INDEX IF NOT EXISTS jobs_lease ON jobs(state, lease_expires_at);
";

const COLUMNS: &str = "id, kind, state, spec, batch, problem_name, candidate_id, key_id, \
    submitted_at, started_at, finished_at, attempts, lease_owner, lease_expires_at, stage, \
    progress, outcome, host_class";

/// Schema changes for a queue file written by an older server, applied in order when the
/// column is missing (`CREATE TABLE IF NOT EXISTS` does not add columns to an existing table).
const MIGRATIONS: &[(&str, &str)] =
    &[("host_class", "ALTER TABLE jobs ADD COLUMN host_class TEXT")];

/// Adds the columns an older queue file lacks.
fn migrate(conn: &Connection) -> rusqlite::Result<()> {
    let columns: Vec<String> = conn
        .prepare("SELECT name FROM pragma_table_info('jobs')")?
        .query_map([], |r| r.get(0))?
        .collect::<rusqlite::Result<_>>()?;
    for (column, sql) in MIGRATIONS {
        if !columns.iter().any(|c| c == column) {
            conn.execute_batch(sql)?;
        }
    }
    Ok(())
}

pub struct SqliteQueue {
    conn: Mutex<Connection>,
    path: PathBuf,
}

impl SqliteQueue {
    /// Opens (creating if needed) the queue file.
    pub fn open(path: &Path) -> Result<SqliteQueue, QueueError> {
        let err = |source| QueueError::Store {
            path: path.display().to_string(),
            source,
        };
        let conn = Connection::open(path).map_err(err)?;
        // Another process (a second server on the same data dir, the dashboard of an agent) may
        // hold the write lock for a moment: wait rather than fail.
        conn.busy_timeout(Duration::from_secs(10)).map_err(err)?;
        let mode: String = conn
            .query_row("PRAGMA journal_mode=WAL", [], |r| r.get(0))
            .map_err(err)?;
        if !mode.eq_ignore_ascii_case("wal") {
            return Err(QueueError::Corrupt {
                path: path.display().to_string(),
                message: format!("cannot switch the journal to WAL (got {mode})"),
            });
        }
        conn.execute_batch("PRAGMA synchronous=FULL; PRAGMA foreign_keys=ON;")
            .map_err(err)?;
        conn.execute_batch(SCHEMA).map_err(err)?;
        migrate(&conn).map_err(err)?;
        Ok(SqliteQueue {
            conn: Mutex::new(conn),
            path: path.to_owned(),
        })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    fn with<T>(
        &self,
        f: impl FnOnce(&mut Connection) -> rusqlite::Result<T>,
    ) -> Result<T, QueueError> {
        // A panic while holding the lock leaves the connection usable (SQLite rolls back the
        // open transaction when it is dropped), so a poisoned mutex is not a reason to stop.
        let mut conn = self.conn.lock().unwrap_or_else(|p| p.into_inner());
        f(&mut conn).map_err(|source| QueueError::Store {
            path: self.path.display().to_string(),
            source,
        })
    }
}

fn kind_str(k: JobKind) -> &'static str {
    match k {
        JobKind::Measure => "measure",
    }
}

fn text_err(col: usize, what: &str, got: &str) -> rusqlite::Error {
    rusqlite::Error::FromSqlConversionFailure(
        col,
        rusqlite::types::Type::Text,
        format!("bad {what} {got:?}").into(),
    )
}

fn parse_id(col: usize, s: &str) -> rusqlite::Result<JobId> {
    s.parse().map_err(|_| text_err(col, "job id", s))
}

fn row_to_job(r: &Row<'_>) -> rusqlite::Result<JobRecord> {
    let id: String = r.get(0)?;
    let kind: String = r.get(1)?;
    let state: String = r.get(2)?;
    let batch: Option<String> = r.get(4)?;
    let stage: Option<String> = r.get(14)?;
    let progress: Option<f64> = r.get(15)?;
    Ok(JobRecord {
        id: parse_id(0, &id)?,
        kind: match kind.as_str() {
            "measure" => JobKind::Measure,
            other => return Err(text_err(1, "job kind", other)),
        },
        state: JobState::parse(&state).ok_or_else(|| text_err(2, "job state", &state))?,
        spec: r.get(3)?,
        batch: batch.map(|b| parse_id(4, &b)).transpose()?,
        problem_name: r.get(5)?,
        candidate_id: r.get(6)?,
        key_id: r.get(7)?,
        submitted_at: UnixTime(r.get(8)?),
        started_at: r.get::<_, Option<f64>>(9)?.map(UnixTime),
        finished_at: r.get::<_, Option<f64>>(10)?.map(UnixTime),
        attempts: r.get(11)?,
        lease_owner: r.get(12)?,
        lease_expires_at: r.get::<_, Option<f64>>(13)?.map(UnixTime),
        progress: stage.map(|stage| Progress {
            stage,
            progress: progress.unwrap_or(0.0),
        }),
        outcome: r.get(16)?,
        host_class: r.get(17)?,
    })
}

fn active(tx: &Connection) -> rusqlite::Result<u64> {
    tx.query_row(
        "SELECT COUNT(*) FROM jobs WHERE state IN ('queued', 'running')",
        [],
        |r| r.get::<_, i64>(0),
    )
    .map(|n| n.unsigned_abs())
}

impl Queue for SqliteQueue {
    fn submit(&self, jobs: &[NewJob], max_active: u64) -> Result<(), QueueError> {
        let now = UnixTime::now();
        let full = self.with(|conn| {
            let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
            let active = active(&tx)?;
            if active + jobs.len() as u64 > max_active {
                return Ok(Some(active));
            }
            {
                let mut ins = tx.prepare_cached(
                    "INSERT INTO jobs (id, kind, state, spec, batch, problem_name, candidate_id, \
                     key_id, host_class, submitted_at, updated_at) \
                     VALUES (?1, ?2, 'queued', ?3, ?4, ?5, ?6, ?7, ?9, ?8, ?8)",
                )?;
                for j in jobs {
                    ins.execute(params![
                        j.id.to_string(),
                        kind_str(j.kind),
                        j.spec,
                        j.batch.map(|b| b.to_string()),
                        j.problem_name,
                        j.candidate_id,
                        j.key_id,
                        now.0,
                        j.host_class,
                    ])?;
                }
            }
            tx.commit()?;
            Ok(None)
        })?;
        match full {
            Some(active) => Err(QueueError::Full {
                active,
                limit: max_active,
            }),
            None => Ok(()),
        }
    }

    fn lease(
        &self,
        owner: &str,
        class: Option<&str>,
        ttl: Duration,
    ) -> Result<Option<Lease>, QueueError> {
        let now = UnixTime::now();
        self.with(|conn| {
            let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
            // `host_class = NULL` is never true: a class-less agent takes only any-class jobs.
            let id: Option<String> = tx
                .query_row(
                    "SELECT id FROM jobs WHERE state = 'queued' \
                     AND (host_class IS NULL OR host_class = ?1) ORDER BY seq LIMIT 1",
                    [class],
                    |r| r.get(0),
                )
                .optional()?;
            let Some(id) = id else {
                return Ok(None);
            };
            tx.execute(
                "UPDATE jobs SET state = 'running', attempts = attempts + 1, lease_owner = ?2, \
                 lease_expires_at = ?3, started_at = ?4, updated_at = ?4, stage = 'initializing', \
                 progress = 0.0 WHERE id = ?1",
                params![id, owner, now.plus(ttl).0, now.0],
            )?;
            let job = tx.query_row(
                &format!("SELECT {COLUMNS} FROM jobs WHERE id = ?1"),
                [&id],
                row_to_job,
            )?;
            tx.commit()?;
            Ok(Some(Lease {
                attempt: job.attempts,
                owner: owner.to_owned(),
                job,
            }))
        })
    }

    fn heartbeat(
        &self,
        lease: &Lease,
        ttl: Duration,
        progress: Option<&Progress>,
    ) -> Result<LeaseStatus, QueueError> {
        let now = UnixTime::now();
        self.with(|conn| {
            let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
            let row: Option<(String, u32, Option<String>)> = tx
                .query_row(
                    "SELECT state, attempts, lease_owner FROM jobs WHERE id = ?1",
                    [lease.job.id.to_string()],
                    |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
                )
                .optional()?;
            let status = match row {
                Some((state, attempts, owner))
                    if attempts == lease.attempt && owner.as_deref() == Some(&lease.owner) =>
                {
                    match state.as_str() {
                        "running" => LeaseStatus::Held,
                        "cancelled" => LeaseStatus::Cancelled,
                        _ => LeaseStatus::Lost,
                    }
                }
                _ => LeaseStatus::Lost,
            };
            if status == LeaseStatus::Held {
                tx.execute(
                    "UPDATE jobs SET lease_expires_at = ?2, updated_at = ?3, \
                     stage = COALESCE(?4, stage), progress = COALESCE(?5, progress) WHERE id = ?1",
                    params![
                        lease.job.id.to_string(),
                        now.plus(ttl).0,
                        now.0,
                        progress.map(|p| p.stage.as_str()),
                        progress.map(|p| p.progress),
                    ],
                )?;
            }
            tx.commit()?;
            Ok(status)
        })
    }

    fn finish(&self, lease: &Lease, finished: &Finished) -> Result<bool, QueueError> {
        let now = UnixTime::now();
        let state = finished.state.as_str();
        self.with(|conn| {
            let n = conn.execute(
                "UPDATE jobs SET state = ?4, outcome = ?5, finished_at = ?6, updated_at = ?6, \
                 lease_owner = NULL, lease_expires_at = NULL, stage = NULL, progress = NULL \
                 WHERE id = ?1 AND state = 'running' AND attempts = ?2 AND lease_owner = ?3",
                params![
                    lease.job.id.to_string(),
                    lease.attempt,
                    lease.owner,
                    state,
                    finished.outcome,
                    now.0
                ],
            )?;
            Ok(n == 1)
        })
    }

    fn cancel(&self, id: JobId) -> Result<CancelOutcome, QueueError> {
        let now = UnixTime::now();
        self.with(|conn| {
            let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
            let state: Option<String> = tx
                .query_row(
                    "SELECT state FROM jobs WHERE id = ?1",
                    [id.to_string()],
                    |r| r.get(0),
                )
                .optional()?;
            let Some(state) = state else {
                return Ok(CancelOutcome::NotFound);
            };
            let state = JobState::parse(&state).ok_or_else(|| text_err(0, "state", &state))?;
            if state.is_terminal() {
                return Ok(CancelOutcome::AlreadyFinished(state));
            }
            // The lease owner stays recorded so its next heartbeat hears `Cancelled` and kills
            // the job's workers.
            tx.execute(
                "UPDATE jobs SET state = 'cancelled', finished_at = ?2, updated_at = ?2, \
                 outcome = ?3 WHERE id = ?1",
                params![
                    id.to_string(),
                    now.0,
                    serde_json::json!({
                        "error_type": "cancelled",
                        "error_message": format!("cancelled by a client while {}", state.as_str()),
                    })
                    .to_string()
                ],
            )?;
            tx.commit()?;
            Ok(CancelOutcome::Cancelled { was: state })
        })
    }

    fn get(&self, id: JobId) -> Result<Option<JobRecord>, QueueError> {
        self.with(|conn| {
            conn.query_row(
                &format!("SELECT {COLUMNS} FROM jobs WHERE id = ?1"),
                [id.to_string()],
                row_to_job,
            )
            .optional()
        })
    }

    fn batch(&self, batch: JobId) -> Result<Option<Vec<JobRecord>>, QueueError> {
        let jobs = self.with(|conn| {
            let mut st = conn.prepare_cached(&format!(
                "SELECT {COLUMNS} FROM jobs WHERE batch = ?1 ORDER BY seq"
            ))?;
            st.query_map([batch.to_string()], row_to_job)?
                .collect::<rusqlite::Result<Vec<_>>>()
        })?;
        Ok((!jobs.is_empty()).then_some(jobs))
    }

    fn counts(&self) -> Result<Counts, QueueError> {
        self.with(|conn| {
            let mut c = Counts::default();
            let mut st = conn.prepare_cached("SELECT state, COUNT(*) FROM jobs GROUP BY state")?;
            let rows = st.query_map([], |r| {
                Ok((r.get::<_, String>(0)?, r.get::<_, i64>(1)?.unsigned_abs()))
            })?;
            for row in rows {
                let (state, n) = row?;
                match JobState::parse(&state) {
                    Some(JobState::Queued) => c.queued = n,
                    Some(JobState::Running) => c.running = n,
                    Some(JobState::Completed) => c.completed = n,
                    Some(JobState::Failed) => c.failed = n,
                    Some(JobState::Cancelled) => c.cancelled = n,
                    None => return Err(text_err(0, "state", &state)),
                }
            }
            Ok(c)
        })
    }

    fn recent(&self, state: JobState, limit: usize) -> Result<Vec<JobRecord>, QueueError> {
        let order = if state == JobState::Queued {
            "seq DESC"
        } else {
            "updated_at DESC, seq DESC"
        };
        self.with(|conn| {
            let mut st = conn.prepare_cached(&format!(
                "SELECT {COLUMNS} FROM jobs WHERE state = ?1 ORDER BY {order} LIMIT ?2"
            ))?;
            st.query_map(params![state.as_str(), limit as i64], row_to_job)?
                .collect()
        })
    }

    fn waiting_by_class(&self) -> Result<BTreeMap<String, u64>, QueueError> {
        self.with(|conn| {
            let mut st = conn.prepare_cached(
                "SELECT host_class, COUNT(*) FROM jobs \
                 WHERE state = 'queued' AND host_class IS NOT NULL GROUP BY host_class",
            )?;
            st.query_map([], |r| {
                Ok((r.get::<_, String>(0)?, r.get::<_, i64>(1)?.unsigned_abs()))
            })?
            .collect()
        })
    }

    fn active_for_key(&self, key_id: &str) -> Result<u64, QueueError> {
        self.with(|conn| {
            conn.query_row(
                "SELECT COUNT(*) FROM jobs WHERE key_id = ?1 AND state IN ('queued', 'running')",
                [key_id],
                |r| r.get::<_, i64>(0),
            )
            .map(|n| n.unsigned_abs())
        })
    }

    fn finished_since(&self, since: UnixTime) -> Result<(u64, Option<f64>), QueueError> {
        self.with(|conn| {
            conn.query_row(
                "SELECT COUNT(*), AVG(finished_at - started_at) FROM jobs \
                 WHERE state = 'completed' AND finished_at >= ?1",
                [since.0],
                |r| {
                    Ok((
                        r.get::<_, i64>(0)?.unsigned_abs(),
                        r.get::<_, Option<f64>>(1)?,
                    ))
                },
            )
        })
    }

    fn reap(&self, now: UnixTime, max_attempts: u32) -> Result<Reaped, QueueError> {
        self.with(|conn| {
            let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
            let expired: Vec<(String, u32)> = {
                let mut st = tx.prepare_cached(
                    "SELECT id, attempts FROM jobs WHERE state = 'running' AND lease_expires_at < ?1",
                )?;
                st.query_map([now.0], |r| Ok((r.get(0)?, r.get(1)?)))?
                    .collect::<rusqlite::Result<_>>()?
            };
            let mut reaped = Reaped::default();
            for (id, attempts) in expired {
                let job = parse_id(0, &id)?;
                if attempts >= max_attempts {
                    tx.execute(
                        "UPDATE jobs SET state = 'failed', outcome = ?2, finished_at = ?3, \
                         updated_at = ?3, lease_owner = NULL, lease_expires_at = NULL, \
                         stage = NULL, progress = NULL WHERE id = ?1",
                        params![id, worker_lost_outcome(attempts), now.0],
                    )?;
                    reaped.abandoned.push(job);
                } else {
                    tx.execute(
                        "UPDATE jobs SET state = 'queued', updated_at = ?2, lease_owner = NULL, \
                         lease_expires_at = NULL, stage = NULL, progress = NULL WHERE id = ?1",
                        params![id, now.0],
                    )?;
                    reaped.requeued.push(job);
                }
            }
            tx.commit()?;
            Ok(reaped)
        })
    }

    fn purge(&self, before: UnixTime) -> Result<usize, QueueError> {
        self.with(|conn| {
            conn.execute(
                "DELETE FROM jobs WHERE state IN ('completed', 'failed', 'cancelled') \
                 AND finished_at < ?1",
                [before.0],
            )
        })
    }
}
