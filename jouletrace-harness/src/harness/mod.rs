//! The bench binary's harness: what `jouletrace::main!()` runs.
//!
//! Started with [`WORKER_ARG`] it is a worker (`worker.rs`). Otherwise it speaks libtest's command
//! line (through libtest-mimic) so that `cargo test`, `cargo bench` and `cargo nextest run` drive
//! it like any test binary: each candidate's correctness check is a test named
//! `[check] problem::candidate`; under `cargo bench` (which passes `--bench`, where libtest only
//! runs benchmarks) each candidate is instead a benchmark named `[energy] problem::candidate`,
//! checked and then measured, which fails with the check's reason when the check failed.
//!
//! The work itself never runs on libtest-mimic's thread pool: the engine checks (and measures)
//! the selected candidates first, in pinned worker processes, and the trials handed to
//! libtest-mimic only report what the engine found. That keeps filters, `--list`, `--exact`,
//! `--format json` and exit codes exactly libtest's, while scheduling stays ours.

mod meter;
mod worker;

use std::collections::HashMap;
use std::path::PathBuf;

use libtest_mimic::{Arguments, Failed, Measurement, Trial};

use crate::config::RunConfig;
use crate::engine::{self, CancelToken, NullObserver, RunContext, Target};
use crate::protocol::WORKER_ARG;
use crate::registry::Registry;
use crate::results::{CandidateResult, RunResults, Status};

const NOTHING_REGISTERED: &str = "\
jouletrace: this bench binary registered no #[joule_bench] candidates.
  - Does the bench file (or a module it declares) contain #[joule_bench] functions?
  - If the candidates live in a library crate, the bench must link it: write
    `jouletrace::main!(my_crate);` (or `use my_crate as _;`). A library the bench never names
    is not linked, and its registrations are silently dropped by the linker.";

/// Entry point of every bench binary; returns the process exit status.
pub fn harness_main() -> i32 {
    if std::env::args().nth(1).as_deref() == Some(WORKER_ARG) {
        return worker::worker_main();
    }
    let args = Arguments::from_args();
    let registry = match Registry::collect() {
        Ok(r) => r,
        Err(e) => {
            eprintln!("jouletrace: {e}");
            return 2;
        }
    };
    if registry.is_empty() {
        eprintln!("{NOTHING_REGISTERED}");
        return if args.list { 0 } else { 1 };
    }
    let measure = args.bench;
    let skeleton = trials(&registry, measure, &HashMap::new());
    if args.list {
        return exit_status(&libtest_mimic::run(&args, skeleton));
    }

    // A `JOULETRACE_*` typo would otherwise change nothing without a word.
    for w in crate::config::unknown_env_vars(std::env::vars()) {
        eprintln!("jouletrace: warning: {w}");
    }
    // The engine runs exactly the candidates whose check libtest would run.
    let (mut config, host) = match crate::config::for_bench_binary() {
        Ok((c, host)) => (
            RunConfig {
                measure,
                exact: true,
                include_ignored: args.include_ignored || args.ignored,
                ..c
            },
            host,
        ),
        Err(e) => {
            eprintln!("jouletrace: {e}");
            return 2;
        }
    };
    config.filters = skeleton
        .iter()
        .filter(|t| !args.is_filtered_out(t))
        .filter(|t| {
            let ignored = t.has_ignored_flag();
            if args.ignored {
                ignored
            } else {
                !ignored || args.include_ignored
            }
        })
        .map(|t| t.name().to_owned())
        .collect();
    let cancel = CancelToken::new();
    let _ = signal_hook::flag::register(signal_hook::consts::SIGINT, cancel.flag());
    let results = if config.filters.is_empty() {
        None
    } else {
        let target = Target::bench(
            std::env::current_exe()
                .unwrap_or_else(|_| PathBuf::from(std::env::args().next().unwrap_or_default())),
            bench_name(),
        );
        let quiet = args.quiet
            || args
                .format
                .is_some_and(|f| f != libtest_mimic::FormatSetting::Pretty);
        let mut progress = crate::report::ProgressObserver::new(quiet);
        let observer: &mut dyn crate::engine::Observer = if measure {
            &mut progress
        } else {
            &mut NullObserver
        };
        let context = RunContext::for_bench_binary(&host);
        match engine::run(&[target], &config, &context, observer, &cancel) {
            Ok(r) => Some(r),
            Err(e) => {
                eprintln!("jouletrace: {}", error_chain(&e));
                return 2;
            }
        }
    };
    let by_id: HashMap<String, CandidateResult> = results
        .iter()
        .flat_map(|r| r.candidates().cloned())
        .map(|c| (c.id.clone(), c))
        .collect();
    if let Some(r) = &results {
        match write_results(r) {
            Ok(w) => eprintln!(
                "jouletrace: results in {} (report: {})",
                w.json.display(),
                w.html.display()
            ),
            Err(e) => eprintln!("jouletrace: could not write the results: {e}"),
        }
    }
    let conclusion = libtest_mimic::run(&args, trials(&registry, measure, &by_id));
    if measure && let Some(r) = &results {
        // The energy table: libtest's own lines can only carry nanoseconds.
        use crate::report::Format as _;
        let table =
            crate::report::Terminal::new(crate::report::ColorChoice::Auto.for_stdout()).render(r);
        match (table, args.format) {
            (Ok(t), None | Some(libtest_mimic::FormatSetting::Pretty)) => println!("\n{t}"),
            (Ok(t), _) => eprintln!("\n{t}"),
            (Err(e), _) => eprintln!("jouletrace: {e}"),
        }
    }
    exit_status(&conclusion)
}

