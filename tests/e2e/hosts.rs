//! Targets that are not Rust: a Python 3 program speaking worker protocol 3
//! (`tests/hosts/mini_host.py`), given runtime candidates and JSON cases (a
//! [`jouletrace::job::Job`] built here as data, no macros), is listed, checked and measured by the
//! same engine as a bench binary, with the meter read by the orchestrator around its windows
//! (`metering: orchestrator`): on the estimate meter, and on a simulated RAPL package whose
//! counter advances at a known power.

use std::path::{Path, PathBuf};
use std::sync::atomic::AtomicI32;
use std::sync::{Arc, Mutex};

use jouletrace::config::{HostConfig, RunConfig};
use jouletrace::energy::simulate::FakeMachine;
use jouletrace::engine::{self, CancelToken, NullObserver, RunContext, Target};
use jouletrace::job::{Job, MeasureRequest};
use jouletrace::protocol::Metering;
use jouletrace::python::{HostFiles, Interpreter};
use jouletrace::results::{RunResults, Status};
use jouletrace::units::Watts;
use jouletrace_tests::{
    assert_recovers_simulated_energy, simulate_package, simulated_context, simulated_run_config,
    worker_cpu_time,
};
use serde_json::{Value, json};

/// The simulated package charges the CPU time of every child of this process: every test here
/// that starts processes holds this, so that none runs beside the simulated one.
static ONE_RUN_AT_A_TIME: Mutex<()> = Mutex::new(());

fn python() -> PathBuf {
    let on_path = std::env::var_os("PATH")
        .iter()
        .flat_map(std::env::split_paths)
        .map(|d| d.join("python3"))
        .find(|p| p.is_file())
        .expect("python3 on PATH (these tests need a Python 3 interpreter)");
    // Hosts run sandboxed, as an unprivileged user when the tests run as root: an interpreter
    // that user cannot read (pyenv's under /root) is replaced by the system one.
    let policy = jouletrace::pool::sandbox::SandboxPolicy::default();
    match jouletrace::pool::sandbox::runnable(&policy, &on_path) {
        Ok(()) => on_path,
        Err(_) => PathBuf::from("/usr/bin/python3"),
    }
}

fn mini_host() -> String {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("hosts/mini_host.py")
        .display()
        .to_string()
}

/// A job of Python candidates for one problem, each `(name, code)` defining `solve`.
fn job(problem: &str, candidates: &[(&str, &str)], cases: Value) -> Job {
    let candidates: Vec<Value> = candidates
        .iter()
        .map(|(name, code)| {
            json!({"id": format!("{problem}::{name}"), "problem": problem, "name": name,
                   "language": "python", "code": code, "entry": "solve",
                   "options": {"timeout": {"secs": 20, "nanos": 0}}})
        })
        .collect();
    let job = json!({"protocol": 2, "candidates": candidates, "cases": {problem: cases},
                     "comparison": {"mode": "predecessor", "abs_tol": 1e-9, "rel_tol": 1e-9}});
    serde_json::from_str(&job.to_string()).expect("a valid job")
}

/// One correct candidate on one case.
fn one_square() -> Job {
    job(
        "square",
        &[("square", "def solve(x):\n    return x * x\n")],
        json!([{"id": "two", "inputs": [2], "expected": 4}]),
    )
}

fn host_target(job: &Job, dir: &Path, label: &str) -> Target {
    let path = dir.join("job.json");
    std::fs::write(&path, job.to_json()).unwrap();
    Target::for_job(python(), [mini_host()], &path, label)
}

fn quick_config() -> RunConfig {
    jouletrace_tests::quick_estimate_config()
}

/// A lock of its own: these runs measure only their own workers.
fn context(dir: &Path) -> RunContext {
    RunContext::new(&HostConfig {
        lock_path: dir.join("measure.lock"),
        ..HostConfig::default()
    })
}

/// An error with its causes, as a person reads it.
fn chain(e: &dyn std::error::Error) -> String {
    let mut text = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        text.push_str(&format!(": {s}"));
        source = s.source();
    }
    text
}

fn run(targets: &[Target], config: &RunConfig, context: &RunContext) -> RunResults {
    engine::run(
        targets,
        config,
        context,
        &mut NullObserver,
        &CancelToken::new(),
    )
    .expect("engine run")
}

/// Every key path of a JSON document, array elements merged: the record's shape.
fn shape(v: &Value, at: &str, out: &mut std::collections::BTreeSet<String>) {
    match v {
        Value::Object(m) => {
            for (k, x) in m {
                let p = format!("{at}.{k}");
                out.insert(p.clone());
                shape(x, &p, out);
            }
        }
        Value::Array(xs) => xs.iter().for_each(|x| shape(x, &format!("{at}[]"), out)),
        _ => {}
    }
}

