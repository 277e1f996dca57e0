//! Idle power per domain: measured with the domain's scope quiet, and subtracted from each
//! sample's gross energy in proportion to the sample's measured time.
//!
//! Taken once before measuring (every lane, one after another, nothing else running), then
//! again by a lane before its next job when its record is older than `idle_every`, or when the
//! lane's last sample came out with negative net power (the idle power drifted up: the machine
//! warmed, a governor changed its mind). A lane re-measures only domains within its own scope,
//! which no other lane touches.

use std::sync::Mutex;
use std::time::Duration;

use crate::energy::{self, MeterSpec, monotonic_ns};
use crate::results::IdleRecord;
use crate::units::Watts;

use super::clock_s;

#[derive(Default)]
pub struct IdleTable {
    records: Mutex<Vec<IdleRecord>>,
}

impl IdleTable {
    /// The latest idle power of `domain`; `None` when the meter has no idle share (the estimate)
    /// or it was not measured.
    pub fn power(&self, domain: &str) -> Option<Watts> {
        self.latest(domain).map(|r| r.power)
    }

    fn latest(&self, domain: &str) -> Option<IdleRecord> {
        self.records
            .lock()
            .expect("idle table")
            .iter()
            .rev()
            .find(|r| r.domain == domain)
            .cloned()
    }

    /// Whether any of `domains` has no record, or one older than `every`.
    pub fn stale(&self, domains: &[String], every: Duration, origin_ns: u64) -> bool {
        let now = clock_s(monotonic_ns(), origin_ns);
        domains.iter().any(|d| {
            self.latest(d)
                .is_none_or(|r| now - r.taken_at_s > every.as_secs_f64())
        })
    }

    /// Measures the idle power of `domains` over `window`, in this thread (the caller makes
    /// sure the domains' scope is quiet).
    pub fn measure(
        &self,
        spec: &MeterSpec,
        domains: &[String],
        window: Duration,
        origin_ns: u64,
    ) -> Result<(), String> {
        if domains.is_empty() {
            return Ok(());
        }
        let spec = MeterSpec {
            domains: domains.to_vec(),
            ..spec.clone()
        };
        let mut meter = energy::open(&spec).map_err(|u| u.reason)?;
        let a = meter.read().map_err(|e| e.to_string())?;
        std::thread::sleep(window);
        let b = meter.read().map_err(|e| e.to_string())?;
        let elapsed = Duration::from_nanos(b.taken_ns.saturating_sub(a.taken_ns));
        let taken_at_s = clock_s(a.taken_ns, origin_ns);
        let mut records = self.records.lock().expect("idle table");
        for d in meter.energy_between(&a, &b) {
            if let Some(power) = d.energy.over(elapsed) {
                records.push(IdleRecord {
                    domain: d.domain,
                    power,
                    window_s: elapsed.as_secs_f64(),
                    taken_at_s,
                });
            }
        }
        Ok(())
    }

    pub fn all(&self) -> Vec<IdleRecord> {
        self.records.lock().expect("idle table").clone()
    }
}
