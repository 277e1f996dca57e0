//! The orchestrator/worker protocol, version [`PROTOCOL_VERSION`].
//!
//! A worker is one process started from a [`Target`](crate::engine::Target)'s command line: a
//! bench binary with the argument [`WORKER_ARG`], or a language host (the Python host) with its
//! script and job file. The orchestrator writes [`Request`]s to the worker's stdin and reads
//! [`Response`]s from the file descriptor named by the environment variable [`PROTOCOL_FD_ENV`]
//! (3). Each message is one line of JSON. The worker's own stdout and stderr belong to the
//! candidate and are captured separately, so nothing a candidate prints can be mistaken for a
//! protocol message.
//!
//! A session: the worker sends [`Response::Hello`] (its version and, since v2, [`HostInfo`]); the
//! orchestrator checks the version and sends [`Request::Hello`] with its own, which the worker
//! checks in turn (answering `error` and exiting on a mismatch, silently going on otherwise);
//! then requests one at a time, each answered before the next is sent; [`Request::Shutdown`]
//! ends it. A worker that dies, goes silent past its deadline, or sends a line that does not
//! parse is a `protocol_error` unless its exit status explains it (signal, memory limit).
//!
//! Metering ([`Metering`]): a Rust worker opens the run's meter itself and reads it around each
//! batch. A host that announces `metering: orchestrator` never holds an energy counter: during a
//! `sample` it announces each batch with [`Response::WindowOpen`], waits for
//! [`Request::WindowGo`] (sent right after the orchestrator read its meter), runs the batch,
//! reports its clock readings in [`Response::WindowClosed`] and waits for [`Request::WindowAck`]
//! (sent right after the second meter reading).
//!
//! Verdicts ([`Response::Ran`]): a host that runs untrusted candidates in its own process is
//! judged by the orchestrator: it answers `check` with what each call returned, encoded as
//! tokens (`rust_source::compare::wire`), and the engine compares them with expected outputs
//! the host is never given (`crate::verdict`).
//!
//! The full description, with examples, is in `docs/protocol.md`. Compatibility: adding an
//! optional field is a minor change; anything else bumps [`PROTOCOL_VERSION`], and both sides
//! refuse a peer with another version.

use serde::{Deserialize, Serialize};

use crate::energy::{DomainEnergy, MeterSpec};
use crate::registry::CandidateDescriptor;
use crate::registry::{CaseInfo, CheckOutcome};
pub use crate::results::{CaseVerdict, HostInfo, Metering, VerdictKind};

pub const PROTOCOL_VERSION: u32 = 3;

/// The first argument that turns a bench binary into a worker.
pub const WORKER_ARG: &str = "--jouletrace-worker";

/// Names the file descriptor the worker writes its responses to.
pub const PROTOCOL_FD_ENV: &str = "JOULETRACE_PROTOCOL_FD";

/// The descriptor number the orchestrator uses for responses.
pub const PROTOCOL_FD: i32 = 3;

/// Set to `orchestrator` in a bench binary's worker environment, it makes the worker announce
/// `metering: orchestrator` and hold no meter: it opens each batch's window with
/// `window_open`/`window_go` and closes it with `window_closed`/`window_ack`, as a language host
/// does. Generated binaries of untrusted Rust source run this way, in the sandbox
/// (`rust_source`): their figures then come from the orchestrator's meter, never from the
/// candidate's process.
pub const METERING_ENV: &str = "JOULETRACE_METERING";

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "request", rename_all = "snake_case")]
pub enum Request {
    /// The orchestrator's version, sent once, first, in answer to the worker's hello. A worker of
    /// another version answers `error` and exits; one of the same version answers nothing.
    Hello {
        protocol: u32,
    },
    /// Describe every candidate this worker hosts.
    List,
    /// List the candidate's cases.
    Cases {
        candidate: String,
    },
    /// Run every case and compare the outputs (a bench binary), or report them for the
    /// orchestrator to compare (a host judged by the orchestrator answers [`Response::Ran`]).
    Check {
        candidate: String,
    },
    /// Make `case` ready for measured calls, and open the meter (outside any window). `meter` is
    /// `None` for a host that meters from the orchestrator: it never opens one.
    Prepare {
        candidate: String,
        case: String,
        meter: Option<MeterSpec>,
        /// Prepare an empty function of the candidate's arity on the same inputs instead, so that
        /// the calling loop's own cost can be measured with the same meter and subtracted
        /// (interpreted hosts; a Rust worker refuses it).
        #[serde(default, skip_serializing_if = "std::ops::Not::not")]
        overhead: bool,
    },
    /// Time growing batches of calls (no meter) until one lasts `target_ns`; answer the count.
    Calibrate {
        target_ns: u64,
        max_batch: u64,
    },
    /// One sample: `calls` calls in batches of at most `batch`, with the meter read around each batch.
    Sample {
        calls: u64,
        batch: u64,
    },
    /// Orchestrator metering: the meter has been read, run the batch now.
    WindowGo,
    /// Orchestrator metering: the meter has been read again, the window is closed.
    WindowAck,
    Shutdown,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "response", rename_all = "snake_case")]
