//! The orchestrator: the only place that combines topology, pool, meters and statistics.
//!
//! [`run`] takes bench binaries ([`Target`]s), asks each for its candidates over the worker
//! protocol, checks them all in parallel across the pool, then measures those that passed with
//! domain-aware scheduling, and returns one [`RunResults`](crate::results::RunResults). The bench
//! harness calls it with its own executable; `cargo joule` calls it with every bench binary of a
//! workspace, so that they share one pool, one lock and one report.
//!
//! One file per step: [`run`](run()) orchestrates; `check` and `measure` drive one worker each;
//! `meter` chooses the meter and the lanes its domains allow; `idle` keeps the idle baseline;
//! `gates` warns about frequency scaling and waits for cooling; `summarize` turns samples into
//! statistics and rankings; `lock` is the machine-wide measurement lock; `host` reads the meter
//! around the windows of hosts that never hold one (orchestrator metering). The design notes are
//! `docs/process-model.md` and `docs/measurement.md`.

mod cancel;
mod check;
mod environment;
mod error;
mod gates;
mod host;
mod idle;
mod lock;
mod measure;
mod meter;
mod observer;
mod parallel;
mod run;
mod slots;
pub mod summarize;
mod target;

pub use crate::registry::CandidateDescriptor;
pub use cancel::CancelToken;
pub use error::EngineError;
pub use observer::{NullObserver, Observer};
pub use run::{Listing, describe, list, run};
pub use target::{Target, TargetKind};

pub(crate) use run::{Event, Job, Lane, MeasureJob, Slot, clock_s};
