//! Tukey's fences: outliers are flagged, never dropped.
//!
//! A sample outside `[Q1 − 1.5·IQR, Q3 + 1.5·IQR]` is a mild outlier, outside
//! `[Q1 − 3·IQR, Q3 + 3·IQR]` a severe one (quartiles by type-7 interpolation). The flags are
//! for the reader (an interrupt storm, a frequency change); every estimate still uses every
//! sample, because the median and the bootstrap are already robust to a few wild values and
//! dropping data would make the results irreproducible from the raw samples.

use super::error::StatsError;
use super::summary::{quantile_of_sorted, sorted};

/// Where one sample lies relative to Tukey's fences.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum OutlierClass {
    /// Within the inner fences.
    Inlier,
    /// Below Q1 − 1.5·IQR but not below Q1 − 3·IQR.
    MildLow,
    /// Below Q1 − 3·IQR.
    SevereLow,
    /// Above Q3 + 1.5·IQR but not above Q3 + 3·IQR.
    MildHigh,
    /// Above Q3 + 3·IQR.
    SevereHigh,
}

impl OutlierClass {
    pub fn is_outlier(self) -> bool {
        self != OutlierClass::Inlier
    }

    pub fn is_severe(self) -> bool {
        matches!(self, OutlierClass::SevereLow | OutlierClass::SevereHigh)
    }
}

/// The four fences of one set of samples.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Fences {
    pub severe_low: f64,
    pub mild_low: f64,
    pub mild_high: f64,
    pub severe_high: f64,
}

impl Fences {
    /// Computes the fences; fails on empty or non-finite input.
    pub fn of(samples: &[f64]) -> Result<Fences, StatsError> {
        let s = sorted(samples)?;
        let q1 = quantile_of_sorted(&s, 0.25);
        let q3 = quantile_of_sorted(&s, 0.75);
        let iqr = q3 - q1;
        Ok(Fences {
            severe_low: q1 - 3.0 * iqr,
            mild_low: q1 - 1.5 * iqr,
            mild_high: q3 + 1.5 * iqr,
            severe_high: q3 + 3.0 * iqr,
        })
    }

    /// Classifies one value; values exactly on a fence count as inside it.
    pub fn classify(&self, x: f64) -> OutlierClass {
        if x < self.severe_low {
            OutlierClass::SevereLow
        } else if x < self.mild_low {
            OutlierClass::MildLow
        } else if x > self.severe_high {
            OutlierClass::SevereHigh
        } else if x > self.mild_high {
            OutlierClass::MildHigh
        } else {
            OutlierClass::Inlier
        }
    }
}

/// One class per sample, in the order given. An empty slice gives an empty vector; non-finite
/// samples are an error. When more than half of the samples are equal the IQR can be 0, and
/// then every other value is flagged: that is Tukey's rule, and with energy readings it usually
/// means a coarse meter, which the reader should see.
pub fn tukey(samples: &[f64]) -> Result<Vec<OutlierClass>, StatsError> {
    if samples.is_empty() {
        return Ok(Vec::new());
    }
    let fences = Fences::of(samples)?;
    Ok(samples.iter().map(|&x| fences.classify(x)).collect())
}

/// How many samples fall outside the inner fences.
pub fn count_outliers(classes: &[OutlierClass]) -> usize {
    classes.iter().filter(|c| c.is_outlier()).count()
}

#[cfg(test)]
mod tests {
    use super::OutlierClass::*;
    use super::*;

    #[test]
    fn fences_by_hand() {
        // 1..=8 plus 100: Q1 = x[2] = 3, Q3 = x[6] = 7, IQR 4; mild fences −3 and 13, severe
        // −9 and 19.
        let x = [1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0, 100.0];
        let f = Fences::of(&x).unwrap();
        assert_eq!(
            f,
            Fences {
                severe_low: -9.0,
                mild_low: -3.0,
                mild_high: 13.0,
                severe_high: 19.0
            }
        );
        let classes = tukey(&x).unwrap();
        assert_eq!(classes.len(), x.len());
        assert_eq!(classes[8], SevereHigh);
        assert_eq!(count_outliers(&classes), 1);
    }

    #[test]
    fn mild_and_severe_on_both_sides() {
        let f = Fences {
            severe_low: -9.0,
            mild_low: -3.0,
            mild_high: 13.0,
            severe_high: 19.0,
        };
        assert_eq!(f.classify(-10.0), SevereLow);
        assert_eq!(f.classify(-5.0), MildLow);
        assert_eq!(f.classify(-3.0), Inlier);
        assert_eq!(f.classify(13.0), Inlier);
        assert_eq!(f.classify(15.0), MildHigh);
        assert_eq!(f.classify(19.5), SevereHigh);
    }

    #[test]
    fn nothing_is_dropped_and_bad_input_is_refused() {
        assert_eq!(tukey(&[]).unwrap(), vec![]);
        assert_eq!(tukey(&[5.0]).unwrap(), vec![Inlier]);
        assert!(tukey(&[1.0, f64::NAN]).is_err());
    }
}
