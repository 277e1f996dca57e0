//! The HTML report: one self-contained file, readable offline.
//!
//! The page is `jouletrace-harness/templates/report.html.tera` (embedded at compile time) rendered with a view
//! model built here: every number is formatted and every chart laid out in Rust, so the template
//! only places strings. Inline CSS and inline SVG, no scripts, fonts or images from anywhere: the
//! file makes no network request. All text from the results — candidate names, the `Debug`
//! output of expected and actual values, captured stderr — goes through tera's HTML escaping.

use serde::Serialize;

use super::numbers::{self as num};
use super::svg::{self, Chart};
use super::view::{self, CaseTable};
use super::{Format, ReportError};
use crate::results::{ChangeEntry, ChangeVerdict, ProblemResult, RunResults, Status};

const TEMPLATE: &str = include_str!("../../templates/report.html.tera");
const CHARTS: &str = include_str!("../../templates/charts.html.tera");
/// Names end in `.html` so tera escapes every `{{ }}` by default.
const TEMPLATE_NAME: &str = "report.html";
const CHARTS_NAME: &str = "charts.html";

#[derive(Clone, Copy, Debug, Default)]
pub struct Html;

impl Format for Html {
    fn render(&self, results: &RunResults) -> Result<String, ReportError> {
        let mut tera = tera::Tera::default();
        tera.add_raw_templates([(CHARTS_NAME, CHARTS), (TEMPLATE_NAME, TEMPLATE)])
            .map_err(|e| ReportError::template(&e))?;
        let page = Page::build(results);
        let context =
            tera::Context::from_serialize(&page).map_err(|e| ReportError::template(&e))?;
        tera.render(TEMPLATE_NAME, &context)
            .map_err(|e| ReportError::template(&e))
    }
}

#[derive(Serialize)]
struct Page {
    title: String,
    tool: String,
    estimated: bool,
    /// `" (estimated)"` or empty: appended to every energy heading.
    est_suffix: &'static str,
    /// Idle-subtracted figures mean something only when idle power was measured; then they are
    /// ranked and shown first, gross beside them.
    show_net: bool,
    /// The line under the estimate banner that says where the reasons are.
    estimate_pointer: Option<String>,
    estimate_warning: Option<String>,
    /// How busy the machine was (`None` when not observed).
    background: Option<String>,
    /// What the ± means, with processes × samples.
    interval_note: Option<String>,
    rejected_meters: Vec<Fact>,
    incomplete: Option<String>,
    meter_label: String,
    provenance: &'static str,
    level: String,
    started_at: String,
    finished_at: String,
    command_line: String,
    counts: Counts,
    problems: Vec<ProblemView>,
    environment: Vec<Fact>,
    meter: Vec<Fact>,
    domains: Vec<DomainView>,
    idle: Vec<Fact>,
    meter_warnings: Vec<String>,
    settings: Vec<Fact>,
    baseline: Option<BaselineView>,
}

#[derive(Serialize)]
struct Counts {
    problems: usize,
    candidates: usize,
    passed: usize,
    failed: usize,
    ignored: usize,
    regressions: usize,
}

#[derive(Serialize)]
struct Fact {
    key: String,
    value: String,
}

fn fact(key: &str, value: impl Into<String>) -> Fact {
    Fact {
        key: key.into(),
        value: value.into(),
    }
}

fn unknown(v: &Option<String>) -> String {
    v.clone().unwrap_or_else(|| "unknown".into())
}

#[derive(Serialize)]
struct DomainView {
    id: String,
    kind: String,
    scope: String,
    cpus: String,
    primary: bool,
}

#[derive(Serialize)]
struct ProblemView {
    name: String,
    anchor: String,
    legend: Vec<LegendItem>,
    cases: Vec<CaseView>,
    scaling: Option<Chart>,
    /// `solid worst-case-*, dashed text-*` when the chart has several case families.
    scaling_families: String,
    failures: Vec<FailureView>,
    changes: Vec<ChangeView>,
    regressions: usize,
    /// `3 of 6 candidates passed their checks, 1 ignored`.
    counts: String,
    not_ranked: Vec<NotRanked>,
    ignored: Vec<String>,
    /// Some ratio is marked `≈`: the footnote explains it.
    has_ties: bool,
}

