//! The worker's view of a meter: read right around each batch of calls.

use super::clock::process_cpu_ns;
use crate::energy::{Backend, DomainEnergy, MeterSpec};
use crate::units::{Joules, Watts};

pub trait WorkerMeter {
    fn start(&mut self) -> Result<(), String>;
    fn stop(&mut self) -> Result<Vec<DomainEnergy>, String>;
}

/// Interim: the estimate, charged from this process's CPU time.
struct Estimate {
    watts: Watts,
    at: u64,
}

impl WorkerMeter for Estimate {
    fn start(&mut self) -> Result<(), String> {
        self.at = process_cpu_ns();
        Ok(())
    }
    fn stop(&mut self) -> Result<Vec<DomainEnergy>, String> {
        let cpu = std::time::Duration::from_nanos(process_cpu_ns() - self.at);
        let energy: Joules = self.watts * cpu;
        Ok(vec![DomainEnergy {
            domain: "cpu-estimate".into(),
            energy,
        }])
    }
}

pub fn open_meter(spec: &MeterSpec) -> Result<Box<dyn WorkerMeter>, String> {
    match spec.backend {
        Backend::Estimate => Ok(Box::new(Estimate {
            watts: Watts(spec.estimate_watts_per_core.unwrap_or(10.0)),
            at: 0,
        })),
        other => Err(format!("meter {other:?} is not available in this build")),
    }
}
