//! Bootstrap percentile confidence intervals, reproducible from the samples and a seed.
//!
//! Each resample draws n indices uniformly with replacement. The original samples are sorted
//! once, and a resample is built by counting how often each index was drawn and writing the
//! values out in index order: the resample comes out already sorted, in O(n), in one reusable
//! buffer. Statistics therefore receive **sorted** resamples, so order statistics (median,
//! quantiles) read them directly. Because only the multiset of samples matters, the interval
//! does not depend on the order the samples were recorded in.

use super::error::{StatsError, check_level, check_samples};
use super::rng::Rng;
use super::summary::{median_of_sorted, quantile_of_sorted};
use crate::results::Estimate;

/// A closed interval `[lower, upper]`.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Interval {
    pub lower: f64,
    pub upper: f64,
}

impl Interval {
    pub fn width(&self) -> f64 {
        self.upper - self.lower
    }

    pub fn contains(&self, x: f64) -> bool {
        self.lower <= x && x <= self.upper
    }

    /// Pairs the interval with its point estimate, in the results schema's shape.
    pub fn with_point(self, point: f64) -> Estimate<f64> {
        Estimate {
            point,
            lower: self.lower,
            upper: self.upper,
        }
    }
}

impl From<Estimate<f64>> for Interval {
    fn from(e: Estimate<f64>) -> Interval {
        Interval {
            lower: e.lower,
            upper: e.upper,
        }
    }
}

/// How intervals are computed: confidence level, number of resamples and the seed. The run's
/// `Settings` (`confidence_level`, `bootstrap_resamples`, `seed`) map one to one onto it.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct BootstrapOptions {
    /// Confidence level in (0, 1), e.g. 0.95.
    pub level: f64,
    /// Number of bootstrap resamples; 2000 keeps the Monte Carlo error of 95% percentile bounds
    /// well below the sampling error of 10–50 trials.
    pub resamples: u32,
    pub seed: u64,
}

impl BootstrapOptions {
    /// The seed used when none is configured (ASCII "JouleTra").
    pub const DEFAULT_SEED: u64 = 0x4a6f_756c_6554_7261;

    pub fn new(level: f64, resamples: u32, seed: u64) -> Self {
        Self {
            level,
            resamples,
            seed,
        }
    }

    /// The same options with another seed (for independent streams of one run).
    pub fn with_seed(self, seed: u64) -> Self {
        Self { seed, ..self }
    }

    /// Validates level and resample count.
    pub(crate) fn check(&self) -> Result<(), StatsError> {
        check_level(self.level)?;
        // Fewer resamples than this leave a tail of the percentile interval with no resample
        // in it at all; the bound would be the extreme resample, not a percentile.
        let minimum = (2.0 / (1.0 - self.level)).ceil() as u32;
        if self.resamples < minimum {
            return Err(StatsError::TooFewResamples {
                resamples: self.resamples,
                level: self.level,
                minimum,
            });
        }
        Ok(())
    }
}

impl Default for BootstrapOptions {
    fn default() -> Self {
        Self::new(0.95, 2000, Self::DEFAULT_SEED)
    }
}

/// Draws sorted resamples of one set of samples into a reusable buffer.
pub(crate) struct Resampler {
    sorted: Vec<f64>,
    counts: Vec<u32>,
    /// `starts[p]`: the last index whose run starts at position `p` (n + 1 slots, because
    /// trailing empty runs start at n).
    starts: Vec<u32>,
    buffer: Vec<f64>,
}

impl Resampler {
    /// Validates (non-empty, finite) and sorts the samples.
    pub(crate) fn new(samples: &[f64]) -> Result<Self, StatsError> {
        check_samples(samples)?;
        let mut sorted = samples.to_vec();
        sorted.sort_unstable_by(f64::total_cmp);
        let n = sorted.len();
        Ok(Self {
            sorted,
            counts: vec![0; n],
            starts: vec![0; n + 1],
            buffer: vec![0.0; n],
        })
    }

    pub(crate) fn original(&self) -> &[f64] {
        &self.sorted
    }

    pub(crate) fn all_equal(&self) -> bool {
        self.sorted.first() == self.sorted.last()
    }

