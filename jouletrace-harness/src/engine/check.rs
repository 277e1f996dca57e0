//! Phase 2 of a run: correctness checks, each candidate in its own worker against all of its
//! cases, all candidates in parallel across the slots.
//!
//! A bench binary compares its outputs itself (its candidates are the user's own compiled
//! code). A host judged by the orchestrator (a target with [`Answers`]: every Python host)
//! only reports them, and the verdict is computed here ([`crate::verdict`]), so a candidate
//! that shares the host's process can neither see the expected outputs nor forge the verdict.

use std::time::{Duration, Instant};

use super::parallel::{Msg, drain_queue};
use super::plan::{Job, Plan};
use super::{CancelToken, Event, Observer, Slot, clock_s};
use crate::config::RunConfig;
use crate::energy::monotonic_ns;
use crate::pool::{Ending, Worker, WorkerError, classify};
use crate::protocol::{Request, Response};
use crate::registry::CheckOutcome;
use crate::results::{CheckRecord, Failure, Status};
use crate::verdict::Answers;

/// Checks every candidate of `plan.to_check`, one worker per slot at a time; the records are
/// indexed like `plan.jobs` (`None`: not checked, or interrupted before its turn).
pub fn check_all(
    plan: &Plan,
    slots: &[Slot],
    config: &RunConfig,
    origin_ns: u64,
    observer: &mut dyn Observer,
    cancel: &CancelToken,
) -> Vec<Option<CheckRecord>> {
    let mut checks: Vec<Option<CheckRecord>> = vec![None; plan.jobs.len()];
    drain_queue(
        slots,
        plan.to_check.clone(),
        |slot, i, tx| {
            if cancel.is_cancelled() {
                return;
            }
            let candidate = plan.jobs[i].descriptor.id.clone();
            let _ = tx.send(Msg::Event(Event::CheckStarted { candidate }));
            let record = check(&plan.jobs[i], slot, config, cancel, origin_ns);
            let _ = tx.send(Msg::Checked(i, Box::new(record)));
        },
        |msg| match msg {
            Msg::Event(e) => observer.event(&e),
            Msg::Checked(i, record) => {
                observer.event(&Event::CheckFinished {
                    candidate: plan.jobs[i].descriptor.id.clone(),
                    record: record.clone(),
                });
                checks[i] = Some(*record);
            }
            Msg::Measured(..) => {}
        },
    );
    checks
}