pub enum Response {
    Hello {
        protocol: u32,
        pid: u32,
        /// What runs the candidates (absent from hosts that predate it: a Rust worker metering
        /// itself).
        #[serde(default)]
        host: Option<HostInfo>,
    },
    Candidates {
        candidates: Vec<CandidateDescriptor>,
    },
    Cases {
        cases: Vec<CaseInfo>,
    },
    /// Sent before each case of a check, so a crash or timeout can be attributed to it.
    CaseStarted {
        case: String,
    },
    Checked {
        outcome: CheckOutcome,
        /// Threads the candidate left running after its calls returned.
        stray_threads: u32,
        /// One verdict per case, from hosts that run every case (the outcome is then the first
        /// failure); absent from workers that stop at the first failure.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        verdicts: Option<Vec<CaseVerdict>>,
    },
    /// The answer to `check` of a host judged by the orchestrator (every Python host): what each
    /// case's call returned, or how it failed — never whether it was right. The orchestrator
    /// compares the outputs with expected outputs the host was never given.
    Ran {
        /// Threads the candidate left running after its calls returned.
        stray_threads: u32,
        cases: Vec<CaseRun>,
    },
    /// The case is ready; `input_bytes` estimates the memory one fresh input takes, so the
    /// orchestrator can bound batches.
    Prepared {
        input_bytes: u64,
    },
    Calibrated {
        calls: u64,
        elapsed_ns: u64,
    },
    Sampled(SampleReport),
    /// Orchestrator metering: the next batch's inputs are ready; read the meter and say go.
    WindowOpen,
    /// Orchestrator metering: the batch ran between these `CLOCK_MONOTONIC` readings.
    WindowClosed {
        start_ns: u64,
        end_ns: u64,
    },
    /// A request the worker could not carry out (unknown candidate, meter failed to open…).
    Error {
        message: String,
    },
}

