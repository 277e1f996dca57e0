//! Background activity: what else ran on the CPUs that share the meter's scope while a window
//! was open, and the policy for samples taken beside it.
//!
//! A [`Watch`] is pointed at the CPUs a meter cannot tell apart (the package for a package-wide
//! RAPL domain, every CPU for a system-wide one, the worker's own CPU for the estimate and
//! per-core meters) and, for measured windows, at the worker process. Two [`Mark`]s around a
//! window give a [`Background`]: the busy time of those CPUs that was not the worker's, and the
//! time the worker was runnable but waiting for a CPU.
//!
//! The policy (documented in `docs/statistics.md`, "A busy machine"):
//! - a sample is flagged `background_activity` when the foreign share exceeds
//!   [`FOREIGN_SHARE_LIMIT`] (beyond one tick of rounding per CPU) or the wait share exceeds
//!   [`WAIT_SHARE_LIMIT`];
//! - a flagged sample is kept in the results but re-taken: it does not count toward the
//!   measurement's trials, and at most `max_trials` samples of one measurement are re-taken;
//! - statistics use the quiet samples when there are at least `min_trials` (and two) of them;
//!   otherwise they use every sample and the case is flagged `background_activity` and
//!   `unreliable`;
//! - a measurement with more than [`BUSY_SHARE_LIMIT`] of its samples flagged is `unreliable`
//!   too, quiet samples or not ([`busy`]);
//! - an idle window with foreign activity above the limit is measured again, up to
//!   [`IDLE_ATTEMPTS`] times; the quietest is kept and, if none was quiet, the run warns loudly.
//!
//! A meter that runs as a thread beside the worker (only a simulator does: RAPL, NVML and
//! perf are updated by hardware and the kernel) is the meter, not foreign work. Its threads are
//! [`MeterThread`]s, registered with [`register_meter_thread`] (same process) or published in
//! a fake sysfs tree (`energy::simulate`, another process); a [`Watch`] takes their CPU time off
//! the scope's busy time when they may run on the scope's CPUs. A real `/sys` publishes none, so
//! on hardware nothing is ever excluded.

use std::sync::Mutex;
use std::time::Instant;

use crate::energy::{Domain, Scope};
use crate::platform::load::{CpuTicks, Schedstat, clock_ticks_per_second};
use crate::results::{Background, BackgroundSummary, IdleRecord, ProblemResult, Sample};
use crate::sysfs::{Procfs, Sysfs};

/// Foreign CPU time above this share of the scope's CPU time flags a window. One tenth: on a
/// package-wide meter, another core busy a tenth of the time adds roughly a tenth of a core's
/// power to the candidate's energy, which is several times the ±2% the intervals aim at.
pub const FOREIGN_SHARE_LIMIT: f64 = 0.10;

/// Run-queue wait above this share of the window flags a sample: the worker shared its CPU, so
/// its caches and its time per call were someone else's too.
pub const WAIT_SHARE_LIMIT: f64 = 0.05;

/// More than this share of a measurement's samples flagged marks it `unreliable` even when
/// enough quiet samples remain: the machine was busy all along, and what the detector cannot see
/// moves the quiet samples too — other CPUs' work through shared caches and memory bandwidth, a
/// hypervisor's other guests on the same cores. On the 2-core CI VM under load (load average 12),
/// the quiet samples of one run of the examples came out 10–14% above those of the runs around it,
/// consistently within the run, with the worker's own CPU free of foreign work; a quiet machine
/// flags 1–2% of samples.
pub const BUSY_SHARE_LIMIT: f64 = 0.25;

/// How many times an idle window is measured before the run settles for a busy one.
pub const IDLE_ATTEMPTS: u32 = 3;

/// The policy in one sentence, as the results file records it.
pub const POLICY: &str = "samples with foreign CPU activity above 10% of the meter scope's CPU \
     time, or run-queue wait above 5% of the window, are flagged background_activity, re-taken \
     (up to max_trials per measurement) and kept out of the statistics while at least \
     min_trials quiet samples exist; otherwise, or when more than 25% of a measurement's samples \
     were flagged, the case is marked unreliable (and not gated against a baseline). Idle \
     windows are re-measured up to 3 times. A simulated meter's own thread is the meter, not \
     foreign activity.";

/// A thread that is part of the meter: a simulated RAPL counter's updater, which runs on the
/// package it simulates. Its CPU time is not foreign activity (see the module docs).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct MeterThread {
    pub pid: u32,
    pub tid: u32,
}

