//! The worker side of the protocol: what a bench binary does when started with
//! [`WORKER_ARG`](crate::protocol::WORKER_ARG).

use std::fs::File;
use std::io::{BufRead, BufWriter, Write};
use std::os::fd::FromRawFd;

use super::meter::WorkerMeter;
use crate::energy::{DomainEnergy, add_energies, monotonic_ns, process_cpu_ns};
use crate::protocol::{
    HostInfo, METERING_ENV, Metering, PROTOCOL_FD, PROTOCOL_FD_ENV, PROTOCOL_VERSION, Request,
    Response, SampleReport,
};
use crate::registry::CandidateDescriptor;
use crate::registry::{CheckEvent, PreparedCase, Registry, WindowHooks};

/// The memory probe clones at most this many inputs, and stops early past this many bytes.
const PROBE_INPUTS: u64 = 64;
const PROBE_BYTES: u64 = 64 << 20;

struct Channel(BufWriter<File>);

impl Channel {
    fn send(&mut self, r: &Response) {
        // If the orchestrator is gone there is no one to tell; exit quietly.
        if self
            .0
            .write_all(r.to_line().as_bytes())
            .and_then(|_| self.0.flush())
            .is_err()
        {
            std::process::exit(3);
        }
    }
}

/// Runs the worker loop until `shutdown` or end of input; returns the exit status.
pub fn worker_main() -> i32 {
    let fd = std::env::var(PROTOCOL_FD_ENV)
        .ok()
        .and_then(|v| v.parse::<i32>().ok())
        .unwrap_or(PROTOCOL_FD);
    // SAFETY: the orchestrator opened this descriptor for us (see pool::worker) and nothing else
    // in this process owns it.
    let mut out = Channel(BufWriter::new(unsafe { File::from_raw_fd(fd) }));
    let registry = match Registry::collect() {
        Ok(r) => r,
        Err(e) => {
            out.send(&Response::Error {
                message: e.to_string(),
            });
            return 2;
        }
    };
    let metering = match std::env::var(METERING_ENV).as_deref() {
        Ok("orchestrator") => Metering::Orchestrator,
        _ => Metering::Worker,
    };
    out.send(&Response::Hello {
        protocol: PROTOCOL_VERSION,
        pid: std::process::id(),
        host: Some(host_info(metering)),
    });
    let mut prepared: Option<(Box<dyn PreparedCase>, Option<WorkerMeter>)> = None;
    let mut greeted = false;
    let stdin = std::io::stdin();
    let mut lines = stdin.lock().lines();
    while let Some(line) = lines.next() {
        let Ok(line) = line else { break };
        let request = match serde_json::from_str::<Request>(&line) {
            Ok(r) => r,
            Err(e) => {
                out.send(&Response::Error {
                    message: format!("unreadable request ({e})"),
                });
                if !greeted {
                    return 2;
                }
                continue;
            }
        };
        // Both sides refuse a peer of another version: the orchestrator checked our hello, and
        // its first request must be its own hello, of our version.
        if !greeted {
            match request {
                Request::Hello { protocol } if protocol == PROTOCOL_VERSION => {
                    greeted = true;
                    continue;
                }
                other => {
                    out.send(&Response::Error {
                        message: refusal(&other),
                    });
                    return 2;
                }
            }
        }
        let find = |id: &str| {
            registry.find(id).ok_or_else(|| Response::Error {
                message: format!("no candidate `{id}` in this binary"),
            })
        };
        let response = match request {
            Request::Shutdown => return 0,
            Request::List => Response::Candidates {
                candidates: registry
                    .candidates
                    .iter()
                    .map(|c| CandidateDescriptor {
                        id: c.id(),
                        problem: c.problem.to_owned(),
                        name: c.name.to_owned(),
                        location: c.location(),
                        options: c.options,
                        cases: c.imp.cases().unwrap_or_default(),
                    })
                    .collect(),
            },
            Request::Cases { candidate } => match find(&candidate) {
                Ok(c) => match c.imp.cases() {
                    Ok(cases) => Response::Cases { cases },
                    Err(message) => Response::Error { message },
                },
                Err(e) => e,
            },
            Request::Check { candidate } => match find(&candidate) {
                Ok(c) => {
                    let before = thread_count();
                    let outcome = c.imp.check(&mut |CheckEvent::CaseStarted(case)| {
                        out.send(&Response::CaseStarted {
                            case: case.to_owned(),
                        })
                    });
                    let stray_threads = thread_count().saturating_sub(before);
                    Response::Checked {
                        outcome,
                        stray_threads,
                        verdicts: None,
                    }
                }
                Err(e) => e,
            },
            Request::Prepare { overhead: true, .. } => Response::Error {
                message: "loop overhead is measured for interpreted hosts only; a Rust worker's \
                          calling loop is compiled with the candidate"
                    .into(),
            },
            Request::Prepare {
                candidate,
                case,
                meter,
                overhead: false,
            } => match find(&candidate).and_then(|c| {
                c.imp
                    .prepare(&case)
                    .map_err(|message| Response::Error { message })
            }) {
                Ok(mut p) => {
                    let input_bytes = probe_input_bytes(p.as_mut());
                    match meter.as_ref().map(WorkerMeter::open).transpose() {
                        Ok(m) => {
                            prepared = Some((p, m));
                            Response::Prepared { input_bytes }
                        }
                        Err(message) => Response::Error { message },
                    }
                }
                Err(e) => e,
            },
            Request::Calibrate {
                target_ns,
                max_batch,
            } => match prepared.as_mut() {
                Some((p, _)) => calibrate(p.as_mut(), target_ns, max_batch),
                None => not_prepared(),
            },
            Request::Sample { calls, batch } => match prepared.as_mut() {
                Some((p, meter)) => {
                    let windows = match metering {
                        Metering::Orchestrator => Some(Windows {
                            out: &mut out,
                            requests: &mut lines,
                        }),
                        Metering::Worker => None,
                    };
                    sample(p.as_mut(), meter.as_mut(), windows, calls, batch)
                }
                None => not_prepared(),
            },
            Request::Hello { .. } | Request::WindowGo | Request::WindowAck => Response::Error {
                message: format!(
                    "unexpected {}: this worker meters itself and was greeted already",
                    request.to_line().trim_end()
                ),
            },
        };
        out.send(&response);
    }
    0
}

