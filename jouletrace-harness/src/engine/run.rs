//! One run, from listing the candidates to the results: the orchestration itself.

use std::collections::BTreeMap;

use super::{
    CancelToken, CandidateDescriptor, EngineError, Observer, Target, check, environment, gates,
    idle, lock, measure, meter, parallel, slots, summarize,
};
use crate::config::RunConfig;
use crate::energy::monotonic_ns;
use crate::pool::{Worker, WorkerCommand};
use crate::protocol::{Request, Response};
use crate::registry::CaseInfo;
use crate::results::{
    CandidateResult, CaseMeasurement, CaseRecord, CheckRecord, ProblemResult, RunInfo, RunMode,
    RunResults, SCHEMA_VERSION, Settings, Status, Tool,
};

/// A CPU a worker runs on.
#[derive(Clone, Debug)]
pub(crate) struct Slot {
    pub cpu: u32,
    pub package: Option<u32>,
}

/// A measuring lane: one slot whose measured windows may overlap with other lanes' (they are in
/// different energy-domain scopes).
pub(crate) type Lane = Slot;

/// One candidate of one target.
pub(crate) struct Job {
    pub target: Target,
    pub descriptor: CandidateDescriptor,
}

impl Job {
    pub fn worker_command(
        &self,
        cpu: Option<u32>,
        config: &RunConfig,
        memory_limit_mb: Option<u64>,
    ) -> WorkerCommand {
        WorkerCommand {
            cpu,
            memory_limit_mb,
            isolate_network: config.isolate_network,
            sandbox: sandbox_for(&self.target, config),
            ..self.target.worker_command(config.capture_limit)
        }
    }
}

pub(crate) struct MeasureJob<'a> {
    pub index: usize,
    pub job: &'a Job,
    pub case: CaseInfo,
}

pub(crate) enum Event {
    CheckStarted(String),
    CheckFinished(usize, Box<CheckRecord>),
    MeasureStarted {
        candidate: String,
        case: String,
        planned: u32,
    },
    Sample {
        candidate: String,
        case: String,
        sample: Box<crate::results::Sample>,
        done: u32,
    },
    MeasureFinished(usize, Box<CaseMeasurement>),
}

/// The sandbox of a target's workers: bench binaries built from the user's workspace are
/// trusted, hosts of candidates given as data are not (pool/sandbox).
fn sandbox_for(target: &Target, config: &RunConfig) -> Option<crate::pool::sandbox::SandboxSpec> {
    crate::pool::sandbox::spec_for(
        config,
        target.kind == super::TargetKind::Bench,
        target.cwd.as_deref(),
        &target.args,
    )
}

/// Seconds from `origin_ns` to `ns`, both on `CLOCK_MONOTONIC`.
pub(crate) fn clock_s(ns: u64, origin_ns: u64) -> f64 {
    (ns as f64 - origin_ns as f64) * 1e-9
}

fn now_rfc3339() -> String {
    humantime::format_rfc3339_seconds(std::time::SystemTime::now()).to_string()
}

/// Asks a target which candidates it hosts.
pub fn list(target: &Target, config: &RunConfig) -> Result<Vec<CandidateDescriptor>, EngineError> {
    describe(target, config).map(|l| l.candidates)
}

/// What a target's worker said when asked to list: its host and its candidates.
#[derive(Clone, Debug)]
pub struct Listing {
    pub host: Option<crate::protocol::HostInfo>,
    pub candidates: Vec<CandidateDescriptor>,
}

