//! Many measuring hosts (the fleet): who the agents are and how numbers stay comparable.
//!
//! A fleet is any number of stateless API nodes (`serve --no-agent`) and one measuring agent
//! per host (`agent`), sharing a [`RedisQueue`](crate::queue::RedisQueue). This module adds what
//! a single process did not need:
//!
//! - [`identity`]: the host's identity (CPU model, microcode, kernel, meter and domains,
//!   governor, turbo, sandbox level) and its *host class*, the part of it that decides whether
//!   two results may be compared; every result is stamped with both;
//! - [`registry`]: agents register with their identity and keep a heartbeat; one that stops
//!   disappears from `/api/v1/health` and the dashboard, and its jobs' leases expire and run
//!   again elsewhere;
//! - [`command`]: the `jouletrace-server agent` process, with graceful drain on SIGTERM.
//!
//! The design note is `docs/service-fleet.md`.

pub mod command;
pub mod identity;
pub mod registry;

pub use identity::{HostClass, HostIdentity};
pub use registry::{AgentRecord, RedisRegistry, Registry};

use std::sync::{Arc, OnceLock};
use std::time::Duration;

use serde_json::{Map, Value, json};

use crate::queue::UnixTime;
use crate::state::AppState;

/// What the fleet adds to the server's shared state.
#[derive(Default)]
pub struct FleetState {
    /// Set when the queue is shared (Redis): where agents register and are listed.
    pub registry: OnceLock<Arc<dyn Registry>>,
    identity: OnceLock<(HostIdentity, HostClass)>,
    started: OnceLock<UnixTime>,
}

impl FleetState {
    /// This host's identity and class (probed once; the host probe must have run).
    pub fn identity(&self) -> &(HostIdentity, HostClass) {
        self.identity.get_or_init(|| {
            let id = HostIdentity::of(crate::host::get(), identity::allowed_cpus());
            let class = id.class();
            (id, class)
        })
    }
}

/// Writes into a result's body which agent, host and host class produced it, so results from
/// different classes are never compared silently (batch rankings group by `host_class.id`).
pub fn stamp(body: &mut Map<String, Value>, state: &AppState) {
    let (ident, class) = state.fleet.identity();
    body.insert("host_class".into(), json!(class));
    body.insert("agent_id".into(), json!(state.agent.id));
    body.insert("host_identity".into(), json!(ident));
    // The engine's own `host` block (its environment) stays when there is one.
    body.entry("host").or_insert_with(|| json!(ident));
}

/// This process's agent as the registry records it.
pub fn this_agent(state: &AppState) -> AgentRecord {
    use std::sync::atomic::Ordering;
    let (ident, class) = state.fleet.identity();
    let busy = state.agent.busy.load(Ordering::SeqCst);
    let now = UnixTime::now();
    AgentRecord {
        id: state.agent.id.clone(),
        host: ident.clone(),
        host_class: class.clone(),
        slots: state.agent.slots,
        busy,
        jobs_done: state.agent.jobs_done.load(Ordering::SeqCst),
        state: if state.agent.draining.load(Ordering::SeqCst) {
            "draining"
        } else if busy > 0 {
            "busy"
        } else {
            "idle"
        }
        .to_owned(),
        started_at: *state.fleet.started.get_or_init(|| now),
        last_seen: now,
        version: env!("CARGO_PKG_VERSION").to_owned(),
    }
}

/// How often an agent renews its registration, and how long a registration lives without one
/// (three missed beats: one slow Redis round trip does not make an agent vanish).
pub const BEAT_EVERY: Duration = Duration::from_secs(2);
pub const BEAT_TTL: Duration = Duration::from_secs(6);

/// Registers this process's agent and renews it until the process ends.
pub async fn heartbeat_loop(state: Arc<AppState>) {
    let Some(registry) = state.fleet.registry.get().cloned() else {
        return;
    };
    loop {
        let rec = this_agent(&state);
        let r = registry.clone();
        match tokio::task::spawn_blocking(move || r.beat(&rec, BEAT_TTL)).await {
            Ok(Ok(())) => {}
            Ok(Err(e)) => tracing::error!(error = %e, "agent heartbeat failed"),
            Err(e) => tracing::error!(error = %e, "agent heartbeat panicked"),
        }
        tokio::time::sleep(BEAT_EVERY).await;
    }
}

