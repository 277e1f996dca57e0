//! The criterion `Measurement`: two meter snapshots per sample, the primary domains' joules
//! between them.

use std::sync::{Mutex, Once, PoisonError};

use ::criterion::measurement::{Measurement, ValueFormatter};

use super::EnergyFormatter;
use crate::config::{ConfigError, Layer, MeterChoice, layered};
use crate::energy::{self, Meter, MeterInfo, Selection, Snapshot, Unavailable};
use crate::sysfs::Sysfs;
use crate::units::{Joules, Watts};

/// Why the measurement could not be set up.
#[derive(Debug, thiserror::Error)]
pub enum SetupError {
    /// A `JOULETRACE_METER` or `JOULETRACE_ESTIMATE_WATTS_PER_CORE` variable held a bad value.
    #[error(transparent)]
    Config(#[from] ConfigError),
    /// The forced meter (or, with `auto`, even the estimate) cannot be used here.
    #[error("{0}; `cargo joule doctor` shows what this machine offers")]
    Meter(#[from] Unavailable),
}

/// Energy in joules per criterion sample, from JouleTrace's meter, read in this process.
///
/// `start` and `end` each read the meter; the value is the energy of the meter's primary
/// domains between the two readings (all packages for package RAPL: the benchmark thread is
/// not pinned, so it may run on any of them). Only domains of one kind are added, and those
/// never overlap. See the [module documentation](super) for what criterion does not do.
pub struct JouleMeasurement {
    /// `Meter::read` needs `&mut`; criterion's `start`/`end` take `&self`.
    meter: Mutex<Box<dyn Meter>>,
    info: MeterInfo,
    /// Indices into the meter's domains of the primary kind.
    primary: Vec<usize>,
    /// Printed once, at the first measurement.
    note: String,
    noted: Once,
}

impl JouleMeasurement {
    /// The meter `cargo joule` would choose here: `JOULETRACE_METER` (default `auto`: perf,
    /// then powercap, then the estimate), `JOULETRACE_ESTIMATE_WATTS_PER_CORE` (default 10)
    /// and `JOULETRACE_SYSFS_ROOT` (default `/sys`) are honoured.
    pub fn new() -> Result<JouleMeasurement, SetupError> {
        let config = layered(&[&Layer::from_env(std::env::vars())?])?;
        JouleMeasurement::with_meter(config.meter, Watts(config.estimate_watts_per_core))
    }

    /// A given meter choice; the environment's `JOULETRACE_SYSFS_ROOT` is still honoured.
    pub fn with_meter(
        choice: MeterChoice,
        estimate_watts_per_core: Watts,
    ) -> Result<JouleMeasurement, SetupError> {
        let sys = Sysfs::from_env();
        let selection = energy::select(choice, sys.root(), estimate_watts_per_core.get())?;
        let meter = energy::open(&selection.spec)?;
        Ok(JouleMeasurement::from_meter(meter, &selection))
    }

    /// An already open meter, with the selection that chose it (its warnings go into the note).
    pub fn from_meter(meter: Box<dyn Meter>, selection: &Selection) -> JouleMeasurement {
        let info = meter.info().clone();
        let primary = info
            .domains
            .iter()
            .enumerate()
            .filter(|(_, d)| d.kind == info.primary_kind)
            .map(|(i, _)| i)
            .collect();
        let note = note_for(&info, &selection.warnings);
        JouleMeasurement {
            meter: Mutex::new(meter),
            info,
            primary,
            note,
            noted: Once::new(),
        }
    }

    /// The meter in use: backend, measured or estimated, domains.
    pub fn info(&self) -> &MeterInfo {
        &self.info
    }

    /// What is printed on stderr before the first measurement.
    pub fn note(&self) -> &str {
        &self.note
    }

    fn read(&self) -> Snapshot {
        let mut meter = self.meter.lock().unwrap_or_else(PoisonError::into_inner);
        match meter.read() {
            Ok(s) => s,
            // criterion's `Measurement` has no error channel, and a made-up value (0 J) would
            // be a lie in the report: stop the benchmark with the meter's own explanation.
            Err(e) => panic!("jouletrace::criterion: the energy meter failed: {e}"),
        }
    }
}

/// The one-time stderr note: the meter, the limits of measuring inside criterion, and the
/// selection's warnings (which say ESTIMATED and why, when it fell back to the estimate).
fn note_for(info: &MeterInfo, warnings: &[String]) -> String {
    let domains: Vec<&str> = info.primary_domains().map(|d| d.id.as_str()).collect();
    let mut note = format!(
        "jouletrace::criterion: energy per iteration from the {} meter (domain {}), {}.\n\
         jouletrace::criterion: criterion runs in-process: no correctness gate, no isolation \
         or pinning, no domain-aware scheduling and no idle subtraction (the figures are gross); \
         it plans iterations by wall time. `cargo joule` does all of these.\n",
        info.backend,
        domains.join(" + "),
        if info.is_estimated() {
            "ESTIMATED, not measured"
        } else {
            "measured"
        },
    );
    if info.is_estimated() {
        let watts = info.estimate_watts_per_core.map_or(
            format!("{} W", energy::estimate::DEFAULT_WATTS_PER_CORE),
            |w| format!("{} W", w.get()),
        );
        note.push_str(&format!(
            "jouletrace::criterion: these numbers are ESTIMATED: this process's CPU time × \
             {watts} per core. They rank code by CPU time, not by energy.\n"
        ));
    }
    for w in warnings {
        note.push_str(&format!("warning: {w}\n"));
    }
    note
}

impl Measurement for JouleMeasurement {
    type Intermediate = Snapshot;
    type Value = Joules;

    fn start(&self) -> Snapshot {
        self.noted.call_once(|| eprint!("{}", self.note));
        self.read()
    }

    fn end(&self, start: Snapshot) -> Joules {
        let end = self.read();
        let meter = self.meter.lock().unwrap_or_else(PoisonError::into_inner);
        let per_domain = meter.energy_between(&start, &end);
        self.primary
            .iter()
            .filter_map(|&i| per_domain.get(i))
            .map(|e| e.energy)
            .sum()
    }

    fn add(&self, v1: &Joules, v2: &Joules) -> Joules {
        *v1 + *v2
    }

    fn zero(&self) -> Joules {
        Joules::ZERO
    }

    fn to_f64(&self, value: &Joules) -> f64 {
        value.get()
    }

    fn formatter(&self) -> &dyn ValueFormatter {
        &EnergyFormatter
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::energy::{
        Backend, Domain, DomainEnergy, DomainKind, MeterError, MeterSpec, Provenance, Scope,
    };

    /// A two-package machine whose counters advance by fixed steps per reading: package-0 by
    /// 1 J, package-1 by 2 J, cores-0 (inside package-0) by 0.5 J.
    struct Stepping {
        info: MeterInfo,
        reads: u64,
    }

    fn domain(id: &str, kind: DomainKind, package: u32) -> Domain {
        Domain {
            id: id.into(),
            kind,
            scope: Scope::Package { package },
            cpus: vec![package],
        }
    }

    impl Stepping {
        fn new(provenance: Provenance) -> Stepping {
            let info = MeterInfo::new(
                Backend::Powercap,
                provenance,
                vec![
                    domain("package-0", DomainKind::Package, 0),
                    domain("cores-0", DomainKind::Cores, 0),
                    domain("package-1", DomainKind::Package, 1),
                ],
                None,
            )
            .unwrap();
            Stepping { info, reads: 0 }
        }
    }

    impl Meter for Stepping {
        fn info(&self) -> &MeterInfo {
            &self.info
        }
        fn read(&mut self) -> Result<Snapshot, MeterError> {
            self.reads += 1;
            let n = self.reads;
            Ok(Snapshot {
                taken_ns: n,
                raw: vec![2 * n, n, 4 * n],
            })
        }
        fn energy_between(&self, a: &Snapshot, b: &Snapshot) -> Vec<DomainEnergy> {
            self.info
                .domains
                .iter()
                .zip(a.raw.iter().zip(&b.raw))
                .map(|(d, (x, y))| DomainEnergy {
                    domain: d.id.clone(),
                    energy: Joules((y - x) as f64 * 0.5),
                })
                .collect()
        }
    }

    fn selection(info: &MeterInfo, warnings: Vec<String>) -> Selection {
        Selection {
            spec: MeterSpec {
                backend: info.backend,
                sysfs_root: "/sys".into(),
                domains: Vec::new(),
                estimate_watts_per_core: None,
            },
            info: info.clone(),
            rejected: Vec::new(),
            warnings,
        }
    }

    #[test]
    fn a_sample_is_the_sum_of_the_primary_domains_only() {
        let meter = Stepping::new(Provenance::Measured);
        let sel = selection(&meter.info, Vec::new());
        let m = JouleMeasurement::from_meter(Box::new(meter), &sel);
        let a = m.start();
        let e = m.end(a);
        // One reading apart: package-0 1 J + package-1 2 J; cores-0 (0.5 J) is inside
        // package-0 and must not be added.
        assert_eq!(e, Joules(3.0));
        assert_eq!(m.add(&e, &Joules(1.0)), Joules(4.0));
        assert_eq!(m.to_f64(&m.zero()), 0.0);
    }

    #[test]
    fn the_note_names_the_meter_and_the_limits() {
        let meter = Stepping::new(Provenance::Measured);
        let sel = selection(&meter.info, Vec::new());
        let m = JouleMeasurement::from_meter(Box::new(meter), &sel);
        let note = m.note();
        assert!(note.contains("powercap meter (domain package-0 + package-1), measured"));
        for limit in [
            "no correctness gate",
            "no isolation",
            "no domain-aware scheduling",
            "wall time",
        ] {
            assert!(note.contains(limit), "{limit}: {note}");
        }
        assert!(!note.contains("ESTIMATED"), "{note}");
    }

    #[test]
    fn an_estimate_says_so_in_capitals() {
        let meter = energy::estimate::EstimateMeter::new(Watts(7.0)).unwrap();
        let info = meter.info().clone();
        let sel = selection(&info, vec!["no energy counter can be read here".into()]);
        let m = JouleMeasurement::from_meter(Box::new(meter), &sel);
        assert!(m.info().is_estimated());
        let note = m.note();
        assert!(note.contains("ESTIMATED, not measured"), "{note}");
        assert!(note.contains("CPU time × 7 W per core"), "{note}");
        assert!(note.contains("warning: no energy counter"), "{note}");
        // The estimate advances with this process's CPU time.
        let a = m.start();
        energy::spin_on(None, std::time::Duration::from_millis(20));
        assert!(m.end(a).get() > 0.0);
    }

    #[test]
    fn forcing_the_estimate_works_on_any_machine() {
        let m = JouleMeasurement::with_meter(MeterChoice::Forced(Backend::Estimate), Watts(10.0))
            .unwrap();
        assert_eq!(m.info().backend, Backend::Estimate);
        assert!(m.note().contains("ESTIMATED"));
    }

    #[test]
    fn a_nonsense_estimate_power_is_an_error_with_a_remedy() {
        let err = JouleMeasurement::with_meter(MeterChoice::Forced(Backend::Estimate), Watts(0.0))
            .err()
            .unwrap();
        let text = err.to_string();
        assert!(text.contains("estimate meter unavailable"), "{text}");
        assert!(text.contains("cargo joule doctor"), "{text}");
    }
}
