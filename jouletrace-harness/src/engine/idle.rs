//! Idle power per domain: measured with the domain's scope quiet, and subtracted from each
//! sample's gross energy in proportion to the sample's measured time.
//!
//! Taken once before measuring (every lane, one after another, nothing else running), then
//! again by a lane before its next job when its record is older than `idle_every`, or when the
//! lane's last sample came out with negative net power (the idle power drifted up: the machine
//! warmed, a governor changed its mind). A lane re-measures only domains within its own scope,
//! which no other lane touches. Other work on the scope's CPUs during an idle window would be
//! counted as idle power, so such windows are retried (see [`background`]).

use std::sync::Mutex;
use std::time::Duration;

use crate::energy::{self, Domain, MeterSpec, monotonic_ns};
use crate::results::IdleRecord;
use crate::units::Watts;

use super::{background, clock_s};
use crate::sysfs::Procfs;

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
    /// sure the domains' scope is quiet of our own workers). Other work on the scope's CPUs is
    /// watched: a window beside it is measured again, up to [`background::IDLE_ATTEMPTS`]
    /// times, and the quietest attempt is kept, flagged when even that one was busy.
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
        let scope: Vec<&Domain> = meter.info().domains.iter().collect();
        let watch =
            background::Watch::new(Procfs::from_env(), background::scope_cpus(&scope), None);
        let mut best: Option<(Vec<IdleRecord>, Option<background::Reading>)> = None;
        for _ in 0..background::IDLE_ATTEMPTS {
            let mark = watch.mark();
            let a = meter.read().map_err(|e| e.to_string())?;
            std::thread::sleep(window);
            let b = meter.read().map_err(|e| e.to_string())?;
            let reading = mark.and_then(|m| watch.since(&m));
            let elapsed = Duration::from_nanos(b.taken_ns.saturating_sub(a.taken_ns));
            let taken_at_s = clock_s(a.taken_ns, origin_ns);
            let records = meter
                .energy_between(&a, &b)
                .into_iter()
                .filter_map(|d| {
                    Some(IdleRecord {
                        domain: d.domain,
                        power: d.energy.over(elapsed)?,
                        window_s: elapsed.as_secs_f64(),
                        taken_at_s,
                        background: reading.map(|r| r.load),
                        background_activity: reading.is_some_and(|r| r.flagged),
                    })
                })
                .collect();
            let share = |r: &Option<background::Reading>| r.map_or(0.0, |r| r.load.foreign_share);
            if best
                .as_ref()
                .is_none_or(|(_, b)| share(&reading) < share(b))
            {
                best = Some((records, reading));
            }
            if !reading.is_some_and(|r| r.flagged) {
                break;
            }
        }
        if let Some((records, _)) = best {
            self.records.lock().expect("idle table").extend(records);
        }
        Ok(())
    }

    pub fn all(&self) -> Vec<IdleRecord> {
        self.records.lock().expect("idle table").clone()
    }
}
