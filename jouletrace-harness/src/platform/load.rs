//! CPU activity as `/proc` accounts it: busy time per CPU (`/proc/stat`) and one process's own
//! on-CPU and run-queue time (`/proc/PID/task/*/schedstat`).
//!
//! The two have different resolutions on purpose of the kernel, not ours: `/proc/stat` counts
//! USER_HZ ticks (10 ms on every common kernel), `schedstat` nanoseconds. Per-CPU nanosecond
//! totals (`/proc/schedstat`) exist only with `CONFIG_SCHEDSTATS`, which stock kernels (and this
//! project's CI machines) leave off, so the per-CPU side is the tick count, and whoever uses it
//! allows for a tick of rounding per CPU.

use crate::sysfs::{Procfs, SysfsError};

/// Cumulative ticks of one CPU since boot, from its `cpuN` line of `/proc/stat`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct CpuTicks {
    pub cpu: u32,
    /// user + nice + system + irq + softirq + steal. Steal is time the hypervisor gave this
    /// virtual CPU's physical core to someone else: foreign activity as much as a process is.
    pub busy: u64,
    /// Every field (idle and iowait included): the CPU's elapsed time in ticks.
    pub total: u64,
}

/// Parses the per-CPU lines of `/proc/stat` (the aggregate `cpu` line is skipped). Missing
/// trailing fields (old kernels have no steal, guest) count as zero.
pub fn parse_proc_stat(text: &str) -> Vec<CpuTicks> {
    text.lines()
        .filter_map(|line| {
            let mut fields = line.split_whitespace();
            let cpu: u32 = fields.next()?.strip_prefix("cpu")?.parse().ok()?;
            let v: Vec<u64> = fields.map_while(|x| x.parse().ok()).collect();
            let at = |i: usize| v.get(i).copied().unwrap_or(0);
            // user nice system idle iowait irq softirq steal guest guest_nice; guest time is
            // already inside user and nice, so the total stops at steal.
            Some(CpuTicks {
                cpu,
                busy: at(0) + at(1) + at(2) + at(5) + at(6) + at(7),
                total: (0..8).map(at).sum(),
            })
        })
        .collect()
}

/// One task's scheduler accounting, from `/proc/PID/task/TID/schedstat`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Schedstat {
    /// Time spent running on a CPU.
    pub on_cpu_ns: u64,
    /// Time spent runnable on a run queue, waiting for a CPU.
    pub wait_ns: u64,
    /// Number of times it was given a CPU.
    pub timeslices: u64,
}

impl std::ops::Add for Schedstat {
    type Output = Schedstat;
    fn add(self, o: Schedstat) -> Schedstat {
        Schedstat {
            on_cpu_ns: self.on_cpu_ns + o.on_cpu_ns,
            wait_ns: self.wait_ns + o.wait_ns,
            timeslices: self.timeslices + o.timeslices,
        }
    }
}

/// Parses a `schedstat` line: `on_cpu_ns wait_ns timeslices`.
pub fn parse_schedstat(text: &str) -> Option<Schedstat> {
    let mut f = text.split_whitespace().map(|x| x.parse::<u64>().ok());
    Some(Schedstat {
        on_cpu_ns: f.next()??,
        wait_ns: f.next()??,
        timeslices: f.next().flatten().unwrap_or(0),
    })
}

impl Procfs {
    /// Every CPU's cumulative ticks.
    pub fn cpu_ticks(&self) -> Result<Vec<CpuTicks>, SysfsError> {
        Ok(parse_proc_stat(&self.read_string("stat")?))
    }

    /// The scheduler accounting of one thread, `tid` of process `pid`.
    pub fn thread_schedstat(&self, pid: u32, tid: u32) -> Result<Schedstat, SysfsError> {
        let rel = format!("{pid}/task/{tid}/schedstat");
        let text = self.read_string(&rel)?;
        parse_schedstat(&text).ok_or_else(|| SysfsError::Parse {
            path: self.path(&rel),
            content: text.clone(),
            expected: "`on_cpu_ns wait_ns timeslices`",
        })
    }

    /// The summed scheduler accounting of every live thread of `pid`. A thread that exits
    /// between two readings takes its time with it, so deltas are clamped at zero by callers.
    pub fn process_schedstat(&self, pid: u32) -> Result<Schedstat, SysfsError> {
        let dir = format!("{pid}/task");
        let mut total = Schedstat::default();
        let entries = std::fs::read_dir(self.path(&dir))
            .map_err(|e| SysfsError::from_io(self.path(&dir), e))?;
        for tid in entries
            .flatten()
            .map(|e| e.file_name().to_string_lossy().into_owned())
        {
            let Ok(tid) = tid.parse() else { continue };
            match self.thread_schedstat(pid, tid) {
                Ok(s) => total = total + s,
                // The thread ended between listing and reading.
                Err(e) if e.is_not_found() => continue,
                Err(e) => return Err(e),
            }
        }
        Ok(total)
    }
}

/// Background load right now: each CPU's busy share over a short window, and the load
/// averages. What `cargo joule doctor` reports.
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct LoadNow {
    pub window_s: f64,
    /// (cpu, busy share of its time) over the window; steal included.
    pub busy: Vec<(u32, f64)>,
    /// The 1-, 5- and 15-minute load averages of `/proc/loadavg`.
    pub loadavg: Option<[f64; 3]>,
}

