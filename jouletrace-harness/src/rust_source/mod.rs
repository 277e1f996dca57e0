//! Rust candidates submitted as source (issue 16; `docs/rust-candidates.md`).
//!
//! The job side, in the order a job uses it:
//! - [`signature`]: the entry function found and its types checked (what JSON converts to);
//! - [`codegen`]: one crate root per candidate (the submission, compiled alone with no
//!   dependency) and one glue root per job (trusted: registrations, cases read at run time,
//!   `jouletrace::main!()`);
//! - [`runtime`]: what the glue calls when it runs — cases from the job file, JSON converted to
//!   the argument types before any window, outputs compared by [`compare`], which holds the
//!   comparison modes with the Python host's semantics.

pub mod codegen;
pub mod compare;
pub mod runtime;
pub mod signature;
