//! Test aids: fake machines and energy counters that advance at a known power.
//!
//! Not used by JouleTrace itself. Tests (ours and the engine's) build fake sysfs trees with
//! [`FakeMachine`], point a meter at them, and drive their `energy_uj` files with a
//! [`SimulatedCounter`] (deterministic, stepped by hand) or a [`SimulatedPowercap`] (a
//! background thread charging idle power plus power per busy CPU-second). Comparing the energy a
//! meter reads back with [`SimulatedPowercap::true_energy`] proves the whole reading path,
//! wraparound included.
//!
//! ```no_run
//! use std::time::Duration;
//! use jouletrace::energy::simulate::{Activity, FakeMachine, SimConfig, SimulatedPowercap};
//! use jouletrace::Watts;
//! let dir = tempfile::tempdir()?;
//! let machine = FakeMachine::intel_two_socket(dir.path())?;
//! let sim = SimulatedPowercap::start(
//!     machine.zone_dir("intel-rapl:0"),
//!     SimConfig {
//!         idle: Watts(5.0),
//!         busy_per_cpu: Watts(20.0),
//!         activity: Activity::Pids(vec![std::process::id() as i32]),
//!         ..SimConfig::default()
//!     },
//! )?;
//! // … point JOULETRACE_SYSFS_ROOT (or a MeterSpec) at machine.root() and measure …
//! let put_in = sim.stop();
//! # Ok::<(), std::io::Error>(())
//! ```
//!
//! A [`SimulatedPowercap`]'s updater thread is the meter, not foreign work beside the
//! measured worker: it registers itself with the background accounting
//! ([`engine::background::register_meter_thread`](crate::engine::background::register_meter_thread))
//! for engine runs in this process, and publishes itself in the zone
//! ([`METER_THREAD_FILE`](crate::engine::background::METER_THREAD_FILE)) for engine runs in other processes pointed at the same tree.
//!
//! Files are replaced atomically (written to a temporary file, then renamed), so a reader
//! never sees a half-written value. Permission denial cannot be faked for root with file
//! modes (root bypasses them): [`FakeMachine::deny_energy_reads`] sets mode 000, which stops
//! any other user, and JouleTrace's own test re-runs the reading as `nobody` when it is root.

use std::collections::HashMap;
use std::fs;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use crate::energy::msr::MsrDevice;
use crate::engine::background::{
    METER_THREAD_FILE, MeterThread, register_meter_thread, unregister_meter_thread,
};
use crate::sysfs::{Procfs, Sysfs};
use crate::units::{Joules, Watts};

/// PMU type numbers of fake PMUs: far above any the kernel assigns, so opening one fails
/// instead of reaching a real PMU that happens to share the number.
pub const FAKE_PMU_TYPE: u32 = 0x7FFF_0000;

/// The `max_energy_range_uj` common on Intel parts (2^32 × 61 µJ).
pub const TYPICAL_RANGE_UJ: u64 = 262_143_328_850;

/// Writes `contents` to `path` atomically (temporary file in the same directory, then rename).
pub fn write_atomic(path: &Path, contents: &str) -> io::Result<()> {
    let dir = path.parent().unwrap_or(Path::new("."));
    let name = path.file_name().map(|n| n.to_string_lossy().into_owned());
    let tmp = dir.join(format!(".{}.tmp", name.unwrap_or_default()));
    fs::write(&tmp, contents)?;
    fs::rename(&tmp, path)
}

fn write(root: &Path, rel: &str, contents: &str) -> io::Result<()> {
    let path = root.join(rel);
    if let Some(parent) = path.parent() {
        fs::create_dir_all(parent)?;
    }
    fs::write(path, contents)
}

/// A fake sysfs tree describing a machine: CPU topology, powercap zones, perf PMUs,
/// cpufreq, thermal sensors.
#[derive(Clone, Debug)]
pub struct FakeMachine {
    root: PathBuf,
}

