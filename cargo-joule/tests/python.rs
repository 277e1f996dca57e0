//! `cargo joule measure`: Python candidates through the real binary and the real engine, on the
//! estimate meter (what runs here; the simulated-RAPL twin is in `python_simulated.rs`).

mod common;

use std::path::Path;

use common::{cargo_joule, run};
use jouletrace::results::{CandidateResult, RunResults, Status};
use serde_json::{Value, json};

fn write_requests(dir: &Path, requests: &[Value]) -> std::path::PathBuf {
    let path = dir.join("requests.jsonl");
    let lines: Vec<String> = requests.iter().map(Value::to_string).collect();
    std::fs::write(&path, lines.join("\n") + "\n").unwrap();
    path
}

fn measure(dir: &Path, file: &Path, extra: &[&str]) -> (common::Run, Option<RunResults>) {
    let out = run(cargo_joule()
        .args(["measure", file.to_str().unwrap(), "--target-dir"])
        .arg(dir.join("target"))
        .args(extra)
        .env("JOULETRACE_METER", "estimate")
        .env("JOULETRACE_IDLE_WINDOW", "100ms")
        .env("JOULETRACE_SETTLE_TIMEOUT", "1ms"));
    let results = RunResults::load(&dir.join("target/joule/results.json")).ok();
    (out, results)
}

fn candidate<'a>(r: &'a RunResults, name: &str) -> &'a CandidateResult {
    r.candidates()
        .find(|c| c.name == name)
        .unwrap_or_else(|| panic!("no candidate {name}"))
}

fn request(name: &str, code: &str, inputs: Value, expected: Value) -> Value {
    json!({
        "candidate_id": name,
        "problem_name": name,
        "candidate_code": code,
        "test_cases": [{"test_id": "t", "inputs": inputs, "expected_output": expected}],
        "timeout_seconds": 3,
        "energy_measurement_trials": 5,
        "warmup_trials": 1,
    })
}

/// Median of the samples' net energy per call in the primary domain, and the loop overhead
/// per call that was taken off.
fn net_per_call(c: &CandidateResult) -> (f64, f64) {
    let m = &c.measurements[0];
    let domain = m.primary_domain.as_deref().unwrap();
    let mut per_call: Vec<f64> = m
        .samples
        .iter()
        .map(|s| {
            let e = s.energy.iter().find(|e| e.domain == domain).unwrap();
            e.net.get() / s.calls as f64
        })
        .collect();
    per_call.sort_by(f64::total_cmp);
    let overhead = m
        .loop_overhead
        .as_ref()
        .expect("a host's case records its loop overhead");
    assert!(overhead.unavailable.is_none(), "{:?}", overhead.unavailable);
    let o = overhead
        .energy_per_call
        .iter()
        .find(|e| e.domain == domain)
        .unwrap()
        .energy
        .get();
    (per_call[per_call.len() / 2], o)
}

#[test]
fn a_known_cpu_burn_is_recovered_and_an_empty_candidate_measures_zero() {
    let dir = tempfile::tempdir().unwrap();
    // 2 ms of the process's own CPU time per call: at the estimate's 10 W per core, 20 mJ.
    let burn = "import time\ndef solve(n):\n    end = time.process_time_ns() + 2_000_000\n    \
                while time.process_time_ns() < end:\n        pass\n    return n\n";
    let empty = "def solve(n):\n    return n\n";
    let file = write_requests(
        dir.path(),
        &[
            request("burn", burn, json!([7]), json!(7)),
            request("empty", empty, json!([7]), json!(7)),
        ],
    );
    let (out, results) = measure(
        dir.path(),
        &file,
        &["--min-sample-time", "40ms", "--max-trials", "8"],
    );
    assert_eq!(out.code, 0, "{out}");
    let r = results.unwrap();
    assert!(r.is_estimated());
    let host = &r.run.hosts[0].host;
    assert_eq!(host.language, "python");
    assert!(
        Path::new(&host.executable).is_absolute(),
        "{}",
        host.executable
    );
    assert!(host.version.starts_with('3'), "{}", host.version);

    let (burn, burn_overhead) = net_per_call(candidate(&r, "burn"));
    assert!(
        (burn - 0.020).abs() / 0.020 < 0.02,
        "burn: {burn} J per call net of {burn_overhead} J loop overhead, put in 0.020 J"
    );
    // The empty candidate is its own twin, but for the body's `return n`: what is left after
    // the loop overhead is within the noise of one call's overhead.
    let (empty, empty_overhead) = net_per_call(candidate(&r, "empty"));
    assert!(empty_overhead > 0.0);
    assert!(
        empty.abs() < 0.25 * empty_overhead,
        "empty: {empty} J per call left after {empty_overhead} J of loop overhead"
    );
}