#[derive(Serialize)]
struct NotRanked {
    name: String,
    status: &'static str,
}

#[derive(Serialize)]
struct LegendItem {
    name: String,
    color: &'static str,
}

#[derive(Serialize)]
struct CaseView {
    id: String,
    size: Option<String>,
    /// `net` or `gross`: what the rows are ranked on.
    basis: &'static str,
    rows: Vec<RowView>,
    bars: Option<Chart>,
    distribution: Option<Chart>,
}

#[derive(Serialize)]
struct RowView {
    rank: String,
    name: String,
    id: String,
    location: String,
    color: &'static str,
    measured: bool,
    best: bool,
    /// The ranked energy (net of idle when idle was measured), then the other one.
    energy: String,
    energy_range: String,
    other_energy: String,
    power: String,
    power_range: String,
    time: String,
    time_range: String,
    ratio: String,
    ratio_range: String,
    tie: bool,
    samples: String,
    cv: String,
    flags: Vec<String>,
    status: &'static str,
    status_class: &'static str,
    note: String,
    verdict: String,
}

#[derive(Serialize)]
struct FailureView {
    candidate: String,
    location: String,
    stage: String,
    kind: &'static str,
    case: Option<String>,
    message: String,
    expected: Option<String>,
    actual: Option<String>,
    signal: Option<String>,
    limit: Option<String>,
    stderr: Option<String>,
}

#[derive(Serialize)]
struct ChangeView {
    candidate: String,
    case: String,
    old: String,
    new: String,
    change: String,
    range: String,
    verdict: &'static str,
    class: &'static str,
    strip: Option<Chart>,
}

#[derive(Serialize)]
struct BaselineView {
    name: String,
    file: String,
    forced: bool,
    warnings: Vec<String>,
    regressions: usize,
    improvements: usize,
    unchanged: usize,
    missing: usize,
    orphans: Vec<ChangeView>,
}

