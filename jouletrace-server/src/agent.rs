//! The measuring agent: leases jobs from the queue and runs each in a worker process.
//!
//! One loop per slot. A job's worker is `jouletrace-server worker` in its own process group,
//! killed with the agent (`PR_SET_PDEATHSIG`), so a SIGKILLed server leaves no orphan measuring
//! on the machine. While the worker runs, the loop relays its progress to the queue and to the
//! event hub (SSE) and renews the lease every third of its TTL; a heartbeat that hears
//! `Cancelled` (a client's DELETE) or `Lost` (the lease expired and was taken back) kills the
//! worker's process group. A worker that exits without an outcome is not retried here: its lease
//! expires and the queue hands the job out again (at-least-once), up to `max_attempts`.

use std::process::Stdio;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::process::{Child, Command};
use tokio::sync::{Notify, broadcast};
use tracing::Instrument;

use crate::outcome::Outcome;
use crate::queue::{Finished, JobId, Lease, LeaseStatus, Progress, Queue, UnixTime};
use crate::state::AppState;
use crate::worker::WorkerLine;

/// What the SSE stream relays.
#[derive(Clone, Debug, serde::Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum HubEvent {
    Progress { stage: String, progress: f64 },
    Engine { event: serde_json::Value },
    Finished { status: String },
}

/// Fans out job events to SSE subscribers.
pub struct EventHub {
    tx: broadcast::Sender<(JobId, HubEvent)>,
}

impl Default for EventHub {
    fn default() -> Self {
        EventHub {
            tx: broadcast::channel(1024).0,
        }
    }
}

impl EventHub {
    pub fn publish(&self, job: JobId, ev: HubEvent) {
        // No subscriber is the common case, not an error.
        let _ = self.tx.send((job, ev));
    }
    pub fn subscribe(&self) -> broadcast::Receiver<(JobId, HubEvent)> {
        self.tx.subscribe()
    }
}

/// What the dashboard shows of this process's agent.
#[derive(Default)]
pub struct AgentStatus {
    pub id: String,
    pub slots: usize,
    pub busy: AtomicU64,
    pub jobs_done: AtomicU64,
    /// Wakes idle slots when a job is submitted, instead of waiting out their poll interval.
    pub wake: Notify,
    // fleet: graceful drain (SIGTERM on `agent`): slots take no new job once this is set, and
    // the leases in hand are known so a drain that runs out of time can hand them back.
    pub draining: std::sync::atomic::AtomicBool,
    pub held: std::sync::Mutex<Vec<Lease>>,
    // fleet: wakes the running jobs' heartbeats at once (a cancellation was published), so a
    // cancelled job's workers die now rather than at the next scheduled heartbeat.
    pub poke: Notify,
}

/// The agent's id: host and pid, so two agents on one machine stay apart.
pub fn agent_id() -> String {
    // fleet: `agent --name` (JOULETRACE_AGENT_NAME) names the host when its hostname does not
    // (containers, or two agents standing in for two hosts on one machine).
    let host = std::env::var("JOULETRACE_AGENT_NAME")
        .ok()
        .filter(|n| !n.is_empty())
        .or_else(|| {
            std::fs::read_to_string("/proc/sys/kernel/hostname")
                .ok()
                .map(|h| h.trim().to_owned())
        })
        .unwrap_or_else(|| "localhost".into());
    format!("{host}:{}", std::process::id())
}

/// Starts the agent's slots (the queue's housekeeping is [`spawn_housekeeping`]).
pub fn spawn(state: Arc<AppState>) {
    let slots = state.agent.slots;
    for slot in 0..slots {
        let st = state.clone();
        tokio::spawn(async move { slot_loop(st, slot).await });
    }
}

/// Starts the queue's housekeeping. Every process that holds the queue runs it — agents and
/// API nodes alike (fleet): a fleet whose agents all died still shows their jobs back in the
/// queue one lease later, and a `reap` is atomic on both backends, so any number may run.
pub fn spawn_housekeeping(state: Arc<AppState>) {
    tokio::spawn(async move { housekeeping(state).await });
}

