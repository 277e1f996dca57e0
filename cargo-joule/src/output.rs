//! What the CLI prints while it runs and when it ends: a line per event for people (stderr), or
//! JSON lines for tools (stdout, `--message-format json`), and the verdict lines a CI log needs.
//!
//! The rich terminal view (progress bars, tables) belongs to `jouletrace::report`; this module
//! keeps to what the exit status depends on, so that a CI log always says why a run failed.

use std::io::Write;

use jouletrace::engine::Observer;
use jouletrace::results::{
    BaselineComparison, CaseMeasurement, ChangeEntry, ChangeVerdict, CheckRecord, RunResults,
};
use serde_json::json;

use crate::cli::{MessageFormat, OutputArgs};

pub struct Printer {
    pub format: MessageFormat,
    pub quiet: u8,
    pub verbose: u8,
}

impl Printer {
    pub fn new(out: &OutputArgs) -> Printer {
        Printer {
            format: out.message_format,
            quiet: out.quiet,
            verbose: out.verbose,
        }
    }

    pub fn json(&self) -> bool {
        self.format == MessageFormat::Json
    }

    /// One JSON line on stdout.
    pub fn event(&self, value: serde_json::Value) {
        let mut out = std::io::stdout().lock();
        let _ = writeln!(out, "{value}");
    }

    /// A line for people on stderr (in JSON mode, a `note` event instead).
    pub fn say(&self, level: u8, text: &str) {
        if self.json() {
            self.event(json!({"event": "note", "message": text}));
        } else if self.quiet < level || level == 0 {
            eprintln!("{text}");
        }
    }

    pub fn warn(&self, text: &str) {
        if self.json() {
            self.event(json!({"event": "warning", "message": text}));
        } else {
            eprintln!("warning: {text}");
        }
    }
}

impl Observer for Printer {
    fn plan(&mut self, candidates: usize, measured_cases: usize) {
        if self.json() {
            self.event(json!({"event": "plan", "candidates": candidates, "measured_cases": measured_cases}));
        } else if self.quiet == 0 {
            eprintln!("     Running {candidates} candidates ({measured_cases} measured cases)");
        }
    }

    fn note(&mut self, message: &str) {
        self.say(2, &format!("        note {message}"));
    }

    fn check_finished(&mut self, candidate: &str, record: &CheckRecord) {
        if self.json() {
            self.event(
                json!({"event": "check_finished", "candidate": candidate, "record": record}),
            );
            return;
        }
        let failed = record.status.is_failure();
        if failed || self.quiet == 0 {
            eprintln!("       Check {candidate} … {}", record.status.as_str());
        }
        if let Some(f) = record.failure.as_ref().filter(|_| failed) {
            let case = f
                .case
                .as_deref()
                .map(|c| format!(" (case `{c}`)"))
                .unwrap_or_default();
            eprintln!("             {}{case}", f.message);
            if let (Some(e), Some(a)) = (&f.expected, &f.actual) {
                eprintln!("             expected: {e}\n             actual:   {a}");
            }
        }
    }

    fn measure_finished(&mut self, candidate: &str, case: &str, m: &CaseMeasurement) {
        if self.json() {
            self.event(json!({"event": "measure_finished", "candidate": candidate, "case": case, "measurement": m}));
            return;
        }
        if self.quiet > 0 {
            return;
        }
        match &m.stats {
            Some(s) => {
                let e = s.net_energy_per_call_j;
                eprintln!(
                    "     Measure {candidate} [{case}] {} per call net ({} – {}), {} samples",
                    e.point, e.lower, e.upper, s.samples
                );
            }
            None => eprintln!(
                "     Measure {candidate} [{case}] no statistics ({})",
                m.failure
                    .as_ref()
                    .map_or(m.stop_reason.as_str(), |f| f.message.as_str())
            ),
        }
    }
}

/// `+98.1% (95% CI +92.0% to +104.4%)`.
pub fn change_text(e: &ChangeEntry, level: f64) -> String {
    format!(
        "{:+.1}% ({:.0}% CI {:+.1}% to {:+.1}%)",
        e.change.point * 100.0,
        level * 100.0,
        e.change.lower * 100.0,
        e.change.upper * 100.0
    )
}

/// The comparison, for people (regressions and improvements; unchanged ones only with `-v`) or as
/// one JSON event.
pub fn print_comparison(p: &Printer, c: &BaselineComparison, level: f64, estimated: bool) {
    if p.json() {
        p.event(json!({"event": "baseline_comparison", "comparison": c}));
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
            _ => continue,
        };
        eprintln!(
            "{word:>12} {} (case `{}`): {kind}energy per call {}, threshold {:.1}%; {} → {}",
            e.candidate,
            e.case,
            change_text(e, level),
            e.threshold * 100.0,
            e.old_energy_per_call_j,
            e.new_energy_per_call_j
        );
    }
}

/// The closing lines: failures with their reason, regressions, where the results are.
pub fn print_summary(p: &Printer, results: &RunResults, written: Option<&std::path::Path>) {
    if p.json() {
        return;
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
    eprintln!(
        "     Summary {total} candidates: {} failed, {regressed} regressed",
        failed.len()
    );
    if let Some(path) = written {
        eprintln!("     Results {}", path.display());
    }
}
