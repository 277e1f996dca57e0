//! How well the engine uses the machine. Two figures (issue targets in brackets):
//!
//! 1. the share of a measuring run's wall time spent inside measured windows [≥ 0.8];
//! 2. how correctness-check throughput scales from one slot to all slots [≥ 0.9 × slots].
//!
//! Run with `cargo bench -p jouletrace --bench engine_efficiency`. The binary is its own worker:
//! started with `--jouletrace-worker` it serves the candidates registered below.

use std::hint::black_box;
use std::time::{Duration, Instant};

use jouletrace::__private::{CandidateEntry, CandidateOptions, cmp_eq, typed};
use jouletrace::Case;
use jouletrace::config::{CoreSelection, HostConfig, RunConfig};
use jouletrace::engine::{self, CancelToken, NullObserver, RunContext, Target};

fn micro_cases() -> Vec<Case<u64, u64>> {
    vec![Case::new("n=64", 64, (0..64u64).sum()).size(64)]
}

fn sum_loop(n: u64) -> u64 {
    (0..n).map(black_box).sum()
}

fn sum_formula(n: u64) -> u64 {
    n * (n - 1) / 2
}

/// Checks that cost about 150 ms of CPU each: enough to dwarf process start-up.
fn heavy_cases() -> Vec<Case<u64, u64>> {
    vec![Case::new("heavy", 60_000_000, (0..60_000_000u64).sum())]
}

macro_rules! register {
    ($problem:literal, $name:ident, $fun:ident, $cases:ident) => {
        jouletrace::__private::inventory::submit! {
            CandidateEntry {
                problem: $problem,
                name: stringify!($name),
                module_path: module_path!(),
                file: file!(),
                line: line!(),
                options: CandidateOptions::DEFAULT,
                imp: &typed($cases, $fun, cmp_eq, false),
            }
        }
    };
}

register!("micro", sum_loop, sum_loop, micro_cases);
register!("micro", sum_formula, sum_formula, micro_cases);
register!("heavy", h1, sum_loop, heavy_cases);
register!("heavy", h2, sum_loop, heavy_cases);
register!("heavy", h3, sum_loop, heavy_cases);
register!("heavy", h4, sum_loop, heavy_cases);
register!("heavy", h5, sum_loop, heavy_cases);
register!("heavy", h6, sum_loop, heavy_cases);
register!("heavy", h7, sum_loop, heavy_cases);
register!("heavy", h8, sum_loop, heavy_cases);

fn target() -> Target {
    Target::bench(std::env::current_exe().unwrap(), "engine_efficiency")
}

fn timed(config: &RunConfig) -> (Duration, jouletrace::results::RunResults) {
    let start = Instant::now();
    let context = RunContext::new(&HostConfig::default());
    let r = engine::run(
        &[target()],
        config,
        &context,
        &mut NullObserver,
        &CancelToken::new(),
    )
    .expect("engine run");
    (start.elapsed(), r)
}

fn main() {
    if std::env::args().nth(1).as_deref() == Some(jouletrace::protocol::WORKER_ARG) {
        std::process::exit(jouletrace::__private::harness_main());
    }
    // `cargo test` runs benches in test mode: keep that quick.
    if !std::env::args().any(|a| a == "--bench") {
        println!("engine_efficiency: run with `cargo bench` to measure");
        return;
    }

    let measuring = RunConfig {
        filters: vec!["micro::".into()],
        ..RunConfig::default()
    };
    let (wall, r) = timed(&measuring);
    let measurements = || r.candidates().flat_map(|c| &c.measurements);
    let inside: f64 = measurements()
        .flat_map(|m| m.warmup.iter().chain(&m.samples))
        .map(|s| s.measured_s)
        .sum();
    // The windows whose samples the statistics use: not warm-ups, not re-taken ones.
    let counted: f64 = measurements()
        .flat_map(|m| &m.samples)
        .filter(|s| !s.background_activity)
        .map(|s| s.measured_s)
        .sum();
    let windows = measurements()
        .map(|m| m.warmup.len() + m.samples.len())
        .sum::<usize>();
    let flagged = measurements()
        .flat_map(|m| &m.samples)
        .filter(|s| s.background_activity)
        .count();
    let slots = r.environment.worker_cpus.len() as f64;
    // Lanes measure in parallel under the estimate, so the share is per lane.
    let lanes = if r.is_estimated() { slots } else { 1.0 };
    // Waiting for another run's lock (a shared machine) is not this run's overhead.
    let waited: f64 = r
        .run
        .lock
        .as_ref()
        .map_or(0.0, |l| l.holds.iter().map(|h| h.waited_s).sum());
    let lane_wall = (wall.as_secs_f64() - waited) * lanes;
    println!(
        "measured-window share: {:.3} of {:.2} s wall ({} lane(s), meter {}); counted samples \
         only (no warm-ups, no re-takes): {:.3}; {windows} windows, {flagged} re-taken for \
         background activity; {waited:.1} s waiting for another run's lock left out",
        inside / lane_wall,
        wall.as_secs_f64() - waited,
        lanes,
        if r.is_estimated() {
            "estimated"
        } else {
            "measured"
        },
        counted / lane_wall,
    );

    let checks = |cores: CoreSelection| RunConfig {
        measure: false,
        filters: vec!["heavy::".into()],
        cores,
        ..RunConfig::default()
    };
    let (one, _) = timed(&checks(CoreSelection::List(vec![0])));
    let (all, r) = timed(&checks(CoreSelection::AllPhysical));
    let n = r.environment.worker_cpus.len();
    println!(
        "check throughput: 1 slot {:.2} s, {n} slots {:.2} s: speed-up {:.2} (= {:.2} × slots)",
        one.as_secs_f64(),
        all.as_secs_f64(),
        one.as_secs_f64() / all.as_secs_f64(),
        one.as_secs_f64() / all.as_secs_f64() / n as f64
    );
}
