//! Why a statistic could not be computed. Degenerate input is an error value, never a NaN or a
//! made-up number that a report would print as if it were measured.

/// Why a statistic could not be computed from the given samples.
#[derive(Clone, Debug, PartialEq, thiserror::Error)]
pub enum StatsError {
    #[error("no samples")]
    Empty,
    #[error("{got} sample(s) given, {needed} needed for this statistic")]
    TooFew { needed: usize, got: usize },
    #[error("sample {index} is {value}, not a finite number")]
    NonFinite { index: usize, value: f64 },
    #[error("confidence level {0} is not strictly between 0 and 1 (use e.g. 0.95)")]
    InvalidLevel(f64),
    #[error("probability {0} is not within [0, 1]")]
    InvalidProbability(f64),
    #[error(
        "{resamples} bootstrap resamples cannot place both tails of a {level} interval; \
         use at least {minimum} (2000 is the default)"
    )]
    TooFewResamples {
        resamples: u32,
        level: f64,
        minimum: u32,
    },
    #[error("the statistic returned {value} on a resample; it must return a finite number")]
    NonFiniteStatistic { value: f64 },
    #[error("{what} is zero, so a figure relative to it is undefined")]
    ZeroReference { what: &'static str },
    #[error(
        "the median of the {which} samples is {median}; a ratio of energies needs positive medians"
    )]
    NonPositiveMedian { which: &'static str, median: f64 },
    #[error(
        "the median of a resample of the {which} samples is {median}: its sign is not settled, \
         so the ratio has no interval (collect more samples, or compare gross energy)"
    )]
    UnstableRatio { which: &'static str, median: f64 },
    #[error("threshold {0} must be a finite number ≥ 0 (0.05 = 5%)")]
    InvalidThreshold(f64),
    #[error("interval [{lower}, {upper}] is not an ordered pair of finite numbers")]
    InvalidInterval { lower: f64, upper: f64 },
}

/// Checks that `samples` is non-empty and finite; the error names the first offending index.
pub(crate) fn check_samples(samples: &[f64]) -> Result<(), StatsError> {
    if samples.is_empty() {
        return Err(StatsError::Empty);
    }
    match samples.iter().position(|x| !x.is_finite()) {
        Some(index) => Err(StatsError::NonFinite {
            index,
            value: samples[index],
        }),
        None => Ok(()),
    }
}

/// Checks that a confidence level is usable.
pub(crate) fn check_level(level: f64) -> Result<(), StatsError> {
    if level > 0.0 && level < 1.0 {
        Ok(())
    } else {
        Err(StatsError::InvalidLevel(level))
    }
}