/// One logical CPU of a fake machine: (cpu, package, core id, its core's CPUs).
type FakeCpu = (u32, u32, u32, &'static str);

impl FakeMachine {
    pub fn root(&self) -> &Path {
        &self.root
    }

    pub fn sysfs(&self) -> Sysfs {
        Sysfs::new(&self.root)
    }

    /// The directory of a powercap zone, e.g. `zone_dir("intel-rapl:0")`.
    pub fn zone_dir(&self, zone: &str) -> PathBuf {
        self.root.join("class/powercap").join(zone)
    }

    fn cpus(&self, cpus: &[FakeCpu], modalias: &str) -> io::Result<()> {
        let last = cpus.iter().map(|c| c.0).max().unwrap_or(0);
        write(
            &self.root,
            "devices/system/cpu/online",
            &format!("0-{last}\n"),
        )?;
        write(
            &self.root,
            "devices/system/cpu/possible",
            &format!("0-{last}\n"),
        )?;
        write(&self.root, "devices/system/cpu/isolated", "\n")?;
        write(
            &self.root,
            "devices/system/cpu/modalias",
            &format!("{modalias}\n"),
        )?;
        for &(cpu, pkg, core, siblings) in cpus {
            let t = format!("devices/system/cpu/cpu{cpu}/topology");
            write(
                &self.root,
                &format!("{t}/physical_package_id"),
                &format!("{pkg}\n"),
            )?;
            write(&self.root, &format!("{t}/die_id"), "0\n")?;
            write(&self.root, &format!("{t}/core_id"), &format!("{core}\n"))?;
            write(
                &self.root,
                &format!("{t}/core_cpus_list"),
                &format!("{siblings}\n"),
            )?;
            write(
                &self.root,
                &format!("{t}/thread_siblings_list"),
                &format!("{siblings}\n"),
            )?;
            write(
                &self.root,
                &format!("devices/system/cpu/cpufreq/policy{cpu}/scaling_governor"),
                "performance\n",
            )?;
        }
        Ok(())
    }

    /// Adds a powercap zone with `energy_uj` at `start_uj`.
    pub fn add_zone(&self, zone: &str, name: &str, range_uj: u64, start_uj: u64) -> io::Result<()> {
        let z = format!("class/powercap/{zone}");
        write(&self.root, &format!("{z}/name"), &format!("{name}\n"))?;
        write(
            &self.root,
            &format!("{z}/max_energy_range_uj"),
            &format!("{range_uj}\n"),
        )?;
        write(
            &self.root,
            &format!("{z}/energy_uj"),
            &format!("{start_uj}\n"),
        )?;
        write(&self.root, &format!("{z}/enabled"), "1\n")
    }

    /// Adds a perf PMU with energy events `(name, encoding)` on the CPUs of `cpumask`.
    pub fn add_pmu(
        &self,
        pmu: &str,
        ty: u32,
        cpumask: &str,
        events: &[(&str, &str)],
    ) -> io::Result<()> {
        let p = format!("bus/event_source/devices/{pmu}");
        write(&self.root, &format!("{p}/type"), &format!("{ty}\n"))?;
        write(&self.root, &format!("{p}/cpumask"), &format!("{cpumask}\n"))?;
        write(&self.root, &format!("{p}/format/event"), "config:0-7\n")?;
        for (name, enc) in events {
            write(
                &self.root,
                &format!("{p}/events/{name}"),
                &format!("{enc}\n"),
            )?;
            write(
                &self.root,
                &format!("{p}/events/{name}.scale"),
                "2.3283064365386962890625e-10\n",
            )?;
            write(&self.root, &format!("{p}/events/{name}.unit"), "Joules\n")?;
        }
        Ok(())
    }

    /// Two Intel Skylake-SP sockets, two cores each with SMT (siblings n and n+4), a DRAM zone
    /// per package, an MMIO zone repeating package 0, CPUs 3 and 7 isolated, the governor at
    /// `performance`, turbo off, one package thermal zone.
    pub fn intel_two_socket(root: &Path) -> io::Result<FakeMachine> {
        let m = FakeMachine {
            root: root.to_owned(),
        };
        m.cpus(
            &[
                (0, 0, 0, "0,4"),
                (1, 0, 1, "1,5"),
                (2, 1, 0, "2,6"),
                (3, 1, 1, "3,7"),
                (4, 0, 0, "0,4"),
                (5, 0, 1, "1,5"),
                (6, 1, 0, "2,6"),
                (7, 1, 1, "3,7"),
            ],
            "cpu:type:x86,ven0000fam0006mod0055:feature:,0000,0001",
        )?;
        write(root, "devices/system/cpu/isolated", "3,7\n")?;
        write(root, "devices/system/cpu/nohz_full", "3,7\n")?;
        write(root, "devices/system/cpu/intel_pstate/no_turbo", "1\n")?;
        write(root, "class/thermal/thermal_zone0/type", "x86_pkg_temp\n")?;
        write(root, "class/thermal/thermal_zone0/temp", "45000\n")?;
        m.add_zone("intel-rapl:0", "package-0", TYPICAL_RANGE_UJ, 1_000)?;
        m.add_zone("intel-rapl:0:0", "dram", TYPICAL_RANGE_UJ, 1_000)?;
        m.add_zone("intel-rapl:1", "package-1", TYPICAL_RANGE_UJ, 1_000)?;
        m.add_zone("intel-rapl:1:0", "dram", TYPICAL_RANGE_UJ, 1_000)?;
        m.add_zone("intel-rapl-mmio:0", "package-0", TYPICAL_RANGE_UJ, 1_000)?;
        m.add_pmu(
            "power",
            FAKE_PMU_TYPE,
            "0,2",
            &[("energy-pkg", "event=0x02"), ("energy-ram", "event=0x03")],
        )?;
        Ok(m)
    }

    /// One AMD Zen 3 package, four cores with SMT (siblings n and n+4): a package zone and the
    /// `core` zone the kernel offers on AMD (one core's energy), the `power` PMU and the
    /// per-core `power_core` PMU, a k10temp hwmon sensor, boost on.
    pub fn amd_per_core(root: &Path) -> io::Result<FakeMachine> {
        let m = FakeMachine {
            root: root.to_owned(),
        };
        m.cpus(
            &[
                (0, 0, 0, "0,4"),
                (1, 0, 1, "1,5"),
                (2, 0, 2, "2,6"),
                (3, 0, 3, "3,7"),
                (4, 0, 0, "0,4"),
                (5, 0, 1, "1,5"),
                (6, 0, 2, "2,6"),
                (7, 0, 3, "3,7"),
            ],
            "cpu:type:x86,ven0002fam0019mod0021:feature:,0000,0001",
        )?;
        write(root, "devices/system/cpu/cpufreq/boost", "1\n")?;
        write(root, "class/hwmon/hwmon0/name", "k10temp\n")?;
        write(root, "class/hwmon/hwmon0/temp1_input", "50125\n")?;
        write(root, "class/hwmon/hwmon0/temp1_label", "Tctl\n")?;
        m.add_zone("intel-rapl:0", "package-0", TYPICAL_RANGE_UJ, 5_000)?;
        m.add_zone("intel-rapl:0:0", "core", TYPICAL_RANGE_UJ, 5_000)?;
        m.add_pmu("power", FAKE_PMU_TYPE, "0", &[("energy-pkg", "event=0x02")])?;
        m.add_pmu(
            "power_core",
            FAKE_PMU_TYPE + 1,
            "0-3",
            &[("energy-core", "event=0x01")],
        )?;
        Ok(m)
    }

    /// An Intel laptop whose only readable RAPL zone is psys; two cores with SMT.
    pub fn psys_laptop(root: &Path) -> io::Result<FakeMachine> {
        let m = FakeMachine {
            root: root.to_owned(),
        };
        m.cpus(
            &[
                (0, 0, 0, "0,2"),
                (1, 0, 1, "1,3"),
                (2, 0, 0, "0,2"),
                (3, 0, 1, "1,3"),
            ],
            "cpu:type:x86,ven0000fam0006mod008C:feature:,0000,0001",
        )?;
        write(root, "devices/system/cpu/intel_pstate/no_turbo", "0\n")?;
        m.add_zone("intel-rapl:1", "psys", TYPICAL_RANGE_UJ, 0)?;
        Ok(m)
    }

    /// A tree with this machine's real CPU topology (so workers can be pinned to the CPUs it
    /// names) and one powercap `package-N` zone per real package, at `intel-rapl:N`. The
    /// engine's tests drive those zones with [`SimulatedPowercap`].
    pub fn mirror_host(root: &Path) -> io::Result<FakeMachine> {
        let host = Sysfs::default();
        let topo = crate::topology::Topology::read(&host).map_err(io::Error::other)?;
        let m = FakeMachine {
            root: root.to_owned(),
        };
        let online = crate::sysfs::format_cpu_list(&topo.online());
        write(root, "devices/system/cpu/online", &format!("{online}\n"))?;
        write(root, "devices/system/cpu/isolated", "\n")?;
        let modalias = host
            .read_string("devices/system/cpu/modalias")
            .unwrap_or_else(|_| "cpu:type:x86,ven0000fam0006mod0055:feature:".into());
        write(
            root,
            "devices/system/cpu/modalias",
            &format!("{modalias}\n"),
        )?;
        for c in &topo.cpus {
            let t = format!("devices/system/cpu/cpu{}/topology", c.cpu);
            let siblings = crate::sysfs::format_cpu_list(&c.core_cpus);
            write(
                root,
                &format!("{t}/physical_package_id"),
                &format!("{}\n", c.package),
            )?;
            write(root, &format!("{t}/die_id"), &format!("{}\n", c.die))?;
            write(root, &format!("{t}/core_id"), &format!("{}\n", c.core_id))?;
            write(
                root,
                &format!("{t}/core_cpus_list"),
                &format!("{siblings}\n"),
            )?;
        }
        for pkg in topo.packages() {
            m.add_zone(
                &format!("intel-rapl:{pkg:x}"),
                &format!("package-{pkg}"),
                TYPICAL_RANGE_UJ,
                0,
            )?;
        }
        Ok(m)
    }

    /// Makes every `energy_uj` mode 000. This stops every user but root (CAP_DAC_OVERRIDE
    /// ignores modes), so a test that relies on it must read as another user.
    pub fn deny_energy_reads(&self) -> io::Result<()> {
        use std::os::unix::fs::PermissionsExt;
        let sys = self.sysfs();
        for zone in sys.list_dir("class/powercap").map_err(io::Error::other)? {
            let path = self.zone_dir(&zone).join("energy_uj");
            if path.exists() {
                fs::set_permissions(&path, fs::Permissions::from_mode(0o000))?;
            }
        }
        Ok(())
    }
}

/// A powercap `energy_uj` file advanced by hand: deterministic, for wrap tests.
#[derive(Debug)]
pub struct SimulatedCounter {
    path: PathBuf,
    range_uj: u64,
    start_uj: u64,
    added_uj: f64,
}

impl SimulatedCounter {
    /// Takes over `zone_dir/energy_uj` (and writes `max_energy_range_uj`), starting at
    /// `start_uj`.
    pub fn new(zone_dir: &Path, range_uj: u64, start_uj: u64) -> io::Result<SimulatedCounter> {
        if range_uj == 0 {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                "range must be > 0",
            ));
        }
        write_atomic(
            &zone_dir.join("max_energy_range_uj"),
            &format!("{range_uj}\n"),
        )?;
        let c = SimulatedCounter {
            path: zone_dir.join("energy_uj"),
            range_uj,
            start_uj: start_uj % range_uj,
            added_uj: 0.0,
        };
        c.publish()?;
        Ok(c)
    }

    /// The value the file holds: whole microjoules, wrapped at the range.
    pub fn value_uj(&self) -> u64 {
        (self.start_uj + self.added_uj.floor() as u64) % self.range_uj
    }

    fn publish(&self) -> io::Result<()> {
        write_atomic(&self.path, &format!("{}\n", self.value_uj()))
    }

    /// Adds energy and rewrites the file.
    pub fn add(&mut self, energy: Joules) -> io::Result<()> {
        self.added_uj += energy.get().max(0.0) * 1e6;
        self.publish()
    }

    /// Energy added so far, exact (the file truncates to whole microjoules).
    pub fn true_energy(&self) -> Joules {
        Joules(self.added_uj * 1e-6)
    }

    /// Energy the file's current value accounts for (whole microjoules added so far).
    pub fn published_energy(&self) -> Joules {
        Joules(self.added_uj.floor() * 1e-6)
    }
}