fn shape_of(v: &Value) -> std::collections::BTreeSet<String> {
    let mut out = std::collections::BTreeSet::new();
    shape(v, "", &mut out);
    // A sample carries `background_activity` only when the machine was busy beside it: that
    // depends on the moment, not on the record's shape.
    out.retain(|k| !k.ends_with(".background_activity"));
    out
}

fn candidate_json(r: &RunResults, name: &str) -> Value {
    serde_json::to_value(r.candidates().find(|c| c.name == name).unwrap()).unwrap()
}

#[test]
fn a_python_program_is_checked_and_measured_on_the_estimate_meter() {
    let _one = ONE_RUN_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    let dir = tempfile::tempdir().unwrap();
    let job = job(
        "square",
        &[
            ("square", "def solve(x):\n    return x * x\n"),
            ("wrong", "def solve(x):\n    return x + x\n"),
            (
                "raises",
                "def solve(x):\n    raise ValueError('no squares today')\n",
            ),
        ],
        json!([{"id": "two", "inputs": [2], "expected": 4, "size": 2},
               {"id": "seven", "inputs": [7], "expected": 49, "size": 7},
               {"id": "big", "inputs": [1000], "expected": 1000000, "size": 1000}]),
    );
    let target = host_target(&job, dir.path(), "python/square");
    let config = quick_config();

    // The host lists exactly the job's candidates, in the compiled candidates' shape.
    let listing = engine::describe(&target, &config).unwrap();
    assert_eq!(listing.candidates, job.descriptors());
    let host = listing.host.expect("a v2 host announces itself");
    assert_eq!(
        (host.language.as_str(), host.metering),
        ("python", Metering::Orchestrator)
    );

    let r = run(&[target], &config, &context(dir.path()));
    let status = |name: &str| r.candidates().find(|c| c.name == name).unwrap().status;
    assert_eq!(status("square"), Status::Passed);
    assert_eq!(status("wrong"), Status::WrongAnswer);
    assert_eq!(status("raises"), Status::Panic);
    let wrong = r.candidates().find(|c| c.name == "wrong").unwrap();
    let f = wrong.check.failure.as_ref().unwrap();
    assert_eq!(
        f.case.as_deref(),
        Some("seven"),
        "2 + 2 is 2 × 2; 7 + 7 is not"
    );
    assert_eq!(
        (f.expected.as_deref(), f.actual.as_deref()),
        (Some("49"), Some("14"))
    );
    let raised = r.candidates().find(|c| c.name == "raises").unwrap();
    assert!(
        raised
            .check
            .failure
            .as_ref()
            .unwrap()
            .message
            .contains("no squares today"),
        "{:?}",
        raised.check.failure
    );

    // The interpreter is recorded, and the meter was read from outside.
    assert_eq!(r.run.hosts.len(), 1);
    assert_eq!(r.run.hosts[0].target, "python/square");
    assert_eq!(r.run.hosts[0].host.language, "python");
    assert!(Path::new(&r.run.hosts[0].host.executable).is_file());
    let meter = r.meter.as_ref().unwrap();
    assert!(meter.estimated, "the estimate is labelled estimated");
    let square = r.candidates().find(|c| c.name == "square").unwrap();
    assert_eq!(square.measurements.len(), 3);
    for m in &square.measurements {
        assert!(m.failure.is_none(), "{:?}", m.failure);
        assert!(m.samples.len() >= 3, "{m:?}");
        for s in m.warmup.iter().chain(&m.samples) {
            let metered = s.metered_s.expect("metered span recorded");
            assert!(s.measured_s > 0.0 && metered >= s.measured_s, "{s:?}");
            assert!(s.window_end_s - s.window_start_s >= s.measured_s, "{s:?}");
            assert!(
                s.cpu_time_s > 0.0,
                "the worker's CPU time, read from outside: {s:?}"
            );
            // The estimate in orchestrator mode: the worker's CPU time between the readings ×
            // watts per core, and nothing else.
            let e = &s.energy[0];
            assert_eq!(e.domain, "cpu-estimate");
            let expected = config.estimate_watts_per_core * s.cpu_time_s;
            assert!((e.gross.get() - expected).abs() <= 1e-9 * expected, "{s:?}");
        }
        assert!(m.stats.is_some());
    }

    // The same record as a compiled (`#[joule_bench]`-shaped) candidate's.
    let compiled = run(
        &[Target::bench(
            env!("CARGO_BIN_EXE_manual_registration"),
            "tests/manual_registration",
        )],
        &RunConfig {
            filters: vec!["square::square".into()],
            exact: true,
            ..quick_config()
        },
        &context(dir.path()),
    );
    assert_eq!(compiled.run.hosts[0].host.language, "rust");
    assert!(compiled.run.hosts[0].host.version.starts_with("rustc "));
    assert_eq!(compiled.run.hosts[0].host.metering, Metering::Worker);
    // An interpreted host's record adds, beside the figures, the calling loop's overhead that
    // was taken off them (measured on the candidate's empty twin); nothing else differs.
    let mut interpreted = shape_of(&candidate_json(&r, "square"));
    assert!(interpreted.contains(".measurements[].loop_overhead.energy_per_call"));
    interpreted.retain(|k| !k.starts_with(".measurements[].loop_overhead"));
    assert_eq!(interpreted, shape_of(&candidate_json(&compiled, "square")));
    let whole = |r: &RunResults| {
        let mut v = serde_json::to_value(r).unwrap();
        v.as_object_mut().unwrap().remove("problems");
        shape_of(&v)
    };
    assert_eq!(whole(&r), whole(&compiled));
}

