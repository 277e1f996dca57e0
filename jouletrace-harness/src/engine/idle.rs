//! Idle power per domain: measured with every worker quiet, and subtracted from each sample's
//! gross energy in proportion to the sample's measured time.

use std::sync::Mutex;

use crate::results::IdleRecord;
use crate::units::Watts;

#[derive(Default)]
pub struct IdleTable {
    records: Mutex<Vec<IdleRecord>>,
}

impl IdleTable {
    /// The latest idle power of `domain`; `None` when the meter has no idle share (the estimate)
    /// or it was not measured.
    pub fn power(&self, domain: &str) -> Option<Watts> {
        self.records
            .lock()
            .expect("idle table")
            .iter()
            .rev()
            .find(|r| r.domain == domain)
            .map(|r| r.power)
    }

    pub fn push(&self, record: IdleRecord) {
        self.records.lock().expect("idle table").push(record);
    }

    pub fn all(&self) -> Vec<IdleRecord> {
        self.records.lock().expect("idle table").clone()
    }
}