/// What makes a simulated counter draw more than its idle power.
pub enum Activity {
    /// Nothing: idle power only.
    None,
    /// Busy time of these CPUs from `/proc/stat`. Its resolution is one USER_HZ tick
    /// (10 ms), so energy arrives in lumps: measure windows of 100 ms or more.
    Cpus(Vec<u32>),
    /// CPU time of these processes, all their threads, from `/proc/PID/task/*/schedstat`
    /// (nanoseconds). Time of threads that have exited is kept.
    Pids(Vec<i32>),
    /// Any cumulative busy time (CPU-seconds), e.g. the workers' own accounting.
    Custom(Box<dyn FnMut() -> Duration + Send>),
}

impl Activity {
    fn into_source(self) -> Box<dyn FnMut() -> Duration + Send> {
        match self {
            Activity::None => Box::new(|| Duration::ZERO),
            Activity::Cpus(cpus) => {
                let proc = Procfs::default();
                let hz = crate::platform::load::clock_ticks_per_second();
                Box::new(move || {
                    let ticks = proc_stat_busy(&proc, &cpus);
                    Duration::from_nanos(ticks * 1_000_000_000 / hz)
                })
            }
            Activity::Pids(pids) => {
                let mut seen: HashMap<(i32, i32), u64> = HashMap::new();
                Box::new(move || {
                    for &pid in &pids {
                        for (tid, ns) in task_cpu_ns(pid) {
                            let slot = seen.entry((pid, tid)).or_default();
                            *slot = (*slot).max(ns);
                        }
                    }
                    Duration::from_nanos(seen.values().sum())
                })
            }
            Activity::Custom(f) => f,
        }
    }
}

