//! The summary printed at the end of a run: per problem, one table of the measured cases, then
//! the failures with their reasons, then the changes against a baseline.
//!
//! Colour is decided once, by the caller, with [`ColorChoice`]; rendered without colour the
//! text has no escape codes at all, so it reads the same in a pipe, a log file or a snapshot.

use std::ffi::OsStr;
use std::fmt::Write as _;
use std::io::IsTerminal;
use std::str::FromStr;

use super::numbers::{self as num};
use super::view::{self, Basis, CaseTable};
use super::{Format, ReportError};
use crate::results::{ChangeVerdict, RunResults};

/// `--color`: whether to colour terminal output.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum ColorChoice {
    /// Colour when writing to a terminal, unless `NO_COLOR` is set or `TERM=dumb`.
    #[default]
    Auto,
    /// Always colour, even into a pipe (an explicit request beats `NO_COLOR`).
    Always,
    Never,
}

impl ColorChoice {
    /// Whether to colour output going to a stream that is (or is not) a terminal, reading
    /// `NO_COLOR` and `TERM` from the environment.
    pub fn resolve(self, is_terminal: bool) -> bool {
        self.resolve_with(
            is_terminal,
            std::env::var_os("NO_COLOR").as_deref(),
            std::env::var_os("TERM").as_deref(),
        )
    }

    /// [`resolve`](Self::resolve) with the environment passed in.
    pub fn resolve_with(
        self,
        is_terminal: bool,
        no_color: Option<&OsStr>,
        term: Option<&OsStr>,
    ) -> bool {
        match self {
            ColorChoice::Always => true,
            ColorChoice::Never => false,
            ColorChoice::Auto => {
                // no-color.org: set *and non-empty* disables colour.
                let no_color = no_color.is_some_and(|v| !v.is_empty());
                let dumb = term.is_some_and(|t| t == "dumb");
                is_terminal && !no_color && !dumb
            }
        }
    }

    pub fn for_stdout(self) -> bool {
        self.resolve(std::io::stdout().is_terminal())
    }

    pub fn for_stderr(self) -> bool {
        self.resolve(std::io::stderr().is_terminal())
    }
}

impl FromStr for ColorChoice {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "auto" => Ok(ColorChoice::Auto),
            "always" => Ok(ColorChoice::Always),
            "never" => Ok(ColorChoice::Never),
            other => Err(format!(
                "unknown colour choice `{other}`; expected auto, always or never"
            )),
        }
    }
}

/// The end-of-run summary.
#[derive(Clone, Copy, Debug)]
pub struct Terminal {
    color: bool,
}

impl Terminal {
    /// `color`: the outcome of [`ColorChoice::resolve`] for the stream this goes to.
    pub fn new(color: bool) -> Self {
        Terminal { color }
    }

    fn paint(&self, style: Style, text: &str) -> String {
        if !self.color || text.is_empty() {
            return text.to_string();
        }
        format!("\x1b[{}m{text}\x1b[0m", style.code())
    }
}

#[derive(Clone, Copy)]
enum Style {
    Bold,
    Dim,
    Green,
    BoldGreen,
    Red,
    BoldRed,
    BoldYellow,
}

impl Style {
    fn code(self) -> &'static str {
        match self {
            Style::Bold => "1",
            Style::Dim => "2",
            Style::Green => "32",
            Style::BoldGreen => "1;32",
            Style::Red => "31",
            Style::BoldRed => "1;31",
            Style::BoldYellow => "1;33",
        }
    }
}

/// A table cell: its text and how to paint it once padded.
struct Cell {
    text: String,
    style: Option<Style>,
    right: bool,
}

impl Cell {
    fn left(text: impl Into<String>) -> Cell {
        Cell {
            text: text.into(),
            style: None,
            right: false,
        }
    }
    fn right(text: impl Into<String>) -> Cell {
        Cell {
            text: text.into(),
            style: None,
            right: true,
        }
    }
    fn styled(mut self, style: Style) -> Cell {
        self.style = Some(style);
        self
    }
}

