//! What the engine tells as it works: one serde [`Event`] type for every listener (terminal
//! progress bars, `cargo joule --message-format json`, a job service's event stream), so that
//! each consumer renders the same facts and none invents its own shape.
//!
//! Serialized, an event is an object tagged by `"event"`:
//! `{"event":"check_finished","candidate":"sort::std","record":{…}}`. Field meanings and units
//! are the results schema's (`docs/results-schema.md`); times are seconds since the run's
//! `monotonic_origin_ns`.

use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use crate::results::{
    BaselineComparison, CaseMeasurement, CheckRecord, IdleRecord, LockMode, Sample,
};

/// Something that happened in a run, or (for the last two) in the program hosting it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "event", rename_all = "snake_case")]
pub enum Event {
    /// The run's shape, once its candidates are known.
    Plan {
        candidates: usize,
        measured_cases: usize,
    },
    /// Something the user must see: the estimate meter is in use, a binary was skipped…
    Note {
        message: String,
    },
    /// Something went wrong that does not stop the run (a report could not be written…).
    Warning {
        message: String,
    },
    /// Another JouleTrace run holds the machine's lock; this run waits for it.
    LockWaiting {
        path: String,
        mode: LockMode,
    },
    LockAcquired {
        mode: LockMode,
        waited_s: f64,
    },
    CheckStarted {
        candidate: String,
    },
    CheckFinished {
        candidate: String,
        record: Box<CheckRecord>,
    },
    IdleMeasured {
        record: IdleRecord,
    },
    MeasureStarted {
        candidate: String,
        case: String,
        /// Warm-up plus minimum samples; more may follow until the interval is narrow enough.
        planned: u32,
    },
    Sample {
        candidate: String,
        case: String,
        sample: Box<Sample>,
        /// Samples so far of this measurement, warm-up included.
        done: u32,
    },
    MeasureFinished {
        candidate: String,
        case: String,
        measurement: Box<CaseMeasurement>,
    },
    /// A candidate a run would take (`cargo joule list`).
    Candidate {
        id: String,
        binary: String,
        /// Marked `ignore`, and the run would not include ignored candidates: not run.
        #[serde(default)]
        ignored: bool,
    },
    /// The run compared with a baseline.
    BaselineComparison {
        comparison: Box<BaselineComparison>,
    },
    /// The engine is done; the results follow from the caller.
    RunFinished {
        complete: bool,
        candidates: usize,
        failed: usize,
    },
    /// The results were written and judged (emitted by `cargo joule`, a job service…).
    Finished {
        results: Option<PathBuf>,
        exit_code: i32,
    },
}

/// Hears what the engine does, as it happens. Implemented for any `FnMut(&Event)`.
pub trait Observer {
    fn event(&mut self, event: &Event);
}

impl<F: FnMut(&Event)> Observer for F {
    fn event(&mut self, event: &Event) {
        self(event)
    }
}

/// Hears nothing.
pub struct NullObserver;

impl Observer for NullObserver {
    fn event(&mut self, _event: &Event) {}
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn events_are_tagged_objects_that_read_back() {
        let e = Event::Plan {
            candidates: 3,
            measured_cases: 2,
        };
        let json = serde_json::to_value(&e).unwrap();
        assert_eq!(
            json,
            serde_json::json!({"event": "plan", "candidates": 3, "measured_cases": 2})
        );
        assert_eq!(serde_json::from_value::<Event>(json).unwrap(), e);
        let w = serde_json::to_value(Event::LockWaiting {
            path: "/tmp/l".into(),
            mode: LockMode::Exclusive,
        })
        .unwrap();
        assert_eq!(w["event"], "lock_waiting");
        assert_eq!(w["mode"], "exclusive");
    }
}