/// Busy ticks (user + nice + system + irq + softirq + steal) of `cpus`.
fn proc_stat_busy(proc: &Procfs, cpus: &[u32]) -> u64 {
    proc.cpu_ticks()
        .unwrap_or_default()
        .iter()
        .filter(|t| cpus.contains(&t.cpu))
        .map(|t| t.busy)
        .sum()
}

/// (tid, on-CPU nanoseconds) for each live thread of `pid`.
fn task_cpu_ns(pid: i32) -> Vec<(i32, u64)> {
    let proc = Procfs::default();
    let Ok(tasks) = fs::read_dir(proc.path(format!("{pid}/task"))) else {
        return Vec::new();
    };
    tasks
        .filter_map(|t| {
            let t = t.ok()?;
            let tid: i32 = t.file_name().to_str()?.parse().ok()?;
            let text = fs::read_to_string(t.path().join("schedstat")).ok()?;
            Some((
                tid,
                crate::platform::load::parse_schedstat(&text)?.on_cpu_ns,
            ))
        })
        .collect()
}

/// How a [`SimulatedPowercap`] draws power.
pub struct SimConfig {
    /// Drawn all the time.
    pub idle: Watts,
    /// Drawn per CPU-second of [`SimConfig::activity`].
    pub busy_per_cpu: Watts,
    pub activity: Activity,
    /// `max_energy_range_uj`; small values force wraps.
    pub max_range_uj: u64,
    /// How often `energy_uj` is rewritten (real RAPL: about 1 ms).
    pub tick: Duration,
    pub start_uj: u64,
}

