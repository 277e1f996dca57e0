//! Physical quantities with their units in the type.
//!
//! A raw `f64` of energy never crosses a module boundary: it is a [`Joules`], and a power is a
//! [`Watts`]. Both serialize as plain numbers (the JSON field names carry the unit: `_j`, `_w`).

use std::fmt;
use std::iter::Sum;
use std::ops::{Add, AddAssign, Div, Mul, Sub};
use std::time::Duration;

use serde::{Deserialize, Serialize};

/// An amount of energy in joules.
#[derive(Copy, Clone, Debug, Default, PartialEq, PartialOrd, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Joules(pub f64);

/// A power in watts.
#[derive(Copy, Clone, Debug, Default, PartialEq, PartialOrd, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Watts(pub f64);

impl Joules {
    pub const ZERO: Joules = Joules(0.0);

    pub fn from_microjoules(uj: u64) -> Self {
        Joules(uj as f64 * 1e-6)
    }

    pub fn get(self) -> f64 {
        self.0
    }

    /// Mean power over `elapsed`; `None` for an empty interval.
    pub fn over(self, elapsed: Duration) -> Option<Watts> {
        let s = elapsed.as_secs_f64();
        (s > 0.0).then(|| Watts(self.0 / s))
    }
}

impl Watts {
    pub fn get(self) -> f64 {
        self.0
    }
}

impl Add for Joules {
    type Output = Joules;
    fn add(self, rhs: Joules) -> Joules {
        Joules(self.0 + rhs.0)
    }
}

impl AddAssign for Joules {
    fn add_assign(&mut self, rhs: Joules) {
        self.0 += rhs.0;
    }
}

impl Sub for Joules {
    type Output = Joules;
    fn sub(self, rhs: Joules) -> Joules {
        Joules(self.0 - rhs.0)
    }
}

impl Div<f64> for Joules {
    type Output = Joules;
    fn div(self, rhs: f64) -> Joules {
        Joules(self.0 / rhs)
    }
}

impl Sum for Joules {
    fn sum<I: Iterator<Item = Joules>>(iter: I) -> Joules {
        Joules(iter.map(|j| j.0).sum())
    }
}

impl Mul<Duration> for Watts {
    type Output = Joules;
    fn mul(self, rhs: Duration) -> Joules {
        Joules(self.0 * rhs.as_secs_f64())
    }
}

const PREFIXES: [(f64, &str); 7] = [
    (1e3, "k"),
    (1.0, ""),
    (1e-3, "m"),
    (1e-6, "µ"),
    (1e-9, "n"),
    (1e-12, "p"),
    (1e-15, "f"),
];

/// The scale and SI prefix that put `value` in [1, 1000): `(1e-6, "µ")` for 0.000123. The
/// threshold sits a hair below each power of 1000, so a value that rounds up to the next
/// prefix at four significant digits takes it (999.99 µ reads as 1.000 m, not 1000.0 µ).
pub fn si_prefix(value: f64) -> (f64, &'static str) {
    let abs = value.abs();
    if abs == 0.0 || !abs.is_finite() {
        return (1.0, "");
    }
    PREFIXES
        .iter()
        .copied()
        .find(|(scale, _)| abs >= *scale * 0.99995)
        .unwrap_or(PREFIXES[PREFIXES.len() - 1])
}

fn si(value: f64, unit: &str, f: &mut fmt::Formatter<'_>) -> fmt::Result {
    let (scale, prefix) = si_prefix(value);
    let precision = f.precision().unwrap_or(3);
    write!(f, "{:.*} {}{}", precision, value / scale, prefix, unit)
}

impl fmt::Display for Joules {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        si(self.0, "J", f)
    }
}

impl fmt::Display for Watts {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        si(self.0, "W", f)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn display_picks_a_prefix() {
        assert_eq!(Joules(0.00123).to_string(), "1.230 mJ");
        assert_eq!(Joules(2.5e-9).to_string(), "2.500 nJ");
        assert_eq!(Watts(15.0).to_string(), "15.000 W");
        assert_eq!(Joules(0.0).to_string(), "0.000 J");
    }

    #[test]
    fn power_and_energy_convert() {
        let e = Watts(10.0) * Duration::from_millis(500);
        assert_eq!(e, Joules(5.0));
        assert_eq!(e.over(Duration::from_secs(1)), Some(Watts(5.0)));
        assert_eq!(e.over(Duration::ZERO), None);
    }
}
