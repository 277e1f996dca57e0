//! Phase 3 of a run: idle baselines and measured trials, scheduled by energy-domain scope.
//!
//! Called with the machine's run lock held exclusively: nothing of another JouleTrace run is
//! running. One lane per unit of the primary domain's scope ([`meter::lanes`]); each lane takes
//! jobs from one queue and runs one worker at a time, so measured windows never overlap within a
//! scope. Idle power is taken first on every lane, one after another, then again by a lane when
//! its record is stale or drifted (`idle.rs`).

use std::collections::BTreeSet;
use std::path::Path;
use std::sync::Mutex;

use super::idle::IdleTable;
use super::meter::{self, Selection};
use super::parallel::{Msg, drain_rounds};
use super::plan::{MeasureJob, Plan};
use super::{CancelToken, Event, Lane, Observer, Slot, gates, measure};
use crate::config::RunConfig;
use crate::energy::Scope;
use crate::results::{CaseMeasurement, CheckRecord, Status};

/// The measured cases of every candidate that passed its check, in plan order.
pub fn jobs<'a>(plan: &'a Plan, checks: &[Option<CheckRecord>]) -> Vec<MeasureJob<'a>> {
    plan.to_check
        .iter()
        .filter(|&&i| {
            checks[i]
                .as_ref()
                .is_some_and(|c| c.status == Status::Passed)
        })
        .flat_map(|&i| {
            plan.jobs[i]
                .descriptor
                .cases
                .iter()
                .filter(|c| c.measured)
                .map(move |c| (i, c))
        })
        .map(|(i, c)| MeasureJob {
            index: i,
            job: &plan.jobs[i],
            case: c.clone(),
        })
        .collect()
}

/// What the measuring phase needs besides its jobs.
pub struct Schedule<'a> {
    pub config: &'a RunConfig,
    pub meter: &'a Selection,
    pub slots: &'a [Slot],
    pub sysfs_root: &'a Path,
    pub origin_ns: u64,
    pub idle: &'a IdleTable,
    pub cancel: &'a CancelToken,
}

/// Measures `jobs` (of `plan`); the measurements are indexed like the plan's jobs.
pub fn measure_all(
    plan: &Plan,
    jobs: Vec<MeasureJob<'_>>,
    s: &Schedule<'_>,
    observer: &mut dyn Observer,
) -> Vec<Vec<CaseMeasurement>> {
    let (config, sel, idle, cancel) = (s.config, s.meter, s.idle, s.cancel);
    let mut measurements: Vec<Vec<CaseMeasurement>> = vec![Vec::new(); plan.jobs.len()];
    let lanes = meter::lanes(s.slots, sel);
    // Lanes whose last measurement saw negative net power: their idle is re-taken.
    let drift = Mutex::new(BTreeSet::new());
    let lane_drift = |lane: &Lane| drift.lock().expect("drift").contains(&lane.cpu);
    let set_lane_drift = |lane: &Lane, yes: bool| {
        let mut d = drift.lock().expect("drift");
        if yes {
            d.insert(lane.cpu);
        } else {
            d.remove(&lane.cpu);
        }
    };
    // System-wide domains are quiet only when a single lane measures.
    let idle_domains = |lane: &Lane| -> Vec<String> {
        let mut ds = sel.idle_domains(lane.cpu);
        if lanes.len() > 1 {
            ds.retain(|d| {
                sel.info
                    .domain(d)
                    .is_none_or(|d| !matches!(d.scope, Scope::System))
            });
        }
        ds
    };
    let before = idle.all().len();
    for lane in &lanes {
        if let Err(e) = idle.measure(
            &sel.spec,
            &idle_domains(lane),
            config.idle_window,
            s.origin_ns,
        ) {
            observer.event(&Event::Note {
                message: format!(
                    "idle power could not be measured on CPU {}: {e}; net energy is reported as gross",
                    lane.cpu
                ),
            });
        }
    }
    for record in idle.all().into_iter().skip(before) {
        observer.event(&Event::IdleMeasured { record });
    }
    // With one lane nothing else heats the package between jobs, so waiting for it to cool is
    // meaningful; with several, the others would keep it warm.
    let thermal =
        (lanes.len() == 1).then(|| gates::Thermal::at_idle(crate::sysfs::Sysfs::new(s.sysfs_root)));
    let cx = measure::MeasureContext {
        config,
        meter: sel,
        origin_ns: s.origin_ns,
        idle,
        cancel,
    };
    // The candidates of one case are measured together, interleaved, one round at a time, and
    // the cases take turns, so each case's rounds are spread over the whole phase (measure.rs).
    let units: Vec<measure::CaseUnit<'_>> = measure::case_groups(jobs, lanes.len())
        .into_iter()
        .map(measure::CaseUnit::new)
        .collect();
    drain_rounds(
        &lanes,
        units,
        |lane, unit| unit.fits(lane, &cx),
        |lane, mut unit, tx| {
            if cancel.is_cancelled() && !unit.started() {
                return None;
            }
            let domains = idle_domains(lane);
            let drifted = lane_drift(lane);
            if (drifted || idle.stale(&domains, config.idle_every, s.origin_ns))
                && !domains.is_empty()
            {
                let _ = idle.measure(&sel.spec, &domains, config.idle_window, s.origin_ns);
            }
            // Before a case starts, as before each measured job when cases ran in one go.
            if let Some(t) = thermal.as_ref().filter(|_| !unit.started()) {
                t.settle(config.settle_timeout, cancel);
            }
            let finished = unit.round(lane, &cx, tx);
            set_lane_drift(lane, unit.net_went_negative());
            if !finished {
                return Some(unit);
            }
            for (index, m) in unit.finish() {
                let _ = tx.send(Msg::Measured(index, Box::new(m)));
            }
            None
        },
        |msg| match msg {
            Msg::Event(e) => observer.event(&e),
            Msg::Measured(i, m) => {
                observer.event(&Event::MeasureFinished {
                    candidate: plan.jobs[i].descriptor.id.clone(),
                    case: m.case.clone(),
                    measurement: m.clone(),
                });
                measurements[i].push(*m);
            }
            Msg::Checked(..) => {}
        },
    );
    measurements
}
