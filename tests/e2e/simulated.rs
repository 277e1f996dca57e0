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
use std::time::Duration;

use jouletrace::energy::Backend;
use jouletrace::energy::simulate::{Activity, FakeMachine, SimConfig, SimulatedPowercap};
use jouletrace::results::{RunResults, Status};
use jouletrace::units::Watts;

const IDLE: f64 = 4.0;
const BUSY: f64 = 20.0;

/// A fake sysfs tree whose RAPL package counter charges IDLE watts plus BUSY watts per
/// CPU-second of the children of `parent`; `workers` lists the CPUs left for the engine.
struct Sim {
    tree: tempfile::TempDir,
    sim: SimulatedPowercap,
    workers: String,
}

/// The two simulated runs share the machine's CPUs and would count each other's workers.
static ONE_AT_A_TIME: std::sync::Mutex<()> = std::sync::Mutex::new(());

fn start_sim(parent: Arc<AtomicI32>) -> Sim {
    let tree = tempfile::tempdir().unwrap();
    let machine = FakeMachine::mirror_host(tree.path()).unwrap();
    // Real RAPL is updated by hardware; our stand-in is a thread, which must not queue behind
    // the worker it accounts for. It gets CPU 0 (threads inherit their creator's affinity);
    // the workers get the other CPUs.
    let all = nix::sched::sched_getaffinity(nix::unistd::Pid::from_raw(0)).unwrap();
    let mut first = nix::sched::CpuSet::new();
    first.set(0).unwrap();
    nix::sched::sched_setaffinity(nix::unistd::Pid::from_raw(0), &first).unwrap();
    // And real-time priority where allowed (root), so that other load on the machine (a
    // parallel build) cannot delay its updates either; it sleeps between ticks.
    let rt = libc::sched_param { sched_priority: 10 };
    // SAFETY: plain system calls on the calling thread with a valid parameter block.
    let elevated = unsafe { libc::sched_setscheduler(0, libc::SCHED_FIFO, &rt) } == 0;
    let sim = SimulatedPowercap::start(
        machine.zone_dir("intel-rapl:0"),
        SimConfig {
            idle: Watts(IDLE),
            busy_per_cpu: Watts(BUSY),
            activity: Activity::ChildrenOf(parent),
            tick: Duration::from_micros(250),
            ..SimConfig::default()
        },
    )
    .unwrap();
    if elevated {
        let normal = libc::sched_param { sched_priority: 0 };
        // SAFETY: as above; back to the default policy for this thread and its children.
        unsafe { libc::sched_setscheduler(0, libc::SCHED_OTHER, &normal) };
    }
    nix::sched::sched_setaffinity(nix::unistd::Pid::from_raw(0), &all).unwrap();
    let workers = (1..nix::sched::CpuSet::count())
        .filter(|&c| all.is_set(c).unwrap_or(false))
        .map(|c| c.to_string())
        .collect::<Vec<_>>()
        .join(",");
    let workers = if workers.is_empty() {
        "0".into()
    } else {
        workers
    };
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

    let meter = r.meter.as_ref().unwrap();
    assert_eq!(meter.backend, Backend::Powercap);
    assert!(!meter.estimated, "a powercap reading is a measurement");
    assert_eq!(meter.primary_domain, "package-0");

    // The idle baseline found the idle power.
    let idle = r
        .idle
        .iter()
        .find(|i| i.domain == "package-0")
        .expect("idle measured");
    assert!(
        (idle.power.get() - IDLE).abs() / IDLE < 0.02,
        "idle {} W, simulated {IDLE} W",
        idle.power.get()
    );

    // Net energy is the busy share only: BUSY watts per CPU-second of the worker.
    let c = r.candidates().find(|c| c.name == "square").unwrap();
    assert_eq!(c.status, Status::Passed);
    let (mut net, mut put_in) = (0.0, 0.0);
    for m in &c.measurements {
        assert!(m.failure.is_none(), "{:?}", m.failure);
        for s in &m.samples {
            let e = s.energy.iter().find(|e| e.domain == "package-0").unwrap();
            let expected = BUSY * s.cpu_time_s;
            assert!(
                // One sample scatters by a few percent: the simulated counter is a user-space
                // thread, and its updates land a little before or after the worker's reads.
                // Hardware updates do not wait for a scheduler; the 1% bound below is on the sum.
                (e.net.get() - expected).abs() / expected < 0.10,
                "sample: net {} J, put in {expected} J",
                e.net.get()
            );
            assert!(e.gross.get() > e.net.get(), "gross includes the idle share");
            net += e.net.get();
            put_in += expected;
        }
    }
    assert!(
        (net - put_in).abs() / put_in < 0.01,
        "over all samples: net {net} J, put in {put_in} J"
    );

    // One package, one lane: no two measured windows overlap.
    let mut windows: Vec<(f64, f64)> = r
        .candidates()
        .flat_map(|c| &c.measurements)
        .flat_map(|m| m.warmup.iter().chain(&m.samples))
        .map(|s| (s.window_start_s, s.window_end_s))
        .collect();
    windows.sort_by(|a, b| a.0.total_cmp(&b.0));
    for pair in windows.windows(2) {
        assert!(pair[0].1 <= pair[1].0, "windows overlap: {pair:?}");
    }
}

