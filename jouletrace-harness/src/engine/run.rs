//! One run, from listing the candidates to the results: the phases, in order, under the
//! machine-wide run lock.
//!
//! 1. `plan`: list every target's candidates, select by name and partition (lock: shared);
//! 2. `check`: check them in parallel, one worker per slot (lock: shared);
//! 3. `schedule`: idle baselines and measured trials, by energy-domain scope (lock: exclusive);
//! 4. `assemble`: statistics, rankings and the results record (lock released).

use super::assemble::{self, Gathered};
use super::idle::IdleTable;
use super::lock::RunLock;
use super::schedule::{self, Schedule};
use super::{
    CancelToken, CandidateDescriptor, EngineError, Event, Observer, RunContext, Target, TargetKind,
    background, check, environment, gates, history, meter, plan, slots,
};
use crate::config::RunConfig;
use crate::energy::monotonic_ns;
use crate::results::{LockMode, LockRecord, RunResults};
use crate::sysfs::Sysfs;

/// Seconds from `origin_ns` to `ns`, both on `CLOCK_MONOTONIC`.
pub(crate) fn clock_s(ns: u64, origin_ns: u64) -> f64 {
    (ns as f64 - origin_ns as f64) * 1e-9
}

/// Asks a target which candidates it hosts, under the machine's run lock (shared: a listing
/// starts a process, which must not land in another run's measured window).
pub fn list(
    target: &Target,
    config: &RunConfig,
    context: &RunContext,
) -> Result<Vec<CandidateDescriptor>, EngineError> {
    let mut lock = RunLock::open(&context.lock_path, monotonic_ns()).map_err(EngineError::Lock)?;
    let held = lock
        .acquire(
            LockMode::Shared,
            config.wait_for_lock,
            &mut super::NullObserver,
            &CancelToken::new(),
        )?
        .expect("a wait that cannot be cancelled ends with the lock");
    let listed = plan::describe(target, config).map(|l| l.candidates);
    lock.release(held);
    listed
}

/// Checks (and, when `config.measure`, measures) every selected candidate of every target.
/// See the module documentation.
pub fn run(
    targets: &[Target],
    config: &RunConfig,
    context: &RunContext,
    observer: &mut dyn Observer,
    cancel: &CancelToken,
) -> Result<RunResults, EngineError> {
    let origin_ns = monotonic_ns();
    let started_at = assemble::now_rfc3339();
    // A sandbox weaker than configured stops the run before any worker starts.
    let sandbox = crate::pool::sandbox::Sandbox::probed(config.sandbox.clone());
    sandbox.check()?;
    let mut untrusted = false;
    for t in targets {
        let trusted = t.kind == TargetKind::Bench;
        sandbox.applies(trusted, &t.label)?;
        untrusted |= !trusted;
    }
    let sandbox_level = sandbox.level(untrusted);
    if sandbox_level.level == "partial" {
        observer.event(&Event::Note {
            message: format!("sandbox {}", sandbox_level.summary()),
        });
    }
    let mut lock = RunLock::open(&context.lock_path, origin_ns).map_err(EngineError::Lock)?;

    let Some(shared) = lock.acquire(LockMode::Shared, config.wait_for_lock, observer, cancel)?
    else {
        return Err(EngineError::Interrupted);
    };
    let plan = plan::plan(targets, config, observer)?;
    let slots = slots::slots(config, &Sysfs::new(&context.sysfs_root))?;
    let mut environment = environment::probe(context);
    environment.sandbox = Some(sandbox_level);
    environment.worker_cpus = slots.iter().map(|s| s.cpu).collect();
    let mut selection = if config.measure {
        Some(meter::select(config, &context.sysfs_root)?)
    } else {
        None
    };
    // The one exception to "no energy counters": a sandboxed bench binary that meters itself
    // (engine/measure.rs grants it its counter). Recorded, never silent.
    if let (Some(sel), Some(level)) = (&selection, environment.sandbox.as_mut())
        && sel.spec.backend != crate::energy::Backend::Estimate
        && targets.iter().any(|t| t.kind == super::TargetKind::Bench)
        && crate::pool::sandbox::spec_for(config, true, None, &[]).is_some()
    {
        level.notes.push(format!(
            "measuring bench workers meter themselves ({}): they keep perf_event_open, read \
             access to {} and the orchestrator's user",
            sel.spec.backend,
            sel.spec.sysfs_root.display()
        ));
    }
    if let Some(sel) = &mut selection {
        sel.record
            .warnings
            .extend(gates::frequency_warnings(&environment));
        for w in &sel.record.warnings {
            observer.event(&Event::Note { message: w.clone() });
        }
    }
    observer.event(&Event::Plan {
        candidates: plan.to_check.len(),
        measured_cases: if config.measure {
            plan.measured_cases()
        } else {
            0
        },
    });
    let checks = check::check_all(&plan, &slots, config, origin_ns, observer, cancel);
    lock.release(shared);

    let idle = IdleTable::default();
    let mut measurements = vec![Vec::new(); plan.jobs.len()];
    if let Some(sel) = &selection
        && !cancel.is_cancelled()
    {
        let jobs = schedule::jobs(&plan, &checks);
        let exclusive = if jobs.is_empty() {
            None
        } else {
            // `None`: interrupted while waiting; the checks are still reported.
            lock.acquire(LockMode::Exclusive, config.wait_for_lock, observer, cancel)?
        };
        if let Some(exclusive) = exclusive {
            let s = Schedule {
                config,
                meter: sel,
                slots: &slots,
                sysfs_root: &context.sysfs_root,
                origin_ns,
                idle: &idle,
                cancel,
            };
            measurements = schedule::measure_all(&plan, jobs, &s, observer);
            lock.release(exclusive);
        }
    }

    let labels: Vec<String> = targets.iter().map(|t| t.label.clone()).collect();
    let mut results = assemble::results(
        Gathered {
            plan,
            checks,
            measurements,
            selection,
            idle: idle.all(),
            environment,
            lock: Some(LockRecord {
                path: lock.path().display().to_string(),
                holds: lock.holds().to_vec(),
            }),
            started_at,
            origin_ns,
            interrupted: cancel.is_cancelled(),
        },
        &labels,
        config,
        context,
    );
    // The machine's run-to-run variation, from this host class's history (or the meter's prior),
    // widens every interval; history trouble is a warning, never a failed run.
    if let Some(outcome) = history::apply(&mut results, config.history_dir()) {
        for message in outcome.warnings {
            observer.event(&Event::Note {
                message: message.clone(),
            });
            if let Some(meter) = &mut results.meter {
                meter.warnings.push(message);
            }
        }
    }
    // How busy the machine was: said aloud now, recorded by `assemble` in the results.
    if let Some(bg) = &results.environment.background {
        for message in background::warnings(bg) {
            observer.event(&Event::Note { message });
        }
    }
    let failed = results
        .candidates()
        .filter(|c| c.status.is_failure())
        .count();
    observer.event(&Event::RunFinished {
        complete: results.run.complete,
        candidates: results.candidates().count(),
        failed,
    });
    Ok(results)
}
