//! How criterion prints joules: SI prefixes for energy per iteration, and throughput as energy
//! per element, byte or bit.

use ::criterion::Throughput;
use ::criterion::measurement::ValueFormatter;

/// One SI prefix: the factor that turns joules into it and its unit strings. criterion wants
/// `&'static str` units, hence a table rather than formatting.
struct Prefix {
    /// The smallest value (in joules) shown with this prefix.
    from: f64,
    factor: f64,
    plain: &'static str,
    per_element: &'static str,
    per_byte: &'static str,
    per_bit: &'static str,
}

/// Largest first. Sub-nanojoule figures are common per byte, hence pJ.
const PREFIXES: [Prefix; 5] = [
    Prefix {
        from: 1.0,
        factor: 1.0,
        plain: "J",
        per_element: "J/elem",
        per_byte: "J/B",
        per_bit: "J/bit",
    },
    Prefix {
        from: 1e-3,
        factor: 1e3,
        plain: "mJ",
        per_element: "mJ/elem",
        per_byte: "mJ/B",
        per_bit: "mJ/bit",
    },
    Prefix {
        from: 1e-6,
        factor: 1e6,
        plain: "µJ",
        per_element: "µJ/elem",
        per_byte: "µJ/B",
        per_bit: "µJ/bit",
    },
    Prefix {
        from: 1e-9,
        factor: 1e9,
        plain: "nJ",
        per_element: "nJ/elem",
        per_byte: "nJ/B",
        per_bit: "nJ/bit",
    },
    Prefix {
        from: 0.0,
        factor: 1e12,
        plain: "pJ",
        per_element: "pJ/elem",
        per_byte: "pJ/B",
        per_bit: "pJ/bit",
    },
];

/// The prefix for a typical value in joules. Zero (a meter that did not advance over a sample)
/// gets the smallest prefix, so that it prints as `0 pJ` beside its neighbours.
fn prefix_for(typical_j: f64) -> &'static Prefix {
    let magnitude = typical_j.abs();
    PREFIXES
        .iter()
        .find(|p| magnitude >= p.from)
        .unwrap_or(&PREFIXES[PREFIXES.len() - 1])
}

/// Formats values given in joules (per iteration, as [`JouleMeasurement`](super::JouleMeasurement)
/// produces them).
#[derive(Clone, Copy, Debug, Default)]
pub struct EnergyFormatter;