impl MeterThread {
    /// The calling thread.
    pub fn current() -> MeterThread {
        MeterThread {
            pid: std::process::id(),
            tid: nix::unistd::gettid().as_raw() as u32,
        }
    }
}

/// Meter threads of this process, for engine runs in the same process (a test's in-process
/// `engine::run` beside its simulator). Every [`Watch`] of the process excludes them.
static METER_THREADS: Mutex<Vec<MeterThread>> = Mutex::new(Vec::new());

/// Declares `t` part of the meter: every [`Watch`] created afterwards in this process stops
/// counting its CPU time as foreign. Only simulators call this; undo with
/// [`unregister_meter_thread`] when the thread ends.
pub fn register_meter_thread(t: MeterThread) {
    let mut threads = METER_THREADS.lock().unwrap_or_else(|e| e.into_inner());
    if !threads.contains(&t) {
        threads.push(t);
    }
}

pub fn unregister_meter_thread(t: MeterThread) {
    let mut threads = METER_THREADS.lock().unwrap_or_else(|e| e.into_inner());
    threads.retain(|&x| x != t);
}

/// The meter threads a watch of `cpus` (empty: every CPU) excludes: those registered in this
/// process and those a simulator in another process published in the fake sysfs tree this
/// process reads (`$JOULETRACE_SYSFS_ROOT`), restricted to threads that may run on `cpus`.
fn meter_threads_on(cpus: &[u32]) -> Vec<MeterThread> {
    let mut threads = METER_THREADS
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .clone();
    for t in published_meter_threads(&Sysfs::from_env()) {
        if !threads.contains(&t) {
            threads.push(t);
        }
    }
    threads.retain(|t| cpus.is_empty() || may_run_on(t.tid, cpus));
    threads
}

/// The file in a simulated powercap zone naming the updater thread (`PID TID`), while it runs.
/// Written by `energy::simulate`; no real sysfs has it, and [`published_meter_threads`] reads it
/// only from a fake tree.
pub const METER_THREAD_FILE: &str = "jouletrace-simulator-thread";

/// The meter threads simulators in any process published in the fake tree `sysfs`; nothing
/// for the real `/sys`, whose meters are hardware and have no thread.
pub fn published_meter_threads(sysfs: &Sysfs) -> Vec<MeterThread> {
    if sysfs.is_real() {
        return Vec::new();
    }
    sysfs
        .list_dir("class/powercap")
        .unwrap_or_default()
        .iter()
        .filter_map(|zone| {
            sysfs
                .read_string(format!("class/powercap/{zone}/{METER_THREAD_FILE}"))
                .ok()
        })
        .filter_map(|text| {
            let mut ids = text.split_whitespace().map(|x| x.parse::<u32>().ok());
            Some(MeterThread {
                pid: ids.next()??,
                tid: ids.next()??,
            })
        })
        .collect()
}

/// Whether thread `tid` is allowed on any of `cpus`. A thread whose affinity cannot be read
/// (gone, or not ours to see) is kept: its CPU time then cannot be read either, so keeping it
/// excludes nothing.
fn may_run_on(tid: u32, cpus: &[u32]) -> bool {
    match nix::sched::sched_getaffinity(nix::unistd::Pid::from_raw(tid as i32)) {
        Ok(set) => cpus
            .iter()
            .any(|&c| set.is_set(c as usize).unwrap_or(false)),
        Err(_) => true,
    }
}

/// The CPUs a meter reading `domains` cannot tell apart; empty means every CPU (a system-wide
/// domain, or a package whose CPUs are not listed).
pub fn scope_cpus(domains: &[&Domain]) -> Vec<u32> {
    let mut cpus = Vec::new();
    for d in domains {
        match d.scope {
            Scope::Process => {}
            Scope::System | Scope::Device { .. } => return Vec::new(),
            Scope::Package { .. } | Scope::Core { .. } if d.cpus.is_empty() => return Vec::new(),
            Scope::Package { .. } | Scope::Core { .. } => cpus.extend(&d.cpus),
        }
    }
    cpus.sort_unstable();
    cpus.dedup();
    cpus
}

/// The CPUs sharing a measured worker's scope: its own for per-process (estimate) and
/// per-core meters, its domain's for package-wide ones, every CPU for system-wide ones.
pub fn worker_scope(primary: &Domain, cpu: u32) -> Vec<u32> {
    match primary.scope {
        Scope::Process => vec![cpu],
        _ => {
            let cpus = scope_cpus(&[primary]);
            if matches!(primary.scope, Scope::Core { .. }) && cpus.is_empty() {
                vec![cpu]
            } else {
                cpus
            }
        }
    }
}

