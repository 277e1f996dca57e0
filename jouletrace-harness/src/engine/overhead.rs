//! The calling loop's own cost, for hosts that call candidates from an interpreter.
//!
//! In a Rust worker the loop around the calls costs a few instructions; in the Python host each
//! call goes through the interpreter's loop and argument binding, which for a small function is
//! a large part of its cost. So after a case's samples, the same worker prepares the candidate's
//! *empty twin* (`prepare` with `overhead: true`: a function with the same parameters that
//! returns at once, called on the same inputs in the same loop) and samples it with the same
//! calls per sample and batch size, under the same meter. This happens in every worker process
//! the candidate is measured in: the loop's cost moves with a process's memory layout and hash
//! seed as much as the candidate's does, so each sample has the median energy per call of the
//! twin *of its own process*, per domain, subtracted from its net energy (× its calls). A twin
//! measured once, in one process, and taken off samples from other processes over-subtracted by
//! that process's luck, and a function cheaper than the loop came out below zero joules. The
//! twin's samples are recorded beside the result ([`LoopOverhead`], with the median over all of
//! them as its summary), so nothing is hidden.

use std::time::Duration;

use super::host::{self, WindowMeter};
use super::measure::{MeasureContext, to_sample};
use super::summarize::per_call;
use crate::energy::DomainEnergy;
use crate::pool::Worker;
use crate::protocol::{Request, Response};
use crate::results::{CaseMeasurement, LoopOverhead, Sample};
use crate::stats;
use crate::units::Joules;

/// Samples of the twin in the first process: enough for a median, few enough to cost little next
/// to the candidate's.
const FIRST_PROCESS_SAMPLES: usize = 5;
/// Samples of the twin in each later process: that process's median, at a third of the cost.
const LATER_PROCESS_SAMPLES: usize = 3;

/// How the candidate's samples were taken: the twin is sampled the same way.
pub(crate) struct Plan<'a> {
    pub candidate: &'a str,
    pub calls: u64,
    pub batch: u64,
    pub timeout: Duration,
    pub lane: &'a super::Lane,
}

/// Measures the twin of `case`'s candidate in `worker` (right after the candidate's own samples
/// there, in worker process number `process`) and adds its samples to `overhead`; nothing is
/// subtracted yet ([`subtract`] does, once all samples are in). Once the twin could not be
/// measured, it is not tried again: nothing is subtracted from any process's samples then.
pub(crate) fn measure(
    worker: &mut Worker,
    meter: &mut WindowMeter,
    case: &str,
    plan: &Plan<'_>,
    cx: &MeasureContext<'_>,
    process: u32,
    overhead: &mut Option<LoopOverhead>,
) {
    if overhead.as_ref().is_some_and(|o| o.unavailable.is_some()) {
        return;
    }
    let count = if overhead.is_none() {
        FIRST_PROCESS_SAMPLES
    } else {
        LATER_PROCESS_SAMPLES
    };
    *overhead = Some(match twin_samples(worker, meter, case, plan, cx, count) {
        Ok(mut samples) => {
            for s in &mut samples {
                s.process = process;
            }
            let mut all = overhead.take().map(|o| o.samples).unwrap_or_default();
            all.append(&mut samples);
            summarize(all)
        }
        Err(reason) => LoopOverhead {
            energy_per_call: Vec::new(),
            time_per_call_s: None,
            samples: Vec::new(),
            unavailable: Some(reason),
        },
    });
}

fn twin_samples(
    worker: &mut Worker,
    meter: &mut WindowMeter,
    case: &str,
    plan: &Plan<'_>,
    cx: &MeasureContext<'_>,
    count: usize,
) -> Result<Vec<Sample>, String> {
    let prepare = Request::Prepare {
        candidate: plan.candidate.to_owned(),
        case: case.to_owned(),
        meter: None,
        overhead: true,
    };
    match worker.request(&prepare, plan.timeout, Some(cx.cancel)) {
        Ok(Response::Prepared { .. }) => {}
        Ok(other) => return Err(format!("preparing the empty twin: {other:?}")),
        Err(e) => return Err(format!("preparing the empty twin: {e}")),
    }
    let mut samples = Vec::with_capacity(count);
    for _ in 0..count {
        match host::sample(
            worker,
            meter,
            plan.calls,
            plan.batch,
            plan.timeout,
            cx.cancel,
        ) {
            Ok(Response::Sampled(report)) => {
                samples.push(to_sample(&report, plan.lane, cx, None));
            }
            Ok(other) => return Err(format!("sampling the empty twin: {other:?}")),
            Err(e) => return Err(format!("sampling the empty twin: {e}")),
        }
    }
    Ok(samples)
}

fn median(values: &[f64]) -> Option<f64> {
    stats::median(values).ok()
}

/// The twin's median net energy per call, per domain, over `samples`.
fn energy_per_call(samples: &[Sample]) -> Vec<DomainEnergy> {
    let domains: Vec<String> = samples
        .first()
        .map(|s| s.energy.iter().map(|e| e.domain.clone()).collect())
        .unwrap_or_default();
    domains
        .iter()
        .filter_map(|d| {
            Some(DomainEnergy {
                domain: d.clone(),
                energy: Joules(median(&per_call(samples, d, true))?),
            })
        })
        .collect()
}

/// The twin's median net energy per call, per domain, and its median time per call, over all
/// its processes.
fn summarize(samples: Vec<Sample>) -> LoopOverhead {
    let energy_per_call = energy_per_call(&samples);
    let times: Vec<f64> = samples
        .iter()
        .map(|s| s.measured_s / s.calls.max(1) as f64)
        .collect();
    LoopOverhead {
        energy_per_call,
        time_per_call_s: median(&times),
        samples,
        unavailable: None,
    }
}

/// Takes the twin's energy per call (× calls) off every sample's net energy: the median of the
/// twin's samples in the sample's own process, or over all of them for a process the twin was
/// not measured in (one whose worker failed before it got there).
pub(crate) fn subtract(m: &mut CaseMeasurement) {
    let Some(o) = m.loop_overhead.as_ref() else {
        return;
    };
    let mut by_process: std::collections::BTreeMap<u32, Vec<DomainEnergy>> = Default::default();
    for p in o.samples.iter().map(|s| s.process) {
        by_process.entry(p).or_insert_with(|| {
            let own: Vec<Sample> = o
                .samples
                .iter()
                .filter(|s| s.process == p)
                .cloned()
                .collect();
            energy_per_call(&own)
        });
    }
    for s in m.samples.iter_mut().chain(m.warmup.iter_mut()) {
        let twin = by_process.get(&s.process).unwrap_or(&o.energy_per_call);
        for e in &mut s.energy {
            if let Some(per_call) = twin.iter().find(|p| p.domain == e.domain) {
                e.net = e.net - Joules(per_call.energy.get() * s.calls as f64);
            }
        }
    }
}
