//! Location and spread of one set of samples: median, mean, standard deviation, MAD,
//! coefficient of variation and quantiles.
//!
//! Every function validates its input (non-empty, finite) and returns a [`StatsError`] rather
//! than NaN. The `*_of_sorted` variants skip validation and sorting for callers that already
//! hold sorted, finite data, such as a bootstrap statistic; they return NaN on an empty slice,
//! which the bootstrap rejects.

use super::error::{StatsError, check_samples};

/// Scales the MAD into a consistent estimator of the standard deviation for normal data:
/// 1 / Φ⁻¹(3/4) ≈ 1.4826.
pub const MAD_NORMAL_SCALE: f64 = 1.4826;

/// A validated, sorted copy of `samples`.
pub fn sorted(samples: &[f64]) -> Result<Vec<f64>, StatsError> {
    check_samples(samples)?;
    let mut v = samples.to_vec();
    v.sort_unstable_by(f64::total_cmp);
    Ok(v)
}

/// Arithmetic mean.
pub fn mean(samples: &[f64]) -> Result<f64, StatsError> {
    check_samples(samples)?;
    Ok(mean_unchecked(samples))
}

fn mean_unchecked(samples: &[f64]) -> f64 {
    samples.iter().sum::<f64>() / samples.len() as f64
}

/// Median: the middle value, or the mean of the two middle values for an even count.
pub fn median(samples: &[f64]) -> Result<f64, StatsError> {
    Ok(median_of_sorted(&sorted(samples)?))
}

/// Median of data already sorted ascending; NaN for an empty slice.
pub fn median_of_sorted(sorted: &[f64]) -> f64 {
    let n = sorted.len();
    if n == 0 {
        return f64::NAN;
    }
    if n % 2 == 1 {
        sorted[n / 2]
    } else {
        // The same arithmetic as the type-7 quantile at p = 0.5, so the two agree to the bit.
        lerp(sorted[n / 2 - 1], sorted[n / 2], 0.5)
    }
}

/// `a + t·(b − a)`, falling back to `(1 − t)·a + t·b` when `b − a` overflows (values of
/// opposite sign near f64::MAX).
fn lerp(a: f64, b: f64, t: f64) -> f64 {
    if t == 0.0 {
        return a;
    }
    let d = b - a;
    if d.is_finite() {
        a + t * d
    } else {
        (1.0 - t) * a + t * b
    }
}

/// Sample quantile `p` ∈ [0, 1] by linear interpolation between order statistics, Hyndman and
/// Fan's type 7 (the default of R and NumPy): with sorted `x` and `h = (n − 1)·p`, the result is
/// `x[⌊h⌋] + (h − ⌊h⌋)·(x[⌊h⌋+1] − x[⌊h⌋])`. `quantile(x, 0.5)` equals the median.
pub fn quantile(samples: &[f64], p: f64) -> Result<f64, StatsError> {
    check_probability(p)?;
    Ok(quantile_of_sorted(&sorted(samples)?, p))
}

/// Type-7 quantile of data already sorted ascending; NaN for an empty slice or `p` outside
/// [0, 1].
pub fn quantile_of_sorted(sorted: &[f64], p: f64) -> f64 {
    let n = sorted.len();
    if n == 0 || !(0.0..=1.0).contains(&p) {
        return f64::NAN;
    }
    let h = (n - 1) as f64 * p;
    let lo = h.floor() as usize;
    let hi = (lo + 1).min(n - 1);
    lerp(sorted[lo], sorted[hi], h - lo as f64)
}

fn check_probability(p: f64) -> Result<(), StatsError> {
    if (0.0..=1.0).contains(&p) {
        Ok(())
    } else {
        Err(StatsError::InvalidProbability(p))
    }
}

