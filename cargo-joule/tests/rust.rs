//! `cargo joule measure` with Rust candidates given as source (issue 16): the real binary builds
//! them in the sandbox with the real toolchain and measures them with the real engine on the
//! estimate meter. One problem, five kinds of candidate — two correct, one wrong, one that does
//! not compile, one that panics, one that never returns — each classified, the correct ones
//! ranked with intervals.
//!
//! The build cache (and with it the support library, built once per cache) is the one every
//! test binary of the workspace shares: `target/tmp/rust-build-cache`.

mod common;

use std::path::{Path, PathBuf};

use common::{cargo_joule, run};
use jouletrace::results::{RunResults, Status};

/// The five kinds, one request per line (shared with the service's HTTP test).
fn five_kinds() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/fixtures/rust-candidates/five_kinds.jsonl")
}

/// The build cache every test binary shares, and cargo's target dir for the support library
/// (so a release build of the workspace is reused).
pub fn build_env() -> [(&'static str, PathBuf); 2] {
    let tmp = PathBuf::from(env!("CARGO_TARGET_TMPDIR"));
    let target = tmp.parent().expect("target/tmp has a parent").to_path_buf();
    [
        (
            "JOULETRACE_BUILD_CACHE",
            jouletrace::rust_source::test_build_base(&tmp).join("rust-build-cache"),
        ),
        ("JOULETRACE_SUPPORT_TARGET_DIR", target),
    ]
}

#[test]
fn five_kinds_of_rust_candidate_are_classified_and_the_correct_ones_ranked() {
    let dir = tempfile::tempdir().unwrap();
    let mut cmd = cargo_joule();
    cmd.args(["measure", five_kinds().to_str().unwrap(), "--target-dir"])
        .arg(dir.path().join("target"))
        .args(["--trials", "2", "--max-trials", "4", "--time-budget", "1s"])
        .env("JOULETRACE_METER", "estimate")
        .env("JOULETRACE_MIN_SAMPLE_TIME", "5ms")
        .env("JOULETRACE_IDLE_WINDOW", "100ms")
        .env("JOULETRACE_SETTLE_TIMEOUT", "1ms");
    for (k, v) in build_env() {
        cmd.env(k, v);
    }
    let out = run(&mut cmd);
    // Failed candidates make the run fail, as for `cargo joule`.
    assert_eq!(out.code, 1, "{}\n{}", out.stdout, out.stderr);
    let r = RunResults::load(&dir.path().join("target/joule/results.json")).unwrap();

    let status = |name: &str| {
        r.candidates()
            .find(|c| c.name == name)
            .unwrap_or_else(|| panic!("no candidate {name}"))
    };
    for (name, expected) in [
        ("iterator", Status::Passed),
        ("indexed_loop", Status::Passed),
        ("wrong", Status::WrongAnswer),
        ("does_not_compile", Status::CompileError),
        ("panics", Status::Panic),
        ("endless", Status::Timeout),
    ] {
        assert_eq!(
            status(name).status,
            expected,
            "{name}: {:?}",
            status(name).check.failure
        );
    }
    let wrong = status("wrong").check.failure.clone().unwrap();
    assert_eq!(
        (wrong.expected.as_deref(), wrong.actual.as_deref()),
        (Some("14"), Some("6")),
        "expected as its JSON, actual as Rust shows it"
    );
    let compile = status("does_not_compile").check.failure.clone().unwrap();
    assert!(
        compile.message.contains("error[E0425]") && compile.message.contains("offset"),
        "the compiler's own message: {}",
        compile.message
    );
    assert!(
        status("panics")
            .check
            .failure
            .as_ref()
            .unwrap()
            .message
            .contains("index out of bounds"),
        "{:?}",
        status("panics").check.failure
    );
    // Every candidate is in its problem, the refused one with the others.
    assert_eq!(r.problems.len(), 1);
    let problem = &r.problems[0];
    assert_eq!(problem.name, "sum_of_squares");
    assert_eq!(problem.candidates.len(), 6);
    assert_eq!(problem.cases.len(), 2);

    // The two correct candidates are ranked on each case, with intervals.
    assert_eq!(problem.rankings.len(), 2, "{:?}", problem.rankings);
    for ranking in &problem.rankings {
        let names: Vec<&str> = ranking
            .entries
            .iter()
            .map(|e| e.candidate.as_str())
            .collect();
        assert_eq!(names.len(), 2, "{names:?}");
        assert!(
            names.contains(&"iterator") && names.contains(&"indexed_loop"),
            "{names:?}"
        );
        let second = &ranking.entries[1].ratio_to_best;
        assert!(
            second.lower <= second.point && second.point <= second.upper,
            "{second:?}"
        );
    }
    for name in ["iterator", "indexed_loop"] {
        for m in &status(name).measurements {
            assert!(m.failure.is_none(), "{name}: {:?}", m.failure);
            assert!(!m.samples.is_empty());
            // Compiled code calls through the harness's loop, as a `#[joule_bench]` does: no
            // empty twin is asked for (a Rust worker refuses one) and nothing is subtracted.
            assert!(m.loop_overhead.is_none(), "{name}: {:?}", m.loop_overhead);
        }
    }

    // The environment names the compiler that built them; the binary ran metered from outside.
    let rustc = r.environment.rustc.as_deref().unwrap_or_default();
    assert!(rustc.starts_with("rustc "), "{rustc:?}");
    let host = r
        .run
        .hosts
        .iter()
        .find(|h| h.host.language == "rust")
        .expect("a Rust host");
    assert_eq!(
        host.host.metering,
        jouletrace::results::Metering::Orchestrator
    );
    assert_eq!(host.host.version, rustc);
    assert_eq!(
        r.environment.sandbox.as_ref().map(|s| s.level.as_str()),
        Some("full"),
        "untrusted code ran in the sandbox"
    );
    assert!(
        out.stderr.contains("does_not_compile: compile_error"),
        "{}",
        out.stderr
    );
}