impl Format for Terminal {
    fn render(&self, results: &RunResults) -> Result<String, ReportError> {
        let mut out = String::new();
        let estimated = results.is_estimated();
        let meter = view::meter_label(results);
        let all = view::Counts::of(results.candidates());
        let provenance = match &results.meter {
            Some(_) if estimated => self.paint(Style::BoldYellow, "ESTIMATED"),
            Some(_) => "measured".into(),
            None => "checks only".into(),
        };
        let ignored = if all.ignored > 0 {
            format!(" ({} ignored)", all.ignored)
        } else {
            String::new()
        };
        let _ = writeln!(
            out,
            "{} {} · {} problem{} · {} candidate{}{ignored} · meter {meter} ({provenance})",
            self.paint(Style::Bold, &results.tool.name),
            results.tool.version,
            results.problems.len(),
            plural(results.problems.len()),
            all.total,
            plural(all.total),
        );
        if let Some(warning) = view::estimate_warning(results) {
            let _ = writeln!(out, "{}", self.paint(Style::BoldYellow, &warning));
        }
        if let Some(line) = view::background_line(results) {
            let busy = results
                .environment
                .background
                .as_ref()
                .is_some_and(|b| b.unreliable_cases > 0 || !b.idle_quiet);
            let _ = writeln!(
                out,
                "{}",
                self.paint(if busy { Style::BoldYellow } else { Style::Dim }, &line)
            );
        }
        if let Some(sb) = results
            .environment
            .sandbox
            .as_ref()
            .filter(|sb| sb.level != "off")
        {
            let style = if sb.level == "full" {
                Style::Dim
            } else {
                Style::BoldYellow
            };
            let _ = writeln!(
                out,
                "{}",
                self.paint(style, &format!("sandbox {}", sb.summary()))
            );
        }
        if !results.run.complete {
            let reason = results
                .run
                .incomplete_reason
                .as_deref()
                .unwrap_or("unknown reason");
            let _ = writeln!(
                out,
                "{}",
                self.paint(
                    Style::BoldYellow,
                    &format!("INCOMPLETE run ({reason}): figures cover what was gathered")
                )
            );
        }
        let level = num::level(results.settings.confidence_level);
        let layout = Layout::of(results, &level);
        for problem in &results.problems {
            out.push('\n');
            let counts = view::Counts::of(&problem.candidates);
            let _ = writeln!(
                out,
                "{}  {}",
                self.paint(Style::Bold, &problem.name),
                self.paint(Style::Dim, &counts.sentence())
            );
            let tables = view::case_tables(problem);
            let mut rows: Vec<Vec<Cell>> = Vec::new();
            for table in &tables {
                self.case_rows(&mut rows, table, &layout);
            }
            if !rows.is_empty() {
                let head: Vec<&str> = layout.head.iter().map(String::as_str).collect();
                self.table(&mut out, &head, &layout.right, rows);
                let mut notes = Vec::new();
                if layout.net {
                    notes.push(
                        "net: idle power subtracted (ranks and ratios use it); gross: as the meter \
                         read it"
                            .to_owned(),
                    );
                }
                if tables.iter().any(|t| t.rows.iter().any(|r| r.tie)) {
                    notes.push(view::tie_note(&level));
                }
                for n in notes {
                    let _ = writeln!(out, "  {}", self.paint(Style::Dim, &n));
                }
            } else if problem.cases.iter().any(|c| c.measured)
                && results.meter.is_some()
                && counts.passed > 0
            {
                let _ = writeln!(out, "  no candidate of this problem was measured");
            }
            let ignored = view::ignored(problem);
            if !ignored.is_empty() {
                let names: Vec<&str> = ignored.iter().map(|c| c.name.as_str()).collect();
                let _ = writeln!(
                    out,
                    "  {}: {}",
                    self.paint(Style::Dim, view::IGNORED_NOTE),
                    names.join(", ")
                );
            }
            let failures = view::failures(problem);
            if !failures.is_empty() {
                let _ = writeln!(out, "  {}", self.paint(Style::BoldRed, "failures:"));
                for f in &failures {
                    let _ = writeln!(
                        out,
                        "    {} ({}): {}",
                        self.paint(Style::Bold, &f.candidate.name),
                        f.stage_label(),
                        one_line(&f.summary())
                    );
                    if let Some(e) = &f.failure.expected {
                        let _ = writeln!(out, "      expected: {}", one_line(e));
                    }
                    if let Some(a) = &f.failure.actual {
                        let _ = writeln!(out, "      actual:   {}", one_line(a));
                    }
                }
            }
        }
        if let Some(note) = view::interval_note(results) {
            let _ = writeln!(out, "\n{}", self.paint(Style::Dim, &note));
        }
        self.baseline(&mut out, results, &level);
        Ok(out)
    }
}

/// The columns of the ranking tables, decided once per run.
struct Layout {
    head: Vec<String>,
    right: Vec<bool>,
    estimated: bool,
    /// Net energy is ranked and shown first, gross beside it.
    net: bool,
    /// Under the estimate the power is the model's constant: not a column worth reading.
    power: bool,
}

