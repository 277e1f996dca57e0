//! The estimate: energy = the worker's own CPU time × a per-core power figure.
//!
//! Used where no counter can be read (VMs, hosted CI). It sees nothing but CPU time: not memory
//! traffic, not frequency, not vector width, not idle power. Two candidates that keep a core
//! equally busy for equally long get the same figure, however differently they load the chip.
//! That is why its results are always marked "estimated" and never compared with measured ones.
//! The default figure and its origin are documented in `docs/meters.md`.

use crate::energy::{
    Backend, Domain, DomainEnergy, DomainKind, Meter, MeterError, MeterInfo, Provenance, Scaling,
    Scope, Snapshot, Unavailable, Wrap, energies, monotonic_ns, process_cpu_ns,
};
use crate::units::Watts;

/// The id of the estimate's only domain.
pub const DOMAIN_ID: &str = "cpu-estimate";

/// The configuration default (`RunConfig::estimate_watts_per_core`), repeated for workers that
/// get a spec without a figure.
pub const DEFAULT_WATTS_PER_CORE: f64 = 10.0;

pub struct EstimateMeter {
    info: MeterInfo,
    scaling: [Scaling; 1],
}

impl EstimateMeter {
    pub fn new(watts_per_core: Watts) -> Result<EstimateMeter, Unavailable> {
        let w = watts_per_core.get();
        if !(w.is_finite() && w > 0.0) {
            return Err(Unavailable::new(
                Backend::Estimate,
                format!("the per-core power must be a positive number of watts, not {w}"),
            )
            .with_remedy("set `estimate_watts_per_core` (or `--estimate-watts`) to e.g. 10"));
        }
        let domain = Domain {
            id: DOMAIN_ID.into(),
            kind: DomainKind::Estimated,
            scope: Scope::Process,
            cpus: Vec::new(),
        };
        let info = MeterInfo::new(
            Backend::Estimate,
            Provenance::Estimated,
            vec![domain],
            Some(watts_per_core),
        )
        .expect("the estimate domain is always primary");
        Ok(EstimateMeter {
            info,
            scaling: [Scaling {
                joules_per_unit: w * 1e-9,
                wrap: Wrap::Never,
            }],
        })
    }
}

impl Meter for EstimateMeter {
    fn info(&self) -> &MeterInfo {
        &self.info
    }

    fn read(&mut self) -> Result<Snapshot, MeterError> {
        let cpu = process_cpu_ns();
        Ok(Snapshot {
            taken_ns: monotonic_ns(),
            raw: vec![cpu],
        })
    }

    fn energy_between(&self, a: &Snapshot, b: &Snapshot) -> Vec<DomainEnergy> {
        energies(&self.info.domains, &self.scaling, a, b)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn charges_cpu_time_times_watts() {
        let mut m = EstimateMeter::new(Watts(10.0)).unwrap();
        assert!(m.info().is_estimated());
        assert_eq!(m.info().primary, DOMAIN_ID);
        let a = m.read().unwrap();
        crate::energy::spin_on(None, Duration::from_millis(50));
        let b = m.read().unwrap();
        let cpu_s = (b.raw[0] - a.raw[0]) as f64 * 1e-9;
        let e = m.energy_between(&a, &b);
        assert_eq!(e.len(), 1);
        assert!(cpu_s > 0.0);
        assert!((e[0].energy.get() - 10.0 * cpu_s).abs() < 1e-12);
    }

    #[test]
    fn rejects_nonsense_power() {
        assert!(EstimateMeter::new(Watts(0.0)).is_err());
        assert!(EstimateMeter::new(Watts(f64::NAN)).is_err());
    }
}
