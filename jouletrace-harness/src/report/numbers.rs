//! How numbers read in every human-facing view: four significant digits and an SI prefix, with
//! an interval written in the same prefix as its point so the eye compares mantissas only.

use crate::results::Estimate;
use crate::units::{Joules, Watts};

use crate::units::si_prefix as prefix_for;

/// Four significant digits for a mantissa in [1, 1000).
fn mantissa(m: f64) -> String {
    let decimals = match m.abs() {
        a if a >= 99.995 => 1,
        a if a >= 9.9995 => 2,
        _ => 3,
    };
    format!("{m:.decimals$}")
}

/// `111.3 µJ`.
pub fn si(value: f64, unit: &str) -> String {
    if !value.is_finite() {
        return format!("{value} {unit}");
    }
    let (scale, prefix) = prefix_for(value);
    format!("{} {prefix}{unit}", mantissa(value / scale))
}

/// `110.1–112.8 µJ`: the bounds of an interval in the prefix of its point.
pub fn si_range(point: f64, lower: f64, upper: f64, unit: &str) -> String {
    let (scale, prefix) = prefix_for(point);
    format!(
        "{}–{} {prefix}{unit}",
        mantissa(lower / scale),
        mantissa(upper / scale)
    )
}

pub fn joules(j: Joules) -> String {
    si(j.get(), "J")
}

/// What a view shows for a baseline figure that does not exist (never `0 J`).
pub const ABSENT: &str = "—";

/// `111.3 µJ`, or [`ABSENT`] when there is no figure.
pub fn joules_or_absent(j: Option<Joules>) -> String {
    j.map_or_else(|| ABSENT.into(), joules)
}

pub fn watts(w: Watts) -> String {
    si(w.get(), "W")
}

pub fn seconds(s: f64) -> String {
    si(s, "s")
}

pub fn joules_range(e: &Estimate<Joules>) -> String {
    si_range(e.point.get(), e.lower.get(), e.upper.get(), "J")
}

pub fn watts_range(e: &Estimate<Watts>) -> String {
    si_range(e.point.get(), e.lower.get(), e.upper.get(), "W")
}

pub fn seconds_range(e: &Estimate<f64>) -> String {
    si_range(e.point, e.lower, e.upper, "s")
}

/// Half the interval's width relative to its point: `±1.2%`.
pub fn plus_minus_percent(point: f64, lower: f64, upper: f64) -> String {
    if point == 0.0 || !point.is_finite() {
        return "±?".into();
    }
    let half = (upper - lower).abs() / 2.0 / point.abs() * 100.0;
    if half < 0.05 {
        "±<0.1%".into()
    } else if half < 10.0 {
        format!("±{half:.1}%")
    } else {
        format!("±{half:.0}%")
    }
}

/// `1.62×`.
pub fn ratio(r: f64) -> String {
    if r >= 100.0 {
        format!("{r:.0}×")
    } else if r >= 10.0 {
        format!("{r:.1}×")
    } else {
        format!("{r:.2}×")
    }
}

/// `1.58–1.66×`.
pub fn ratio_range(e: &Estimate<f64>) -> String {
    let r = ratio(e.upper);
    format!(
        "{}–{r}",
        ratio(e.lower).trim_end_matches('×'),
        r = r.trim_end_matches('×')
    ) + "×"
}

/// `+12.4%`, signed.
pub fn percent_signed(fraction: f64) -> String {
    format!("{:+.1}%", fraction * 100.0)
}

/// `+9.8% to +15.1%`.
pub fn percent_range(lower: f64, upper: f64) -> String {
    format!("{} to {}", percent_signed(lower), percent_signed(upper))
}

/// Confidence level as people write it: `95%`.
pub fn level(confidence: f64) -> String {
    let pct = confidence * 100.0;
    if (pct - pct.round()).abs() < 1e-9 {
        format!("{pct:.0}%")
    } else {
        format!("{pct:.1}%")
    }
}

/// A problem size: `1000`, `10k`, `1.5M`.
pub fn size(n: u64) -> String {
    let (div, suffix) = match n {
        n if n >= 1_000_000_000 => (1e9, "G"),
        n if n >= 1_000_000 => (1e6, "M"),
        n if n >= 10_000 => (1e3, "k"),
        _ => return n.to_string(),
    };
    let v = n as f64 / div;
    if (v - v.round()).abs() < 1e-9 {
        format!("{v:.0}{suffix}")
    } else {
        format!("{v:.1}{suffix}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn four_significant_digits_with_a_prefix() {
        assert_eq!(si(0.000_111_33, "J"), "111.3 µJ");
        assert_eq!(si(0.001_483, "J"), "1.483 mJ");
        assert_eq!(si(0.014_83, "J"), "14.83 mJ");
        assert_eq!(si(12.34, "W"), "12.34 W");
        assert_eq!(si(0.0, "J"), "0.000 J");
        assert_eq!(si(999.99e-6, "J"), "1.000 mJ");
        assert_eq!(si(2.0e-16, "J"), "0.200 fJ");
    }

    #[test]
    fn intervals_share_the_point_prefix() {
        assert_eq!(
            si_range(0.000_111_3, 0.000_110_1, 0.000_112_8, "J"),
            "110.1–112.8 µJ"
        );
        assert_eq!(plus_minus_percent(100.0, 99.0, 101.4), "±1.2%");
        assert_eq!(ratio(1.6234), "1.62×");
        assert_eq!(ratio(134.1), "134×");
        assert_eq!(
            ratio_range(&Estimate {
                point: 1.6,
                lower: 1.58,
                upper: 1.66
            }),
            "1.58–1.66×"
        );
        assert_eq!(percent_range(0.098, 0.151), "+9.8% to +15.1%");
        assert_eq!(level(0.95), "95%");
        assert_eq!(size(100_000), "100k");
        assert_eq!(size(1000), "1000");
    }
}
