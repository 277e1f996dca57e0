//! Meters against fake trees and this machine, through the public API only.

use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::Command;
use std::time::Duration;

use jouletrace::config::MeterChoice;
use jouletrace::energy::powercap::PowercapMeter;
use jouletrace::energy::simulate::{FakeMachine, SimConfig, SimulatedPowercap};
use jouletrace::energy::{self, Backend, MeterSpec};
use jouletrace::platform::DoctorReport;
use jouletrace::sysfs::Sysfs;
use jouletrace::{Joules, Watts};

const DENIED_ROOT_ENV: &str = "JOULETRACE_TEST_DENIED_ROOT";
const CHILD_OK: &str = "denied-check-passed";

fn check_denied(root: &Path) {
    let err = PowercapMeter::open(&Sysfs::new(root), &[])
        .err()
        .expect("must be unavailable");
    assert_eq!(err.backend, Backend::Powercap);
    assert!(err.reason.contains("permission denied"), "{}", err.reason);
    assert!(
        err.reason.contains("root only since Linux 5.10"),
        "{}",
        err.reason
    );
    assert!(err.reason.contains("energy_uj"), "{}", err.reason);
    assert!(err.remedy.as_deref().unwrap_or("").contains("udev"));
}

/// A tree whose `energy_uj` files are mode 000. Root ignores file modes, so when the tests run
/// as root the check is re-run as `nobody`: the EACCES comes from the real kernel either way.
#[test]
fn permission_denied_tree_is_explained() {
    if let Some(root) = std::env::var_os(DENIED_ROOT_ENV) {
        check_denied(Path::new(&root));
        println!("{CHILD_OK}");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let machine = FakeMachine::intel_two_socket(dir.path()).unwrap();
    machine.deny_energy_reads().unwrap();
    // SAFETY: geteuid has no preconditions.
    if unsafe { libc::geteuid() } != 0 {
        check_denied(dir.path());
        return;
    }
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
    let out = Command::new(std::env::current_exe().unwrap())
        .args([
            "permission_denied_tree_is_explained",
            "--exact",
            "--nocapture",
            "--test-threads=1",
        ])
        .env(DENIED_ROOT_ENV, dir.path())
        .uid(65534)
        .gid(65534)
        .output()
        .expect("re-running the test as nobody");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success() && stdout.contains(CHILD_OK),
        "child failed: {}\n{stdout}\n{}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
}

/// What a worker does: open the spec the orchestrator chose, read around work.
#[test]
fn worker_side_open_reads_a_simulated_package() {
    let dir = tempfile::tempdir().unwrap();
    let machine = FakeMachine::intel_two_socket(dir.path()).unwrap();
    let sim = SimulatedPowercap::start(
        machine.zone_dir("intel-rapl:1"),
        SimConfig {
            idle: Watts(40.0),
            max_range_uj: 3_000_000,
            ..SimConfig::default()
        },
    )
    .unwrap();
    let spec = MeterSpec {
        backend: Backend::Powercap,
        sysfs_root: dir.path().to_owned(),
        domains: vec!["package-1".into()],
        estimate_watts_per_core: None,
    };
    let mut meter = energy::open(&spec).unwrap();
    assert_eq!(meter.info().primary, "package-1");
    let (a, at_a) = sim.paused(|| meter.read().unwrap());
    std::thread::sleep(Duration::from_millis(40));
    let (b, at_b) = sim.paused(|| meter.read().unwrap());
    let e = meter.energy_between(&a, &b);
    assert_eq!(e.len(), 1);
    assert_eq!(e[0].domain, "package-1");
    let expected: Joules = at_b - at_a;
    assert!(
        (e[0].energy - expected).get().abs() < 2e-6,
        "{:?} vs {expected}",
        e[0]
    );
    assert!(b.taken_ns > a.taken_ns);
}

/// On this machine kind nothing can be read: the run's meter is the estimate, it says so, and
/// a forced perf meter is an error with a reason, never a meter reading 0 J.
#[test]
fn this_machine_selection_is_honest() {
    let sel = energy::select(MeterChoice::Auto, Path::new("/sys"), 10.0).unwrap();
    eprintln!("selected {} ({:?})", sel.info.backend, sel.info.primary);
    for r in &sel.rejected {
        eprintln!("rejected {}: {}", r.backend, r.reason);
    }
    for w in &sel.warnings {
        eprintln!("warning: {w}");
    }
    if sel.info.backend == Backend::Estimate {
        assert!(
            sel.warnings
                .iter()
                .any(|w| w.contains("cargo joule doctor"))
        );
        match energy::select(MeterChoice::Forced(Backend::Perf), Path::new("/sys"), 10.0) {
            Err(u) => {
                assert_eq!(u.backend, Backend::Perf);
                eprintln!("forced perf: {u}");
            }
            Ok(s) => panic!("perf rejected in auto but accepted when forced: {s:?}"),
        }
    }
    let mut meter = energy::open(&sel.spec).unwrap();
    let a = meter.read().unwrap();
    energy::spin_on(None, Duration::from_millis(20));
    let b = meter.read().unwrap();
    let e = meter.energy_between(&a, &b);
    let primary = e.iter().find(|d| d.domain == sel.info.primary).unwrap();
    assert!(primary.energy.get() > 0.0);
}

#[test]
fn doctor_here_prints_and_parses() {
    let report = DoctorReport::probe(&Sysfs::from_env(), 10.0);
    eprintln!("{}", report.render_human());
    let back: DoctorReport = serde_json::from_str(&report.to_json()).unwrap();
    assert_eq!(back, report);
}

/// Twin: `energy::simulate::tests::mirrored_host_selects_a_simulated_package` and the perf
/// `from_sources` tests.
#[test]
#[ignore = "needs a machine with readable RAPL (bare metal, perf_event_paranoid ≤ 0 or root)"]
fn rapl_hardware_is_selected_and_measures() {
    let sel = energy::select(MeterChoice::Auto, Path::new("/sys"), 10.0).unwrap();
    assert!(!sel.info.is_estimated(), "rejected: {:?}", sel.rejected);
    let mut meter = energy::open(&sel.spec).unwrap();
    let a = meter.read().unwrap();
    energy::spin_on(Some(0), Duration::from_millis(200));
    let b = meter.read().unwrap();
    let e = meter.energy_between(&a, &b);
    let primary = e.iter().find(|d| d.domain == sel.info.primary).unwrap();
    // A package draws well over 0.1 W busy and well under 1 kW.
    assert!(
        primary.energy.get() > 0.02 && primary.energy.get() < 200.0,
        "{primary:?}"
    );
}

/// Twin: the `FakeMsr` tests in `energy::msr`.
#[test]
#[ignore = "needs /dev/cpu/*/msr (modprobe msr, root) on a RAPL-capable CPU"]
fn msr_hardware_reads_a_package() {
    let sel = energy::select(MeterChoice::Forced(Backend::Msr), Path::new("/sys"), 10.0).unwrap();
    assert!(sel.info.primary.starts_with("package-"));
}
