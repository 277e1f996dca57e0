//! Helpers shared by the end-to-end tests.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicI32, Ordering};
use std::time::{Duration, Instant};

use jouletrace::config::{CoreSelection, HostConfig, MeterChoice, RunConfig};
use jouletrace::energy::Backend;
use jouletrace::energy::simulate::{Activity, FakeMachine, SimConfig, SimulatedPowercap};
use jouletrace::engine::RunContext;
use jouletrace::results::{RunResults, Status};
use jouletrace::units::Watts;

fn stat_field(pid: &str, n: usize) -> Option<String> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // Fields after the command name, which is in parentheses and may hold spaces.
    let rest = &stat[stat.rfind(')')? + 2..];
    rest.split(' ').nth(n - 3).map(str::to_owned)
}

/// CPU time of the descendants of `parent` (the engine's workers) since each was found, keeping
/// the time of workers that have exited.
pub fn worker_cpu_time(parent: Arc<AtomicI32>) -> impl FnMut() -> Duration + Send {
    let mut seen: HashMap<i32, u64> = HashMap::new();
    let mut found_at: HashMap<i32, u64> = HashMap::new();
    let mut children: Vec<i32> = Vec::new();
    let mut last_scan = Instant::now() - Duration::from_secs(1);
    move || {
        let parent = parent.load(Ordering::SeqCst);
        // Scanning /proc costs a millisecond or two, which delays the simulated counter's
        // updates; a new worker starts, prepares and warms up for longer than this interval
        // before its first window, so it is found before any window of its own.
        if parent > 0 && last_scan.elapsed() >= Duration::from_millis(10) {
            last_scan = Instant::now();
            // Every descendant, not only children: a sandboxed worker is a grandchild of its
            // reaper (pool/sandbox: reaper → namespace init → program).
            let parents: Vec<(i32, i32)> = std::fs::read_dir("/proc")
                .into_iter()
                .flatten()
                .flatten()
                .filter_map(|e| e.file_name().to_str().map(str::to_owned))
                .filter(|p| p.bytes().all(|b| b.is_ascii_digit()))
                .filter_map(|p| Some((p.parse().ok()?, stat_field(&p, 4)?.parse().ok()?)))
                .collect();
            children.clear();
            let mut frontier = vec![parent];
            while let Some(up) = frontier.pop() {
                for &(pid, ppid) in &parents {
                    if ppid == up && !children.contains(&pid) {
                        children.push(pid);
                        frontier.push(pid);
                    }
                }
            }
        }
        for &pid in &children {
            // Through its CPU-time clock: unlike `/proc/PID/schedstat`, which lags a running task
            // by up to a scheduler tick, the clock includes the slice in flight.
            if let Ok(ns) = jouletrace::energy::process_cpu_ns_of(pid as u32) {
                // A process is charged from the moment it is found: what it used before (its
                // start, before any window of its own) would otherwise land all at once in
                // whatever window was open when the scan found it.
                let first = *found_at.entry(pid).or_insert(ns);
                seen.insert(pid, ns - first);
            }
        }
        Duration::from_nanos(seen.values().sum())
    }
}

/// Quick settings for end-to-end runs on the estimate meter: 50 ms samples, 3–4 of them after
/// one warm-up, a 100 ms idle window, no cooling wait.
pub fn quick_estimate_config() -> RunConfig {
    RunConfig {
        meter: MeterChoice::Forced(Backend::Estimate),
        min_sample_time: Duration::from_millis(50),
        warmup: 1,
        min_trials: 3,
        max_trials: 4,
        idle_window: Duration::from_millis(100),
        settle_timeout: Duration::ZERO,
        ..RunConfig::default()
    }
}

/// A directory for a simulated machine's sysfs tree, in memory (`/dev/shm`) where there is one.
/// The simulated counter is a file rewritten (temporary file, then rename) every 250 µs; on a
/// disk file system those renames wait, now and then, for the journal's commit, and the counter
/// then stops for whole seconds and catches up in a burst: a window across the stop reads far
/// too little energy, the next far too much. Hardware counters do not wait for a disk, so
/// neither may their stand-in.
pub fn sim_tree() -> tempfile::TempDir {
    tempfile::Builder::new()
        .prefix("jouletrace-sim-")
        .tempdir_in("/dev/shm")
        .or_else(|_| tempfile::tempdir())
        .unwrap()
}

/// Starts a simulated RAPL package on `machine`'s `intel-rapl:0` zone, charging `idle` always plus
/// `busy` per CPU-second that `activity` reports; answers the simulator and the CPUs left for
/// workers (all usable CPUs but the simulator's, or CPU 0 alone on a one-CPU machine).
pub fn simulate_package(
    machine: &FakeMachine,
    idle: Watts,
    busy: Watts,
    activity: impl FnMut() -> Duration + Send + 'static,
) -> (SimulatedPowercap, Vec<u32>) {
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
            idle,
            busy_per_cpu: busy,
            activity: Activity::Custom(Box::new(activity)),
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
    let mut workers: Vec<u32> = (1..nix::sched::CpuSet::count())
        .filter(|&c| all.is_set(c).unwrap_or(false))
        .map(|c| c as u32)
        .collect();
    if workers.is_empty() {
        workers.push(0);
    }
    (sim, workers)
}

