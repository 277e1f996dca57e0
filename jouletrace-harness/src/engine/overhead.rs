//! The calling loop's own cost, for hosts that call candidates from an interpreter.
//!
//! In a Rust worker the loop around the calls costs a few instructions; in the Python host each
//! call goes through the interpreter's loop and argument binding, which for a small function is
//! a large part of its cost. So after a case's samples, the same worker prepares the candidate's
//! *empty twin* (`prepare` with `overhead: true`: a function with the same parameters that
//! returns at once, called on the same inputs in the same loop) and samples it with the same
//! calls per sample and batch size, under the same meter. The median energy per call of the
//! twin, per domain, is subtracted from every sample's net energy (× its calls) and recorded
//! beside the result ([`LoopOverhead`]), with the twin's samples, so nothing is hidden.

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

/// Samples of the twin: enough for a median, few enough to cost little next to the candidate's.
const OVERHEAD_SAMPLES: usize = 5;

/// How the candidate's samples were taken: the twin is sampled the same way.
pub(crate) struct Plan<'a> {
    pub candidate: &'a str,
    pub calls: u64,
    pub batch: u64,
    pub timeout: Duration,
    pub lane: &'a super::Lane,
}

/// Measures the twin of `case`'s candidate in `worker` (right after the candidate's own samples
/// there); nothing is subtracted yet ([`subtract`] does, once all samples are in).
pub(crate) fn measure(
    worker: &mut Worker,
    meter: &mut WindowMeter,
    case: &str,
    plan: &Plan<'_>,
    cx: &MeasureContext<'_>,
) -> LoopOverhead {
    match twin_samples(worker, meter, case, plan, cx) {
        Ok(samples) => summarize(samples),
        Err(reason) => LoopOverhead {
            energy_per_call: Vec::new(),
            time_per_call_s: None,
            samples: Vec::new(),
            unavailable: Some(reason),
        },
    }
}

fn twin_samples(
    worker: &mut Worker,
    meter: &mut WindowMeter,
    case: &str,
    plan: &Plan<'_>,
    cx: &MeasureContext<'_>,
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
    let mut samples = Vec::with_capacity(OVERHEAD_SAMPLES);
    for _ in 0..OVERHEAD_SAMPLES {
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

/// The twin's median net energy per call, per domain, and its median time per call.
fn summarize(samples: Vec<Sample>) -> LoopOverhead {
    let domains: Vec<String> = samples
        .first()
        .map(|s| s.energy.iter().map(|e| e.domain.clone()).collect())
        .unwrap_or_default();
    let energy_per_call: Vec<DomainEnergy> = domains
        .iter()
        .filter_map(|d| {
            Some(DomainEnergy {
                domain: d.clone(),
                energy: Joules(median(&per_call(&samples, d, true))?),
            })
        })
        .collect();
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

/// Takes `m.loop_overhead`'s energy per call (× calls) off every sample's net energy.
pub(crate) fn subtract(m: &mut CaseMeasurement) {
    let Some(o) = m.loop_overhead.as_ref() else {
        return;
    };
    for s in m.samples.iter_mut().chain(m.warmup.iter_mut()) {
        for e in &mut s.energy {
            if let Some(per_call) = o.energy_per_call.iter().find(|p| p.domain == e.domain) {
                e.net = e.net - Joules(per_call.energy.get() * s.calls as f64);
            }
        }
    }
}