/// Runs one candidate's check on `slot`. Never fails: every ending is a [`CheckRecord`].
pub fn check(
    job: &Job,
    slot: &Slot,
    config: &RunConfig,
    cancel: &CancelToken,
    origin_ns: u64,
) -> CheckRecord {
    let eff = config.effective(&job.descriptor.options);
    let started = Instant::now();
    let start_s = clock_s(monotonic_ns(), origin_ns);
    let cmd = job.worker_command(Some(slot.cpu), config, eff.memory_limit_mb);
    let mut worker = match Worker::spawn(&cmd, eff.timeout.max(Duration::from_secs(10))) {
        Ok(w) => w,
        Err(e) => {
            return CheckRecord {
                start_s: Some(start_s),
                end_s: Some(clock_s(monotonic_ns(), origin_ns)),
                cpu: Some(slot.cpu),
                ..failed_without_worker(&e, eff.timeout, eff.memory_limit_mb)
            };
        }
    };
    let request = Request::Check {
        candidate: job.descriptor.id.clone(),
    };
    let answer = match &job.target.answers {
        Some(answers) => judged(
            &mut worker,
            &request,
            answers,
            &job.descriptor.id,
            eff.timeout,
            cancel,
        ),
        None => worker.request(&request, eff.timeout, Some(cancel)),
    };
    // Hosts that run every case say how each went; the outcome is still the first failure.
    let verdicts = match &answer {
        Ok(Response::Checked {
            verdicts: Some(v), ..
        }) => v.clone(),
        _ => Vec::new(),
    };
    let (status, cases_passed, failure) = match answer {
        Ok(Response::Checked {
            outcome,
            stray_threads,
            ..
        }) => match outcome {
            CheckOutcome::Passed { cases } if stray_threads > 0 => (
                Status::StrayThread,
                cases as u32,
                Some(Failure::new(
                    Status::StrayThread,
                    None,
                    format!(
                        "returned correct answers but left {stray_threads} thread(s) running; their \
                         work would be charged to later calls, so it is not measured"
                    ),
                )),
            ),
            CheckOutcome::Passed { cases } => (Status::Passed, cases as u32, None),
            CheckOutcome::WrongAnswer(m) => (
                Status::WrongAnswer,
                0,
                Some(Failure {
                    expected: Some(m.expected),
                    actual: Some(m.actual),
                    ..Failure::new(
                        Status::WrongAnswer,
                        Some(&m.case),
                        if m.validator {
                            format!(
                                "case `{}`: the custom validator rejected the output",
                                m.case
                            )
                        } else {
                            format!("case `{}`: output differs from the expected value", m.case)
                        },
                    )
                }),
            ),
            CheckOutcome::Panic { case, message } => (
                Status::Panic,
                0,
                Some(Failure::new(
                    Status::Panic,
                    Some(&case),
                    format!("panicked on case `{case}`: {message}"),
                )),
            ),
        },
        Ok(Response::Error { message }) => (
            Status::ProtocolError,
            0,
            Some(Failure::new(Status::ProtocolError, None, message)),
        ),
        Ok(other) => (
            Status::ProtocolError,
            0,
            Some(Failure::new(
                Status::ProtocolError,
                None,
                format!("unexpected answer to a check: {}", shortened(&other)),
            )),
        ),
        Err(e) => {
            let (_, stderr) = worker.output();
            let f = classify(&Ending {
                error: &e,
                stderr: &stderr.text,
                case: worker.last_case.as_deref(),
                timeout: eff.timeout,
                memory_limit_mb: eff.memory_limit_mb,
            });
            (f.kind, 0, Some(f))
        }
    };
    worker.shutdown();
    // The worker has exited (shutdown reaps it): its interval is closed.
    let end_s = clock_s(monotonic_ns(), origin_ns);
    let (stdout, stderr) = worker.output();
    // With a verdict per case, the passed cases are counted even after a failure.
    let cases_passed = if verdicts.is_empty() {
        cases_passed
    } else {
        verdicts.iter().filter(|v| v.passed).count() as u32
    };
    CheckRecord {
        status,
        cases_passed,
        duration_s: started.elapsed().as_secs_f64(),
        start_s: Some(start_s),
        end_s: Some(end_s),
        cpu: Some(slot.cpu),
        failure,
        stdout,
        stderr,
        verdicts,
    }
}

/// The check of a host judged by the orchestrator: the host answers `ran` (its outputs) and
/// the verdict is computed here, against answers the host never saw, as the `checked` answer a
/// self-judging worker would have sent. A `checked` from such a host is a verdict of its own —
/// possibly written by the candidate, which shares its process — and is ignored.
fn judged(
    worker: &mut Worker,
    request: &Request,
    answers: &Answers,
    candidate: &str,
    timeout: Duration,
    cancel: &CancelToken,
) -> Result<Response, WorkerError> {
    worker.send(request)?;
    let deadline = Instant::now() + timeout;
    loop {
        match worker.receive_until(deadline, timeout, Some(cancel))? {
            Response::Checked { .. } => continue,
            Response::Ran {
                stray_threads,
                cases,
            } => {
                return Ok(match answers.judge(candidate, &cases) {
                    Ok(judged) => Response::Checked {
                        outcome: judged.outcome,
                        stray_threads,
                        verdicts: Some(judged.verdicts),
                    },
                    Err(message) => Response::Error {
                        message: format!("the host's outputs cannot be judged: {message}"),
                    },
                });
            }
            other => return Ok(other),
        }
    }
}

/// A message for the record, bounded: an unexpected answer may carry a whole output.
fn shortened(answer: &Response) -> String {
    crate::rust_source::compare::render::cut(format!("{answer:?}"), 500)
}

fn failed_without_worker(
    e: &WorkerError,
    timeout: Duration,
    memory_limit_mb: Option<u64>,
) -> CheckRecord {
    let f = classify(&Ending {
        error: e,
        stderr: "",
        case: None,
        timeout,
        memory_limit_mb,
    });
    let kind = f.kind;
    CheckRecord {
        failure: Some(f),
        ..CheckRecord::without_worker(kind)
    }
}