/// Makes a client's cancel reach the agent running the job at once: a cancelled job this
/// process holds gets its heartbeat now, which hears `Cancelled` and kills the job's workers.
/// Also wakes this process's idle slots when any API node queues a job.
pub fn listen_for_cancels(state: &Arc<AppState>, redis: &crate::queue::RedisQueue) {
    // Idle slots wake when jobs are submitted on any API node, not at their next poll: without
    // it, an idle fleet added up to a poll interval (500 ms) to every job's wait.
    let weak = Arc::downgrade(state);
    redis.on_submit(move || {
        if let Some(state) = weak.upgrade() {
            state.agent.wake.notify_waiters();
        }
    });
    let weak = Arc::downgrade(state);
    redis.on_cancel(move |id| {
        if let Some(state) = weak.upgrade()
            && crate::agent::held(&state).iter().any(|l| l.job.id == id)
        {
            tracing::info!(task_id = %id, "cancelled by a client: stopping it now");
            state.agent.poke.notify_waiters();
        }
    });
}

/// The agents `/api/v1/health` and the dashboard list: the fleet's registered agents when the
/// queue is shared, else this process's own agent (if it runs one).
pub async fn agents_json(state: &Arc<AppState>) -> Result<Vec<Value>, crate::queue::QueueError> {
    let Some(registry) = state.fleet.registry.get().cloned() else {
        return Ok(if state.agent.slots > 0 {
            vec![crate::dashboard::agent_json(state)]
        } else {
            vec![]
        });
    };
    let agents = tokio::task::spawn_blocking(move || registry.list())
        .await
        .unwrap_or_else(|e| panic!("listing agents panicked: {e}"))?;
    let now = UnixTime::now();
    Ok(agents
        .into_iter()
        .map(|a| {
            json!({
                "id": a.id,
                "state": a.state,
                "slots": a.slots,
                "busy": a.busy,
                "jobs_done": a.jobs_done,
                "cpu_model": a.host.cpu_model,
                "cores": format!("{} physical, {} logical", a.host.physical_cores, a.host.logical_cpus),
                "meter": a.host.meter,
                "estimated": a.host.provenance.as_deref() == Some("estimated"),
                "host_class": a.host_class,
                "host": a.host,
                "last_seen_seconds_ago": now.seconds_since(a.last_seen),
                "version": a.version,
            })
        })
        .collect())
}

/// How many live agents have each host class: the fleet's registered agents when the queue is
/// shared, else this process's own agent (if it runs one).
pub async fn live_classes(
    state: &Arc<AppState>,
) -> Result<std::collections::BTreeMap<String, u64>, crate::queue::QueueError> {
    let mut live = std::collections::BTreeMap::new();
    match state.fleet.registry.get().cloned() {
        Some(registry) => {
            let agents = tokio::task::spawn_blocking(move || registry.list())
                .await
                .unwrap_or_else(|e| panic!("listing agents panicked: {e}"))?;
            for a in agents {
                *live.entry(a.host_class.id).or_default() += 1;
            }
        }
        None if state.agent.slots > 0 => {
            live.insert(state.fleet.identity().1.id.clone(), 1);
        }
        None => {}
    }
    Ok(live)
}

/// The sentence shown wherever a job waits for a host class no live agent has.
pub fn unserved_message(class: &str, queued: u64) -> String {
    let (jobs, they, them) = if queued == 1 {
        ("job waits", "it runs", "it")
    } else {
        ("jobs wait", "they run", "them")
    };
    format!(
        "{queued} queued {jobs} for host class {class}, and no live agent has that class: {they} \
         when an agent of that class joins (see the agents' host_class in /api/v1/health), or \
         cancel {them}"
    )
}

/// Per host class that queued jobs asked for: how many wait and how many live agents can take
/// them. A class with jobs and no agent is never silent: `/api/v1/health`, the dashboard and
/// the jobs' own status say so.
pub async fn class_waits(state: &Arc<AppState>) -> Result<Vec<Value>, crate::queue::QueueError> {
    let q = state.queue.clone();
    let waiting = tokio::task::spawn_blocking(move || q.waiting_by_class())
        .await
        .unwrap_or_else(|e| panic!("counting waiting jobs panicked: {e}"))?;
    if waiting.is_empty() {
        return Ok(Vec::new());
    }
    let live = live_classes(state).await?;
    Ok(waiting
        .into_iter()
        .map(|(class, queued)| {
            let agents = live.get(&class).copied().unwrap_or(0);
            let mut v = json!({"host_class": class, "queued": queued, "live_agents": agents});
            if agents == 0 {
                v["warning"] = json!(unserved_message(&class, queued));
            }
            v
        })
        .collect())
}
