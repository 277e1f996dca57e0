//! What every human-facing view derives from the results the same way: the rows of a ranking
//! table, the list of failures, the meter's label. Formats only lay these out.

use crate::results::{
    CandidateResult, CaseMeasurement, CaseStats, ChangeEntry, Estimate, Failure, ProblemResult,
    RunResults, Sample, Status,
};
use crate::units::Joules;

/// `perf · package-0`: the backend and the ranked domain; every energy figure is shown with it.
pub fn meter_label(results: &RunResults) -> String {
    match &results.meter {
        Some(m) => format!("{} · {}", backend_name(m.backend), m.primary_domain),
        None => "no meter".into(),
    }
}

pub fn backend_name(backend: crate::energy::Backend) -> &'static str {
    use crate::energy::Backend;
    match backend {
        Backend::Perf => "perf",
        Backend::Powercap => "powercap",
        Backend::Msr => "msr",
        Backend::Estimate => "estimate",
        Backend::Nvml => "nvml",
    }
}

/// The sentence an estimated run opens with, wherever it is shown.
pub fn estimate_warning(results: &RunResults) -> Option<String> {
    let meter = results.meter.as_ref().filter(|m| m.estimated)?;
    let basis = match meter.estimate_watts_per_core {
        Some(w) => format!("CPU time × {} per busy core", super::numbers::watts(w)),
        None => "CPU time".into(),
    };
    Some(format!(
        "ESTIMATED: no energy was measured. Every energy figure here is {basis}, a model that \
         cannot tell an efficient candidate from a merely fast one."
    ))
}

/// How busy the machine was while measuring, in one line; `None` when it was not observed.
pub fn background_line(results: &RunResults) -> Option<String> {
    let b = results.environment.background.as_ref()?;
    let mut line = format!(
        "machine load beside measured windows: median {:.0}%, max {:.0}% of the meter scope's CPU \
         time; {} of {} samples flagged background_activity and re-taken",
        b.median_foreign_share * 100.0,
        b.max_foreign_share * 100.0,
        b.flagged,
        b.samples
    );
    if b.unreliable_cases > 0 {
        line.push_str(&format!(
            "; {} measurement(s) UNRELIABLE (busy machine)",
            b.unreliable_cases
        ));
    }
    if !b.idle_quiet {
        line.push_str("; idle power measured beside other work (too high)");
    }
    Some(line)
}

/// What the ± of every energy figure means, with the run's numbers of processes and samples:
/// "±: 95% CI of the median over 3 worker processes × 15 samples…". `None` without statistics.
pub fn interval_note(results: &RunResults) -> Option<String> {
    let stats: Vec<&crate::results::CaseStats> = results
        .candidates()
        .flat_map(|c| &c.measurements)
        .filter_map(|m| m.stats.as_ref())
        .collect();
    let range = |f: &dyn Fn(&crate::results::CaseStats) -> u32| {
        let lo = stats.iter().map(|s| f(s)).min()?;
        let hi = stats.iter().map(|s| f(s)).max()?;
        Some(if lo == hi {
            lo.to_string()
        } else {
            format!("{lo}–{hi}")
        })
    };
    let processes = range(&|s| s.processes)?;
    let samples = range(&|s| s.samples)?;
    let level = super::numbers::level(results.settings.confidence_level);
    let single = stats.iter().all(|s| s.processes <= 1);
    let base = if single {
        format!(
            "±: {level} CI of the median over 1 worker process × {samples} samples: it covers \
             that process's noise only"
        )
    } else {
        format!(
            "±: {level} CI of the median over {processes} worker processes × {samples} samples \
             (two-stage bootstrap over processes)"
        )
    };
    // The run-to-run σ is one per run; a merge of shards may carry several: name the largest.
    let widened = stats
        .iter()
        .filter_map(|s| s.run_to_run.as_ref())
        .max_by(|a, b| a.sigma.total_cmp(&b.sigma));
    Some(match widened {
        Some(r) => format!(
            "{base}, widened by this machine's run-to-run variation ({}); rankings inside the run \
             are not widened (a whole-run shift moves every candidate alike)",
            crate::engine::history::describe(r)
        ),
        None if single => format!("{base}, not what varies from one run to the next"),
        None => format!(
            "{base}: the variation between processes is included, a shift of the whole run is \
             not (a file written before run-to-run widening)"
        ),
    })
}