#[test]
fn a_python_program_on_simulated_rapl_is_charged_the_energy_put_in() {
    const IDLE: f64 = 4.0;
    const BUSY: f64 = 20.0;
    let _one = ONE_RUN_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    let dir = tempfile::tempdir().unwrap();
    let tree = jouletrace_tests::sim_tree();
    let machine = FakeMachine::mirror_host(tree.path()).unwrap();
    // The workers are this process's children.
    let parent = Arc::new(AtomicI32::new(std::process::id() as i32));
    let (sim, workers) =
        simulate_package(&machine, Watts(IDLE), Watts(BUSY), worker_cpu_time(parent));

    let n: u64 = 20_000;
    let job = job(
        "sum_of_squares",
        &[(
            "loop",
            "def solve(n):\n    s = 0\n    for i in range(n):\n        s += i * i\n    return s\n",
        )],
        json!([{"id": "n20000", "inputs": [n], "expected": (0..n).map(|i| i * i).sum::<u64>()}]),
    );
    let r = run(
        &[host_target(&job, dir.path(), "python/sum")],
        &simulated_run_config(workers),
        &simulated_context(tree.path()),
    );
    sim.stop();

    assert_recovers_simulated_energy(&r, "loop", IDLE, BUSY);
}

/// The same proof with the product's Python host (`jouletrace::python`), from a service request
/// body: its loop overhead, measured on the candidate's empty twin, is taken off and added back.
#[test]
fn the_python_host_on_simulated_rapl_is_charged_the_energy_put_in() {
    const IDLE: f64 = 4.0;
    const BUSY: f64 = 20.0;
    let _one = ONE_RUN_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    let tree = jouletrace_tests::sim_tree();
    let machine = FakeMachine::mirror_host(tree.path()).unwrap();
    let parent = Arc::new(AtomicI32::new(std::process::id() as i32));
    let (sim, workers) =
        simulate_package(&machine, Watts(IDLE), Watts(BUSY), worker_cpu_time(parent));

    let body = r#"{"candidate_code": "def solve(n):\n    return sum(i * i for i in range(n))\n",
        "candidate_id": "squares", "problem_name": "squares",
        "test_cases": [{"test_id": "n20000", "inputs": [20000], "expected_output": 2666466670000}]}"#;
    let job = Job::from_requests(vec![MeasureRequest::parse(body.as_bytes()).unwrap()]).unwrap();
    let interpreter = Interpreter::find(Some(&python())).unwrap();
    let files = HostFiles::write(&job).unwrap();
    let r = run(
        &[files.target(&interpreter, "python/squares")],
        &simulated_run_config(workers),
        &simulated_context(tree.path()),
    );
    sim.stop();

    assert_recovers_simulated_energy(&r, "squares", IDLE, BUSY);
    let m = &r.candidates().next().unwrap().measurements[0];
    let overhead = m.loop_overhead.as_ref().expect("the host's loop overhead");
    assert!(overhead.unavailable.is_none(), "{:?}", overhead.unavailable);
    assert_eq!(r.run.hosts[0].host.language, "python");
}

