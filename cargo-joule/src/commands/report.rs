//! `cargo joule report [FILE]`: re-render every view from a saved results file.

use std::path::PathBuf;

use jouletrace::results::RunResults;

use crate::cli::{OutputArgs, ReportArgs};
use crate::exit::{CliResult, Failure, Status};
use crate::output::Printer;
use crate::views;

pub fn report(args: &ReportArgs, out: &OutputArgs) -> CliResult {
    let printer = Printer::new(out);
    let file = match &args.file {
        Some(f) => f.clone(),
        None => {
            let target_dir = match &args.target_dir {
                Some(d) => d.clone(),
                None => {
                    let metadata = jouletrace::cargo::metadata(args.manifest_path.as_deref())
                        .map_err(Failure::usage)?;
                    jouletrace::cargo::target_dir(None, &metadata)
                }
            };
            target_dir.join("joule").join("results.json")
        }
    };
    let results = RunResults::load(&file)?;
    let dir = args
        .out_dir
        .clone()
        .unwrap_or_else(|| file.parent().map_or_else(PathBuf::new, PathBuf::from));
    let html = views::write_all(&results, &dir)?;
    printer.say(1, &format!("      Report {}", html.display()));
    Ok(Status::Ok)
}
