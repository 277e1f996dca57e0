//! Configuration errors end the run before anything is built: exit status 2, naming the file
//! and the key. (These run `cargo metadata` on a fixture workspace, never a build.)

mod common;

use common::{cargo_joule, edit, fixture_copy, run};

#[test]
fn unknown_package_key_exits_2_naming_file_and_key() {
    let ws = fixture_copy("gating");
    let manifest = ws.path().join("alpha/Cargo.toml");
    let text = std::fs::read_to_string(&manifest).unwrap();
    std::fs::write(
        &manifest,
        format!("{text}\n[package.metadata.joule]\ntrails = 3\n"),
    )
    .unwrap();
    let out = run(cargo_joule().arg("--workspace").current_dir(ws.path()));
    assert_eq!(out.code, 2, "{out}");
    assert!(out.stderr.contains("alpha/Cargo.toml"), "{out}");
    assert!(out.stderr.contains("[package.metadata.joule]"), "{out}");
    assert!(out.stderr.contains("unknown key `trails`"), "{out}");
    assert!(out.stderr.contains("did you mean `trials`?"), "{out}");
    assert!(
        out.stderr.contains("allowed keys: meter, cores, trials"),
        "{out}"
    );
    assert!(
        !out.stderr.contains("Compiling"),
        "nothing may be built: {out}"
    );
}

#[test]
fn bad_workspace_value_exits_2_naming_key_and_allowed_values() {
    let ws = fixture_copy("gating");
    edit(
        &ws.path().join("Cargo.toml"),
        "meter = \"estimate\"",
        "meter = \"rapl\"",
    );
    let out = run(cargo_joule().arg("--workspace").current_dir(ws.path()));
    assert_eq!(out.code, 2, "{out}");
    assert!(
        out.stderr
            .contains("[workspace.metadata.joule] key `meter`"),
        "{out}"
    );
    assert!(out.stderr.contains("\"rapl\""), "{out}");
    assert!(out.stderr.contains("\"powercap\""), "{out}");
}

#[test]
fn bad_environment_value_exits_2_naming_the_variable() {
    let ws = fixture_copy("gating");
    let out = run(cargo_joule()
        .arg("--workspace")
        .env("JOULETRACE_TIMEOUT", "soon")
        .current_dir(ws.path()));
    assert_eq!(out.code, 2, "{out}");
    assert!(out.stderr.contains("JOULETRACE_TIMEOUT"), "{out}");
}

/// Issue 12: `JOULETRACE_TRAILS=10` was ignored without a word while `JOULETRACE_TRIALS=ten`
/// was refused.
#[test]
fn unknown_jouletrace_variables_are_warned_about_with_the_closest_name() {
    let ws = fixture_copy("gating");
    let out = run(cargo_joule()
        .arg("--workspace")
        .env("JOULETRACE_TRAILS", "10")
        // A bad value stops the run before anything is built; the warning comes first.
        .env("JOULETRACE_TIMEOUT", "soon")
        .current_dir(ws.path()));
    assert_eq!(out.code, 2, "{out}");
    assert!(
        out.stderr.contains(
            "warning: environment variable JOULETRACE_TRAILS is not a JouleTrace setting and is \
             ignored; did you mean JOULETRACE_TRIALS?"
        ),
        "{out}"
    );
    assert!(!out.stderr.contains("JOULETRACE_TIMEOUT is not"), "{out}");
}

#[test]
fn packages_that_disagree_exit_2() {
    let ws = fixture_copy("gating");
    for (pkg, meter) in [("alpha", "perf"), ("beta", "powercap")] {
        let manifest = ws.path().join(pkg).join("Cargo.toml");
        let text = std::fs::read_to_string(&manifest).unwrap();
        std::fs::write(
            &manifest,
            format!("{text}\n[package.metadata.joule]\nmeter = \"{meter}\"\n"),
        )
        .unwrap();
    }
    let out = run(cargo_joule().arg("--workspace").current_dir(ws.path()));
    assert_eq!(out.code, 2, "{out}");
    assert!(
        out.stderr.contains("`meter` is set to different values"),
        "{out}"
    );
    // One package alone has no conflict; its own setting is then taken (and fails later or not,
    // but not with a conflict).
    let out = run(cargo_joule()
        .args(["-p", "alpha", "--no-measure", "--baseline", "none"])
        .current_dir(ws.path()));
    assert!(!out.stderr.contains("different values"), "{out}");
}

#[test]
fn missing_baseline_exits_2_before_building() {
    let ws = fixture_copy("gating");
    let out = run(cargo_joule()
        .args(["--workspace", "--baseline", "main", "--target-dir"])
        .arg(ws.path().join("target"))
        .current_dir(ws.path()));
    assert_eq!(out.code, 2, "{out}");
    assert!(out.stderr.contains("no baseline `main`"), "{out}");
    assert!(out.stderr.contains("--save-baseline main"), "{out}");
    assert!(
        !ws.path().join("target/bench").exists(),
        "nothing may be built: {out}"
    );
}

#[test]
fn selections_without_benches_exit_2() {
    let ws = fixture_copy("gating");
    let out = run(cargo_joule().args(["-p", "plain"]).current_dir(ws.path()));
    assert_eq!(out.code, 2, "{out}");
    assert!(out.stderr.contains("depends on jouletrace"), "{out}");
    let out = run(cargo_joule().args(["-p", "nope"]).current_dir(ws.path()));
    assert_eq!(out.code, 2, "{out}");
    assert!(
        out.stderr.contains("package `nope` is not a member"),
        "{out}"
    );
    let out = run(cargo_joule()
        .args(["--workspace", "--bench", "nope"])
        .current_dir(ws.path()));
    assert_eq!(out.code, 2, "{out}");
    assert!(out.stderr.contains("no bench target named `nope`"), "{out}");
}

#[test]
fn bad_export_exits_2() {
    let ws = fixture_copy("gating");
    let out = run(cargo_joule()
        .args(["--workspace", "--export", "csv=x"])
        .current_dir(ws.path()));
    assert_eq!(out.code, 2, "{out}");
    assert!(out.stderr.contains("unknown export format `csv`"), "{out}");
}
