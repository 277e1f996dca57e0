//! Statistics over energy samples: pure functions over `&[f64]`, no I/O.
//!
//! A candidate's measurement is a handful of samples of energy per call (one per trial). This
//! module turns them into the figures the results carry:
//!
//! - [`summary`]: median, mean, sample standard deviation, MAD (unscaled, and ×1.4826),
//!   coefficient of variation, type-7 quantiles, all at once in [`Summary`];
//! - [`bootstrap`]: bootstrap percentile intervals of any statistic, chiefly the median
//!   ([`median_ci`]), and [`relative_half_width`] for the stopping rule "the 95% CI of the
//!   median lies within ±2%";
//! - [`outliers`]: Tukey's fences, which flag outliers and never drop them;
//! - [`hierarchical`]: the same intervals over samples grouped by worker process (two-stage
//!   bootstrap), the unit that varies from one run to the next;
//! - [`compare`]: the ratio of two medians with its interval, the relative change against a
//!   baseline and the [`change_verdict`] that gates CI;
//! - [`mann_whitney`](mod@mann_whitney): the rank test between neighbours in a ranking;
//! - [`rank`](mod@rank): the ranking of a problem's candidates with plain-language verdicts;
//! - [`run_to_run`]: the machine's run-to-run variation from a history of runs (median polish of
//!   log medians), and the widening of every interval by it;
//! - [`rng`]: the seeded generator that makes every interval reproducible from the raw samples.
//!
//! Degenerate input (no samples, one sample where two are needed, NaN, a zero reference) is a
//! [`StatsError`], never a NaN that would reach a report. The reasoning behind each choice is
//! in `docs/statistics.md`.
//!
//! ```
//! use jouletrace::results::ChangeVerdict;
//! use jouletrace::stats::{BootstrapOptions, change_verdict, median_ci, rank, relative_change,
//!                         relative_half_width, tukey};
//!
//! let options = BootstrapOptions::default(); // 95%, 2000 resamples, fixed seed
//! let std_sort = [1.02, 0.99, 1.00, 1.01, 0.98, 1.00, 1.03, 0.97];
//! let insertion = [2.30, 2.33, 2.29, 2.35, 2.31, 2.28, 2.32, 2.36];
//!
//! // The stopping rule: is the interval of the median within ±2%? Eight trials spread over
//! // ±3% are not enough yet: the engine would run more.
//! let median = median_ci(&std_sort, &options)?;
//! let half_width = relative_half_width(&median.into(), median.point)?;
//! assert!(half_width > 0.02, "{half_width}");
//!
//! // Outliers are flagged, one class per sample, and nothing is removed.
//! assert_eq!(tukey(&std_sort)?.len(), std_sort.len());
//!
//! // Ranking within a problem.
//! let ranking = rank(&[("std_sort", &std_sort[..]), ("insertion_sort", &insertion[..])], &options)?;
//! assert_eq!(ranking[0].verdict, "std_sort uses the least energy");
//! assert!(ranking[1].verdict.starts_with("insertion_sort uses 2.31× the energy of std_sort (95% CI"));
//!
//! // Baseline gating: regressed only when the whole interval lies above the threshold.
//! let change = relative_change(&std_sort, &insertion, &options)?;
//! assert_eq!(change_verdict(change.into(), 0.05)?, ChangeVerdict::Regressed);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

pub mod bootstrap;
pub mod compare;
mod error;
pub mod hierarchical;
pub mod mann_whitney;
pub mod outliers;
pub mod rank;
pub mod rng;
pub mod run_to_run;
pub mod summary;

#[cfg(test)]
mod proptests;

pub use bootstrap::{BootstrapOptions, Interval, bootstrap_ci, median_ci, relative_half_width};
pub use compare::{change_verdict, ratio_of_medians, relative_change};
pub use error::StatsError;
pub use hierarchical::{
    GroupedRatio, between_process_spread, grouped_median_ci, grouped_ratio_of_medians,
    grouped_relative_change,
};
pub use mann_whitney::{MannWhitney, PValueMethod, mann_whitney};
pub use outliers::{Fences, OutlierClass, count_outliers, tukey};
pub use rank::{RankError, rank, rank_grouped};
pub use summary::{
    MAD_NORMAL_SCALE, Summary, cv, mad, mad_scaled, mean, median, quantile, std_dev, variance,
};
