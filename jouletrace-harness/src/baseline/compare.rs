//! Comparing a run with a baseline, candidate by candidate and case by case.

use std::collections::{BTreeMap, BTreeSet};

use crate::engine::summarize::{per_call, per_call_grouped, unreliable, used_samples};
use crate::results::{
    BaselineComparison, CaseMeasurement, ChangeEntry, ChangeRunToRun, ChangeVerdict, Estimate,
    RunResults, Settings, Status,
};
use crate::stats::{self, BootstrapOptions};
use crate::units::Joules;

/// The least change an estimated comparison with a side measured on a busy machine must show to
/// count: the largest bias seen on the 2-core CI VM under load was +14% (quiet samples of one run
/// of the examples at load average 12, docs/statistics.md), and hosted runners are advised a 25%
/// threshold anyway. A doubling still fails the gate.
pub const BUSY_ESTIMATE_BAR: f64 = 0.25;

/// How to compare. [`CompareOptions::from_settings`] takes everything from the new run's settings.
#[derive(Clone, Debug, PartialEq)]
pub struct CompareOptions {
    /// Relative change of energy per call beyond which a candidate regressed (0.05 = 5%).
    pub threshold: f64,
    /// Per-candidate thresholds (`#[joule_bench(threshold = …)]`), by candidate id.
    pub thresholds: BTreeMap<String, f64>,
    pub confidence_level: f64,
    pub resamples: u32,
    pub seed: u64,
    /// Compare even when the runs are not comparable; the result is marked `forced`.
    pub force: bool,
}

impl CompareOptions {
    pub fn from_settings(settings: &Settings) -> CompareOptions {
        CompareOptions {
            threshold: settings.threshold,
            thresholds: BTreeMap::new(),
            confidence_level: settings.confidence_level,
            resamples: settings.bootstrap_resamples,
            seed: settings.seed,
            force: false,
        }
    }
}

#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum CompareError {
    #[error(
        "refusing to compare with baseline `{name}` ({file}): {}; pass --force-compare to compare \
         anyway (the comparison is then marked as forced)",
        reasons.join("; ")
    )]
    Incompatible {
        name: String,
        file: String,
        reasons: Vec<String>,
    },
    #[error(
        "cannot compare with baseline `{name}` ({file}): {which} measured no energy (a check-only run)"
    )]
    NotMeasured {
        name: String,
        file: String,
        which: &'static str,
    },
}

/// Why the energies of `old` and `new` cannot be compared; empty when they can. Both must have a
/// meter.
pub fn incompatibilities(old: &RunResults, new: &RunResults) -> Vec<String> {
    let mut reasons = Vec::new();
    let (Some(a), Some(b)) = (&old.meter, &new.meter) else {
        return reasons;
    };
    if a.estimated != b.estimated {
        let kind = |e: bool| if e { "estimated" } else { "measured" };
        reasons.push(format!(
            "the baseline is {} and this run is {}: an estimate is compared only with estimates",
            kind(a.estimated),
            kind(b.estimated)
        ));
    }
    if a.backend != b.backend {
        reasons.push(format!(
            "the baseline used the {:?} meter and this run the {:?} meter",
            a.backend, b.backend
        ));
    } else if a.primary_domain != b.primary_domain {
        reasons.push(format!(
            "the baseline ranks domain `{}` and this run domain `{}`",
            a.primary_domain, b.primary_domain
        ));
    }
    if a.estimated && b.estimated && a.estimate_watts_per_core != b.estimate_watts_per_core {
        reasons.push(format!(
            "the estimates charge different power per core ({:?} W and {:?} W)",
            a.estimate_watts_per_core.map(|w| w.get()),
            b.estimate_watts_per_core.map(|w| w.get())
        ));
    }
    let (ca, cb) = (&old.environment.cpu_model, &new.environment.cpu_model);
    if ca != cb {
        let show = |c: &Option<String>| c.clone().unwrap_or_else(|| "an unknown CPU".into());
        reasons.push(format!(
            "the baseline ran on {} and this run on {}",
            show(ca),
            show(cb)
        ));
    }
    reasons
}

/// Energy per call of each sample of `m` in its primary domain (the package its worker ran on,
/// else the run's): net (idle-subtracted) when `net`, else gross.
///
/// Samples flagged for background activity are left out as in the run's own statistics.
pub fn energy_per_call(results: &RunResults, m: &CaseMeasurement, net: bool) -> Vec<f64> {
    let (samples, _) = used_samples(m, results.settings.min_trials);
    match (&m.primary_domain, &results.meter) {
        (Some(domain), _) => per_call(&samples, domain, net),
        (None, Some(meter)) => per_call(&samples, &meter.primary_domain, net),
        (None, None) => Vec::new(),
    }
}

/// [`energy_per_call`] grouped by the worker process that took each sample.
pub fn energy_per_call_grouped(
    results: &RunResults,
    m: &CaseMeasurement,
    net: bool,
) -> Vec<Vec<f64>> {
    let (samples, _) = used_samples(m, results.settings.min_trials);
    match (&m.primary_domain, &results.meter) {
        (Some(domain), _) => per_call_grouped(&samples, domain, net),
        (None, Some(meter)) => per_call_grouped(&samples, &meter.primary_domain, net),
        (None, None) => Vec::new(),
    }
}