/// Asks a target which candidates it hosts, and what runs them.
pub fn describe(target: &Target, config: &RunConfig) -> Result<Listing, EngineError> {
    let cmd = WorkerCommand {
        sandbox: sandbox_for(target, config),
        ..target.worker_command(config.capture_limit)
    };
    let fail = |message: String| EngineError::Listing {
        binary: target.command_line(),
        message,
    };
    let timeout = std::time::Duration::from_secs(30);
    let mut worker = Worker::spawn(&cmd, timeout).map_err(|e| match e {
        crate::pool::WorkerError::Died { status } => EngineError::NotAHarness {
            binary: target.label.clone(),
            detail: format!(
                "started as `{}`, it exited ({status}) before the worker handshake",
                target.command_line()
            ),
        },
        crate::pool::WorkerError::Protocol { message } => EngineError::NotAHarness {
            binary: target.label.clone(),
            detail: format!("it does not speak the worker protocol ({message})"),
        },
        other => fail(other.to_string()),
    })?;
    let answer = worker.request(&Request::List, timeout, None);
    worker.shutdown();
    match answer {
        Ok(Response::Candidates { candidates }) => Ok(Listing {
            host: worker.host.clone(),
            candidates,
        }),
        Ok(other) => Err(fail(format!("unexpected answer {other:?}"))),
        Err(e) => Err(fail(format!(
            "{e}; its stderr: {}",
            worker.output().1.text.trim()
        ))),
    }
}