/// Sample variance with Bessel's correction (divides by n − 1); needs two samples.
pub fn variance(samples: &[f64]) -> Result<f64, StatsError> {
    check_samples(samples)?;
    if samples.len() < 2 {
        return Err(StatsError::TooFew {
            needed: 2,
            got: samples.len(),
        });
    }
    // Two passes: subtracting the mean first avoids the cancellation of Σx² − n·mean².
    let m = mean_unchecked(samples);
    let ss: f64 = samples.iter().map(|x| (x - m) * (x - m)).sum();
    Ok(ss / (samples.len() - 1) as f64)
}

/// Sample standard deviation (n − 1 denominator); needs two samples.
pub fn std_dev(samples: &[f64]) -> Result<f64, StatsError> {
    variance(samples).map(f64::sqrt)
}

/// Median absolute deviation, unscaled: `median(|xᵢ − median(x)|)`. For normal data it is about
/// 0.674 σ; use [`mad_scaled`] for a σ-comparable figure.
pub fn mad(samples: &[f64]) -> Result<f64, StatsError> {
    let s = sorted(samples)?;
    Ok(mad_of_sorted(&s))
}

/// MAD of data already sorted ascending; NaN for an empty slice.
pub fn mad_of_sorted(sorted: &[f64]) -> f64 {
    let m = median_of_sorted(sorted);
    let mut dev: Vec<f64> = sorted.iter().map(|x| (x - m).abs()).collect();
    dev.sort_unstable_by(f64::total_cmp);
    median_of_sorted(&dev)
}

/// MAD × [`MAD_NORMAL_SCALE`]: estimates σ for normal data while keeping the MAD's
/// robustness to outliers.
pub fn mad_scaled(samples: &[f64]) -> Result<f64, StatsError> {
    mad(samples).map(|m| m * MAD_NORMAL_SCALE)
}

/// Coefficient of variation: sample standard deviation / |mean|. Needs two samples and a
/// non-zero mean.
pub fn cv(samples: &[f64]) -> Result<f64, StatsError> {
    let sd = std_dev(samples)?;
    cv_from(sd, mean_unchecked(samples))
}

fn cv_from(sd: f64, mean: f64) -> Result<f64, StatsError> {
    if mean == 0.0 {
        return Err(StatsError::ZeroReference { what: "the mean" });
    }
    Ok(sd / mean.abs())
}

/// All descriptive statistics of one set of samples, from one sort.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Summary {
    pub n: usize,
    pub min: f64,
    pub max: f64,
    pub mean: f64,
    pub median: f64,
    /// Type-7 quartiles.
    pub q1: f64,
    pub q3: f64,
    /// Sample standard deviation; `None` with a single sample.
    pub std_dev: Option<f64>,
    /// Unscaled MAD.
    pub mad: f64,
    /// `None` with a single sample or a zero mean.
    pub cv: Option<f64>,
}

impl Summary {
    /// Summarises `samples`; fails only on empty or non-finite input.
    pub fn of(samples: &[f64]) -> Result<Summary, StatsError> {
        let s = sorted(samples)?;
        let mean = mean_unchecked(samples);
        let std_dev = std_dev(samples).ok();
        Ok(Summary {
            n: s.len(),
            min: s[0],
            max: s[s.len() - 1],
            mean,
            median: median_of_sorted(&s),
            q1: quantile_of_sorted(&s, 0.25),
            q3: quantile_of_sorted(&s, 0.75),
            std_dev,
            mad: mad_of_sorted(&s),
            cv: std_dev.and_then(|sd| cv_from(sd, mean).ok()),
        })
    }

