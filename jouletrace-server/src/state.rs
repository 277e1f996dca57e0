//! What every handler shares, behind one `Arc`.

use std::sync::Arc;
use std::time::Instant;

use tokio::sync::Semaphore;

use crate::agent::{AgentStatus, EventHub};
use crate::auth::RateLimiter;
use crate::config::ServerConfig;
use crate::metrics::Metrics;
use crate::queue::Queue;

pub struct AppState {
    pub config: ServerConfig,
    pub queue: Arc<dyn Queue>,
    pub metrics: Metrics,
    pub hub: EventHub,
    pub limiter: RateLimiter,
    pub agent: AgentStatus,
    /// Bounds concurrent `/validate` workers (each is a process running candidate code).
    pub validators: Semaphore,
    pub started: Instant,
    pub dashboard: crate::dashboard::Templates,
    // fleet: registry and host identity (issue 15).
    pub fleet: crate::fleet::FleetState,
}

impl AppState {
    pub fn new(config: ServerConfig, queue: Arc<dyn Queue>) -> Arc<AppState> {
        let slots = if config.agent { config.agent_slots } else { 0 };
        let metrics = Metrics::new();
        metrics.agents_slots.set(slots as i64);
        Arc::new(AppState {
            queue,
            metrics,
            hub: EventHub::default(),
            limiter: RateLimiter::default(),
            agent: AgentStatus {
                id: crate::agent::agent_id(),
                slots,
                ..AgentStatus::default()
            },
            validators: Semaphore::new(2),
            started: Instant::now(),
            dashboard: crate::dashboard::Templates::new(),
            fleet: crate::fleet::FleetState::default(),
            config,
        })
    }
}
