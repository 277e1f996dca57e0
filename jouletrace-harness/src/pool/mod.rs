//! Worker processes: start, limit, talk to, and kill.
//!
//! A worker is a bench binary re-executed with [`WORKER_ARG`](crate::protocol::WORKER_ARG). The
//! pool starts it in a new process group (so a timeout kills everything it spawned), pinned to
//! one CPU, under an address-space limit (RLIMIT_AS) and optionally without network. There is
//! deliberately no CPU-time limit: RLIMIT_CPU kills with SIGXCPU at a CPU-time total that says
//! nothing about wall time, and it killed healthy long runs of our predecessor; a wall-clock
//! deadline per request is what a user means by "timeout".
//!
//! The worker's stdout and stderr are drained continuously into bounded [`capture`] buffers, so
//! a candidate that floods its output neither blocks nor exhausts the orchestrator's memory.
//! [`classify()`] turns how a worker ended into a result status.

pub mod capture;
pub mod classify;
pub mod sandbox;
mod worker;

pub use classify::{Ending, classify};
pub use worker::{Worker, WorkerCommand, WorkerError};