impl Default for SimConfig {
    fn default() -> Self {
        SimConfig {
            idle: Watts(0.0),
            busy_per_cpu: Watts(0.0),
            activity: Activity::None,
            max_range_uj: TYPICAL_RANGE_UJ,
            tick: Duration::from_millis(1),
            start_uj: 0,
        }
    }
}

/// A powercap zone whose `energy_uj` a background thread advances by
/// `idle × elapsed + busy_per_cpu × busy time` every tick.
pub struct SimulatedPowercap {
    counter: Arc<Mutex<SimulatedCounter>>,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
    /// The updater thread as registered and published (`zone_dir/`[`METER_THREAD_FILE`]).
    meter: Option<(MeterThread, PathBuf)>,
}

impl SimulatedPowercap {
    /// Takes over `zone_dir/energy_uj` and starts the thread, declared part of the meter
    /// (module docs) before this returns.
    pub fn start(zone_dir: impl AsRef<Path>, config: SimConfig) -> io::Result<SimulatedPowercap> {
        let counter = Arc::new(Mutex::new(SimulatedCounter::new(
            zone_dir.as_ref(),
            config.max_range_uj,
            config.start_uj,
        )?));
        let stop = Arc::new(AtomicBool::new(false));
        let mut busy = config.activity.into_source();
        let (idle, per_cpu, tick) = (config.idle, config.busy_per_cpu, config.tick);
        // The baselines are taken before `start` returns: activity after it is charged.
        let mut last_t = Instant::now();
        let mut last_busy = busy();
        let (tell, told) = std::sync::mpsc::channel();
        let thread = {
            let counter = Arc::clone(&counter);
            let stop = Arc::clone(&stop);
            std::thread::Builder::new()
                .name("simulated-powercap".into())
                .spawn(move || {
                    let _ = tell.send(MeterThread::current());
                    loop {
                        let stopping = stop.load(Ordering::Acquire);
                        let now = Instant::now();
                        let b = busy();
                        let energy = idle * now.duration_since(last_t)
                            + per_cpu * b.saturating_sub(last_busy);
                        (last_t, last_busy) = (now, b);
                        // A failed write (the tree was deleted) ends the simulation.
                        if counter.lock().map(|mut c| c.add(energy)).is_err() || stopping {
                            break;
                        }
                        std::thread::sleep(tick);
                    }
                })?
        };
        let mut sim = SimulatedPowercap {
            counter,
            stop,
            thread: Some(thread),
            meter: None,
        };
        let me = told.recv().map_err(io::Error::other)?;
        register_meter_thread(me);
        let file = zone_dir.as_ref().join(METER_THREAD_FILE);
        sim.meter = Some((me, file.clone()));
        write_atomic(&file, &format!("{} {}\n", me.pid, me.tid))?;
        Ok(sim)
    }

