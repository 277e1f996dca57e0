//! `jouletrace-server agent`: one measuring agent per host, for a fleet sharing a Redis queue.
//!
//! The agent is the server's own agent loop (`crate::agent`: slots that lease jobs, worker
//! processes, heartbeats, cancellation) without the HTTP side, plus what a fleet needs: it
//! registers the host's identity and class with a heartbeat, can be confined to a CPU set (two
//! agents on one machine, or an agent that leaves the OS its own core), and drains on SIGTERM:
//! it takes no more jobs, finishes the ones in hand, and if that takes longer than
//! `--drain-timeout` (or a second signal arrives) hands them back to the queue at once instead
//! of leaving them to wait out their lease.

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use anyhow::Context;

use super::{RedisRegistry, Registry};
use crate::config::{QueueBackend, ServerConfig};
use crate::queue::{Queue, RedisQueue, SqliteQueue, UnixTime};
use crate::state::AppState;

#[derive(Debug, clap::Args)]
pub struct AgentArgs {
    /// The fleet's shared queue: `redis://[:password@]host:6379/0`.
    #[arg(long = "queue", env = "JOULETRACE_QUEUE", hide_env_values = true)]
    pub queue: String,
    /// Prefix of every Redis key; the API nodes must use the same.
    #[arg(long, env = "JOULETRACE_QUEUE_NAMESPACE", default_value = "jouletrace")]
    pub queue_namespace: String,
    /// This host's name in the fleet [default: the hostname].
    #[arg(long, env = "JOULETRACE_AGENT_NAME")]
    pub name: Option<String>,
    /// Jobs this agent runs at once. Measured windows never overlap regardless (the engine's
    /// lanes and the machine-wide lock).
    #[arg(long, env = "JOULETRACE_AGENT_SLOTS", default_value_t = 1)]
    pub slots: usize,
    /// The CPUs this agent and its workers may use, e.g. `2-7` or `0,2,4` [default: all].
    #[arg(long, env = "JOULETRACE_AGENT_CPUS", value_parser = parse_cpu_list)]
    pub cpus: Option<CpuList>,
    /// How long a lease lasts without a heartbeat (renewed every third of it).
    #[arg(long, env = "JOULETRACE_LEASE_TTL", default_value = "30s", value_parser = humantime::parse_duration)]
    pub lease_ttl: Duration,
    /// Leases that may expire on one job before it fails as `worker_lost`.
    #[arg(long, env = "JOULETRACE_MAX_ATTEMPTS", default_value_t = 3)]
    pub max_attempts: u32,
    /// How long finished jobs are kept (the TTL of a result in Redis).
    #[arg(long, env = "JOULETRACE_RETENTION", default_value = "24h", value_parser = humantime::parse_duration)]
    pub retention: Duration,
    /// On SIGTERM, how long to let the jobs in hand finish before handing them back.
    #[arg(long, env = "JOULETRACE_DRAIN_TIMEOUT", default_value = "10m", value_parser = humantime::parse_duration)]
    pub drain_timeout: Duration,
}

/// A CPU set as given on the command line.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CpuList(pub Vec<usize>);

/// `0-3,6` → [0, 1, 2, 3, 6].
pub fn parse_cpu_list(s: &str) -> Result<CpuList, String> {
    let mut cpus = Vec::new();
    for part in s.split(',').map(str::trim).filter(|p| !p.is_empty()) {
        let num = |t: &str| {
            t.trim()
                .parse::<usize>()
                .map_err(|_| format!("`{t}` in `{s}` is not a CPU number"))
        };
        match part.split_once('-') {
            Some((a, b)) => {
                let (a, b) = (num(a)?, num(b)?);
                if a > b {
                    return Err(format!("`{part}` in `{s}` is an empty range"));
                }
                cpus.extend(a..=b);
            }
            None => cpus.push(num(part)?),
        }
    }
    if cpus.is_empty() {
        return Err("no CPU given".into());
    }
    cpus.sort_unstable();
    cpus.dedup();
    Ok(CpuList(cpus))
}

/// Opens the configured queue; for Redis also returns it typed, for the registry.
pub async fn open_queue(
    config: &ServerConfig,
) -> anyhow::Result<(Arc<dyn Queue>, Option<Arc<RedisQueue>>)> {
    match &config.queue {
        QueueBackend::Embedded => {
            std::fs::create_dir_all(&config.data_dir).with_context(|| {
                format!("creating the data directory {}", config.data_dir.display())
            })?;
            let db = config.data_dir.join("queue.sqlite3");
            Ok((Arc::new(SqliteQueue::open(&db)?), None))
        }
        QueueBackend::Redis { url, namespace } => {
            let (url, ns, ttl) = (url.clone(), namespace.clone(), config.retention);
            let q = tokio::task::spawn_blocking(move || RedisQueue::connect_with(&url, &ns, ttl))
                .await??;
            let q = Arc::new(q);
            tracing::info!(
                server = q.server(),
                namespace = q.namespace(),
                "redis queue"
            );
            Ok((q.clone(), Some(q)))
        }
    }
}

