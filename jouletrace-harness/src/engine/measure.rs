//! Measured trials of the candidates of one case, interleaved round by round, each round in a
//! fresh worker pinned to the lane's CPU.
//!
//! The worker prepares inputs outside the window, reads the meter right around each batch of
//! calls, and reports raw readings; process start, IPC and result checking stay outside. Why
//! several processes and rounds: `docs/measurement.md` and `docs/statistics.md`.

use std::sync::mpsc::Sender;
use std::time::{Duration, Instant};

use super::background;
use super::idle::IdleTable;
use super::parallel::Msg;
use super::plan::MeasureJob;
use super::{Event, Lane, clock_s};
use crate::config::RunConfig;
use crate::pool::{Ending, Worker, classify};
use crate::protocol::{Request, Response, SampleReport};
use crate::results::{CaseMeasurement, Failure, Sample, SampleEnergy, Status};
use crate::sysfs::Procfs;
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

/// Worker processes each candidate's samples are spread over at least (fewer when
/// `max_trials` leaves room for fewer blocks of [`MIN_PER_PROCESS`]). Four: the smallest number
/// whose between-process spread means something, and the run-to-run variation it stands for
/// (memory layout, address-space randomisation, the machine's state) enters every interval.
pub const MIN_PROCESSES: u32 = 4;

/// Measured samples per process at least: the process's warm-up is paid once per block.
pub const MIN_PER_PROCESS: u32 = 3;

/// A candidate's later processes warm up with this fraction of a sample's calls (a tenth: 10 ms
/// at the default 100 ms samples). Its first process warms up with whole samples, right after
/// calibrating, which is also when the lane may come out of an idle window; later processes
/// start on a lane that was busy until a moment ago (its previous process), so the clock is
/// already up and what a fresh process lacks is its own caches, page tables and branch history,
/// which milliseconds of calls restore. A whole-sample warm-up per process of 3 samples was a
/// quarter of every measuring run's windows, spent on nothing the statistics use, and on the
/// examples it came out within 0.1% of the samples after it (docs/measurement.md).
pub const LATER_WARMUP_FRACTION: u64 = 10;

/// Calls of one warm-up sample: whole samples in a candidate's first process, a
/// [`LATER_WARMUP_FRACTION`] of them (at least one call) in the later ones.
pub fn warmup_calls(calls: u64, first_process: bool) -> u64 {
    if first_process {
        calls
    } else {
        (calls / LATER_WARMUP_FRACTION).max(1)
    }
}

/// How a candidate's samples are spread: at least `processes` processes of `per_process`
/// measured samples each (after each process's own warm-up).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Spread {
    pub processes: u32,
    pub per_process: u32,
}

impl Spread {
    pub fn new(min_trials: u32, max_trials: u32) -> Spread {
        let max_trials = max_trials.max(min_trials).max(1);
        let processes = MIN_PROCESSES.min((max_trials / MIN_PER_PROCESS).max(1));
        let per_process = MIN_PER_PROCESS
            .max(min_trials.div_ceil(processes))
            .min(max_trials);
        Spread {
            processes,
            per_process,
        }
    }
}

/// The units of work of the measuring phase: the candidates of each case (of one problem)
/// together, to be interleaved by [`measure_case`]. Where several lanes may measure at once (their
/// scopes do not overlap, e.g. the estimate's per-process lanes), a case's candidates are dealt
/// round-robin into one unit per lane: they then run at the same time on different lanes, which
/// exposes them to the same drifts as interleaving does, and no lane idles.
pub fn case_groups<'a>(jobs: Vec<MeasureJob<'a>>, lanes: usize) -> Vec<Vec<MeasureJob<'a>>> {
    let mut by_case: std::collections::BTreeMap<(String, String), Vec<MeasureJob<'a>>> =
        Default::default();
    for j in jobs {
        by_case
            .entry((j.job.descriptor.problem.clone(), j.case.id.clone()))
            .or_default()
            .push(j);
    }
    let mut units = Vec::new();
    for group in by_case.into_values() {
        let n = group.len().min(lanes.max(1));
        let mut split: Vec<Vec<MeasureJob<'a>>> = (0..n).map(|_| Vec::new()).collect();
        for (i, j) in group.into_iter().enumerate() {
            split[i % n].push(j);
        }
        units.extend(split);
    }
    units
}