    /// One resample, sorted ascending.
    pub(crate) fn draw(&mut self, rng: &mut Rng) -> &[f64] {
        let n = self.sorted.len();
        self.counts.fill(0);
        for _ in 0..n {
            self.counts[rng.index(n)] += 1;
        }
        // Writing out runs of random lengths mispredicts a branch per value, which dominated
        // the cost. Branch-free instead: mark where each index's run starts (a later index
        // with the same start, i.e. an earlier empty run, overwrites it), then a running
        // maximum over the marks gives the source index of every position.
        self.starts.fill(0);
        let mut at = 0usize;
        for (i, &c) in self.counts.iter().enumerate() {
            self.starts[at] = i as u32;
            at += c as usize;
        }
        let mut source = 0u32;
        for (slot, &mark) in self.buffer.iter_mut().zip(&self.starts) {
            source = source.max(mark);
            *slot = self.sorted[source as usize];
        }
        &self.buffer
    }
}

/// Needs at least two samples: one sample carries no information about spread.
pub(crate) fn check_enough(samples: &[f64]) -> Result<(), StatsError> {
    if samples.len() < 2 {
        return Err(if samples.is_empty() {
            StatsError::Empty
        } else {
            StatsError::TooFew {
                needed: 2,
                got: samples.len(),
            }
        });
    }
    Ok(())
}

/// The percentile interval of a bootstrap distribution (sorts `stats` in place).
pub(crate) fn percentile_interval(stats: &mut [f64], level: f64) -> Interval {
    stats.sort_unstable_by(f64::total_cmp);
    let tail = (1.0 - level) / 2.0;
    Interval {
        lower: quantile_of_sorted(stats, tail),
        upper: quantile_of_sorted(stats, 1.0 - tail),
    }
}

/// Bootstrap percentile interval of `statistic` over `samples`.
///
/// `statistic` receives each resample **sorted ascending** and must return a finite number.
/// The interval's bounds are the type-7 quantiles `(1 − level)/2` and `(1 + level)/2` of the
/// `resamples` statistics.
///
/// Degenerate inputs:
/// - no sample: [`StatsError::Empty`]; one sample: [`StatsError::TooFew`];
/// - a NaN or infinite sample: [`StatsError::NonFinite`] naming its index;
/// - all samples equal: every resample equals the samples, so the interval is the single
///   point `statistic(samples)` (zero width), returned without resampling. Callers that must
///   not stop on a zero-width interval from too few trials enforce their own minimum count;
/// - level outside (0, 1) or too few resamples: [`StatsError::InvalidLevel`],
///   [`StatsError::TooFewResamples`].
pub fn bootstrap_ci(
    samples: &[f64],
    statistic: impl Fn(&[f64]) -> f64,
    options: &BootstrapOptions,
) -> Result<Interval, StatsError> {
    options.check()?;
    let mut resampler = Resampler::new(samples)?;
    check_enough(samples)?;
    if resampler.all_equal() {
        let value = finite(statistic(resampler.original()))?;
        return Ok(Interval {
            lower: value,
            upper: value,
        });
    }
    let mut rng = Rng::new(options.seed);
    let mut stats = Vec::with_capacity(options.resamples as usize);
    for _ in 0..options.resamples {
        stats.push(finite(statistic(resampler.draw(&mut rng)))?);
    }
    Ok(percentile_interval(&mut stats, options.level))
}

pub(crate) fn finite(value: f64) -> Result<f64, StatsError> {
    if value.is_finite() {
        Ok(value)
    } else {
        Err(StatsError::NonFiniteStatistic { value })
    }
}

/// The median with its bootstrap percentile interval: the main use of [`bootstrap_ci`].
pub fn median_ci(samples: &[f64], options: &BootstrapOptions) -> Result<Estimate<f64>, StatsError> {
    let ci = bootstrap_ci(samples, median_of_sorted, options)?;
    let point = median_of_sorted(&super::summary::sorted(samples)?);
    Ok(ci.with_point(point))
}

