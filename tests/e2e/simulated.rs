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

use jouletrace::energy::simulate::{FakeMachine, SimulatedPowercap};
use jouletrace::results::RunResults;
use jouletrace::units::Watts;
use jouletrace_tests::{assert_recovers_simulated_energy, simulate_package, simulated_run_config};

const IDLE: f64 = 4.0;
const BUSY: f64 = 20.0;

/// A fake sysfs tree whose RAPL package counter charges IDLE watts plus BUSY watts per
/// CPU-second of the children of `parent`; `workers` lists the CPUs left for the engine.
struct Sim {
    tree: tempfile::TempDir,
    sim: SimulatedPowercap,
    workers: Vec<u32>,
}

/// The two simulated runs share the machine's CPUs and would count each other's workers.
static ONE_AT_A_TIME: std::sync::Mutex<()> = std::sync::Mutex::new(());

fn start_sim(parent: Arc<AtomicI32>) -> Sim {
    let tree = tempfile::tempdir().unwrap();
    let machine = FakeMachine::mirror_host(tree.path()).unwrap();
    let (sim, workers) = simulate_package(&machine, Watts(IDLE), Watts(BUSY), parent);
    Sim { tree, sim, workers }
}

#[test]
fn the_engine_recovers_simulated_energy_and_removes_idle() {
    let _one = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    let parent = Arc::new(AtomicI32::new(0));
    let Sim { tree, sim, workers } = start_sim(parent.clone());

    let target = tempfile::tempdir().unwrap();
    let mut child = Command::new(PathBuf::from(env!("CARGO_BIN_EXE_manual_registration")))
        .args(["--bench", "square::square"])
        .env("CARGO_TARGET_DIR", target.path())
        .env("JOULETRACE_SYSFS_ROOT", tree.path())
        .env("JOULETRACE_METER", "powercap")
        .env(
            "JOULETRACE_CORES",
            workers
                .iter()
                .map(u32::to_string)
                .collect::<Vec<_>>()
                .join(","),
        )
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

/// The same proof with a Python target, metered from the orchestrator: the engine reads the
/// simulated counter around each batch the host announces, and the loop overhead it subtracts
/// is itself measured energy.
#[test]
fn a_python_target_recovers_simulated_energy_too() {
    use jouletrace::engine::{self, CancelToken, NullObserver};
    use jouletrace::job::{Job, MeasureRequest};
    use jouletrace::python::{HostFiles, Interpreter};

    let _one = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    // The engine runs in this process: its workers are our children.
    let parent = Arc::new(AtomicI32::new(std::process::id() as i32));
    let Sim { tree, sim, workers } = start_sim(parent);
    let body = r#"{"candidate_code": "def solve(n):\n    return sum(i * i for i in range(n))\n",
        "candidate_id": "squares", "problem_name": "squares",
        "test_cases": [{"test_id": "n20000", "inputs": [20000], "expected_output": 2666466670000}]}"#;
    let job = Job::from_requests(vec![MeasureRequest::parse(body.as_bytes()).unwrap()]).unwrap();
    let python = Interpreter::find(None).expect("python3 for the Python simulated run");
    let files = HostFiles::write(&job).unwrap();
    let config = simulated_run_config(tree.path(), workers);
    let r = engine::run(
        &[files.target(&python, "python")],
        &config,
        &mut NullObserver,
        &CancelToken::new(),
    )
    .unwrap();
    sim.stop();

    assert_eq!(r.run.hosts[0].host.language, "python");
    let m = &r.candidates().next().unwrap().measurements[0];
    assert!(
        m.loop_overhead
            .as_ref()
            .is_some_and(|o| o.unavailable.is_none()),
        "{:?}",
        m.loop_overhead
    );
    assert_recovers_simulated_energy(&r, "squares", IDLE, BUSY);
}