/// The candidates of one case, measured interleaved: round after round, each candidate that is
/// not finished gets a fresh worker process that warms up and takes a block of samples, so slow
/// drifts of the machine hit every candidate alike and each candidate's samples come from several
/// processes. A candidate stops by the rule of `docs/measurement.md` (its interval over processes
/// within target after at least [`Spread::processes`] processes, `max_trials`, its own time
/// budget, too much background activity, a failure, or cancellation).
///
/// The schedule (`schedule.rs`) runs one [`round`](CaseUnit::round) at a time and then queues the
/// unit again behind every other case: a case's rounds are spread over the whole measuring
/// phase, so the drifts of the machine over the run (tens of seconds, where one case's rounds
/// back to back took a second or two) vary inside each interval instead of between runs.
pub struct CaseUnit<'a> {
    /// The jobs of a unit that has not started yet (every job the same case of one problem).
    pending: Vec<MeasureJob<'a>>,
    candidates: Vec<Candidate<'a>>,
}

impl<'a> CaseUnit<'a> {
    pub fn new(group: Vec<MeasureJob<'a>>) -> CaseUnit<'a> {
        CaseUnit {
            pending: group,
            candidates: Vec::new(),
        }
    }

    pub fn started(&self) -> bool {
        self.pending.is_empty()
    }

    /// Whether `lane` may take the unit's next round: any lane before it starts; afterwards a
    /// lane with the same primary domain, so that all of a measurement's samples are charged to
    /// one domain (lanes of the estimate share theirs; RAPL packages do not).
    pub fn fits(&self, lane: &Lane, cx: &MeasureContext<'_>) -> bool {
        self.candidates
            .first()
            .is_none_or(|c| c.primary == cx.meter.primary_for(lane.cpu).id)
    }

    /// One round: each candidate that is not finished gets one fresh process. Returns whether
    /// every candidate is finished.
    pub fn round(&mut self, lane: &Lane, cx: &MeasureContext<'_>, events: &Sender<Msg>) -> bool {
        if !self.pending.is_empty() {
            self.candidates = std::mem::take(&mut self.pending)
                .into_iter()
                .map(|j| Candidate::new(j, lane, cx))
                .collect();
            for st in &self.candidates {
                let _ = events.send(Msg::Event(Event::MeasureStarted {
                    candidate: st.job.job.descriptor.id.clone(),
                    case: st.job.case.id.clone(),
                    planned: (st.eff.warmup + st.spread.per_process) * st.spread.processes,
                }));
            }
        }
        for st in self.candidates.iter_mut().filter(|s| s.stop.is_none()) {
            if cx.cancel.is_cancelled() {
                st.stop = Some("interrupted");
                continue;
            }
            st.one_process(lane, cx, events);
        }
        self.candidates.iter().all(|c| c.stop.is_some())
    }

    /// Whether a sample of the last rounds came out with negative net energy (see
    /// [`net_went_negative`]).
    pub fn net_went_negative(&self) -> bool {
        self.candidates.iter().any(|c| net_went_negative(&c.m))
    }

    /// Each job's index with its measurement, in the order of the unit's jobs.
    pub fn finish(self) -> Vec<(usize, CaseMeasurement)> {
        self.candidates
            .into_iter()
            .map(|mut st| {
                st.m.stop_reason = st.stop.unwrap_or("failed").into();
                // Interpreted hosts: each process's calling-loop cost off its own samples.
                super::overhead::subtract(&mut st.m);
                (st.job.index, st.m)
            })
            .collect()
    }
}

/// One candidate's measurement while its case is being measured.
struct Candidate<'a> {
    job: MeasureJob<'a>,
    eff: crate::config::Effective,
    spread: Spread,
    primary: String,
    m: CaseMeasurement,
    /// Calls per sample and batch size, from the first process's calibration.
    calibrated: Option<(u64, u64)>,
    processes: u32,
    done: u32,
    /// Time spent in this candidate's own processes (the time budget is per candidate).
    spent: Duration,
    stop: Option<&'static str>,
}

