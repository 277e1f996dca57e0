//! Prometheus exposition at `/metrics` (text format 0.0.4 / OpenMetrics).
//!
//! Queue depth is read from the queue at scrape time (the queue is the truth, and another
//! process may share it); everything else is counted where it happens.

use std::sync::atomic::AtomicU64;

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;

use crate::queue::{Counts, JobState};

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct StateLabel {
    pub state: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct OutcomeLabel {
    /// `completed`, or the failed job's `error_type`.
    pub outcome: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ProvenanceLabel {
    /// `measured` or `estimated`.
    pub provenance: String,
}

pub struct Metrics {
    registry: Registry,
    pub queue_depth: Family<StateLabel, Gauge>,
    /// Submission to result, seconds.
    pub job_latency: Histogram,
    /// Lease to result, seconds.
    pub job_run_time: Histogram,
    pub outcomes: Family<OutcomeLabel, Counter>,
    pub windows: Counter,
    pub energy_joules: Family<ProvenanceLabel, Counter<f64, AtomicU64>>,
    pub lease_expiries: Counter,
    pub worker_restarts: Counter,
    pub jobs_submitted: Counter,
    pub rejected_full: Counter,
    pub agents_slots: Gauge,
}

impl Default for Metrics {
    fn default() -> Self {
        Metrics::new()
    }
}

impl Metrics {
    pub fn new() -> Metrics {
        let mut registry = Registry::with_prefix("jouletrace");
        let m = Metrics {
            queue_depth: Family::default(),
            job_latency: Histogram::new(exponential_buckets(0.05, 2.0, 16)),
            job_run_time: Histogram::new(exponential_buckets(0.05, 2.0, 16)),
            outcomes: Family::default(),
            windows: Counter::default(),
            energy_joules: Family::default(),
            lease_expiries: Counter::default(),
            worker_restarts: Counter::default(),
            jobs_submitted: Counter::default(),
            rejected_full: Counter::default(),
            agents_slots: Gauge::default(),
            registry: Registry::default(),
        };
        registry.register(
            "queue_jobs",
            "Jobs in the queue by state",
            m.queue_depth.clone(),
        );
        registry.register(
            "job_latency_seconds",
            "Time from submission to result",
            m.job_latency.clone(),
        );
        registry.register(
            "job_run_seconds",
            "Time from lease to result (one attempt)",
            m.job_run_time.clone(),
        );
        registry.register(
            "job_outcomes",
            "Finished jobs by outcome (completed or the error_type)",
            m.outcomes.clone(),
        );
        registry.register(
            "windows_measured",
            "Measured windows (samples) taken by this process's agent",
            m.windows.clone(),
        );
        registry.register(
            "energy_joules",
            "Energy inside measured windows, by provenance (measured or estimated)",
            m.energy_joules.clone(),
        );
        registry.register(
            "lease_expiries",
            "Leases that expired (their job was re-queued or abandoned)",
            m.lease_expiries.clone(),
        );
        registry.register(
            "worker_restarts",
            "Job worker processes that died without an outcome",
            m.worker_restarts.clone(),
        );
        registry.register(
            "jobs_submitted",
            "Jobs accepted (202)",
            m.jobs_submitted.clone(),
        );
        registry.register(
            "jobs_rejected_queue_full",
            "Submissions refused with 503 because the queue was full",
            m.rejected_full.clone(),
        );
        registry.register(
            "agent_slots",
            "Jobs this process's agent runs at once (0 without an agent)",
            m.agents_slots.clone(),
        );
        Metrics { registry, ..m }
    }

    pub fn set_depth(&self, counts: &Counts) {
        for s in JobState::ALL {
            self.queue_depth
                .get_or_create(&StateLabel {
                    state: s.as_str().into(),
                })
                .set(counts.get(s) as i64);
        }
    }

    pub fn outcome(&self, outcome: &str) {
        self.outcomes
            .get_or_create(&OutcomeLabel {
                outcome: outcome.into(),
            })
            .inc();
    }

    pub fn encode(&self) -> String {
        let mut out = String::new();
        // Writing into a String cannot fail.
        let _ = prometheus_client::encoding::text::encode(&mut out, &self.registry);
        out
    }
}
