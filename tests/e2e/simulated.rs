//! The engine against a simulated RAPL package whose counter advances at a known power: idle
//! power all the time, plus a fixed power per CPU-second the engine's workers spend. The engine
//! must recover the energy put in (within 1%), remove the idle share with its idle baseline, and
//! never let two measured windows overlap in the package domain.
//!
//! This is the simulated twin of a real RAPL run: the same engine, powercap meter and worker
//! protocol, with sysfs pointed at a fake tree (`JOULETRACE_SYSFS_ROOT`).

use std::path::PathBuf;
use std::process::Command;
use std::sync::Arc;
use std::sync::atomic::{AtomicI32, Ordering};

use jouletrace::energy::simulate::FakeMachine;
use jouletrace::results::RunResults;
use jouletrace::units::Watts;
use jouletrace_tests::{assert_recovers_simulated_energy, simulate_package, worker_cpu_time};

const IDLE: f64 = 4.0;
const BUSY: f64 = 20.0;

#[test]
fn the_engine_recovers_simulated_energy_and_removes_idle() {
    let tree = jouletrace_tests::sim_tree();
    let machine = FakeMachine::mirror_host(tree.path()).unwrap();
    let parent = Arc::new(AtomicI32::new(0));
    let (sim, workers) = simulate_package(
        &machine,
        Watts(IDLE),
        Watts(BUSY),
        worker_cpu_time(parent.clone()),
    );
    let workers = workers
        .iter()
        .map(u32::to_string)
        .collect::<Vec<_>>()
        .join(",");

    let target = tempfile::tempdir().unwrap();
    let mut child = Command::new(PathBuf::from(env!("CARGO_BIN_EXE_manual_registration")))
        .args(["--bench", "square::square"])
        .env("CARGO_TARGET_DIR", target.path())
        .env("JOULETRACE_SYSFS_ROOT", tree.path())
        .env("JOULETRACE_METER", "powercap")
        .env("JOULETRACE_CORES", workers)
        .env("JOULETRACE_MIN_SAMPLE_TIME", "250ms")
        .env("JOULETRACE_TRIALS", "10")
        .env("JOULETRACE_IDLE_WINDOW", "1s")
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    parent.store(child.id() as i32, Ordering::SeqCst);
    let status = child.wait().unwrap();
    sim.stop();
    let r = RunResults::load(&target.path().join("joule/manual_registration/results.json"))
        .unwrap_or_else(|e| panic!("{e} (exit {status})"));

    assert_recovers_simulated_energy(&r, "square", IDLE, BUSY);
}
