//! Rust candidates submitted as source (issue 16; `docs/rust-candidates.md`): the job side
//! (signature check, code generation, the glue's run-time support, [`prepare`]) and the build
//! side (toolchain, support library, sandboxed compile, cache). See also `docs/sandbox.md`.
//!
//! The job side, in the order a job uses it:
//! - [`signature`]: the entry function found and its types checked (what JSON converts to);
//! - [`codegen`]: one crate root per candidate (the submission, compiled alone with no
//!   dependency) and one glue root per job (trusted: registrations, cases read at run time,
//!   `jouletrace::main!()`);
//! - [`prepare()`]: a job and a [`Builder`] → the engine [`Target`](crate::engine::Target) of
//!   the candidates that compiled, and the `compile_error`s of those that did not;
//! - [`runtime`]: what the glue calls when it runs — cases from the job file, JSON converted to
//!   the argument types before any window, outputs compared by [`compare`], which holds the
//!   comparison modes with the Python host's semantics.
//!
//! The build side, in the order a job uses it:
//! - [`toolchain`]: the real rustc behind rustup's proxy, made readable by the sandbox user;
//! - [`support`]: jouletrace (+ macros + dependencies) built once, trusted, as rlibs;
//! - [`compile`]: the [`Builder`] — candidate roots compiled alone to rlibs and glue roots
//!   linked against the support library, both in the sandbox;
//! - [`cache`]: content-hash cache of both, bounded in bytes, LRU, shared between processes.

pub mod cache;
pub mod codegen;
pub mod compare;
pub mod compile;
mod prepare;
pub mod runtime;
pub mod signature;
pub mod support;
pub mod toolchain;

pub use cache::{CacheStats, shared_stats};
pub use compile::{
    Binary, BuildError, BuildLimits, Builder, BuilderOptions, CompileFailure, CompileFailureKind,
    Rlib, default_cache_dir,
};
pub use prepare::{PrepareError, Prepared, Refused, prepare};
pub use support::{Support, SupportSource};
pub use toolchain::{Toolchain, ToolchainAccess};

/// Where tests put their build cache and build work: `target_tmp` (a workspace's
/// `target/tmp`, so every test binary shares one cache and one support build), unless the
/// sandbox user cannot enter it — a checkout under `/root`, mode 0700 — then a directory in the
/// system's temporary directory.
#[cfg(feature = "test-support")]
pub fn test_build_base(target_tmp: &std::path::Path) -> std::path::PathBuf {
    use crate::pool::sandbox::{SandboxPolicy, runnable};
    let _ = std::fs::create_dir_all(target_tmp);
    if runnable(&SandboxPolicy::default(), target_tmp).is_ok() {
        target_tmp.to_path_buf()
    } else {
        std::env::temp_dir().join("jouletrace-test-rust-build")
    }
}