/// A bench binary's host: Rust, the compiler that built it, itself, metering itself unless
/// [`METERING_ENV`] asks for the orchestrator's meter.
fn host_info(metering: Metering) -> HostInfo {
    HostInfo {
        language: "rust".into(),
        version: env!("JOULETRACE_RUSTC_VERSION").into(),
        executable: std::env::current_exe()
            .map(|p| p.display().to_string())
            .unwrap_or_default(),
        metering,
    }
}

/// Orchestrator metering: the conversation around each batch (docs/protocol.md, "Metering").
struct Windows<'a> {
    out: &'a mut Channel,
    requests: &'a mut dyn Iterator<Item = std::io::Result<String>>,
}

impl Windows<'_> {
    /// Waits for `expected` (`window_go`, `window_ack`); anything else ends the sample.
    fn wait(&mut self, expected: &Request) -> Result<(), String> {
        match self.requests.next() {
            Some(Ok(line)) => match serde_json::from_str::<Request>(&line) {
                Ok(r) if r == *expected => Ok(()),
                Ok(other) => Err(format!(
                    "expected {}, got {}",
                    expected.to_line().trim_end(),
                    other.to_line().trim_end()
                )),
                Err(e) => Err(format!("unreadable request ({e})")),
            },
            // The orchestrator is gone: no one to answer.
            _ => std::process::exit(3),
        }
    }
}

/// Why a session that did not open with a hello of our version is refused.
fn refusal(first: &Request) -> String {
    match first {
        Request::Hello { protocol } => format!(
            "this worker speaks protocol {PROTOCOL_VERSION}, the orchestrator {protocol}: build \
             the bench against the same JouleTrace version as the orchestrator"
        ),
        _ => format!(
            "this worker speaks protocol {PROTOCOL_VERSION}, whose first request is `hello`; the \
             orchestrator sent {} (protocol 1 or older): update it to the same JouleTrace version",
            first.to_line().trim_end()
        ),
    }
}

fn not_prepared() -> Response {
    Response::Error {
        message: "calibrate and sample need a prepared case first".into(),
    }
}

/// Threads of this process, from /proc (1 if it cannot be read: then nothing is reported stray).
fn thread_count() -> u32 {
    std::fs::read_dir("/proc/self/task").map_or(1, |d| d.count() as u32)
}

fn resident_bytes() -> u64 {
    // statm: size resident shared text lib data dt, in pages.
    let page = 4096;
    std::fs::read_to_string("/proc/self/statm")
        .ok()
        .and_then(|s| s.split_whitespace().nth(1)?.parse::<u64>().ok())
        .map_or(0, |pages| pages * page)
}