/// Whether a case's statistics had to include samples taken beside other work.
pub fn unreliable(stats: &crate::results::CaseStats) -> bool {
    stats.flags.iter().any(|f| f == "unreliable")
}

/// A candidate named by a ranking or baseline entry: the entries use the candidate's `id`
/// (`problem::name`); a bare `name` is accepted too.
pub fn find_candidate<'a>(problem: &'a ProblemResult, key: &str) -> Option<&'a CandidateResult> {
    problem
        .candidates
        .iter()
        .find(|c| c.id == key)
        .or_else(|| problem.candidates.iter().find(|c| c.name == key))
}

pub fn measurement<'a>(candidate: &'a CandidateResult, case: &str) -> Option<&'a CaseMeasurement> {
    candidate.measurements.iter().find(|m| m.case == case)
}

/// One row of a per-case ranking table.
pub struct Row<'a> {
    /// `None` for candidates that were not ranked on this case.
    pub rank: Option<u32>,
    pub candidate: &'a CandidateResult,
    pub stats: Option<&'a CaseStats>,
    pub ratio: Option<f64>,
    /// The ratio's interval, when the engine computed one.
    pub ratio_interval: Option<Estimate<f64>>,
    /// `passed` for ranked rows; otherwise why there is no figure.
    pub status: Status,
    pub note: Option<String>,
    pub verdict: Option<&'a str>,
    /// Not significantly different from the candidate ranked just above it: the order of the
    /// two is not established, whatever their ratios say.
    pub tie: bool,
}

impl Row<'_> {
    /// The energy per call on `basis`, with its interval.
    pub fn energy(&self, basis: Basis) -> Option<&Estimate<Joules>> {
        self.stats.map(|s| match basis {
            Basis::Net => &s.net_energy_per_call_j,
            Basis::Gross => &s.energy_per_call_j,
        })
    }
}

pub struct CaseTable<'a> {
    pub case: &'a str,
    pub size: Option<u64>,
    /// The energy the rows are ranked (and their ratios computed) on.
    pub basis: Basis,
    pub rows: Vec<Row<'a>>,
}

/// Which energy per call a ranking orders by.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Basis {
    /// Idle-subtracted: what the engine ranks on whenever idle power was measured.
    Net,
    /// As read from the meter, idle power included.
    Gross,
}

impl Basis {
    pub fn word(self) -> &'static str {
        match self {
            Basis::Net => "net",
            Basis::Gross => "gross",
        }
    }

    pub fn other(self) -> Basis {
        match self {
            Basis::Net => Basis::Gross,
            Basis::Gross => Basis::Net,
        }
    }
}

/// Whether net and gross energy differ at all: only when idle power was measured (the
/// estimate charges CPU time only, so its net is its gross).
pub fn shows_net(results: &RunResults) -> bool {
    !results.is_estimated() && !results.idle.is_empty()
}