impl LoadNow {
    /// Reads `/proc/stat` twice, `window` apart. `None` when `/proc/stat` is unreadable.
    pub fn measure(proc: &Procfs, window: std::time::Duration) -> Option<LoadNow> {
        let a = proc.cpu_ticks().ok()?;
        std::thread::sleep(window);
        let b = proc.cpu_ticks().ok()?;
        Some(LoadNow {
            window_s: window.as_secs_f64(),
            // Tick counts give a share good to a few parts in ten thousand; rounding to that
            // keeps the doctor's JSON exact when read back.
            busy: busy_shares(&a, &b)
                .into_iter()
                .map(|(cpu, share)| (cpu, (share * 1e4).round() / 1e4))
                .collect(),
            loadavg: proc.read_string("loadavg").ok().and_then(|t| {
                let v: Vec<f64> = t
                    .split_whitespace()
                    .take(3)
                    .filter_map(|x| x.parse().ok())
                    .collect();
                (v.len() == 3).then(|| [v[0], v[1], v[2]])
            }),
        })
    }

    /// The busiest CPU's share.
    pub fn max_busy(&self) -> f64 {
        self.busy.iter().map(|(_, b)| *b).fold(0.0, f64::max)
    }
}

/// Busy share of each CPU between two readings (0 for a CPU whose clock did not advance).
pub fn busy_shares(a: &[CpuTicks], b: &[CpuTicks]) -> Vec<(u32, f64)> {
    b.iter()
        .filter_map(|tb| {
            let ta = a.iter().find(|t| t.cpu == tb.cpu)?;
            let total = tb.total.saturating_sub(ta.total);
            let busy = tb.busy.saturating_sub(ta.busy);
            Some((
                tb.cpu,
                if total == 0 {
                    0.0
                } else {
                    busy as f64 / total as f64
                },
            ))
        })
        .collect()
}

/// USER_HZ: the unit of `/proc/stat`.
pub fn clock_ticks_per_second() -> u64 {
    // SAFETY: sysconf has no preconditions.
    let hz = unsafe { libc::sysconf(libc::_SC_CLK_TCK) };
    if hz > 0 { hz as u64 } else { 100 }
}

#[cfg(test)]
mod tests {
    use super::*;

    const STAT: &str = "cpu  14420 0 9875 29505 1340 0 58 20 0 0\n\
        cpu0 7052 0 2329 17293 922 0 15 7 0 0\n\
        cpu1 7368 1 7545 12212 418 2 43 12 0 0\n\
        intr 123 4 5\nctxt 99\n";

    #[test]
    fn proc_stat_per_cpu_busy_includes_steal_and_excludes_idle() {
        let cpus = parse_proc_stat(STAT);
        assert_eq!(cpus.len(), 2);
        assert_eq!(
            cpus[1],
            CpuTicks {
                cpu: 1,
                busy: 7368 + 1 + 7545 + 2 + 43 + 12,
                total: 7368 + 1 + 7545 + 12212 + 418 + 2 + 43 + 12,
            }
        );
        // A kernel without steal and later fields.
        let old = parse_proc_stat("cpu3 10 0 5 100 1\n");
        assert_eq!(
            old,
            vec![CpuTicks {
                cpu: 3,
                busy: 15,
                total: 116
            }]
        );
    }

    #[test]
    fn schedstat_parses_and_rejects_garbage() {
        assert_eq!(
            parse_schedstat("156177 2503371 2\n"),
            Some(Schedstat {
                on_cpu_ns: 156177,
                wait_ns: 2503371,
                timeslices: 2
            })
        );
        assert_eq!(parse_schedstat("x y z"), None);
        assert_eq!(parse_schedstat(""), None);
    }

    #[test]
    fn a_process_schedstat_sums_its_threads_from_a_fixture_tree() {
        let dir = tempfile::tempdir().unwrap();
        for (tid, line) in [("40", "100 10 1\n"), ("41", "250 5 3\n")] {
            let d = dir.path().join("40/task").join(tid);
            std::fs::create_dir_all(&d).unwrap();
            std::fs::write(d.join("schedstat"), line).unwrap();
        }
        std::fs::write(dir.path().join("stat"), STAT).unwrap();
        let proc = Procfs::new(dir.path());
        assert_eq!(
            proc.process_schedstat(40).unwrap(),
            Schedstat {
                on_cpu_ns: 350,
                wait_ns: 15,
                timeslices: 4
            }
        );
        assert_eq!(proc.cpu_ticks().unwrap().len(), 2);
        assert!(proc.process_schedstat(41).is_err());
        assert_eq!(proc.thread_schedstat(40, 41).unwrap().on_cpu_ns, 250);
        assert!(proc.thread_schedstat(40, 42).is_err());
    }

    #[test]
    fn busy_shares_are_per_cpu_deltas() {
        let a = parse_proc_stat("cpu0 10 0 0 90 0 0 0 0\ncpu1 0 0 0 100 0 0 0 0\n");
        let b = parse_proc_stat("cpu0 60 0 0 140 0 0 0 0\ncpu1 0 0 0 100 0 0 0 0\n");
        assert_eq!(busy_shares(&a, &b), vec![(0, 0.5), (1, 0.0)]);
    }

    #[test]
    fn this_machine_answers() {
        let proc = Procfs::default();
        assert!(!proc.cpu_ticks().unwrap().is_empty());
        let me = proc.process_schedstat(std::process::id()).unwrap();
        assert!(me.on_cpu_ns > 0);
    }
}
