//! `cargo joule doctor`: on this machine (no readable RAPL: exit 1, estimate only) and on a
//! simulated RAPL machine (powercap zones whose counter advances: exit 0).

mod common;

use std::time::Duration;

use common::{cargo_joule, run};
use jouletrace::energy::simulate::{FakeMachine, SimConfig, SimulatedPowercap};
use jouletrace::units::Watts;

#[test]
fn doctor_json_parses_and_its_exit_status_follows_its_verdict() {
    let out = run(cargo_joule().args(["doctor", "--json"]));
    let doc: serde_json::Value = serde_json::from_str(&out.stdout).expect("doctor --json is JSON");
    let usable = doc["measured_usable"].as_bool().expect("measured_usable");
    assert_eq!(out.code, if usable { 0 } else { 1 }, "{out}");
    for backend in ["perf", "powercap", "msr", "estimate", "nvml"] {
        assert!(out.stdout.contains(backend), "{backend} missing\n{out}");
    }
    let human = run(cargo_joule().arg("doctor"));
    assert!(human.stdout.contains("Verdict:"), "{human}");
}

#[test]
fn doctor_finds_a_simulated_powercap_meter_usable() {
    let tree = tempfile::tempdir().unwrap();
    let machine = FakeMachine::mirror_host(tree.path()).unwrap();
    let sim = SimulatedPowercap::start(
        machine.zone_dir("intel-rapl:0"),
        SimConfig {
            idle: Watts(10.0),
            tick: Duration::from_millis(1),
            ..SimConfig::default()
        },
    )
    .unwrap();
    let out = run(cargo_joule()
        .arg("doctor")
        .env("JOULETRACE_SYSFS_ROOT", tree.path()));
    sim.stop();
    assert_eq!(out.code, 0, "{out}");
    assert!(out.stdout.contains("automatic choice: powercap"), "{out}");
}

#[test]
fn a_forced_meter_that_is_unavailable_exits_2_before_building() {
    let tree = tempfile::tempdir().unwrap();
    FakeMachine::mirror_host(tree.path()).unwrap();
    let out = run(cargo_joule()
        .args(["--meter", "perf", "-p", "jouletrace-examples"])
        .arg("--manifest-path")
        .arg(concat!(env!("CARGO_MANIFEST_DIR"), "/../Cargo.toml"))
        .env("JOULETRACE_SYSFS_ROOT", tree.path()));
    assert_eq!(out.code, 2, "{out}");
    assert!(
        out.stderr
            .contains("cannot measure energy: perf meter unavailable"),
        "{out}"
    );
    assert!(out.stderr.contains("remedy:"), "{out}");
    assert!(
        !out.stderr.contains("Compiling"),
        "refused before building: {out}"
    );
}