    /// MAD × [`MAD_NORMAL_SCALE`].
    pub fn mad_scaled(&self) -> f64 {
        self.mad * MAD_NORMAL_SCALE
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn close(a: f64, b: f64) -> bool {
        (a - b).abs() <= 1e-12 * b.abs().max(1.0)
    }

    #[test]
    fn median_odd_even_and_unsorted() {
        assert_eq!(median(&[3.0, 1.0, 2.0]), Ok(2.0));
        assert_eq!(median(&[4.0, 1.0, 3.0, 2.0]), Ok(2.5));
        assert_eq!(median(&[7.0]), Ok(7.0));
    }

    #[test]
    fn mean_and_sample_std_dev_by_hand() {
        // 2 4 4 4 5 5 7 9: mean 5, Σ(x−5)² = 32, sample variance 32/7.
        let x = [2.0, 4.0, 4.0, 4.0, 5.0, 5.0, 7.0, 9.0];
        assert_eq!(mean(&x), Ok(5.0));
        assert!(close(variance(&x).unwrap(), 32.0 / 7.0));
        assert!(close(std_dev(&x).unwrap(), (32.0f64 / 7.0).sqrt()));
        assert!(close(cv(&x).unwrap(), (32.0f64 / 7.0).sqrt() / 5.0));
    }

    #[test]
    fn mad_by_hand() {
        // 1 1 2 2 4 6 9: median 2; |deviations| 1 1 0 0 2 4 7 → sorted 0 0 1 1 2 4 7, median 1.
        let x = [1.0, 1.0, 2.0, 2.0, 4.0, 6.0, 9.0];
        assert_eq!(mad(&x), Ok(1.0));
        assert!(close(mad_scaled(&x).unwrap(), 1.4826));
    }

    #[test]
    fn quantile_type7_by_hand() {
        // n = 5, h = 4p: p = 0.25 → x[1]; p = 0.1 → x[0] + 0.4·(x[1] − x[0]).
        let x = [10.0, 20.0, 30.0, 40.0, 50.0];
        assert_eq!(quantile(&x, 0.0), Ok(10.0));
        assert_eq!(quantile(&x, 0.25), Ok(20.0));
        assert!(close(quantile(&x, 0.1).unwrap(), 14.0));
        assert_eq!(quantile(&x, 0.5), Ok(30.0));
        assert_eq!(quantile(&x, 1.0), Ok(50.0));
        // Agrees with R's quantile(c(1, 2, 3, 4), 0.75) = 3.25.
        assert!(close(quantile(&[4.0, 1.0, 3.0, 2.0], 0.75).unwrap(), 3.25));
        // Found by proptest: the median and the 0.5 quantile must agree to the bit.
        let pair = [631.120_500_427_081_2, 246.797_572_557_146_54];
        assert_eq!(quantile(&pair, 0.5), median(&pair));
    }

    #[test]
    fn degenerate_inputs_are_errors() {
        assert_eq!(median(&[]), Err(StatsError::Empty));
        // NaN never equals itself, so match on the variant and index.
        assert!(matches!(
            mean(&[1.0, f64::NAN]),
            Err(StatsError::NonFinite { index: 1, .. })
        ));
        assert!(matches!(
            median(&[1.0, f64::INFINITY]),
            Err(StatsError::NonFinite { index: 1, .. })
        ));
        assert_eq!(
            std_dev(&[1.0]),
            Err(StatsError::TooFew { needed: 2, got: 1 })
        );
        assert_eq!(
            cv(&[-1.0, 1.0]),
            Err(StatsError::ZeroReference { what: "the mean" })
        );
        assert_eq!(
            quantile(&[1.0], 1.5),
            Err(StatsError::InvalidProbability(1.5))
        );
        assert!(median_of_sorted(&[]).is_nan());
        assert_eq!(median(&[-f64::MAX, f64::MAX]), Ok(0.0));
    }

    #[test]
    fn summary_of_all_equal_has_zero_spread() {
        let s = Summary::of(&[3.0; 5]).unwrap();
        assert_eq!(
            (s.median, s.mad, s.std_dev, s.cv),
            (3.0, 0.0, Some(0.0), Some(0.0))
        );
        let one = Summary::of(&[3.0]).unwrap();
        assert_eq!((one.std_dev, one.cv), (None, None));
    }
}