/// The energy the engine ranked `case` on. It ranks on net energy and falls back to gross only
/// when a net median is not positive (the ratios would be meaningless): the same rule, applied
/// to the recorded medians, tells which one it used.
fn ranked_basis(problem: &ProblemResult, case: &str) -> Basis {
    fn stats_of<'a>(c: &'a CandidateResult, case: &str) -> Option<&'a CaseStats> {
        measurement(c, case)?.stats.as_ref()
    }
    let ranked: Vec<&CaseStats> = match problem.rankings.iter().find(|r| r.case == case) {
        Some(r) => r
            .entries
            .iter()
            .filter_map(|e| stats_of(find_candidate(problem, &e.candidate)?, case))
            .collect(),
        // No ranking recorded (an older file): the candidates with statistics.
        None => problem
            .candidates
            .iter()
            .filter_map(|c| stats_of(c, case))
            .collect(),
    };
    if ranked.is_empty() {
        return Basis::Gross;
    }
    if ranked.len() == 1
        || ranked
            .iter()
            .all(|s| s.net_energy_per_call_j.point.get() > 0.0)
    {
        Basis::Net
    } else {
        Basis::Gross
    }
}

/// How a problem's (or a run's) candidates fared, counted once for every view.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Counts {
    pub total: usize,
    /// Checked and passed.
    pub passed: usize,
    /// Failed their check (or crashed before measuring).
    pub failed: usize,
    /// `ignore`d and not asked for: never checked, never measured.
    pub ignored: usize,
    /// Not run because the run stopped first.
    pub not_run: usize,
}

impl Counts {
    pub fn of<'a>(candidates: impl IntoIterator<Item = &'a CandidateResult>) -> Counts {
        let mut n = Counts::default();
        for c in candidates {
            n.total += 1;
            match (c.check.status, c.status) {
                (Status::Ignored, _) | (_, Status::Ignored) => n.ignored += 1,
                (s, _) if s.is_failure() => n.failed += 1,
                (_, s) if s.is_failure() && c.measurements.is_empty() => n.failed += 1,
                (Status::NotRun, _) => n.not_run += 1,
                _ => n.passed += 1,
            }
        }
        n
    }

    /// `3 of 5 candidates passed their checks, 1 ignored`: ignored and unrun candidates are
    /// said, never counted as passed.
    pub fn sentence(&self) -> String {
        let mut s = format!(
            "{} of {} candidate{} passed {} checks",
            self.passed,
            self.total,
            if self.total == 1 { "" } else { "s" },
            if self.total == 1 { "its" } else { "their" }
        );
        if self.ignored > 0 {
            s.push_str(&format!(", {} ignored", self.ignored));
        }
        if self.not_run > 0 {
            s.push_str(&format!(", {} not run", self.not_run));
        }
        s
    }
}

/// The footnote that explains the `≈` mark, when a table has one.
pub fn tie_note(level: &str) -> String {
    format!(
        "≈ not significantly different from the candidate ranked just above ({level} level): \
         their order is not established"
    )
}

impl CaseTable<'_> {
    pub fn ranked(&self) -> impl Iterator<Item = &Row<'_>> {
        self.rows.iter().filter(|r| r.stats.is_some())
    }
}

/// One table per measured case: ranked candidates in rank order, then the candidates that
/// passed their checks but have no figure here, with the reason. Candidates that failed their
/// checks are left out ([`check_failed`] lists them once per problem), and so are ignored ones
/// ([`ignored`]).
pub fn case_tables(problem: &ProblemResult) -> Vec<CaseTable<'_>> {
    problem
        .cases
        .iter()
        .filter(|c| c.measured)
        .map(|case| {
            let basis = ranked_basis(problem, &case.id);
            let mut rows = ranked_rows(problem, &case.id, basis);
            for candidate in &problem.candidates {
                if rows.iter().any(|r| std::ptr::eq(r.candidate, candidate))
                    || failed_check(candidate)
                    || is_ignored(candidate)
                {
                    continue;
                }
                let (status, note) = unranked_reason(candidate, &case.id);
                rows.push(Row {
                    rank: None,
                    candidate,
                    stats: None,
                    ratio: None,
                    ratio_interval: None,
                    status,
                    note: Some(note),
                    verdict: None,
                    tie: false,
                });
            }
            CaseTable {
                case: &case.id,
                size: case.size,
                basis,
                rows,
            }
        })
        // A case nobody measured (a check-only run) has no table: rows of "not run" say nothing.
        .filter(|t| {
            t.rows
                .iter()
                .any(|r| measurement(r.candidate, t.case).is_some())
        })
        .collect()
}