/// `error: cause: its cause…`, as anyhow's `{:#}` prints it.
fn error_chain(e: &dyn std::error::Error) -> String {
    let mut text = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        text.push_str(": ");
        text.push_str(&s.to_string());
        source = s.source();
    }
    text
}

/// libtest's convention: 101 when anything failed.
fn exit_status(c: &libtest_mimic::Conclusion) -> i32 {
    if c.has_failed() { 101 } else { 0 }
}

/// The bench's name: the executable's file name without cargo's hash suffix.
fn bench_name() -> String {
    let exe = std::env::current_exe().unwrap_or_default();
    let stem = exe
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_else(|| "bench".into());
    match stem.rsplit_once('-') {
        Some((name, hash)) if hash.len() == 16 && hash.bytes().all(|b| b.is_ascii_hexdigit()) => {
            name.to_owned()
        }
        _ => stem,
    }
}

/// `target/` of the build that produced this binary: `CARGO_TARGET_DIR`, else the nearest
/// ancestor of the executable holding cargo's `CACHEDIR.TAG`.
pub fn target_dir() -> Option<PathBuf> {
    if let Some(dir) = std::env::var_os("CARGO_TARGET_DIR") {
        return Some(PathBuf::from(dir));
    }
    let exe = std::env::current_exe().ok()?;
    exe.ancestors()
        .find(|d| d.join("CACHEDIR.TAG").is_file())
        .map(PathBuf::from)
}

/// Writes `target/joule/<bench>/results.json` and `report.html`.
fn write_results(
    results: &RunResults,
) -> Result<crate::report::Written, crate::report::ReportError> {
    let dir = target_dir()
        .unwrap_or_else(|| PathBuf::from("target"))
        .join("joule")
        .join(bench_name());
    crate::report::write_all(results, &dir)
}

fn outcome_of(c: Option<&CandidateResult>) -> Result<(), Failed> {
    match c {
        None => Err("not run (the run was interrupted)".into()),
        Some(c) => check_failure(c).map_or(Ok(()), |m| Err(m.into())),
    }
}

