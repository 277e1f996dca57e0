//! Calibration of the intervals and of baseline gating (issue 11), and the engine beside a
//! synthetic background load.
//!
//! Repeated runs of one unchanged bench (`bin/calibration_bench.rs`: two candidates × two cases)
//! through the real engine, on the estimate meter and on a simulated RAPL package, sharing one
//! run history (`RunConfig::history_dir`, a temporary directory) as `cargo joule` runs do: the
//! first runs widen their intervals by the meter's prior run-to-run σ, later ones by the σ
//! measured from the runs before them (docs/statistics.md, "Run-to-run variation"). Reported:
//! - per run, the σ_run used and where it came from;
//! - for each candidate-case, the share of other runs' medians inside a run's 95% interval (the
//!   issue asks ≥ 0.8 overall; exact intervals would give about 0.83, since both medians vary);
//! - the first run saved as a baseline and every other run compared with it: regressed and
//!   "improved" verdicts (the issue asks none and at most 5%), and how often the interval of the
//!   change excludes zero (at most 10%).
//!
//! What every version asserts is what the design guarantees: the history bookkeeping (run k
//! counts k runs; the prior below 3 runs, at least the prior below 5, measured from 5 on, never
//! below the floor), every headline interval containing its within-run interval widened by at
//! least z·σ_run on each side, the comparison carrying both sides' σ, and no verdict on
//! unchanged code (a verdict needs a change beyond the 5% threshold and the noise, which now
//! includes both runs' σ). Coverage and the change intervals are measured figures: the CI
//! versions (6 runs of 20 ms samples, 6–12 trials) print them; the full versions (`--ignored`,
//! ten runs at the default 100 ms samples) also assert the bounds, where the engine
//! vouches for the intervals. The figures are for the bundled examples
//! (`tests/calibration/examples.sh`); this fixture is smaller so that CI can afford it.
//!
//! Samples flagged `background_activity` are what the engine itself distrusts: a case whose
//! statistics had to include them is marked `unreliable`, and coverage is asserted over reliable
//! cases only, when there are enough of them; on a machine too busy for any, the full versions
//! assert that every run said so instead.

use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use jouletrace::baseline::{CompareOptions, compare};
use jouletrace::config::{CoreSelection, HostConfig, MeterChoice, RunConfig};
use jouletrace::energy::Backend;
use jouletrace::energy::simulate::{FakeMachine, SimulatedPowercap};
use jouletrace::engine::{self, CancelToken, NullObserver, RunContext, Target};
use jouletrace::results::{ChangeVerdict, RunResults, RunToRunSource};
use jouletrace::stats::run_to_run;
use jouletrace::units::Watts;
use jouletrace_tests::{assert_flagged_busy, simulate_package, worker_cpu_time};

/// One engine run at a time in this binary: the simulated package charges every child of this
/// process, and the load test must not load another test's workers.
static SERIAL: Mutex<()> = Mutex::new(());

fn target() -> Target {
    Target::bench(
        PathBuf::from(env!("CARGO_BIN_EXE_calibration_bench")),
        "calibration_bench",
    )
}

/// Where a run of these tests takes its lock and reads sysfs.
fn context(lock: &std::path::Path, sysfs: Option<&std::path::Path>) -> RunContext {
    let host = HostConfig {
        lock_path: lock.to_owned(),
        ..HostConfig::default()
    };
    let host = match sysfs {
        Some(root) => HostConfig {
            sysfs_root: root.to_owned(),
            ..host
        },
        None => host,
    };
    RunContext::new(&host)
}

fn config(full: bool) -> RunConfig {
    RunConfig {
        meter: MeterChoice::Forced(Backend::Estimate),
        min_sample_time: Duration::from_millis(if full { 100 } else { 20 }),
        min_trials: 6,
        max_trials: if full { 30 } else { 12 },
        time_budget: Duration::from_secs(if full { 10 } else { 2 }),
        idle_window: Duration::from_millis(100),
        ..RunConfig::default()
    }
}

fn run(config: &RunConfig, context: &RunContext) -> RunResults {
    engine::run(
        &[target()],
        config,
        context,
        &mut NullObserver,
        &CancelToken::new(),
    )
    .expect("engine run")
}

/// What the calibration found.
#[derive(Debug, Default)]
struct Calibration {
    /// Other runs' medians inside a run's interval, over reliable candidate-cases.
    inside: usize,
    pairs: usize,
    /// The same over every candidate-case, reliable or not (reported, not asserted).
    inside_all: usize,
    pairs_all: usize,
    unreliable_cases: usize,
    cases: usize,
    comparisons: usize,
    regressed: usize,
    improved: usize,
    excludes_zero: usize,
}