/// Runs checks (and, when `config.measure`, measurements) of every selected candidate of every
/// target. See the module documentation.
pub fn run(
    targets: &[Target],
    config: &RunConfig,
    observer: &mut dyn Observer,
    cancel: &CancelToken,
) -> Result<RunResults, EngineError> {
    let origin_ns = monotonic_ns();
    let started_at = now_rfc3339();
    // A sandbox weaker than configured stops the run before any worker starts.
    let sandbox = crate::pool::sandbox::Sandbox::probed(config.sandbox.clone());
    sandbox.check()?;
    let mut untrusted = false;
    for t in targets {
        let trusted = t.kind == super::TargetKind::Bench;
        sandbox.applies(trusted, &t.label)?;
        untrusted |= !trusted;
    }
    let sandbox_level = sandbox.level(untrusted);
    if sandbox_level.level == "partial" {
        observer.note(&format!("sandbox {}", sandbox_level.summary()));
    }
    let mut all = Vec::new();
    let mut skipped = Vec::new();
    let mut hosts = Vec::new();
    for t in targets {
        let listed = match describe(t, config) {
            Ok(l) => l,
            // Only when several binaries run together: a lone binary that is not a harness is
            // the user's mistake to hear about.
            Err(e @ EngineError::NotAHarness { .. }) if targets.len() > 1 => {
                observer.note(&format!("skipped: {e}"));
                skipped.push(t.label.clone());
                continue;
            }
            Err(e) => return Err(e),
        };
        hosts.extend(listed.host.map(|host| crate::results::HostRecord {
            target: t.label.clone(),
            host,
        }));
        for d in listed.candidates {
            all.push(Job {
                target: t.clone(),
                descriptor: d,
            });
        }
    }
    if all.is_empty() {
        return Err(EngineError::NoCandidates(format!(
            "{} registered no #[joule_bench] candidate",
            targets
                .iter()
                .map(|t| t.label.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        )));
    }
    all.sort_by(|a, b| a.descriptor.id.cmp(&b.descriptor.id));
    let slots = slots::slots(config)?;
    let mut environment = environment::probe(config);
    environment.sandbox = Some(sandbox_level);
    environment.worker_cpus = slots.iter().map(|s| s.cpu).collect();
    let mut selection = if config.measure {
        Some(meter::select(config)?)
    } else {
        None
    };
    if let Some(sel) = &mut selection {
        sel.record
            .warnings
            .extend(gates::frequency_warnings(&environment));
        for w in &sel.record.warnings {
            observer.note(w);
        }
    }

    // Which candidates run, and the records of those that don't.
    let mut checks: Vec<Option<CheckRecord>> = vec![None; all.len()];
    let mut to_check = Vec::new();
    let mut in_run = Vec::new();
    for (i, job) in all.iter().enumerate() {
        let d = &job.descriptor;
        let named = config.selects(&d.id)
            && config
                .partition
                .as_ref()
                .is_none_or(|p| p.selects(&d.id, i));
        if !named {
            // Filtered out by name or shard: not part of this run's results at all, so that
            // shards merge into exactly the unsharded set.
            continue;
        }
        in_run.push(i);
        if !d.options.ignore || config.include_ignored {
            to_check.push(i);
        }
    }
    let measured_cases: usize = to_check
        .iter()
        .map(|&i| {
            all[i]
                .descriptor
                .cases
                .iter()
                .filter(|c| c.measured)
                .count()
        })
        .sum();
    observer.plan(
        to_check.len(),
        if config.measure { measured_cases } else { 0 },
    );

    parallel::drain_queue(
        &slots,
        to_check.clone(),
        |slot, i, tx| {
            if cancel.is_cancelled() {
                return;
            }
            let _ = tx.send(Event::CheckStarted(all[i].descriptor.id.clone()));
            let record = check::check(&all[i], slot, config, cancel);
            let _ = tx.send(Event::CheckFinished(i, Box::new(record)));
        },
        |event| match event {
            Event::CheckStarted(id) => observer.check_started(&id),
            Event::CheckFinished(i, record) => {
                observer.check_finished(&all[i].descriptor.id, &record);
                checks[i] = Some(*record);
            }
            _ => {}
        },
    );

    let mut measurements: Vec<Vec<CaseMeasurement>> = vec![Vec::new(); all.len()];
    let idle = idle::IdleTable::default();
    if let Some(sel) = &selection
        && !cancel.is_cancelled()
    {
        let jobs: Vec<MeasureJob<'_>> = to_check
            .iter()
            .filter(|&&i| {
                checks[i]
                    .as_ref()
                    .is_some_and(|c| c.status == Status::Passed)
            })
            .flat_map(|&i| {
                all[i]
                    .descriptor
                    .cases
                    .iter()
                    .filter(|c| c.measured)
                    .map(move |c| (i, c))
            })
            .map(|(i, c)| MeasureJob {
                index: i,
                job: &all[i],
                case: c.clone(),
            })
            .collect();
        if !jobs.is_empty() {
            let _lock = lock::acquire(&config.lock_path, config.wait_for_lock, observer)?;
            let lanes = meter::lanes(&slots, sel);
            // Lanes whose last measurement saw negative net power: their idle is re-taken.
            let drift = std::sync::Mutex::new(std::collections::BTreeSet::new());
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
                            .is_none_or(|d| !matches!(d.scope, crate::energy::Scope::System))
                    });
                }
                ds
            };
            for lane in &lanes {
                if let Err(e) = idle.measure(
                    &sel.spec,
                    &idle_domains(lane),
                    config.idle_window,
                    origin_ns,
                ) {
                    observer.note(&format!(
                        "idle power could not be measured on CPU {}: {e}; net energy is reported as gross",
                        lane.cpu
                    ));
                }
            }
            for r in idle.all() {
                observer.idle_measured(&r);
            }
            // With one lane nothing else heats the package between jobs, so waiting for it to
            // cool is meaningful; with several, the others would keep it warm.
            let thermal = (lanes.len() == 1)
                .then(|| gates::Thermal::at_idle(crate::sysfs::Sysfs::new(&config.sysfs_root)));
            let cx = measure::MeasureContext {
                config,
                meter: sel,
                origin_ns,
                idle: &idle,
                cancel,
            };
            parallel::drain_queue(
                &lanes,
                jobs,
                |lane, job, tx| {
                    if cancel.is_cancelled() {
                        return;
                    }
                    let domains = idle_domains(lane);
                    let drifted = lane_drift(lane);
                    if (drifted || idle.stale(&domains, config.idle_every, origin_ns))
                        && !domains.is_empty()
                    {
                        let _ = idle.measure(&sel.spec, &domains, config.idle_window, origin_ns);
                    }
                    if let Some(t) = &thermal {
                        t.settle(config.settle_timeout, cancel);
                    }
                    let m = measure::measure(&job, lane, &cx, tx);
                    set_lane_drift(lane, measure::net_went_negative(&m));
                    let _ = tx.send(Event::MeasureFinished(job.index, Box::new(m)));
                },
                |event| match event {
                    Event::MeasureStarted {
                        candidate,
                        case,
                        planned,
                    } => observer.measure_started(&candidate, &case, planned),
                    Event::Sample {
                        candidate,
                        case,
                        sample,
                        done,
                    } => observer.sample_done(&candidate, &case, &sample, done),
                    Event::MeasureFinished(i, m) => {
                        observer.measure_finished(&all[i].descriptor.id, &m.case, &m);
                        measurements[i].push(*m);
                    }
                    _ => {}
                },
            );
        }
    }

    let interrupted = cancel.is_cancelled();
    let mut problems: BTreeMap<String, ProblemResult> = BTreeMap::new();
    for &i in &in_run {
        let job = &all[i];
        let d = &job.descriptor;
        let check = checks[i].take().unwrap_or_else(|| CheckRecord {
            status: if to_check.contains(&i) {
                Status::NotRun
            } else {
                Status::Ignored
            },
            cases_passed: 0,
            duration_s: 0.0,
            failure: None,
            stdout: Default::default(),
            stderr: Default::default(),
            verdicts: Vec::new(),
        });
        let mut ms = std::mem::take(&mut measurements[i]);
        ms.sort_by(|a, b| {
            let pos = |c: &str| d.cases.iter().position(|x| x.id == c);
            pos(&a.case).cmp(&pos(&b.case))
        });
        let problem = problems
            .entry(d.problem.clone())
            .or_insert_with(|| ProblemResult {
                name: d.problem.clone(),
                cases: d
                    .cases
                    .iter()
                    .map(|c| CaseRecord {
                        id: c.id.clone(),
                        size: c.size,
                        measured: c.measured,
                    })
                    .collect(),
                candidates: Vec::new(),
                rankings: Vec::new(),
            });
        problem.candidates.push(CandidateResult {
            id: d.id.clone(),
            name: d.name.clone(),
            location: d.location.clone(),
            binary: Some(job.target.label.clone()),
            status: check.status,
            check,
            measurements: ms,
            threshold: d.options.threshold,
        });
    }
    let mut problems: Vec<ProblemResult> = problems.into_values().collect();
    let primary = selection.as_ref().map(|s| s.record.primary_domain.clone());
    for p in &mut problems {
        summarize::problem(
            p,
            primary.as_deref(),
            selection.as_ref().map(|s| &s.record),
            config,
        );
    }

    let results = RunResults {
        schema_version: SCHEMA_VERSION.into(),
        tool: Tool {
            name: "jouletrace".into(),
            version: env!("CARGO_PKG_VERSION").into(),
        },
        run: RunInfo {
            started_at,
            finished_at: Some(now_rfc3339()),
            complete: !interrupted,
            incomplete_reason: interrupted.then(|| "interrupted".to_owned()),
            mode: if config.measure {
                RunMode::Bench
            } else {
                RunMode::Check
            },
            command_line: std::env::args().collect(),
            binaries: targets
                .iter()
                .map(|t| t.label.clone())
                .filter(|l| !skipped.contains(l))
                .collect(),
            skipped_binaries: skipped,
            hosts,
            monotonic_origin_ns: origin_ns,
            partition: config.partition.as_ref().map(|p| p.to_string()),
        },
        environment,
        meter: selection.map(|s| s.record),
        idle: idle.all(),
        settings: Settings {
            min_sample_time_s: config.min_sample_time.as_secs_f64(),
            warmup: config.warmup,
            min_trials: config.min_trials,
            max_trials: config.max_trials,
            target_ci: config.target_ci,
            time_budget_s: config.time_budget.as_secs_f64(),
            timeout_s: config.timeout.as_secs_f64(),
            memory_limit_mb: config.memory_limit_mb,
            isolate_network: config.isolate_network,
            threshold: config.threshold,
            confidence_level: config.confidence_level,
            bootstrap_resamples: config.bootstrap_resamples,
            seed: config.seed,
        },
        problems,
        baseline: None,
    };
    observer.finished(&results);
    Ok(results)
}
