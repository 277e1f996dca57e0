//! The bench harness end to end, on `bin/manual_registration.rs` (candidates registered by
//! hand, so this does not depend on the proc macros): libtest's command line, classification of
//! failures in isolated workers, and the results file.

use std::path::PathBuf;
use std::process::Command;

use jouletrace::results::{RunResults, Status};

fn example() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_manual_registration"))
}

fn run(args: &[&str], target_dir: &std::path::Path) -> (i32, String, String, RunResults) {
    let out = Command::new(example())
        .args(args)
        .env("CARGO_TARGET_DIR", target_dir)
        // Tests run in parallel: each keeps its own run lock, so that one's measuring does not
        // hold up another's checks (the lock itself is tested in `concurrent.rs`).
        .env("JOULETRACE_LOCK_PATH", target_dir.join("run.lock"))
        .output()
        .unwrap();
    let results = RunResults::load(&target_dir.join("joule/manual_registration/results.json"))
        .unwrap_or_else(|e| panic!("{e}\n--- stderr:\n{}", String::from_utf8_lossy(&out.stderr)));
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
        results,
    )
}

fn status_of(r: &RunResults, name: &str) -> Status {
    r.candidates().find(|c| c.name == name).unwrap().status
}

#[test]
fn checks_classify_each_failure_and_keep_going() {
    let dir = tempfile::tempdir().unwrap();
    let (code, stdout, _, r) = run(&[], dir.path());
    assert_eq!(code, 101, "a failing candidate fails the run");
    assert!(
        stdout
            .lines()
            .any(|l| l.starts_with("test [check] square::square ") && l.ends_with("... ok")),
        "{stdout}"
    );
    assert_eq!(status_of(&r, "square"), Status::Passed);
    assert_eq!(status_of(&r, "wrong"), Status::WrongAnswer);
    assert_eq!(status_of(&r, "segfault"), Status::Crashed);
    assert_eq!(status_of(&r, "spin"), Status::Timeout);
    let seg = r.candidates().find(|c| c.name == "segfault").unwrap();
    let f = seg.check.failure.as_ref().unwrap();
    assert_eq!(f.signal.as_deref(), Some("SIGSEGV"));
    assert_eq!(
        f.case.as_deref(),
        Some("seven"),
        "the crash is attributed to its case"
    );
    let wrong = r.candidates().find(|c| c.name == "wrong").unwrap();
    let f = wrong.check.failure.as_ref().unwrap();
    assert_eq!(
        (f.expected.as_deref(), f.actual.as_deref()),
        (Some("49"), Some("14"))
    );
    assert!(r.meter.is_none(), "a check-only run claims no meter");

    let failure = |name: &str| {
        let c = r.candidates().find(|c| c.name == name).unwrap();
        (c.status, c.check.failure.clone().unwrap(), c.check.clone())
    };
    let (s, f, _) = failure("aborts");
    assert_eq!((s, f.signal.as_deref()), (Status::Crashed, Some("SIGABRT")));
    let (s, f, _) = failure("stack_overflow");
    assert_eq!(s, Status::Crashed);
    assert!(f.message.contains("stack overflow"), "{}", f.message);
    let (s, f, _) = failure("huge_alloc");
    assert_eq!(
        (s, f.limit.as_deref()),
        (Status::MemoryLimit, Some("512 MiB"))
    );
    let (s, f, _) = failure("panics_once");
    assert_eq!((s, f.case.as_deref()), (Status::Panic, Some("big")));
    assert!(f.message.contains("no thousands today"), "{}", f.message);
    let (s, _, _) = failure("stray_thread");
    assert_eq!(s, Status::StrayThread);
    let floods = r.candidates().find(|c| c.name == "floods").unwrap();
    assert_eq!(floods.status, Status::Passed, "output is not a failure");
    assert!(floods.check.stdout.truncated);
    assert_eq!(
        floods.check.stdout.total_bytes,
        (3 * 100) << 20,
        "every byte counted, few kept"
    );
    assert!(floods.check.stdout.text.len() < 100_000);
}