/// Estimates one input's memory from the growth of resident memory while holding clones.
/// Rough (allocator reuse hides some), but it only bounds batch sizes.
fn probe_input_bytes(p: &mut dyn PreparedCase) -> u64 {
    let before = resident_bytes();
    let mut n = 1;
    loop {
        let mut grown = 0;
        p.hold_clones(n, &mut || grown = resident_bytes().saturating_sub(before));
        if grown >= PROBE_BYTES || n >= PROBE_INPUTS {
            return grown / n;
        }
        n *= 4;
    }
}

struct Timing {
    start: u64,
    elapsed: u64,
}

impl WindowHooks for Timing {
    fn open(&mut self) {
        self.start = monotonic_ns();
    }
    fn close(&mut self) {
        self.elapsed += monotonic_ns() - self.start;
    }
}

/// Grows the number of calls until a batch lasts a tenth of the target, then scales up.
fn calibrate(p: &mut dyn PreparedCase, target_ns: u64, max_batch: u64) -> Response {
    let mut n: u64 = 1;
    loop {
        let mut t = Timing {
            start: 0,
            elapsed: 0,
        };
        p.run(n, max_batch, &mut t);
        let elapsed = t.elapsed.max(1);
        if elapsed >= target_ns / 10 || n >= 1 << 40 {
            let calls = ((n as f64) * (target_ns as f64) / (elapsed as f64)).ceil() as u64;
            return Response::Calibrated {
                calls: calls.max(1),
                elapsed_ns: elapsed,
            };
        }
        let factor = (target_ns / 10 / elapsed).clamp(2, 100);
        n = n.saturating_mul(factor);
    }
}

struct Measuring<'a, 'w> {
    meter: Option<&'a mut WorkerMeter>,
    windows: Option<Windows<'w>>,
    first_start: Option<u64>,
    last_end: u64,
    open_at: u64,
    cpu_at: u64,
    measured_ns: u64,
    cpu_ns: u64,
    batches: u32,
    energy: Vec<DomainEnergy>,
    error: Option<String>,
}

impl WindowHooks for Measuring<'_, '_> {
    fn open(&mut self) {
        if let Some(w) = self.windows.as_mut() {
            w.out.send(&Response::WindowOpen);
            if let Err(e) = w.wait(&Request::WindowGo) {
                self.error.get_or_insert(e);
            }
        }
        if let Some(m) = self.meter.as_mut()
            && let Err(e) = m.start()
        {
            self.error.get_or_insert(e);
        }
        self.cpu_at = process_cpu_ns();
        self.open_at = monotonic_ns();
    }

    fn close(&mut self) {
        let end = monotonic_ns();
        let cpu = process_cpu_ns();
        if let Some(m) = self.meter.as_mut() {
            match m.stop() {
                Ok(deltas) => add_energies(&mut self.energy, deltas),
                Err(e) => {
                    self.error.get_or_insert(e);
                }
            }
        }
        if let Some(w) = self.windows.as_mut() {
            w.out.send(&Response::WindowClosed {
                start_ns: self.open_at,
                end_ns: end,
            });
            if let Err(e) = w.wait(&Request::WindowAck) {
                self.error.get_or_insert(e);
            }
        }
        self.first_start.get_or_insert(self.open_at);
        self.last_end = end;
        self.measured_ns += end - self.open_at;
        self.cpu_ns += cpu - self.cpu_at;
        self.batches += 1;
    }
}

fn sample(
    p: &mut dyn PreparedCase,
    meter: Option<&mut WorkerMeter>,
    windows: Option<Windows<'_>>,
    calls: u64,
    batch: u64,
) -> Response {
    let mut m = Measuring {
        meter,
        windows,
        first_start: None,
        last_end: 0,
        open_at: 0,
        cpu_at: 0,
        measured_ns: 0,
        cpu_ns: 0,
        batches: 0,
        energy: Vec::new(),
        error: None,
    };
    p.run(calls, batch, &mut m);
    if let Some(message) = m.error {
        return Response::Error {
            message: format!("reading the meter failed: {message}"),
        };
    }
    Response::Sampled(SampleReport {
        calls,
        window_start_ns: m.first_start.unwrap_or(m.last_end),
        window_end_ns: m.last_end,
        measured_ns: m.measured_ns,
        cpu_ns: m.cpu_ns,
        batches: m.batches,
        energy: m.energy,
        // The meter is read right at each window's edges: the energy covers the measured time.
        metered_ns: Some(m.measured_ns),
    })
}