/// Takes back expired leases and purges old jobs, once a second.
async fn housekeeping(state: Arc<AppState>) {
    let mut last_purge = Instant::now() - Duration::from_secs(3600);
    loop {
        let q = state.queue.clone();
        let max_attempts = state.config.max_attempts;
        let purge = last_purge.elapsed() > Duration::from_secs(60);
        let retention = state.config.retention;
        let r = tokio::task::spawn_blocking(move || {
            let reaped = q.reap(UnixTime::now(), max_attempts)?;
            let purged = if purge {
                q.purge(UnixTime::now().minus(retention))?
            } else {
                0
            };
            Ok::<_, crate::queue::QueueError>((reaped, purged))
        })
        .await;
        match r {
            Ok(Ok((reaped, purged))) => {
                for id in &reaped.requeued {
                    tracing::warn!(task_id = %id, "lease expired: job re-queued");
                }
                for id in &reaped.abandoned {
                    tracing::error!(task_id = %id, "lease expired too often: job failed as worker_lost");
                    state.metrics.outcome("worker_lost");
                    state.hub.publish(
                        *id,
                        HubEvent::Finished {
                            status: "failed".into(),
                        },
                    );
                }
                let n = (reaped.requeued.len() + reaped.abandoned.len()) as u64;
                state.metrics.lease_expiries.inc_by(n);
                if n > 0 {
                    state.agent.wake.notify_waiters();
                }
                if purge {
                    last_purge = Instant::now();
                    if purged > 0 {
                        tracing::info!(purged, "finished jobs past retention deleted");
                    }
                }
            }
            Ok(Err(e)) => tracing::error!(error = %e, "queue housekeeping failed"),
            Err(e) => tracing::error!(error = %e, "queue housekeeping panicked"),
        }
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
}

async fn slot_loop(state: Arc<AppState>, slot: usize) {
    let owner = format!("{}#{slot}", state.agent.id);
    loop {
        // fleet: a draining agent takes no more jobs.
        if state.agent.draining.load(Ordering::SeqCst) {
            return;
        }
        let q = state.queue.clone();
        let ttl = state.config.lease_ttl;
        let o = owner.clone();
        // fleet: this host's class: the agent takes jobs that asked for it or for any class.
        let class = state.fleet.identity().1.id.clone();
        match tokio::task::spawn_blocking(move || q.lease(&o, Some(&class), ttl)).await {
            Ok(Ok(Some(lease))) => {
                let id = lease.job.id;
                state.agent.busy.fetch_add(1, Ordering::SeqCst);
                let span = tracing::info_span!("job", task_id = %id, attempt = lease.attempt);
                // fleet: the lease in hand, for a drain that has to hand it back.
                held(&state).push(lease.clone());
                run_job(&state, lease).instrument(span).await;
                held(&state).retain(|l| l.job.id != id);
                state.agent.busy.fetch_sub(1, Ordering::SeqCst);
                state.agent.jobs_done.fetch_add(1, Ordering::SeqCst);
            }
            Ok(Ok(None)) => {
                let _ =
                    tokio::time::timeout(Duration::from_millis(500), state.agent.wake.notified())
                        .await;
            }
            Ok(Err(e)) => {
                tracing::error!(error = %e, "lease failed");
                tokio::time::sleep(Duration::from_secs(1)).await;
            }
            Err(e) => {
                tracing::error!(error = %e, "lease panicked");
                tokio::time::sleep(Duration::from_secs(1)).await;
            }
        }
    }
}

// fleet: the leases this process's slots hold.
pub fn held(state: &AppState) -> std::sync::MutexGuard<'_, Vec<Lease>> {
    state.agent.held.lock().unwrap_or_else(|p| p.into_inner())
}