#[test]
fn filters_and_exact_select_what_the_engine_runs() {
    let dir = tempfile::tempdir().unwrap();
    let (code, stdout, _, r) = run(&["--exact", "[check] square::square"], dir.path());
    assert_eq!(code, 0, "{stdout}");
    assert_eq!(status_of(&r, "square"), Status::Passed);
    assert!(
        r.candidates().all(|c| c.name == "square"),
        "candidates filtered out are not part of the run's results"
    );
    let (code, _, _, r) = run(&["wrong"], dir.path());
    assert_eq!(code, 101);
    assert_eq!(r.candidates().count(), 1);
    assert_eq!(status_of(&r, "wrong"), Status::WrongAnswer);
}

#[test]
fn list_prints_libtest_names_without_running_anything() {
    let out = Command::new(example()).arg("--list").output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.contains("[check] square::square: test"), "{stdout}");
    assert!(
        !stdout.contains("bench"),
        "nextest needs `test` kinds in test mode: {stdout}"
    );
}

#[test]
fn bench_mode_measures_only_candidates_that_passed() {
    let dir = tempfile::tempdir().unwrap();
    let (_, _, stderr, r) = run(&["--bench", "square::s"], dir.path());
    let meter = r.meter.as_ref().expect("a bench run records its meter");
    assert!(
        meter.estimated,
        "no RAPL here: the estimate, labelled as such"
    );
    assert!(stderr.contains("ESTIMATED") || meter.warnings.iter().any(|w| w.contains("ESTIMATED")));
    let good = r.candidates().find(|c| c.name == "square").unwrap();
    assert_eq!(good.measurements.len(), 3);
    for m in &good.measurements {
        assert!(m.failure.is_none(), "{:?}", m.failure);
        assert!(m.samples.len() >= 2);
        for s in &m.samples {
            assert!(s.window_end_s > s.window_start_s);
            assert!(
                s.energy[0].gross.get() > 0.0,
                "the estimate charges CPU time"
            );
        }
    }
    let crashed = r.candidates().find(|c| c.name == "segfault").unwrap();
    assert!(
        crashed.measurements.is_empty(),
        "a wrong or crashing candidate is never measured"
    );
}

#[test]
fn ctrl_c_keeps_the_results_gathered_so_far() {
    let dir = tempfile::tempdir().unwrap();
    let mut child = Command::new(example())
        .args(["--bench", "square::square"])
        .env("CARGO_TARGET_DIR", dir.path())
        .env("JOULETRACE_LOCK_PATH", dir.path().join("run.lock"))
        // Long samples, so that the interrupt lands while measuring.
        .env("JOULETRACE_MIN_SAMPLE_TIME", "500ms")
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    // Interrupt once it measures: it holds the run lock exclusively only after its checks
    // (engine/lock.rs). A fixed delay raced the checks on a loaded machine.
    let lock = dir.path().join("run.lock");
    let start = std::time::Instant::now();
    while !measuring(&lock) {
        assert!(
            child.try_wait().unwrap().is_none(),
            "the run ended before it measured"
        );
        assert!(
            start.elapsed() < std::time::Duration::from_secs(120),
            "not measuring within 2 minutes"
        );
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(child.id() as i32),
        nix::sys::signal::Signal::SIGINT,
    )
    .unwrap();
    let status = child.wait().unwrap();
    assert!(!status.success(), "an interrupted run does not pass");
    let r = RunResults::load(&dir.path().join("joule/manual_registration/results.json")).unwrap();
    assert!(!r.run.complete, "marked incomplete");
    assert_eq!(r.run.incomplete_reason.as_deref(), Some("interrupted"));
    let square = r.candidates().find(|c| c.name == "square").unwrap();
    assert_eq!(
        square.status,
        Status::Passed,
        "the check finished before the interrupt"
    );
}