/// Why a candidate's check failed, with expected and actual values and the worker's stderr;
/// `None` when it passed.
fn check_failure(c: &CandidateResult) -> Option<String> {
    match (&c.check.failure, c.status) {
        (_, Status::Passed) => None,
        (Some(f), _) => {
            let mut msg = format!("{}: {}", c.status.as_str(), f.message);
            if let (Some(e), Some(a)) = (&f.expected, &f.actual) {
                msg.push_str(&format!("\n  expected: {e}\n  actual:   {a}"));
            }
            if !c.check.stderr.text.trim().is_empty() {
                msg.push_str(&format!(
                    "\n--- worker stderr ---\n{}",
                    c.check.stderr.text.trim_end()
                ));
            }
            Some(msg)
        }
        (None, s) => Some(s.as_str().to_owned()),
    }
}

fn trials(
    registry: &Registry,
    measure: bool,
    results: &HashMap<String, CandidateResult>,
) -> Vec<Trial> {
    let mut out = Vec::new();
    for c in &registry.candidates {
        let id = c.id();
        // Under `--bench` libtest would only list tests as ignored; there the `[energy]` line
        // carries the check's outcome instead (a candidate that failed it is not measured).
        if !measure {
            let outcome = outcome_of(results.get(&id));
            out.push(
                Trial::test(id.clone(), move || outcome)
                    .with_kind("check")
                    .with_ignored_flag(c.options.ignore),
            );
        } else {
            let found = results.get(&id).cloned();
            out.push(
                Trial::bench(id.clone(), move |_test_mode| energy_outcome(found.as_ref()))
                    .with_kind("energy")
                    .with_ignored_flag(c.options.ignore),
            );
        }
    }
    out
}

fn energy_outcome(c: Option<&CandidateResult>) -> Result<Option<Measurement>, Failed> {
    let Some(c) = c else {
        return Err("not run".into());
    };
    if let Some(why) = check_failure(c) {
        return Err(format!("not measured: the correctness check failed\n{why}").into());
    }
    if let Some(f) = c.measurements.iter().find_map(|m| m.failure.as_ref()) {
        return Err(format!("measurement failed: {}", f.message).into());
    }
    energy_line(c)
        .ok_or_else(|| {
            "nothing was measured (every case is check_only, or the run was interrupted)".into()
        })
        .map(Some)
}

/// What the `[energy] … ns/iter (+/- …)` line of `cargo bench` carries. libtest has room for one
/// duration per candidate, and a candidate has one per measured case; the one figure true of
/// all of them is their sum: the time of one call on each measured case (the `+/-` sums the
/// half-widths of their intervals). The energy itself is in the table printed after libtest's
/// lines and in the results file.
fn energy_line(c: &CandidateResult) -> Option<Measurement> {
    let stats: Vec<_> = c
        .measurements
        .iter()
        .filter_map(|m| m.stats.as_ref())
        .collect();
    if stats.is_empty() {
        return None;
    }
    let ns = |s: f64| (s * 1e9).round() as u64;
    Some(Measurement {
        avg: stats.iter().map(|s| ns(s.time_per_call_s.point)).sum(),
        variance: stats
            .iter()
            .map(|s| ns((s.time_per_call_s.upper - s.time_per_call_s.lower) / 2.0))
            .sum(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Issue 12: the line carried the last case's time per call, as if it were the candidate's.
    #[test]
    fn the_bench_line_carries_one_call_of_every_measured_case() {
        let results = RunResults::from_json(
            include_str!("../../tests/fixtures/results/measured.json"),
            "measured.json",
        )
        .unwrap();
        let std_sort = results
            .candidates()
            .find(|c| c.id == "sort::std_sort")
            .unwrap();
        let times: Vec<f64> = std_sort
            .measurements
            .iter()
            .map(|m| m.stats.as_ref().unwrap().time_per_call_s.point)
            .collect();
        assert_eq!(times.len(), 3);
        let line = energy_line(std_sort).unwrap();
        let sum_ns = times.iter().sum::<f64>() * 1e9;
        assert!(
            (line.avg as f64 - sum_ns).abs() <= 3.0,
            "{} vs {sum_ns}",
            line.avg
        );
        assert!(line.variance > 0);
        // Nothing measured, no line (the trial then fails with the reason).
        let broken = results
            .candidates()
            .find(|c| c.id == "sort::broken_sort")
            .unwrap();
        assert!(energy_line(broken).is_none());
    }
}