impl Page {
    fn build(results: &RunResults) -> Page {
        let estimated = results.is_estimated();
        let est_suffix = if estimated { " (estimated)" } else { "" };
        let level = num::level(results.settings.confidence_level);
        let meter_label = view::meter_label(results);
        let env = &results.environment;
        let problems: Vec<ProblemView> = results
            .problems
            .iter()
            .enumerate()
            .map(|(i, p)| problem_view(results, p, i, &level))
            .collect();
        let all = view::Counts::of(results.candidates());
        let regressions = results
            .baseline
            .iter()
            .flat_map(|b| &b.entries)
            .filter(|e| e.verdict == ChangeVerdict::Regressed)
            .count();

        let mut environment = vec![
            fact("CPU", unknown(&env.cpu_model)),
            fact("Vendor", unknown(&env.cpu_vendor)),
            fact(
                "Cores",
                format!(
                    "{} logical, {} physical, {} package{}",
                    env.logical_cpus,
                    env.physical_cores,
                    env.packages,
                    if env.packages == 1 { "" } else { "s" }
                ),
            ),
            fact("Kernel", unknown(&env.kernel)),
            fact("OS / arch", format!("{} / {}", env.os, env.arch)),
            fact(
                "Governor",
                env.governor
                    .clone()
                    .unwrap_or_else(|| "unknown (cpufreq not exposed)".into()),
            ),
            fact(
                "Turbo",
                match env.turbo {
                    Some(true) => "on",
                    Some(false) => "off",
                    None => "unknown",
                },
            ),
            fact(
                "Virtualized",
                match env.virtualized {
                    Some(true) => "yes",
                    Some(false) => "no",
                    None => "unknown",
                },
            ),
            fact("Host", unknown(&env.hostname)),
            fact("Commit", unknown(&env.commit)),
            fact("rustc", unknown(&env.rustc)),
            fact("Worker CPUs", join(&env.worker_cpus)),
            fact(
                "Orchestrator CPU",
                env.orchestrator_cpu
                    .map(|c| c.to_string())
                    .unwrap_or_else(|| "not pinned".into()),
            ),
        ];
        // Results written before the sandbox existed carry no level: say nothing rather than
        // guess.
        if let Some(sb) = &env.sandbox {
            environment.push(fact("Sandbox", sb.summary()));
        }

        let (meter, domains, meter_warnings, rejected_meters) = match &results.meter {
            Some(m) => {
                let mut facts = vec![
                    fact("Backend", view::backend_name(m.backend)),
                    fact(
                        "Provenance",
                        if m.estimated {
                            "ESTIMATED (not a measurement)"
                        } else {
                            "measured by hardware counters"
                        },
                    ),
                    fact("Ranked domain", m.primary_domain.clone()),
                ];
                if let Some(w) = m.estimate_watts_per_core {
                    facts.push(fact("Estimate", format!("{} per busy core", num::watts(w))));
                }
                let domains = m
                    .domains
                    .iter()
                    .map(|d| DomainView {
                        id: d.id.clone(),
                        kind: format!("{:?}", d.kind).to_lowercase(),
                        scope: scope_label(&d.scope),
                        cpus: if d.cpus.is_empty() {
                            "–".into()
                        } else {
                            join(&d.cpus)
                        },
                        primary: d.id == m.primary_domain,
                    })
                    .collect();
                let rejected = m
                    .rejected
                    .iter()
                    .map(|r| {
                        let mut value = r.reason.clone();
                        if let Some(remedy) = &r.remedy {
                            value.push_str(" — remedy: ");
                            value.push_str(remedy);
                        }
                        fact(view::backend_name(r.backend), value)
                    })
                    .collect();
                // Under the estimate the banner already says it (once, with the pointer to
                // `cargo joule doctor`): its note is not repeated here.
                let warnings = m
                    .warnings
                    .iter()
                    .filter(|w| !(m.estimated && w.contains("ESTIMATED")))
                    .cloned()
                    .collect();
                (facts, domains, warnings, rejected)
            }
            None => (
                vec![fact(
                    "Meter",
                    "none: this run only checked correctness, nothing was measured",
                )],
                Vec::new(),
                Vec::new(),
                Vec::new(),
            ),
        };
        let idle = results
            .idle
            .iter()
            .map(|r| {
                fact(
                    &r.domain,
                    format!(
                        "{}{est_suffix} over {}",
                        num::watts(r.power),
                        num::seconds(r.window_s)
                    ),
                )
            })
            .collect();

        let s = &results.settings;
        let settings = vec![
            fact(
                "Sample length",
                format!("≥ {}", num::seconds(s.min_sample_time_s)),
            ),
            fact("Warm-up samples", s.warmup.to_string()),
            fact("Trials", format!("{}–{}", s.min_trials, s.max_trials)),
            fact(
                "Target interval",
                format!("±{:.1}% of the median", s.target_ci * 100.0),
            ),
            fact("Time budget", num::seconds(s.time_budget_s)),
            fact("Timeout", num::seconds(s.timeout_s)),
            fact(
                "Memory limit",
                s.memory_limit_mb
                    .map(|m| format!("{m} MiB"))
                    .unwrap_or_else(|| "none".into()),
            ),
            fact(
                "Regression threshold",
                format!("{:.1}%", s.threshold * 100.0),
            ),
            fact("Confidence level", level.clone()),
            fact("Bootstrap resamples", s.bootstrap_resamples.to_string()),
            fact("Seed", s.seed.to_string()),
        ];

        let baseline = results.baseline.as_ref().map(|b| {
            let count = |v: ChangeVerdict| b.entries.iter().filter(|e| e.verdict == v).count();
            let orphans = view::orphan_baseline_entries(results);
            let span = change_span(&orphans);
            BaselineView {
                name: b.name.clone(),
                file: b.file.clone(),
                forced: b.forced,
                warnings: b.warnings.clone(),
                regressions: count(ChangeVerdict::Regressed),
                improvements: count(ChangeVerdict::Improved),
                unchanged: count(ChangeVerdict::Unchanged),
                missing: count(ChangeVerdict::Missing),
                orphans: orphans
                    .into_iter()
                    .map(|e| change_view(None, e, span))
                    .collect(),
            }
        });

        let title = match results.problems.len() {
            1 => format!("JouleTrace: {}", results.problems[0].name),
            n => format!("JouleTrace: {n} problems"),
        };
        Page {
            title,
            tool: format!("{} {}", results.tool.name, results.tool.version),
            estimated,
            est_suffix,
            show_net: view::shows_net(results),
            estimate_warning: view::estimate_warning(results),
            estimate_pointer: estimated.then(|| {
                if results
                    .meter
                    .as_ref()
                    .is_some_and(|m| !m.rejected.is_empty())
                {
                    "Why no energy counter could be read: see “Meters not used” below; \
                     `cargo joule doctor` says what would fix it."
                        .to_owned()
                } else {
                    "The estimate was asked for; `cargo joule doctor` shows which meters this \
                     machine has."
                        .to_owned()
                }
            }),
            background: view::background_line(results),
            interval_note: view::interval_note(results),
            rejected_meters,
            incomplete: (!results.run.complete).then(|| {
                results
                    .run
                    .incomplete_reason
                    .clone()
                    .unwrap_or_else(|| "reason not recorded".into())
            }),
            provenance: match &results.meter {
                Some(m) if m.estimated => "estimated",
                Some(_) => "measured",
                None => "checks only",
            },
            meter_label,
            level,
            started_at: results.run.started_at.clone(),
            finished_at: results
                .run
                .finished_at
                .clone()
                .unwrap_or_else(|| "did not finish".into()),
            command_line: results.run.command_line.join(" "),
            counts: Counts {
                problems: results.problems.len(),
                candidates: all.total,
                passed: all.passed,
                failed: all.failed,
                ignored: all.ignored,
                regressions,
            },
            problems,
            environment,
            meter,
            domains,
            idle,
            meter_warnings,
            settings,
            baseline,
        }
    }
}