impl std::fmt::Display for Calibration {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let share = |a: usize, b: usize| a as f64 / b.max(1) as f64;
        write!(
            f,
            "coverage {:.3} over {} reliable pairs ({:.3} over all {}); {} of {} candidate-case \
             measurements unreliable; vs baseline: {} comparisons, {} regressed, {} improved \
             ({:.1}%), change excludes zero in {} ({:.1}%)",
            share(self.inside, self.pairs),
            self.pairs,
            share(self.inside_all, self.pairs_all),
            self.pairs_all,
            self.unreliable_cases,
            self.cases,
            self.comparisons,
            self.regressed,
            self.improved,
            100.0 * share(self.improved, self.comparisons),
            self.excludes_zero,
            100.0 * share(self.excludes_zero, self.comparisons)
        )
    }
}

/// One run's figure for a candidate-case: (median, lower, upper, unreliable).
type Figure = (f64, f64, f64, bool);

fn calibrate(runs: &[RunResults]) -> Calibration {
    let mut c = Calibration::default();
    let mut figures: std::collections::BTreeMap<(String, String), Vec<Figure>> = Default::default();
    for r in runs {
        for cand in r.candidates() {
            for m in &cand.measurements {
                let Some(s) = &m.stats else { continue };
                let e = &s.net_energy_per_call_j;
                let unreliable = s.flags.iter().any(|f| f == "unreliable");
                figures
                    .entry((cand.id.clone(), m.case.clone()))
                    .or_default()
                    .push((e.point.get(), e.lower.get(), e.upper.get(), unreliable));
            }
        }
    }
    for runs in figures.values() {
        for (i, (_, lo, hi, unreliable)) in runs.iter().enumerate() {
            c.cases += 1;
            c.unreliable_cases += usize::from(*unreliable);
            for (j, (median, ..)) in runs.iter().enumerate() {
                if i == j {
                    continue;
                }
                let inside = usize::from(lo <= median && median <= hi);
                c.inside_all += inside;
                c.pairs_all += 1;
                if !unreliable {
                    c.inside += inside;
                    c.pairs += 1;
                }
            }
        }
    }
    let base = &runs[0];
    for r in &runs[1..] {
        let cmp = compare(
            base,
            r,
            "calibration",
            "calibration.json",
            &CompareOptions::from_settings(&r.settings),
        )
        .expect("same meter, same machine");
        let sigma = |r: &RunResults| {
            r.candidates()
                .flat_map(|c| &c.measurements)
                .find_map(|m| m.stats.as_ref()?.run_to_run.as_ref())
                .map(|rr| rr.sigma)
        };
        for e in &cmp.entries {
            let Some(change) = e.change else { continue };
            // The change carries both sides' run-to-run σ and is at least as wide as the
            // within-run change.
            let both = e.run_to_run.expect("both sides' run-to-run sigma");
            assert_eq!(Some(both.old), sigma(base), "{e:?}");
            assert_eq!(Some(both.new), sigma(r), "{e:?}");
            if let Some(w) = e.within_run {
                assert!(change.lower <= w.lower && w.upper <= change.upper, "{e:?}");
            }
            c.comparisons += 1;
            c.regressed += usize::from(e.verdict == ChangeVerdict::Regressed);
            c.improved += usize::from(e.verdict == ChangeVerdict::Improved);
            c.excludes_zero += usize::from(change.lower > 0.0 || change.upper < 0.0);
        }
    }
    c
}

