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

pub fn probe(config: &RunConfig) -> Environment {
    let _ = config;
    let cpuinfo = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
    let field = |name: &str| {
        cpuinfo
            .lines()
            .find(|l| l.starts_with(name))
            .and_then(|l| l.split_once(':'))
            .map(|(_, v)| v.trim().to_owned())
    };
    let uname = nix::sys::utsname::uname().ok();
    Environment {
        cpu_model: field("model name"),
        cpu_vendor: field("vendor_id"),
        kernel: uname
            .as_ref()
            .map(|u| u.release().to_string_lossy().into_owned()),
        os: std::env::consts::OS.into(),
        arch: std::env::consts::ARCH.into(),
        hostname: uname
            .as_ref()
            .map(|u| u.nodename().to_string_lossy().into_owned()),
        logical_cpus: std::thread::available_parallelism().map_or(1, |n| n.get() as u32),
        commit: commit(),
        rustc: Some(env!("JOULETRACE_RUSTC_VERSION").to_owned()).filter(|s| !s.is_empty()),
        ..Environment::default()
    }
}