/// `0–7, 12`: CPU lists read as runs.
fn join(values: &[u32]) -> String {
    crate::sysfs::cpu_runs(values)
        .into_iter()
        .map(|(start, end)| match end - start {
            0 => start.to_string(),
            1 => format!("{start}, {end}"),
            _ => format!("{start}–{end}"),
        })
        .collect::<Vec<_>>()
        .join(", ")
}

fn scope_label(scope: &crate::energy::Scope) -> String {
    use crate::energy::Scope;
    match scope {
        Scope::System => "whole machine".into(),
        Scope::Package { package } => format!("package {package}"),
        Scope::Core { package, core } => format!("core {core} of package {package}"),
        Scope::Process => "the measured process".into(),
        Scope::Device { index } => format!("device {index}"),
    }
}

/// `sort` → `p0-sort`: an id that is valid HTML whatever the problem is called.
fn anchor(index: usize, name: &str) -> String {
    let slug: String = name
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() {
                c.to_ascii_lowercase()
            } else {
                '-'
            }
        })
        .collect();
    format!("p{index}-{slug}")
}

fn problem_view(results: &RunResults, p: &ProblemResult, index: usize, level: &str) -> ProblemView {
    let estimated = results.is_estimated();
    let est = if estimated { " est." } else { "" };
    let color_of = |id: &str| {
        let i = p.candidates.iter().position(|c| c.id == id).unwrap_or(0);
        svg::color(i)
    };
    let tables = view::case_tables(p);
    let has_ties = tables.iter().any(|t| t.rows.iter().any(|r| r.tie));
    let left = svg::label_margin(p.candidates.iter().map(|c| c.name.as_str()));
    let cases = tables
        .iter()
        .map(|t| case_view(results, t, left, &color_of, level, est))
        .collect();

    // Energy against size: one line per candidate and case family (`worst-case-*` and
    // `text-*` are two lines, never one zig-zag), over the sized, measured cases.
    let sized = |m: &crate::results::CaseMeasurement| {
        m.size
            .or_else(|| p.cases.iter().find(|c| c.id == m.case).and_then(|c| c.size))
    };
    let mut families: Vec<&str> = Vec::new();
    for c in p.cases.iter().filter(|c| c.measured && c.size.is_some()) {
        let f = view::case_family(&c.id);
        if !families.contains(&f) {
            families.push(f);
        }
    }
    let basis_of = |case: &str| {
        tables
            .iter()
            .find(|t| t.case == case)
            .map(|t| t.basis)
            .filter(|_| view::shows_net(results))
            .unwrap_or(view::Basis::Gross)
    };
    let mut series: Vec<svg::Series> = Vec::new();
    let mut legend: Vec<LegendItem> = Vec::new();
    for cand in &p.candidates {
        for (fi, family) in families.iter().enumerate() {
            let points: Vec<svg::Point> = cand
                .measurements
                .iter()
                .filter(|m| view::case_family(&m.case) == *family)
                .filter_map(|m| {
                    let s = m.stats.as_ref()?;
                    let size = sized(m)?;
                    let basis = basis_of(&m.case);
                    let e = match basis {
                        view::Basis::Net => &s.net_energy_per_call_j,
                        view::Basis::Gross => &s.energy_per_call_j,
                    };
                    let net = if basis == view::Basis::Net && view::shows_net(results) {
                        " net"
                    } else {
                        ""
                    };
                    Some(svg::Point {
                        size,
                        point: e.point.get(),
                        lower: e.lower.get(),
                        upper: e.upper.get(),
                        title: format!(
                            "{} · {} (n={}): {}{net}{est} ({})",
                            cand.name,
                            m.case,
                            num::size(size),
                            num::joules(e.point),
                            num::joules_range(e)
                        ),
                    })
                })
                .collect();
            if points.is_empty() {
                continue;
            }
            if !legend.iter().any(|l| l.name == cand.name) {
                legend.push(LegendItem {
                    name: cand.name.clone(),
                    color: color_of(&cand.id),
                });
            }
            series.push(svg::Series {
                name: if families.len() > 1 {
                    format!("{} · {}", cand.name, family_label(family))
                } else {
                    cand.name.clone()
                },
                color: color_of(&cand.id),
                family: fi,
                points,
            });
        }
    }
    let scaling = svg::scaling_chart(
        &series,
        "J",
        format!(
            "{}{}energy per call (log scale), {}",
            if estimated { "ESTIMATED " } else { "" },
            if view::shows_net(results) { "net " } else { "" },
            view::meter_label(results)
        ),
    );
    let scaling_families = if families.len() > 1 {
        families
            .iter()
            .enumerate()
            .map(|(i, f)| {
                format!(
                    "{} {}",
                    ["solid", "dashed", "dotted", "dash-dot"][i % 4],
                    family_label(f)
                )
            })
            .collect::<Vec<_>>()
            .join(", ")
    } else {
        String::new()
    };

    let failures = view::failures(p)
        .into_iter()
        .map(|f| FailureView {
            candidate: f.candidate.name.clone(),
            location: f.candidate.location.clone(),
            stage: f.stage_label(),
            kind: f.failure.kind.as_str(),
            case: f.failure.case.clone(),
            message: f.failure.message.clone(),
            expected: f.failure.expected.clone(),
            actual: f.failure.actual.clone(),
            signal: f.failure.signal.clone(),
            limit: f.failure.limit.clone(),
            stderr: f.stderr.map(str::to_string),
        })
        .collect();

    let entries = view::baseline_entries(results, p);
    let span = change_span(&entries);
    let changes: Vec<ChangeView> = entries
        .iter()
        .map(|e| change_view(Some(p), e, span))
        .collect();
    ProblemView {
        name: p.name.clone(),
        anchor: anchor(index, &p.name),
        legend,
        cases,
        scaling,
        scaling_families,
        failures,
        regressions: entries
            .iter()
            .filter(|e| e.verdict == ChangeVerdict::Regressed)
            .count(),
        changes,
        counts: view::Counts::of(&p.candidates).sentence(),
        ignored: view::ignored(p)
            .into_iter()
            .map(|c| c.name.clone())
            .collect(),
        has_ties,
        not_ranked: view::check_failed(p)
            .into_iter()
            .map(|c| NotRanked {
                name: c.name.clone(),
                status: if c.check.status.is_failure() {
                    c.check.status.as_str()
                } else {
                    c.status.as_str()
                },
            })
            .collect(),
    }
}

