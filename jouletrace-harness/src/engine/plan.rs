//! Phase 1 of a run: list every target's candidates and decide which take part.

use super::error::ListingError;
use super::{CandidateDescriptor, EngineError, Event, Observer, Target};
use crate::config::RunConfig;
use crate::pool::{Worker, WorkerCommand};
use crate::protocol::{Request, Response};
use crate::registry::CaseInfo;

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

/// One measured case of one candidate.
pub(crate) struct MeasureJob<'a> {
    /// The candidate's position in [`Plan::jobs`].
    pub index: usize,
    pub job: &'a Job,
    pub case: CaseInfo,
}

/// The candidates of a run and which of them it checks.
pub(crate) struct Plan {
    /// Every candidate of every target, sorted by id (partition positions count in this order).
    pub jobs: Vec<Job>,
    /// Targets that turned out not to be JouleTrace benches (only when several run together).
    pub skipped: Vec<String>,
    /// What runs each target's candidates, as its workers announced it.
    pub hosts: Vec<crate::results::HostRecord>,
    /// Positions of the candidates this run reports: selected by name and partition.
    pub in_run: Vec<usize>,
    /// Those of `in_run` that are checked (the others are `ignore`d).
    pub to_check: Vec<usize>,
}

impl Plan {
    /// Measured cases of the checked candidates (before any check fails).
    pub fn measured_cases(&self) -> usize {
        self.to_check
            .iter()
            .map(|&i| {
                self.jobs[i]
                    .descriptor
                    .cases
                    .iter()
                    .filter(|c| c.measured)
                    .count()
            })
            .sum()
    }
}

/// What a target's worker said when asked to list: its host and its candidates.
#[derive(Clone, Debug)]
pub struct Listing {
    pub host: Option<crate::protocol::HostInfo>,
    pub candidates: Vec<CandidateDescriptor>,
}

/// Asks a target which candidates it hosts, and what runs them (without the run lock: callers
/// outside a run use [`super::list`]).
pub fn describe(target: &Target, config: &RunConfig) -> Result<Listing, EngineError> {
    let cmd = WorkerCommand {
        sandbox: sandbox_for(target, config),
        ..target.worker_command(config.capture_limit)
    };
    let fail = |source: ListingError| EngineError::Listing {
        binary: target.command_line(),
        source,
    };
    let timeout = std::time::Duration::from_secs(30);
    let mut worker = Worker::spawn(&cmd, timeout).map_err(|e| match e {
        e if target.kind == super::TargetKind::Host => fail(ListingError::HostNotStarted {
            version: crate::protocol::PROTOCOL_VERSION,
            error: e,
        }),
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
        other => fail(ListingError::Worker(other)),
    })?;
    let answer = worker.request(&Request::List, timeout, None);
    worker.shutdown();
    if let Err(message) = super::host::metered_from_outside(target.kind, worker.metering()) {
        return Err(fail(ListingError::Metering(message)));
    }
    match answer {
        Ok(Response::Candidates { candidates }) => Ok(Listing {
            host: worker.host.clone(),
            candidates,
        }),
        Ok(other) => Err(fail(ListingError::Unexpected(format!("{other:?}")))),
        Err(error) => Err(fail(ListingError::Failed {
            error,
            stderr: worker.output().1.text.trim().to_owned(),
        })),
    }
}

/// Lists every target and selects the candidates the run takes.
pub fn plan(
    targets: &[Target],
    config: &RunConfig,
    observer: &mut dyn Observer,
) -> Result<Plan, EngineError> {
    let mut jobs = Vec::new();
    let mut skipped = Vec::new();
    let mut hosts = Vec::new();
    for t in targets {
        let listed = match describe(t, config) {
            Ok(l) => l,
            // Only when several binaries run together: a lone binary that is not a harness is
            // the user's mistake to hear about.
            Err(e @ EngineError::NotAHarness { .. }) if targets.len() > 1 => {
                observer.event(&Event::Note {
                    message: format!("skipped: {e}"),
                });
                skipped.push(t.label.clone());
                continue;
            }
            Err(e) => return Err(e),
        };
        hosts.extend(listed.host.map(|host| crate::results::HostRecord {
            target: t.label.clone(),
            host,
        }));
        jobs.extend(listed.candidates.into_iter().map(|d| Job {
            target: t.clone(),
            descriptor: d,
        }));
    }
    // No target at all is a run with nothing to do (a job whose Rust candidates all failed to
    // compile: rust_source records them); targets that list nothing are a mistake.
    if jobs.is_empty() && !targets.is_empty() {
        return Err(EngineError::NoCandidates(format!(
            "{} registered no #[joule_bench] candidate",
            targets
                .iter()
                .map(|t| t.label.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        )));
    }
    jobs.sort_by(|a, b| a.descriptor.id.cmp(&b.descriptor.id));
    let mut in_run = Vec::new();
    let mut to_check = Vec::new();
    for (i, job) in jobs.iter().enumerate() {
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
    Ok(Plan {
        jobs,
        skipped,
        hosts,
        in_run,
        to_check,
    })
}