impl<'a> Candidate<'a> {
    fn new(job: MeasureJob<'a>, lane: &Lane, cx: &MeasureContext<'_>) -> Candidate<'a> {
        let eff = cx.config.effective(&job.job.descriptor.options);
        let primary = cx.meter.primary_for(lane.cpu).id.clone();
        Candidate {
            spread: Spread::new(eff.min_trials, cx.config.max_trials),
            eff,
            m: CaseMeasurement {
                case: job.case.id.clone(),
                size: job.case.size,
                calls_per_sample: 0,
                failure: None,
                stop_reason: "failed".into(),
                warmup: Vec::new(),
                samples: Vec::new(),
                stats: None,
                primary_domain: Some(primary.clone()),
                loop_overhead: None,
            },
            primary,
            calibrated: None,
            processes: 0,
            done: 0,
            spent: Duration::ZERO,
            stop: None,
            job,
        }
    }

    fn fail(&mut self, f: Failure) {
        self.stop = Some(if f.kind == Status::NotRun {
            "interrupted"
        } else {
            "failed"
        });
        self.m.failure = Some(f);
    }

    /// Whether the samples so far end the measurement, and why.
    fn verdict(&self, config: &RunConfig) -> Option<&'static str> {
        let quiet: Vec<Sample> = self
            .m
            .samples
            .iter()
            .filter(|s| !s.background_activity)
            .cloned()
            .collect();
        let n = quiet.len() as u32;
        let max_trials = config.max_trials.max(self.eff.min_trials);
        // Samples flagged for background activity are re-taken, within a budget.
        if self.m.samples.len() as u32 - n > max_trials {
            return Some("background_activity");
        }
        if n >= max_trials {
            return Some("max_trials");
        }
        let enough = n >= self.eff.min_trials.max(2) && self.processes >= self.spread.processes;
        if enough {
            let values = super::summarize::per_call_grouped(&quiet, &self.primary, true);
            if super::summarize::within_target(&values, config) {
                return Some("target_ci");
            }
            if self.spent >= config.time_budget {
                return Some("time_budget");
            }
        }
        None
    }

    /// One fresh worker: prepare (and calibrate, the first time), warm up, take a block of
    /// samples, shut down; then decide whether the measurement is over.
    fn one_process(&mut self, lane: &Lane, cx: &MeasureContext<'_>, events: &Sender<Msg>) {
        let started = Instant::now();
        let outcome = self.run_process(lane, cx, events);
        self.spent += started.elapsed();
        self.processes += 1;
        match outcome {
            Err(f) => self.fail(*f),
            Ok(()) => self.stop = self.verdict(cx.config),
        }
    }

    fn run_process(
        &mut self,
        lane: &Lane,
        cx: &MeasureContext<'_>,
        events: &Sender<Msg>,
    ) -> Result<(), Box<Failure>> {
        let config = cx.config;
        let eff = &self.eff;
        let job = &self.job;
        let case = &job.case.id;
        let id = &job.job.descriptor.id;
        let mut cmd = job
            .job
            .worker_command(Some(lane.cpu), config, eff.memory_limit_mb);
        // A bench worker meters itself: under a sandbox it keeps access to its measured counter
        // (the estimate meter needs none). Recorded in the run's sandbox notes. A language host
        // never does: the orchestrator meters it, and it must not reach a counter.
        if let Some(sb) = cmd.sandbox.as_mut()
            && job.job.target.kind == super::TargetKind::Bench
            && cx.meter.spec.backend != crate::energy::Backend::Estimate
        {
            sb.access.energy = Some(cx.meter.spec.sysfs_root.clone());
        }
        let classified = |e: &crate::pool::WorkerError, stderr: &str| {
            classify(&Ending {
                error: e,
                stderr,
                case: Some(case),
                timeout: eff.timeout,
                memory_limit_mb: eff.memory_limit_mb,
            })
        };
        let mut worker = Worker::spawn(&cmd, eff.timeout.max(Duration::from_secs(10)))
            .map_err(|e| Box::new(classified(&e, "")))?;
        let judge = |worker: &mut Worker,
                     answer: Result<Response, crate::pool::WorkerError>,
                     what: &str|
         -> Result<Response, Box<Failure>> {
            match answer {
                Ok(Response::Error { message }) => Err(Box::new(Failure::new(
                    Status::ProtocolError,
                    Some(case),
                    format!("{what}: {message}"),
                ))),
                Ok(r) => Ok(r),
                Err(e) => {
                    let mut f = classified(&e, &worker.output().1.text);
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
                Some(case),
                format!("unexpected {other:?}"),
            ))
        };
        // A host metered from the orchestrator never gets a meter to open: ours reads around its
        // windows (see `host.rs`).
        let spec = cx.meter.spec_for(lane.cpu);
        let from_outside =
            match super::host::metered_from_outside(job.job.target.kind, worker.metering()) {
                Ok(outside) => outside,
                Err(message) => {
                    worker.shutdown();
                    return Err(Box::new(Failure::new(
                        Status::ProtocolError,
                        Some(case),
                        message,
                    )));
                }
            };
        let result = (|| {
            let input_bytes = match ask(
                &mut worker,
                Request::Prepare {
                    candidate: id.clone(),
                    case: case.clone(),
                    meter: (!from_outside).then(|| spec.clone()),
                    overhead: false,
                },
                "preparing",
            )? {
                Response::Prepared { input_bytes } => input_bytes,
                other => return Err(unexpected(other)),
            };
            let mut window_meter = if from_outside {
                Some(
                    super::host::WindowMeter::open(&spec, worker.program_pid()).map_err(
                        |message| {
                            Box::new(Failure::new(
                                Status::ProtocolError,
                                Some(case),
                                format!("preparing: {message}"),
                            ))
                        },
                    )?,
                )
            } else {
                None
            };
            let (calls, batch) = match self.calibrated {
                Some(c) => c,
                None => {
                    // Calibrated once, in the first process: every process then runs the same
                    // number of calls per sample, so their samples are comparable.
                    let batch = (BATCH_BYTES / input_bytes.max(1)).max(1);
                    match ask(
                        &mut worker,
                        Request::Calibrate {
                            target_ns: config.min_sample_time.as_nanos() as u64,
                            max_batch: batch,
                        },
                        "calibrating",
                    )? {
                        Response::Calibrated { calls, .. } => (calls, batch),
                        other => return Err(unexpected(other)),
                    }
                }
            };
            self.calibrated = Some((calls, batch));
            self.m.calls_per_sample = calls;
            let watch = background::Watch::new(
                Procfs::from_env(),
                background::worker_scope(cx.meter.primary_for(lane.cpu), lane.cpu),
                // The program's own CPU time is not background: in a PID namespace
                // `worker.pid` is the sandbox's reaper, and the program is its child.
                Some(worker.program_pid()),
            );
            let max_trials = config.max_trials.max(eff.min_trials);
            let (mut warm, mut quiet) = (0, 0);
            let mut flagged = 0;
            loop {
                let warming = warm < eff.warmup;
                let measured = self
                    .m
                    .samples
                    .iter()
                    .filter(|s| !s.background_activity)
                    .count();
                if !warming
                    && (quiet >= self.spread.per_process
                        || measured as u32 >= max_trials
                        // Re-takes of this block are bounded by the block itself.
                        || flagged > self.spread.per_process
                        || cx.cancel.is_cancelled())
                {
                    break;
                }
                let calls = if warming {
                    warmup_calls(calls, self.processes == 0)
                } else {
                    calls
                };
                let batch = batch.min(calls);
                let mark = watch.mark();
                let answer = match window_meter.as_mut() {
                    Some(wm) => {
                        let answer = super::host::sample(
                            &mut worker,
                            wm,
                            calls,
                            batch,
                            eff.timeout,
                            cx.cancel,
                        );
                        judge(&mut worker, answer, "sampling")
                    }
                    None => ask(&mut worker, Request::Sample { calls, batch }, "sampling"),
                }?;
                let reading = mark.and_then(|a| watch.since(&a));
                let report = match answer {
                    Response::Sampled(report) => report,
                    other => return Err(unexpected(other)),
                };
                let mut sample = to_sample(&report, lane, cx, reading);
                sample.process = self.processes;
                self.done += 1;
                let _ = events.send(Msg::Event(Event::Sample {
                    candidate: id.clone(),
                    case: case.clone(),
                    sample: Box::new(sample.clone()),
                    done: self.done,
                }));
                if warming {
                    warm += 1;
                    self.m.warmup.push(sample);
                } else {
                    if sample.background_activity {
                        flagged += 1;
                    } else {
                        quiet += 1;
                    }
                    self.m.samples.push(sample);
                }
            }
            // Interpreted hosts: in every process that took samples of this candidate and case,
            // the empty twin with the same calls and batch (engine/overhead.rs). A
            // compiled Rust worker metered from outside (a submitted Rust candidate's glue) calls
            // through the harness's own loop, as a `#[joule_bench]` does: no twin, none asked.
            let interpreted = worker.host.as_ref().is_some_and(|h| h.language != "rust");
            if let Some(wm) = window_meter.as_mut()
                && interpreted
                && !cx.cancel.is_cancelled()
            {
                let plan = super::overhead::Plan {
                    candidate: id,
                    calls,
                    batch,
                    timeout: eff.timeout,
                    lane,
                };
                super::overhead::measure(
                    &mut worker,
                    wm,
                    case,
                    &plan,
                    cx,
                    self.processes,
                    &mut self.m.loop_overhead,
                );
            }
            Ok(())
        })();
        worker.shutdown();
        result
    }
}

