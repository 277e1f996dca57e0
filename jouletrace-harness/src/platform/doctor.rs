//! `cargo joule doctor`: everything that decides whether measurements here can be trusted.

use std::fmt::Write as _;
use std::path::PathBuf;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::energy::{self, Backend, Meter, Provenance, Unavailable};
use crate::sysfs::{Procfs, Sysfs, format_cpu_list};
use crate::topology::Topology;

use super::environment::{governor, turbo, uname, virtualization};
use super::load::LoadNow;

/// One backend's availability.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct BackendStatus {
    pub backend: Backend,
    pub available: bool,
    pub provenance: Option<Provenance>,
    /// Domain ids it offers, when available.
    #[serde(default)]
    pub domains: Vec<String>,
    pub primary_domain: Option<String>,
    /// Why it is unavailable.
    pub reason: Option<String>,
    pub remedy: Option<String>,
    /// Whether automatic selection considers it (MSR and NVML are used only when forced).
    pub automatic: bool,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct TopologySummary {
    pub logical_cpus: u32,
    pub physical_cores: u32,
    pub packages: u32,
    /// Online CPUs as a kernel CPU list.
    pub online: String,
    /// Hardware threads sharing a core, one list per core that has more than one.
    pub smt_siblings: Vec<Vec<u32>>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct TemperatureSensor {
    /// `thermal` or `hwmon`.
    pub source: String,
    /// `x86_pkg_temp`, `k10temp Tctl`…
    pub name: String,
    pub celsius: Option<f64>,
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Capabilities {
    pub root: bool,
    pub cap_perfmon: bool,
    pub cap_sys_admin: bool,
    pub cap_sys_rawio: bool,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct DoctorReport {
    pub sysfs_root: PathBuf,
    pub backends: Vec<BackendStatus>,
    /// What `--meter auto` would use.
    pub automatic_choice: Option<Backend>,
    pub cpu_model: Option<String>,
    pub cpu_vendor: Option<String>,
    pub kernel: Option<String>,
    pub topology: Option<TopologySummary>,
    pub isolated_cpus: Vec<u32>,
    pub nohz_full_cpus: Vec<u32>,
    pub governor: Option<String>,
    pub turbo: Option<bool>,
    pub temperature_sensors: Vec<TemperatureSensor>,
    pub virtualized: Option<bool>,
    pub virtualization_evidence: Option<String>,
    pub perf_event_paranoid: Option<i32>,
    pub capabilities: Capabilities,
    /// Other work running now: measured windows beside it are flagged and re-taken.
    #[serde(default)]
    pub load: Option<LoadNow>,
    /// Things that make measurements noisier, each with what to do.
    pub advice: Vec<String>,
    pub measured_usable: bool,
    pub verdict: String,
    /// The isolation untrusted workers would run under here (default policy), layer by layer,
    /// with the remedy for each missing one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sandbox: Option<crate::pool::sandbox::SandboxLevel>,
}

/// How long the doctor watches `/proc/stat` for other work.
const LOAD_WINDOW: Duration = Duration::from_millis(300);
/// A CPU busier than this with other work is worth a note.
const BUSY_ADVICE: f64 = 0.10;

const CAP_SYS_RAWIO: u32 = 17;
const CAP_SYS_ADMIN: u32 = 21;
const CAP_PERFMON: u32 = 38;

fn capabilities(proc: &Procfs) -> Capabilities {
    let cap_eff = proc
        .read_string("self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("CapEff:").map(|v| v.trim().to_owned()))
        })
        .and_then(|hex| u64::from_str_radix(&hex, 16).ok())
        .unwrap_or(0);
    let has = |bit: u32| cap_eff & (1 << bit) != 0;
    Capabilities {
        // SAFETY: geteuid has no preconditions.
        root: unsafe { libc::geteuid() } == 0,
        cap_perfmon: has(CAP_PERFMON),
        cap_sys_admin: has(CAP_SYS_ADMIN),
        cap_sys_rawio: has(CAP_SYS_RAWIO),
    }
}

/// Every temperature the machine exposes (thermal zones and hwmon inputs).
pub fn temperature_sensors(sys: &Sysfs) -> Vec<TemperatureSensor> {
    let mut out = Vec::new();
    for zone in sys.list_dir("class/thermal").unwrap_or_default() {
        if !zone.starts_with("thermal_zone") {
            continue;
        }
        let dir = format!("class/thermal/{zone}");
        let name = sys
            .read_string(format!("{dir}/type"))
            .unwrap_or(zone.clone());
        let celsius = sys
            .read_string(format!("{dir}/temp"))
            .ok()
            .and_then(|t| t.trim().parse::<f64>().ok())
            .map(|m| m / 1000.0);
        out.push(TemperatureSensor {
            source: "thermal".into(),
            name,
            celsius,
        });
    }
    for hw in sys.list_dir("class/hwmon").unwrap_or_default() {
        let dir = format!("class/hwmon/{hw}");
        let chip = sys.read_string(format!("{dir}/name")).unwrap_or(hw.clone());
        for file in sys.list_dir(&dir).unwrap_or_default() {
            let Some(stem) = file
                .strip_suffix("_input")
                .filter(|s| s.starts_with("temp"))
            else {
                continue;
            };
            let label = sys.read_string(format!("{dir}/{stem}_label")).ok();
            let celsius = sys
                .read_string(format!("{dir}/{file}"))
                .ok()
                .and_then(|t| t.trim().parse::<f64>().ok())
                .map(|m| m / 1000.0);
            out.push(TemperatureSensor {
                source: "hwmon".into(),
                name: format!("{chip} {}", label.as_deref().unwrap_or(stem)),
                celsius,
            });
        }
    }
    out
}

fn status_of(
    backend: Backend,
    opened: Result<Box<dyn Meter>, Unavailable>,
    probe_time: Duration,
) -> BackendStatus {
    let automatic = matches!(
        backend,
        Backend::Perf | Backend::Powercap | Backend::Estimate
    );
    let checked = opened.and_then(|mut m| {
        if m.info().provenance == Provenance::Measured {
            energy::probe_advances(m.as_mut(), probe_time)?;
        }
        Ok(m)
    });
    match checked {
        Ok(m) => {
            let info = m.info();
            BackendStatus {
                backend,
                available: true,
                provenance: Some(info.provenance),
                domains: info.domains.iter().map(|d| d.id.clone()).collect(),
                primary_domain: Some(info.primary.clone()),
                reason: None,
                remedy: None,
                automatic,
            }
        }
        Err(u) => BackendStatus {
            backend,
            available: false,
            provenance: None,
            domains: Vec::new(),
            primary_domain: None,
            reason: Some(u.reason),
            remedy: u.remedy,
            automatic,
        },
    }
}

impl DoctorReport {
    /// Probes every backend (each measured one with the busy probe) and the machine.
    pub fn probe(sys: &Sysfs, estimate_watts_per_core: f64) -> DoctorReport {
        DoctorReport::probe_with(sys, &Procfs::from_env(), energy::PROBE_TIME, &mut |b| {
            energy::open_backend(b, sys, estimate_watts_per_core)
        })
    }

    /// [`DoctorReport::probe`] with an explicit `/proc` and a substitute way of opening meters.
    pub fn probe_with(
        sys: &Sysfs,
        proc: &Procfs,
        probe_time: Duration,
        opener: &mut dyn FnMut(Backend) -> Result<Box<dyn Meter>, Unavailable>,
    ) -> DoctorReport {
        let backends: Vec<BackendStatus> = Backend::ALL
            .iter()
            .map(|&b| status_of(b, opener(b), probe_time))
            .collect();
        let available = |b: Backend| backends.iter().any(|s| s.backend == b && s.available);
        let automatic_choice = [Backend::Perf, Backend::Powercap, Backend::Estimate]
            .into_iter()
            .find(|&b| available(b));
        let measured: Vec<Backend> = [Backend::Perf, Backend::Powercap, Backend::Msr]
            .into_iter()
            .filter(|&b| available(b))
            .collect();

        let env = super::probe_environment_with(sys, proc);
        let topo = Topology::read(sys).ok();
        let topology = topo.as_ref().map(|t| TopologySummary {
            logical_cpus: t.cpus.len() as u32,
            physical_cores: t.physical_cores().len() as u32,
            packages: t.packages().len() as u32,
            online: format_cpu_list(&t.online()),
            smt_siblings: t
                .physical_cores()
                .into_iter()
                .filter(|c| c.cpus.len() > 1)
                .map(|c| c.cpus)
                .collect(),
        });
        let virt = virtualization(sys, proc);
        let governor = governor(sys);
        let turbo = turbo(sys);

        let mut advice = Vec::new();
        if let Some(g) = governor.as_deref().filter(|g| *g != "performance") {
            advice.push(format!(
                "the frequency governor is {g}: `sudo cpupower frequency-set -g performance` \
                 makes runs more repeatable"
            ));
        }
        if turbo == Some(true) {
            advice.push(
                "turbo/boost is on: energy per call varies with temperature and load; \
                 turn it off for stable comparisons"
                    .into(),
            );
        }
        if topo.as_ref().is_some_and(|t| t.smt_active()) {
            advice.push(
                "SMT is on: JouleTrace keeps measuring cores' siblings idle, which halves the \
                 workers; `echo off | sudo tee /sys/devices/system/cpu/smt/control` avoids that"
                    .into(),
            );
        }
        if virt.as_ref().is_some_and(|(vm, _)| *vm) {
            advice.push(
                "this is a virtual machine: RAPL counters are rarely passed through, and \
                 neighbours share the hardware"
                    .into(),
            );
        }

        let load = LoadNow::measure(proc, LOAD_WINDOW);
        if let Some(l) = load.as_ref().filter(|l| l.max_busy() > BUSY_ADVICE) {
            advice.push(format!(
                "the machine is busy with other work (a CPU {:.0}% busy over {:.1} s): samples \
                 beside it are flagged background_activity and re-taken, and runs take longer; \
                 measure on a quiet machine",
                l.max_busy() * 100.0,
                l.window_s
            ));
        }

        let measured_usable = !measured.is_empty();
        let verdict = match (measured.first(), automatic_choice) {
            (Some(_), Some(auto)) if auto != Backend::Estimate => format!(
                "energy can be measured here: `--meter auto` uses {auto}{}",
                backends
                    .iter()
                    .find(|s| s.backend == auto)
                    .and_then(|s| s.primary_domain.as_ref())
                    .map(|p| format!(" (primary domain {p})"))
                    .unwrap_or_default()
            ),
            (Some(m), _) => format!(
                "energy can be measured here only with `--meter {m}`; automatic selection \
                 would estimate"
            ),
            (None, Some(Backend::Estimate)) => "no energy counter can be read here: results \
                 will be ESTIMATED from CPU time, never measured; see the remedies above"
                .into(),
            (None, _) => "no meter works here, not even the estimate".into(),
        };

        DoctorReport {
            sysfs_root: sys.root().to_owned(),
            backends,
            automatic_choice,
            cpu_model: env.cpu_model,
            cpu_vendor: env.cpu_vendor,
            kernel: env.kernel.or_else(|| uname().map(|u| u.release)),
            topology,
            isolated_cpus: topo
                .as_ref()
                .map(|t| t.isolated.clone())
                .unwrap_or_default(),
            nohz_full_cpus: topo
                .as_ref()
                .map(|t| t.nohz_full.clone())
                .unwrap_or_default(),
            governor,
            turbo,
            temperature_sensors: temperature_sensors(sys),
            virtualized: virt.as_ref().map(|(vm, _)| *vm),
            virtualization_evidence: virt.map(|(_, why)| why),
            perf_event_paranoid: proc.perf_event_paranoid().ok(),
            capabilities: capabilities(proc),
            load,
            advice,
            measured_usable,
            verdict,
            sandbox: Some(
                crate::pool::sandbox::Sandbox::probed(
                    crate::pool::sandbox::SandboxPolicy::default(),
                )
                .level(true),
            ),
        }
    }

    /// Whether a measured (not estimated) CPU energy meter works here: the doctor's exit status.
    pub fn measured_meter_usable(&self) -> bool {
        self.measured_usable
    }

    pub fn to_json(&self) -> String {
        serde_json::to_string_pretty(self).expect("the report always serializes")
    }

    /// The report as `cargo joule doctor` prints it.
    pub fn render_human(&self) -> String {
        let mut out = String::new();
        let or_unknown = |v: &Option<String>| v.clone().unwrap_or_else(|| "unknown".into());
        let yes_no = |v: Option<bool>, yes: &str, no: &str| match v {
            Some(true) => yes.to_owned(),
            Some(false) => no.to_owned(),
            None => "unknown".to_owned(),
        };
        let _ = writeln!(out, "Meters (sysfs root {})", self.sysfs_root.display());
        for s in &self.backends {
            let state = if s.available {
                "available"
            } else {
                "unavailable"
            };
            let detail = if s.available {
                let kind = match s.provenance {
                    Some(Provenance::Estimated) => "estimated",
                    _ => "measured",
                };
                format!("{kind}; domains {}", s.domains.join(", "))
            } else {
                s.reason.clone().unwrap_or_default()
            };
            let forced = if s.automatic {
                ""
            } else {
                " [only with --meter]"
            };
            let _ = writeln!(out, "  {:<9} {:<11} {detail}{forced}", s.backend, state);
            if let Some(r) = &s.remedy {
                let _ = writeln!(out, "  {:<9} {:<11} remedy: {r}", "", "");
            }
        }
        let _ = writeln!(
            out,
            "  automatic choice: {}",
            self.automatic_choice
                .map_or("none".into(), |b| b.to_string())
        );
        let _ = writeln!(out);
        let _ = writeln!(
            out,
            "CPU          {} ({})",
            or_unknown(&self.cpu_model),
            or_unknown(&self.cpu_vendor)
        );
        let _ = writeln!(out, "Kernel       {}", or_unknown(&self.kernel));
        match &self.topology {
            Some(t) => {
                let smt = if t.smt_siblings.is_empty() {
                    "no SMT siblings".to_owned()
                } else {
                    let groups: Vec<String> =
                        t.smt_siblings.iter().map(|g| format_cpu_list(g)).collect();
                    format!("SMT siblings {}", groups.join(" "))
                };
                let _ = writeln!(
                    out,
                    "Topology     {} package(s), {} physical core(s), {} logical CPU(s) \
                     (online {}); {smt}",
                    t.packages, t.physical_cores, t.logical_cpus, t.online
                );
            }
            None => {
                let _ = writeln!(out, "Topology     unknown");
            }
        }
        let list = |l: &[u32]| {
            if l.is_empty() {
                "none".to_owned()
            } else {
                format_cpu_list(l)
            }
        };
        let _ = writeln!(
            out,
            "Isolated     {} (nohz_full: {})",
            list(&self.isolated_cpus),
            list(&self.nohz_full_cpus)
        );
        let _ = writeln!(
            out,
            "Frequency    governor {}, turbo {}",
            self.governor.as_deref().unwrap_or("unknown (no cpufreq)"),
            yes_no(self.turbo, "on", "off")
        );
        if self.temperature_sensors.is_empty() {
            let _ = writeln!(out, "Temperature  no sensors");
        } else {
            let sensors: Vec<String> = self
                .temperature_sensors
                .iter()
                .map(|s| match s.celsius {
                    Some(c) => format!("{} {c:.1} °C", s.name),
                    None => s.name.clone(),
                })
                .collect();
            let _ = writeln!(out, "Temperature  {}", sensors.join(", "));
        }
        let _ = writeln!(
            out,
            "Virtualized  {}{}",
            yes_no(self.virtualized, "yes", "no"),
            self.virtualization_evidence
                .as_ref()
                .map(|e| format!(" ({e})"))
                .unwrap_or_default()
        );
        let c = &self.capabilities;
        let mut caps = Vec::new();
        if c.root {
            caps.push("root");
        }
        for (has, name) in [
            (c.cap_perfmon, "CAP_PERFMON"),
            (c.cap_sys_admin, "CAP_SYS_ADMIN"),
            (c.cap_sys_rawio, "CAP_SYS_RAWIO"),
        ] {
            if has {
                caps.push(name);
            }
        }
        let _ = writeln!(
            out,
            "Permissions  perf_event_paranoid {}; {}",
            self.perf_event_paranoid
                .map_or("unknown".into(), |p| p.to_string()),
            if caps.is_empty() {
                "no relevant capabilities".to_owned()
            } else {
                caps.join(", ")
            }
        );
        match &self.load {
            Some(l) => {
                let cpus: Vec<String> = l
                    .busy
                    .iter()
                    .map(|(cpu, b)| format!("cpu{cpu} {:.0}%", b * 100.0))
                    .collect();
                let _ = writeln!(
                    out,
                    "Load         {} busy over {:.1} s{}",
                    cpus.join(", "),
                    l.window_s,
                    l.loadavg
                        .map(|a| format!("; load average {:.2} {:.2} {:.2}", a[0], a[1], a[2]))
                        .unwrap_or_default()
                );
            }
            None => {
                let _ = writeln!(out, "Load         unknown (/proc/stat unreadable)");
            }
        }
        for a in &self.advice {
            let _ = writeln!(out, "Note         {a}");
        }
        if let Some(sb) = &self.sandbox {
            let _ = writeln!(out);
            let _ = writeln!(out, "Sandbox      {}", sb.summary());
            for l in &sb.layers {
                let state = match (l.active, &l.reason) {
                    (true, _) => "active",
                    (false, None) => "not needed",
                    (false, Some(_)) => "MISSING",
                };
                let _ = writeln!(
                    out,
                    "  {:<32} {:<10} {}",
                    l.layer.name(),
                    state,
                    l.reason.as_deref().unwrap_or(&l.detail)
                );
                if let Some(r) = &l.remedy {
                    let _ = writeln!(out, "  {:<32} {:<10} remedy: {r}", "", "");
                }
            }
        }
        let _ = writeln!(out);
        let _ = writeln!(out, "Verdict: {}", self.verdict);
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::energy::simulate::{FakeMachine, SimConfig, SimulatedPowercap};
    use crate::units::Watts;

    fn fake_proc(dir: &std::path::Path) -> Procfs {
        std::fs::write(
            dir.join("cpuinfo"),
            "processor\t: 0\nvendor_id\t: GenuineIntel\nmodel name\t: Fake Xeon\nflags\t: fpu\n",
        )
        .unwrap();
        std::fs::create_dir_all(dir.join("sys/kernel")).unwrap();
        std::fs::write(dir.join("sys/kernel/perf_event_paranoid"), "-1\n").unwrap();
        std::fs::create_dir_all(dir.join("self")).unwrap();
        std::fs::write(
            dir.join("self/status"),
            "Name:\tx\nCapEff:\t0000004000000000\n",
        )
        .unwrap();
        Procfs::new(dir)
    }

    #[test]
    fn a_simulated_server_is_measurable_through_powercap() {
        let sys_dir = tempfile::tempdir().unwrap();
        let proc_dir = tempfile::tempdir().unwrap();
        let m = FakeMachine::intel_two_socket(sys_dir.path()).unwrap();
        let proc = fake_proc(proc_dir.path());
        let sims: Vec<SimulatedPowercap> = ["intel-rapl:0", "intel-rapl:1"]
            .iter()
            .map(|z| {
                SimulatedPowercap::start(
                    m.zone_dir(z),
                    SimConfig {
                        idle: Watts(30.0),
                        ..SimConfig::default()
                    },
                )
                .unwrap()
            })
            .collect();
        let sys = m.sysfs();
        let report = DoctorReport::probe_with(&sys, &proc, Duration::from_millis(20), &mut |b| {
            energy::open_backend(b, &sys, 10.0)
        });
        drop(sims);
        let powercap = &report.backends[1];
        assert_eq!(powercap.backend, Backend::Powercap);
        assert!(powercap.available, "{powercap:?}");
        assert_eq!(powercap.primary_domain.as_deref(), Some("package-0"));
        assert!(
            !report.backends[0].available,
            "the fake PMU cannot really open"
        );
        assert_eq!(report.automatic_choice, Some(Backend::Powercap));
        assert!(report.measured_meter_usable());
        assert_eq!(report.isolated_cpus, vec![3, 7]);
        assert_eq!(report.perf_event_paranoid, Some(-1));
        assert!(report.capabilities.cap_perfmon && !report.capabilities.cap_sys_admin);
        assert_eq!(report.temperature_sensors[0].celsius, Some(45.0));
        assert_eq!(report.topology.as_ref().unwrap().smt_siblings.len(), 4);
        assert_eq!(report.virtualized, Some(false));
        assert!(report.verdict.contains("powercap"), "{}", report.verdict);
        let text = report.render_human();
        assert!(
            text.contains("Verdict: energy can be measured here"),
            "{text}"
        );
        let back: DoctorReport = serde_json::from_str(&report.to_json()).unwrap();
        assert_eq!(back, report);
    }

    #[test]
    fn static_counters_do_not_count_as_measuring() {
        let sys_dir = tempfile::tempdir().unwrap();
        let proc_dir = tempfile::tempdir().unwrap();
        let m = FakeMachine::amd_per_core(sys_dir.path()).unwrap();
        let proc = fake_proc(proc_dir.path());
        let sys = m.sysfs();
        let report = DoctorReport::probe_with(&sys, &proc, Duration::from_millis(10), &mut |b| {
            energy::open_backend(b, &sys, 10.0)
        });
        let powercap = &report.backends[1];
        assert!(!powercap.available);
        assert!(
            powercap
                .reason
                .as_ref()
                .unwrap()
                .contains("did not advance")
        );
        assert_eq!(report.automatic_choice, Some(Backend::Estimate));
        assert!(!report.measured_meter_usable());
        assert!(report.verdict.contains("ESTIMATED"));
        assert!(report.temperature_sensors[0].name.contains("k10temp Tctl"));
        assert_eq!(report.turbo, Some(true));
    }

    /// The real machine: whatever it offers, the report is complete, parses, and never calls
    /// a meter usable that did not advance.
    #[test]
    fn doctor_runs_here_and_its_json_parses() {
        let report = DoctorReport::probe(&Sysfs::default(), 10.0);
        let json = report.to_json();
        let value: serde_json::Value = serde_json::from_str(&json).unwrap();
        assert_eq!(value["backends"].as_array().unwrap().len(), 5);
        let estimate = report
            .backends
            .iter()
            .find(|s| s.backend == Backend::Estimate)
            .unwrap();
        assert!(estimate.available);
        assert!(report.render_human().contains("Verdict:"));
        let perf = &report.backends[0];
        if !perf.available {
            assert!(perf.reason.is_some());
        }
    }
}
