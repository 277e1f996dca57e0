//! Orchestrator-side metering: the meter of a host that never holds an energy counter.
//!
//! A host that announces `metering: orchestrator` in its hello (every non-Rust host) gets no
//! meter in `prepare`. During a `sample` it stops before each batch with `window_open`; the
//! orchestrator reads the run's one Rust meter and the worker's CPU-time clock (snapshot A) and
//! answers `window_go`; the host runs the batch between two `CLOCK_MONOTONIC` readings, reports
//! them in `window_closed`, and waits; the orchestrator reads again (snapshot B) and answers
//! `window_ack`. The host's final `sampled` carries no energy: the orchestrator fills it, and the
//! worker's CPU time, from its own A/B pairs. So whatever reads energy stays in Rust, the same
//! code for every language, and the candidate's process cannot open (or tamper with) a counter.
//!
//! The cost: each window also spans two pipe messages around the batch (tens of microseconds
//! against windows of at least the minimum sample time). The sample records that longer span as
//! `metered_ns`, over which idle power is subtracted, while `measured_ns` stays the calls' own
//! time as the host clocked it. With the estimate meter, "energy" is the worker's CPU time
//! between A and B (read from outside through `clock_getcpuclockid`) × the per-core power.

use std::time::{Duration, Instant};

use super::{CancelToken, TargetKind};
use crate::energy::{self, Backend, DomainEnergy, Meter, MeterSpec, Snapshot, add_energies};
use crate::pool::{Worker, WorkerError};
use crate::protocol::{Metering, Request, Response, SampleReport};

/// Whether the orchestrator meters this worker (`Ok(true)`), or the worker meters itself. A
/// language host's figures must come from the orchestrator's meter: one that announces
/// `metering: worker` would report energy the engine cannot check, so it is refused.
pub(crate) fn metered_from_outside(kind: TargetKind, metering: Metering) -> Result<bool, String> {
    match (kind, metering) {
        (_, Metering::Orchestrator) => Ok(true),
        (TargetKind::Bench, Metering::Worker) => Ok(false),
        (TargetKind::Host, Metering::Worker) => Err(
            "the host announced `metering: worker`, but a language host never reads a meter: \
             it must announce `metering: orchestrator`"
                .into(),
        ),
    }
}

/// The run's meter as the orchestrator reads it around one worker's windows.
pub(crate) struct WindowMeter {
    meter: Box<dyn Meter>,
    pid: u32,
    /// The estimate's reading *is* the worker's CPU clock: the sample's CPU time is then that
    /// same reading. Read a second time, the clock moves in between (the host is still leaving
    /// its pipe write or entering its read), and the sample's CPU time would not be the one its
    /// energy was charged for (docs/meters.md: "the same figure").
    cpu_in_reading: bool,
}

/// One reading: the meter's snapshot and the worker's CPU time.
struct Reading {
    snapshot: Snapshot,
    cpu_ns: u64,
}

impl WindowMeter {
    /// Opens `spec` in this process, charging the estimate to worker `pid`.
    pub fn open(spec: &MeterSpec, pid: u32) -> Result<WindowMeter, String> {
        let meter = energy::open_for_process(spec, pid).map_err(|u| {
            format!(
                "meter {} unavailable in the orchestrator: {}",
                u.backend, u.reason
            )
        })?;
        Ok(WindowMeter {
            meter,
            pid,
            cpu_in_reading: spec.backend == Backend::Estimate,
        })
    }

    /// Snapshot A: the worker's CPU clock, then the meter, so the CPU interval contains the
    /// energy interval (one reading for the estimate).
    fn open_window(&mut self) -> Result<Reading, String> {
        if self.cpu_in_reading {
            return self.estimate_reading();
        }
        let cpu_ns = self.cpu()?;
        let snapshot = self.meter.read().map_err(|e| e.to_string())?;
        Ok(Reading { snapshot, cpu_ns })
    }

    /// Snapshot B: the meter, then the worker's CPU clock (one reading for the estimate).
    fn close_window(&mut self) -> Result<Reading, String> {
        if self.cpu_in_reading {
            return self.estimate_reading();
        }
        let snapshot = self.meter.read().map_err(|e| e.to_string())?;
        let cpu_ns = self.cpu()?;
        Ok(Reading { snapshot, cpu_ns })
    }

    fn estimate_reading(&mut self) -> Result<Reading, String> {
        let snapshot = self.meter.read().map_err(|e| e.to_string())?;
        Ok(Reading {
            cpu_ns: energy::estimate::cpu_ns(&snapshot),
            snapshot,
        })
    }

    fn cpu(&self) -> Result<u64, String> {
        energy::process_cpu_ns_of(self.pid)
            .map_err(|e| format!("cannot read the CPU time of worker {}: {e}", self.pid))
    }
}

/// What the orchestrator saw of one sample's windows.
#[derive(Default)]
struct Windows {
    /// Snapshot A of the window in progress.
    open: Option<Reading>,
    first_start_ns: Option<u64>,
    last_end_ns: u64,
    measured_ns: u64,
    metered_ns: u64,
    cpu_ns: u64,
    batches: u32,
    energy: Vec<DomainEnergy>,
}

