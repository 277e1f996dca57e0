//! The relative change between two sets of per-call energies, with a percentile-bootstrap
//! interval, and the verdict it implies.

use crate::results::{ChangeVerdict, Estimate};

/// SplitMix64: a few lines, good enough for resampling, and identical on every platform, so a
/// comparison is reproducible from its seed.
struct SplitMix(u64);

impl SplitMix {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in `0..n` (multiply-shift; the bias is below 2⁻³² for the sizes used here).
    fn below(&mut self, n: usize) -> usize {
        ((u128::from(self.next()) * n as u128) >> 64) as usize
    }
}

fn median(sorted: &[f64]) -> f64 {
    let n = sorted.len();
    if n % 2 == 1 {
        sorted[n / 2]
    } else {
        (sorted[n / 2 - 1] + sorted[n / 2]) / 2.0
    }
}

/// The median of `values` (any order); `None` when empty.
pub fn median_of(values: &[f64]) -> Option<f64> {
    (!values.is_empty()).then(|| median(&sorted(values)))
}

fn sorted(values: &[f64]) -> Vec<f64> {
    let mut v = values.to_vec();
    v.sort_by(f64::total_cmp);
    v
}

/// `median(new) / median(old) - 1` (+0.10 = 10% more energy), with the `level` percentile
/// bootstrap interval from `resamples` independent resamplings of both sides.
///
/// `None` when either side is empty, a value is not finite, or the old median is not positive
/// (a ratio to zero or a negative energy means nothing).
pub fn relative_change_ci(
    old: &[f64],
    new: &[f64],
    level: f64,
    resamples: u32,
    seed: u64,
) -> Option<Estimate<f64>> {
    if old.is_empty() || new.is_empty() || !old.iter().chain(new).all(|x| x.is_finite()) {
        return None;
    }
    let old_median = median(&sorted(old));
    if old_median <= 0.0 {
        return None;
    }
    let point = median(&sorted(new)) / old_median - 1.0;
    let mut rng = SplitMix(seed);
    let mut draw = |values: &[f64], buf: &mut Vec<f64>| {
        buf.clear();
        buf.extend((0..values.len()).map(|_| values[rng.below(values.len())]));
        buf.sort_by(f64::total_cmp);
        median(buf)
    };
    let (mut a, mut b) = (Vec::with_capacity(old.len()), Vec::with_capacity(new.len()));
    let mut changes = Vec::with_capacity(resamples.max(1) as usize);
    for _ in 0..resamples.max(1) {
        let m_old = draw(old, &mut a);
        let m_new = draw(new, &mut b);
        // A resample whose old median is not positive has no ratio; it says the data straddle
        // zero, which widens the interval to everything.
        changes.push(if m_old > 0.0 {
            m_new / m_old - 1.0
        } else {
            f64::INFINITY
        });
    }
    changes.sort_by(f64::total_cmp);
    let alpha = (1.0 - level.clamp(0.0, 1.0)) / 2.0;
    let at = |q: f64| {
        let i = (q * (changes.len() - 1) as f64).round() as usize;
        changes[i.min(changes.len() - 1)]
    };
    Some(Estimate {
        point,
        lower: at(alpha).min(point),
        upper: at(1.0 - alpha).max(point),
    })
}

/// Regressed only when the whole interval lies above `threshold`; improved only when it lies
/// wholly below `-threshold`; otherwise unchanged.
pub fn verdict(change: &Estimate<f64>, threshold: f64) -> ChangeVerdict {
    if change.lower > threshold {
        ChangeVerdict::Regressed
    } else if change.upper < -threshold {
        ChangeVerdict::Improved
    } else {
        ChangeVerdict::Unchanged
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Deterministic noise around `center`, ±`spread` relative.
    fn noisy(center: f64, spread: f64, n: usize, seed: u64) -> Vec<f64> {
        let mut rng = SplitMix(seed);
        (0..n)
            .map(|_| {
                let u = rng.next() as f64 / u64::MAX as f64;
                center * (1.0 + spread * (2.0 * u - 1.0))
            })
            .collect()
    }

    #[test]
    fn doubling_is_a_regression_with_an_interval_around_plus_100_percent() {
        let old = noisy(1e-6, 0.03, 20, 1);
        let new = noisy(2e-6, 0.03, 20, 2);
        let c = relative_change_ci(&old, &new, 0.95, 2000, 7).unwrap();
        assert!(c.lower <= c.point && c.point <= c.upper);
        assert!((0.85..1.15).contains(&c.point), "{c:?}");
        assert!(c.lower > 0.05, "{c:?}");
        assert_eq!(verdict(&c, 0.05), ChangeVerdict::Regressed);
        let back = relative_change_ci(&new, &old, 0.95, 2000, 7).unwrap();
        assert_eq!(verdict(&back, 0.05), ChangeVerdict::Improved);
    }

    #[test]
    fn same_distribution_is_unchanged_and_reproducible() {
        let old = noisy(5e-3, 0.05, 15, 3);
        let new = noisy(5e-3, 0.05, 15, 4);
        let c = relative_change_ci(&old, &new, 0.95, 1000, 9).unwrap();
        assert_eq!(verdict(&c, 0.05), ChangeVerdict::Unchanged);
        assert_eq!(c, relative_change_ci(&old, &new, 0.95, 1000, 9).unwrap());
    }

    #[test]
    fn an_interval_that_touches_the_threshold_is_not_a_regression() {
        let e = |lower, upper| Estimate {
            point: (lower + upper) / 2.0,
            lower,
            upper,
        };
        assert_eq!(verdict(&e(0.04, 0.30), 0.05), ChangeVerdict::Unchanged);
        assert_eq!(verdict(&e(0.0501, 0.30), 0.05), ChangeVerdict::Regressed);
        assert_eq!(verdict(&e(-0.30, -0.06), 0.05), ChangeVerdict::Improved);
        assert_eq!(verdict(&e(-0.30, -0.05), 0.05), ChangeVerdict::Unchanged);
    }

    #[test]
    fn meaningless_inputs_give_no_interval() {
        assert_eq!(relative_change_ci(&[], &[1.0], 0.95, 10, 0), None);
        assert_eq!(relative_change_ci(&[0.0, 0.0], &[1.0], 0.95, 10, 0), None);
        assert_eq!(
            relative_change_ci(&[1.0, f64::NAN], &[1.0], 0.95, 10, 0),
            None
        );
    }

    #[test]
    fn single_samples_give_a_point_interval() {
        let c = relative_change_ci(&[2.0], &[3.0], 0.95, 100, 0).unwrap();
        assert_eq!(
            c,
            Estimate {
                point: 0.5,
                lower: 0.5,
                upper: 0.5
            }
        );
    }
}
