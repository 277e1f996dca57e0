//! Cargo integration (feature `cargo`): which packages and bench targets of a workspace take
//! part, building them, and what a run of them records.
//!
//! `cargo joule` is a thin command line over this module; a job service that builds submitted
//! crates uses it the same way:
//!
//! ```no_run
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! use jouletrace::cargo::{self, BuildOutput, Selection};
//! let selection = Selection { workspace: true, ..Selection::default() };
//! let ws = cargo::discover(&selection)?;
//! let targets = cargo::build(&ws, &selection, BuildOutput::default())?;
//! let context = cargo::run_context(&ws, &jouletrace::config::HostConfig::default());
//! # let _ = (targets, context); Ok(()) }
//! ```
//!
//! A package takes part when it is selected (`packages`, `workspace`, or by default the package
//! of the current manifest, else the workspace's default members) and depends on `jouletrace`;
//! its bench targets (`benches` narrows them) are what gets built and run, with
//! `cargo bench --no-run --message-format=json-render-diagnostics`.

mod build;
mod workspace;

use std::path::PathBuf;
use std::process::ExitStatus;

pub use build::{BuildOutput, build};
pub use workspace::{BenchPackage, Workspace, discover, metadata, run_context, target_dir};

/// Which packages, benches, features and profile: cargo's own selection flags, as data.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Selection {
    /// `--manifest-path`.
    pub manifest_path: Option<PathBuf>,
    /// `-p` (package names).
    pub packages: Vec<String>,
    /// `--workspace`: every member that depends on jouletrace.
    pub workspace: bool,
    /// `--bench` (bench target names).
    pub benches: Vec<String>,
    /// `--features` (space or comma separated, `pkg/feat` allowed).
    pub features: Vec<String>,
    pub all_features: bool,
    pub no_default_features: bool,
    /// `--profile` (`bench` by default).
    pub profile: String,
    /// `--target-dir`; `None`: cargo's.
    pub target_dir: Option<PathBuf>,
}

impl Default for Selection {
    fn default() -> Self {
        Selection {
            manifest_path: None,
            packages: Vec::new(),
            workspace: false,
            benches: Vec::new(),
            features: Vec::new(),
            all_features: false,
            no_default_features: false,
            profile: "bench".into(),
            target_dir: None,
        }
    }
}

/// Why a workspace's benches cannot be found or built.
#[derive(Debug, thiserror::Error)]
pub enum CargoError {
    #[error("cannot read the workspace with `cargo metadata`")]
    Metadata(#[source] cargo_metadata::Error),
    #[error(
        "package `{spec}` is not a member of the workspace at {} (members: {})",
        workspace.display(),
        members.join(", ")
    )]
    NoSuchPackage {
        spec: String,
        workspace: PathBuf,
        members: Vec<String>,
    },
    #[error(
        "no bench target named `{bench}` in the selected packages that depend on {} \
         (see `cargo joule list`)",
        workspace::LIBRARY
    )]
    NoSuchBench { bench: String },
    #[error(
        "no bench targets to run: none of the selected packages of {} depends on {lib} and has a \
         [[bench]] target; add `{lib}` as a dev-dependency and a bench with `harness = false`, or \
         select packages with -p/--workspace",
        workspace.display(),
        lib = workspace::LIBRARY
    )]
    NoBenches { workspace: PathBuf },
    #[error("cannot start cargo to build the benches")]
    Spawn(#[source] std::io::Error),
    #[error("cannot read cargo's build messages")]
    Messages(#[source] std::io::Error),
    #[error("could not build the benches (cargo bench --no-run failed: {status})")]
    Build { status: ExitStatus },
    #[error("cargo built no bench executables for the selected targets")]
    NoExecutables,
}