#[test]
fn the_predecessors_readme_request_runs_and_bad_requests_name_every_field() {
    let dir = tempfile::tempdir().unwrap();
    let readme =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples/python/readme-request.json");
    let (out, results) = measure(
        dir.path(),
        &readme,
        &["--min-sample-time", "10ms", "--max-trials", "5"],
    );
    assert_eq!(out.code, 0, "{out}");
    let r = results.unwrap();
    let c = r.candidates().next().unwrap();
    assert_eq!(c.status, Status::Passed);
    assert_eq!(c.measurements.len(), 2, "both test cases measured");

    let bad = dir.path().join("bad.jsonl");
    std::fs::write(
        &bad,
        "{\"candidate_code\": \"def solve(x): return x\", \"test_cases\": [{\"test_id\": 1, \"inputs\": [1]}]}\n\
         {\"candidate_code\": \"x\", \"test_cases\": [], \"timeout_seconds\": 3.5}\n",
    )
    .unwrap();
    let (out, _) = measure(dir.path(), &bad, &[]);
    assert_eq!(out.code, 2, "{out}");
    for line in [
        "bad.jsonl:1: body -> test_cases -> 0 -> expected_output: Field required (missing)",
        "bad.jsonl:1: body -> test_cases -> 0 -> test_id: Input should be a valid string (string_type)",
        "bad.jsonl:2: body -> test_cases: Value error, At least one test case must be provided (value_error)",
        "bad.jsonl:2: body -> timeout_seconds: Input should be a valid integer, got a number with a fractional part (int_from_float)",
    ] {
        assert!(out.stderr.contains(line), "missing `{line}` in\n{out}");
    }

    // A fleet's routing field is accepted and said to be ignored by a local run.
    let routed = dir.path().join("routed.jsonl");
    let mut request: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&readme).unwrap()).unwrap();
    request["host_class"] = "hc-0123456789ab".into();
    std::fs::write(&routed, format!("{request}\n")).unwrap();
    let (out, _) = measure(dir.path(), &routed, &["--no-measure"]);
    assert_eq!(out.code, 0, "{out}");
    assert!(
        out.stderr
            .contains("routed.jsonl: host_class hc-0123456789ab is ignored"),
        "{out}"
    );
}

#[test]
fn hostile_candidates_are_classified_and_the_run_goes_on() {
    let dir = tempfile::tempdir().unwrap();
    let one = |name: &str, code: &str| request(name, code, json!([]), json!(1));
    let mut bomb = one(
        "module_memory_bomb",
        "x = bytearray(1 << 34)\ndef solve():\n    return 1\n",
    );
    bomb["memory_limit_mb"] = json!(256);
    let file = write_requests(
        dir.path(),
        &[
            one(
                "module_endless_loop",
                "while True:\n    pass\ndef solve():\n    return 1\n",
            ),
            one(
                "endless_loop",
                "def solve():\n    while True:\n        pass\n",
            ),
            one(
                "catches_everything",
                "def solve():\n    while True:\n        try:\n            while True:\n                pass\n        except BaseException:\n            pass\n",
            ),
            bomb,
            one("recursion", "def solve():\n    return solve()\n"),
            one("sys_exit", "import sys\ndef solve():\n    sys.exit(0)\n"),
            one("os_exit", "import os\ndef solve():\n    os._exit(0)\n"),
            one("syntax_error", "def solve(:\n    return 1\n"),
            one("missing_function", "def solver():\n    return 1\n"),
            one(
                "floods_output",
                "import sys\ndef solve():\n    block = 'x' * (1 << 20)\n    for _ in range(100):\n        sys.stdout.write(block)\n    return 1\n",
            ),
            one("good_neighbour", "def solve():\n    return 1\n"),
        ],
    );
    let (out, results) = measure(dir.path(), &file, &["--no-measure"]);
    assert_eq!(out.code, 1, "{out}");
    let r = results.unwrap();
    let status = |name: &str| {
        let c = candidate(&r, name);
        (
            c.status,
            c.check
                .failure
                .as_ref()
                .map(|f| f.message.clone())
                .unwrap_or_default(),
        )
    };
    for name in ["module_endless_loop", "endless_loop", "catches_everything"] {
        assert_eq!(
            status(name).0,
            Status::Timeout,
            "{name}: {:?}",
            status(name)
        );
    }
    assert_eq!(
        status("module_memory_bomb").0,
        Status::MemoryLimit,
        "{:?}",
        status("module_memory_bomb")
    );
    for (name, kind) in [
        ("recursion", "recursion: RecursionError"),
        ("sys_exit", "exit: the candidate called sys.exit(0)"),
        ("syntax_error", "syntax_error: SyntaxError"),
        (
            "missing_function",
            "missing_function: function `solve` not found; defined: solver",
        ),
    ] {
        let (s, message) = status(name);
        assert_eq!(s, Status::Panic, "{name}: {message}");
        assert!(message.contains(kind), "{name}: {message}");
    }
    // os._exit ends the process mid-request, bypassing the host: the engine says so.
    let (s, message) = status("os_exit");
    assert_eq!(s, Status::ProtocolError, "{message}");
    assert!(message.contains("exited with exit status: 0"), "{message}");
    let flood = candidate(&r, "floods_output");
    assert_eq!(flood.status, Status::Passed);
    assert!(flood.check.stdout.truncated);
    assert_eq!(flood.check.stdout.total_bytes, 100 << 20);
    assert_eq!(status("good_neighbour").0, Status::Passed);
}