impl Layout {
    fn of(results: &RunResults, level: &str) -> Layout {
        let estimated = results.is_estimated();
        let net = view::shows_net(results);
        let meter = view::meter_label(results);
        let energy = match (estimated, net) {
            (true, _) => format!("est. energy/call ±{level} CI [{meter}]"),
            (false, true) => format!("net energy/call ±{level} CI [{meter}]"),
            (false, false) => format!("energy/call ±{level} CI [{meter}]"),
        };
        let mut head = vec!["case".to_owned(), "rank".into(), "candidate".into(), energy];
        let mut right = vec![false, true, false, true];
        if net {
            head.push("gross".into());
            right.push(true);
        }
        let power = !estimated;
        if power {
            head.push("power".into());
            right.push(true);
        }
        head.extend(["time/call".into(), "ratio".into(), "status".into()]);
        right.extend([true, true, false]);
        Layout {
            head,
            right,
            estimated,
            net,
            power,
        }
    }
}

impl Terminal {
    fn case_rows(&self, rows: &mut Vec<Vec<Cell>>, table: &CaseTable<'_>, layout: &Layout) {
        let case = match table.size {
            Some(n) => format!("{} (n={})", table.case, num::size(n)),
            None => table.case.to_string(),
        };
        // The first energy column holds the ranked quantity; it is labelled in the cell when it
        // is not the one the header names (gross, after a net median came out non-positive).
        let header_basis = if layout.net { Basis::Net } else { Basis::Gross };
        let basis = if layout.net {
            table.basis
        } else {
            Basis::Gross
        };
        let mut first = true;
        for row in &table.rows {
            let case_cell = if first { case.clone() } else { String::new() };
            first = false;
            let best = row.rank == Some(1);
            let name = Cell::left(&row.candidate.name);
            let name = if best {
                name.styled(Style::BoldGreen)
            } else {
                name
            };
            let mut cells = vec![
                Cell::left(case_cell),
                Cell::right(
                    row.rank
                        .map(|r| r.to_string())
                        .unwrap_or_else(|| "–".into()),
                ),
                name,
            ];
            let Some(s) = row.stats else {
                let blanks = layout.head.len() - 4;
                cells.extend((0..blanks).map(|_| Cell::right("–")));
                cells.push(
                    Cell::left(row.status.as_str()).styled(if row.status.is_failure() {
                        Style::Red
                    } else {
                        Style::Dim
                    }),
                );
                rows.push(cells);
                continue;
            };
            let e = row.energy(basis).expect("a row with statistics has energy");
            let mut energy = format!(
                "{} {}",
                num::joules(e.point),
                num::plus_minus_percent(e.point.get(), e.lower.get(), e.upper.get())
            );
            if basis != header_basis {
                energy.push_str(&format!(" ({})", basis.word()));
            }
            if layout.estimated {
                energy.push_str(" est.");
            }
            cells.push(Cell::right(energy));
            if layout.net {
                let other = basis.other();
                let o = row.energy(other).expect("a row with statistics has energy");
                let mut text = num::joules(o.point);
                if other != header_basis.other() {
                    text.push_str(&format!(" ({})", other.word()));
                }
                cells.push(Cell::right(text));
            }
            if layout.power {
                cells.push(Cell::right(num::watts(s.power_w.point)));
            }
            cells.push(Cell::right(num::seconds(s.time_per_call_s.point)));
            let ratio = row.ratio.map(num::ratio).unwrap_or_else(|| "–".into());
            cells.push(Cell::right(if row.tie {
                format!("≈{ratio}")
            } else {
                ratio
            }));
            cells.push(if view::unreliable(s) {
                Cell::left("UNRELIABLE: busy machine").styled(Style::BoldYellow)
            } else {
                Cell::left("passed").styled(Style::Green)
            });
            rows.push(cells);
        }
    }

    fn table(&self, out: &mut String, head: &[&str], right: &[bool], rows: Vec<Vec<Cell>>) {
        let mut widths: Vec<usize> = head.iter().map(|h| h.chars().count()).collect();
        for row in &rows {
            for (w, cell) in widths.iter_mut().zip(row) {
                *w = (*w).max(cell.text.chars().count());
            }
        }
        let pad = |text: &str, width: usize, right: bool| {
            let fill = " ".repeat(width.saturating_sub(text.chars().count()));
            if right {
                format!("{fill}{text}")
            } else {
                format!("{text}{fill}")
            }
        };
        let head_line: Vec<String> = head
            .iter()
            .zip(&widths)
            .zip(right)
            .map(|((h, w), r)| pad(h, *w, *r))
            .collect();
        let _ = writeln!(
            out,
            "  {}",
            self.paint(Style::Dim, head_line.join("  ").trim_end())
        );
        for row in rows {
            let last = row.len().saturating_sub(1);
            let cells: Vec<String> = row
                .iter()
                .zip(&widths)
                .enumerate()
                .map(|(i, (cell, w))| {
                    // The last column is not padded: trailing blanks inside colour codes
                    // would survive the line's trim.
                    let padded = if i == last && !cell.right {
                        cell.text.clone()
                    } else {
                        pad(&cell.text, *w, cell.right)
                    };
                    match cell.style {
                        Some(style) => self.paint(style, &padded),
                        None => padded,
                    }
                })
                .collect();
            let line = cells.join("  ");
            let _ = writeln!(out, "  {}", line.trim_end());
        }
    }