fn ranked_rows<'a>(problem: &'a ProblemResult, case: &str, basis: Basis) -> Vec<Row<'a>> {
    let stats_of = |c: &'a CandidateResult| measurement(c, case).and_then(|m| m.stats.as_ref());
    if let Some(ranking) = problem.rankings.iter().find(|r| r.case == case) {
        return ranking
            .entries
            .iter()
            .enumerate()
            .filter_map(|(k, e)| {
                // `significant_vs_next` of the entry above says whether this step is real.
                let tie = k > 0 && ranking.entries[k - 1].significant_vs_next == Some(false);
                let candidate = find_candidate(problem, &e.candidate)?;
                let stats = stats_of(candidate)?;
                Some(Row {
                    rank: Some(e.rank),
                    candidate,
                    stats: Some(stats),
                    ratio: Some(e.ratio_to_best.point),
                    ratio_interval: Some(e.ratio_to_best),
                    status: Status::Passed,
                    note: None,
                    verdict: Some(&e.verdict),
                    tie,
                })
            })
            .collect();
    }
    // No ranking (an older file, or a run cut short before ranking): order by the point
    // estimate and say nothing about significance.
    let energy = |s: &CaseStats| match basis {
        Basis::Net => s.net_energy_per_call_j.point.get(),
        Basis::Gross => s.energy_per_call_j.point.get(),
    };
    let mut measured: Vec<(&CandidateResult, &CaseStats)> = problem
        .candidates
        .iter()
        .filter_map(|c| Some((c, stats_of(c)?)))
        .collect();
    measured.sort_by(|a, b| energy(a.1).total_cmp(&energy(b.1)));
    let best = measured.first().map(|(_, s)| energy(s));
    measured
        .into_iter()
        .enumerate()
        .map(|(i, (candidate, stats))| Row {
            rank: Some(i as u32 + 1),
            candidate,
            stats: Some(stats),
            ratio: best.filter(|b| *b > 0.0).map(|b| energy(stats) / b),
            ratio_interval: None,
            status: Status::Passed,
            note: None,
            verdict: None,
            tie: false,
        })
        .collect()
}

fn failed_check(candidate: &CandidateResult) -> bool {
    candidate.check.status.is_failure()
        || (candidate.status.is_failure() && candidate.measurements.is_empty())
}

fn is_ignored(candidate: &CandidateResult) -> bool {
    candidate.status == Status::Ignored || candidate.check.status == Status::Ignored
}

/// Candidates marked `ignore` that this run did not ask for: never checked nor measured.
pub fn ignored(problem: &ProblemResult) -> Vec<&CandidateResult> {
    problem
        .candidates
        .iter()
        .filter(|c| is_ignored(c))
        .collect()
}

/// What every view says about ignored candidates.
pub const IGNORED_NOTE: &str = "ignored (`ignore` on the candidate; `--include-ignored` runs it)";

/// Candidates that failed their correctness checks, so were never measured.
pub fn check_failed(problem: &ProblemResult) -> Vec<&CandidateResult> {
    problem
        .candidates
        .iter()
        .filter(|c| failed_check(c))
        .collect()
}

fn unranked_reason(candidate: &CandidateResult, case: &str) -> (Status, String) {
    match measurement(candidate, case) {
        Some(m) => match &m.failure {
            Some(f) => (f.kind, format!("measurement stopped: {}", f.message)),
            None => (
                Status::NotRun,
                format!("no statistics (stopped: {})", m.stop_reason),
            ),
        },
        None => match candidate.status {
            Status::Ignored => (Status::Ignored, "ignored".into()),
            _ => (Status::NotRun, "not measured".into()),
        },
    }
}

/// Where a failure happened.
pub enum Stage<'a> {
    Check,
    Measurement { case: &'a str },
}