/// Starts a worker process for `spec`.
pub fn start_worker(validate_only: bool, task_id: Option<JobId>) -> std::io::Result<Child> {
    let exe = std::env::current_exe()?;
    let mut cmd = Command::new(exe);
    cmd.arg("worker");
    if let Some(id) = task_id {
        // The worker's log lines carry the task id too.
        cmd.env(TASK_ID_ENV, id.to_string());
    }
    if validate_only {
        cmd.arg("--validate-only");
    }
    cmd.stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .process_group(0)
        .kill_on_drop(true);
    // SAFETY: prctl is async-signal-safe; nothing else runs between fork and exec.
    unsafe {
        cmd.pre_exec(|| {
            // Die with the agent: a SIGKILLed server must not leave a job measuring unowned.
            if libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL) != 0 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
    cmd.spawn()
}

/// The environment variable that tells a job worker its task id (for its log lines).
pub const TASK_ID_ENV: &str = "JOULETRACE_TASK_ID";

/// Stops a worker: SIGTERM first, so the engine cancels its run and kills its own sandboxed
/// workers (each in a process group of its own, out of reach of ours), then SIGKILL to the
/// worker's group after a grace period.
pub async fn stop_worker(pid: Option<u32>) {
    let Some(pid) = pid else { return };
    let pgid = nix::unistd::Pid::from_raw(pid as i32);
    let _ = nix::sys::signal::killpg(pgid, nix::sys::signal::Signal::SIGTERM);
    tokio::time::sleep(STOP_GRACE).await;
    let _ = nix::sys::signal::killpg(pgid, nix::sys::signal::Signal::SIGKILL);
}

/// How long a worker has to cancel its engine run before it is killed.
const STOP_GRACE: Duration = Duration::from_secs(3);

/// Feeds `spec` to a new worker and collects its lines until it exits; `on_line` sees each.
pub async fn drive_worker(
    child: &mut Child,
    spec: &str,
    mut on_line: impl FnMut(&WorkerLine),
) -> std::io::Result<Option<Outcome>> {
    if let Some(mut stdin) = child.stdin.take() {
        stdin.write_all(spec.as_bytes()).await?;
        stdin.shutdown().await?;
    }
    let stdout = child.stdout.take().expect("stdout is piped");
    let mut lines = BufReader::new(stdout).lines();
    let mut outcome = None;
    while let Some(line) = lines.next_line().await? {
        match serde_json::from_str::<WorkerLine>(&line) {
            Ok(WorkerLine::Outcome { outcome: o }) => outcome = Some(*o),
            Ok(other) => on_line(&other),
            Err(e) => tracing::warn!(error = %e, line, "unreadable worker line"),
        }
    }
    child.wait().await?;
    Ok(outcome)
}

async fn run_job(state: &Arc<AppState>, lease: Lease) {
    let started = Instant::now();
    let id = lease.job.id;
    tracing::info!("job started");
    let mut child = match start_worker(false, Some(id)) {
        Ok(c) => c,
        Err(e) => {
            tracing::error!(error = %e, "cannot start a worker; the lease will expire and the job run again");
            return;
        }
    };
    let latest: Arc<std::sync::Mutex<Option<Progress>>> = Arc::default();
    let stop = Arc::new(Notify::new());
    // The heartbeat: renews the lease and learns of cancellation.
    let hb = {
        let state = state.clone();
        let lease = lease.clone();
        let latest = latest.clone();
        let stop = stop.clone();
        let pgid = child.id();
        tokio::spawn(
            async move {
                let every = state.config.lease_ttl / 3;
                loop {
                    tokio::select! {
                        _ = tokio::time::sleep(every) => {}
                        _ = stop.notified() => return LeaseStatus::Held,
                        _ = state.agent.poke.notified() => {}
                    }
                    let q = state.queue.clone();
                    let l = lease.clone();
                    let p = latest.lock().unwrap_or_else(|p| p.into_inner()).clone();
                    let ttl = state.config.lease_ttl;
                    let status = tokio::task::spawn_blocking(move || q.heartbeat(&l, ttl, p.as_ref()))
                        .await;
                    match status {
                        Ok(Ok(LeaseStatus::Held)) => {}
                        Ok(Ok(s)) => {
                            tracing::warn!(status = ?s, "lease ended under the job: stopping its worker");
                            stop_worker(pgid).await;
                            return s;
                        }
                        Ok(Err(e)) => tracing::error!(error = %e, "heartbeat failed"),
                        Err(e) => tracing::error!(error = %e, "heartbeat panicked"),
                    }
                }
            }
            .in_current_span(),
        )
    };
    let hub_state = state.clone();
    let latest_w = latest.clone();
    let result = drive_worker(&mut child, &lease.job.spec, |line| match line {
        WorkerLine::Progress { stage, progress } => {
            *latest_w.lock().unwrap_or_else(|p| p.into_inner()) = Some(Progress {
                stage: stage.clone(),
                progress: *progress,
            });
            hub_state.hub.publish(
                id,
                HubEvent::Progress {
                    stage: stage.clone(),
                    progress: *progress,
                },
            );
        }
        WorkerLine::Event { event } => {
            hub_state.hub.publish(
                id,
                HubEvent::Engine {
                    event: event.clone(),
                },
            );
        }
        WorkerLine::Outcome { .. } => {}
    })
    .await;
    stop.notify_one();
    let hb_status = hb.await.unwrap_or(LeaseStatus::Held);
    if hb_status == LeaseStatus::Cancelled {
        tracing::info!("job cancelled; its worker was killed");
        state.metrics.outcome("cancelled");
        state.hub.publish(
            id,
            HubEvent::Finished {
                status: "cancelled".into(),
            },
        );
        return;
    }
    let mut outcome = match result {
        Ok(Some(o)) => o,
        Ok(None) | Err(_) => {
            state.metrics.worker_restarts.inc();
            tracing::error!(
                error = ?result.err(),
                "worker ended without an outcome; the job's lease will expire and it runs again"
            );
            return;
        }
    };
    // fleet: every result names its agent, host and host class.
    crate::fleet::stamp(&mut outcome.body, state);
    let kind = outcome.kind();
    let finished = Finished {
        state: outcome.state,
        outcome: serde_json::to_string(&outcome).unwrap_or_default(),
    };
    let q = state.queue.clone();
    let l = lease.clone();
    match tokio::task::spawn_blocking(move || q.finish(&l, &finished)).await {
        Ok(Ok(true)) => {
            let run_s = started.elapsed().as_secs_f64();
            state.metrics.job_run_time.observe(run_s);
            state
                .metrics
                .job_latency
                .observe(UnixTime::now().seconds_since(lease.job.submitted_at));
            state.metrics.outcome(&kind);
            state.metrics.windows.inc_by(outcome.windows);
            if let Some((p, j)) = outcome.window_energy_j {
                state
                    .metrics
                    .energy_joules
                    .get_or_create(&crate::metrics::ProvenanceLabel {
                        provenance: match p {
                            jouletrace::energy::Provenance::Measured => "measured".into(),
                            jouletrace::energy::Provenance::Estimated => "estimated".into(),
                        },
                    })
                    .inc_by(j);
            }
            tracing::info!(outcome = %kind, seconds = run_s, "job finished");
            state.hub.publish(
                id,
                HubEvent::Finished {
                    status: outcome.state.as_str().into(),
                },
            );
        }
        Ok(Ok(false)) => {
            tracing::warn!(
                "result dropped: the lease no longer holds the job (another attempt owns it, or it was cancelled)"
            )
        }
        Ok(Err(e)) => {
            tracing::error!(error = %e, "cannot store the result; the job will run again")
        }
        Err(e) => tracing::error!(error = %e, "storing the result panicked"),
    }
}

/// Keeps a `Queue` handle type-erased for the state.
pub type DynQueue = Arc<dyn Queue>;