pub(super) fn to_sample(
    r: &SampleReport,
    lane: &Lane,
    cx: &MeasureContext<'_>,
    reading: Option<background::Reading>,
) -> Sample {
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
        process: 0,
        background: reading.map(|r| r.load),
        background_activity: reading.is_some_and(|r| r.flagged) || stretched(measured, metered),
    }
}

/// Whether a window metered from outside lasted far longer than the calls inside it: more than
/// twice their time plus 50 ms (the protocol's messages take tens of microseconds per batch).
/// Something delayed the orchestrator or the meter between its two readings, and the energy of
/// that stretch, and its idle charge, are not the calls'. Such a sample is flagged like one
/// taken beside other work, and re-taken.
fn stretched(measured: Duration, metered: Duration) -> bool {
    metered > measured * 2 + Duration::from_millis(50)
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_window_far_longer_than_its_calls_is_stretched() {
        let ms = Duration::from_millis;
        assert!(
            !stretched(ms(180), ms(181)),
            "two protocol messages per batch"
        );
        assert!(
            !stretched(ms(5), ms(50)),
            "short samples get 50 ms of slack"
        );
        assert!(
            stretched(ms(180), ms(4096)),
            "the orchestrator or meter stalled"
        );
    }

    fn job(problem: &str, name: &str, cases: &[&str]) -> super::super::plan::Job {
        super::super::plan::Job {
            target: super::super::Target::bench("/nonexistent/bench", "bench"),
            descriptor: crate::registry::CandidateDescriptor {
                id: format!("{problem}::{name}"),
                problem: problem.into(),
                name: name.into(),
                location: "bench.rs:1".into(),
                options: crate::registry::CandidateOptions::DEFAULT,
                cases: cases
                    .iter()
                    .map(|c| crate::registry::CaseInfo {
                        id: (*c).into(),
                        size: None,
                        measured: true,
                    })
                    .collect(),
            },
        }
    }

    /// Each unit as `problem/case: candidate names`, in the order the units come out.
    fn shape(units: &[Vec<MeasureJob<'_>>]) -> Vec<String> {
        units
            .iter()
            .map(|u| {
                let d = &u[0].job.descriptor;
                let names: Vec<&str> = u.iter().map(|j| j.job.descriptor.name.as_str()).collect();
                format!("{}/{}: {}", d.problem, u[0].case.id, names.join(" "))
            })
            .collect()
    }

    #[test]
    fn case_groups_keep_a_cases_candidates_together_and_deal_them_over_lanes() {
        let jobs = [
            job("sort", "a", &["random", "sorted"]),
            job("sort", "b", &["random", "sorted"]),
            job("sort", "c", &["random"]),
            // Same case name, other problem: never measured together with sort's.
            job("search", "x", &["random"]),
        ];
        let measure_jobs = || -> Vec<MeasureJob<'_>> {
            jobs.iter()
                .enumerate()
                .flat_map(|(index, job)| {
                    job.descriptor.cases.iter().map(move |c| MeasureJob {
                        index,
                        job,
                        case: c.clone(),
                    })
                })
                .collect()
        };
        let one_lane = case_groups(measure_jobs(), 1);
        assert_eq!(
            shape(&one_lane),
            ["search/random: x", "sort/random: a b c", "sort/sorted: a b",]
        );
        // Every unit holds one case of one problem only.
        for unit in &one_lane {
            assert!(unit.iter().all(|j| j.case.id == unit[0].case.id
                && j.job.descriptor.problem == unit[0].job.descriptor.problem));
        }
        // No lane count is treated as one lane.
        assert_eq!(shape(&case_groups(measure_jobs(), 0)), shape(&one_lane));
        // Two lanes: a case's candidates are dealt round-robin, one unit per lane.
        assert_eq!(
            shape(&case_groups(measure_jobs(), 2)),
            [
                "search/random: x",
                "sort/random: a c",
                "sort/random: b",
                "sort/sorted: a",
                "sort/sorted: b",
            ]
        );
        // More lanes than candidates: one candidate per unit, none empty, none lost.
        let wide = case_groups(measure_jobs(), 8);
        assert_eq!(wide.len(), 6);
        assert!(wide.iter().all(|u| u.len() == 1));
        let mut seen: Vec<(usize, String)> = wide
            .iter()
            .flatten()
            .map(|j| (j.index, j.case.id.clone()))
            .collect();
        seen.sort();
        let mut all: Vec<(usize, String)> = measure_jobs()
            .into_iter()
            .map(|j| (j.index, j.case.id))
            .collect();
        all.sort();
        assert_eq!(seen, all);
    }

    #[test]
    fn later_processes_warm_up_briefly() {
        assert_eq!(warmup_calls(5000, true), 5000);
        assert_eq!(warmup_calls(5000, false), 500);
        // A candidate whose one call fills a sample still warms up with one call.
        assert_eq!(warmup_calls(1, false), 1);
        assert_eq!(warmup_calls(9, false), 1);
    }

    #[test]
    fn samples_spread_over_processes_within_max_trials() {
        // Defaults: trials 5, max_trials 30.
        assert_eq!(
            Spread::new(5, 30),
            Spread {
                processes: 4,
                per_process: 3
            }
        );
        // Room for two blocks only.
        assert_eq!(
            Spread::new(5, 8),
            Spread {
                processes: 2,
                per_process: 3
            }
        );
        // Many trials asked for: bigger blocks.
        assert_eq!(Spread::new(20, 40).per_process, 5);
        // Tiny budgets still measure.
        assert_eq!(
            Spread::new(1, 1),
            Spread {
                processes: 1,
                per_process: 1
            }
        );
    }
}
