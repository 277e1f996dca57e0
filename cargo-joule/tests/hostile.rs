//! End to end on `tests/fixtures/hostile`: candidates that loop forever, overflow their stack,
//! abort, write through a null pointer, allocate 64 GiB, panic on one case, answer wrongly, flood
//! stdout with 100 MB, or leave a thread spinning. Each must be classified within its limits while
//! the two good candidates beside them pass and are measured; the run ends with a results file,
//! a report, and exit status 1.

mod common;

use std::path::Path;

use common::{cargo_joule, run};
use jouletrace::results::{RunResults, Status};

#[test]
fn every_hostile_candidate_is_classified_and_the_run_goes_on() {
    let manifest =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/fixtures/hostile/Cargo.toml");
    let target = Path::new(env!("CARGO_TARGET_TMPDIR")).join("hostile-target");
    let _ = std::fs::remove_dir_all(target.join("joule"));
    let mut cmd = cargo_joule();
    cmd.arg("--manifest-path")
        .arg(&manifest)
        .arg("--target-dir")
        .arg(&target)
        .args([
            "--min-sample-time",
            "20ms",
            "--trials",
            "3",
            "--time-budget",
            "2s",
        ]);
    let out = run(&mut cmd);
    assert_eq!(out.code, 1, "a failing candidate fails the run\n{out}");

    let r = RunResults::load(&target.join("joule/results.json")).expect("results.json written");
    assert!(target.join("joule/report.html").is_file());
    let c = |name: &str| {
        r.candidates()
            .find(|c| c.name == name)
            .unwrap_or_else(|| panic!("{name} missing from the results"))
    };
    let expect = [
        ("good_iter", Status::Passed),
        ("good_loop", Status::Passed),
        ("endless_loop", Status::Timeout),
        ("stack_overflow", Status::Crashed),
        ("aborts", Status::Crashed),
        ("null_write", Status::Crashed),
        ("huge_allocation", Status::MemoryLimit),
        ("panics_on_one_case", Status::Panic),
        ("wrong_answer", Status::WrongAnswer),
        ("floods_stdout", Status::Passed),
        ("leaves_thread_spinning", Status::StrayThread),
    ];
    for (name, status) in expect {
        assert_eq!(
            c(name).status,
            status,
            "{name}: {:#?}",
            c(name).check.failure
        );
    }
    let failure = |name: &str| c(name).check.failure.clone().unwrap();
    assert_eq!(failure("endless_loop").limit.as_deref(), Some("2s"));
    assert!(failure("stack_overflow").message.contains("stack overflow"));
    assert_eq!(failure("aborts").signal.as_deref(), Some("SIGABRT"));
    assert_eq!(failure("null_write").signal.as_deref(), Some("SIGSEGV"));
    assert_eq!(
        failure("huge_allocation").limit.as_deref(),
        Some("1024 MiB")
    );
    assert!(failure("panics_on_one_case").case.is_some());
    let wrong = failure("wrong_answer");
    assert!(wrong.expected.is_some() && wrong.actual.is_some() && wrong.case.is_some());
    let flood = &c("floods_stdout").check.stdout;
    assert!(
        flood.truncated && flood.total_bytes >= 100 << 20,
        "{} bytes",
        flood.total_bytes
    );
    assert!(flood.text.len() < 200_000, "the capture is bounded");

    // Only the good candidates were measured, and the meter says what it is.
    for (name, _) in expect {
        let measured = !c(name).measurements.is_empty();
        assert_eq!(
            measured,
            matches!(name, "good_iter" | "good_loop" | "floods_stdout"),
            "{name}"
        );
    }
    assert!(
        r.meter
            .as_ref()
            .is_some_and(|m| m.estimated == r.is_estimated())
    );
}