    /// Energy put in so far, as of the last value written.
    pub fn true_energy(&self) -> Joules {
        self.counter
            .lock()
            .map(|c| c.published_energy())
            .unwrap_or(Joules::ZERO)
    }

    /// Runs `f` while the counter cannot change, and returns the energy put in as of the value
    /// `f` saw: lets a test pair a meter reading with the exact energy behind it.
    pub fn paused<R>(&self, f: impl FnOnce() -> R) -> (R, Joules) {
        let guard = self.counter.lock();
        let r = f();
        let e = guard.map(|c| c.published_energy()).unwrap_or(Joules::ZERO);
        (r, e)
    }

    /// Waits until at least `energy` has been put in; `false` after `timeout`.
    pub fn wait_for(&self, energy: Joules, timeout: Duration) -> bool {
        let deadline = Instant::now() + timeout;
        while self.true_energy().get() < energy.get() {
            if Instant::now() > deadline {
                return false;
            }
            std::thread::sleep(Duration::from_micros(200));
        }
        true
    }

    /// Stops the thread after a final update and returns the energy put in.
    pub fn stop(mut self) -> Joules {
        self.halt();
        self.true_energy()
    }

    fn halt(&mut self) {
        self.stop.store(true, Ordering::Release);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
        if let Some((me, file)) = self.meter.take() {
            unregister_meter_thread(me);
            // The tree may be gone already.
            let _ = fs::remove_file(file);
        }
    }
}