fn case_view(
    results: &RunResults,
    t: &CaseTable<'_>,
    left: f64,
    color_of: &dyn Fn(&str) -> &'static str,
    level: &str,
    est: &str,
) -> CaseView {
    let estimated = results.is_estimated();
    let meter = view::meter_label(results);
    // Without idle power net and gross are one figure: show it as gross.
    let basis = if view::shows_net(results) {
        t.basis
    } else {
        view::Basis::Gross
    };
    let rows = t
        .rows
        .iter()
        .map(|r| {
            let color = color_of(&r.candidate.id);
            let base = RowView {
                rank: r.rank.map(|n| n.to_string()).unwrap_or_else(|| "–".into()),
                name: r.candidate.name.clone(),
                id: r.candidate.id.clone(),
                location: r.candidate.location.clone(),
                color,
                measured: false,
                best: r.rank == Some(1),
                energy: "–".into(),
                energy_range: String::new(),
                other_energy: "–".into(),
                power: "–".into(),
                power_range: String::new(),
                time: "–".into(),
                time_range: String::new(),
                ratio: "–".into(),
                ratio_range: String::new(),
                tie: false,
                samples: String::new(),
                cv: String::new(),
                flags: Vec::new(),
                status: r.status.as_str(),
                status_class: if r.status == Status::Passed {
                    "ok"
                } else if r.status.is_failure() {
                    "bad"
                } else {
                    "skip"
                },
                note: r.note.clone().unwrap_or_default(),
                verdict: r.verdict.unwrap_or_default().to_string(),
            };
            let (Some(s), Some(e), Some(o)) = (r.stats, r.energy(basis), r.energy(basis.other()))
            else {
                return base;
            };
            RowView {
                measured: true,
                energy: num::joules(e.point),
                energy_range: num::joules_range(e),
                other_energy: num::joules(o.point),
                power: num::watts(s.power_w.point),
                power_range: num::watts_range(&s.power_w),
                time: num::seconds(s.time_per_call_s.point),
                time_range: num::seconds_range(&s.time_per_call_s),
                ratio: r.ratio.map(num::ratio).unwrap_or_else(|| "–".into()),
                ratio_range: r
                    .ratio_interval
                    .map(|e| num::ratio_range(&e))
                    .unwrap_or_default(),
                tie: r.tie,
                samples: if s.outliers > 0 {
                    format!(
                        "{} ({} outlier{})",
                        s.samples,
                        s.outliers,
                        if s.outliers == 1 { "" } else { "s" }
                    )
                } else {
                    s.samples.to_string()
                },
                cv: format!("{:.1}%", s.cv * 100.0),
                flags: s.flags.iter().map(|f| f.to_string()).collect(),
                ..base
            }
        })
        .collect();

    let ranked: Vec<_> = t.ranked().collect();
    let bars: Vec<svg::Bar<'_>> = ranked
        .iter()
        .filter_map(|r| {
            let e = r.energy(basis)?;
            Some(svg::Bar {
                name: &r.candidate.name,
                color: color_of(&r.candidate.id),
                point: e.point.get(),
                lower: e.lower.get(),
                upper: e.upper.get(),
                label: format!("{}{est}", num::joules(e.point)),
                title: format!(
                    "{}: {}{est}, {level} CI {}",
                    r.candidate.name,
                    num::joules(e.point),
                    num::joules_range(e)
                ),
            })
        })
        .collect();
    let what = match (estimated, basis) {
        (true, _) => "ESTIMATED energy per call",
        (false, view::Basis::Net) => "net energy per call (idle subtracted)",
        (false, view::Basis::Gross) => "energy per call",
    };
    let bars_chart = (!bars.is_empty()).then(|| {
        let mut chart = svg::bar_chart(
            &bars,
            left,
            "J",
            format!("{what} ({meter}); whiskers: {level} confidence interval"),
        );
        chart.label = format!("Bar chart of {what} on case {}", t.case);
        chart
    });

    let dists: Vec<svg::Distribution<'_>> = ranked
        .iter()
        .filter_map(|r| {
            let s = r.stats?;
            let m = view::measurement(r.candidate, t.case)?;
            let samples: Vec<(f64, bool)> = m
                .samples
                .iter()
                .filter_map(|x| {
                    Some((
                        view::sample_energy_per_call(x, &s.domain, basis)?,
                        x.outlier,
                    ))
                })
                .collect();
            let median = r.energy(basis)?.point;
            (!samples.is_empty()).then(|| svg::Distribution {
                name: &r.candidate.name,
                color: color_of(&r.candidate.id),
                median: median.get(),
                summary: format!(
                    "{}{est} · CV {:.1}% · {} samples",
                    num::joules(median),
                    s.cv * 100.0,
                    samples.len()
                ),
                samples,
            })
        })
        .collect();
    let distribution = (!dists.is_empty()).then(|| {
        let mut chart = svg::distribution_chart(
            &dists,
            left,
            format!(
                "each sample's {what} relative to the candidate's median; hollow: outliers (kept)"
            ),
        );
        chart.label = format!("Sample distributions on case {}", t.case);
        chart
    });

    CaseView {
        id: t.case.to_string(),
        size: t.size.map(num::size),
        basis: basis.word(),
        rows,
        bars: bars_chart,
        distribution,
    }
}