/// The run-to-run noise of a change between `old` and `new`: each side's between-process
/// spread (σ of one process's median, relative) and each side's run-to-run σ (`sigmas`: the
/// machine's whole-run shift, [`run_sigma`]), combined in quadrature and taken to the two-sided
/// `level` point of a normal. A side with one process contributes the other side's spread (the
/// same code on the same machine varies alike); with neither side showing a between-process
/// spread, the run-level σ alone (`None` when that is zero too).
pub fn change_noise(
    old: &[Vec<f64>],
    new: &[Vec<f64>],
    sigmas: [f64; 2],
    level: f64,
) -> Option<f64> {
    let (a, b) = (
        stats::between_process_spread(old),
        stats::between_process_spread(new),
    );
    let (a, b) = match (a, b) {
        (None, None) => (0.0, 0.0),
        (Some(x), None) | (None, Some(x)) => (x, x),
        (Some(a), Some(b)) => (a, b),
    };
    let runs = sigmas[0] * sigmas[0] + sigmas[1] * sigmas[1];
    let total = a * a + b * b + runs;
    (total > 0.0).then(|| stats::run_to_run::z(level) * total.sqrt())
}

/// The run-to-run σ one side of a comparison carries: as recorded with its statistics, else
/// (a file before schema 1.2) the prior of the meter that measured it.
pub fn run_sigma(results: &RunResults, m: &CaseMeasurement) -> f64 {
    m.stats
        .as_ref()
        .and_then(|s| s.run_to_run.as_ref())
        .map(|r| r.sigma)
        .or_else(|| {
            results
                .meter
                .as_ref()
                .map(|meter| stats::run_to_run::prior(meter.backend))
        })
        .unwrap_or(0.0)
}

/// One warning when some thresholds are below the noise the data show, naming the noise.
fn noise_warning(entries: &[ChangeEntry], new: &RunResults) -> Option<String> {
    let below: Vec<(&ChangeEntry, f64)> = entries
        .iter()
        .filter_map(|e| e.noise.filter(|n| *n > e.threshold).map(|n| (e, n)))
        .collect();
    let (first, _) = below.first()?;
    let noises: Vec<f64> = below.iter().map(|(_, n)| *n).collect();
    let median = stats::median(&noises).unwrap_or(0.0);
    let max = noises.iter().copied().fold(0.0, f64::max);
    let meter = new
        .meter
        .as_ref()
        .filter(|m| m.estimated)
        .map_or(String::new(), |_| {
            " (the estimate meter charges CPU time, which other work on a shared machine moves)"
                .into()
        });
    // The machine's whole-run shift is part of the noise: name it, so a reader sees which
    // share no amount of trials inside one run removes.
    let runs = first.run_to_run.map_or(String::new(), |r| {
        format!(
            "; it includes this machine's run-to-run σ of {:.1}% (baseline) and {:.1}% (this run), \
             which more trials do not reduce",
            r.old * 100.0,
            r.new * 100.0
        )
    });
    Some(format!(
        "the threshold ({:.1}%) is below the run-to-run noise these runs show for {} of {} \
         comparisons (median ±{:.1}%, up to ±{:.1}%{runs}){meter}: those verdicts need a change \
         beyond the noise; raise the threshold or measure on a quieter machine",
        first.threshold * 100.0,
        below.len(),
        entries.iter().filter(|e| e.change.is_some()).count(),
        median * 100.0,
        max * 100.0
    ))
}

/// Whether `m` finished with samples: only such a measurement has an energy per call.
fn completed(m: &CaseMeasurement) -> bool {
    m.failure.is_none() && !m.samples.is_empty()
}

/// Why `m` has no energy per call, as a status word (`timeout`, `no_samples`).
fn incomplete_kind(m: &CaseMeasurement) -> &'static str {
    m.failure.as_ref().map_or("no_samples", |f| f.kind.as_str())
}

fn net_positive(values: &[f64]) -> bool {
    !values.is_empty() && values.iter().all(|x| *x > 0.0)
}

/// The median energy per call of a measurement that has no counterpart on the other side: net
/// when every sample's net is positive, else gross (named in the warnings, as for compared
/// entries).
fn one_side(
    r: &RunResults,
    m: &CaseMeasurement,
    label: &str,
    warnings: &mut Vec<String>,
) -> Option<Joules> {
    let mut values = energy_per_call(r, m, true);
    if !net_positive(&values) {
        values = energy_per_call(r, m, false);
        warnings.push(format!(
            "{label}: energy per call shown on gross energy (net energy per call is not positive: \
             the candidate's power is within the idle power's noise)"
        ));
    }
    stats::median(&values).ok().map(Joules)
}

/// Builds `missing` entries: what is absent stays `None` and `reason` says why.
struct Missing<'a> {
    old: &'a RunResults,
    new: &'a RunResults,
    entries: Vec<ChangeEntry>,
    warnings: Vec<String>,
}

impl Missing<'_> {
    fn push(
        &mut self,
        candidate: &str,
        case: &str,
        old_m: Option<&CaseMeasurement>,
        new_m: Option<&CaseMeasurement>,
        threshold: f64,
        reason: String,
    ) {
        let label = format!("{candidate} (case `{case}`)");
        let old_energy = old_m.and_then(|m| one_side(self.old, m, &label, &mut self.warnings));
        let new_energy = new_m.and_then(|m| one_side(self.new, m, &label, &mut self.warnings));
        self.entries.push(ChangeEntry {
            candidate: candidate.into(),
            case: case.into(),
            old_energy_per_call_j: old_energy,
            new_energy_per_call_j: new_energy,
            change: None,
            threshold,
            noise: None,
            run_to_run: None,
            within_run: None,
            verdict: ChangeVerdict::Missing,
            reason: Some(reason),
        });
    }
}

