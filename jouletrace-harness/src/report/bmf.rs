//! Bencher Metric Format: `{ benchmark: { measure: { value, lower_value, upper_value } } }`.
//!
//! One benchmark per measured candidate and case, named `problem::candidate/case`. Two measures:
//! energy per call in joules (`energy-per-call`, or `energy-per-call-estimated` for an estimated
//! run, so Bencher never puts estimates and measurements on one threshold), and time per call
//! as Bencher's built-in `latency`, in nanoseconds. Bounds come from the confidence interval.
//! Candidates without statistics (failed, not measured) are left out: Bencher has no way to say
//! "unavailable", and a 0 would read as a perfect result.

use serde_json::{Map, Value, json};

use super::{Format, ReportError};
use crate::results::RunResults;

pub const ENERGY_MEASURE: &str = "energy-per-call";
pub const ESTIMATED_ENERGY_MEASURE: &str = "energy-per-call-estimated";
pub const LATENCY_MEASURE: &str = "latency";

#[derive(Clone, Copy, Debug, Default)]
pub struct Bmf;

impl Format for Bmf {
    fn render(&self, results: &RunResults) -> Result<String, ReportError> {
        let energy_measure = if results.is_estimated() {
            ESTIMATED_ENERGY_MEASURE
        } else {
            ENERGY_MEASURE
        };
        let mut root = Map::new();
        for problem in &results.problems {
            for candidate in &problem.candidates {
                for m in &candidate.measurements {
                    let Some(stats) = &m.stats else { continue };
                    let e = &stats.energy_per_call_j;
                    let t = &stats.time_per_call_s;
                    let name = format!("{}::{}/{}", problem.name, candidate.name, m.case);
                    root.insert(
                        name,
                        json!({
                            energy_measure: {
                                "value": e.point.get(),
                                "lower_value": e.lower.get(),
                                "upper_value": e.upper.get(),
                            },
                            LATENCY_MEASURE: {
                                "value": t.point * 1e9,
                                "lower_value": t.lower * 1e9,
                                "upper_value": t.upper * 1e9,
                            },
                        }),
                    );
                }
            }
        }
        let mut text = serde_json::to_string_pretty(&Value::Object(root))
            .expect("a map of numbers always serializes");
        text.push('\n');
        Ok(text)
    }
}
