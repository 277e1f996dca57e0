//! `sandbox = "on"` and `"strict"` sandbox the workers of a bench binary too: the crash
//! classification is unchanged, the network is gone, and the results record the level.

use std::path::PathBuf;
use std::process::Command;

use jouletrace::pool::sandbox::{Layer, Sandbox, SandboxMode, SandboxPolicy};
use jouletrace::results::{RunResults, Status};

fn run(mode: &str, filter: &str) -> RunResults {
    run_with(mode, &[filter])
}

fn run_with(mode: &str, args: &[&str]) -> RunResults {
    let dir = tempfile::tempdir().unwrap();
    let out = Command::new(PathBuf::from(env!("CARGO_BIN_EXE_manual_registration")))
        .args(args)
        .env("CARGO_TARGET_DIR", dir.path())
        .env("JOULETRACE_SANDBOX", mode)
        .output()
        .unwrap();
    RunResults::load(&dir.path().join("joule/manual_registration/results.json"))
        .unwrap_or_else(|e| panic!("{e}\n--- stderr:\n{}", String::from_utf8_lossy(&out.stderr)))
}

fn status_of(r: &RunResults, name: &str) -> Status {
    r.candidates().find(|c| c.name == name).unwrap().status
}

/// The measured program's own CPU time is not background activity. In a PID namespace the
/// worker's pid is the sandbox's reaper and the program its child; counting from the reaper put
/// every sample of every sandboxed target (Python, Rust source, `sandbox = "on"`) at ~100%
/// "foreign" and flagged all of them, so every such run read as a busy machine.
#[test]
fn a_sandboxed_workers_own_cpu_time_is_not_background() {
    let r = run_with("on", &["--bench", "--exact", "square::square"]);
    let background = r
        .environment
        .background
        .as_ref()
        .expect("background observed");
    assert!(background.samples > 0, "{background:?}");
    // Other work can take part of the core beside a worker that is busy the whole window, never
    // nearly all of it.
    assert!(
        background.median_foreign_share < 0.9,
        "the sandboxed program's own CPU time counted as background: {background:?}"
    );
}

#[test]
fn sandbox_on_confines_bench_workers_and_records_it() {
    let r = run("on", "");
    let level = r.environment.sandbox.as_ref().expect("level recorded");
    assert_eq!(level.applies_to, "all workers");
    assert_eq!(status_of(&r, "square"), Status::Passed);
    assert_eq!(status_of(&r, "segfault"), Status::Crashed);
    assert_eq!(
        status_of(&r, "aborts"),
        Status::Crashed,
        "abort stays SIGABRT"
    );
    let aborts = r.candidates().find(|c| c.name == "aborts").unwrap();
    assert_eq!(
        aborts
            .check
            .failure
            .as_ref()
            .and_then(|f| f.signal.as_deref()),
        Some("SIGABRT")
    );
    let probe = Sandbox::probed(SandboxPolicy::default());
    if probe
        .layer_states()
        .iter()
        .any(|s| s.layer == Layer::NetworkNamespace && s.active)
    {
        assert_eq!(
            status_of(&r, "uses_loopback"),
            Status::WrongAnswer,
            "no loopback inside the sandbox"
        );
    }
}

#[test]
fn strict_runs_where_every_layer_is_available_and_says_so() {
    let full = Sandbox::probed(SandboxPolicy {
        mode: SandboxMode::Strict,
        ..SandboxPolicy::default()
    })
    .check()
    .is_ok();
    let dir = tempfile::tempdir().unwrap();
    let out = Command::new(PathBuf::from(env!("CARGO_BIN_EXE_manual_registration")))
        .arg("square::")
        .env("CARGO_TARGET_DIR", dir.path())
        .env("JOULETRACE_SANDBOX", "strict")
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    if full {
        let r = RunResults::load(&dir.path().join("joule/manual_registration/results.json"))
            .unwrap_or_else(|e| panic!("{e}\n{stderr}"));
        let level = r.environment.sandbox.clone().unwrap();
        assert_eq!(
            (level.mode.as_str(), level.level.as_str()),
            ("strict", "full")
        );
        assert_eq!(status_of(&r, "square"), Status::Passed, "{stderr}");
    } else {
        // Refused before any worker started, naming the layer and its remedy.
        assert_eq!(out.status.code(), Some(2), "{stderr}");
        assert!(stderr.contains("sandbox = \"strict\""), "{stderr}");
    }
}