/// The acceptance figures. A verdict on unchanged code is never acceptable, busy machine or
/// not; coverage and the change intervals are asserted only in the `full` versions.
fn assert_calibrated(c: &Calibration, runs: &[RunResults], full: bool) {
    let meter = runs[0]
        .meter
        .as_ref()
        .map_or("none", |m| m.backend.as_str());
    eprintln!(
        "calibration ({meter}, {} runs, load average {}): {c}",
        runs.len(),
        std::fs::read_to_string("/proc/loadavg")
            .unwrap_or_default()
            .trim()
    );
    for (i, r) in runs.iter().enumerate() {
        let rr = r
            .candidates()
            .flat_map(|c| &c.measurements)
            .find_map(|m| m.stats.as_ref()?.run_to_run.as_ref());
        let bg = r.environment.background.as_ref();
        eprintln!(
            "  run {}: run-to-run {}; {} of {} samples flagged, median foreign share {:.3}, {} \
             unreliable",
            i + 1,
            rr.map_or("none".into(), jouletrace::engine::history::describe),
            bg.map_or(0, |b| b.flagged),
            bg.map_or(0, |b| b.samples),
            bg.map_or(0.0, |b| b.median_foreign_share),
            bg.map_or(0, |b| b.unreliable_cases)
        );
    }
    assert_eq!(c.regressed, 0, "an unchanged rerun regressed: {c}");
    assert!(
        c.improved * 20 <= c.comparisons.max(20),
        "too many 'improved' verdicts on unchanged code: {c}"
    );
    if !full {
        return;
    }
    // Asserted where the engine vouches for the intervals: enough reliable pairs.
    if c.pairs >= c.pairs_all / 2 && c.pairs >= 10 {
        assert!(
            c.inside as f64 >= 0.8 * c.pairs as f64,
            "intervals miss other runs' medians: {c}"
        );
        assert!(
            c.excludes_zero * 10 <= c.comparisons.max(10),
            "the change's interval excludes zero too often: {c}"
        );
    } else {
        // Too busy to vouch for: every run must say so.
        for r in runs {
            assert_flagged_busy(r);
        }
    }
}

/// The run-to-run bookkeeping of `runs`, taken in this order with one shared history in
/// `history` (empty before the first): run k (1-based) was fitted on k runs; below
/// `MIN_RUNS_MEASURED` it used the meter's prior, below `MIN_RUNS_ALONE` at least the prior, from
/// there on the measured σ (never below the floor); every case of a run carries the same σ, and
/// its headline intervals contain the within-run ones widened by at least z·σ on each side.
fn assert_run_to_run(runs: &[RunResults], history: &Path) {
    for (i, r) in runs.iter().enumerate() {
        let k = i + 1;
        let backend = r.meter.as_ref().unwrap().backend;
        let prior = run_to_run::prior(backend);
        let z = run_to_run::z(r.settings.confidence_level);
        let mut seen = None;
        for cand in r.candidates() {
            for m in &cand.measurements {
                let s = m.stats.as_ref().expect("measured");
                let rr = s
                    .run_to_run
                    .as_ref()
                    .expect("every case carries its run-to-run σ");
                assert_eq!(*seen.get_or_insert(rr), rr, "one σ per run");
                assert_eq!(rr.meter, backend);
                assert_eq!(
                    rr.runs as usize, k,
                    "run {k} fitted on the runs so far: {rr:?}"
                );
                if k < run_to_run::MIN_RUNS_MEASURED {
                    assert_eq!(
                        (rr.source, rr.sigma),
                        (RunToRunSource::Prior, prior),
                        "{rr:?}"
                    );
                } else if k < run_to_run::MIN_RUNS_ALONE {
                    assert!(rr.sigma >= prior, "{rr:?}");
                    assert_eq!(
                        rr.source == RunToRunSource::Prior,
                        rr.sigma == prior,
                        "{rr:?}"
                    );
                } else {
                    assert_eq!(rr.source, RunToRunSource::History, "{rr:?}");
                    assert!(rr.sigma >= run_to_run::SIGMA_FLOOR, "{rr:?}");
                }
                let w = s
                    .within_run
                    .as_ref()
                    .expect("the within-run intervals are kept");
                for (head, within) in [
                    (&s.net_energy_per_call_j, &w.net_energy_per_call_j),
                    (&s.energy_per_call_j, &w.energy_per_call_j),
                ] {
                    let (p, lo, hi) = (head.point.get(), head.lower.get(), head.upper.get());
                    assert_eq!(p, within.point.get());
                    assert!(
                        lo <= within.lower.get() && within.upper.get() <= hi,
                        "{s:?}"
                    );
                    if p > 0.0 && within.lower.get() > 0.0 {
                        let widened = z * rr.sigma - 1e-9;
                        assert!(
                            (p / lo).ln() >= widened && (hi / p).ln() >= widened,
                            "{s:?}"
                        );
                    }
                }
            }
        }
    }
    // One record per run in the shared history.
    let lines: usize = std::fs::read_dir(history)
        .unwrap()
        .flatten()
        .filter(|e| e.path().extension().is_some_and(|x| x == "jsonl"))
        .map(|e| std::fs::read_to_string(e.path()).unwrap().lines().count())
        .sum();
    assert_eq!(lines, runs.len(), "one history record per run");
}

