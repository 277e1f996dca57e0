//! Two JouleTrace runs at once on one machine, sharing a run lock: no check, listing, idle
//! baseline or measured window of one run may overlap a measured window of the other (the seed's
//! contamination bug: a second run's checks ran on every core while the first one measured).
//!
//! Both runs are the `manual_registration` bench binary under `--bench` (check, then measure),
//! started together with one `JOULETRACE_LOCK_PATH`; a third run, check-only, joins them. Times
//! in each results file are relative to that run's `monotonic_origin_ns`; all processes share
//! `CLOCK_MONOTONIC`, so the intervals are compared on absolute nanoseconds.
//!
//! "One package scope": the lock is machine-wide and taken whatever the meter, so the property
//! holds across the whole machine. It is tested with the estimate meter (per-process domains: the
//! lock, not the meter's scope, keeps the runs apart) and with the simulated powercap package,
//! where within one run no two windows overlap either.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use jouletrace::energy::simulate::{FakeMachine, SimConfig, SimulatedPowercap};
use jouletrace::results::{LockMode, RunMode, RunResults, Status};
use jouletrace::units::Watts;

/// An absolute interval on `CLOCK_MONOTONIC`, in nanoseconds, and what it was (shown when an
/// assertion fails).
#[derive(Debug, Clone)]
struct Span {
    start: i128,
    end: i128,
    #[expect(dead_code, reason = "read through Debug in failure messages")]
    what: String,
}

fn example() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_manual_registration"))
}

fn start(args: &[&str], target: &Path, lock: &Path, env: &[(&str, &str)]) -> Child {
    let mut cmd = Command::new(example());
    cmd.args(args)
        .env("CARGO_TARGET_DIR", target)
        .env("JOULETRACE_LOCK_PATH", lock)
        .env("JOULETRACE_MIN_SAMPLE_TIME", "20ms")
        .env("JOULETRACE_TRIALS", "3")
        .env("JOULETRACE_MAX_TRIALS", "3")
        .env("JOULETRACE_IDLE_WINDOW", "100ms")
        .stdout(Stdio::null())
        .stderr(Stdio::piped());
    for (k, v) in env {
        cmd.env(k, v);
    }
    cmd.spawn().unwrap()
}

fn finish(child: Child, target: &Path) -> RunResults {
    let out = child.wait_with_output().unwrap();
    RunResults::load(&target.join("joule/manual_registration/results.json")).unwrap_or_else(|e| {
        panic!(
            "{e} (exit {:?}): {}",
            out.status,
            String::from_utf8_lossy(&out.stderr)
        )
    })
}

fn abs(r: &RunResults, s: f64) -> i128 {
    r.run.monotonic_origin_ns as i128 + (s * 1e9).round() as i128
}

/// The measured windows (warm-up included) of a run.
fn windows(r: &RunResults, name: &str) -> Vec<Span> {
    r.candidates()
        .flat_map(|c| c.measurements.iter().map(move |m| (c, m)))
        .flat_map(|(c, m)| {
            m.warmup.iter().chain(&m.samples).map(move |s| Span {
                start: abs(r, s.window_start_s),
                end: abs(r, s.window_end_s),
                what: format!("{name}: window of {} on {}", c.id, m.case),
            })
        })
        .collect()
}

/// Everything of a run that puts load on the machine outside its own measured windows: its
/// checks, its idle baselines, its shared (listing and checking) lock holds.
fn activity(r: &RunResults, name: &str) -> Vec<Span> {
    let checks = r.candidates().filter_map(|c| {
        Some(Span {
            start: abs(r, c.check.start_s?),
            end: abs(r, c.check.end_s?),
            what: format!("{name}: check of {} on CPU {:?}", c.id, c.check.cpu),
        })
    });
    let idle = r.idle.iter().map(|i| Span {
        start: abs(r, i.taken_at_s),
        end: abs(r, i.taken_at_s + i.window_s),
        what: format!("{name}: idle of {}", i.domain),
    });
    let shared = r
        .run
        .lock
        .iter()
        .flat_map(|l| &l.holds)
        .filter(|h| h.mode == LockMode::Shared)
        .map(|h| Span {
            start: abs(r, h.acquired_at_s),
            end: abs(r, h.released_at_s),
            what: format!("{name}: shared lock hold"),
        });
    checks.chain(idle).chain(shared).collect()
}

fn assert_apart(a: &[Span], b: &[Span]) {
    for x in a {
        for y in b {
            assert!(
                x.end <= y.start || y.end <= x.start,
                "overlap: {x:?} and {y:?}"
            );
        }
    }
}

