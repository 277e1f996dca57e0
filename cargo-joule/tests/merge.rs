//! `cargo joule merge`: shard results combine into one file and one verdict.

mod common;

use std::collections::BTreeSet;

use common::{base, cargo_joule, only, run, scale, write};
use jouletrace::results::RunResults;

fn ids(r: &RunResults) -> BTreeSet<String> {
    r.candidates().map(|c| c.id.clone()).collect()
}

#[test]
fn shards_merge_into_the_unsharded_set_with_one_ranking() {
    let dir = tempfile::tempdir().unwrap();
    let mut a = only(base(), &["sort::std_sort"]);
    a.run.partition = Some("hash:1/2".into());
    let mut b = only(base(), &["sort::bubble"]);
    b.run.partition = Some("hash:2/2".into());
    let (a, b) = (
        write(dir.path(), "a.json", &a),
        write(dir.path(), "b.json", &b),
    );
    let out_path = dir.path().join("merged.json");
    let out = run(cargo_joule()
        .arg("merge")
        .arg(&a)
        .arg(&b)
        .arg("-o")
        .arg(&out_path));
    assert_eq!(out.code, 0, "{out}");
    let merged = RunResults::load(&out_path).unwrap();
    assert_eq!(ids(&merged), ids(&base()));
    assert_eq!(merged.run.partition, None);
    let ranking = &merged.problems[0].rankings[0];
    assert_eq!(ranking.case, "big");
    let order: Vec<&str> = ranking
        .entries
        .iter()
        .map(|e| e.candidate.as_str())
        .collect();
    assert_eq!(order, ["std_sort", "bubble"]);
    let bubble = &ranking.entries[1];
    assert!((bubble.ratio_to_best.point - 4.0).abs() < 0.1, "{bubble:?}");
    assert!(
        bubble.verdict.contains("bubble uses 4.0"),
        "{}",
        bubble.verdict
    );
    assert_eq!(ranking.entries[0].significant_vs_next, Some(true));
}

#[test]
fn overlapping_shards_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let a = write(dir.path(), "a.json", &base());
    let b = write(dir.path(), "b.json", &only(base(), &["sort::bubble"]));
    let out = run(cargo_joule()
        .arg("merge")
        .arg(&a)
        .arg(&b)
        .arg("-o")
        .arg(dir.path().join("m.json")));
    assert_eq!(out.code, 2, "{out}");
    assert!(
        out.stderr.contains("sort::bubble was run by two shards"),
        "{out}"
    );
}

#[test]
fn a_regression_in_one_shard_is_the_verdict_of_the_merge() {
    let dir = tempfile::tempdir().unwrap();
    let tmp = tempfile::tempdir().unwrap();
    let old = write(tmp.path(), "old.json", &base());
    let mut shards = Vec::new();
    for (i, id) in ["sort::std_sort", "sort::bubble"].iter().enumerate() {
        let mut shard = only(base(), &[id]);
        shard.run.partition = Some(format!("hash:{}/2", i + 1));
        if *id == "sort::bubble" {
            scale(&mut shard, id, 2.0);
        }
        // Each shard compared with the same baseline, as `--baseline main` would.
        let opts = jouletrace::baseline::CompareOptions::from_settings(&shard.settings);
        let old_r = RunResults::load(&old).unwrap();
        shard.baseline = Some(
            jouletrace::baseline::compare(&old_r, &shard, "main", "main.json", &opts).unwrap(),
        );
        shards.push(write(dir.path(), &format!("s{i}.json"), &shard));
    }
    let out_path = dir.path().join("merged.json");
    let out = run(cargo_joule()
        .arg("merge")
        .args(&shards)
        .arg("-o")
        .arg(&out_path));
    assert_eq!(out.code, 3, "{out}");
    assert!(
        out.stderr.contains("REGRESSED") && out.stderr.contains("sort::bubble"),
        "{out}"
    );
    let merged = RunResults::load(&out_path).unwrap();
    assert_eq!(merged.baseline.unwrap().entries.len(), 2);
}

#[test]
fn a_failed_candidate_in_a_shard_exits_1() {
    let dir = tempfile::tempdir().unwrap();
    let mut failing = only(base(), &["sort::bubble"]);
    let c = &mut failing.problems[0].candidates[0];
    c.status = jouletrace::results::Status::WrongAnswer;
    c.check.status = c.status;
    c.measurements.clear();
    let a = write(dir.path(), "a.json", &only(base(), &["sort::std_sort"]));
    let b = write(dir.path(), "b.json", &failing);
    let out = run(cargo_joule()
        .arg("merge")
        .arg(&a)
        .arg(&b)
        .arg("-o")
        .arg(dir.path().join("m.json")));
    assert_eq!(out.code, 1, "{out}");
    assert!(
        out.stderr.contains("FAILED sort::bubble (wrong_answer)"),
        "{out}"
    );
}
