//! The shards of a partitioned run (`--partition`) as one results record.
//!
//! Each shard records only the candidates of its own shard (filtered-out candidates are not part
//! of a run's results at all), so problems and candidates are the union of the shards'; a
//! candidate recorded by two shards is an error (they were not cut from one split). Statistics
//! and rankings are recomputed over all the candidates of each case, with the run's own
//! settings, exactly as the engine makes them; the baseline comparisons, when every shard made
//! one against the same baseline, are joined, so that the merged record carries the verdict of
//! the whole run.

use std::collections::BTreeMap;

use super::summarize;
use crate::baseline;
use crate::config::RunConfig;
use crate::results::{BaselineComparison, CandidateResult, RunResults};

/// Why shards cannot be merged.
#[derive(Debug, thiserror::Error)]
pub enum MergeError {
    #[error("nothing to merge")]
    Empty,
    #[error("{shard} and {first}: one measured energy and the other did not")]
    MeteredAndNot { shard: String, first: String },
    #[error("{shard} cannot be merged with {first}: {}; merge with `force` to merge anyway", reasons.join("; "))]
    Incompatible {
        shard: String,
        first: String,
        reasons: Vec<String>,
    },
    #[error(
        "candidate {candidate} was run by two shards: shards must come from one --partition split \
         (same kind and count, same filters)"
    )]
    Overlap { candidate: String },
}

/// Merges `shards` (a name for messages, and the shard's results). With `force`, shards measured
/// with other meters or CPU models merge anyway, with warnings in the merged meter record.
pub fn merge(shards: Vec<(String, RunResults)>, force: bool) -> Result<RunResults, MergeError> {
    let mut iter = shards.into_iter();
    let (first_name, mut merged) = iter.next().ok_or(MergeError::Empty)?;
    let mut comparisons: Vec<Option<BaselineComparison>> = vec![merged.baseline.take()];
    let mut warnings = Vec::new();
    for (name, shard) in iter {
        if shard.meter.is_some() != merged.meter.is_some() {
            return Err(MergeError::MeteredAndNot {
                shard: name,
                first: first_name,
            });
        }
        let reasons = if merged.meter.is_some() {
            baseline::incompatibilities(&merged, &shard)
        } else {
            Vec::new()
        };
        if !reasons.is_empty() {
            if !force {
                return Err(MergeError::Incompatible {
                    shard: name,
                    first: first_name,
                    reasons,
                });
            }
            warnings.extend(
                reasons
                    .into_iter()
                    .map(|r| format!("forced merge of {name}: {r}")),
            );
        }
        if shard.settings != merged.settings {
            warnings.push(format!("{name} ran with other settings than {first_name}"));
        }
        let run = &mut merged.run;
        run.complete &= shard.run.complete;
        if let Some(r) = shard.run.incomplete_reason {
            run.incomplete_reason = Some(match run.incomplete_reason.take() {
                Some(prev) => format!("{prev}; {name}: {r}"),
                None => format!("{name}: {r}"),
            });
        }
        run.started_at = run.started_at.clone().min(shard.run.started_at);
        run.finished_at = run.finished_at.clone().max(shard.run.finished_at);
        for b in shard.run.binaries {
            if !run.binaries.contains(&b) {
                run.binaries.push(b);
            }
        }
        merged.idle.extend(shard.idle);
        for problem in shard.problems {
            match merged.problems.iter_mut().find(|p| p.name == problem.name) {
                Some(p) => {
                    for case in problem.cases {
                        if !p.cases.iter().any(|c| c.id == case.id) {
                            p.cases.push(case);
                        }
                    }
                    p.candidates.extend(problem.candidates);
                }
                None => merged.problems.push(problem),
            }
        }
        comparisons.push(shard.baseline);
    }
    merged.run.partition = None;
    // Each shard's lock holds and idle times are relative to its own origin; the merged record
    // keeps the first shard's origin, so the others' times are not comparable with it.
    merged.run.lock = None;
    merged.problems.sort_by(|a, b| a.name.cmp(&b.name));
    for p in &mut merged.problems {
        p.candidates = one_record_each(std::mem::take(&mut p.candidates))?;
    }
    let config = RunConfig {
        confidence_level: merged.settings.confidence_level,
        bootstrap_resamples: merged.settings.bootstrap_resamples,
        seed: merged.settings.seed,
        target_ci: merged.settings.target_ci,
        ..RunConfig::default()
    };
    let primary = merged.meter.as_ref().map(|m| m.primary_domain.clone());
    for p in &mut merged.problems {
        p.cases.sort_by(|a, b| a.id.cmp(&b.id));
        summarize::problem(p, primary.as_deref(), merged.meter.as_ref(), &config);
    }
    merged.baseline = join_comparisons(comparisons, &mut warnings);
    if let Some(meter) = &mut merged.meter {
        meter.warnings.extend(warnings);
    }
    Ok(merged)
}

/// One comparison from the shards' when all compared with the same baseline; otherwise none,
/// with a warning (a verdict over part of the candidates would pass regressions silently).
fn join_comparisons(
    comparisons: Vec<Option<BaselineComparison>>,
    warnings: &mut Vec<String>,
) -> Option<BaselineComparison> {
    if comparisons.iter().all(Option::is_none) {
        return None;
    }
    let all: Option<Vec<BaselineComparison>> = comparisons.into_iter().collect();
    let Some(all) = all else {
        warnings.push("only some shards were compared with a baseline: no comparison kept".into());
        return None;
    };
    if all.windows(2).any(|w| w[0].name != w[1].name) {
        warnings
            .push("the shards were compared with different baselines: no comparison kept".into());
        return None;
    }
    let mut joined = all[0].clone();
    joined.entries.clear();
    joined.warnings.clear();
    for c in all {
        joined.forced |= c.forced;
        joined.entries.extend(c.entries);
        for w in c.warnings {
            if !joined.warnings.contains(&w) {
                joined.warnings.push(w);
            }
        }
    }
    joined
        .entries
        .sort_by(|a, b| (&a.candidate, &a.case).cmp(&(&b.candidate, &b.case)));
    Some(joined)
}

/// The candidates sorted by id, each once: a shard records only its own candidates, so two
/// records of one candidate mean the shards did not come from one split.
fn one_record_each(records: Vec<CandidateResult>) -> Result<Vec<CandidateResult>, MergeError> {
    let mut by_id: BTreeMap<String, CandidateResult> = BTreeMap::new();
    for c in records {
        if by_id.contains_key(&c.id) {
            return Err(MergeError::Overlap { candidate: c.id });
        }
        by_id.insert(c.id.clone(), c);
    }
    Ok(by_id.into_values().collect())
}
