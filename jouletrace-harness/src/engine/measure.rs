//! Measured trials of one candidate on one case, in a worker pinned to a lane's CPU.
//!
//! The worker prepares inputs outside the window, reads the meter right around each batch of
//! calls, and reports raw readings; process start, IPC and result checking stay outside.

use std::sync::mpsc::Sender;
use std::time::{Duration, Instant};

use super::idle::IdleTable;
use super::parallel::Msg;
use super::plan::MeasureJob;
use super::{Event, Lane, clock_s};
use crate::config::RunConfig;
use crate::pool::{Ending, Worker, classify};
use crate::protocol::{Metering, Request, Response, SampleReport};
use crate::results::{CaseMeasurement, Failure, Sample, SampleEnergy, Status};
use crate::units::Joules;

/// Memory the fresh inputs of one batch may take, at most.
const BATCH_BYTES: u64 = 256 << 20;

pub struct MeasureContext<'a> {
    pub config: &'a RunConfig,
    pub meter: &'a super::meter::Selection,
    pub origin_ns: u64,
    pub idle: &'a IdleTable,
    pub cancel: &'a super::CancelToken,
}

pub fn measure(
    job: &MeasureJob,
    lane: &Lane,
    cx: &MeasureContext<'_>,
    events: &Sender<Msg>,
) -> CaseMeasurement {
    let config = cx.config;
    let eff = config.effective(&job.job.descriptor.options);
    let id = &job.job.descriptor.id;
    let primary = cx.meter.primary_for(lane.cpu).id.clone();
    let mut m = CaseMeasurement {
        case: job.case.id.clone(),
        size: job.case.size,
        calls_per_sample: 0,
        failure: None,
        stop_reason: "failed".into(),
        warmup: Vec::new(),
        samples: Vec::new(),
        stats: None,
        primary_domain: Some(primary.clone()),
    };
    let mut cmd = job
        .job
        .worker_command(Some(lane.cpu), config, eff.memory_limit_mb);
    // A bench worker meters itself: under a sandbox it keeps access to its measured counter
    // (the estimate meter needs none). Recorded in the run's sandbox notes.
    if let Some(sb) = cmd.sandbox.as_mut()
        && cx.meter.spec.backend != crate::energy::Backend::Estimate
    {
        sb.access.energy = Some(cx.meter.spec.sysfs_root.clone());
    }
    let fail = |m: &mut CaseMeasurement, worker: Option<&Worker>, e: crate::pool::WorkerError| {
        let stderr = worker.map(|w| w.output().1.text).unwrap_or_default();
        m.failure = Some(classify(&Ending {
            error: &e,
            stderr: &stderr,
            case: Some(&job.case.id),
            timeout: eff.timeout,
            memory_limit_mb: eff.memory_limit_mb,
        }));
        if matches!(e, crate::pool::WorkerError::Cancelled) {
            m.stop_reason = "interrupted".into();
        }
    };
    let mut worker = match Worker::spawn(&cmd, eff.timeout.max(Duration::from_secs(10))) {
        Ok(w) => w,
        Err(e) => {
            fail(&mut m, None, e);
            return m;
        }
    };
    let judge = |worker: &mut Worker,
                 answer: Result<Response, crate::pool::WorkerError>,
                 what: &str|
     -> Result<Response, Box<Failure>> {
        match answer {
            Ok(Response::Error { message }) => Err(Box::new(Failure::new(
                Status::ProtocolError,
                Some(&job.case.id),
                format!("{what}: {message}"),
            ))),
            Ok(r) => Ok(r),
            Err(e) => {
                let stderr = worker.output().1.text;
                let mut f = classify(&Ending {
                    error: &e,
                    stderr: &stderr,
                    case: Some(&job.case.id),
                    timeout: eff.timeout,
                    memory_limit_mb: eff.memory_limit_mb,
                });
                f.message = format!("{what}: {}", f.message);
                Err(Box::new(f))
            }
        }
    };
    let ask = |worker: &mut Worker, req: Request, what: &str| {
        let answer = worker.request(&req, eff.timeout, Some(cx.cancel));
        judge(worker, answer, what)
    };
    // An answer of the wrong kind is the worker breaking the protocol.
    let unexpected = |other: Response| {
        Box::new(Failure::new(
            Status::ProtocolError,
            Some(&job.case.id),
            format!("unexpected {other:?}"),
        ))
    };
    // A host metered from the orchestrator never gets a meter to open: ours reads around its
    // windows (see `host.rs`).
    let spec = cx.meter.spec_for(lane.cpu);
    let from_outside = worker.metering() == Metering::Orchestrator;
    let prepared = ask(
        &mut worker,
        Request::Prepare {
            candidate: id.clone(),
            case: job.case.id.clone(),
            meter: (!from_outside).then(|| spec.clone()),
            overhead: false,
        },
        "preparing",
    )
    .and_then(|r| match r {
        Response::Prepared { input_bytes } => Ok(input_bytes),
        other => Err(unexpected(other)),
    });
    let mut window_meter = match prepared.as_ref().ok().filter(|_| from_outside) {
        Some(_) => match super::host::WindowMeter::open(&spec, worker.program_pid()) {
            Ok(w) => Some(w),
            Err(message) => {
                m.failure = Some(Failure::new(
                    Status::ProtocolError,
                    Some(&job.case.id),
                    format!("preparing: {message}"),
                ));
                worker.shutdown();
                return m;
            }
        },
        None => None,
    };
    let calibrated = prepared.and_then(|input_bytes| {
        let batch = (BATCH_BYTES / input_bytes.max(1)).max(1);
        ask(
            &mut worker,
            Request::Calibrate {
                target_ns: config.min_sample_time.as_nanos() as u64,
                max_batch: batch,
            },
            "calibrating",
        )
        .and_then(|r| match r {
            Response::Calibrated { calls, .. } => Ok((calls, batch)),
            other => Err(unexpected(other)),
        })
    });
    let (calls, batch) = match calibrated {
        Ok(c) => c,
        Err(f) => {
            m.failure = Some(*f);
            return m;
        }
    };
    m.calls_per_sample = calls;
    let planned = eff.warmup + eff.min_trials;
    let _ = events.send(Msg::Event(Event::MeasureStarted {
        candidate: id.clone(),
        case: job.case.id.clone(),
        planned,
    }));
    let started = Instant::now();
    let mut done = 0;
    let reason = loop {
        if cx.cancel.is_cancelled() {
            break "interrupted";
        }
        let warm = m.warmup.len() < eff.warmup as usize;
        if !warm {
            let n = m.samples.len() as u32;
            if n >= eff.min_trials.max(2) {
                let values = super::summarize::per_call(&m.samples, &primary, true);
                if super::summarize::within_target(&values, config) {
                    break "target_ci";
                }
            }
            if n >= config.max_trials.max(eff.min_trials) {
                break "max_trials";
            }
            if n >= eff.min_trials && started.elapsed() >= config.time_budget {
                break "time_budget";
            }
        }
        let answer = match window_meter.as_mut() {
            Some(wm) => {
                let answer =
                    super::host::sample(&mut worker, wm, calls, batch, eff.timeout, cx.cancel);
                judge(&mut worker, answer, "sampling")
            }
            None => ask(&mut worker, Request::Sample { calls, batch }, "sampling"),
        };
        let sample = match answer {
            Ok(Response::Sampled(report)) => to_sample(&report, lane, cx),
            Ok(other) => {
                m.failure = Some(*unexpected(other));
                break "failed";
            }
            Err(f) => {
                let interrupted = f.kind == Status::NotRun;
                m.failure = Some(*f);
                break if interrupted { "interrupted" } else { "failed" };
            }
        };
        done += 1;
        let _ = events.send(Msg::Event(Event::Sample {
            candidate: id.clone(),
            case: job.case.id.clone(),
            sample: Box::new(sample.clone()),
            done,
        }));
        if warm {
            m.warmup.push(sample);
        } else {
            m.samples.push(sample);
        }
    };
    m.stop_reason = reason.into();
    if reason == "interrupted" && m.failure.is_none() {
        // Samples so far are kept; the measurement is simply short.
    }
    worker.shutdown();
    m
}