/// How one case's call went, as a host judged by the orchestrator reports it: an `output`, or a
/// failure `kind` (`exception`, `syntax_error`… as in [`VerdictKind`]) and its `message`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct CaseRun {
    pub case: String,
    /// The returned value as tokens (`rust_source::compare::wire`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub output: Option<Vec<serde_json::Value>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kind: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
    /// A `custom` comparison's answer, which only the host can give (it runs in the
    /// candidate's language, in the candidate's process).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub validated: Option<bool>,
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
    /// Energy per domain inside the measured windows; empty without a meter, and empty from a
    /// host metered by the orchestrator, which fills it in.
    pub energy: Vec<DomainEnergy>,
    /// The time the energy covers: `measured_ns` for a worker that meters itself; with
    /// orchestrator metering, each window runs from one meter reading to the other and so also
    /// contains the two protocol messages around the batch. Idle power is subtracted over it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub metered_ns: Option<u64>,
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
            host: Some(HostInfo {
                language: "python".into(),
                version: "3.11.2".into(),
                executable: "/usr/bin/python3".into(),
                metering: Metering::Orchestrator,
            }),
        };
        assert_eq!(serde_json::from_str::<Response>(&h.to_line()).unwrap(), h);
    }

    #[test]
    fn v2_lines_as_a_host_in_another_language_writes_them() {
        let hello: Response = serde_json::from_str(
            r#"{"response":"hello","protocol":2,"pid":9,"host":{"language":"python",
                "version":"3.11.2","executable":"/usr/bin/python3","metering":"orchestrator"}}"#,
        )
        .unwrap();
        assert!(matches!(
            hello,
            Response::Hello {
                host: Some(HostInfo {
                    metering: Metering::Orchestrator,
                    ..
                }),
                ..
            }
        ));
        let bare: Response =
            serde_json::from_str(r#"{"response":"hello","protocol":1,"pid":9}"#).unwrap();
        assert_eq!(
            bare,
            Response::Hello {
                protocol: 1,
                pid: 9,
                host: None
            }
        );
        assert_eq!(
            serde_json::from_str::<Response>(
                r#"{"response":"window_closed","start_ns":5,"end_ns":8}"#
            )
            .unwrap(),
            Response::WindowClosed {
                start_ns: 5,
                end_ns: 8
            }
        );
        assert_eq!(Request::WindowGo.to_line(), "{\"request\":\"window_go\"}\n");
        assert_eq!(
            Request::Hello { protocol: 2 }.to_line(),
            "{\"request\":\"hello\",\"protocol\":2}\n"
        );
        let prepare = Request::Prepare {
            candidate: "p::c".into(),
            case: "a".into(),
            meter: None,
            overhead: false,
        };
        assert_eq!(
            prepare.to_line(),
            "{\"request\":\"prepare\",\"candidate\":\"p::c\",\"case\":\"a\",\"meter\":null}\n"
        );
        let checked: Response = serde_json::from_str(
            r#"{"response":"checked","stray_threads":0,
                "outcome":{"outcome":"wrong_answer","case":"t1","expected":"4","actual":"5",
                           "validator":false},
                "verdicts":[{"case":"t1","passed":false,"kind":"wrong_answer","expected":"4",
                             "actual":"5"},{"case":"t2","passed":true},
                            {"case":"t3","passed":false,"kind":"from_the_future"}]}"#,
        )
        .unwrap();
        let Response::Checked {
            verdicts: Some(v), ..
        } = checked
        else {
            panic!("{checked:?}")
        };
        assert_eq!(
            v.iter().map(|v| (v.passed, v.kind)).collect::<Vec<_>>(),
            [
                (false, Some(VerdictKind::WrongAnswer)),
                (true, None),
                (false, Some(VerdictKind::Other))
            ]
        );
        let sampled: Response = serde_json::from_str(
            r#"{"response":"sampled","calls":4,"window_start_ns":1,"window_end_ns":9,
                "measured_ns":8,"cpu_ns":0,"batches":2,"energy":[]}"#,
        )
        .unwrap();
        assert!(matches!(
            sampled,
            Response::Sampled(SampleReport {
                metered_ns: None,
                ..
            })
        ));
    }

    #[test]
    fn ran_lines_as_the_python_host_writes_them() {
        let ran: Response = serde_json::from_str(
            r#"{"response":"ran","stray_threads":0,"cases":[
                {"case":"t1","output":[["l",2],1,["i","354224848179261915075"]]},
                {"case":"t2","kind":"exception","message":"ZeroDivisionError: division by zero"},
                {"case":"t3","output":[true],"validated":false}]}"#,
        )
        .unwrap();
        let Response::Ran { cases, .. } = ran else {
            panic!("{ran:?}")
        };
        assert_eq!(cases.len(), 3);
        assert_eq!(cases[0].output.as_ref().unwrap().len(), 3);
        assert_eq!(cases[1].kind.as_deref(), Some("exception"));
        assert_eq!(cases[2].validated, Some(false));
        assert_eq!(
            serde_json::to_string(&cases[1]).unwrap(),
            r#"{"case":"t2","kind":"exception","message":"ZeroDivisionError: division by zero"}"#
        );
    }
}
