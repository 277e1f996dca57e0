//! The CLI's only calls into `jouletrace::report`: the report files, the exports and the GitHub
//! step summary. Kept in one file so that the report module's API meets the CLI in one place.
//!
//! `jouletrace::report` is still being written; until it lands every function here reports that
//! the view is not available in this build, and callers treat that as a warning (report files,
//! step summary) or as an error (an export the user asked for).

use std::path::{Path, PathBuf};

use jouletrace::results::RunResults;

#[derive(Debug, thiserror::Error)]
pub enum ViewError {
    #[error(
        "{what} is not available in this build of cargo-joule (jouletrace::report is not built yet)"
    )]
    NotBuilt { what: String },
}

/// An export named by `--export FORMAT=PATH`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Export {
    /// Bencher Metric Format.
    Bmf(PathBuf),
    /// JUnit XML of the correctness checks.
    Junit(PathBuf),
}

impl std::str::FromStr for Export {
    type Err = String;

    fn from_str(s: &str) -> Result<Export, String> {
        match s.split_once('=') {
            Some(("bmf", p)) if !p.is_empty() => Ok(Export::Bmf(p.into())),
            Some(("junit", p)) if !p.is_empty() => Ok(Export::Junit(p.into())),
            _ => Err(format!(
                "bad --export `{s}`: expected `bmf=PATH` (Bencher Metric Format) or `junit=PATH`"
            )),
        }
    }
}

/// Writes every report view of `results` into `dir`; returns the files written.
pub fn write_all(_results: &RunResults, _dir: &Path) -> Result<Vec<PathBuf>, ViewError> {
    Err(ViewError::NotBuilt {
        what: "the HTML and Markdown report".into(),
    })
}

pub fn export(_results: &RunResults, export: &Export) -> Result<(), ViewError> {
    let what = match export {
        Export::Bmf(_) => "the Bencher Metric Format export",
        Export::Junit(_) => "the JUnit export",
    };
    Err(ViewError::NotBuilt { what: what.into() })
}

/// Appends the run's Markdown summary to the file named by `$GITHUB_STEP_SUMMARY`.
pub fn step_summary(_results: &RunResults, _path: &Path) -> Result<(), ViewError> {
    Err(ViewError::NotBuilt {
        what: "the GitHub step summary".into(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exports_parse() {
        assert_eq!("bmf=out.json".parse(), Ok(Export::Bmf("out.json".into())));
        assert_eq!("junit=a=b.xml".parse(), Ok(Export::Junit("a=b.xml".into())));
        assert!("csv=x".parse::<Export>().unwrap_err().contains("bmf=PATH"));
        assert!("bmf=".parse::<Export>().is_err());
    }
}