    fn baseline(&self, out: &mut String, results: &RunResults, level: &str) {
        let Some(b) = &results.baseline else { return };
        let count = |v: ChangeVerdict| b.entries.iter().filter(|e| e.verdict == v).count();
        let regressed = count(ChangeVerdict::Regressed);
        let _ = writeln!(
            out,
            "\n{} {} ({}) [{}]: {}, {} improved, {} unchanged, {} missing",
            self.paint(Style::Bold, "compared with baseline"),
            b.name,
            b.file,
            view::meter_label(results),
            self.paint(
                if regressed > 0 {
                    Style::BoldRed
                } else {
                    Style::Green
                },
                &format!("{regressed} regressed")
            ),
            count(ChangeVerdict::Improved),
            count(ChangeVerdict::Unchanged),
            count(ChangeVerdict::Missing),
        );
        if b.forced {
            let _ = writeln!(
                out,
                "  {}",
                self.paint(
                    Style::BoldYellow,
                    "forced: the baseline was taken with another meter or CPU"
                )
            );
        }
        for w in &b.warnings {
            let _ = writeln!(out, "  warning: {}", one_line(w));
        }
        let mut rows = Vec::new();
        for verdict in [
            ChangeVerdict::Regressed,
            ChangeVerdict::Improved,
            ChangeVerdict::Missing,
        ] {
            for e in b.entries.iter().filter(|e| e.verdict == verdict) {
                let (label, style) = match verdict {
                    ChangeVerdict::Regressed => ("REGRESSED", Style::BoldRed),
                    ChangeVerdict::Improved => ("improved", Style::Green),
                    _ => ("missing", Style::Dim),
                };
                let name = format!("{}/{}", e.candidate, e.case);
                let (old, new) = (
                    num::joules_or_absent(e.old_energy_per_call_j),
                    num::joules_or_absent(e.new_energy_per_call_j),
                );
                let (Some(change), false) = (e.change, verdict == ChangeVerdict::Missing) else {
                    let reason = e.reason.as_deref().unwrap_or("measured on one side only");
                    rows.push(vec![
                        Cell::left(label).styled(style),
                        Cell::left(name),
                        Cell::right(num::ABSENT),
                        Cell::left(format!("{}; {old} → {new}", one_line(reason))),
                    ]);
                    continue;
                };
                rows.push(vec![
                    Cell::left(label).styled(style),
                    Cell::left(name),
                    Cell::right(num::percent_signed(change.point)),
                    Cell::left(format!(
                        "{level} CI {}; {old} → {new}",
                        num::percent_range(change.lower, change.upper),
                    )),
                ]);
            }
        }
        if !rows.is_empty() {
            self.table(
                out,
                &["verdict", "candidate/case", "change", "detail"],
                &[false, false, true, false],
                rows,
            );
        }
    }
}

fn plural(n: usize) -> &'static str {
    if n == 1 { "" } else { "s" }
}

/// Debug output can span lines; a summary line must not.
fn one_line(text: &str) -> String {
    let flat: String = text
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect();
    const MAX: usize = 160;
    if flat.chars().count() > MAX {
        let cut: String = flat.chars().take(MAX).collect();
        format!("{cut}…")
    } else {
        flat
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn colour_follows_the_choice_no_color_and_the_terminal() {
        let on = Some(OsStr::new("1"));
        let empty = Some(OsStr::new(""));
        let xterm = Some(OsStr::new("xterm-256color"));
        assert!(ColorChoice::Auto.resolve_with(true, None, xterm));
        assert!(!ColorChoice::Auto.resolve_with(false, None, xterm));
        assert!(!ColorChoice::Auto.resolve_with(true, on, xterm));
        assert!(ColorChoice::Auto.resolve_with(true, empty, xterm));
        assert!(!ColorChoice::Auto.resolve_with(true, None, Some(OsStr::new("dumb"))));
        assert!(ColorChoice::Always.resolve_with(false, on, None));
        assert!(!ColorChoice::Never.resolve_with(true, None, xterm));
        assert_eq!("never".parse::<ColorChoice>(), Ok(ColorChoice::Never));
        assert!("sometimes".parse::<ColorChoice>().is_err());
    }

    #[test]
    fn one_line_flattens_control_characters() {
        assert_eq!(one_line("a\nb\x1b[31m"), "a b [31m");
    }
}