/// Compares `new` with the baseline `old` (named `name`, read from `file`).
///
/// Energy per call is the net energy of the meter's primary domain per call, sample by sample;
/// where a net value is not positive on either side (idle power larger than the candidate's own),
/// that entry uses gross energy on both sides and says so in the warnings.
///
/// A candidate and case measured on one side only — a new candidate, a removed one, one that
/// failed its check or whose measurement did not complete — gets a [`ChangeVerdict::Missing`]
/// entry whose absent energies and change are `None` and whose `reason` says why, and is named in
/// the warnings too. `missing` is never a regression; a failed candidate fails the run through its
/// own status. Candidates `ignored` in this run (filtered out, or another shard's) are skipped, and
/// a shard (`--partition`) does not report the baseline's other candidates as removed.
pub fn compare(
    old: &RunResults,
    new: &RunResults,
    name: &str,
    file: &str,
    options: &CompareOptions,
) -> Result<BaselineComparison, CompareError> {
    for (r, which) in [(old, "the baseline"), (new, "this run")] {
        if r.meter.is_none() {
            return Err(CompareError::NotMeasured {
                name: name.into(),
                file: file.into(),
                which,
            });
        }
    }
    let reasons = incompatibilities(old, new);
    if !reasons.is_empty() && !options.force {
        return Err(CompareError::Incompatible {
            name: name.into(),
            file: file.into(),
            reasons,
        });
    }
    let mut out = Missing {
        old,
        new,
        entries: Vec::new(),
        warnings: reasons
            .iter()
            .map(|r| format!("forced comparison: {r}"))
            .collect(),
    };
    let old_by_id: BTreeMap<&str, _> = old.candidates().map(|c| (c.id.as_str(), c)).collect();
    let threshold_of = |id: &str, own: Option<f64>| {
        options
            .thresholds
            .get(id)
            .copied()
            .or(own)
            .unwrap_or(options.threshold)
    };
    // The baseline's completed measurements of a candidate; one that failed there has none.
    let old_measured = |id: &str| -> Vec<&CaseMeasurement> {
        old_by_id
            .get(id)
            .filter(|c| c.status == Status::Passed)
            .map(|c| c.measurements.iter().filter(|m| completed(m)).collect())
            .unwrap_or_default()
    };
    let mut seen = BTreeSet::new();
    let mut new_candidates: Vec<_> = new.candidates().collect();
    new_candidates.sort_by(|a, b| a.id.cmp(&b.id));
    for cand in new_candidates {
        seen.insert(cand.id.as_str());
        let threshold = threshold_of(&cand.id, cand.threshold);
        let baseline_ms = old_measured(&cand.id);
        match cand.status {
            Status::Passed => {}
            // Deliberately outside this run: filtered out, or measured by another shard.
            Status::Ignored => continue,
            status => {
                if status.is_failure() {
                    out.warnings.push(format!(
                        "{}: not compared, it failed in this run ({})",
                        cand.id,
                        status.as_str()
                    ));
                }
                let reason = format!("not measured in this run: {}", status.as_str());
                for om in baseline_ms {
                    out.push(
                        &cand.id,
                        &om.case,
                        Some(om),
                        None,
                        threshold,
                        reason.clone(),
                    );
                }
                continue;
            }
        }
        let Some(old_cand) = old_by_id.get(cand.id.as_str()) else {
            out.warnings
                .push(format!("{}: not in the baseline", cand.id));
            for m in cand.measurements.iter().filter(|m| completed(m)) {
                let reason = "not in the baseline".to_string();
                out.push(&cand.id, &m.case, None, Some(m), threshold, reason);
            }
            continue;
        };
        for m in &cand.measurements {
            let label = format!("{} (case `{}`)", cand.id, m.case);
            let old_m = baseline_ms.iter().copied().find(|o| o.case == m.case);
            if !completed(m) {
                out.warnings.push(format!(
                    "{label}: not compared, its measurement did not complete"
                ));
                if old_m.is_some() {
                    let reason = format!("not measured in this run: {}", incomplete_kind(m));
                    out.push(&cand.id, &m.case, old_m, None, threshold, reason);
                }
                continue;
            }
            let Some(old_m) = old_m else {
                out.warnings
                    .push(format!("{label}: case not measured in the baseline"));
                let reason = if old_cand.status != Status::Passed {
                    format!("not measured in the baseline: {}", old_cand.status.as_str())
                } else {
                    match old_cand.measurements.iter().find(|o| o.case == m.case) {
                        Some(o) => format!("not measured in the baseline: {}", incomplete_kind(o)),
                        None => "case not in the baseline".into(),
                    }
                };
                out.push(&cand.id, &m.case, None, Some(m), threshold, reason);
                continue;
            };
            let net = net_positive(&energy_per_call(old, old_m, true))
                && net_positive(&energy_per_call(new, m, true));
            if !net {
                out.warnings.push(format!(
                    "{label}: compared on gross energy (net energy per call is not positive on \
                     one side: the candidate's power is within the idle power's noise)"
                ));
            }
            let (a, b) = (
                energy_per_call_grouped(old, old_m, net),
                energy_per_call_grouped(new, m, net),
            );
            let bootstrap =
                BootstrapOptions::new(options.confidence_level, options.resamples, options.seed);
            let sigmas = [run_sigma(old, old_m), run_sigma(new, m)];
            let noise = change_noise(&a, &b, sigmas, options.confidence_level);
            // A side measured on a busy machine (`unreliable`: too few quiet samples, or many
            // re-taken) carries a bias no interval shows. A package- or system-wide meter counted
            // the other work's energy: not judged at all. The estimate counts only the worker's
            // own CPU time, which the other work still moved — on the CI VM by 10–14% in samples
            // whose CPU had no foreign work at all (other CPUs' work through shared caches, the
            // hypervisor) — so it is judged against [`BUSY_ESTIMATE_BAR`] at least: a doubling
            // still fails the gate, a busy machine's bias does not.
            let busy_side = [(old, old_m), (new, m)]
                .iter()
                .find(|(r, m)| unreliable(m, r.settings.min_trials))
                .map(|(r, _)| {
                    if std::ptr::eq(*r, old) {
                        "the baseline was measured"
                    } else {
                        "this run measured it"
                    }
                });
            let own_time_only = new.meter.as_ref().is_some_and(|m| m.estimated);
            let within = stats::grouped_relative_change(&a, &b, &bootstrap);
            // The two runs' whole-run shifts are in neither side's samples: the change's interval
            // is widened by both, in log space of the ratio new/old.
            let widened = within.map(|w| {
                let ratio = stats::run_to_run::widen(
                    Estimate {
                        point: 1.0 + w.point,
                        lower: 1.0 + w.lower,
                        upper: 1.0 + w.upper,
                    },
                    stats::run_to_run::z(options.confidence_level),
                    &sigmas,
                );
                let change = Estimate {
                    point: ratio.point - 1.0,
                    lower: ratio.lower - 1.0,
                    upper: ratio.upper - 1.0,
                };
                (w, change)
            });
            let judged = widened.and_then(|(w, change)| {
                // The change must exceed the run-to-run noise as well as the threshold.
                let mut bar = noise.map_or(threshold, |n| n.max(threshold));
                if busy_side.is_some() && own_time_only {
                    bar = bar.max(2.0 * threshold).max(BUSY_ESTIMATE_BAR);
                }
                let mut verdict = stats::change_verdict(change.into(), bar)?;
                if let Some(side) = busy_side
                    && verdict != ChangeVerdict::Unchanged
                {
                    let what = if verdict == ChangeVerdict::Regressed {
                        "regression"
                    } else {
                        "improvement"
                    };
                    if own_time_only {
                        out.warnings.push(format!(
                            "{label}: {side} on a busy machine (samples re-taken for background \
                             activity; the case is UNRELIABLE); its {what} of {:+.1}% is beyond \
                             the busy-machine bar ({:.1}%), so it stands",
                            change.point * 100.0,
                            bar * 100.0
                        ));
                    } else {
                        out.warnings.push(format!(
                            "{label}: not gated: {side} on a busy machine (samples re-taken for \
                             background activity; the case is UNRELIABLE), whose energy a {} \
                             meter counts too, so its {what} of {:+.1}% is not trusted: rerun on \
                             a quiet machine",
                            new.meter.as_ref().map_or("package", |m| m.backend.as_str()),
                            change.point * 100.0
                        ));
                        verdict = ChangeVerdict::Unchanged;
                    }
                }
                Ok((w, change, verdict))
            });
            let medians = (
                stats::median(&a.concat()).ok(),
                stats::median(&b.concat()).ok(),
            );
            match judged {
                Ok((within, change, verdict)) => out.entries.push(ChangeEntry {
                    candidate: cand.id.clone(),
                    case: m.case.clone(),
                    old_energy_per_call_j: medians.0.map(Joules),
                    new_energy_per_call_j: medians.1.map(Joules),
                    change: Some(change),
                    threshold,
                    noise,
                    run_to_run: Some(ChangeRunToRun {
                        old: sigmas[0],
                        new: sigmas[1],
                    }),
                    within_run: Some(within),
                    verdict,
                    reason: None,
                }),
                Err(e) => {
                    out.warnings.push(format!("{label}: not compared: {e}"));
                    let reason = format!("not compared: {e}");
                    out.push(&cand.id, &m.case, Some(old_m), Some(m), threshold, reason);
                }
            }
        }
        // Cases the baseline measured that this run did not attempt at all.
        for om in baseline_ms
            .iter()
            .filter(|om| !cand.measurements.iter().any(|m| m.case == om.case))
        {
            out.warnings.push(format!(
                "{} (case `{}`): measured in the baseline but not in this run",
                cand.id, om.case
            ));
            let reason = "not measured in this run".to_string();
            out.push(&cand.id, &om.case, Some(om), None, threshold, reason);
        }
    }
    // A shard measures only part of the candidates; the rest are not missing.
    if new.run.partition.is_none() {
        for (id, old_cand) in old_by_id.iter().filter(|(id, _)| !seen.contains(*id)) {
            out.warnings
                .push(format!("{id}: in the baseline but not in this run"));
            let threshold = threshold_of(id, old_cand.threshold);
            for om in old_measured(id) {
                let reason = "removed: in the baseline but not in this run".to_string();
                out.push(id, &om.case, Some(om), None, threshold, reason);
            }
        }
    }
    out.warnings.extend(noise_warning(&out.entries, new));
    Ok(BaselineComparison {
        name: name.into(),
        file: file.into(),
        forced: !reasons.is_empty(),
        warnings: out.warnings,
        entries: out.entries,
    })
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::config::RunConfig;
    use crate::energy::{Backend, Provenance};
    use crate::results::*;

    /// A results file with one problem; each candidate has per-sample energies per call (gross;
    /// net is 90% of gross) on case `big`, 10 calls per sample.
    pub(crate) fn results(
        backend: Backend,
        cpu: &str,
        candidates: &[(&str, Status, &[f64])],
    ) -> RunResults {
        let estimated = backend == Backend::Estimate;
        let domain = if estimated {
            "cpu-estimate"
        } else {
            "package-0"
        };
        let candidates = candidates
            .iter()
            .map(|(name, status, per_call)| CandidateResult {
                id: format!("sort::{name}"),
                name: (*name).into(),
                location: "benches/sort.rs:1".into(),
                binary: None,
                threshold: None,
                status: *status,
                check: CheckRecord {
                    status: *status,
                    start_s: None,
                    end_s: None,
                    cpu: None,
                    cases_passed: 1,
                    duration_s: 0.1,
                    failure: None,
                    stdout: Captured::default(),
                    stderr: Captured::default(),
                    verdicts: Vec::new(),
                },
                measurements: if per_call.is_empty() {
                    vec![]
                } else {
                    vec![CaseMeasurement {
                        case: "big".into(),
                        size: None,
                        calls_per_sample: 10,
                        failure: None,
                        stop_reason: "target_ci".into(),
                        warmup: vec![],
                        samples: per_call
                            .iter()
                            .map(|e| Sample {
                                calls: 10,
                                cpu: 0,
                                package: Some(0),
                                window_start_s: 0.0,
                                window_end_s: 0.1,
                                measured_s: 0.1,
                                metered_s: None,
                                cpu_time_s: 0.1,
                                energy: vec![SampleEnergy {
                                    domain: domain.into(),
                                    gross: Joules(e * 10.0),
                                    net: Joules(e * 9.0),
                                }],
                                outlier: false,
                                process: 0,
                                background: None,
                                background_activity: false,
                            })
                            .collect(),
                        stats: None,
                        loop_overhead: None,
                        primary_domain: None,
                    }]
                },
            })
            .collect();
        RunResults {
            schema_version: SCHEMA_VERSION.into(),
            tool: Tool {
                name: "jouletrace".into(),
                version: "0.1.0".into(),
            },
            run: RunInfo {
                lock: None,
                started_at: "2026-11-01T00:00:00Z".into(),
                finished_at: None,
                complete: true,
                incomplete_reason: None,
                mode: RunMode::Bench,
                command_line: vec![],
                binaries: vec![],
                skipped_binaries: Vec::new(),
                hosts: Vec::new(),
                monotonic_origin_ns: 0,
                partition: None,
            },
            environment: Environment {
                cpu_model: Some(cpu.into()),
                ..Environment::default()
            },
            meter: Some(MeterRecord {
                backend,
                provenance: if estimated {
                    Provenance::Estimated
                } else {
                    Provenance::Measured
                },
                estimated,
                domains: vec![],
                primary_domain: domain.into(),
                estimate_watts_per_core: None,
                rejected: vec![],
                warnings: vec![],
            }),
            idle: vec![],
            settings: Settings {
                min_sample_time_s: 0.1,
                warmup: 1,
                min_trials: 5,
                max_trials: 30,
                target_ci: 0.02,
                time_budget_s: 10.0,
                timeout_s: 10.0,
                memory_limit_mb: None,
                isolate_network: false,
                threshold: 0.05,
                confidence_level: 0.95,
                bootstrap_resamples: 1000,
                seed: 1,
            },
            problems: vec![ProblemResult {
                name: "sort".into(),
                cases: vec![CaseRecord {
                    id: "big".into(),
                    size: None,
                    measured: true,
                }],
                candidates,
                rankings: vec![],
            }],
            baseline: None,
        }
    }

    const EPYC: &str = "AMD EPYC";
    const SAME: &[f64] = &[1.00, 1.02, 0.98, 1.01, 0.99, 1.00, 1.03, 0.97];
    const DOUBLE: &[f64] = &[2.00, 2.04, 1.96, 2.02, 1.98, 2.00, 2.06, 1.94];

    fn opts() -> CompareOptions {
        CompareOptions::from_settings(&results(Backend::Perf, EPYC, &[]).settings)
    }

    #[test]
    fn doubled_candidate_regresses_and_the_others_do_not() {
        let old = results(
            Backend::Perf,
            EPYC,
            &[("a", Status::Passed, SAME), ("b", Status::Passed, SAME)],
        );
        let new = results(
            Backend::Perf,
            EPYC,
            &[("a", Status::Passed, SAME), ("b", Status::Passed, DOUBLE)],
        );
        let c = compare(&old, &new, "main", "main.json", &opts()).unwrap();
        assert!(!c.forced);
        assert_eq!(c.entries.len(), 2);
        let (a, b) = (&c.entries[0], &c.entries[1]);
        assert_eq!(
            (a.candidate.as_str(), a.verdict),
            ("sort::a", ChangeVerdict::Unchanged)
        );
        assert_eq!(
            (b.candidate.as_str(), b.verdict),
            ("sort::b", ChangeVerdict::Regressed)
        );
        let change = b.change.expect("a compared entry has a change");
        assert!((change.point - 1.0).abs() < 0.05, "{change:?}");
        // Net energy: 90% of gross, per call.
        assert!((b.old_energy_per_call_j.unwrap().get() - 0.9).abs() < 0.02);
        assert_eq!((a.reason.as_deref(), b.reason.as_deref()), (None, None));
        assert!(c.warnings.is_empty(), "{:?}", c.warnings);
    }

    #[test]
    fn per_candidate_threshold_overrides_the_run_threshold() {
        let old = results(Backend::Perf, EPYC, &[("b", Status::Passed, SAME)]);
        let new = results(Backend::Perf, EPYC, &[("b", Status::Passed, DOUBLE)]);
        let mut o = opts();
        o.thresholds.insert("sort::b".into(), 2.0);
        let c = compare(&old, &new, "main", "main.json", &o).unwrap();
        assert_eq!(c.entries[0].verdict, ChangeVerdict::Unchanged);
        assert_eq!(c.entries[0].threshold, 2.0);
    }

    #[test]
    fn estimated_against_measured_is_refused_unless_forced() {
        let old = results(Backend::Perf, EPYC, &[("a", Status::Passed, SAME)]);
        let new = results(Backend::Estimate, EPYC, &[("a", Status::Passed, SAME)]);
        let err = compare(&old, &new, "main", "main.json", &opts()).unwrap_err();
        let msg = err.to_string();
        assert!(
            msg.contains("estimate") && msg.contains("--force-compare"),
            "{msg}"
        );
        let mut o = opts();
        o.force = true;
        let c = compare(&old, &new, "main", "main.json", &o).unwrap();
        assert!(c.forced);
        assert!(
            c.warnings
                .iter()
                .any(|w| w.starts_with("forced comparison")),
            "{:?}",
            c.warnings
        );
    }

    #[test]
    fn other_cpu_model_is_refused() {
        let old = results(Backend::Perf, EPYC, &[("a", Status::Passed, SAME)]);
        let new = results(Backend::Perf, "Intel Xeon", &[("a", Status::Passed, SAME)]);
        let CompareError::Incompatible { reasons, .. } =
            compare(&old, &new, "main", "main.json", &opts()).unwrap_err()
        else {
            panic!("expected incompatible")
        };
        assert_eq!(
            reasons,
            vec!["the baseline ran on AMD EPYC and this run on Intel Xeon"]
        );
    }

    #[test]
    fn failed_and_missing_candidates_are_named_in_warnings() {
        let old = results(
            Backend::Perf,
            EPYC,
            &[("a", Status::Passed, SAME), ("gone", Status::Passed, SAME)],
        );
        let new = results(
            Backend::Perf,
            EPYC,
            &[
                ("a", Status::WrongAnswer, &[]),
                ("fresh", Status::Passed, SAME),
            ],
        );
        let c = compare(&old, &new, "main", "main.json", &opts()).unwrap();
        let w = c.warnings.join("\n");
        assert!(
            w.contains("sort::a: not compared, it failed in this run (wrong_answer)"),
            "{w}"
        );
        assert!(w.contains("sort::fresh: not in the baseline"), "{w}");
        assert!(
            w.contains("sort::gone: in the baseline but not in this run"),
            "{w}"
        );
    }

    /// The `(candidate, case)` → (old, new, reason) of the `missing` entries.
    fn missing(c: &BaselineComparison) -> Vec<(&str, Option<f64>, Option<f64>, &str)> {
        c.entries
            .iter()
            .filter(|e| e.verdict == ChangeVerdict::Missing)
            .map(|e| {
                assert_eq!(e.change, None, "{e:?}");
                (
                    e.candidate.as_str(),
                    e.old_energy_per_call_j.map(Joules::get),
                    e.new_energy_per_call_j.map(Joules::get),
                    e.reason.as_deref().expect("a missing entry says why"),
                )
            })
            .collect()
    }

    #[test]
    fn new_and_failed_candidates_are_missing_entries_with_no_energy_and_a_reason() {
        let old = results(
            Backend::Perf,
            EPYC,
            &[("a", Status::Passed, SAME), ("b", Status::Passed, SAME)],
        );
        let new = results(
            Backend::Perf,
            EPYC,
            &[
                ("a", Status::WrongAnswer, &[]),
                ("b", Status::Passed, SAME),
                ("fresh", Status::Passed, DOUBLE),
            ],
        );
        let c = compare(&old, &new, "main", "main.json", &opts()).unwrap();
        let m = missing(&c);
        assert_eq!(m.len(), 2, "{m:?}");
        let (cand, old_j, new_j, reason) = m[0];
        assert_eq!(
            (cand, new_j, reason),
            ("sort::a", None, "not measured in this run: wrong_answer")
        );
        // The side that was measured keeps its real figure (net, 90% of gross).
        assert!((old_j.unwrap() - 0.9).abs() < 0.02, "{old_j:?}");
        let (cand, old_j, new_j, reason) = m[1];
        assert_eq!(
            (cand, old_j, reason),
            ("sort::fresh", None, "not in the baseline")
        );
        assert!((new_j.unwrap() - 1.8).abs() < 0.04, "{new_j:?}");
        assert!(
            c.entries
                .iter()
                .all(|e| e.verdict != ChangeVerdict::Regressed),
            "{:?}",
            c.entries
        );
        let b = c.entries.iter().find(|e| e.candidate == "sort::b").unwrap();
        assert_eq!(
            (b.verdict, b.reason.as_deref()),
            (ChangeVerdict::Unchanged, None)
        );
    }

    #[test]
    fn removed_candidates_and_incomplete_measurements_are_missing() {
        let old = results(
            Backend::Perf,
            EPYC,
            &[("a", Status::Passed, SAME), ("gone", Status::Passed, SAME)],
        );
        let mut new = results(Backend::Perf, EPYC, &[("a", Status::Passed, SAME)]);
        let m = &mut new.problems[0].candidates[0].measurements[0];
        m.failure = Some(Failure {
            kind: Status::Timeout,
            case: Some("big".into()),
            message: "timed out".into(),
            expected: None,
            actual: None,
            signal: None,
            limit: Some("10s".into()),
        });
        let c = compare(&old, &new, "main", "main.json", &opts()).unwrap();
        let reasons: Vec<_> = missing(&c).iter().map(|m| (m.0, m.2, m.3)).collect();
        assert_eq!(
            reasons,
            vec![
                ("sort::a", None, "not measured in this run: timeout"),
                (
                    "sort::gone",
                    None,
                    "removed: in the baseline but not in this run"
                ),
            ]
        );
        // A shard does not call the other shards' candidates removed.
        new.run.partition = Some("hash:1/2".into());
        let c = compare(&old, &new, "main", "main.json", &opts()).unwrap();
        assert!(missing(&c).iter().all(|m| m.0 != "sort::gone"));
    }

    #[test]
    fn ignored_candidates_get_no_entry() {
        let old = results(Backend::Perf, EPYC, &[("a", Status::Passed, SAME)]);
        let new = results(Backend::Perf, EPYC, &[("a", Status::Ignored, &[])]);
        let c = compare(&old, &new, "main", "main.json", &opts()).unwrap();
        assert!(c.entries.is_empty(), "{:?}", c.entries);
    }

    #[test]
    fn entries_written_with_numbers_still_load_and_missing_ones_serialize_null() {
        let with_numbers = r#"{"candidate":"sort::a","case":"big","old_energy_per_call_j":0.5,
            "new_energy_per_call_j":1.0,"change":{"point":1.0,"lower":0.9,"upper":1.1},
            "threshold":0.05,"verdict":"regressed"}"#;
        let e: ChangeEntry = serde_json::from_str(with_numbers).unwrap();
        assert_eq!(e.old_energy_per_call_j, Some(Joules(0.5)));
        assert_eq!(e.change.map(|c| c.point), Some(1.0));
        assert_eq!(e.reason, None);
        let missing = ChangeEntry {
            new_energy_per_call_j: None,
            change: None,
            verdict: ChangeVerdict::Missing,
            reason: Some("not measured in this run: panic".into()),
            ..e
        };
        let json = serde_json::to_value(&missing).unwrap();
        assert!(json["new_energy_per_call_j"].is_null(), "{json}");
        assert!(json["change"].is_null(), "{json}");
        let back: ChangeEntry = serde_json::from_value(json).unwrap();
        assert_eq!(back, missing);
    }

    /// `levels` per process, five tight samples each, spread over processes 0, 1, …
    fn by_process(levels: &[f64]) -> Vec<f64> {
        levels
            .iter()
            .flat_map(|l| (0..5).map(move |i| l * (1.0 + 0.002 * f64::from(i))))
            .collect()
    }

    fn spread_processes(r: &mut RunResults, processes: u32) {
        for s in &mut r.problems[0].candidates[0].measurements[0].samples {
            s.process = 0;
        }
        for (i, s) in r.problems[0].candidates[0].measurements[0]
            .samples
            .iter_mut()
            .enumerate()
        {
            s.process = i as u32 / 5 % processes;
        }
    }

    #[test]
    fn a_shift_within_the_noise_between_processes_is_not_a_regression() {
        let old_levels = [1.0, 1.06, 0.95, 1.03];
        let new_levels = [1.08, 1.12, 1.02, 1.10];
        let mut old = results(
            Backend::Estimate,
            EPYC,
            &[("a", Status::Passed, &by_process(&old_levels))],
        );
        let mut new = results(
            Backend::Estimate,
            EPYC,
            &[("a", Status::Passed, &by_process(&new_levels))],
        );
        spread_processes(&mut old, 4);
        spread_processes(&mut new, 4);
        let c = compare(&old, &new, "main", "main.json", &opts()).unwrap();
        let e = &c.entries[0];
        assert_eq!(e.verdict, ChangeVerdict::Unchanged, "{e:?}");
        let noise = e.noise.expect("four processes show their noise");
        assert!(noise > 0.05, "{noise}");
        let w = c.warnings.join("\n");
        assert!(
            w.contains("below the run-to-run noise") && w.contains("estimate meter"),
            "{w}"
        );
        // A real doubling is still caught through the same noise.
        let doubled: Vec<f64> = new_levels.iter().map(|l| l * 2.0).collect();
        let mut new = results(
            Backend::Estimate,
            EPYC,
            &[("a", Status::Passed, &by_process(&doubled))],
        );
        spread_processes(&mut new, 4);
        let c = compare(&old, &new, "main", "main.json", &opts()).unwrap();
        assert_eq!(c.entries[0].verdict, ChangeVerdict::Regressed);
    }

    #[test]
    fn a_side_measured_on_a_busy_machine_is_not_gated_on_a_package_meter_and_held_to_a_higher_bar_on_the_estimate()
     {
        let old = results(Backend::Perf, EPYC, &[("a", Status::Passed, SAME)]);
        let mut new = results(Backend::Perf, EPYC, &[("a", Status::Passed, DOUBLE)]);
        for s in &mut new.problems[0].candidates[0].measurements[0].samples {
            s.background_activity = true;
        }
        let c = compare(&old, &new, "main", "main.json", &opts()).unwrap();
        assert_eq!(c.entries[0].verdict, ChangeVerdict::Unchanged);
        assert!(
            c.warnings.iter().any(|w| w.contains("not gated")),
            "{:?}",
            c.warnings
        );
        // The estimate counts the worker's own CPU time, which other work still moves (issue
        // 11: +14% on a busy VM): a doubling stands, a +15% change does not.
        let old = results(Backend::Estimate, EPYC, &[("a", Status::Passed, SAME)]);
        let busy = |values: &[f64]| {
            let mut r = results(Backend::Estimate, EPYC, &[("a", Status::Passed, values)]);
            for s in &mut r.problems[0].candidates[0].measurements[0].samples {
                s.background_activity = true;
            }
            r
        };
        let c = compare(&old, &busy(DOUBLE), "main", "main.json", &opts()).unwrap();
        assert_eq!(c.entries[0].verdict, ChangeVerdict::Regressed);
        assert!(
            c.warnings
                .iter()
                .any(|w| w.contains("busy-machine bar") && w.contains("this run measured it")),
            "{:?}",
            c.warnings
        );
        let up: Vec<f64> = SAME.iter().map(|x| x * 1.15).collect();
        let c = compare(&old, &busy(&up), "main", "main.json", &opts()).unwrap();
        assert_eq!(c.entries[0].verdict, ChangeVerdict::Unchanged);
        // Enough quiet samples, but half of them re-taken: a busy machine all the same, on
        // either side.
        let mut half = results(Backend::Estimate, EPYC, &[("a", Status::Passed, SAME)]);
        let samples = &mut half.problems[0].candidates[0].measurements[0].samples;
        let n = samples.len();
        for s in samples.iter_mut().take(n / 2) {
            s.background_activity = true;
        }
        let new = results(Backend::Estimate, EPYC, &[("a", Status::Passed, &up)]);
        let c = compare(&half, &new, "main", "main.json", &opts()).unwrap();
        assert_eq!(c.entries[0].verdict, ChangeVerdict::Unchanged);
        // A quiet pair is gated as ever.
        let c = compare(&old, &new, "main", "main.json", &opts()).unwrap();
        assert_eq!(c.entries[0].verdict, ChangeVerdict::Regressed);
    }

    /// Gives the one measurement of `r` statistics carrying a run-to-run σ.
    fn with_sigma(r: &mut RunResults, sigma: f64) {
        let m = &mut r.problems[0].candidates[0].measurements[0];
        crate::engine::summarize::case(m, "package-0", false, &RunConfig::default());
        let stats = m.stats.as_mut().expect("statistics");
        crate::engine::summarize::widen(
            stats,
            RunToRun {
                sigma,
                source: RunToRunSource::History,
                runs: 8,
                meter: Backend::Perf,
            },
            0.95,
        );
    }

    #[test]
    fn the_change_interval_and_the_noise_carry_both_sides_run_to_run_sigma() {
        let up: Vec<f64> = SAME.iter().map(|x| x * 1.10).collect();
        let mut old = results(Backend::Perf, EPYC, &[("a", Status::Passed, SAME)]);
        let mut new = results(Backend::Perf, EPYC, &[("a", Status::Passed, &up)]);
        with_sigma(&mut old, 0.03);
        with_sigma(&mut new, 0.04);
        let c = compare(&old, &new, "main", "main.json", &opts()).unwrap();
        let e = &c.entries[0];
        let (within, change) = (e.within_run.unwrap(), e.change.unwrap());
        assert_eq!(
            e.run_to_run,
            Some(ChangeRunToRun {
                old: 0.03,
                new: 0.04
            })
        );
        // Each side of the ratio's log interval: √(d² + (z·0.03)² + (z·0.04)²).
        let z = stats::run_to_run::z(0.95);
        let extra = (z * 0.05_f64).powi(2);
        let r = 1.0 + within.point;
        let d_up = ((1.0 + within.upper) / r).ln();
        let d_lo = (r / (1.0 + within.lower)).ln();
        assert!((((1.0 + change.upper) / r).ln() - (d_up * d_up + extra).sqrt()).abs() < 1e-9);
        assert!(((r / (1.0 + change.lower)).ln() - (d_lo * d_lo + extra).sqrt()).abs() < 1e-9);
        assert_eq!(change.point, within.point);
        // One process a side: no between-process spread, the two σ alone make the noise.
        assert!((e.noise.unwrap() - z * 0.05).abs() < 1e-9, "{e:?}");
        // +10% with ±1.5% within the run alone would regress; beyond the noise (9.8%) it does
        // not have its whole interval, so it is unchanged.
        assert!(within.lower > 0.05, "{within:?}");
        assert_eq!(e.verdict, ChangeVerdict::Unchanged);
        let w = c.warnings.join("\n");
        assert!(
            w.contains("run-to-run σ of 3.0% (baseline) and 4.0% (this run)"),
            "{w}"
        );
        // A doubling still regresses.
        let mut doubled = results(Backend::Perf, EPYC, &[("a", Status::Passed, DOUBLE)]);
        with_sigma(&mut doubled, 0.04);
        let c = compare(&old, &doubled, "main", "main.json", &opts()).unwrap();
        assert_eq!(c.entries[0].verdict, ChangeVerdict::Regressed);
    }

    #[test]
    fn a_baseline_without_a_recorded_sigma_uses_its_meters_prior() {
        let old = results(Backend::Estimate, EPYC, &[("a", Status::Passed, SAME)]);
        let new = results(Backend::Estimate, EPYC, &[("a", Status::Passed, SAME)]);
        let c = compare(&old, &new, "main", "main.json", &opts()).unwrap();
        assert_eq!(
            c.entries[0].run_to_run,
            Some(ChangeRunToRun {
                old: 0.02,
                new: 0.02
            })
        );
        let old = results(Backend::Perf, EPYC, &[("a", Status::Passed, SAME)]);
        assert_eq!(
            run_sigma(&old, &old.problems[0].candidates[0].measurements[0]),
            0.01
        );
    }

    #[test]
    fn check_only_runs_cannot_be_compared() {
        let old = results(Backend::Perf, EPYC, &[]);
        let mut new = old.clone();
        new.meter = None;
        let err = compare(&old, &new, "main", "main.json", &opts()).unwrap_err();
        assert!(matches!(
            err,
            CompareError::NotMeasured {
                which: "this run",
                ..
            }
        ));
    }
}