fn estimate_runs(n: usize, full: bool) {
    let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let dir = tempfile::tempdir().unwrap();
    let history = dir.path().join("history");
    let config = RunConfig {
        history_dir: Some(history.clone()),
        ..config(full)
    };
    let context = context(&dir.path().join("lock"), None);
    let runs: Vec<RunResults> = (0..n).map(|_| run(&config, &context)).collect();
    assert_run_to_run(&runs, &history);
    for r in &runs {
        assert!(r.is_estimated());
        for cand in r.candidates() {
            for m in &cand.measurements {
                let s = m.stats.as_ref().expect("measured");
                assert!(s.processes >= 2, "samples spread over processes: {s:?}");
            }
        }
    }
    assert_calibrated(&calibrate(&runs), &runs, full);
}

/// A simulated RAPL package on a mirror of this machine, its run settings and context.
struct SimulatedPackage {
    machine: FakeMachine,
    sim: SimulatedPowercap,
    config: RunConfig,
    context: RunContext,
    _dirs: [tempfile::TempDir; 2],
}

impl SimulatedPackage {
    /// 4 W idle, 20 W per CPU-second of this process's children (the engine's workers).
    fn start(full: bool) -> SimulatedPackage {
        let tree = jouletrace_tests::sim_tree();
        let machine = FakeMachine::mirror_host(tree.path()).unwrap();
        let me = std::sync::Arc::new(std::sync::atomic::AtomicI32::new(std::process::id() as i32));
        let (sim, cpus) = simulate_package(&machine, Watts(4.0), Watts(20.0), worker_cpu_time(me));
        let dir = tempfile::tempdir().unwrap();
        let config = RunConfig {
            meter: MeterChoice::Forced(Backend::Powercap),
            cores: CoreSelection::List(cpus),
            ..config(full)
        };
        let context = context(&dir.path().join("lock"), Some(tree.path()));
        SimulatedPackage {
            machine,
            sim,
            config,
            context,
            _dirs: [tree, dir],
        }
    }
}

fn simulated_runs(n: usize, full: bool) {
    let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let SimulatedPackage {
        machine,
        sim,
        config,
        context,
        _dirs,
    } = SimulatedPackage::start(full);
    // The simulator's updater thread is the meter: its CPU time must not count as foreign.
    let updater = jouletrace::engine::background::published_meter_threads(&machine.sysfs());
    assert_eq!(updater.len(), 1, "the simulator publishes its thread");
    let cpu_ns = || {
        jouletrace::sysfs::Procfs::default()
            .thread_schedstat(updater[0].pid, updater[0].tid)
            .map_or(0, |s| s.on_cpu_ns)
    };
    let (t0, ns0) = (Instant::now(), cpu_ns());
    let history = tempfile::tempdir().unwrap();
    let config = RunConfig {
        history_dir: Some(history.path().to_owned()),
        ..config
    };
    let runs: Vec<RunResults> = (0..n).map(|_| run(&config, &context)).collect();
    assert_run_to_run(&runs, history.path());
    eprintln!(
        "simulator thread: {:.1}% of a CPU over the runs (not foreign: it is the meter)",
        (cpu_ns() - ns0) as f64 / t0.elapsed().as_nanos() as f64 * 100.0
    );
    sim.stop();
    for r in &runs {
        assert!(!r.is_estimated());
        assert_eq!(r.meter.as_ref().unwrap().backend, Backend::Powercap);
    }
    assert_calibrated(&calibrate(&runs), &runs, full);
}

#[test]
fn unchanged_reruns_on_the_estimate_meter_never_regress_and_intervals_hold() {
    estimate_runs(6, false);
}

#[test]
fn unchanged_reruns_on_a_simulated_rapl_package_never_regress_and_intervals_hold() {
    simulated_runs(6, false);
}

#[test]
#[ignore = "ten runs at the default 100 ms samples: several minutes"]
fn full_calibration_on_the_estimate_meter() {
    estimate_runs(10, true);
}

#[test]
#[ignore = "ten runs at the default 100 ms samples: several minutes"]
fn full_calibration_on_a_simulated_rapl_package() {
    simulated_runs(10, true);
}

/// Busy loops on every worker CPU until stopped or `limit` has passed: the load stops by itself.
struct Load {
    stop: std::sync::Arc<AtomicBool>,
    threads: Vec<std::thread::JoinHandle<()>>,
}

