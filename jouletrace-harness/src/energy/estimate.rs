//! The estimate: energy = the worker's own CPU time × a per-core power figure.
//!
//! Used where no counter can be read (VMs, hosted CI). It sees nothing but CPU time: not memory
//! traffic, not frequency, not vector width, not idle power. Two candidates that keep a core
//! equally busy for equally long get the same figure, however differently they load the chip.
//! That is why its results are always marked "estimated" and never compared with measured ones.
//! The default figure and its origin are documented in `docs/meters.md`.

use crate::energy::{
    Backend, Domain, DomainEnergy, DomainKind, Meter, MeterError, MeterInfo, Provenance, Scaling,
    Scope, Snapshot, Unavailable, Wrap, energies, monotonic_ns, process_cpu_ns, process_cpu_ns_of,
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
    /// Whose CPU time is charged: this process (a worker metering itself), or a worker the
    /// orchestrator meters from outside.
    process: Option<u32>,
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
            process: None,
        })
    }

    /// The estimate of another process's energy: its CPU time (read through its CPU-time clock,
    /// from outside) × the per-core power. Fails when the process cannot be seen.
    pub fn of_process(watts_per_core: Watts, pid: u32) -> Result<EstimateMeter, Unavailable> {
        process_cpu_ns_of(pid).map_err(|e| {
            Unavailable::new(
                Backend::Estimate,
                format!("cannot read the CPU time of worker {pid}: {e}"),
            )
        })?;
        Ok(EstimateMeter {
            process: Some(pid),
            ..EstimateMeter::new(watts_per_core)?
        })
    }
}

/// The CPU time, in nanoseconds, that a reading of an estimate meter took: its one raw value is
/// the measured process's CPU clock. A caller that also records that CPU time (the orchestrator
/// metering a host from outside) takes it from here rather than reading the clock again, so that
/// the energy is exactly the recorded CPU time × watts.
pub fn cpu_ns(snapshot: &Snapshot) -> u64 {
    snapshot.raw[0]
}

impl Meter for EstimateMeter {
    fn info(&self) -> &MeterInfo {
        &self.info
    }

    fn read(&mut self) -> Result<Snapshot, MeterError> {
        let cpu = match self.process {
            None => process_cpu_ns(),
            Some(pid) => process_cpu_ns_of(pid).map_err(|source| MeterError::Read {
                backend: Backend::Estimate,
                domain: DOMAIN_ID.into(),
                source_name: format!("the CPU-time clock of process {pid}"),
                source,
            })?,
        };
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
    fn charges_another_process_cpu_time_read_from_outside() {
        let mut child = std::process::Command::new("sh")
            .args(["-c", "while :; do :; done"])
            .spawn()
            .unwrap();
        let mut m = EstimateMeter::of_process(Watts(10.0), child.id()).unwrap();
        let a = m.read().unwrap();
        std::thread::sleep(Duration::from_millis(100));
        let b = m.read().unwrap();
        child.kill().unwrap();
        child.wait().unwrap();
        assert!(b.raw[0] > a.raw[0], "the child's CPU time advanced");
        let e = m.energy_between(&a, &b)[0].energy.get();
        assert!((e - 10.0 * (b.raw[0] - a.raw[0]) as f64 * 1e-9).abs() < 1e-12);
        assert!(
            m.read().is_err(),
            "a reaped process's clock cannot be read: an error, never 0 J"
        );
        assert!(EstimateMeter::of_process(Watts(10.0), child.id()).is_err());
    }

    #[test]
    fn rejects_nonsense_power() {
        assert!(EstimateMeter::new(Watts(0.0)).is_err());
        assert!(EstimateMeter::new(Watts(f64::NAN)).is_err());
    }
}
