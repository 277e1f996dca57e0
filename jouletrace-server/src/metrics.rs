//! Prometheus exposition at `/metrics` (text format 0.0.4 / OpenMetrics).
//!
//! Queue depth is read from the queue at scrape time (the queue is the truth, and another
//! process may share it); everything else is counted where it happens.

use std::path::PathBuf;
use std::sync::Mutex;
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
    /// The build cache of Rust submissions, read from its directory at scrape time (builds
    /// happen in job worker processes; the directory's totals are the truth).
    pub build: BuildCacheMetrics,
}

/// `jouletrace_build_*`: the Rust build cache (`jouletrace::rust_source`).
#[derive(Default)]
pub struct BuildCacheMetrics {
    /// The default cache directory, or what [`Metrics::watch_build_cache`] set.
    dir: Mutex<Option<PathBuf>>,
    pub hits: Counter,
    pub misses: Counter,
    pub evictions: Counter,
    pub compiles: Counter,
    pub compile_failures: Counter,
    pub compile_seconds: Counter<f64, AtomicU64>,
    pub bytes: Gauge,
    pub entries: Gauge,
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
            // The cache job workers use unless told otherwise (`JOULETRACE_BUILD_CACHE`, else
            // the default directory): they inherit this process's environment.
            build: BuildCacheMetrics {
                dir: Mutex::new(Some(jouletrace::rust_source::default_cache_dir())),
                ..BuildCacheMetrics::default()
            },
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
        let b = &m.build;
        for (name, help, counter) in [
            (
                "build_cache_hits",
                "Rust builds answered from the build cache",
                &b.hits,
            ),
            (
                "build_cache_misses",
                "Rust builds not in the build cache",
                &b.misses,
            ),
            (
                "build_cache_evictions",
                "Build cache entries evicted to stay within build_cache_limit_mb",
                &b.evictions,
            ),
            (
                "build_compiles",
                "Sandboxed rustc runs (candidates and glue links)",
                &b.compiles,
            ),
            (
                "build_compile_failures",
                "Sandboxed rustc runs that failed (compile_error, timeout, memory, output)",
                &b.compile_failures,
            ),
        ] {
            registry.register(name, help, counter.clone());
        }
        registry.register(
            "build_compile_seconds",
            "Wall time of sandboxed rustc runs",
            b.compile_seconds.clone(),
        );
        registry.register(
            "build_cache_bytes",
            "Bytes of cached candidates and binaries",
            b.bytes.clone(),
        );
        registry.register(
            "build_cache_entries",
            "Cached candidates, compile errors and binaries",
            b.entries.clone(),
        );
        Metrics { registry, ..m }
    }

    /// Shows the build cache at `dir` in the `jouletrace_build_*` metrics from now on.
    pub fn watch_build_cache(&self, dir: PathBuf) {
        *self.build.dir.lock().unwrap_or_else(|e| e.into_inner()) = Some(dir);
    }

    /// Brings the build metrics up to the cache directory's totals (counters only move up: a
    /// cache emptied by hand does not make them go back).
    fn refresh_build_cache(&self) {
        let dir = self
            .build
            .dir
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone();
        let Some(dir) = dir else {
            return;
        };
        let s = jouletrace::rust_source::shared_stats(&dir);
        let b = &self.build;
        for (counter, total) in [
            (&b.hits, s.hits),
            (&b.misses, s.misses),
            (&b.evictions, s.evictions),
            (&b.compiles, s.compiles),
            (&b.compile_failures, s.compile_failures),
        ] {
            let seen = counter.get();
            if total > seen {
                counter.inc_by(total - seen);
            }
        }
        let seen = b.compile_seconds.get();
        if s.compile_seconds > seen {
            b.compile_seconds.inc_by(s.compile_seconds - seen);
        }
        b.bytes.set(i64::try_from(s.bytes).unwrap_or(i64::MAX));
        b.entries.set(i64::try_from(s.entries).unwrap_or(i64::MAX));
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
        self.refresh_build_cache();
        let mut out = String::new();
        // Writing into a String cannot fail.
        let _ = prometheus_client::encoding::text::encode(&mut out, &self.registry);
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_build_cache_metrics_follow_the_cache_directory() {
        let dir = tempfile::tempdir().unwrap();
        let m = Metrics::new();
        // An empty cache directory: zeros.
        m.watch_build_cache(dir.path().to_owned());
        assert!(m.encode().contains("jouletrace_build_cache_hits_total 0"));
        std::fs::write(
            dir.path().join("stats.json"),
            r#"{"hits":3,"misses":2,"evictions":1,"bytes":4096,"entries":2,"compiles":2,
                "compile_seconds":1.5,"compile_failures":1,"support_build_seconds":0.0}"#,
        )
        .unwrap();
        m.watch_build_cache(dir.path().to_owned());
        let text = m.encode();
        for line in [
            "jouletrace_build_cache_hits_total 3",
            "jouletrace_build_cache_misses_total 2",
            "jouletrace_build_cache_evictions_total 1",
            "jouletrace_build_compiles_total 2",
            "jouletrace_build_compile_failures_total 1",
            "jouletrace_build_compile_seconds_total 1.5",
            "jouletrace_build_cache_bytes 4096",
            "jouletrace_build_cache_entries 2",
        ] {
            assert!(text.contains(line), "{line} missing in\n{text}");
        }
        // Scraped again: counters do not double.
        assert!(m.encode().contains("jouletrace_build_cache_hits_total 3"));
    }
}