/// The same proof with a Python target, metered from the orchestrator: the engine reads the
/// simulated counter around each batch the host announces, and the loop overhead it subtracts
/// is itself measured energy.
#[test]
fn a_python_target_recovers_simulated_energy_too() {
    use jouletrace::config::{CoreSelection, MeterChoice, RunConfig};
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
    let config = RunConfig {
        meter: MeterChoice::Forced(Backend::Powercap),
        sysfs_root: tree.path().to_owned(),
        cores: CoreSelection::List(workers.split(',').map(|c| c.parse().unwrap()).collect()),
        min_sample_time: Duration::from_millis(250),
        min_trials: 10,
        idle_window: Duration::from_secs(1),
        settle_timeout: Duration::from_millis(1),
        lock_path: tree.path().join("lock"),
        ..RunConfig::default()
    };
    let r = engine::run(
        &[files.target(&python, "python")],
        &config,
        &mut NullObserver,
        &CancelToken::new(),
    )
    .unwrap();
    sim.stop();

    let meter = r.meter.as_ref().unwrap();
    assert_eq!(meter.backend, Backend::Powercap);
    assert!(!meter.estimated);
    assert_eq!(r.run.hosts[0].host.language, "python");
    let c = r.candidates().next().unwrap();
    assert_eq!(c.status, Status::Passed, "{:?}", c.check.failure);
    let m = &c.measurements[0];
    assert!(m.failure.is_none(), "{:?}", m.failure);
    let overhead = m.loop_overhead.as_ref().unwrap();
    let per_call = overhead
        .energy_per_call
        .iter()
        .find(|e| e.domain == "package-0")
        .expect("the loop overhead was measured on the package")
        .energy
        .get();
    // Each sample's net energy plus the overhead taken off is what its worker burnt: BUSY watts
    // per CPU-second, read from the orchestrator's side of every window. (The twin's own
    // windows are far shorter than a tick of the simulated counter, so they are not judged
    // one by one.)
    let (mut net, mut put_in) = (0.0, 0.0);
    for s in &m.samples {
        let e = s.energy.iter().find(|e| e.domain == "package-0").unwrap();
        let taken_off = per_call * s.calls as f64;
        let expected = BUSY * s.cpu_time_s;
        assert!(
            (e.net.get() + taken_off - expected).abs() / expected < 0.10,
            "sample: net {} J (+{taken_off} J overhead), put in {expected} J",
            e.net.get()
        );
        net += e.net.get() + taken_off;
        put_in += expected;
    }
    assert!(
        (net - put_in).abs() / put_in < 0.01,
        "over all samples: net {net} J, put in {put_in} J"
    );
}
