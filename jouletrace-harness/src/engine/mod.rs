//! The orchestrator: the only place that combines topology, pool, meters and statistics.
//!
//! [`run`] takes programs that speak the worker protocol ([`Target`]s), the run's settings
//! ([`RunConfig`](crate::config::RunConfig)) and what it records about where it runs
//! ([`RunContext`]); it asks each target for its candidates, checks them all in parallel across
//! the pool, then measures those that passed with domain-aware scheduling, telling an
//! [`Observer`] each [`Event`] as it happens, and returns one
//! [`RunResults`](crate::results::RunResults). The bench harness calls it with its own
//! executable; `cargo joule` calls it with every bench binary of a workspace, so that they share
//! one pool, one lock and one report.
//!
//! One file per phase: [`run`](run()) orders them under the machine-wide run lock (`lock`);
//! `plan` lists and selects; `check` checks; `schedule` takes idle baselines (`idle`) and
//! measures (`measure` drives one worker; `host` reads the meter around the windows of hosts
//! that never hold one, orchestrator metering; `meter` chooses the meter and the lanes its
//! domains allow; `gates` warns about frequency scaling and waits for cooling); `assemble` builds
//! the results (`summarize` turns samples into statistics and rankings); `merge` joins the
//! results of shards; `background` watches for other work beside every window; `history` keeps the run history that
//! shows the machine's run-to-run variation and widens the intervals by it. The design notes are
//! `docs/process-model.md` and `docs/measurement.md`.

mod assemble;
pub mod background;
mod check;
mod context;
mod environment;
mod error;
mod gates;
pub mod history;
mod host;
mod idle;
mod lock;
mod measure;
pub mod merge;
mod meter;
mod observer;
mod overhead;
mod parallel;
mod plan;
mod run;
mod schedule;
mod slots;
pub mod summarize;
mod target;

pub use crate::cancel::CancelToken;
pub use crate::registry::CandidateDescriptor;
pub use context::{RunContext, built_with_rustc, git_commit, rustc_version};
pub use error::{EngineError, ListingError, LockError};
pub use observer::{Event, NullObserver, Observer};
pub use plan::{Listing, describe};
pub use run::{list, run};
pub use target::{JOB_ENV, Target, TargetKind};

pub(crate) use run::clock_s;
pub(crate) use slots::{Lane, Slot};