/// The lock record: the path shared, a shared hold then (when it measured) an exclusive one.
fn assert_lock_recorded(r: &RunResults, lock: &Path, measured: bool) {
    let l = r.run.lock.as_ref().expect("the run records its lock");
    assert_eq!(l.path, lock.display().to_string());
    let modes: Vec<LockMode> = l.holds.iter().map(|h| h.mode).collect();
    if measured {
        assert_eq!(modes, [LockMode::Shared, LockMode::Exclusive]);
    } else {
        assert_eq!(modes, [LockMode::Shared]);
    }
    for h in &l.holds {
        assert!(h.requested_at_s <= h.acquired_at_s && h.acquired_at_s <= h.released_at_s);
        assert!(h.waited_s >= 0.0);
    }
    // Every check ran inside the shared hold, every window inside the exclusive one.
    let shared = &l.holds[0];
    for c in r.candidates().filter(|c| c.check.start_s.is_some()) {
        assert!(c.check.start_s.unwrap() >= shared.acquired_at_s);
        assert!(c.check.end_s.unwrap() <= shared.released_at_s);
    }
    if measured {
        let ex = &l.holds[1];
        for w in windows(r, "") {
            assert!(w.start >= abs(r, ex.acquired_at_s) && w.end <= abs(r, ex.released_at_s));
        }
    }
}

fn two_runs_and_a_checker(env: &[(&str, &str)]) -> [RunResults; 3] {
    let lock_dir = tempfile::tempdir().unwrap();
    let lock = lock_dir.path().join("run.lock");
    let dirs = [(); 3].map(|_| tempfile::tempdir().unwrap());
    // `square` passes and is measured; the others fail their checks in various ways (more
    // checking processes); the slow ones (`spin` times out) are left out.
    let skip = [
        "--skip",
        "spin",
        "--skip",
        "huge_alloc",
        "--skip",
        "floods",
        "--skip",
        "stack_overflow",
    ];
    let bench = [&["--bench", "square::"][..], &skip].concat();
    let a = start(&bench, dirs[0].path(), &lock, env);
    let b = start(&bench, dirs[1].path(), &lock, env);
    // A check-only run arriving while the others check or measure: it must wait for measuring.
    std::thread::sleep(Duration::from_millis(300));
    let c = start(
        &[&["square::"][..], &skip].concat(),
        dirs[2].path(),
        &lock,
        env,
    );
    let ra = finish(a, dirs[0].path());
    let rb = finish(b, dirs[1].path());
    let rc = finish(c, dirs[2].path());
    for (r, measured) in [(&ra, true), (&rb, true), (&rc, false)] {
        assert_lock_recorded(r, &lock, measured);
        assert_eq!(
            r.run.mode,
            if measured {
                RunMode::Bench
            } else {
                RunMode::Check
            }
        );
        let square = r.candidates().find(|c| c.name == "square").unwrap();
        assert_eq!(square.status, Status::Passed);
        assert!(square.check.cpu.is_some(), "the check records its CPU");
        if measured {
            assert!(!windows(r, "").is_empty(), "it measured");
        }
    }
    let (wa, wb) = (windows(&ra, "A"), windows(&rb, "B"));
    assert_apart(&wa, &wb);
    for (w, others) in [
        (&wa, [activity(&rb, "B"), activity(&rc, "C")].concat()),
        (&wb, [activity(&ra, "A"), activity(&rc, "C")].concat()),
    ] {
        assert_apart(w, &others);
    }
    [ra, rb, rc]
}

#[test]
fn concurrent_runs_never_overlap_a_measured_window_with_the_estimate_meter() {
    let [ra, ..] = two_runs_and_a_checker(&[("JOULETRACE_METER", "estimate")]);
    assert!(ra.is_estimated());
}

#[test]
fn concurrent_runs_never_overlap_a_measured_window_on_a_simulated_rapl_package() {
    let tree = jouletrace_tests::sim_tree();
    let machine = FakeMachine::mirror_host(tree.path()).unwrap();
    let sim = SimulatedPowercap::start(
        machine.zone_dir("intel-rapl:0"),
        SimConfig {
            idle: Watts(5.0),
            ..SimConfig::default()
        },
    )
    .unwrap();
    let root = tree.path().display().to_string();
    let runs = two_runs_and_a_checker(&[
        ("JOULETRACE_METER", "powercap"),
        ("JOULETRACE_SYSFS_ROOT", &root),
    ]);
    sim.stop();
    for r in &runs[..2] {
        let meter = r.meter.as_ref().unwrap();
        assert!(!meter.estimated);
        assert_eq!(meter.primary_domain, "package-0");
        // One package, one lane: within a run no two windows overlap either.
        let mut w = windows(r, "");
        w.sort_by_key(|s| s.start);
        for pair in w.windows(2) {
            assert!(pair[0].end <= pair[1].start, "{pair:?}");
        }
    }
}
