//! Helpers shared by the end-to-end tests.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicI32, Ordering};
use std::time::{Duration, Instant};

use jouletrace::energy::simulate::{Activity, FakeMachine, SimConfig, SimulatedPowercap};
use jouletrace::units::Watts;

fn stat_field(pid: &str, n: usize) -> Option<String> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // Fields after the command name, which is in parentheses and may hold spaces.
    let rest = &stat[stat.rfind(')')? + 2..];
    rest.split(' ').nth(n - 3).map(str::to_owned)
}

/// A process's CPU time, all threads, through its CPU-time clock: unlike `/proc/PID/schedstat`,
/// which lags a running task by up to a scheduler tick, the clock includes the slice in flight,
/// exactly as the worker's own `CLOCK_PROCESS_CPUTIME_ID` does.
fn cpu_time_ns(pid: i32) -> Option<u64> {
    let mut clock: libc::clockid_t = 0;
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: both out-pointers are valid; a vanished pid makes the calls fail, not misbehave.
    unsafe {
        if libc::clock_getcpuclockid(pid, &mut clock) != 0
            || libc::clock_gettime(clock, &mut ts) != 0
        {
            return None;
        }
    }
    Some(ts.tv_sec as u64 * 1_000_000_000 + ts.tv_nsec as u64)
}

/// Cumulative CPU time of the children of `parent` (the engine's workers), keeping the time of
/// workers that have exited.
pub fn worker_cpu_time(parent: Arc<AtomicI32>) -> impl FnMut() -> Duration + Send {
    let mut seen: HashMap<i32, u64> = HashMap::new();
    let mut children: Vec<i32> = Vec::new();
    let mut last_scan = Instant::now() - Duration::from_secs(1);
    move || {
        let parent = parent.load(Ordering::SeqCst);
        // Scanning /proc costs milliseconds, which would delay the simulated counter's updates; a
        // new worker prepares and calibrates for longer than this before its first window.
        if parent > 0 && last_scan.elapsed() >= Duration::from_millis(50) {
            last_scan = Instant::now();
            children = std::fs::read_dir("/proc")
                .into_iter()
                .flatten()
                .flatten()
                .filter_map(|e| e.file_name().to_str().map(str::to_owned))
                .filter(|p| p.bytes().all(|b| b.is_ascii_digit()))
                .filter(|p| stat_field(p, 4).is_some_and(|pp| pp == parent.to_string()))
                .filter_map(|p| p.parse().ok())
                .collect();
        }
        for &pid in &children {
            if let Some(ns) = cpu_time_ns(pid) {
                seen.insert(pid, ns);
            }
        }
        Duration::from_nanos(seen.values().sum())
    }
}

/// Starts a simulated RAPL package on `machine`'s `intel-rapl:0` zone: `idle` watts all the time
/// plus `busy` watts per CPU-second that `activity` reports. The simulator's thread runs on CPU 0
/// (at real-time priority where allowed, so that other load cannot delay its updates); the
/// returned CPU list (`JOULETRACE_CORES` syntax) is every other CPU, for the workers.
pub fn simulated_package(
    machine: &FakeMachine,
    idle: f64,
    busy: f64,
    activity: impl FnMut() -> Duration + Send + 'static,
) -> (SimulatedPowercap, String) {
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
            idle: Watts(idle),
            busy_per_cpu: Watts(busy),
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
    (sim, workers)
}

/// Asserts that `r` observed background activity and flagged samples for it; its account.
pub fn assert_flagged_busy(
    r: &jouletrace::results::RunResults,
) -> &jouletrace::results::BackgroundSummary {
    let bg = r
        .environment
        .background
        .as_ref()
        .expect("background observed");
    assert!(bg.flagged > 0, "{bg:?}");
    bg
}
