//! Phase 4 of a run: the records gathered, as one [`RunResults`] with statistics and rankings.

use std::collections::BTreeMap;

use super::meter::Selection;
use super::plan::Plan;
use super::{RunContext, background, summarize};
use crate::config::RunConfig;
use crate::results::{
    CandidateResult, CaseMeasurement, CaseRecord, CheckRecord, Environment, IdleRecord, LockRecord,
    ProblemResult, RunInfo, RunMode, RunResults, SCHEMA_VERSION, Settings, Status, Tool,
};

/// Everything a run gathered.
pub struct Gathered {
    pub plan: Plan,
    pub checks: Vec<Option<CheckRecord>>,
    pub measurements: Vec<Vec<CaseMeasurement>>,
    pub selection: Option<Selection>,
    pub idle: Vec<IdleRecord>,
    pub environment: Environment,
    pub lock: Option<LockRecord>,
    pub started_at: String,
    pub origin_ns: u64,
    pub interrupted: bool,
}

pub fn now_rfc3339() -> String {
    humantime::format_rfc3339_seconds(std::time::SystemTime::now()).to_string()
}

pub fn results(
    g: Gathered,
    targets: &[String],
    config: &RunConfig,
    context: &RunContext,
) -> RunResults {
    let Gathered {
        plan,
        mut checks,
        mut measurements,
        selection,
        idle,
        environment,
        lock,
        started_at,
        origin_ns,
        interrupted,
    } = g;
    let mut problems: BTreeMap<String, ProblemResult> = BTreeMap::new();
    for &i in &plan.in_run {
        let job = &plan.jobs[i];
        let d = &job.descriptor;
        let check = checks[i].take().unwrap_or_else(|| {
            CheckRecord::without_worker(if plan.to_check.contains(&i) {
                Status::NotRun
            } else {
                Status::Ignored
            })
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
    // How busy the machine was, in the environment and in the meter's warnings.
    let mut environment = environment;
    let mut selection = selection;
    environment.background = background::summarize(&problems, &idle);
    if let (Some(sel), Some(bg)) = (&mut selection, &environment.background) {
        sel.record.warnings.extend(background::warnings(bg));
    }
    RunResults {
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
            command_line: context.command_line.clone(),
            binaries: targets
                .iter()
                .filter(|l| !plan.skipped.contains(l))
                .cloned()
                .collect(),
            skipped_binaries: plan.skipped,
            hosts: plan.hosts,
            monotonic_origin_ns: origin_ns,
            partition: config.partition.as_ref().map(|p| p.to_string()),
            lock,
        },
        environment,
        meter: selection.map(|s| s.record),
        idle,
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
    }
}
