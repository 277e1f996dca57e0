//! `cargo joule [run]`: discover, build, check and measure, compare, write, gate.

use std::path::{Path, PathBuf};

use jouletrace::baseline::{self, CompareOptions};
use jouletrace::engine::{self, CancelToken, Event};
use jouletrace::results::RunResults;

use crate::cli::{BaselineArgs, OutputArgs, RunArgs};
use crate::exit::{CliResult, Failure, Status};
use crate::output::{Printer, print_comparison, print_summary};
use crate::views::{self, Export};
use crate::{settings, signal};
use jouletrace::cargo;

pub fn run(args: &RunArgs, out: &OutputArgs) -> CliResult {
    let mut printer = Printer::new(out);
    let selection = args.cargo.selection();
    let ws = cargo::discover(&selection)?;
    // Before the settings are read, so that a typo is named even when another setting fails.
    for w in jouletrace::config::unknown_env_vars(std::env::vars()) {
        printer.warn(&w);
    }
    let (mut config, host) = settings::resolve(&ws, &args.measure, &args.select)?;
    // Beside results.json and the baselines: the runs of this workspace on this machine, from
    // which the engine reads the machine's run-to-run variation (`--no-history` turns it off).
    config.history_dir = Some(ws.target_dir.join("joule").join("history"));
    let exports = args
        .export
        .iter()
        .map(|e| e.parse::<Export>())
        .collect::<Result<Vec<_>, _>>()?;
    // Before building and measuring: a missing baseline should cost nothing.
    let base = load_baseline(&ws.target_dir, &args.baseline)?;

    // A forced meter that cannot be read ends the run before minutes of building, not after.
    if config.measure
        && let jouletrace::config::MeterChoice::Forced(_) = config.meter
    {
        jouletrace::energy::select(
            config.meter,
            &host.sysfs_root,
            config.estimate_watts_per_core,
        )
        .map_err(engine::EngineError::MeterUnavailable)?;
    }

    let targets = cargo::build(&ws, &selection, out.build_output())?;
    let cancel = CancelToken::new();
    signal::cancel_on_interrupt(&cancel)?;
    let context = cargo::run_context(&ws, &host);
    let mut results = if printer.json() {
        engine::run(&targets, &config, &context, &mut printer, &cancel).map_err(Failure::engine)?
    } else {
        let mut progress = views::progress(out.quiet > 0);
        engine::run(&targets, &config, &context, &mut progress, &cancel).map_err(Failure::engine)?
    };
    if results.run.partition.is_none() {
        results.run.partition = config.partition.map(|p| p.to_string());
    }

    finish(
        &printer,
        results,
        &ws.target_dir,
        &args.baseline,
        base,
        &exports,
        &cancel,
    )
}

/// A baseline to compare with, loaded before anything is built or measured (a missing one
/// should cost nothing), and the name to save under checked likewise.
pub(crate) fn load_baseline(
    target_dir: &Path,
    args: &BaselineArgs,
) -> Result<Option<LoadedBaseline>, Failure> {
    let base = match &args.baseline {
        Some(name) => Some((name.clone(), baseline::load(target_dir, name)?)),
        None => None,
    };
    if let Some(name) = &args.save_baseline {
        baseline::baseline_path(target_dir, name)?;
    }
    Ok(base)
}

/// A baseline's name, its results and the file they came from.
pub(crate) type LoadedBaseline = (String, (RunResults, PathBuf));

/// Everything after the engine, shared by `cargo joule` and `cargo joule measure`: the baseline
/// comparison, the results file and views, the baseline saved, the summary, the exit status.
pub(crate) fn finish(
    printer: &Printer,
    mut results: RunResults,
    target_dir: &Path,
    baseline_args: &BaselineArgs,
    base: Option<LoadedBaseline>,
    exports: &[Export],
    cancel: &CancelToken,
) -> CliResult {
    let mut status = Status::Ok;
    if let Some((name, (old, path))) = &base {
        let mut options = CompareOptions::from_settings(&results.settings);
        options.force = baseline_args.force_compare;
        match baseline::compare(old, &results, name, &path.display().to_string(), &options) {
            Ok(c) => {
                print_comparison(
                    printer,
                    &c,
                    options.confidence_level,
                    results.is_estimated(),
                );
                results.baseline = Some(c);
            }
            Err(e) => {
                printer.warn(&e.to_string());
                status = status.worst(Status::Usage);
            }
        }
    }

    let results_path = target_dir.join("joule").join("results.json");
    super::write_atomic(&results_path, &results.to_json()).map_err(Failure::usage)?;
    status = status.worst(write_views(printer, &results, &results_path, exports));

    if let Some(name) = &baseline_args.save_baseline {
        if !results.run.complete {
            printer.warn(&format!(
                "baseline `{name}` not saved: the run is incomplete"
            ));
        } else if results.meter.is_none() {
            printer.warn(&format!(
                "baseline `{name}` not saved: nothing was measured"
            ));
        } else {
            let path = baseline::save(target_dir, name, &results)?;
            printer.say(
                1,
                &format!("       Saved baseline `{name}` to {}", path.display()),
            );
        }
    }

    if cancel.is_cancelled() {
        status = status.worst(Status::Interrupted);
    }
    status = status.worst(Status::of(&results));
    print_summary(printer, &results, Some(&results_path));
    if printer.json() {
        printer.emit(&Event::Finished {
            results: Some(results_path),
            exit_code: status.code().into(),
        });
    }
    Ok(status)
}

/// The report files, the requested exports and the GitHub step summary. A missing export the user
/// asked for is an error (status 2); the others are warnings.
fn write_views(
    printer: &Printer,
    results: &RunResults,
    results_path: &std::path::Path,
    exports: &[Export],
) -> Status {
    let mut status = Status::Ok;
    let dir = results_path
        .parent()
        .map_or_else(PathBuf::new, PathBuf::from);
    match views::write_all(results, &dir) {
        Ok(html) => printer.say(1, &format!("      Report {}", html.display())),
        Err(e) => printer.warn(&format!("the report could not be written: {e}")),
    }
    for export in exports {
        match views::export(results, export) {
            Ok(()) => printer.say(
                1,
                &format!("    Exported {} to {}", export.kind, export.path.display()),
            ),
            Err(e) => {
                printer.warn(&e.to_string());
                status = Status::Usage;
            }
        }
    }
    if let Err(e) = views::step_summary(results) {
        printer.warn(&format!(
            "the GitHub step summary could not be written: {e}"
        ));
    }
    status
}