/// Runs the agent until SIGTERM/SIGINT and its drain are over.
pub fn main(args: AgentArgs) -> anyhow::Result<()> {
    let backend = QueueBackend::parse(Some(&args.queue), &args.queue_namespace)?;
    anyhow::ensure!(
        matches!(backend, QueueBackend::Redis { .. }),
        "`agent` needs a queue shared with the API nodes (--queue redis://host:6379/0); the \
         embedded queue's agent runs inside `serve`"
    );
    anyhow::ensure!(args.slots >= 1, "--slots must be at least 1");
    if let Some(cpus) = &args.cpus {
        // Before any thread exists: every thread and worker process inherits the mask.
        let mut set = nix::sched::CpuSet::new();
        for &c in &cpus.0 {
            set.set(c)
                .with_context(|| format!("--cpus: CPU {c} is beyond this system's CPU set"))?;
        }
        nix::sched::sched_setaffinity(nix::unistd::Pid::from_raw(0), &set)
            .with_context(|| format!("--cpus {:?}: cannot run on these CPUs", cpus.0))?;
    }
    if let Some(name) = &args.name {
        // SAFETY: no other thread exists yet (the runtime starts below), so nothing reads the
        // environment concurrently.
        unsafe { std::env::set_var("JOULETRACE_AGENT_NAME", name) };
    }
    let config = ServerConfig {
        // The agent serves no HTTP; these fields are the server's and unused here.
        listen: ([127, 0, 0, 1], 0).into(),
        data_dir: std::env::temp_dir(),
        max_queue: u64::MAX,
        max_body_bytes: 0,
        max_test_cases: 0,
        max_batch_jobs: 0,
        request_timeout: Duration::from_secs(120),
        cors_origins: Vec::new(),
        keys: Default::default(),
        retention: args.retention,
        lease_ttl: args.lease_ttl,
        max_attempts: args.max_attempts,
        agent: true,
        agent_slots: args.slots,
        queue: backend,
    };
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    rt.block_on(run(config, args.drain_timeout))
}

async fn run(config: ServerConfig, drain_timeout: Duration) -> anyhow::Result<()> {
    let (queue, redis) = open_queue(&config).await?;
    let redis = redis.expect("agent queues are Redis");
    tokio::task::spawn_blocking(crate::host::probe).await?;
    let state = AppState::new(config, queue);
    // The identity probes the sandbox (throw-away child processes): off the async threads.
    let st = state.clone();
    tokio::task::spawn_blocking(move || {
        st.fleet.identity();
    })
    .await?;
    super::listen_for_cancels(&state, &redis);
    let registry: Arc<dyn Registry> = Arc::new(RedisRegistry::new(redis));
    let _ = state.fleet.registry.set(registry.clone());
    let (_, class) = state.fleet.identity();
    crate::agent::spawn(state.clone());
    crate::agent::spawn_housekeeping(state.clone());
    tokio::spawn(super::heartbeat_loop(state.clone()));
    tracing::info!(agent = %state.agent.id, class = %class.id, label = %class.label, slots = state.agent.slots, "agent registered");
    // Scripts and tests wait for this line.
    println!(
        "agent {} registered, host class {} ({})",
        state.agent.id, class.id, class.label
    );

    signal().await;
    state.agent.draining.store(true, Ordering::SeqCst);
    beat_now(&state, &registry).await;
    let in_hand = state.agent.busy.load(Ordering::SeqCst);
    tracing::info!(in_hand, "draining: no new jobs; finishing the jobs in hand");
    tokio::select! {
        _ = idle(&state) => tracing::info!("drained: no job in hand"),
        _ = tokio::time::sleep(drain_timeout) => hand_back(&state, "the drain timed out").await,
        _ = signal() => hand_back(&state, "a second signal").await,
    }
    let id = state.agent.id.clone();
    let _ = tokio::task::spawn_blocking(move || registry.leave(&id)).await;
    tracing::info!("agent left the fleet");
    Ok(())
}

/// Resolves once the slots hold no job. A slot whose lease call was in flight when the drain
/// began may still get one: two quiet checks a lease round trip apart catch that case.
async fn idle(state: &Arc<AppState>) {
    let mut quiet = 0;
    while quiet < 2 {
        tokio::time::sleep(Duration::from_millis(200)).await;
        if state.agent.busy.load(Ordering::SeqCst) == 0 {
            quiet += 1;
        } else {
            quiet = 0;
        }
    }
}

/// Gives the jobs in hand back to the queue now: their leases are shortened to a millisecond
/// and reaped, so another agent starts them without waiting out the lease. (It counts as an
/// attempt, like any lease that ends without a result.) The workers die with this process.
async fn hand_back(state: &Arc<AppState>, why: &str) {
    let leases = crate::agent::held(state).clone();
    tracing::warn!(
        jobs = leases.len(),
        why,
        "handing the jobs in hand back to the queue"
    );
    let q = state.queue.clone();
    let max_attempts = state.config.max_attempts;
    let _ = tokio::task::spawn_blocking(move || {
        for l in &leases {
            if let Err(e) = q.heartbeat(l, Duration::from_millis(1), None) {
                tracing::error!(task_id = %l.job.id, error = %e, "cannot hand the job back; its lease will expire");
            }
        }
        std::thread::sleep(Duration::from_millis(5));
        q.reap(UnixTime::now(), max_attempts)
    })
    .await;
}

async fn beat_now(state: &Arc<AppState>, registry: &Arc<dyn Registry>) {
    let rec = super::this_agent(state);
    let r = registry.clone();
    let _ = tokio::task::spawn_blocking(move || r.beat(&rec, super::BEAT_TTL)).await;
}

async fn signal() {
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    tokio::select! { _ = tokio::signal::ctrl_c() => {}, _ = term => {} }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cpu_lists_parse_like_taskset() {
        assert_eq!(parse_cpu_list("0-3,6").unwrap().0, vec![0, 1, 2, 3, 6]);
        assert_eq!(parse_cpu_list("1").unwrap().0, vec![1]);
        assert!(parse_cpu_list("3-1").unwrap_err().contains("empty range"));
        assert!(parse_cpu_list("x").unwrap_err().contains("not a CPU"));
        assert!(parse_cpu_list("").is_err());
    }
}