/// Readings of the scope's CPUs and the worker at one instant.
#[derive(Clone, Debug)]
pub struct Mark {
    ticks: Vec<CpuTicks>,
    worker: Option<Schedstat>,
    /// On-CPU time of each of the watch's meter threads that could be read.
    meter: Vec<(MeterThread, u64)>,
    at: Instant,
}

/// What to watch: the CPUs sharing a meter's scope, and the measured worker if any.
#[derive(Clone, Debug)]
pub struct Watch {
    proc: Procfs,
    /// Empty means every CPU.
    cpus: Vec<u32>,
    pid: Option<u32>,
    /// Threads that are the meter (a simulator's), whose CPU time is not foreign.
    meter: Vec<MeterThread>,
    hz: u64,
}

/// One window's background with the decision about it.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Reading {
    pub load: Background,
    pub flagged: bool,
}

impl Watch {
    /// Watches `cpus` (empty: every CPU) and the worker `pid`, leaving out the meter threads
    /// (a simulator's) that may run on those CPUs.
    pub fn new(proc: Procfs, cpus: Vec<u32>, pid: Option<u32>) -> Watch {
        let meter = meter_threads_on(&cpus);
        Watch {
            proc,
            cpus,
            pid,
            meter,
            hz: clock_ticks_per_second(),
        }
    }

    /// Reads the scope's CPUs and the worker now; `None` when `/proc` cannot tell (then
    /// nothing is flagged and the results say the background was not observed).
    pub fn mark(&self) -> Option<Mark> {
        let ticks: Vec<CpuTicks> = self
            .proc
            .cpu_ticks()
            .ok()?
            .into_iter()
            .filter(|t| self.cpus.is_empty() || self.cpus.contains(&t.cpu))
            .collect();
        if ticks.is_empty() {
            return None;
        }
        let worker = match self.pid {
            Some(pid) => Some(self.proc.process_schedstat(pid).ok()?),
            None => None,
        };
        let meter = self
            .meter
            .iter()
            .filter_map(|&t| Some((t, self.proc.thread_schedstat(t.pid, t.tid).ok()?.on_cpu_ns)))
            .collect();
        Some(Mark {
            ticks,
            worker,
            meter,
            at: Instant::now(),
        })
    }

    /// The background between `a` and a mark taken now.
    pub fn since(&self, a: &Mark) -> Option<Reading> {
        self.between(a, &self.mark()?)
    }

    /// The background between two marks.
    pub fn between(&self, a: &Mark, b: &Mark) -> Option<Reading> {
        let (mut busy, mut total, mut cpus) = (0u64, 0u64, 0u32);
        for tb in &b.ticks {
            let Some(ta) = a.ticks.iter().find(|t| t.cpu == tb.cpu) else {
                continue;
            };
            busy += tb.busy.saturating_sub(ta.busy);
            total += tb.total.saturating_sub(ta.total);
            cpus += 1;
        }
        let wall_ns = b.at.duration_since(a.at).as_nanos() as f64;
        let (own_ns, wait_ns) = match (&a.worker, &b.worker) {
            (Some(x), Some(y)) => (
                y.on_cpu_ns.saturating_sub(x.on_cpu_ns) as f64,
                y.wait_ns.saturating_sub(x.wait_ns) as f64,
            ),
            _ => (0.0, 0.0),
        };
        // The meter's own threads, read at both marks (a thread that ended or started between
        // them is not subtracted: its share of the window is unknown).
        let meter_ns: f64 = b
            .meter
            .iter()
            .filter_map(|(t, y)| {
                let (_, x) = a.meter.iter().find(|(u, _)| u == t)?;
                Some(y.saturating_sub(*x) as f64)
            })
            .sum();
        if cpus == 0 || wall_ns <= 0.0 {
            return None;
        }
        let tick_ns = 1e9 / self.hz as f64;
        // A window shorter than a tick may see no tick at all; the wall clock is the floor.
        let capacity_ns = (total as f64 * tick_ns).max(wall_ns * f64::from(cpus));
        let foreign_ns = (busy as f64 * tick_ns - own_ns - meter_ns).max(0.0);
        let load = Background {
            foreign_share: foreign_ns / capacity_ns,
            wait_share: wait_ns / wall_ns,
            cpus,
        };
        // /proc/stat charges whole ticks: allow one tick of rounding per CPU before flagging.
        let allowance_ns = f64::from(cpus) * tick_ns;
        let flagged = foreign_ns - allowance_ns > FOREIGN_SHARE_LIMIT * capacity_ns
            || load.wait_share > WAIT_SHARE_LIMIT;
        Some(Reading { load, flagged })
    }
}

