//! The predecessor's stress workload through the Python host: jobs of one LCG `solve(n)`
//! candidate with two test cases each (n drawn from `random.Random(42)`-style seeds in
//! 50 000..120 000), all run as one engine run, the way `cargo joule measure` runs a JSON Lines
//! file of them. Reports jobs per second and the share of wall time inside measured windows
//! (candidate windows, warm-ups and the loop-overhead twin's windows alike).
//!
//! `cargo bench -p jouletrace --bench python_stress` (20 jobs; `JOULETRACE_STRESS_JOBS=1000`
//! for the predecessor's full 1,000). Trials and warm-ups are the predecessor notebook's (1 and
//! 0); the engine still takes at least two samples per case for an interval, up to
//! `JOULETRACE_STRESS_MAX_TRIALS` (default 3).

use std::time::{Duration, Instant};

use jouletrace::config::{HostConfig, RunConfig};
use jouletrace::engine::{self, CancelToken, NullObserver, RunContext};
use jouletrace::job::{Job, MeasureRequest};
use jouletrace::python::{HostFiles, Interpreter};

const LCG: &str = "def solve(n):\n    x = 12345\n    for _ in range(n):\n        \
                   x = (1103515245 * x + 12345) % 2147483648\n    return x\n";

fn lcg(n: u64) -> u64 {
    (0..n).fold(12345, |x, _| (1_103_515_245 * x + 12_345) % 2_147_483_648)
}

/// Deterministic n in 50 000..=120 000 (a 64-bit LCG; the figures do not depend on which n).
fn sizes(count: usize) -> Vec<u64> {
    let mut state: u64 = 42;
    (0..count)
        .map(|_| {
            state = state
                .wrapping_mul(6_364_136_223_846_793_005)
                .wrapping_add(1_442_695_040_888_963_407);
            50_000 + (state >> 33) % 70_001
        })
        .collect()
}

fn request(i: usize, n: u64) -> MeasureRequest {
    let half = n / 2;
    let body = serde_json::json!({
        "candidate_code": LCG,
        "candidate_id": format!("job{i}"),
        "problem_name": format!("job{i}"),
        "test_cases": [
            {"test_id": "t1", "inputs": [n], "expected_output": lcg(n)},
            {"test_id": "t2", "inputs": [half], "expected_output": lcg(half)},
        ],
        "timeout_seconds": 20,
        "memory_limit_mb": 1024,
        "energy_measurement_trials": 1,
        "warmup_trials": 0,
    });
    MeasureRequest::parse(body.to_string().as_bytes()).expect("a valid request")
}

fn env_number(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn main() {
    // `cargo test` runs benches in test mode: keep that quick.
    if !std::env::args().any(|a| a == "--bench") {
        println!("python_stress: run with `cargo bench` to measure");
        return;
    }
    let jobs = env_number("JOULETRACE_STRESS_JOBS", 20);
    let max_trials = env_number("JOULETRACE_STRESS_MAX_TRIALS", 3) as u32;
    let requests = sizes(jobs)
        .into_iter()
        .enumerate()
        .map(|(i, n)| request(i, n))
        .collect();
    let job = Job::from_requests(requests).expect("a valid job");
    let config = RunConfig {
        max_trials,
        min_trials: 1,
        warmup: 0,
        time_budget: Duration::from_secs(5),
        ..RunConfig::default()
    };
    let chosen = Interpreter::find_runnable(None, &config.sandbox).expect("a Python interpreter");
    if let Some(note) = &chosen.note {
        eprintln!("note: {note}");
    }
    let python = chosen.interpreter;
    let files = HostFiles::write(&job).expect("the host's files");
    let start = Instant::now();
    let context = RunContext::new(&HostConfig::default());
    let r = engine::run(
        &[files.target(&python, "stress")],
        &config,
        &context,
        &mut NullObserver,
        &CancelToken::new(),
    )
    .expect("engine run");
    let wall = start.elapsed().as_secs_f64();
    let completed = r
        .candidates()
        .filter(|c| c.status == jouletrace::results::Status::Passed)
        .count();
    let windows = |m: &jouletrace::results::CaseMeasurement| {
        let twin = m.loop_overhead.iter().flat_map(|o| &o.samples);
        m.warmup
            .iter()
            .chain(&m.samples)
            .chain(twin)
            .map(|s| s.measured_s)
            .sum::<f64>()
    };
    let inside: f64 = r
        .candidates()
        .flat_map(|c| &c.measurements)
        .map(windows)
        .sum();
    let lanes = if r.is_estimated() {
        r.environment.worker_cpus.len().max(1) as f64
    } else {
        1.0
    };
    println!(
        "python_stress: {completed}/{jobs} jobs passed in {wall:.1} s = {:.2} jobs/s; \
         inside measured windows {:.3} of wall time per lane ({lanes} lane(s), Python {}, meter {})",
        jobs as f64 / wall,
        inside / (wall * lanes),
        python.version,
        if r.is_estimated() {
            "estimated"
        } else {
            "measured"
        }
    );
}
