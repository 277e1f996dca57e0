//! The JouleTrace measurement service, as a library the `jouletrace-server` binary runs.
//!
//! The crate is transport over the `jouletrace` library: the HTTP [`api`] accepts the
//! predecessor's requests (the job spec is `jouletrace::job`, shared with `cargo joule
//! measure`), stores them in a durable [`queue`], and an [`agent`] leases them and runs each in
//! a [`worker`] process that calls the engine. The service guide is `docs/service.md`.

pub mod agent;
pub mod api;
pub mod auth;
pub mod config;
pub mod dashboard;
pub mod fleet;
pub mod host;
pub mod metrics;
pub mod outcome;
pub mod queue;
pub mod runner;
pub mod spec;
pub mod state;
pub mod worker;

use std::sync::Arc;

use anyhow::Context;

use crate::config::ServerConfig;
use crate::state::AppState;

/// Opens the queue in the data directory, starts the agent (unless disabled) and serves until
/// SIGINT/SIGTERM.
pub async fn serve(config: ServerConfig) -> anyhow::Result<()> {
    // fleet: the embedded queue in the data directory, or a shared Redis (`--queue`).
    let (queue, redis) = fleet::command::open_queue(&config).await?;
    let db = match &config.queue {
        config::QueueBackend::Embedded => {
            config.data_dir.join("queue.sqlite3").display().to_string()
        }
        config::QueueBackend::Redis { .. } => redis.as_ref().map_or_else(String::new, |r| {
            format!("redis://{} ({})", r.server(), r.namespace())
        }),
    };
    tokio::task::spawn_blocking(host::probe).await?;
    let listener = tokio::net::TcpListener::bind(config.listen)
        .await
        .with_context(|| format!("listening on {}", config.listen))?;
    let addr = listener.local_addr()?;
    let state = AppState::new(config, queue);
    if let Some(r) = redis {
        if state.config.agent {
            fleet::listen_for_cancels(&state, &r);
        }
        let _ = state
            .fleet
            .registry
            .set(Arc::new(fleet::RedisRegistry::new(r)));
    }
    if state.config.agent {
        // fleet: the host identity (it probes the sandbox) before the first result needs it.
        let st = state.clone();
        tokio::task::spawn_blocking(move || {
            st.fleet.identity();
        })
        .await?;
        agent::spawn(state.clone());
        // fleet: with a shared queue, this process's agent registers like any other.
        tokio::spawn(fleet::heartbeat_loop(state.clone()));
    }
    // fleet: API nodes reap expired leases too, not only agents.
    agent::spawn_housekeeping(state.clone());
    tracing::info!(
        %addr,
        data = %db,
        agent_slots = state.agent.slots,
        keys = !state.config.keys.is_empty(),
        "jouletrace-server listening"
    );
    // The tests and scripts read this line to learn the port when they ask for port 0.
    println!("listening on http://{addr}");
    let app = api::router(state);
    axum::serve(listener, app)
        .with_graceful_shutdown(shutdown_signal())
        .await?;
    Ok(())
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    tokio::select! { _ = ctrl_c => {}, _ = term => {} }
    tracing::info!("shutting down: running jobs keep their leases and run again after restart");
}
