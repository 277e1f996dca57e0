//! Choosing the run's meter, once, in the orchestrator.
//!
//! Automatic choice tries perf, then powercap, and falls back to the estimate with a warning
//! that names `cargo joule doctor`. A measured backend counts only if its counter opens *and*
//! advances over a short busy probe. A forced backend that is unavailable is an error (the CLI
//! exits with status 2).

use std::path::Path;
use std::time::Duration;

use crate::energy::{
    Backend, Meter, MeterChoice, MeterInfo, MeterSpec, Provenance, Unavailable, estimate, msr,
    nvml, perf, powercap, probe_advances,
};
use crate::sysfs::Sysfs;
use crate::units::Watts;

/// How long the busy probe spins: far above RAPL's ~1 ms update interval, short enough to
/// go unnoticed once per run.
pub const PROBE_TIME: Duration = Duration::from_millis(80);

/// The run's meter.
#[derive(Clone, Debug, PartialEq)]
pub struct Selection {
    /// What workers pass to [`open`](crate::energy::open).
    pub spec: MeterSpec,
    pub info: MeterInfo,
    /// Backends tried before this one, with why they were not used.
    pub rejected: Vec<Unavailable>,
    pub warnings: Vec<String>,
}

/// Opens one backend against a sysfs root, for selection or diagnosis.
pub fn open_backend(
    backend: Backend,
    sys: &Sysfs,
    estimate_watts_per_core: f64,
) -> Result<Box<dyn Meter>, Unavailable> {
    Ok(match backend {
        Backend::Perf => Box::new(perf::PerfMeter::open(sys, &[])?),
        Backend::Powercap => Box::new(powercap::PowercapMeter::open(sys, &[])?),
        Backend::Msr => Box::new(msr::MsrMeter::open(sys, &msr::dev_root(), &[])?),
        Backend::Estimate => Box::new(estimate::EstimateMeter::new(Watts(
            estimate_watts_per_core,
        ))?),
        Backend::Nvml => nvml::open(&[])?,
    })
}

/// Chooses and probes the run's meter on the machine `sysfs_root` describes.
pub fn select(
    choice: MeterChoice,
    sysfs_root: &Path,
    estimate_watts_per_core: f64,
) -> Result<Selection, Unavailable> {
    let sys = Sysfs::new(sysfs_root);
    select_with(
        choice,
        sysfs_root,
        estimate_watts_per_core,
        PROBE_TIME,
        &mut |b| open_backend(b, &sys, estimate_watts_per_core),
    )
}

/// [`select`] over any way of opening backends (tests substitute simulated meters).
pub fn select_with(
    choice: MeterChoice,
    sysfs_root: &Path,
    estimate_watts_per_core: f64,
    probe_time: Duration,
    opener: &mut dyn FnMut(Backend) -> Result<Box<dyn Meter>, Unavailable>,
) -> Result<Selection, Unavailable> {
    let mut try_one = |backend: Backend| -> Result<MeterInfo, Unavailable> {
        let mut meter = opener(backend)?;
        if meter.info().provenance == Provenance::Measured {
            probe_advances(meter.as_mut(), probe_time)?;
        }
        Ok(meter.info().clone())
    };
    let spec_for = |info: &MeterInfo| MeterSpec {
        backend: info.backend,
        sysfs_root: sysfs_root.to_owned(),
        domains: info.domains.iter().map(|d| d.id.clone()).collect(),
        estimate_watts_per_core: info.is_estimated().then_some(estimate_watts_per_core),
    };

    match choice {
        MeterChoice::Forced(backend) => {
            let info = try_one(backend)?;
            let mut warnings = Vec::new();
            if info.is_estimated() {
                warnings.push(estimate_note(estimate_watts_per_core));
            }
            Ok(Selection {
                spec: spec_for(&info),
                info,
                rejected: Vec::new(),
                warnings,
            })
        }
        MeterChoice::Auto => {
            let mut rejected = Vec::new();
            for backend in [Backend::Perf, Backend::Powercap] {
                match try_one(backend) {
                    Ok(info) => {
                        return Ok(Selection {
                            spec: spec_for(&info),
                            info,
                            rejected,
                            warnings: Vec::new(),
                        });
                    }
                    Err(u) => rejected.push(u),
                }
            }
            let info = try_one(Backend::Estimate)?;
            // One short line, printed once per run: why each meter was refused is in the
            // results (`meter.rejected`) and in `cargo joule doctor`, not repeated here.
            let warnings = vec![format!(
                "no energy counter can be read here: energy is ESTIMATED from CPU time × \
                 {estimate_watts_per_core} W per busy core, not measured (`cargo joule doctor` \
                 says why)"
            )];
            Ok(Selection {
                spec: spec_for(&info),
                info,
                rejected,
                warnings,
            })
        }
    }
}

