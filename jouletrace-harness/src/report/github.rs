//! A GitHub-flavoured Markdown summary, appended to `$GITHUB_STEP_SUMMARY` in GitHub Actions.
//!
//! Short by design: the ranking of each measured case, the failures, and the baseline changes
//! that matter (regressions first). The full story is in the HTML report; the summary says so.

use std::fmt::Write as _;

use super::numbers::{self as num};
use super::view::{self, Basis, CaseTable};
use super::{Format, ReportError};
use crate::results::{ChangeVerdict, RunResults};

#[derive(Clone, Copy, Debug, Default)]
pub struct GithubSummary;

impl Format for GithubSummary {
    fn render(&self, results: &RunResults) -> Result<String, ReportError> {
        let mut out = String::new();
        let all = view::Counts::of(results.candidates());
        let _ = writeln!(
            out,
            "## JouleTrace: {} problem{}, {} candidate{}{}\n",
            results.problems.len(),
            plural(results.problems.len()),
            all.total,
            plural(all.total),
            if all.ignored > 0 {
                format!(" ({} ignored)", all.ignored)
            } else {
                String::new()
            }
        );
        if let Some(warning) = view::estimate_warning(results) {
            let _ = writeln!(out, "> [!WARNING]\n> **{}**\n", md(&warning));
        }
        if !results.run.complete {
            let reason = results
                .run
                .incomplete_reason
                .as_deref()
                .unwrap_or("unknown reason");
            let _ = writeln!(
                out,
                "> [!CAUTION]\n> This run is incomplete ({}): figures cover what was gathered before it stopped.\n",
                md(reason)
            );
        }
        let meter = view::meter_label(results);
        let estimated = results.is_estimated();
        let provenance = if estimated { "estimated" } else { "measured" };
        let mut facts = vec![format!("Meter: **{}** ({provenance})", md(&meter))];
        if let Some(cpu) = &results.environment.cpu_model {
            facts.push(format!("CPU: {}", md(cpu)));
        }
        if let Some(commit) = &results.environment.commit {
            facts.push(format!("commit {}", md(short_commit(commit))));
        }
        let _ = writeln!(out, "{}\n", facts.join(" · "));

        let net = view::shows_net(results);
        let energy_head = match (estimated, net) {
            (true, _) => format!("Estimated energy/call ({})", md(&meter)),
            (false, true) => format!("Net energy/call ({})", md(&meter)),
            (false, false) => format!("Energy/call ({})", md(&meter)),
        };
        // Under the estimate the power is the model's constant: no column for it.
        let mut extra_head = String::new();
        let mut extra_align = String::new();
        if net {
            extra_head.push_str(" Gross |");
            extra_align.push_str("--:|");
        }
        if !estimated {
            extra_head.push_str(" Power |");
            extra_align.push_str("--:|");
        }
        let level = num::level(results.settings.confidence_level);
        for problem in &results.problems {
            let _ = writeln!(out, "### {}\n", md(&problem.name));
            let counts = view::Counts::of(&problem.candidates);
            let _ = writeln!(out, "{}\n", md(&counts.sentence()));
            let tables = view::case_tables(problem);
            if tables.iter().any(|t| t.ranked().next().is_some()) {
                let _ = writeln!(
                    out,
                    "| Case | Rank | Candidate | {energy_head} | {level} CI |{extra_head} Time/call | Ratio to best | Status |"
                );
                let _ = writeln!(out, "|---|--:|---|--:|--:|{extra_align}--:|--:|---|");
                for table in &tables {
                    rows(&mut out, table, estimated, net);
                }
                out.push('\n');
                if net {
                    out.push_str("_Net: idle power subtracted (ranks and ratios use it); gross: as the meter read it._\n\n");
                }
                if tables.iter().any(|t| t.rows.iter().any(|r| r.tie)) {
                    let _ = writeln!(out, "_{}._\n", md(&view::tie_note(&level)));
                }
            }
            let ignored = view::ignored(problem);
            if !ignored.is_empty() {
                let names: Vec<String> = ignored.iter().map(|c| md(&c.name)).collect();
                let _ = writeln!(out, "{}: {}\n", md(view::IGNORED_NOTE), names.join(", "));
            }
            let failures = view::failures(problem);
            if !failures.is_empty() {
                out.push_str("**Failures**\n\n");
                for f in &failures {
                    let _ = writeln!(
                        out,
                        "- **{}** ({}): {}",
                        md(&f.candidate.name),
                        md(&f.stage_label()),
                        md(&f.summary())
                    );
                    let mut details = String::new();
                    if let Some(e) = &f.failure.expected {
                        let _ = writeln!(details, "expected: {}", html(e));
                    }
                    if let Some(a) = &f.failure.actual {
                        let _ = writeln!(details, "actual:   {}", html(a));
                    }
                    if let Some(s) = f.stderr {
                        let _ = write!(details, "stderr:\n{}", html(s));
                    }
                    if !details.is_empty() {
                        let _ = writeln!(
                            out,
                            "  <details><summary>details</summary>\n\n  <pre>{}</pre>\n  </details>",
                            details.trim_end()
                        );
                    }
                }
                out.push('\n');
            }
        }
        baseline(&mut out, results, &level);
        out.push_str("_Full report with charts: `target/joule/report.html`._\n");
        Ok(out)
    }
}