impl Load {
    fn start(cpus: &[usize], limit: Duration) -> Load {
        let stop = std::sync::Arc::new(AtomicBool::new(false));
        let threads = cpus
            .iter()
            .map(|&cpu| {
                let stop = stop.clone();
                std::thread::spawn(move || {
                    let mut set = nix::sched::CpuSet::new();
                    let _ = set.set(cpu);
                    let _ = nix::sched::sched_setaffinity(nix::unistd::Pid::from_raw(0), &set);
                    let until = Instant::now() + limit;
                    let mut x = 0u64;
                    while !stop.load(Ordering::Relaxed) && Instant::now() < until {
                        x = std::hint::black_box(
                            x.wrapping_mul(6364136223846793005).wrapping_add(1),
                        );
                    }
                })
            })
            .collect();
        Load { stop, threads }
    }
}

impl Drop for Load {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        for t in self.threads.drain(..) {
            let _ = t.join();
        }
    }
}

#[test]
fn a_background_load_is_flagged_and_never_yields_a_tight_interval_on_contaminated_data() {
    let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let dir = tempfile::tempdir().unwrap();
    let (config, context) = (config(false), context(&dir.path().join("lock"), None));
    let quiet = run(&config, &context);
    let cpus: Vec<usize> = quiet
        .environment
        .worker_cpus
        .iter()
        .map(|&c| c as usize)
        .collect();
    let loaded = {
        let _load = Load::start(&cpus, Duration::from_secs(120));
        run(&config, &context)
    };
    let bg = assert_flagged_busy(&loaded);
    eprintln!(
        "background load: {} of {} samples flagged (quiet run: {:?}), {} of {} measurements \
         unreliable, median foreign share {:.2}",
        bg.flagged,
        bg.samples,
        quiet.environment.background.as_ref().map(|b| b.flagged),
        bg.unreliable_cases,
        loaded
            .candidates()
            .map(|c| c.measurements.len())
            .sum::<usize>(),
        bg.median_foreign_share
    );
    assert_load_seen(&loaded);
    for cand in loaded.candidates() {
        for m in &cand.measurements {
            let s = m.stats.as_ref().expect("measured");
            let flags_unreliable = s.flags.iter().any(|f| f == "unreliable");
            let quiet_m = quiet
                .candidates()
                .find(|c| c.id == cand.id)
                .and_then(|c| c.measurements.iter().find(|q| q.case == m.case))
                .and_then(|q| q.stats.as_ref())
                .expect("measured quietly too");
            if quiet_m.flags.iter().any(|f| f == "unreliable") {
                // No quiet reference on a machine this busy: the flags above are what counts.
                continue;
            }
            let (a, b) = (
                quiet_m.net_energy_per_call_j.point.get(),
                s.net_energy_per_call_j.point.get(),
            );
            eprintln!(
                "  {} {}: {:+.1}% against the quiet run, unreliable: {flags_unreliable}",
                cand.id,
                m.case,
                (b / a - 1.0) * 100.0
            );
            // Either the figure held, or the engine said not to trust it.
            assert!(
                (b / a - 1.0).abs() <= 0.05 || flags_unreliable,
                "{} {}: {b} vs quiet {a}, flags {:?}",
                cand.id,
                m.case,
                s.flags
            );
        }
    }
}

/// The simulated package's own updater thread is the meter and is not counted as foreign
/// (`engine::background`, meter threads), but other work beside it still is: with a load on
/// every worker CPU, samples are flagged and the run warns, as on the estimate meter.
#[test]
fn a_background_load_beside_a_simulated_package_is_still_flagged() {
    let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let p = SimulatedPackage::start(false);
    let (config, context) = (&p.config, &p.context);
    let CoreSelection::List(cpus) = &config.cores else {
        unreachable!("a list of CPUs")
    };
    let loaded = {
        let cpus: Vec<usize> = cpus.iter().map(|&c| c as usize).collect();
        let _load = Load::start(&cpus, Duration::from_secs(120));
        run(config, context)
    };
    p.sim.stop();
    let bg = assert_flagged_busy(&loaded);
    eprintln!(
        "background load beside the simulated package: {} of {} samples flagged, median foreign \
         share {:.2}",
        bg.flagged, bg.samples, bg.median_foreign_share
    );
    assert_load_seen(&loaded);
}

/// A run beside a load on its worker CPUs warned about it, and every measurement has samples
/// flagged `background_activity`.
fn assert_load_seen(loaded: &RunResults) {
    let meter = loaded.meter.as_ref().unwrap();
    assert!(
        meter
            .warnings
            .iter()
            .any(|w| w.contains("background activity") || w.contains("BUSY MACHINE")),
        "{:?}",
        meter.warnings
    );
    for cand in loaded.candidates() {
        for m in &cand.measurements {
            assert!(
                m.samples.iter().any(|s| s.background_activity),
                "{} {}: samples beside the load are flagged",
                cand.id,
                m.case
            );
        }
    }
}
