//! `cargo joule compare OLD NEW` on hand-made results files.

mod common;

use common::{base, cargo_joule, estimated, only, run, scale, write};
use jouletrace::results::Status;

#[test]
fn doubled_candidate_is_a_regression_named_with_change_and_interval() {
    let dir = tempfile::tempdir().unwrap();
    let old = write(dir.path(), "old.json", &base());
    let mut new = base();
    scale(&mut new, "sort::bubble", 2.0);
    let new = write(dir.path(), "new.json", &new);
    let out = run(cargo_joule().arg("compare").arg(&old).arg(&new));
    assert_eq!(out.code, 3, "{out}");
    let line = out
        .stderr
        .lines()
        .find(|l| l.contains("REGRESSED"))
        .unwrap_or_else(|| panic!("no regression line: {out}"));
    assert!(line.contains("sort::bubble"), "{line}");
    assert!(line.contains("+100.0%"), "{line}");
    assert!(line.contains("95% CI +"), "{line}");
    assert!(line.contains("threshold 5.0%"), "{line}");
    assert!(!out.stderr.contains("sort::std_sort (case"), "{out}");
}

#[test]
fn unchanged_run_exits_0() {
    let dir = tempfile::tempdir().unwrap();
    let old = write(dir.path(), "old.json", &base());
    let mut new = base();
    scale(&mut new, "sort::bubble", 1.01);
    let new = write(dir.path(), "new.json", &new);
    let out = run(cargo_joule().args(["compare", "-v"]).arg(&old).arg(&new));
    assert_eq!(out.code, 0, "{out}");
    assert!(out.stderr.contains("unchanged sort::bubble"), "{out}");
}

#[test]
fn a_threshold_flag_overrides_the_runs_threshold() {
    let dir = tempfile::tempdir().unwrap();
    let old = write(dir.path(), "old.json", &base());
    let mut new = base();
    scale(&mut new, "sort::bubble", 2.0);
    let new = write(dir.path(), "new.json", &new);
    let out = run(cargo_joule()
        .arg("compare")
        .arg(&old)
        .arg(&new)
        .args(["--threshold", "150%"]));
    assert_eq!(
        out.code, 2,
        "a threshold of 150% is not a fraction below 100%: {out}"
    );
    assert!(out.stderr.contains("flag --threshold"), "{out}");
    let out = run(cargo_joule()
        .arg("compare")
        .arg(&old)
        .arg(&new)
        .args(["--threshold", "50%"]));
    assert_eq!(out.code, 3, "{out}");
    assert!(out.stderr.contains("threshold 50.0%"), "{out}");
}

#[test]
fn estimated_against_measured_is_refused_and_forcing_is_marked() {
    let dir = tempfile::tempdir().unwrap();
    let old = write(dir.path(), "old.json", &base());
    let mut est = estimated(base());
    scale(&mut est, "sort::bubble", 2.0);
    let new = write(dir.path(), "new.json", &est);
    let out = run(cargo_joule().arg("compare").arg(&old).arg(&new));
    assert_eq!(out.code, 2, "{out}");
    assert!(
        out.stderr
            .contains("the baseline is measured and this run is estimated"),
        "{out}"
    );
    assert!(out.stderr.contains("--force-compare"), "{out}");

    let out = run(cargo_joule()
        .arg("compare")
        .arg(&old)
        .arg(&new)
        .arg("--force-compare"));
    assert_eq!(out.code, 3, "{out}");
    assert!(out.stderr.contains("FORCED"), "{out}");
    assert!(
        out.stderr
            .contains("forced comparison: the baseline is measured"),
        "{out}"
    );
    assert!(out.stderr.contains("estimated energy per call"), "{out}");
}

#[test]
fn json_message_format_emits_the_comparison() {
    let dir = tempfile::tempdir().unwrap();
    let old = write(dir.path(), "old.json", &base());
    let mut new = base();
    scale(&mut new, "sort::std_sort", 0.5);
    let new = write(dir.path(), "new.json", &new);
    let out = run(cargo_joule()
        .args(["compare", "--message-format", "json"])
        .arg(&old)
        .arg(&new));
    assert_eq!(out.code, 0, "{out}");
    let event: serde_json::Value =
        serde_json::from_str(out.stdout.lines().next().unwrap()).unwrap();
    assert_eq!(event["event"], "baseline_comparison");
    let entries = event["comparison"]["entries"].as_array().unwrap();
    let std_sort = entries
        .iter()
        .find(|e| e["candidate"] == "sort::std_sort")
        .unwrap();
    assert_eq!(std_sort["verdict"], "improved");
}

#[test]
fn unreadable_files_exit_2_naming_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let old = write(dir.path(), "old.json", &base());
    let bad = dir.path().join("bad.json");
    std::fs::write(&bad, r#"{"schema_version": "9.0"}"#).unwrap();
    let out = run(cargo_joule().arg("compare").arg(&old).arg(&bad));
    assert_eq!(out.code, 2, "{out}");
    assert!(
        out.stderr.contains("bad.json") && out.stderr.contains("9.0"),
        "{out}"
    );
}

#[test]
fn removed_and_failed_candidates_are_missing_never_zero_and_never_a_regression() {
    let dir = tempfile::tempdir().unwrap();
    let old = write(dir.path(), "old.json", &base());
    // `bubble` gone from the new run.
    let removed = write(
        dir.path(),
        "removed.json",
        &only(base(), &["sort::std_sort"]),
    );
    let out = run(cargo_joule()
        .args(["compare", "-v"])
        .arg(&old)
        .arg(&removed));
    assert_eq!(out.code, 0, "a missing entry is not a regression: {out}");
    assert!(
        out.stderr
            .contains("warning: sort::bubble: in the baseline but not in this run"),
        "{out}"
    );
    let line = out
        .stderr
        .lines()
        .find(|l| l.contains("missing sort::bubble"))
        .unwrap_or_else(|| panic!("no missing line: {out}"));
    assert!(
        line.contains("no change: removed: in the baseline but not in this run"),
        "{line}"
    );
    assert!(line.ends_with("→ —"), "{line}");
    assert!(!line.contains(" 0 J") && !line.contains("0.000"), "{line}");

    // `bubble` failed its check in the new run.
    let mut failed = base();
    let c = failed
        .problems
        .iter_mut()
        .flat_map(|p| p.candidates.iter_mut())
        .find(|c| c.id == "sort::bubble")
        .unwrap();
    c.status = Status::WrongAnswer;
    c.check.status = c.status;
    c.measurements.clear();
    let failed = write(dir.path(), "failed.json", &failed);
    let out = run(cargo_joule()
        .args(["compare", "--message-format", "json"])
        .arg(&old)
        .arg(&failed));
    assert_eq!(out.code, 0, "{out}");
    let event: serde_json::Value =
        serde_json::from_str(out.stdout.lines().next().unwrap()).unwrap();
    let bubble: Vec<_> = event["comparison"]["entries"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["candidate"] == "sort::bubble")
        .collect();
    assert!(!bubble.is_empty(), "{event}");
    for e in bubble {
        assert_eq!(e["verdict"], "missing", "{e}");
        assert!(e["new_energy_per_call_j"].is_null(), "{e}");
        assert!(e["change"].is_null(), "{e}");
        assert!(e["old_energy_per_call_j"].as_f64().unwrap() > 0.0, "{e}");
        assert_eq!(e["reason"], "not measured in this run: wrong_answer", "{e}");
    }
}
