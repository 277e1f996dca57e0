//! End to end on the fixture workspace `tests/fixtures/gating`: build, check and measure (with the
//! estimate meter, which works everywhere), save a baseline, catch a doubled candidate (exit 3),
//! pass an unchanged rerun (exit 0), fail a broken candidate (exit 1), and merge shards into the
//! unsharded set of candidates.
//!
//! One test, in order: each step builds on the files the previous one left in the target
//! directory. The target directory lives in CARGO_TARGET_TMPDIR so the fixture's build (jouletrace
//! in the bench profile) is reused from one test run to the next.

mod common;

use std::collections::BTreeSet;
use std::path::Path;

use common::{cargo_joule, edit, fixture_copy, run};
use jouletrace::results::{ChangeVerdict, RunResults, Status};

fn ids(results: &RunResults) -> BTreeSet<String> {
    results.candidates().map(|c| c.id.clone()).collect()
}

fn results(target: &Path) -> RunResults {
    RunResults::load(&target.join("joule/results.json")).expect("results.json written")
}

#[test]
fn baseline_regression_unchanged_broken_and_shards() {
    let ws = fixture_copy("gating");
    let target = Path::new(env!("CARGO_TARGET_TMPDIR")).join("gating-target");
    let _ = std::fs::remove_dir_all(target.join("joule"));
    let joule = |args: &[&str]| {
        let mut cmd = cargo_joule();
        cmd.args(["--workspace", "--target-dir"])
            .arg(&target)
            .args(args)
            .current_dir(ws.path());
        run(&mut cmd)
    };
    let work = ws.path().join("alpha/benches/work.rs");
    let all: BTreeSet<String> = [
        "more::fast",
        "more::slow",
        "work::broken",
        "work::scaled",
        "work::steady",
    ]
    .map(String::from)
    .into();

    // 1. Everything passes; the baseline is saved.
    let first = joule(&["--save-baseline", "main"]);
    assert_eq!(first.code, 0, "{first}");
    let r = results(&target);
    assert_eq!(
        ids(&r),
        all,
        "one engine run covers both packages, and not `plain`"
    );
    assert!(r.is_estimated());
    // Issue 12: the estimate's note comes once per run (two binaries here), on one short line.
    // (The fixture forces the estimate; the fallback's note, which points at `cargo joule
    // doctor`, is held to the same in energy::select's tests.)
    let notes: Vec<&str> = first
        .stderr
        .lines()
        .filter(|l| l.starts_with("note:") && l.contains("ESTIMATED"))
        .collect();
    assert_eq!(notes.len(), 1, "{first}");
    assert!(notes[0].chars().count() <= 150, "{}", notes[0]);
    assert!(
        r.candidates().all(|c| c.status == Status::Passed),
        "{first}"
    );
    assert!(target.join("joule/baselines/main.json").is_file());

    // 2. `scaled` does its work twice: a regression, named with its change and interval.
    edit(&work, "const FACTOR: u64 = 1;", "const FACTOR: u64 = 2;");
    let doubled = joule(&["--baseline", "main"]);
    assert_eq!(doubled.code, 3, "{doubled}");
    let line = doubled
        .stderr
        .lines()
        .find(|l| l.contains("REGRESSED"))
        .unwrap_or_else(|| panic!("no regression line: {doubled}"));
    assert!(
        line.contains("work::scaled") && line.contains("% CI"),
        "{line}"
    );
    let comparison = results(&target).baseline.expect("comparison recorded");
    let regressed: Vec<&str> = comparison
        .entries
        .iter()
        .filter(|e| e.verdict == ChangeVerdict::Regressed)
        .map(|e| e.candidate.as_str())
        .collect();
    assert_eq!(regressed, ["work::scaled"], "{doubled}");

    // 3. Back to normal: an unchanged rerun passes.
    edit(&work, "const FACTOR: u64 = 2;", "const FACTOR: u64 = 1;");
    let bmf = ws.path().join("out/bmf.json");
    let junit = ws.path().join("out/junit.xml");
    let summary = ws.path().join("step-summary.md");
    let mut cmd = cargo_joule();
    cmd.args(["--workspace", "--baseline", "main", "--target-dir"])
        .arg(&target)
        .arg("--export")
        .arg(format!("bmf={}", bmf.display()))
        .arg("--export")
        .arg(format!("junit={}", junit.display()))
        .env("GITHUB_STEP_SUMMARY", &summary)
        .current_dir(ws.path());
    let unchanged = run(&mut cmd);
    assert_eq!(unchanged.code, 0, "{unchanged}");
    let bmf: serde_json::Value = serde_json::from_slice(&std::fs::read(&bmf).unwrap()).unwrap();
    assert!(bmf.as_object().is_some_and(|o| !o.is_empty()), "{bmf}");
    assert!(
        std::fs::read_to_string(&junit)
            .unwrap()
            .contains("<testsuite")
    );
    assert!(!std::fs::read_to_string(&summary).unwrap().is_empty());
    assert!(target.join("joule/report.html").is_file());

    // 4. A wrong answer: exit 1, the candidate named.
    edit(&work, "const OFFSET: u64 = 0;", "const OFFSET: u64 = 1;");
    let broken = joule(&["--no-measure"]);
    assert_eq!(broken.code, 1, "{broken}");
    assert!(
        broken.stderr.contains("FAILED work::broken (wrong_answer)"),
        "{broken}"
    );
    edit(&work, "const OFFSET: u64 = 1;", "const OFFSET: u64 = 0;");

    // 5. Shards, checked only: merged, they are the unsharded run's candidates.
    for kind in ["hash", "slice"] {
        let mut shards = Vec::new();
        for m in 1..=2 {
            let part = format!("{kind}:{m}/2");
            let shard = joule(&["--no-measure", "--partition", &part]);
            assert_eq!(shard.code, 0, "{shard}");
            let r = results(&target);
            assert_eq!(r.run.partition.as_deref(), Some(part.as_str()));
            let copy = ws.path().join(format!("shard-{kind}-{m}.json"));
            std::fs::copy(target.join("joule/results.json"), &copy).unwrap();
            shards.push(copy);
        }
        let merged_path = ws.path().join(format!("merged-{kind}.json"));
        let merged = run(cargo_joule()
            .arg("merge")
            .args(&shards)
            .arg("-o")
            .arg(&merged_path));
        assert_eq!(merged.code, 0, "{merged}");
        let merged = RunResults::load(&merged_path).unwrap();
        assert_eq!(ids(&merged), all, "{kind}");
    }

    // 6. `list` agrees with what ran.
    let listed = joule(&[]).code;
    assert_eq!(listed, 0);
    // Issue 12: an ignored candidate is listed as ignored, not like the others.
    let more = ws.path().join("beta/benches/more.rs");
    let lazy = "#[joule_bench(problem = \"more\", ignore)]\nfn lazy(v: Vec<u32>) -> u32 {\n    \
                v.into_iter().max().unwrap_or(0)\n}\n\njouletrace::main!();";
    edit(&more, "jouletrace::main!();", lazy);
    let mut cmd = cargo_joule();
    cmd.args(["list", "--workspace", "--target-dir"])
        .arg(&target)
        .current_dir(ws.path());
    let list = run(&mut cmd);
    assert_eq!(list.code, 0, "{list}");
    let listed: BTreeSet<String> = list
        .stdout
        .lines()
        .filter_map(|l| l.split_whitespace().next())
        .map(String::from)
        .collect();
    let mut with_lazy = all.clone();
    with_lazy.insert("more::lazy".into());
    assert_eq!(listed, with_lazy, "{list}");
    for line in list.stdout.lines() {
        assert_eq!(
            line.ends_with("ignored"),
            line.starts_with("more::lazy "),
            "{line}"
        );
    }
    assert!(
        list.stderr
            .contains("6 candidates, 1 ignored (not run unless --include-ignored)"),
        "{list}"
    );
    edit(&more, lazy, "jouletrace::main!();");

    // 7. Ctrl-C once measuring has begun: exit 130, the partial results written and marked.
    let mut cmd = cargo_joule();
    cmd.args([
        "--workspace",
        "--message-format",
        "json",
        "--time-budget",
        "20s",
        "--trials",
        "8",
    ])
    .arg("--target-dir")
    .arg(&target)
    .current_dir(ws.path())
    .stdout(std::process::Stdio::piped())
    .stderr(std::process::Stdio::null());
    let mut child = cmd.spawn().unwrap();
    let stdout = std::io::BufReader::new(child.stdout.take().unwrap());
    let mut lines = std::io::BufRead::lines(stdout);
    let started = lines
        .by_ref()
        .map_while(Result::ok)
        .any(|l| l.contains("\"event\":\"measure_finished\""));
    assert!(started, "no measurement finished");
    let pid = child.id().to_string();
    assert!(
        std::process::Command::new("kill")
            .args(["-INT", &pid])
            .status()
            .unwrap()
            .success()
    );
    let rest: Vec<String> = lines.map_while(Result::ok).collect();
    let status = child.wait().unwrap();
    assert_eq!(status.code(), Some(130), "{rest:?}");
    let finished: serde_json::Value =
        serde_json::from_str(rest.last().expect("a finished event")).unwrap();
    assert_eq!(finished["event"], "finished");
    assert_eq!(finished["exit_code"], 130);
    let partial = results(&target);
    assert!(!partial.run.complete, "interrupted run marked complete");
}