fn estimate_note(watts: f64) -> String {
    format!(
        "energy is ESTIMATED from CPU time × {watts} W per busy core, not measured: compare \
         candidates within this run only"
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::energy::perf::{CounterSource, PerfMeter, PlannedCounter};
    use crate::energy::{Domain, DomainKind, Scope};

    struct Stuck;
    impl CounterSource for Stuck {
        fn read(&mut self) -> std::io::Result<u64> {
            Ok(0)
        }
    }

    fn stuck_perf() -> Result<Box<dyn Meter>, Unavailable> {
        let plan = PlannedCounter {
            domain: Domain {
                id: "psys".into(),
                kind: DomainKind::Psys,
                scope: Scope::System,
                cpus: vec![],
            },
            pmu: "power".into(),
            event: "energy-psys".into(),
            cpu: 0,
            scale: 2.3e-10,
        };
        Ok(Box::new(PerfMeter::from_sources(vec![(
            plan,
            Box::new(Stuck),
        )])?))
    }

    fn opener(b: Backend) -> Result<Box<dyn Meter>, Unavailable> {
        match b {
            // What this machine kind's sibling does: the PMU opens and reads 0.
            Backend::Perf => stuck_perf(),
            Backend::Estimate => Ok(Box::new(estimate::EstimateMeter::new(Watts(10.0))?)),
            other => Err(Unavailable::new(other, "not here")),
        }
    }

    #[test]
    fn auto_falls_back_to_the_estimate_and_warns() {
        let sel = select_with(
            MeterChoice::Auto,
            Path::new("/sys"),
            10.0,
            Duration::from_millis(10),
            &mut opener,
        )
        .unwrap();
        assert_eq!(sel.info.backend, Backend::Estimate);
        assert_eq!(sel.spec.estimate_watts_per_core, Some(10.0));
        assert_eq!(sel.spec.domains, vec!["cpu-estimate".to_string()]);
        assert_eq!(sel.rejected.len(), 2);
        assert!(sel.rejected[0].reason.contains("did not advance"));
        assert!(sel.warnings[0].contains("cargo joule doctor"));
        assert!(sel.warnings[0].contains("ESTIMATED"));
        // Issue 12: short, one line; the reasons live in `rejected` and in the doctor.
        assert_eq!(sel.warnings.len(), 1);
        assert!(
            !sel.warnings[0].contains("did not advance"),
            "{}",
            sel.warnings[0]
        );
        assert!(
            sel.warnings[0].chars().count() <= 140,
            "{}",
            sel.warnings[0]
        );
        let record = crate::results::MeterRecord::of(&sel);
        assert!(record.estimated);
        assert_eq!(record.primary_domain, "cpu-estimate");
        assert_eq!(record.rejected.len(), 2);
    }

    #[test]
    fn a_forced_backend_that_does_not_advance_is_an_error() {
        let err = select_with(
            MeterChoice::Forced(Backend::Perf),
            Path::new("/sys"),
            10.0,
            Duration::from_millis(10),
            &mut opener,
        )
        .unwrap_err();
        assert_eq!(err.backend, Backend::Perf);
        assert!(err.reason.contains("did not advance"));
    }

    #[test]
    fn this_machine_selects_something_honest() {
        let sel = select(MeterChoice::Auto, Path::new("/sys"), 10.0).unwrap();
        if sel.info.is_estimated() {
            assert!(!sel.warnings.is_empty());
            assert!(sel.rejected.iter().any(|u| u.backend == Backend::Perf));
        }
        let forced = select(
            MeterChoice::Forced(Backend::Estimate),
            Path::new("/sys"),
            10.0,
        );
        assert_eq!(forced.unwrap().info.backend, Backend::Estimate);
    }
}
