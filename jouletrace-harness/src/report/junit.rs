//! JUnit XML of the correctness checks, for CI dashboards.
//!
//! One `<testsuite>` per problem, one `<testcase>` per candidate (`classname` is the problem,
//! `time` the check's duration). A failed check is a `<failure>` whose `type` is the failure kind
//! (`wrong_answer`, `crashed`…) and whose body holds expected vs actual, the signal or the limit;
//! ignored and not-run candidates are `<skipped>`. The worker's captured output goes into
//! `<system-out>`/`<system-err>`. Energy is not in this file: it reports checks, not measurements.

use std::fmt::Write as _;

use super::{Format, ReportError};
use crate::results::{CandidateResult, RunResults, Status};

#[derive(Clone, Copy, Debug, Default)]
pub struct Junit;

impl Format for Junit {
    fn render(&self, results: &RunResults) -> Result<String, ReportError> {
        let mut out = String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
        let all: Vec<&CandidateResult> = results.candidates().collect();
        let _ = writeln!(
            out,
            "<testsuites name=\"jouletrace\" tests=\"{}\" failures=\"{}\" errors=\"0\" skipped=\"{}\" time=\"{:.3}\">",
            all.len(),
            all.iter().filter(|c| c.check.status.is_failure()).count(),
            all.iter().filter(|c| skipped(c)).count(),
            all.iter().map(|c| c.check.duration_s).sum::<f64>(),
        );
        for problem in &results.problems {
            let cands = &problem.candidates;
            let _ = writeln!(
                out,
                "  <testsuite name=\"{}\" tests=\"{}\" failures=\"{}\" errors=\"0\" skipped=\"{}\" time=\"{:.3}\" timestamp=\"{}\">",
                xml(&problem.name),
                cands.len(),
                cands.iter().filter(|c| c.check.status.is_failure()).count(),
                cands.iter().filter(|c| skipped(c)).count(),
                cands.iter().map(|c| c.check.duration_s).sum::<f64>(),
                xml(&results.run.started_at),
            );
            for c in cands {
                testcase(&mut out, &problem.name, c);
            }
            out.push_str("  </testsuite>\n");
        }
        out.push_str("</testsuites>\n");
        Ok(out)
    }
}

fn skipped(c: &CandidateResult) -> bool {
    matches!(c.check.status, Status::Ignored | Status::NotRun)
}

fn testcase(out: &mut String, problem: &str, c: &CandidateResult) {
    let _ = write!(
        out,
        "    <testcase name=\"{}\" classname=\"{}\" time=\"{:.3}\" file=\"{}\"",
        xml(&c.name),
        xml(problem),
        c.check.duration_s,
        xml(c
            .location
            .rsplit_once(':')
            .map_or(c.location.as_str(), |(f, _)| f)),
    );
    let check = &c.check;
    let has_body = check.status.is_failure()
        || skipped(c)
        || !check.stdout.text.is_empty()
        || !check.stderr.text.is_empty();
    if !has_body {
        out.push_str("/>\n");
        return;
    }
    out.push_str(">\n");
    if check.status.is_failure() {
        let (message, body) = match &check.failure {
            Some(f) => {
                let mut body = String::new();
                if let Some(case) = &f.case {
                    let _ = writeln!(body, "case: {case}");
                }
                if let Some(e) = &f.expected {
                    let _ = writeln!(body, "expected: {e}");
                }
                if let Some(a) = &f.actual {
                    let _ = writeln!(body, "actual:   {a}");
                }
                if let Some(s) = &f.signal {
                    let _ = writeln!(body, "signal: {s}");
                }
                if let Some(l) = &f.limit {
                    let _ = writeln!(body, "limit: {l}");
                }
                let _ = writeln!(
                    body,
                    "cases passed before the failure: {}",
                    check.cases_passed
                );
                (f.message.clone(), body)
            }
            None => ("no details were recorded".to_string(), String::new()),
        };
        let _ = writeln!(
            out,
            "      <failure type=\"{}\" message=\"{}\">{}</failure>",
            check.status.as_str(),
            xml(&message),
            xml(&body),
        );
    } else if skipped(c) {
        let _ = writeln!(
            out,
            "      <skipped message=\"{}\"/>",
            check.status.as_str()
        );
    }
    for (tag, captured) in [("system-out", &check.stdout), ("system-err", &check.stderr)] {
        if captured.text.is_empty() {
            continue;
        }
        let mut text = xml(&captured.text);
        if captured.truncated {
            let _ = write!(
                text,
                "\n[truncated: {} bytes in total]",
                captured.total_bytes
            );
        }
        let _ = writeln!(out, "      <{tag}>{text}</{tag}>");
    }
    out.push_str("    </testcase>\n");
}

/// Escapes text for XML content and attribute values. Characters XML 1.0 cannot carry at all
/// (most C0 controls, such as the ESC of colour codes in captured output) are written out as
/// `\u{1b}` so the file stays well-formed and the reader still sees what was there.
pub(crate) fn xml(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for ch in text.chars() {
        match ch {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            '\t' | '\n' | '\r' => out.push(ch),
            c if (c as u32) < 0x20 || c == '\u{FFFE}' || c == '\u{FFFF}' => {
                let _ = write!(out, "\\u{{{:x}}}", c as u32);
            }
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn xml_escapes_markup_and_controls() {
        assert_eq!(
            xml("a<b>&\"c\" 'd'\u{1b}[31m"),
            "a&lt;b&gt;&amp;&quot;c&quot; &apos;d&apos;\\u{1b}[31m"
        );
        assert_eq!(xml("line\nnext\ttab"), "line\nnext\ttab");
    }
}
