use crate::results::{CaseMeasurement, CheckRecord, IdleRecord, RunResults, Sample};

/// Hears what the engine does, as it happens: progress bars, logs, a job API's event stream.
/// Every method has an empty default.
pub trait Observer {
    /// The run's shape, once known.
    fn plan(&mut self, _candidates: usize, _measured_cases: usize) {}
    /// Something the user must see: the estimate meter is in use, waiting for the lock…
    fn note(&mut self, _message: &str) {}
    fn check_started(&mut self, _candidate: &str) {}
    fn check_finished(&mut self, _candidate: &str, _record: &CheckRecord) {}
    fn idle_measured(&mut self, _record: &IdleRecord) {}
    fn measure_started(&mut self, _candidate: &str, _case: &str, _planned_samples: u32) {}
    fn sample_done(&mut self, _candidate: &str, _case: &str, _sample: &Sample, _done: u32) {}
    fn measure_finished(&mut self, _candidate: &str, _case: &str, _m: &CaseMeasurement) {}
    fn finished(&mut self, _results: &RunResults) {}
}

/// Hears nothing.
pub struct NullObserver;

impl Observer for NullObserver {}
