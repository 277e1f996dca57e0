//! `cargo joule merge SHARD… -o OUT`: the shards of a partitioned run as one results file.
//!
//! Problems and candidates are the union of the shards' (each shard lists every candidate and
//! marks those it did not run `ignored`; a candidate run by two shards is an error: they were not
//! cut from one split), the rankings are recomputed over all the
//! candidates of each case, and the baseline comparisons, when every shard made one against the
//! same baseline, are joined — so the exit status is the verdict of the whole run.

use std::collections::BTreeMap;

use anyhow::{anyhow, bail};
use jouletrace::baseline;
use jouletrace::config::RunConfig;
use jouletrace::engine::summarize;
use jouletrace::results::{
    BaselineComparison, CandidateResult, RunResults, Status as CandidateStatus,
};

use crate::cli::{MergeArgs, OutputArgs};
use crate::exit::{CliResult, Failure, Status};
use crate::output::{Printer, print_comparison, print_summary};

pub fn merge(args: &MergeArgs, out: &OutputArgs) -> CliResult {
    let printer = Printer::new(out);
    let shards = args
        .files
        .iter()
        .map(|f| Ok((f.display().to_string(), RunResults::load(f)?)))
        .collect::<Result<Vec<_>, Failure>>()?;
    let merged = merge_results(shards, args.force).map_err(Failure::usage)?;
    super::write_atomic(&args.output, &merged.to_json()).map_err(Failure::usage)?;
    if let Some(c) = &merged.baseline {
        print_comparison(
            &printer,
            c,
            merged.settings.confidence_level,
            merged.is_estimated(),
        );
    }
    print_summary(&printer, &merged, Some(&args.output));
    Ok(Status::of(&merged))
}

pub fn merge_results(shards: Vec<(String, RunResults)>, force: bool) -> anyhow::Result<RunResults> {
    let mut iter = shards.into_iter();
    let (first_name, mut merged) = iter.next().ok_or_else(|| anyhow!("nothing to merge"))?;
    let mut comparisons: Vec<Option<BaselineComparison>> = vec![merged.baseline.take()];
    let mut warnings = Vec::new();
    for (name, shard) in iter {
        if shard.meter.is_some() != merged.meter.is_some() {
            bail!("{name} and {first_name}: one measured energy and the other did not");
        }
        let reasons = baseline::incompatibilities(&merged, &shard);
        if !reasons.is_empty() {
            if !force {
                bail!(
                    "{name} cannot be merged with {first_name}: {}; pass --force to merge anyway",
                    reasons.join("; ")
                );
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
    merged.problems.sort_by(|a, b| a.name.cmp(&b.name));
    for p in &mut merged.problems {
        p.candidates = one_record_each(std::mem::take(&mut p.candidates))?;
    }
    // Statistics and rankings exactly as the engine makes them, with the run's own settings.
    let config = RunConfig {
        confidence_level: merged.settings.confidence_level,
        bootstrap_resamples: merged.settings.bootstrap_resamples,
        seed: merged.settings.seed,
        target_ci: merged.settings.target_ci,
        ..RunConfig::default()
    };
    let primary = merged.meter.as_ref().map(|m| m.primary_domain.clone());
    for p in &mut merged.problems {
        p.candidates.sort_by(|a, b| a.id.cmp(&b.id));
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

/// Every shard lists every candidate of the run, marked `ignored` where another shard ran it; keep
/// the record of the shard that ran each one. Two shards that both ran one candidate were not cut
/// from one split.
fn one_record_each(records: Vec<CandidateResult>) -> anyhow::Result<Vec<CandidateResult>> {
    let mut by_id: BTreeMap<String, CandidateResult> = BTreeMap::new();
    for c in records {
        match by_id.get(&c.id) {
            Some(prev)
                if prev.status != CandidateStatus::Ignored
                    && c.status != CandidateStatus::Ignored =>
            {
                bail!(
                    "candidate {} was run by two shards: shards must come from one --partition \
                     split (same kind and count, same filters)",
                    c.id
                );
            }
            Some(_) if c.status == CandidateStatus::Ignored => {}
            _ => {
                by_id.insert(c.id.clone(), c);
            }
        }
    }
    Ok(by_id.into_values().collect())
}
