//! Every view of a run, rendered from its [`RunResults`].
//!
//! The results file is the only input: a report never measures, so `cargo joule report` can
//! re-render every view from a saved `results.json`. One file per output format, each behind the
//! one [`Format`] trait:
//!
//! | format | file | for |
//! |---|---|---|
//! | [`Json`] | `json.rs` | tools; the source of the other views |
//! | [`Html`] | `html.rs` | people: one self-contained page with SVG charts |
//! | [`Terminal`] | `terminal.rs` | the summary printed at the end of a run |
//! | [`Bmf`] | `bmf.rs` | Bencher (`--export bmf=PATH`) |
//! | [`GithubSummary`] | `github.rs` | `$GITHUB_STEP_SUMMARY` |
//! | [`Junit`] | `junit.rs` | CI dashboards of the correctness checks (`--export junit=PATH`) |
//!
//! [`progress`] is the live view: an [`Observer`](crate::engine::Observer) drawing progress bars.
//!
//! ```no_run
//! # fn demo(results: &jouletrace::results::RunResults) -> Result<(), jouletrace::report::ReportError> {
//! use jouletrace::report::{self, ColorChoice, Format, Terminal};
//! let written = report::write_all(results, std::path::Path::new("target/joule"))?;
//! print!("{}", Terminal::new(ColorChoice::Auto.for_stdout()).render(results)?);
//! println!("report: {}", written.html.display());
//! # Ok(()) }
//! ```
//!
//! The formats are documented for users in `docs/reports.md`; the results schema in
//! `docs/results-schema.md`.

mod bmf;
mod github;
mod html;
mod json;
mod junit;
mod numbers;
pub mod progress;
mod svg;
mod terminal;
mod view;

use std::fmt;
use std::path::{Path, PathBuf};
use std::str::FromStr;

pub use bmf::Bmf;
pub use github::GithubSummary;
pub use html::Html;
pub use json::Json;
pub use junit::Junit;
pub use progress::ProgressObserver;
pub use terminal::{ColorChoice, Terminal};

use crate::results::RunResults;

/// One output format.
pub trait Format {
    /// The whole output for `results`. Pure: no I/O, no clock.
    fn render(&self, results: &RunResults) -> Result<String, ReportError>;
}

/// Why a report could not be produced.
#[derive(Debug, thiserror::Error)]
pub enum ReportError {
    #[error("rendering the HTML report: {message}")]
    Template { message: String },
    #[error("writing {path}: {source}")]
    Write {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error(
        "unknown export format `{0}`; expected one of json, html, bmf, junit, markdown (e.g. `--export bmf=bmf.json`)"
    )]
    UnknownFormat(String),
    #[error(
        "export `{0}` has no path; write it as FORMAT=PATH, e.g. `junit=target/joule/junit.xml`"
    )]
    MissingPath(String),
}

impl ReportError {
    fn template(error: &tera::Error) -> ReportError {
        // tera keeps the useful part (which variable, which line) in the error's sources.
        let mut message = error.to_string();
        let mut source = std::error::Error::source(error);
        while let Some(cause) = source {
            message.push_str(": ");
            message.push_str(&cause.to_string());
            source = cause.source();
        }
        ReportError::Template { message }
    }
}

/// A format a run can be exported to with `--export FORMAT=PATH`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ExportKind {
    Json,
    Html,
    Bmf,
    Junit,
    /// The GitHub-flavoured Markdown summary.
    Markdown,
}

impl ExportKind {
    pub const ALL: [ExportKind; 5] = [
        ExportKind::Json,
        ExportKind::Html,
        ExportKind::Bmf,
        ExportKind::Junit,
        ExportKind::Markdown,
    ];

    pub fn name(self) -> &'static str {
        match self {
            ExportKind::Json => "json",
            ExportKind::Html => "html",
            ExportKind::Bmf => "bmf",
            ExportKind::Junit => "junit",
            ExportKind::Markdown => "markdown",
        }
    }

    pub fn format(self) -> Box<dyn Format> {
        match self {
            ExportKind::Json => Box::new(Json),
            ExportKind::Html => Box::new(Html),
            ExportKind::Bmf => Box::new(Bmf),
            ExportKind::Junit => Box::new(Junit),
            ExportKind::Markdown => Box::new(GithubSummary),
        }
    }
}