fn rows(out: &mut String, table: &CaseTable<'_>, estimated: bool, net: bool) {
    let case = match table.size {
        Some(n) => format!("{} (n={})", md(table.case), num::size(n)),
        None => md(table.case),
    };
    let basis = if net { table.basis } else { Basis::Gross };
    let header_basis = if net { Basis::Net } else { Basis::Gross };
    for (i, row) in table.rows.iter().enumerate() {
        let case_cell = if i == 0 { case.as_str() } else { "" };
        let name = md(&row.candidate.name);
        match (row.stats, row.energy(basis), row.energy(basis.other())) {
            (Some(s), Some(e), Some(o)) => {
                let est = if estimated { " (est.)" } else { "" };
                let label = if basis == header_basis {
                    String::new()
                } else {
                    format!(" ({})", basis.word())
                };
                let mut extra = String::new();
                if net {
                    extra.push_str(&format!(" {} |", num::joules(o.point)));
                }
                if !estimated {
                    extra.push_str(&format!(" {} |", num::watts(s.power_w.point)));
                }
                let ratio = row.ratio.map(num::ratio).unwrap_or_default();
                let ratio = if row.tie {
                    format!("≈{ratio}")
                } else {
                    ratio
                };
                let _ = writeln!(
                    out,
                    "| {case_cell} | {} | {} | {}{label}{est} | {}{est} |{extra} {} | {ratio} | ✅ passed |",
                    row.rank.map(|r| r.to_string()).unwrap_or_default(),
                    if row.rank == Some(1) {
                        format!("**{name}**")
                    } else {
                        name
                    },
                    num::joules(e.point),
                    num::joules_range(e),
                    num::seconds(s.time_per_call_s.point),
                );
            }
            _ => {
                let blanks = 1 + usize::from(net) + usize::from(!estimated);
                let _ = writeln!(
                    out,
                    "| {case_cell} | – | {name} | – |{} – | – | ❌ {} |",
                    " – |".repeat(blanks),
                    row.status.as_str()
                );
            }
        }
    }
}

fn baseline(out: &mut String, results: &RunResults, level: &str) {
    let Some(b) = &results.baseline else { return };
    let mut entries: Vec<_> = b.entries.iter().collect();
    let order = |v: ChangeVerdict| match v {
        ChangeVerdict::Regressed => 0,
        ChangeVerdict::Improved => 1,
        ChangeVerdict::Missing => 2,
        ChangeVerdict::Unchanged => 3,
    };
    entries.sort_by_key(|e| order(e.verdict));
    let regressed = entries
        .iter()
        .filter(|e| e.verdict == ChangeVerdict::Regressed)
        .count();
    let _ = writeln!(
        out,
        "### Compared with baseline `{}`: {} regression{}\n",
        b.name.replace('`', "'"),
        regressed,
        plural(regressed)
    );
    for w in &b.warnings {
        let _ = writeln!(out, "> [!WARNING]\n> {}\n", md(w));
    }
    let _ = writeln!(
        out,
        "| Candidate | Case | Old | New | Change | {level} CI | Verdict |"
    );
    out.push_str("|---|---|--:|--:|--:|--:|---|\n");
    for e in entries {
        let name = md(&e.candidate);
        let (Some(change), false) = (e.change, e.verdict == ChangeVerdict::Missing) else {
            let _ = writeln!(
                out,
                "| {name} | {} | {} | {} | {absent} | {absent} | ⚪ missing: {} |",
                md(&e.case),
                num::joules_or_absent(e.old_energy_per_call_j),
                num::joules_or_absent(e.new_energy_per_call_j),
                md(e.reason.as_deref().unwrap_or("measured on one side only")),
                absent = num::ABSENT,
            );
            continue;
        };
        let verdict = match e.verdict {
            ChangeVerdict::Regressed => "🔴 **regressed**",
            ChangeVerdict::Improved => "🟢 improved",
            _ => "unchanged",
        };
        let _ = writeln!(
            out,
            "| {name} | {} | {} | {} | {} | {} | {verdict} |",
            md(&e.case),
            num::joules_or_absent(e.old_energy_per_call_j),
            num::joules_or_absent(e.new_energy_per_call_j),
            num::percent_signed(change.point),
            num::percent_range(change.lower, change.upper),
        );
    }
    out.push('\n');
}

fn plural(n: usize) -> &'static str {
    if n == 1 { "" } else { "s" }
}

fn short_commit(commit: &str) -> &str {
    commit.get(..12).unwrap_or(commit)
}

/// Text that must not become Markdown or HTML: entities for markup, backslashes for the
/// characters GitHub would read as emphasis, code, links or table cells.
pub(crate) fn md(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for ch in text.chars() {
        match ch {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '\n' | '\r' => out.push(' '),
            '\\' | '`' | '*' | '_' | '[' | ']' | '|' | '#' | '~' => {
                out.push('\\');
                out.push(ch);
            }
            c => out.push(c),
        }
    }
    out
}

/// Text inside an HTML block (`<pre>`): entities only.
fn html(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn markdown_escapes_markup_and_table_cells() {
        assert_eq!(md("a|b <i>*x*</i>"), "a\\|b &lt;i&gt;\\*x\\*&lt;/i&gt;");
        assert_eq!(md("std_sort"), "std\\_sort");
    }
}
