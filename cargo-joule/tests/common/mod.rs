//! Helpers for driving the built `cargo-joule` binary.

#![allow(dead_code, reason = "each test file uses part of the helpers")]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use jouletrace::energy::{Backend, Provenance};
use jouletrace::results::RunResults;
use jouletrace::units::Joules;

pub fn cargo_joule() -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_cargo-joule"));
    // As cargo runs it.
    cmd.arg("joule");
    cmd.env_remove("CARGO_TARGET_DIR")
        .env_remove("GITHUB_STEP_SUMMARY");
    for (k, _) in std::env::vars() {
        if k.starts_with("JOULETRACE_") {
            cmd.env_remove(k);
        }
    }
    // Off the machine's default lock: these tests need not wait for someone's real runs.
    cmd.env(
        "JOULETRACE_LOCK_PATH",
        Path::new(env!("CARGO_TARGET_TMPDIR")).join("cargo-joule-tests.lock"),
    );
    cmd
}

pub struct Run {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

pub fn run(cmd: &mut Command) -> Run {
    let Output {
        status,
        stdout,
        stderr,
    } = cmd.output().expect("cargo-joule runs");
    Run {
        code: status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&stdout).into_owned(),
        stderr: String::from_utf8_lossy(&stderr).into_owned(),
    }
}

impl std::fmt::Display for Run {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "exit {}\n--- stdout\n{}\n--- stderr\n{}",
            self.code, self.stdout, self.stderr
        )
    }
}

pub fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures")
}

/// A measured (perf, package-0) run on "AMD EPYC 7B13" of problem `sort`: `sort::std_sort`
/// (about 1 µJ per call) and `sort::bubble` (about 4 µJ), six samples each.
pub fn base() -> RunResults {
    RunResults::load(&fixtures().join("results/base.json")).expect("fixture loads")
}

/// Multiplies every energy of `candidate` by `factor`.
pub fn scale(results: &mut RunResults, candidate: &str, factor: f64) {
    for p in &mut results.problems {
        for c in p.candidates.iter_mut().filter(|c| c.id == candidate) {
            for m in &mut c.measurements {
                for s in &mut m.samples {
                    for e in &mut s.energy {
                        e.gross = Joules(e.gross.get() * factor);
                        e.net = Joules(e.net.get() * factor);
                    }
                }
            }
        }
    }
}

/// The same numbers, as if from the estimate meter.
pub fn estimated(mut results: RunResults) -> RunResults {
    let meter = results.meter.as_mut().expect("measured fixture");
    meter.backend = Backend::Estimate;
    meter.provenance = Provenance::Estimated;
    meter.estimated = true;
    results
}

/// Keeps only the candidates whose id is in `ids`.
pub fn only(mut results: RunResults, ids: &[&str]) -> RunResults {
    for p in &mut results.problems {
        p.candidates.retain(|c| ids.contains(&c.id.as_str()));
    }
    results
}

pub fn write(dir: &Path, name: &str, results: &RunResults) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, results.to_json()).unwrap();
    path
}

/// Path of the jouletrace library crate, for fixture manifests.
pub fn jouletrace_path() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../jouletrace-harness")
        .canonicalize()
        .unwrap()
}

/// A copy of `tests/fixtures/NAME` in a temporary directory, its `jouletrace` path dependencies
/// pointed at this repository's library.
pub fn fixture_copy(name: &str) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    copy_tree(&fixtures().join(name), dir.path());
    let lib = jouletrace_path();
    for manifest in walk(dir.path())
        .into_iter()
        .filter(|p| p.ends_with("Cargo.toml"))
    {
        let text = std::fs::read_to_string(&manifest).unwrap();
        let text = text.replace(
            "../../../../../jouletrace-harness",
            &lib.display().to_string(),
        );
        std::fs::write(&manifest, text).unwrap();
    }
    dir
}

/// Replaces `from` by `to` in `file`, which must contain it.
pub fn edit(file: &Path, from: &str, to: &str) {
    let text = std::fs::read_to_string(file).unwrap();
    assert!(text.contains(from), "{} lacks `{from}`", file.display());
    std::fs::write(file, text.replace(from, to)).unwrap();
}

fn copy_tree(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let dest = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            copy_tree(&entry.path(), &dest);
        } else {
            std::fs::copy(entry.path(), dest).unwrap();
        }
    }
}

fn walk(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            out.extend(walk(&path));
        } else {
            out.push(path);
        }
    }
    out
}
