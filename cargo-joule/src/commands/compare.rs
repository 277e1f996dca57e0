//! `cargo joule compare OLD.json NEW.json`.

use jouletrace::baseline::{self, CompareOptions};
use jouletrace::config::{Layer, layered};
use jouletrace::results::RunResults;

use crate::cli::{CompareArgs, OutputArgs};
use crate::exit::{CliResult, Status};
use crate::output::{Printer, print_comparison};

pub fn compare(args: &CompareArgs, out: &OutputArgs) -> CliResult {
    let printer = Printer::new(out);
    let old = RunResults::load(&args.old)?;
    let new = RunResults::load(&args.new)?;
    let mut options = CompareOptions::from_settings(&new.settings);
    options.force = args.force_compare;
    if let Some(t) = &args.threshold {
        let mut flags = Layer::new();
        flags.set_flag("threshold", t, "--threshold")?;
        options.threshold = layered(&[&flags])?.threshold;
    }
    let name = args
        .old
        .file_stem()
        .map_or_else(|| "baseline".into(), |s| s.to_string_lossy().into_owned());
    let comparison =
        baseline::compare(&old, &new, &name, &args.old.display().to_string(), &options)?;
    print_comparison(
        &printer,
        &comparison,
        options.confidence_level,
        new.is_estimated(),
    );
    let mut judged = new;
    judged.baseline = Some(comparison);
    Ok(match Status::of(&judged) {
        // `compare` judges energy only; the failures were the runs' own business.
        Status::CandidateFailed => Status::Ok,
        s => s,
    })
}