fn to_sample(r: &SampleReport, lane: &Lane, cx: &MeasureContext<'_>) -> Sample {
    let measured = Duration::from_nanos(r.measured_ns);
    // Idle power is charged over the time the energy covers (longer when metered from outside).
    let metered = r.metered_ns.map_or(measured, Duration::from_nanos);
    Sample {
        calls: r.calls,
        cpu: lane.cpu,
        package: lane.package,
        window_start_s: clock_s(r.window_start_ns, cx.origin_ns),
        window_end_s: clock_s(r.window_end_ns, cx.origin_ns),
        measured_s: measured.as_secs_f64(),
        metered_s: Some(metered.as_secs_f64()),
        cpu_time_s: r.cpu_ns as f64 * 1e-9,
        energy: r
            .energy
            .iter()
            .map(|d| SampleEnergy {
                domain: d.domain.clone(),
                gross: d.energy,
                net: d.energy
                    - cx.idle
                        .power(&d.domain)
                        .map_or(Joules::ZERO, |w| w * metered),
            })
            .collect(),
        outlier: false,
    }
}

/// Whether the idle subtraction left a sample with negative net energy in its primary domain:
/// the idle power has drifted up since it was measured.
pub fn net_went_negative(m: &CaseMeasurement) -> bool {
    let Some(domain) = &m.primary_domain else {
        return false;
    };
    m.samples
        .iter()
        .chain(&m.warmup)
        .flat_map(|s| &s.energy)
        .any(|e| &e.domain == domain && e.net.get() < 0.0)
}