pub struct FailureItem<'a> {
    pub candidate: &'a CandidateResult,
    pub stage: Stage<'a>,
    pub failure: Failure,
    /// The worker's stderr, for check failures that wrote some.
    pub stderr: Option<&'a str>,
}

impl FailureItem<'_> {
    /// `check` or `measuring n100k`.
    pub fn stage_label(&self) -> String {
        match self.stage {
            Stage::Check => "correctness check".into(),
            Stage::Measurement { case } => format!("measuring case {case}"),
        }
    }

    /// One line: `wrong_answer on case n1k: output differs…`.
    pub fn summary(&self) -> String {
        let f = &self.failure;
        let mut s = f.kind.as_str().to_string();
        if let Some(case) = &f.case {
            s.push_str(&format!(" on case {case}"));
        }
        if let Some(signal) = &f.signal {
            s.push_str(&format!(" ({signal})"));
        }
        if let Some(limit) = &f.limit {
            s.push_str(&format!(" (limit {limit})"));
        }
        s.push_str(": ");
        s.push_str(&f.message);
        s
    }
}

/// Every check failure and every measurement that stopped short, in candidate order.
pub fn failures(problem: &ProblemResult) -> Vec<FailureItem<'_>> {
    let mut out = Vec::new();
    for candidate in &problem.candidates {
        let check_failed = candidate.check.status.is_failure();
        if failed_check(candidate) {
            let failure = candidate.check.failure.clone().unwrap_or_else(|| Failure {
                kind: if check_failed {
                    candidate.check.status
                } else {
                    candidate.status
                },
                case: None,
                message: "no details were recorded".into(),
                expected: None,
                actual: None,
                signal: None,
                limit: None,
            });
            let stderr = Some(candidate.check.stderr.text.as_str()).filter(|t| !t.is_empty());
            out.push(FailureItem {
                candidate,
                stage: Stage::Check,
                failure,
                stderr,
            });
        }
        for m in &candidate.measurements {
            if let Some(f) = &m.failure {
                out.push(FailureItem {
                    candidate,
                    stage: Stage::Measurement { case: &m.case },
                    failure: f.clone(),
                    stderr: None,
                });
            }
        }
    }
    out
}

/// Baseline entries of this problem's candidates (matched by id, name, or `problem::` prefix
/// for candidates that exist only in the baseline).
pub fn baseline_entries<'a>(
    results: &'a RunResults,
    problem: &ProblemResult,
) -> Vec<&'a ChangeEntry> {
    let prefix = format!("{}::", problem.name);
    results
        .baseline
        .iter()
        .flat_map(|b| b.entries.iter())
        .filter(|e| {
            find_candidate(problem, &e.candidate).is_some() || e.candidate.starts_with(&prefix)
        })
        .collect()
}

/// Baseline entries that belong to no problem of this run.
pub fn orphan_baseline_entries(results: &RunResults) -> Vec<&ChangeEntry> {
    results
        .baseline
        .iter()
        .flat_map(|b| b.entries.iter())
        .filter(|e| {
            !results.problems.iter().any(|p| {
                find_candidate(p, &e.candidate).is_some()
                    || e.candidate.starts_with(&format!("{}::", p.name))
            })
        })
        .collect()
}

/// The short name of a baseline entry's candidate.
pub fn entry_name<'a>(problem: Option<&'a ProblemResult>, key: &'a str) -> &'a str {
    problem
        .and_then(|p| find_candidate(p, key))
        .map(|c| c.name.as_str())
        .unwrap_or_else(|| key.rsplit("::").next().unwrap_or(key))
}

