//! Two-sample comparisons: the ratio of medians with a bootstrap interval, the relative change
//! against a baseline, and the regressed / improved / unchanged verdict.

use super::bootstrap::{BootstrapOptions, Interval, Resampler, check_enough, percentile_interval};
use super::error::StatsError;
use super::rng::Rng;
use super::summary::median_of_sorted;
use crate::results::{ChangeVerdict, Estimate};

/// `median(numerator) / median(denominator)` with a bootstrap percentile interval; both
/// samples are resampled independently from one stream seeded by `options.seed`.
///
/// Both medians must be positive (energies per call are; a net energy whose median is not is
/// indistinguishable from idle and has no meaningful ratio). If the denominator's median is
/// not positive in some resample, the ratio's interval is undefined and
/// [`StatsError::UnstableRatio`] says so. Each sample needs two values at least.
pub fn ratio_of_medians(
    numerator: &[f64],
    denominator: &[f64],
    options: &BootstrapOptions,
) -> Result<Estimate<f64>, StatsError> {
    options.check()?;
    let mut num = Resampler::new(numerator)?;
    let mut den = Resampler::new(denominator)?;
    check_enough(numerator)?;
    check_enough(denominator)?;
    let point_num = median_of_sorted(num.original());
    let point_den = median_of_sorted(den.original());
    for (which, median) in [("numerator", point_num), ("denominator", point_den)] {
        if median <= 0.0 {
            return Err(StatsError::NonPositiveMedian { which, median });
        }
    }

    let mut rng = Rng::new(options.seed);
    let mut ratios = Vec::with_capacity(options.resamples as usize);
    for _ in 0..options.resamples {
        let m_num = median_of_sorted(num.draw(&mut rng));
        let m_den = median_of_sorted(den.draw(&mut rng));
        if m_den <= 0.0 {
            return Err(StatsError::UnstableRatio {
                which: "denominator",
                median: m_den,
            });
        }
        ratios.push(m_num / m_den);
    }
    Ok(percentile_interval(&mut ratios, options.level).with_point(point_num / point_den))
}

/// Relative change of the median from `old` to `new` (+0.10 = 10% more), with its interval:
/// the ratio of medians `new / old` minus one.
pub fn relative_change(
    old: &[f64],
    new: &[f64],
    options: &BootstrapOptions,
) -> Result<Estimate<f64>, StatsError> {
    let r = ratio_of_medians(new, old, options)?;
    Ok(Estimate {
        point: r.point - 1.0,
        lower: r.lower - 1.0,
        upper: r.upper - 1.0,
    })
}

/// The baseline verdict from the interval of a relative change and a threshold (0.05 = 5%):
/// - [`ChangeVerdict::Regressed`] only when the whole interval lies above `+threshold`;
/// - [`ChangeVerdict::Improved`] only when the whole interval lies below `−threshold`;
/// - [`ChangeVerdict::Unchanged`] otherwise, including an interval that straddles a bound:
///   the data do not show a change larger than the threshold.
///
/// An interval bound exactly on the threshold does not count as beyond it. A negative or
/// non-finite threshold, or an interval that is not an ordered pair of finite numbers, is an
/// error rather than a verdict.
pub fn change_verdict(change: Interval, threshold: f64) -> Result<ChangeVerdict, StatsError> {
    if !(threshold.is_finite() && threshold >= 0.0) {
        return Err(StatsError::InvalidThreshold(threshold));
    }
    if !(change.lower.is_finite() && change.upper.is_finite() && change.lower <= change.upper) {
        return Err(StatsError::InvalidInterval {
            lower: change.lower,
            upper: change.upper,
        });
    }
    Ok(if change.lower > threshold {
        ChangeVerdict::Regressed
    } else if change.upper < -threshold {
        ChangeVerdict::Improved
    } else {
        ChangeVerdict::Unchanged
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spread(center: f64, n: u32) -> Vec<f64> {
        // Evenly spread ±1% around the centre.
        (0..n)
            .map(|i| center * (0.99 + 0.02 * f64::from(i) / f64::from(n - 1)))
            .collect()
    }

    #[test]
    fn ratio_recovers_a_known_factor() {
        let best = spread(1.0, 21);
        let slow = spread(2.0, 21);
        let r = ratio_of_medians(&slow, &best, &BootstrapOptions::default()).unwrap();
        assert!((r.point - 2.0).abs() < 1e-12);
        assert!(r.lower <= 2.0 && 2.0 <= r.upper, "{r:?}");
        assert!(r.lower > 1.95 && r.upper < 2.05, "{r:?}");
    }

    #[test]
    fn relative_change_is_ratio_minus_one() {
        let old = spread(1.0, 15);
        let new = spread(1.2, 15);
        let o = BootstrapOptions::default();
        let c = relative_change(&old, &new, &o).unwrap();
        let r = ratio_of_medians(&new, &old, &o).unwrap();
        assert!((c.point - 0.2).abs() < 1e-12);
        assert_eq!((c.lower, c.upper), (r.lower - 1.0, r.upper - 1.0));
        assert_eq!(change_verdict(c.into(), 0.05), Ok(ChangeVerdict::Regressed));
    }

    #[test]
    fn ratio_refuses_non_positive_medians() {
        let o = BootstrapOptions::default();
        assert!(matches!(
            ratio_of_medians(&[1.0, 2.0], &[-1.0, 0.0, 1.0], &o),
            Err(StatsError::NonPositiveMedian {
                which: "denominator",
                ..
            })
        ));
        // Median 1 but a resample of {−5, 1, 2} often has median −5: no stable ratio.
        assert!(matches!(
            ratio_of_medians(&[1.0, 2.0], &[-5.0, 1.0, 2.0], &o),
            Err(StatsError::UnstableRatio { .. })
        ));
        assert_eq!(
            ratio_of_medians(&[1.0], &[1.0, 2.0], &o),
            Err(StatsError::TooFew { needed: 2, got: 1 })
        );
    }

    #[test]
    fn verdict_needs_the_whole_interval_beyond_the_threshold() {
        let v = |lower, upper| change_verdict(Interval { lower, upper }, 0.05);
        assert_eq!(v(0.06, 0.20), Ok(ChangeVerdict::Regressed));
        assert_eq!(v(0.04, 0.20), Ok(ChangeVerdict::Unchanged));
        assert_eq!(v(0.05, 0.20), Ok(ChangeVerdict::Unchanged));
        assert_eq!(v(-0.20, -0.06), Ok(ChangeVerdict::Improved));
        assert_eq!(v(-0.20, -0.04), Ok(ChangeVerdict::Unchanged));
        assert_eq!(v(-0.30, 0.30), Ok(ChangeVerdict::Unchanged));
        assert_eq!(v(-0.01, 0.01), Ok(ChangeVerdict::Unchanged));
        assert!(v(0.2, 0.1).is_err());
        assert!(v(f64::NAN, 0.1).is_err());
        assert_eq!(
            change_verdict(
                Interval {
                    lower: 0.1,
                    upper: 0.2
                },
                -0.05
            ),
            Err(StatsError::InvalidThreshold(-0.05))
        );
    }
}