impl ValueFormatter for EnergyFormatter {
    fn scale_values(&self, typical_value: f64, values: &mut [f64]) -> &'static str {
        let p = prefix_for(typical_value);
        for v in values.iter_mut() {
            *v *= p.factor;
        }
        p.plain
    }

    /// Energy per unit of work: where the time measurement shows elements per second, this
    /// shows joules per element (lower is better, unlike a rate).
    fn scale_throughputs(
        &self,
        typical_value: f64,
        throughput: &Throughput,
        values: &mut [f64],
    ) -> &'static str {
        let (units, pick): (u64, fn(&Prefix) -> &'static str) = match *throughput {
            Throughput::Bits(n) => (n, |p| p.per_bit),
            Throughput::Bytes(n) | Throughput::BytesDecimal(n) => (n, |p| p.per_byte),
            // criterion formats the bytes of `ElementsAndBytes` separately, as `Bytes`.
            Throughput::Elements(n) | Throughput::ElementsAndBytes { elements: n, .. } => {
                (n, |p| p.per_element)
            }
        };
        if units == 0 {
            // No work per iteration: energy per unit is undefined, and criterion must never
            // get NaN or infinity back. Show the energy per iteration instead.
            return self.scale_values(typical_value, values);
        }
        let per_unit = units as f64;
        let p = prefix_for(typical_value / per_unit);
        for v in values.iter_mut() {
            *v = *v / per_unit * p.factor;
        }
        pick(p)
    }

    fn scale_for_machines(&self, _values: &mut [f64]) -> &'static str {
        "J"
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn close(a: f64, b: f64) -> bool {
        (a - b).abs() <= 1e-9 * a.abs().max(b.abs())
    }

    #[test]
    fn values_take_the_prefix_of_the_typical_value() {
        let cases: [(f64, &str, f64); 7] = [
            (2.5, "J", 1.0),
            (1.0, "J", 1.0),
            (0.999, "mJ", 1e3),
            (3.2e-3, "mJ", 1e3),
            (4.0e-6, "µJ", 1e6),
            (7.5e-9, "nJ", 1e9),
            (5.0e-11, "pJ", 1e12),
        ];
        for (typical, unit, factor) in cases {
            let mut values = [typical, 2.0 * typical];
            assert_eq!(EnergyFormatter.scale_values(typical, &mut values), unit);
            assert!(close(values[0], typical * factor), "{typical}: {values:?}");
            assert!(
                close(values[1], 2.0 * typical * factor),
                "{typical}: {values:?}"
            );
        }
    }

    #[test]
    fn all_values_share_the_typical_values_unit() {
        // A graph shows one unit: an outlier keeps the unit chosen for the typical value.
        let mut values = [2e-6, 3e-3];
        assert_eq!(EnergyFormatter.scale_values(2e-6, &mut values), "µJ");
        assert!(close(values[0], 2.0));
        assert!(close(values[1], 3000.0));
    }

    #[test]
    fn zero_and_negative_values_stay_finite() {
        let mut values = [0.0, -2e-3];
        assert_eq!(EnergyFormatter.scale_values(0.0, &mut values), "pJ");
        assert_eq!(values[0], 0.0);
        let mut values = [-2e-3];
        assert_eq!(EnergyFormatter.scale_values(-2e-3, &mut values), "mJ");
        assert!(close(values[0], -2.0));
    }

    #[test]
    fn throughput_is_energy_per_unit_of_work() {
        // 2 mJ per iteration over 1000 elements: 2 µJ per element.
        let mut values = [2e-3];
        let unit =
            EnergyFormatter.scale_throughputs(2e-3, &Throughput::Elements(1000), &mut values);
        assert_eq!(unit, "µJ/elem");
        assert!(close(values[0], 2.0));

        // 5 µJ per iteration over 1 MiB: about 4.77 pJ per byte.
        let mut values = [5e-6];
        let unit =
            EnergyFormatter.scale_throughputs(5e-6, &Throughput::Bytes(1 << 20), &mut values);
        assert_eq!(unit, "pJ/B");
        assert!(close(values[0], 5e-6 / (1u64 << 20) as f64 * 1e12));

        let mut values = [8e-6];
        let unit =
            EnergyFormatter.scale_throughputs(8e-6, &Throughput::BytesDecimal(1000), &mut values);
        assert_eq!(unit, "nJ/B");
        assert!(close(values[0], 8.0));

        let mut values = [8e-6];
        let unit = EnergyFormatter.scale_throughputs(8e-6, &Throughput::Bits(8), &mut values);
        assert_eq!(unit, "µJ/bit");
        assert!(close(values[0], 1.0));

        let mut values = [3.0];
        let both = Throughput::ElementsAndBytes {
            elements: 3,
            bytes: 1 << 30,
        };
        assert_eq!(
            EnergyFormatter.scale_throughputs(3.0, &both, &mut values),
            "J/elem"
        );
        assert!(close(values[0], 1.0));
    }

    #[test]
    fn zero_units_of_work_fall_back_to_energy_per_iteration() {
        let mut values = [4e-3];
        let unit = EnergyFormatter.scale_throughputs(4e-3, &Throughput::Elements(0), &mut values);
        assert_eq!(unit, "mJ");
        assert!(values[0].is_finite());
        assert!(close(values[0], 4.0));
    }

    #[test]
    fn machines_get_plain_joules() {
        let mut values = [1.5e-6];
        assert_eq!(EnergyFormatter.scale_for_machines(&mut values), "J");
        assert_eq!(values[0], 1.5e-6);
    }

    #[test]
    fn formatted_values_read_as_people_expect() {
        assert_eq!(EnergyFormatter.format_value(1.234e-6).trim(), "1.2340 µJ");
        assert_eq!(
            EnergyFormatter
                .format_throughput(&Throughput::Elements(10), 1.234e-6)
                .trim(),
            "123.40 nJ/elem"
        );
    }
}
