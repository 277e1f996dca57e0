//! The worker's view of a meter: read right around each batch of calls.

use crate::energy::{self, DomainEnergy, Meter, MeterSpec, Snapshot};

pub struct WorkerMeter {
    meter: Box<dyn Meter>,
    start: Option<Snapshot>,
}

impl WorkerMeter {
    pub fn open(spec: &MeterSpec) -> Result<WorkerMeter, String> {
        let meter = energy::open(spec).map_err(|u| {
            format!(
                "meter {} unavailable in the worker: {}",
                u.backend, u.reason
            )
        })?;
        Ok(WorkerMeter { meter, start: None })
    }

    pub fn start(&mut self) -> Result<(), String> {
        self.start = Some(self.meter.read().map_err(|e| e.to_string())?);
        Ok(())
    }

    pub fn stop(&mut self) -> Result<Vec<DomainEnergy>, String> {
        let end = self.meter.read().map_err(|e| e.to_string())?;
        let start = self
            .start
            .take()
            .ok_or_else(|| "meter stopped before it started".to_owned())?;
        Ok(self.meter.energy_between(&start, &end))
    }
}
