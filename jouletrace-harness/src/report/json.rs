//! The results file itself: the versioned schema of [`crate::results`], pretty-printed.

use super::{Format, ReportError};
use crate::results::RunResults;

/// `results.json`; reload it with [`RunResults::load`].
#[derive(Clone, Copy, Debug, Default)]
pub struct Json;

impl Format for Json {
    fn render(&self, results: &RunResults) -> Result<String, ReportError> {
        let mut text = results.to_json();
        text.push('\n');
        Ok(text)
    }
}
