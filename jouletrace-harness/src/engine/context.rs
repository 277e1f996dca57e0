//! What a run records about where it runs and what it measures, given by the caller.
//!
//! The engine reads no process globals: not argv, not the current directory's git, not the
//! compiler that built the orchestrator. The bench harness fills a [`RunContext`] for its own
//! process ([`RunContext::for_bench_binary`]); `cargo joule` fills it for the workspace it built
//! (the workspace's commit, the rustc cargo used); a job service fills it per job.

use std::ffi::OsStr;
use std::path::{Path, PathBuf};
use std::process::Command;

use crate::config::HostConfig;

/// Everything a run records or touches outside its settings.
#[derive(Clone, Debug, PartialEq)]
pub struct RunContext {
    /// How the run was asked for, as recorded in the results (`cargo joule --meter perf`).
    pub command_line: Vec<String>,
    /// The commit of the code under test (`git rev-parse HEAD`, `-dirty` with local changes).
    pub commit: Option<String>,
    /// `rustc -V` of the compiler that built the code under test.
    pub rustc: Option<String>,
    /// Root of the sysfs tree meters and topology read (`/sys`; a fake tree in tests).
    pub sysfs_root: PathBuf,
    /// The machine-wide run lock (`docs/process-model.md`).
    pub lock_path: PathBuf,
    /// How the results name this machine; `None`: its hostname.
    pub host: Option<String>,
}

impl RunContext {
    /// A context on the host `host` describes, with nothing known about the code under test.
    pub fn new(host: &HostConfig) -> RunContext {
        RunContext {
            command_line: Vec::new(),
            commit: None,
            rustc: None,
            sysfs_root: host.sysfs_root.clone(),
            lock_path: host.lock_path.clone(),
            host: None,
        }
    }

    /// The context of a bench binary running its own candidates: its command line, the commit
    /// of its working directory (cargo runs benches in the package root), and the compiler that
    /// built this library, which is the one that built the bench linking it.
    pub fn for_bench_binary(host: &HostConfig) -> RunContext {
        let dir = std::env::current_dir().unwrap_or_else(|_| PathBuf::from("."));
        RunContext {
            command_line: std::env::args().collect(),
            commit: git_commit(&dir),
            rustc: built_with_rustc().map(str::to_owned),
            ..RunContext::new(host)
        }
    }
}

/// `rustc -V` of the compiler that built this library (empty when its build could not ask).
pub fn built_with_rustc() -> Option<&'static str> {
    Some(env!("JOULETRACE_RUSTC_VERSION")).filter(|s| !s.is_empty())
}

fn output(cmd: &mut Command) -> Option<String> {
    let out = cmd.output().ok()?;
    out.status
        .success()
        .then(|| String::from_utf8_lossy(&out.stdout).trim().to_owned())
}

/// `git rev-parse HEAD` in `dir`, with `-dirty` when tracked files have uncommitted changes;
/// `None` outside a repository or without git.
pub fn git_commit(dir: &Path) -> Option<String> {
    let git = |args: &[&str]| output(Command::new("git").arg("-C").arg(dir).args(args));
    let head = git(&["rev-parse", "HEAD"])?;
    let dirty =
        git(&["status", "--porcelain", "--untracked-files=no"]).is_some_and(|s| !s.is_empty());
    Some(if dirty { format!("{head}-dirty") } else { head })
}

/// `rustc -V` of `rustc` run in `dir`, so that a `rust-toolchain.toml` there (through rustup's
/// proxy) picks the same compiler cargo picks for that directory.
pub fn rustc_version(rustc: &OsStr, dir: &Path) -> Option<String> {
    output(Command::new(rustc).arg("-V").current_dir(dir)).filter(|v| !v.is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn commit_is_none_outside_a_repository() {
        let dir = tempfile::tempdir().unwrap();
        assert_eq!(git_commit(dir.path()), None);
    }

    #[test]
    fn rustc_version_names_the_compiler() {
        let dir = tempfile::tempdir().unwrap();
        let rustc = std::env::var_os("RUSTC").unwrap_or_else(|| "rustc".into());
        let v = rustc_version(&rustc, dir.path()).expect("rustc runs");
        assert!(v.starts_with("rustc "), "{v}");
        assert_eq!(
            rustc_version(OsStr::new("/no/such/rustc"), dir.path()),
            None
        );
    }
}
