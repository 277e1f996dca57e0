//! The orchestrator/worker protocol, version [`PROTOCOL_VERSION`].
//!
//! A worker is the bench binary itself, started with the argument [`WORKER_ARG`]. The orchestrator
//! writes [`Request`]s to the worker's stdin and reads [`Response`]s from the file descriptor named
//! by the environment variable [`PROTOCOL_FD_ENV`] (3). Each message is one line of JSON. The
//! worker's own stdout and stderr belong to the candidate and are captured separately, so nothing
//! a candidate prints can be mistaken for a protocol message.
//!
//! A session: the worker sends [`Response::Hello`]; the orchestrator checks the version and sends
//! requests one at a time, each answered before the next is sent; [`Request::Shutdown`] ends it.
//! A worker that dies, goes silent past its deadline, or sends a line that does not parse is a
//! `protocol_error` unless its exit status explains it (signal, memory limit).
//!
//! The full description, with examples, is in `docs/protocol.md`. Compatibility: adding an
//! optional field is a minor change; anything else bumps [`PROTOCOL_VERSION`], and both sides
//! refuse a peer with another version.

use serde::{Deserialize, Serialize};

use crate::energy::{DomainEnergy, MeterSpec};
use crate::engine::CandidateDescriptor;
use crate::registry::{CaseInfo, CheckOutcome};

pub const PROTOCOL_VERSION: u32 = 1;

/// The first argument that turns a bench binary into a worker.
pub const WORKER_ARG: &str = "--jouletrace-worker";

/// Names the file descriptor the worker writes its responses to.
pub const PROTOCOL_FD_ENV: &str = "JOULETRACE_PROTOCOL_FD";

/// The descriptor number the orchestrator uses for responses.
pub const PROTOCOL_FD: i32 = 3;

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "request", rename_all = "snake_case")]
pub enum Request {
    /// Describe every candidate this binary registered.
    List,
    /// List the candidate's cases.
    Cases { candidate: String },
    /// Run every case and compare the outputs.
    Check { candidate: String },
    /// Make `case` ready for measured calls, and open the meter (outside any window).
    Prepare {
        candidate: String,
        case: String,
        meter: Option<MeterSpec>,
    },
    /// Time growing batches of calls (no meter) until one lasts `target_ns`; answer the count.
    Calibrate { target_ns: u64, max_batch: u64 },
    /// One sample: `calls` calls in batches of at most `batch`, with the meter read around each batch.
    Sample { calls: u64, batch: u64 },
    Shutdown,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "response", rename_all = "snake_case")]
pub enum Response {
    Hello { protocol: u32, pid: u32 },
    Candidates { candidates: Vec<CandidateDescriptor> },
    Cases { cases: Vec<CaseInfo> },
    /// Sent before each case of a check, so a crash or timeout can be attributed to it.
    CaseStarted { case: String },
    Checked {
        outcome: CheckOutcome,
        /// Threads the candidate left running after its calls returned.
        stray_threads: u32,
    },
    Prepared,
    Calibrated { calls: u64, elapsed_ns: u64 },
    Sampled(SampleReport),
    /// A request the worker could not carry out (unknown candidate, meter failed to open…).
    Error { message: String },
}

/// What the worker measured for one sample. Times are `CLOCK_MONOTONIC` nanoseconds, a clock the
/// orchestrator shares, so windows from different workers can be compared.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SampleReport {
    pub calls: u64,
    /// Start of the first measured window.
    pub window_start_ns: u64,
    /// End of the last measured window.
    pub window_end_ns: u64,
    /// Sum of the measured windows' lengths (batches leave gaps for cloning inputs).
    pub measured_ns: u64,
    /// The worker's CPU time inside the measured windows.
    pub cpu_ns: u64,
    pub batches: u32,
    /// Energy per domain inside the measured windows; empty without a meter.
    pub energy: Vec<DomainEnergy>,
}

impl Request {
    pub fn to_line(&self) -> String {
        let mut s = serde_json::to_string(self).expect("requests always serialize");
        s.push('\n');
        s
    }
}

impl Response {
    pub fn to_line(&self) -> String {
        let mut s = serde_json::to_string(self).expect("responses always serialize");
        s.push('\n');
        s
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_round_trip_as_tagged_lines() {
        let r = Request::Sample {
            calls: 10,
            batch: 5,
        };
        let line = r.to_line();
        assert_eq!(line, "{\"request\":\"sample\",\"calls\":10,\"batch\":5}\n");
        assert_eq!(serde_json::from_str::<Request>(&line).unwrap(), r);
        let h = Response::Hello {
            protocol: PROTOCOL_VERSION,
            pid: 7,
        };
        assert_eq!(serde_json::from_str::<Response>(&h.to_line()).unwrap(), h);
    }
}
