//! Algorithms measured by the example benches, kept apart from the bench files so that they can
//! be read, tested and reused on their own.
//!
//! - [`sorting`]: insertion sort and a top-down merge sort, against the standard library's
//!   sorts (`benches/sorting.rs`).
//! - [`search`]: naive substring search and Knuth–Morris–Pratt, against `str::find`
//!   (`benches/search.rs`).
//! - [`data`]: reproducible inputs from a fixed-seed generator.
//!
//! The n-body candidates live in their own library crate, `jouletrace-examples-nbody`, which
//! registers them itself: `benches/nbody.rs` shows how a bench collects candidates from a crate
//! it does not otherwise name.

pub mod data;
pub mod search;
pub mod sorting;

/// The user guide's Rust blocks, compiled by `cargo test --doc` so that the guide cannot drift
/// from the code. Bench files in the guide end with `jouletrace::main!()`; as doc tests they are
/// compiled (`no_run`), and the examples' own benches are what CI runs.
#[cfg(doctest)]
mod guide {
    #[doc = include_str!("../../docs/guide/README.md")]
    mod index {}
    #[doc = include_str!("../../docs/guide/01-getting-started.md")]
    mod getting_started {}
    #[doc = include_str!("../../docs/guide/02-writing-benches.md")]
    mod writing_benches {}
    #[doc = include_str!("../../docs/guide/03-meters-and-permissions.md")]
    mod meters_and_permissions {}
    #[doc = include_str!("../../docs/guide/04-stable-numbers.md")]
    mod stable_numbers {}
    #[doc = include_str!("../../docs/guide/05-ci-gating.md")]
    mod ci_gating {}
    #[doc = include_str!("../../docs/guide/06-reference.md")]
    mod reference {}
    #[doc = include_str!("../../docs/guide/07-criterion.md")]
    mod criterion {}
}
