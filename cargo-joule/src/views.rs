//! The CLI's only calls into `jouletrace::report`: the report files, the exports, the GitHub step
//! summary, the live progress and the closing summary table. Kept in one file so that the report
//! module's API meets the CLI in one place.

use std::path::{Path, PathBuf};

use jouletrace::engine::Observer;
use jouletrace::report::{self, ColorChoice, Format, ProgressObserver, ReportError, Terminal};
use jouletrace::results::RunResults;

use crate::cli::Color;

/// `--export FORMAT=PATH`: json, html, bmf, junit or markdown.
pub use jouletrace::report::ExportSpec as Export;

pub fn choice(color: Color) -> ColorChoice {
    match color {
        Color::Auto => ColorChoice::Auto,
        Color::Always => ColorChoice::Always,
        Color::Never => ColorChoice::Never,
    }
}

/// Writes `results.json` and `report.html` into `dir`; returns the report's path.
pub fn write_all(results: &RunResults, dir: &Path) -> Result<PathBuf, ReportError> {
    report::write_all(results, dir).map(|w| w.html)
}

pub fn export(results: &RunResults, export: &Export) -> Result<(), ReportError> {
    report::write_export(results, export)
}

/// Appends the run's Markdown summary to `$GITHUB_STEP_SUMMARY` when it is set; returns the file.
pub fn step_summary(results: &RunResults) -> Result<Option<PathBuf>, ReportError> {
    report::write_github_summary(results)
}

/// Progress bars on stderr (hidden when it is not a terminal; failures and notes still print).
pub fn progress(quiet: bool) -> impl Observer {
    ProgressObserver::new(quiet)
}

/// The closing tables, for stdout.
pub fn summary_table(results: &RunResults, color: Color) -> Result<String, ReportError> {
    Terminal::new(choice(color).for_stdout()).render(results)
}