/// Whether a run holds the run lock at `path` exclusively (byte 1, an OFD lock: engine/lock.rs),
/// as it does from its idle baseline on, once every check is done. Asked without locking.
fn measuring(path: &std::path::Path) -> bool {
    use std::os::fd::AsRawFd;
    let Ok(file) = std::fs::File::open(path) else {
        return false;
    };
    // SAFETY: all-zero is a valid `flock`; the fields that matter are set below.
    let mut probe: libc::flock = unsafe { std::mem::zeroed() };
    probe.l_type = libc::F_RDLCK as libc::c_short;
    probe.l_whence = libc::SEEK_SET as libc::c_short;
    probe.l_start = 1;
    probe.l_len = 1;
    // SAFETY: a valid descriptor and a valid, writable `flock`; F_OFD_GETLK only reports.
    let rc = unsafe { libc::fcntl(file.as_raw_fd(), libc::F_OFD_GETLK, &mut probe) };
    rc == 0 && probe.l_type == libc::F_WRLCK as libc::c_short
}

#[test]
fn isolate_network_cuts_the_worker_off() {
    let dir = tempfile::tempdir().unwrap();
    let out = Command::new(example())
        .arg("net::")
        .env("CARGO_TARGET_DIR", dir.path())
        // The default (a trusted bench keeps the network), even when the suite runs under
        // JOULETRACE_SANDBOX=on.
        .env_remove("JOULETRACE_SANDBOX")
        .output()
        .unwrap();
    let code = out.status.code().unwrap_or(-1);
    let r = RunResults::load(&dir.path().join("joule/manual_registration/results.json")).unwrap();
    assert_eq!(code, 0, "with the network, the candidate answers right");
    assert_eq!(status_of(&r, "uses_loopback"), Status::Passed);

    let out = Command::new(example())
        .arg("net::")
        .env("CARGO_TARGET_DIR", dir.path())
        .env("JOULETRACE_ISOLATE_NETWORK", "true")
        .output()
        .unwrap();
    let r = RunResults::load(&dir.path().join("joule/manual_registration/results.json")).unwrap();
    assert!(r.settings.isolate_network);
    assert_eq!(
        status_of(&r, "uses_loopback"),
        Status::WrongAnswer,
        "in its own network namespace the worker has no usable loopback\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn a_bench_that_registers_nothing_says_so_and_fails() {
    let out = Command::new(env!("CARGO_BIN_EXE_empty_bench"))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("registered no #[joule_bench] candidates"),
        "{stderr}"
    );
    assert!(
        stderr.contains("jouletrace::main!(my_crate)"),
        "names the fix: {stderr}"
    );
    // Listing is not running: nextest may list every binary of a workspace.
    let list = Command::new(env!("CARGO_BIN_EXE_empty_bench"))
        .arg("--list")
        .output()
        .unwrap();
    assert_eq!(list.status.code(), Some(0));
}

#[test]
fn binaries_that_are_not_harnesses_are_skipped_with_a_note() {
    use jouletrace::config::{HostConfig, RunConfig};
    use jouletrace::engine::{self, CancelToken, Event, Observer, RunContext, Target};
    struct Notes(Vec<String>);
    impl Observer for Notes {
        fn event(&mut self, event: &Event) {
            if let Event::Note { message } = event {
                self.0.push(message.clone());
            }
        }
    }
    let targets = [
        Target::bench(example(), "tests/manual_registration"),
        // A criterion or libtest bench in the same package answers the worker argument by
        // exiting; `false` does just that.
        Target::bench("/bin/false", "tests/not_a_harness"),
    ];
    let config = RunConfig {
        measure: false,
        filters: vec!["square::square".into()],
        exact: true,
        ..RunConfig::default()
    };
    let mut notes = Notes(Vec::new());
    let lock = tempfile::tempdir().unwrap();
    let context = RunContext::new(&HostConfig {
        lock_path: lock.path().join("lock"),
        ..HostConfig::default()
    });
    let r = engine::run(&targets, &config, &context, &mut notes, &CancelToken::new()).unwrap();
    assert_eq!(r.run.skipped_binaries, ["tests/not_a_harness"]);
    assert_eq!(r.run.binaries, ["tests/manual_registration"]);
    assert!(
        notes.0.iter().any(|n| n.contains("not a JouleTrace bench")),
        "{:?}",
        notes.0
    );
    assert_eq!(status_of(&r, "square"), Status::Passed);

    // Alone, it is an error: there is nothing else to run.
    let alone = engine::run(
        &targets[1..],
        &config,
        &context,
        &mut notes,
        &CancelToken::new(),
    );
    assert!(alone.is_err());
}

