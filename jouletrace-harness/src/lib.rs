//! JouleTrace: how many joules your code burns.
//!
//! Mark competing implementations of one problem with [`joule_bench`], give them shared cases
//! with [`joule_cases`], and end the bench file with [`main!`]. `cargo test` then checks every
//! candidate against the cases, each in its own worker process; `cargo bench` and `cargo joule`
//! check, then measure the energy of every candidate that passed.
//!
//! ```ignore
//! use jouletrace::prelude::*;
//!
//! #[joule_cases(problem = "sort")]
//! fn cases() -> Vec<Case<Vec<u32>, Vec<u32>>> {
//!     vec![Case::new("small", vec![3, 1, 2], vec![1, 2, 3])]
//! }
//!
//! #[joule_bench(problem = "sort")]
//! fn std_sort(mut v: Vec<u32>) -> Vec<u32> { v.sort_unstable(); v }
//!
//! jouletrace::main!();
//! ```
//!
//! The crate is an engine first: the orchestrator ([`engine`]), the meters ([`energy`]), the
//! worker pool ([`pool`]), the statistics ([`stats`]) and the reports ([`report`]) are usable
//! without the bench harness, which is how `cargo joule` drives several bench binaries at once.

pub mod baseline;
mod cancel;
#[cfg(feature = "cargo")]
pub mod cargo;
pub mod case;
#[cfg(feature = "test-support")]
pub mod chromium;
pub mod config;
#[cfg(feature = "criterion")]
pub mod criterion;
pub mod energy;
pub mod engine;
pub mod harness;
pub mod job;
pub mod platform;
pub mod pool;
pub mod protocol;
pub mod python;
pub mod registry;
pub mod report;
pub mod results;
pub mod rust_source;
pub mod stats;
pub mod sysfs;
pub mod topology;
pub mod units;
pub mod verdict;

pub use case::Case;
pub use jouletrace_macros::{joule_bench, joule_cases};
pub use units::{Joules, Watts};

/// What a bench file imports: `use jouletrace::prelude::*;`.
pub mod prelude {
    pub use crate::Case;
    pub use jouletrace_macros::{joule_bench, joule_cases};
}

/// The bench binary's `main`: runs the harness (checks under `cargo test`, checks and measurement
/// under `cargo bench`, a worker when started as one).
///
/// Candidates registered in a library crate are collected only if the bench binary links that
/// crate; name such crates here (`jouletrace::main!(my_algorithms);`) when the bench file does
/// not otherwise use them.
#[macro_export]
macro_rules! main {
    ($($link:ident),* $(,)?) => {
        $(#[allow(unused_imports)] use $link as _;)*
        fn main() {
            ::std::process::exit($crate::__private::harness_main())
        }
    };
}

/// Used by the macros' expansions only. Not part of the public API.
#[doc(hidden)]
pub mod __private {
    pub use crate::Case;
    pub use crate::harness::harness_main;
    pub use crate::registry::{
        ApproxEq, CandidateEntry, CandidateOptions, Problem, ProblemEntry, Typed, cmp_eq,
        cmp_tolerance, for_problem, same_name, typed,
    };
    pub use inventory;
    pub use std::time::Duration;
}