impl fmt::Display for ExportKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for ExportKind {
    type Err = ReportError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "json" => Ok(ExportKind::Json),
            "html" => Ok(ExportKind::Html),
            "bmf" => Ok(ExportKind::Bmf),
            "junit" => Ok(ExportKind::Junit),
            "markdown" | "md" | "github" => Ok(ExportKind::Markdown),
            other => Err(ReportError::UnknownFormat(other.into())),
        }
    }
}

/// `FORMAT=PATH`, the value of `--export`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ExportSpec {
    pub kind: ExportKind,
    pub path: PathBuf,
}

impl FromStr for ExportSpec {
    type Err = ReportError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let (kind, path) = s
            .split_once('=')
            .ok_or_else(|| ReportError::MissingPath(s.into()))?;
        if path.is_empty() {
            return Err(ReportError::MissingPath(s.into()));
        }
        Ok(ExportSpec {
            kind: kind.parse()?,
            path: PathBuf::from(path),
        })
    }
}

/// The files [`write_all`] wrote.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Written {
    pub json: PathBuf,
    pub html: PathBuf,
}

/// Writes `results.json` and `report.html` into `dir` (created if missing), the two files every
/// run leaves behind (`target/joule/` under cargo).
pub fn write_all(results: &RunResults, dir: &Path) -> Result<Written, ReportError> {
    std::fs::create_dir_all(dir).map_err(|source| ReportError::Write {
        path: dir.to_path_buf(),
        source,
    })?;
    let json = dir.join("results.json");
    let html = dir.join("report.html");
    // Render both before writing either, so a template error never leaves a fresh results.json
    // beside a stale report.html.
    let json_text = Json.render(results)?;
    let html_text = Html.render(results)?;
    write_file(&json, &json_text)?;
    write_file(&html, &html_text)?;
    Ok(Written { json, html })
}

/// Renders `spec.kind` and writes it to `spec.path`, creating parent directories.
pub fn write_export(results: &RunResults, spec: &ExportSpec) -> Result<(), ReportError> {
    let text = spec.kind.format().render(results)?;
    if let Some(parent) = spec.path.parent().filter(|p| !p.as_os_str().is_empty()) {
        std::fs::create_dir_all(parent).map_err(|source| ReportError::Write {
            path: parent.to_path_buf(),
            source,
        })?;
    }
    write_file(&spec.path, &text)
}

/// Appends the Markdown summary to the file named by `$GITHUB_STEP_SUMMARY`, when that variable
/// is set (GitHub Actions sets it per step, and other steps may already have written to it).
/// Returns the file written, or `None` outside GitHub Actions.
pub fn write_github_summary(results: &RunResults) -> Result<Option<PathBuf>, ReportError> {
    let Some(path) = std::env::var_os("GITHUB_STEP_SUMMARY").filter(|p| !p.is_empty()) else {
        return Ok(None);
    };
    let path = PathBuf::from(path);
    append_markdown_summary(results, &path)?;
    Ok(Some(path))
}

/// Appends the Markdown summary to `path`, creating the file if needed.
pub fn append_markdown_summary(results: &RunResults, path: &Path) -> Result<(), ReportError> {
    use std::io::Write as _;
    let text = GithubSummary.render(results)?;
    std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .and_then(|mut f| f.write_all(text.as_bytes()))
        .map_err(|source| ReportError::Write {
            path: path.to_path_buf(),
            source,
        })
}

fn write_file(path: &Path, text: &str) -> Result<(), ReportError> {
    std::fs::write(path, text).map_err(|source| ReportError::Write {
        path: path.to_path_buf(),
        source,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn export_specs_parse() {
        let spec: ExportSpec = "bmf=out/bmf.json".parse().unwrap();
        assert_eq!(spec.kind, ExportKind::Bmf);
        assert_eq!(spec.path, PathBuf::from("out/bmf.json"));
        assert!(matches!(
            "junit".parse::<ExportSpec>(),
            Err(ReportError::MissingPath(_))
        ));
        assert!(matches!(
            "junit=".parse::<ExportSpec>(),
            Err(ReportError::MissingPath(_))
        ));
        let err = "csv=x".parse::<ExportSpec>().unwrap_err();
        assert!(err.to_string().contains("`csv`"), "{err}");
        for kind in ExportKind::ALL {
            assert_eq!(kind.name().parse::<ExportKind>().unwrap(), kind);
        }
    }
}
