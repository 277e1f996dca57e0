//! Who is measuring: agents register with their host identity and keep a heartbeat.
//!
//! In Redis each agent is one key (`<ns>:agent:<id>`, its record as JSON) that expires unless
//! the agent renews it, plus a member of `<ns>:agents`. A key that expired is an agent that
//! stopped (SIGKILL, power cut, network gone): `list` drops it from the set, so it disappears
//! from `/api/v1/health` and the dashboard, while its jobs' leases (the stream's pending
//! entries, see [`RedisQueue`]) expire on their own and run again on another agent.

use std::sync::Arc;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::{HostClass, HostIdentity};
use crate::queue::{QueueError, RedisQueue, UnixTime};

/// An agent as the registry shows it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct AgentRecord {
    /// `<name or hostname>:<pid>`.
    pub id: String,
    pub host: HostIdentity,
    pub host_class: HostClass,
    pub slots: usize,
    pub busy: u64,
    pub jobs_done: u64,
    /// `idle`, `busy` or `draining` (SIGTERM received: finishing the job in hand, taking no
    /// more).
    pub state: String,
    pub started_at: UnixTime,
    pub last_seen: UnixTime,
    pub version: String,
}

/// Where agents register. Calls block (a Redis round trip).
pub trait Registry: Send + Sync + 'static {
    /// Registers or renews `agent` for `ttl`; without a renewal it disappears after that.
    fn beat(&self, agent: &AgentRecord, ttl: Duration) -> Result<(), QueueError>;
    /// Removes an agent at once (a drained agent leaving).
    fn leave(&self, id: &str) -> Result<(), QueueError>;
    /// The live agents, by id.
    fn list(&self) -> Result<Vec<AgentRecord>, QueueError>;
}

/// The registry beside a [`RedisQueue`]'s keys.
pub struct RedisRegistry {
    queue: Arc<RedisQueue>,
}

impl RedisRegistry {
    pub fn new(queue: Arc<RedisQueue>) -> RedisRegistry {
        RedisRegistry { queue }
    }
}

impl Registry for RedisRegistry {
    fn beat(&self, agent: &AgentRecord, ttl: Duration) -> Result<(), QueueError> {
        let json = serde_json::to_string(agent).expect("an agent record serializes");
        let ms = u64::try_from(ttl.as_millis()).unwrap_or(u64::MAX).max(1);
        self.queue.with(|con| {
            ::redis::pipe()
                .atomic()
                .cmd("SET")
                .arg(self.queue.key(&format!("agent:{}", agent.id)))
                .arg(&json)
                .arg("PX")
                .arg(ms)
                .ignore()
                .cmd("ZADD")
                .arg(self.queue.key("agents"))
                .arg(agent.last_seen.0)
                .arg(&agent.id)
                .ignore()
                .query::<()>(con)
        })
    }

    fn leave(&self, id: &str) -> Result<(), QueueError> {
        self.queue.with(|con| {
            ::redis::pipe()
                .atomic()
                .cmd("DEL")
                .arg(self.queue.key(&format!("agent:{id}")))
                .ignore()
                .cmd("ZREM")
                .arg(self.queue.key("agents"))
                .arg(id)
                .ignore()
                .query::<()>(con)
        })
    }

    fn list(&self) -> Result<Vec<AgentRecord>, QueueError> {
        let ids: Vec<String> = self.queue.with(|con| {
            ::redis::cmd("ZRANGE")
                .arg(self.queue.key("agents"))
                .arg(0)
                .arg(-1)
                .query(con)
        })?;
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        let keys: Vec<String> = ids
            .iter()
            .map(|id| self.queue.key(&format!("agent:{id}")))
            .collect();
        let records: Vec<Option<String>> = self
            .queue
            .with(|con| ::redis::cmd("MGET").arg(&keys).query(con))?;
        let mut live = Vec::new();
        let mut gone = Vec::new();
        for (id, rec) in ids.iter().zip(records) {
            match rec.and_then(|r| serde_json::from_str::<AgentRecord>(&r).ok()) {
                Some(r) => live.push(r),
                None => gone.push(id.clone()),
            }
        }
        if !gone.is_empty() {
            // Their heartbeat key expired: they stopped. Forget them (their leases expire on
            // their own; `reap` re-queues the jobs).
            self.queue.with(|con| {
                ::redis::cmd("ZREM")
                    .arg(self.queue.key("agents"))
                    .arg(&gone)
                    .query::<()>(con)
            })?;
            for id in &gone {
                tracing::warn!(agent = %id, "agent stopped heartbeating: removed from the fleet");
            }
        }
        live.sort_by(|a, b| a.id.cmp(&b.id));
        Ok(live)
    }
}