#[test]
fn a_host_that_breaks_the_window_conversation_is_a_protocol_error() {
    let _one = ONE_RUN_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    let dir = tempfile::tempdir().unwrap();
    let job = one_square();
    for (misbehaviour, message) in [
        // It starts its clock before the go: calls outside the metered window.
        (
            "MINI_HOST_EARLY_CLOCK",
            "does not lie inside the metered window",
        ),
        // It claims more batches than the windows the orchestrator metered.
        ("MINI_HOST_MISCOUNT", "windows closed"),
    ] {
        let target = host_target(&job, dir.path(), "python/rogue").with_env(misbehaviour, "1");
        let r = run(&[target], &quick_config(), &context(dir.path()));
        let c = r.candidates().next().unwrap();
        assert_eq!(c.status, Status::Passed, "checks are not metered");
        let m = &c.measurements[0];
        let f = m.failure.as_ref().expect("the measurement failed");
        assert_eq!(f.kind, Status::ProtocolError, "{misbehaviour}");
        assert!(f.message.contains(message), "{misbehaviour}: {}", f.message);
        assert!(
            m.samples.is_empty() && m.warmup.is_empty(),
            "no figure from a broken window"
        );
    }
    // A language host that would meter itself could report any figure: refused.
    let own_meter =
        host_target(&job, dir.path(), "python/own").with_env("MINI_HOST_METERING", "worker");
    let e = engine::describe(&own_meter, &quick_config()).unwrap_err();
    assert!(
        chain(&e).contains("must announce `metering: orchestrator`"),
        "{e}"
    );
    // A host that cannot start is an error naming it, not a bench binary to skip.
    let broken = Target::for_job(
        python(),
        [mini_host()],
        &dir.path().join("missing.json"),
        "x",
    );
    let e = engine::describe(&broken, &quick_config()).unwrap_err();
    assert!(
        chain(&e).contains("did not start as a worker of protocol 3"),
        "{e}"
    );
}

#[test]
fn both_sides_refuse_a_peer_of_another_version() {
    let _one = ONE_RUN_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    let dir = tempfile::tempdir().unwrap();
    let job = one_square();
    // The orchestrator refuses a host of protocol 1.
    let old = host_target(&job, dir.path(), "python/v1").with_env("MINI_HOST_PROTOCOL", "1");
    let e = engine::describe(&old, &quick_config()).unwrap_err();
    assert!(chain(&e).contains("worker speaks protocol 1"), "{e}");

    // A bench binary refuses an orchestrator whose first request is not a hello of its version
    // (a protocol 1 orchestrator starts with `list`): an error on fd 3, then exit status 2.
    for first in [
        r#"{"request":"list"}"#,
        r#"{"request":"hello","protocol":1}"#,
    ] {
        let (status, lines) = bench_worker_session(dir.path(), &[first]);
        assert_eq!(status, Some(2), "{first}");
        assert_eq!(lines[0]["response"], "hello");
        assert_eq!(lines[0]["protocol"], 3);
        assert_eq!(lines[1]["response"], "error", "{first}: {lines:?}");
        let message = lines[1]["message"].as_str().unwrap();
        assert!(message.contains("speaks protocol 3"), "{message}");
        assert_eq!(lines.len(), 2, "nothing after the refusal");
    }
    // Greeted with its own version, it answers nothing to the hello and serves requests; it
    // refuses to measure a calling loop, which is compiled into a Rust candidate.
    let (status, lines) = bench_worker_session(
        dir.path(),
        &[
            r#"{"request":"hello","protocol":3}"#,
            r#"{"request":"prepare","candidate":"square::square","case":"two","meter":null,"overhead":true}"#,
        ],
    );
    assert_eq!(status, Some(0), "end of input ends the session");
    assert_eq!(lines.len(), 2, "{lines:?}");
    assert_eq!(lines[1]["response"], "error");
    assert!(
        lines[1]["message"]
            .as_str()
            .unwrap()
            .contains("loop overhead")
    );
}

/// Feeds `requests` to the bench binary started as a worker; answers its exit status and the
/// responses it wrote on fd 3.
fn bench_worker_session(dir: &Path, requests: &[&str]) -> (Option<i32>, Vec<Value>) {
    let answers = dir.join("answers");
    let input = dir.join("requests");
    let text: String = requests.iter().map(|r| format!("{r}\n")).collect();
    std::fs::write(&input, text).unwrap();
    let out = std::process::Command::new("sh")
        .arg("-c")
        .arg(format!(
            "'{}' --jouletrace-worker <'{}' 3>'{}'",
            env!("CARGO_BIN_EXE_manual_registration"),
            input.display(),
            answers.display()
        ))
        .env("JOULETRACE_PROTOCOL_FD", "3")
        .output()
        .unwrap();
    let lines = std::fs::read_to_string(&answers)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    (out.status.code(), lines)
}
