//! Rust candidates submitted as source (issue 16): the job side (signature check, code
//! generation, the glue's run-time support) and the build side (toolchain, support library,
//! sandboxed compile, cache). See `docs/rust-candidates.md` and `docs/sandbox.md`.
//!
//! The build side, in the order a job uses it:
//! - [`toolchain`]: the real rustc behind rustup's proxy, made readable by the sandbox user;
//! - [`support`]: jouletrace (+ macros + dependencies) built once, trusted, as rlibs;
//! - [`compile`]: the [`Builder`] — candidate roots compiled alone to rlibs and glue roots
//!   linked against the support library, both in the sandbox;
//! - [`cache`]: content-hash cache of both, bounded in bytes, LRU, shared between processes.

pub mod cache;
pub mod compile;
pub mod support;
pub mod toolchain;

pub use cache::{CacheStats, shared_stats};
pub use compile::{
    Binary, BuildError, BuildLimits, Builder, BuilderOptions, CompileFailure, CompileFailureKind,
    Rlib, default_cache_dir,
};
pub use support::{Support, SupportSource};
pub use toolchain::{Toolchain, ToolchainAccess};