impl Drop for SimulatedPowercap {
    fn drop(&mut self) {
        self.halt();
    }
}

/// Fake model-specific registers for [`MsrMeter::open_with`](crate::energy::msr::MsrMeter::open_with).
/// Registers never set read as EIO, as on hardware that lacks them.
#[derive(Clone, Debug, Default)]
pub struct FakeMsr(Arc<Mutex<HashMap<(u32, u64), u64>>>);

impl FakeMsr {
    pub fn set(&self, cpu: u32, register: u64, value: u64) {
        if let Ok(mut m) = self.0.lock() {
            m.insert((cpu, register), value);
        }
    }
}

impl MsrDevice for FakeMsr {
    fn read(&mut self, cpu: u32, register: u64) -> io::Result<u64> {
        let m = self.0.lock().map_err(|_| io::Error::other("poisoned"))?;
        m.get(&(cpu, register))
            .copied()
            .ok_or_else(|| io::Error::from_raw_os_error(libc::EIO))
    }

    fn describe(&self, cpu: u32) -> String {
        format!("fake /dev/cpu/{cpu}/msr")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::energy::Meter;
    use crate::energy::powercap::PowercapMeter;
    use crate::engine::background::published_meter_threads;

    #[test]
    fn counter_wraps_at_range() {
        let dir = tempfile::tempdir().unwrap();
        let mut c = SimulatedCounter::new(dir.path(), 1000, 990).unwrap();
        c.add(Joules(20e-6)).unwrap();
        assert_eq!(c.value_uj(), 10);
        let text = fs::read_to_string(dir.path().join("energy_uj")).unwrap();
        assert_eq!(text, "10\n");
        assert!((c.true_energy().get() - 20e-6).abs() < 1e-15);
    }

    #[test]
    fn idle_power_read_back_matches_energy_put_in() {
        let dir = tempfile::tempdir().unwrap();
        let m = FakeMachine::psys_laptop(dir.path()).unwrap();
        let sim = SimulatedPowercap::start(
            m.zone_dir("intel-rapl:1"),
            SimConfig {
                idle: Watts(20.0),
                ..SimConfig::default()
            },
        )
        .unwrap();
        let mut meter = PowercapMeter::open(&m.sysfs(), &[]).unwrap();
        let (first, at_first) = sim.paused(|| meter.read().unwrap());
        std::thread::sleep(Duration::from_millis(50));
        let put_in = sim.stop();
        let last = meter.read().unwrap();
        let read_back = meter.energy_between(&first, &last)[0].energy;
        let expected = put_in - at_first;
        assert!(expected.get() > 0.0);
        assert!(
            (read_back - expected).get().abs() < 2e-6,
            "read {read_back}, put in {expected}"
        );
    }

    /// Energy driven by a busy-time source the test controls, so that every step is known and
    /// the wraps happen between readings whatever the machine's load.
    #[test]
    fn busy_energy_read_back_matches_across_wraps() {
        let dir = tempfile::tempdir().unwrap();
        let m = FakeMachine::psys_laptop(dir.path()).unwrap();
        let busy = Arc::new(Mutex::new(Duration::ZERO));
        let source = Arc::clone(&busy);
        let sim = SimulatedPowercap::start(
            m.zone_dir("intel-rapl:1"),
            SimConfig {
                busy_per_cpu: Watts(10.0),
                activity: Activity::Custom(Box::new(move || *source.lock().unwrap())),
                max_range_uj: 1_000_000,
                start_uj: 800_000,
                ..SimConfig::default()
            },
        )
        .unwrap();
        let mut meter = PowercapMeter::open(&m.sysfs(), &[]).unwrap();
        let mut prev = meter.read().unwrap();
        let mut read_back = Joules::ZERO;
        for step in 1..=20u32 {
            // 30 ms of CPU time at 10 W: 0.3 J per step, a wrap every 3 or 4 steps.
            *busy.lock().unwrap() = Duration::from_millis(30) * step;
            let target = Joules(0.3 * f64::from(step) - 5e-6);
            assert!(
                sim.wait_for(target, Duration::from_secs(10)),
                "simulator stalled at step {step}: {}",
                sim.true_energy()
            );
            let next = meter.read().unwrap();
            read_back += meter.energy_between(&prev, &next)[0].energy;
            prev = next;
        }
        let put_in = sim.stop();
        assert!((put_in.get() - 6.0).abs() < 1e-5, "{put_in}");
        assert!(
            (read_back - put_in).get().abs() < 2e-6,
            "read {read_back}, put in {put_in}"
        );
    }

    /// The set-up the engine's proof uses: the host's CPUs, a simulated package zone whose
    /// power follows this process's CPU time, and the ordinary selection picking it.
    #[test]
    fn mirrored_host_selects_a_simulated_package() {
        use crate::energy::MeterChoice;
        let dir = tempfile::tempdir().unwrap();
        let m = FakeMachine::mirror_host(dir.path()).unwrap();
        let host = crate::topology::Topology::read(&Sysfs::default()).unwrap();
        let fake = crate::topology::Topology::read(&m.sysfs()).unwrap();
        assert_eq!(fake.cpus, host.cpus);
        let sim = SimulatedPowercap::start(
            m.zone_dir("intel-rapl:0"),
            SimConfig {
                idle: Watts(2.0),
                busy_per_cpu: Watts(15.0),
                activity: Activity::Pids(vec![std::process::id() as i32]),
                ..SimConfig::default()
            },
        )
        .unwrap();
        let sel = crate::energy::select(MeterChoice::Auto, m.root(), 10.0).unwrap();
        assert_eq!(sel.info.backend, crate::energy::Backend::Powercap);
        assert_eq!(sel.info.primary, "package-0");
        assert!(sel.warnings.is_empty());
        assert_eq!(sel.rejected[0].backend, crate::energy::Backend::Perf);
        drop(sim);
    }

    /// The updater thread says it is the meter, in this process and in the tree, while it runs.
    #[test]
    fn the_updater_thread_is_published_as_the_meter_while_it_runs() {
        let dir = tempfile::tempdir().unwrap();
        let m = FakeMachine::mirror_host(dir.path()).unwrap();
        assert!(published_meter_threads(&m.sysfs()).is_empty());
        let sim =
            SimulatedPowercap::start(m.zone_dir("intel-rapl:0"), SimConfig::default()).unwrap();
        let published = published_meter_threads(&m.sysfs());
        assert_eq!(published.len(), 1);
        let t = published[0];
        assert_eq!(t.pid, std::process::id());
        assert_ne!(
            t.tid,
            MeterThread::current().tid,
            "the updater, not the caller"
        );
        assert!(
            Procfs::default().thread_schedstat(t.pid, t.tid).is_ok(),
            "a live thread of this process"
        );
        // The real sysfs never names one, whatever a fake tree holds.
        assert!(published_meter_threads(&Sysfs::default()).is_empty());
        sim.stop();
        assert!(published_meter_threads(&m.sysfs()).is_empty());
    }

    #[test]
    fn pid_activity_sees_own_cpu_time() {
        let mut source = Activity::Pids(vec![std::process::id() as i32]).into_source();
        let before = source();
        crate::energy::spin_on(None, Duration::from_millis(30));
        assert!(source() > before);
    }
}
