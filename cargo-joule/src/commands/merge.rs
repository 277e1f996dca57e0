//! `cargo joule merge SHARD… -o OUT`: the shards of a partitioned run as one results file
//! ([`jouletrace::engine::merge`] does the merging), and the exit status of the whole run.

use jouletrace::engine::merge::merge as merge_shards;
use jouletrace::results::RunResults;

use crate::cli::{MergeArgs, OutputArgs};
use crate::exit::{CliResult, Failure, Status};
use crate::output::{Printer, print_comparison, print_summary};

pub fn merge(args: &MergeArgs, out: &OutputArgs) -> CliResult {
    let printer = Printer::new(out);
    let shards = args
        .files
        .iter()
        .map(|f| Ok((f.display().to_string(), RunResults::load(f)?)))
        .collect::<Result<Vec<_>, Failure>>()?;
    let merged = merge_shards(shards, args.force)?;
    super::write_atomic(&args.output, &merged.to_json()).map_err(Failure::usage)?;
    if let Some(c) = &merged.baseline {
        print_comparison(
            &printer,
            c,
            merged.settings.confidence_level,
            merged.is_estimated(),
        );
    }
    print_summary(&printer, &merged, Some(&args.output));
    Ok(Status::of(&merged))
}
