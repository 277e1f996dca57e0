//! What the CLI prints besides `jouletrace::report`'s views: JSON lines for tools (stdout,
//! `--message-format json`), and for people the lines the exit status depends on (failures,
//! regressions, where the results are), so that a CI log always says why a run failed.

use std::io::Write;

use jouletrace::engine::{Event, Observer};
use jouletrace::results::{BaselineComparison, ChangeEntry, ChangeVerdict, RunResults};

use crate::cli::{Color, MessageFormat, OutputArgs};

pub struct Printer {
    pub format: MessageFormat,
    pub color: Color,
    pub quiet: u8,
    pub verbose: u8,
}

impl Printer {
    pub fn new(out: &OutputArgs) -> Printer {
        Printer {
            format: out.message_format,
            color: out.color,
            quiet: out.quiet,
            verbose: out.verbose,
        }
    }

    pub fn json(&self) -> bool {
        self.format == MessageFormat::Json
    }

    /// One JSON line on stdout.
    pub fn emit(&self, event: &Event) {
        let mut out = std::io::stdout().lock();
        match serde_json::to_string(event) {
            Ok(line) => {
                let _ = writeln!(out, "{line}");
            }
            // Events hold plain data; a failure here is a bug, told where a tool will see it.
            Err(e) => eprintln!("error: cannot serialize an event: {e}"),
        }
    }

    /// A line for people on stderr (in JSON mode, a `note` event instead).
    pub fn say(&self, level: u8, text: &str) {
        if self.json() {
            self.emit(&Event::Note {
                message: text.to_owned(),
            });
        } else if self.quiet < level || level == 0 {
            eprintln!("{text}");
        }
    }

    pub fn warn(&self, text: &str) {
        if self.json() {
            self.emit(&Event::Warning {
                message: text.to_owned(),
            });
        } else {
            eprintln!("warning: {text}");
        }
    }
}

/// The JSON-lines event stream of `--message-format json` (people get
/// `jouletrace::report`'s progress bars instead). Per-sample and per-start events are left out:
/// they would multiply the stream for no decision a tool makes on them.
impl Observer for Printer {
    fn event(&mut self, event: &Event) {
        if !matches!(
            event,
            Event::Sample { .. } | Event::CheckStarted { .. } | Event::MeasureStarted { .. }
        ) {
            self.emit(event);
        }
    }
}

/// `+98.1% (95% CI +92.0% to +104.4%)`, or why there is no change to show.
pub fn change_text(e: &ChangeEntry, level: f64) -> String {
    match e.change {
        Some(c) if e.verdict != ChangeVerdict::Missing => format!(
            "{:+.1}% ({:.0}% CI {:+.1}% to {:+.1}%)",
            c.point * 100.0,
            level * 100.0,
            c.lower * 100.0,
            c.upper * 100.0
        ),
        _ => format!(
            "no change: {}",
            e.reason.as_deref().unwrap_or("measured on one side only")
        ),
    }
}

/// `1.234 J`, or `—` for a side that has no figure (never 0).
fn energy_text(j: Option<jouletrace::units::Joules>) -> String {
    j.map_or_else(|| "—".into(), |j| j.to_string())
}

/// The comparison, for people (regressions and improvements; unchanged and missing ones only
/// with `-v`, since the warnings already name the missing ones) or as one JSON event.
pub fn print_comparison(p: &Printer, c: &BaselineComparison, level: f64, estimated: bool) {
    if p.json() {
        p.emit(&Event::BaselineComparison {
            comparison: Box::new(c.clone()),
        });
        return;
    }
    let forced = if c.forced {
        " (FORCED: not like-for-like, see warnings)"
    } else {
        ""
    };
    let kind = if estimated { "estimated " } else { "" };
    eprintln!("    Baseline `{}` ({}){forced}", c.name, c.file);
    for w in &c.warnings {
        eprintln!("     warning: {w}");
    }
    for e in &c.entries {
        let word = match e.verdict {
            ChangeVerdict::Regressed => "REGRESSED",
            ChangeVerdict::Improved => "improved",
            ChangeVerdict::Unchanged if p.verbose > 0 => "unchanged",
            ChangeVerdict::Missing if p.verbose > 0 => "missing",
            _ => continue,
        };
        eprintln!(
            "{word:>12} {} (case `{}`): {kind}energy per call {}, threshold {:.1}%; {} → {}",
            e.candidate,
            e.case,
            change_text(e, level),
            e.threshold * 100.0,
            energy_text(e.old_energy_per_call_j),
            energy_text(e.new_energy_per_call_j)
        );
    }
}

/// The closing lines: failures with their reason, regressions, where the results are.
pub fn print_summary(p: &Printer, results: &RunResults, written: Option<&std::path::Path>) {
    if p.json() {
        return;
    }
    if p.quiet == 0 {
        match crate::views::summary_table(results, p.color) {
            Ok(table) => print!("{table}"),
            Err(e) => p.warn(&format!("the summary table could not be rendered: {e}")),
        }
    }
    let total = results.candidates().count();
    let failed: Vec<_> = results
        .candidates()
        .filter(|c| c.status.is_failure())
        .collect();
    let regressed = results.baseline.as_ref().map_or(0, |b| {
        b.entries
            .iter()
            .filter(|e| e.verdict == ChangeVerdict::Regressed)
            .count()
    });
    for c in &failed {
        let why = c.check.failure.as_ref().map_or("", |f| f.message.as_str());
        eprintln!("      FAILED {} ({}): {why}", c.id, c.status.as_str());
    }
    if results.is_estimated() {
        eprintln!("        note energy figures are ESTIMATED from CPU time, not measured");
    }
    if !results.run.complete {
        eprintln!(
            "  Incomplete {}",
            results
                .run
                .incomplete_reason
                .as_deref()
                .unwrap_or("the run did not finish")
        );
    }
    // Ignored candidates were never checked: counted apart, never among the passed.
    let ignored = results
        .candidates()
        .filter(|c| c.status == jouletrace::results::Status::Ignored)
        .count();
    let ignored = if ignored > 0 {
        format!(", {ignored} ignored")
    } else {
        String::new()
    };
    eprintln!(
        "     Summary {total} candidates: {} failed{ignored}, {regressed} regressed",
        failed.len()
    );
    if let Some(path) = written {
        eprintln!("     Results {}", path.display());
    }
}
