//! `cargo joule report FILE` re-renders the views of a saved results file.

mod common;

use common::{base, cargo_joule, run, write};

#[test]
fn report_rerenders_html_from_a_saved_file() {
    let dir = tempfile::tempdir().unwrap();
    let file = write(dir.path(), "saved.json", &base());
    let out_dir = dir.path().join("views");
    let out = run(cargo_joule()
        .arg("report")
        .arg(&file)
        .arg("--out-dir")
        .arg(&out_dir));
    assert_eq!(out.code, 0, "{out}");
    let html = std::fs::read_to_string(out_dir.join("report.html")).unwrap();
    assert!(html.contains("std_sort") && html.contains("bubble"));
}

#[test]
fn report_of_a_missing_file_exits_2() {
    let dir = tempfile::tempdir().unwrap();
    let out = run(cargo_joule()
        .arg("report")
        .arg(dir.path().join("nope.json")));
    assert_eq!(out.code, 2, "{out}");
    assert!(out.stderr.contains("nope.json"), "{out}");
}