/// The family a case belongs to: its id without the trailing size (`worst-case-1000` →
/// `worst-case`, `n10k` → `n`). Cases of one family are one line of the scaling chart; a
/// problem measured on several kinds of input (`worst-case-*` and `text-*`) draws one line per
/// kind, since joining them would zig-zag between unrelated inputs of similar sizes.
pub fn case_family(id: &str) -> &str {
    let mut rest = id;
    // A unit suffix only counts right after a digit: `n10k`, `1M`.
    if let Some(stripped) = rest.strip_suffix(['k', 'K', 'm', 'M', 'g', 'G'])
        && stripped.ends_with(|c: char| c.is_ascii_digit())
    {
        rest = stripped;
    }
    let rest = rest.trim_end_matches(|c: char| c.is_ascii_digit() || c == '_' || c == '.');
    rest.trim_end_matches(['-', '_', '.', ' ', '='])
}

/// Energy per call of one sample in `domain`, on `basis`.
pub fn sample_energy_per_call(sample: &Sample, domain: &str, basis: Basis) -> Option<f64> {
    let e = sample.energy.iter().find(|e| e.domain == domain)?;
    let j = match basis {
        Basis::Net => e.net,
        Basis::Gross => e.gross,
    };
    (sample.calls > 0).then(|| j.get() / sample.calls as f64)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::results::CheckRecord;

    fn candidate(name: &str, status: Status) -> CandidateResult {
        CandidateResult {
            id: format!("p::{name}"),
            name: name.into(),
            location: "src/lib.rs:1".into(),
            binary: None,
            threshold: None,
            status,
            check: CheckRecord::without_worker(status),
            measurements: vec![],
        }
    }

    #[test]
    fn a_failure_without_details_still_appears() {
        let problem = ProblemResult {
            name: "p".into(),
            cases: vec![],
            candidates: vec![
                candidate("a", Status::Passed),
                candidate("b", Status::Timeout),
            ],
            rankings: vec![],
        };
        let items = failures(&problem);
        assert_eq!(items.len(), 1);
        assert_eq!(items[0].candidate.name, "b");
        assert!(items[0].summary().starts_with("timeout: no details"));
    }

    #[test]
    fn case_families_drop_the_size() {
        assert_eq!(case_family("worst-case-1000"), "worst-case");
        assert_eq!(case_family("text-100000"), "text");
        assert_eq!(case_family("n10k"), "n");
        assert_eq!(case_family("n1_000"), "n");
        assert_eq!(case_family("1000"), "");
        assert_eq!(case_family("minimal"), "minimal");
        assert_eq!(case_family("peak"), "peak");
    }

    #[test]
    fn candidates_are_found_by_id_or_name() {
        let problem = ProblemResult {
            name: "p".into(),
            cases: vec![],
            candidates: vec![candidate("a", Status::Passed)],
            rankings: vec![],
        };
        assert!(find_candidate(&problem, "p::a").is_some());
        assert!(find_candidate(&problem, "a").is_some());
        assert!(find_candidate(&problem, "q::a").is_none());
    }

    #[test]
    fn the_interval_note_says_what_the_interval_covers() {
        let text = include_str!("../../tests/fixtures/results/estimated.json");
        let mut results = RunResults::from_json(text, "estimated.json").unwrap();
        // A file before the widening says the run's shift is not in it.
        let note = interval_note(&results).unwrap();
        assert!(
            note.ends_with("not what varies from one run to the next"),
            "{note}"
        );
        let mut spread = results.clone();
        for m in spread.problems.iter_mut().flat_map(|p| &mut p.candidates) {
            for s in m.measurements.iter_mut().filter_map(|m| m.stats.as_mut()) {
                s.processes = 4;
            }
        }
        let note = interval_note(&spread).unwrap();
        assert!(note.contains("a shift of the whole run is not"), "{note}");
        // Widened by the prior (no history here), and said so.
        crate::engine::history::apply(&mut results, None).unwrap();
        let note = interval_note(&results).unwrap();
        assert!(
            note.contains(
                "widened by this machine's run-to-run variation (σ 2.0%, the estimate meter's \
                 prior: no run history here); rankings inside the run are not widened"
            ),
            "{note}"
        );
    }
}
