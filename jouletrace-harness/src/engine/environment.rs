//! The environment a run records: machine facts plus the measured project's commit and the
//! compiler that built the bench.

use std::process::Command;

use crate::config::RunConfig;
use crate::results::Environment;

fn git(args: &[&str]) -> Option<String> {
    let out = Command::new("git").args(args).output().ok()?;
    out.status
        .success()
        .then(|| String::from_utf8_lossy(&out.stdout).trim().to_owned())
}

/// `git rev-parse HEAD` of the working directory, `-dirty` when it has uncommitted changes.
pub fn commit() -> Option<String> {
    let head = git(&["rev-parse", "HEAD"])?;
    let dirty =
        git(&["status", "--porcelain", "--untracked-files=no"]).is_some_and(|s| !s.is_empty());
    Some(if dirty { format!("{head}-dirty") } else { head })
}

/// The machine (from sysfs and procfs), plus the project's commit and the compiler.
pub fn probe(config: &RunConfig) -> Environment {
    let mut env = crate::platform::probe_environment(&crate::sysfs::Sysfs::new(&config.sysfs_root));
    env.commit = commit();
    env.rustc = Some(env!("JOULETRACE_RUSTC_VERSION").to_owned()).filter(|s| !s.is_empty());
    env
}