/// The samples the statistics use: the quiet ones when there are at least `min` (and two),
/// else all of them. The flag says whether flagged samples had to be included.
pub fn usable(samples: &[Sample], min: u32) -> (Vec<Sample>, bool) {
    let quiet: Vec<Sample> = samples
        .iter()
        .filter(|s| !s.background_activity)
        .cloned()
        .collect();
    if quiet.len() == samples.len() || quiet.len() >= (min.max(2) as usize) {
        (quiet, false)
    } else {
        (samples.to_vec(), true)
    }
}

/// Whether more than [`BUSY_SHARE_LIMIT`] of `samples` were flagged: taken on a busy machine.
pub fn busy(samples: &[Sample]) -> bool {
    let flagged = samples.iter().filter(|s| s.background_activity).count();
    flagged > 0 && flagged as f64 > BUSY_SHARE_LIMIT * samples.len() as f64
}

/// The run's account of background activity, from its samples and idle records; `None` when
/// nothing was observed (`/proc` unreadable, or nothing measured).
pub fn summarize(problems: &[ProblemResult], idle: &[IdleRecord]) -> Option<BackgroundSummary> {
    let measurements = problems
        .iter()
        .flat_map(|p| &p.candidates)
        .flat_map(|c| &c.measurements);
    let mut foreign = Vec::new();
    let mut max_wait: f64 = 0.0;
    let (mut samples, mut flagged, mut unreliable) = (0u32, 0u32, 0u32);
    for m in measurements {
        samples += m.samples.len() as u32;
        flagged += m.samples.iter().filter(|s| s.background_activity).count() as u32;
        if m.stats
            .as_ref()
            .is_some_and(|s| s.flags.iter().any(|f| f == "unreliable"))
        {
            unreliable += 1;
        }
        for b in m.samples.iter().filter_map(|s| s.background) {
            foreign.push(b.foreign_share);
            max_wait = max_wait.max(b.wait_share);
        }
    }
    let idle_seen: Vec<&Background> = idle.iter().filter_map(|r| r.background.as_ref()).collect();
    if foreign.is_empty() && idle_seen.is_empty() {
        return None;
    }
    Some(BackgroundSummary {
        policy: POLICY.into(),
        foreign_share_limit: FOREIGN_SHARE_LIMIT,
        wait_share_limit: WAIT_SHARE_LIMIT,
        samples,
        flagged,
        unreliable_cases: unreliable,
        median_foreign_share: crate::stats::median(&foreign).unwrap_or(0.0),
        max_foreign_share: foreign.iter().copied().fold(0.0, f64::max),
        max_wait_share: max_wait,
        idle_foreign_share: idle_seen.iter().map(|b| b.foreign_share).reduce(f64::max),
        idle_quiet: !idle.iter().any(|r| r.background_activity),
    })
}