/// The run settings of the simulated proof, for an in-process `engine::run`: the powercap meter
/// forced, workers on `workers`, 250 ms samples, exactly 10 of them, a 1 s idle window.
pub fn simulated_run_config(workers: Vec<u32>) -> RunConfig {
    RunConfig {
        meter: MeterChoice::Forced(Backend::Powercap),
        cores: CoreSelection::List(workers),
        min_sample_time: Duration::from_millis(250),
        min_trials: 10,
        max_trials: 10,
        idle_window: Duration::from_secs(1),
        settle_timeout: Duration::ZERO,
        ..RunConfig::default()
    }
}

/// The context of a simulated run: the fake tree at `sysfs_root`, and a lock of its own there
/// (the run measures only its own workers).
pub fn simulated_context(sysfs_root: &std::path::Path) -> RunContext {
    RunContext::new(&HostConfig {
        sysfs_root: sysfs_root.to_owned(),
        lock_path: sysfs_root.join("measure.lock"),
    })
}

/// The simulated-RAPL proof, on the results of a run measured under [`simulate_package`]: a
/// powercap measurement (not an estimate) of package 0; an idle baseline within 2% of `idle_w`;
/// each sample of `candidate` charged `busy` W per CPU-second of its worker, net of idle, within
/// 10% per sample and 1% over all samples; no two measured windows overlapping. On a machine busy
/// with other work the simulator's own thread is delayed like everything else: samples (and the
/// idle window) the engine flagged `background_activity` are exempt from the exact figures, and
/// the run must then have flagged and warned instead.
pub fn assert_recovers_simulated_energy(r: &RunResults, candidate: &str, idle_w: f64, busy: f64) {
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
        (idle.power.get() - idle_w).abs() / idle_w < 0.02 || idle.background_activity,
        "idle {} W, simulated {idle_w} W",
        idle.power.get()
    );

    // Net energy is the busy share only: busy watts per CPU-second of the worker.
    let c = r.candidates().find(|c| c.name == candidate).unwrap();
    assert_eq!(c.status, Status::Passed, "{:?}", c.check.failure);
    let (mut net, mut put_in, mut foreign, mut quiet) = (0.0, 0.0, 0.0, 0);
    for m in &c.measurements {
        assert!(m.failure.is_none(), "{:?}", m.failure);
        // An interpreted host's loop overhead (measured on an empty twin) was taken off each
        // sample's net energy; the worker burnt it all the same, so it is added back here.
        let overhead_per_call = m
            .loop_overhead
            .iter()
            .flat_map(|o| &o.energy_per_call)
            .find(|e| e.domain == "package-0")
            .map_or(0.0, |e| e.energy.get());
        let stats = m.stats.as_ref().expect("statistics");
        assert!(stats.processes >= 2, "samples spread over processes");
        if m.samples.iter().any(|s| s.background_activity) {
            assert!(
                stats.flags.iter().any(|f| f == "background_activity"),
                "{:?}",
                stats.flags
            );
        }
        for s in m.samples.iter().filter(|s| !s.background_activity) {
            quiet += 1;
            let e = s.energy.iter().find(|e| e.domain == "package-0").unwrap();
            let burnt = e.net.get() + overhead_per_call * s.calls as f64;
            let expected = busy * s.cpu_time_s;
            // A package meter counts all work on the package: a quiet sample may still carry
            // other work below the flagging share (10% of the scope's CPU time), recorded with
            // it. Its energy, at the simulator's busy power, is allowed on top.
            let beside = s.background.map_or(0.0, |b| {
                busy * b.foreign_share * f64::from(b.cpus) * s.metered_s.unwrap_or(s.measured_s)
            });
            assert!(
                // One sample scatters by a few percent: the simulated counter is a user-space
                // thread, and its updates land a little before or after the worker's reads.
                // Hardware updates do not wait for a scheduler; the 1% bound below is on the sum.
                (burnt - expected).abs() <= 0.10 * expected + beside,
                "sample: net {} J + loop overhead {} J, put in {expected} J, other work {beside} J",
                e.net.get(),
                burnt - e.net.get()
            );
            assert!(e.gross.get() > e.net.get(), "gross includes the idle share");
            net += burnt;
            put_in += expected;
            foreign += beside;
        }
    }
    if quiet >= 10 {
        assert!(
            (net - put_in).abs() <= 0.01 * put_in + foreign,
            "over all quiet samples: net {net} J, put in {put_in} J, other work {foreign} J"
        );
    } else {
        assert_flagged_busy(r);
        assert!(
            meter
                .warnings
                .iter()
                .any(|w| w.contains("background activity")),
            "{:?}",
            meter.warnings
        );
    }

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

/// Asserts that `r` observed background activity and flagged samples for it; its account.
pub fn assert_flagged_busy(r: &RunResults) -> &jouletrace::results::BackgroundSummary {
    let bg = r
        .environment
        .background
        .as_ref()
        .expect("background observed");
    assert!(bg.flagged > 0, "{bg:?}");
    bg
}