/// The larger distance from `point` to either bound, relative to |point|: the figure the
/// stopping rule "95% CI of the median within ±2%" compares with 0.02. The larger side is used
/// because percentile intervals are not symmetric, and "within ±2%" must hold on both sides.
/// A zero point has no relative width: [`StatsError::ZeroReference`].
pub fn relative_half_width(ci: &Interval, point: f64) -> Result<f64, StatsError> {
    if !(ci.lower.is_finite() && ci.upper.is_finite() && ci.lower <= ci.upper) {
        return Err(StatsError::InvalidInterval {
            lower: ci.lower,
            upper: ci.upper,
        });
    }
    if point == 0.0 || !point.is_finite() {
        return Err(StatsError::ZeroReference {
            what: "the point estimate",
        });
    }
    let half = (point - ci.lower).abs().max((ci.upper - point).abs());
    Ok(half / point.abs())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::stats::summary::mean;

    fn opts(seed: u64) -> BootstrapOptions {
        BootstrapOptions::default().with_seed(seed)
    }

    #[test]
    fn resamples_are_sorted_and_drawn_from_the_samples() {
        let samples = [5.0, 1.0, 4.0, 2.0, 3.0];
        let mut r = Resampler::new(&samples).unwrap();
        let mut rng = Rng::new(1);
        for _ in 0..100 {
            let s = r.draw(&mut rng).to_vec();
            assert_eq!(s.len(), 5);
            assert!(s.windows(2).all(|w| w[0] <= w[1]));
            // Each distinct value appears exactly as often as its index was drawn.
            for (x, &c) in r.original().iter().zip(&r.counts) {
                assert_eq!(s.iter().filter(|&y| y == x).count(), c as usize);
            }
        }
    }

    #[test]
    fn median_ci_brackets_the_median_of_spread_data() {
        let samples: Vec<f64> = (1..=31).map(f64::from).collect();
        let e = median_ci(&samples, &opts(1)).unwrap();
        assert_eq!(e.point, 16.0);
        assert!(e.lower < 16.0 && 16.0 < e.upper, "{e:?}");
        // The 95% interval of the median of 31 evenly spaced values spans a few ranks on each
        // side (order-statistic theory puts it near ranks 10..22), not the whole range.
        assert!(e.lower >= 8.0 && e.upper <= 24.0, "{e:?}");
    }

    #[test]
    fn degenerate_inputs() {
        let o = BootstrapOptions::default();
        assert_eq!(median_ci(&[], &o), Err(StatsError::Empty));
        assert_eq!(
            median_ci(&[1.0], &o),
            Err(StatsError::TooFew { needed: 2, got: 1 })
        );
        assert!(matches!(
            median_ci(&[1.0, f64::NAN, 2.0], &o),
            Err(StatsError::NonFinite { index: 1, .. })
        ));
        let flat = median_ci(&[2.5; 10], &o).unwrap();
        assert_eq!((flat.point, flat.lower, flat.upper), (2.5, 2.5, 2.5));
        assert!(matches!(
            bootstrap_ci(&[1.0, 2.0], |_| f64::NAN, &o),
            Err(StatsError::NonFiniteStatistic { .. })
        ));
    }

    #[test]
    fn bad_options_are_refused() {
        let x = [1.0, 2.0, 3.0];
        for level in [0.0, 1.0, -0.5, f64::NAN] {
            let o = BootstrapOptions::new(level, 2000, 1);
            assert!(matches!(
                median_ci(&x, &o),
                Err(StatsError::InvalidLevel(_))
            ));
        }
        assert_eq!(
            median_ci(&x, &BootstrapOptions::new(0.95, 10, 1)),
            Err(StatsError::TooFewResamples {
                resamples: 10,
                level: 0.95,
                minimum: 40
            })
        );
    }

    #[test]
    fn any_statistic_can_be_bootstrapped() {
        let x: Vec<f64> = (0..20)
            .map(|i| f64::from(i % 7) + 0.5 * f64::from(i))
            .collect();
        let ci = bootstrap_ci(&x, |s| mean(s).unwrap_or(f64::NAN), &opts(3)).unwrap();
        assert!(ci.contains(mean(&x).unwrap()));
    }

    #[test]
    fn relative_half_width_uses_the_wider_side() {
        let ci = Interval {
            lower: 98.0,
            upper: 103.0,
        };
        assert_eq!(relative_half_width(&ci, 100.0), Ok(0.03));
        assert!(matches!(
            relative_half_width(&ci, 0.0),
            Err(StatsError::ZeroReference { .. })
        ));
        let bad = Interval {
            lower: 2.0,
            upper: 1.0,
        };
        assert!(relative_half_width(&bad, 1.5).is_err());
    }
}