#[test]
fn a_forced_meter_that_is_unavailable_stops_the_run_with_status_2() {
    // This machine's topology with no power PMU, and a powercap zone whose counter never moves
    // (what a VM that does not emulate RAPL shows): both unavailable, on any machine.
    let sys = tempfile::tempdir().unwrap();
    jouletrace::energy::simulate::FakeMachine::mirror_host(sys.path()).unwrap();
    let dir = tempfile::tempdir().unwrap();
    for meter in ["perf", "powercap"] {
        let out = Command::new(example())
            .args(["--bench", "square::square"])
            .env("CARGO_TARGET_DIR", dir.path())
            .env("JOULETRACE_LOCK_PATH", dir.path().join("run.lock"))
            .env("JOULETRACE_SYSFS_ROOT", sys.path())
            .env("JOULETRACE_METER", meter)
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{meter}: {stderr}");
        assert!(
            stderr.contains(&format!("cannot measure energy: {meter} meter unavailable")),
            "{stderr}"
        );
        assert!(
            stderr.contains("remedy:"),
            "the reason comes with a remedy: {stderr}"
        );
    }
}

#[test]
fn under_bench_a_failed_check_fails_its_energy_line_with_the_reason() {
    let dir = tempfile::tempdir().unwrap();
    let (code, stdout, _, r) = run(&["--bench", "square::segfault"], dir.path());
    assert_eq!(code, 101);
    assert!(stdout.contains("[energy] square::segfault"), "{stdout}");
    assert!(
        !stdout.contains("[check]"),
        "libtest would only list checks as ignored: {stdout}"
    );
    assert!(
        stdout.contains("not measured: the correctness check failed") && stdout.contains("SIGSEGV"),
        "{stdout}"
    );
    assert_eq!(status_of(&r, "segfault"), Status::Crashed);
}

#[test]
fn shards_of_a_real_run_merge_into_the_unsharded_run() {
    // The shards the engine writes (each records only its own candidates), merged by the library
    // `cargo joule merge` calls, give exactly the candidates and verdicts of one unsharded run.
    use jouletrace::config::{HostConfig, Partition, RunConfig};
    use jouletrace::engine::{self, CancelToken, NullObserver, RunContext, Target};
    let lock = tempfile::tempdir().unwrap();
    let context = RunContext::new(&HostConfig {
        lock_path: lock.path().join("lock"),
        ..HostConfig::default()
    });
    let target = Target::bench(example(), "tests/manual_registration");
    let run = |partition: Option<&str>| {
        let config = RunConfig {
            measure: false,
            filters: vec!["square::".into()],
            skip: ["spin", "huge_alloc", "floods", "stack_overflow"]
                .map(String::from)
                .to_vec(),
            partition: partition.map(|p| p.parse::<Partition>().unwrap()),
            ..RunConfig::default()
        };
        let r = engine::run(
            std::slice::from_ref(&target),
            &config,
            &context,
            &mut NullObserver,
            &CancelToken::new(),
        )
        .unwrap();
        (partition.unwrap_or("all").to_owned(), r)
    };
    let whole = run(None).1;
    let shards = vec![run(Some("slice:1/2")), run(Some("slice:2/2"))];
    let verdicts = |r: &RunResults| -> Vec<(String, Status)> {
        let mut v: Vec<_> = r.candidates().map(|c| (c.id.clone(), c.status)).collect();
        v.sort_by(|a, b| a.0.cmp(&b.0));
        v
    };
    for (_, shard) in &shards {
        assert!(
            verdicts(shard).len() < verdicts(&whole).len(),
            "a shard records only its own candidates"
        );
    }
    let merged = engine::merge::merge(shards, false).unwrap();
    assert_eq!(verdicts(&merged), verdicts(&whole));
    assert!(verdicts(&whole).len() >= 4, "{:?}", verdicts(&whole));
}