/// `text-*`: a family as its cases are named.
fn family_label(family: &str) -> String {
    if family.is_empty() {
        "unnamed".into()
    } else {
        format!("{family}-*")
    }
}

/// The half-width of the shared axis of a problem's change strips.
fn change_span(entries: &[&ChangeEntry]) -> f64 {
    entries
        .iter()
        .filter(|e| e.verdict != ChangeVerdict::Missing)
        .filter_map(|e| e.change.map(|c| (c, e.threshold)))
        .flat_map(|(c, threshold)| [c.lower.abs(), c.upper.abs(), threshold * 2.0])
        .fold(0.05_f64, f64::max)
        * 1.1
}

fn change_view(problem: Option<&ProblemResult>, e: &ChangeEntry, span: f64) -> ChangeView {
    let (verdict, class) = match e.verdict {
        ChangeVerdict::Regressed => ("regressed", "regressed"),
        ChangeVerdict::Improved => ("improved", "improved"),
        ChangeVerdict::Unchanged => ("unchanged", "unchanged"),
        ChangeVerdict::Missing => ("missing", "missing"),
    };
    let name = view::entry_name(problem, &e.candidate).to_string();
    let old = num::joules_or_absent(e.old_energy_per_call_j);
    let new = num::joules_or_absent(e.new_energy_per_call_j);
    let (Some(change), false) = (e.change, e.verdict == ChangeVerdict::Missing) else {
        return ChangeView {
            candidate: name,
            case: e.case.clone(),
            old,
            new,
            change: num::ABSENT.into(),
            range: e
                .reason
                .clone()
                .unwrap_or_else(|| "measured on one side only".into()),
            verdict,
            class,
            strip: None,
        };
    };
    ChangeView {
        candidate: name,
        case: e.case.clone(),
        old,
        new,
        change: num::percent_signed(change.point),
        range: num::percent_range(change.lower, change.upper),
        verdict,
        class,
        strip: Some(svg::change_strip(
            change.point,
            change.lower,
            change.upper,
            e.threshold,
            span,
            class,
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cpu_lists_collapse_into_runs() {
        assert_eq!(join(&[0, 1, 2, 3, 7, 9, 10]), "0–3, 7, 9, 10");
        assert_eq!(join(&[]), "");
    }

    #[test]
    fn anchors_are_valid_ids() {
        assert_eq!(anchor(2, "Sort <fast>"), "p2-sort--fast-");
    }
}