impl Windows {
    /// Adds a closed window, after checking that the host's batch lies inside the metered span:
    /// a window that starts before the go or ends after the meter's second reading would put
    /// calls outside the energy it is charged.
    fn close(
        &mut self,
        a: Reading,
        b: Reading,
        start_ns: u64,
        end_ns: u64,
        meter: &dyn Meter,
    ) -> Result<(), String> {
        let (from, to) = (a.snapshot.taken_ns, b.snapshot.taken_ns);
        if !(from <= start_ns && start_ns <= end_ns && end_ns <= to) {
            return Err(format!(
                "the host's window {start_ns}..{end_ns} ns does not lie inside the metered window \
                 {from}..{to} ns (CLOCK_MONOTONIC): it must read its clock after window_go and \
                 before window_closed"
            ));
        }
        add_energies(
            &mut self.energy,
            meter.energy_between(&a.snapshot, &b.snapshot),
        );
        self.first_start_ns.get_or_insert(from);
        self.last_end_ns = to;
        self.measured_ns += end_ns - start_ns;
        self.metered_ns += to - from;
        self.cpu_ns += b.cpu_ns.saturating_sub(a.cpu_ns);
        self.batches += 1;
        Ok(())
    }
}

/// Runs one `sample` of a host metered from the orchestrator, within `timeout` in all. Answers
/// as [`Worker::request`] does: the host's `sampled`, completed with the orchestrator's energy
/// and CPU time, or its `error`; a meter that fails mid-sample is an `error` answer too (the
/// worker is then stopped by the caller, as after any error).
pub(crate) fn sample(
    worker: &mut Worker,
    meter: &mut WindowMeter,
    calls: u64,
    batch: u64,
    timeout: Duration,
    cancel: &CancelToken,
) -> Result<Response, WorkerError> {
    let deadline = Instant::now() + timeout;
    worker.send(&Request::Sample { calls, batch })?;
    let mut w = Windows::default();
    let broken = |worker: &mut Worker, message: String| {
        worker.kill();
        Err(WorkerError::Protocol { message })
    };
    loop {
        match worker.receive_until(deadline, timeout, Some(cancel))? {
            Response::WindowOpen => {
                if w.open.is_some() {
                    return broken(worker, "window_open while a window was open".into());
                }
                match meter.open_window() {
                    Ok(a) => w.open = Some(a),
                    Err(e) => return Ok(meter_failed(e)),
                }
                worker.send(&Request::WindowGo)?;
            }
            Response::WindowClosed { start_ns, end_ns } => {
                let Some(a) = w.open.take() else {
                    return broken(worker, "window_closed without window_open".into());
                };
                let b = match meter.close_window() {
                    Ok(b) => b,
                    Err(e) => return Ok(meter_failed(e)),
                };
                if let Err(e) = w.close(a, b, start_ns, end_ns, meter.meter.as_ref()) {
                    return broken(worker, e);
                }
                worker.send(&Request::WindowAck)?;
            }
            Response::Sampled(report) => {
                if w.open.is_some() || report.calls != calls || report.batches != w.batches {
                    return broken(
                        worker,
                        format!(
                            "sampled {} calls in {} batches, but {calls} calls were asked and {} \
                             windows closed",
                            report.calls, report.batches, w.batches
                        ),
                    );
                }
                return Ok(Response::Sampled(SampleReport {
                    calls,
                    window_start_ns: w.first_start_ns.unwrap_or(w.last_end_ns),
                    window_end_ns: w.last_end_ns,
                    measured_ns: w.measured_ns,
                    cpu_ns: w.cpu_ns,
                    batches: w.batches,
                    energy: w.energy,
                    metered_ns: Some(w.metered_ns),
                }));
            }
            other => return Ok(other),
        }
    }
}

fn meter_failed(message: String) -> Response {
    Response::Error {
        message: format!("reading the meter failed: {message}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_a_bench_meters_itself() {
        assert_eq!(
            metered_from_outside(TargetKind::Bench, Metering::Worker),
            Ok(false)
        );
        assert_eq!(
            metered_from_outside(TargetKind::Bench, Metering::Orchestrator),
            Ok(true)
        );
        assert_eq!(
            metered_from_outside(TargetKind::Host, Metering::Orchestrator),
            Ok(true)
        );
        assert!(metered_from_outside(TargetKind::Host, Metering::Worker).is_err());
    }

    /// The estimate from outside charges exactly the CPU time the sample records. Metering this
    /// very process, its clock moves between any two reads (the reading thread runs): the CPU
    /// time read apart from the meter's reading exceeded it in every window.
    #[test]
    fn the_estimate_charges_exactly_the_cpu_time_recorded() {
        let spec = MeterSpec {
            backend: Backend::Estimate,
            sysfs_root: "/".into(),
            domains: Vec::new(),
            estimate_watts_per_core: Some(10.0),
        };
        let mut m = WindowMeter::open(&spec, std::process::id()).unwrap();
        for _ in 0..20 {
            let a = m.open_window().unwrap();
            energy::spin_on(None, Duration::from_millis(1));
            let b = m.close_window().unwrap();
            let charged = m.meter.energy_between(&a.snapshot, &b.snapshot)[0].energy;
            let cpu_s = (b.cpu_ns - a.cpu_ns) as f64 * 1e-9;
            assert!(cpu_s > 0.0);
            assert!(
                (charged.get() - 10.0 * cpu_s).abs() <= 1e-12 * charged.get(),
                "charged {charged:?}, recorded CPU time {cpu_s} s"
            );
        }
    }
}