/// The run's warnings about background activity, loudest first; empty for a quiet run.
pub fn warnings(summary: &BackgroundSummary) -> Vec<String> {
    let mut out = Vec::new();
    if !summary.idle_quiet {
        out.push(format!(
            "BUSY MACHINE: idle power was measured beside other work ({:.0}% of the scope's CPU \
             time) after {IDLE_ATTEMPTS} attempts; it is too high, so net energy is too low",
            summary.idle_foreign_share.unwrap_or(0.0) * 100.0
        ));
    }
    if summary.unreliable_cases > 0 {
        out.push(format!(
            "BUSY MACHINE: {} measurement(s) are marked unreliable: too few quiet samples, or more \
             than a quarter of their samples re-taken for other work; on a busy machine even the \
             quiet samples move, so do not trust their intervals",
            summary.unreliable_cases
        ));
    }
    if summary.flagged > 0 {
        out.push(format!(
            "background activity: {} of {} samples were taken beside other work (median {:.0}%, \
             up to {:.0}% of the scope's CPU time; run-queue wait up to {:.0}%) and were re-taken",
            summary.flagged,
            summary.samples,
            summary.median_foreign_share * 100.0,
            summary.max_foreign_share * 100.0,
            summary.max_wait_share * 100.0
        ));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mark(ticks: &[(u32, u64, u64)], worker: Option<(u64, u64)>, at: Instant) -> Mark {
        Mark {
            ticks: ticks
                .iter()
                .map(|&(cpu, busy, total)| CpuTicks { cpu, busy, total })
                .collect(),
            worker: worker.map(|(on_cpu_ns, wait_ns)| Schedstat {
                on_cpu_ns,
                wait_ns,
                timeslices: 0,
            }),
            meter: vec![],
            at,
        }
    }

    fn watch(cpus: Vec<u32>) -> Watch {
        Watch {
            proc: Procfs::new("/nonexistent"),
            cpus,
            pid: Some(1),
            meter: vec![],
            hz: 100,
        }
    }

    const SIM: MeterThread = MeterThread { pid: 9, tid: 10 };

    #[test]
    fn the_meters_own_thread_is_not_foreign_but_other_work_beside_it_is() {
        let t0 = Instant::now();
        let t1 = t0 + std::time::Duration::from_millis(100);
        let w = Watch {
            meter: vec![SIM],
            ..watch(vec![0, 1])
        };
        let with = |m: &Mark, meter_ns: u64| Mark {
            meter: vec![(SIM, meter_ns)],
            ..m.clone()
        };
        // The worker busy on CPU 1, the simulator 50 ms of 100 on CPU 0: 25% of the package.
        let a = mark(&[(0, 0, 0), (1, 0, 0)], Some((0, 0)), t0);
        let b = mark(&[(0, 5, 10), (1, 10, 10)], Some((100_000_000, 0)), t1);
        let r = w.between(&with(&a, 0), &with(&b, 50_000_000)).unwrap();
        assert!(r.load.foreign_share < 1e-9 && !r.flagged, "{r:?}");
        // Not excluded without its reading at both marks (it started, or ended, in between).
        assert!(w.between(&a, &with(&b, 50_000_000)).unwrap().flagged);
        // A compiler on CPU 0 beside it is still foreign: 50 ms on top of the simulator's 50.
        let b = mark(&[(0, 10, 10), (1, 10, 10)], Some((100_000_000, 0)), t1);
        let r = w.between(&with(&a, 0), &with(&b, 50_000_000)).unwrap();
        assert!((r.load.foreign_share - 0.25).abs() < 1e-9, "{r:?}");
        assert!(r.flagged);
    }

    #[test]
    fn registered_meter_threads_are_watched_only_where_they_may_run() {
        let me = MeterThread::current();
        register_meter_thread(me);
        let cpus = nix::sched::sched_getaffinity(nix::unistd::Pid::from_raw(0)).unwrap();
        let mine: Vec<u32> = (0..nix::sched::CpuSet::count() as u32)
            .filter(|&c| cpus.is_set(c as usize).unwrap_or(false))
            .collect();
        let w = Watch::new(Procfs::default(), mine.clone(), None);
        assert!(w.meter.contains(&me), "{:?}", w.meter);
        let m = w.mark().unwrap();
        assert!(
            m.meter.iter().any(|(t, _)| *t == me),
            "its CPU time is read"
        );
        // A CPU this thread may not use: nothing of it to take off there.
        let elsewhere = (0..4096).find(|c| !mine.contains(c)).unwrap();
        assert!(
            !Watch::new(Procfs::default(), vec![elsewhere], None)
                .meter
                .contains(&me)
        );
        unregister_meter_thread(me);
        assert!(
            !Watch::new(Procfs::default(), vec![], None)
                .meter
                .contains(&me)
        );
    }

    #[test]
    fn the_workers_own_time_is_not_foreign() {
        let t0 = Instant::now();
        let t1 = t0 + std::time::Duration::from_millis(100);
        // 100 ms, the CPU busy all along and all of it the worker's.
        let a = mark(&[(0, 1000, 5000)], Some((0, 0)), t0);
        let b = mark(&[(0, 1010, 5010)], Some((100_000_000, 0)), t1);
        let r = watch(vec![0]).between(&a, &b).unwrap();
        assert!(r.load.foreign_share < 1e-9, "{r:?}");
        assert!(!r.flagged);
        // A tick of rounding is not a busy machine.
        let b = mark(&[(0, 1011, 5011)], Some((100_000_000, 0)), t1);
        assert!(!watch(vec![0]).between(&a, &b).unwrap().flagged);
    }

    #[test]
    fn another_process_on_the_scope_or_a_wait_flags_the_window() {
        let t0 = Instant::now();
        let t1 = t0 + std::time::Duration::from_millis(100);
        // Two CPUs in the package: the worker on one, a compiler on the other half the time.
        let a = mark(&[(0, 0, 0), (1, 0, 0)], Some((0, 0)), t0);
        let b = mark(&[(0, 10, 10), (1, 5, 10)], Some((100_000_000, 0)), t1);
        let r = watch(vec![0, 1]).between(&a, &b).unwrap();
        assert!((r.load.foreign_share - 0.25).abs() < 1e-9, "{r:?}");
        assert_eq!(r.load.cpus, 2);
        assert!(r.flagged);
        // The worker alone on its CPU, but it waited 20 ms for it.
        let a = mark(&[(0, 0, 0)], Some((0, 0)), t0);
        let b = mark(&[(0, 10, 10)], Some((80_000_000, 20_000_000)), t1);
        let r = watch(vec![0]).between(&a, &b).unwrap();
        assert!((r.load.wait_share - 0.2).abs() < 1e-9, "{r:?}");
        assert!(r.flagged);
    }

    #[test]
    fn an_idle_window_counts_every_busy_tick() {
        let t0 = Instant::now();
        let t1 = t0 + std::time::Duration::from_millis(500);
        let w = Watch {
            pid: None,
            ..watch(vec![])
        };
        let a = mark(&[(0, 0, 0), (1, 0, 0)], None, t0);
        let quiet = mark(&[(0, 1, 50), (1, 0, 50)], None, t1);
        let busy = mark(&[(0, 50, 50), (1, 3, 50)], None, t1);
        assert!(!w.between(&a, &quiet).unwrap().flagged);
        let r = w.between(&a, &busy).unwrap();
        assert!(
            r.flagged && (r.load.foreign_share - 0.53).abs() < 1e-9,
            "{r:?}"
        );
    }

    #[test]
    fn marks_read_a_fixture_proc_tree() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("stat"), "cpu0 1 0 1 10 0 0 0 0\n").unwrap();
        std::fs::create_dir_all(dir.path().join("7/task/7")).unwrap();
        std::fs::write(dir.path().join("7/task/7/schedstat"), "5 6 1\n").unwrap();
        std::fs::create_dir_all(dir.path().join("9/task/10")).unwrap();
        std::fs::write(dir.path().join("9/task/10/schedstat"), "42 0 1\n").unwrap();
        let w = Watch {
            meter: vec![SIM],
            ..Watch::new(Procfs::new(dir.path()), vec![0], Some(7))
        };
        let m = w.mark().unwrap();
        assert_eq!(m.ticks.len(), 1);
        assert_eq!(m.worker.unwrap().wait_ns, 6);
        assert_eq!(m.meter, vec![(SIM, 42)]);
        // A CPU outside the scope, or a worker that is gone: nothing observed.
        assert!(
            Watch::new(Procfs::new(dir.path()), vec![3], None)
                .mark()
                .is_none()
        );
        assert!(
            Watch::new(Procfs::new(dir.path()), vec![0], Some(8))
                .mark()
                .is_none()
        );
    }

    fn sample(flagged: bool) -> Sample {
        Sample {
            calls: 1,
            cpu: 0,
            package: None,
            window_start_s: 0.0,
            window_end_s: 0.1,
            measured_s: 0.1,
            metered_s: None,
            cpu_time_s: 0.1,
            energy: vec![],
            outlier: false,
            process: 0,
            background: None,
            background_activity: flagged,
        }
    }

    #[test]
    fn flagged_samples_are_left_out_only_while_enough_quiet_ones_remain() {
        let mixed = [sample(false), sample(true), sample(false), sample(false)];
        let (kept, contaminated) = usable(&mixed, 3);
        assert_eq!((kept.len(), contaminated), (3, false));
        let (kept, contaminated) = usable(&mixed, 5);
        assert_eq!((kept.len(), contaminated), (4, true));
        let (kept, contaminated) = usable(&[sample(true), sample(true)], 1);
        assert_eq!((kept.len(), contaminated), (2, true));
    }

    #[test]
    fn a_measurement_with_many_samples_re_taken_was_taken_on_a_busy_machine() {
        let quiet = [sample(false), sample(false), sample(false), sample(false)];
        assert!(!busy(&quiet));
        assert!(!busy(&[]));
        // One in four is at the limit, not beyond it.
        let one = [sample(true), sample(false), sample(false), sample(false)];
        assert!(!busy(&one));
        let two = [sample(true), sample(true), sample(false), sample(false)];
        assert!(busy(&two));
    }
}
