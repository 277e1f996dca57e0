//! The command line as clap parses it: strings and flags only. [`crate::settings`] turns it into
//! the typed `RunConfig`; nothing else reads these structs' strings.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};
use jouletrace::config::Partition;

pub const EXIT_CODES: &str = "\
Exit status:
  0    every candidate passed its checks and nothing regressed
  1    a candidate failed its correctness check, crashed, timed out or hit its memory limit
  2    usage or environment error: bad flag or config key, build failure, no benches, a forced
       meter that is unavailable, a baseline that is missing or not comparable
  3    an energy regression against the baseline (the candidate, the change and its interval
       are printed)
  130  interrupted (Ctrl-C); the results gathered so far are still written
When several apply, the first of 130, 2, 1, 3 wins: a broken setup or a broken candidate is
reported as such even when a regression was also found (the regression is still printed).";

const ABOUT: &str = "Discover, build and run the JouleTrace energy benches of a workspace";

const LONG_ABOUT: &str = "\
Discover, build and run the JouleTrace energy benches of a workspace.

Finds the bench targets of the selected packages that depend on `jouletrace`, builds them with
`cargo bench --no-run`, checks every candidate against its cases, then measures the energy of
those that passed, all under one engine (one worker pool, one measurement lock, one report).
Results go to <target-dir>/joule/results.json, baselines to <target-dir>/joule/baselines/.

Settings come from, lowest precedence first: built-in defaults, [workspace.metadata.joule],
[package.metadata.joule], JOULETRACE_<KEY> environment variables, then these flags.";

/// `cargo-joule` as cargo runs it: `cargo-joule joule ARGS…`.
#[derive(Parser, Debug)]
#[command(name = "cargo", bin_name = "cargo")]
pub enum Cargo {
    #[command(
        name = "joule",
        version,
        about = ABOUT,
        long_about = LONG_ABOUT,
        after_help = EXIT_CODES,
        args_conflicts_with_subcommands = true
    )]
    Joule(Joule),
}

#[derive(Args, Debug)]
pub struct Joule {
    #[command(subcommand)]
    pub command: Option<Command>,
    #[command(flatten)]
    pub run: RunArgs,
    #[command(flatten)]
    pub output: OutputArgs,
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Check and measure (the default when no subcommand is given)
    #[command(after_help = EXIT_CODES)]
    Run(RunArgs),
    /// List the candidates that a run would check and measure
    List(ListArgs),
    /// Say whether energy can be measured here, and what to change if not
    #[command(
        after_help = "Exit status: 0 a measured (not estimated) meter is usable here; \
                            1 only the estimate is; 2 the diagnosis itself failed."
    )]
    Doctor(DoctorArgs),
    /// Compare two results files: per candidate, the change of energy per call
    #[command(
        after_help = "Exit status: 0 no regression; 2 the files cannot be read or \
                            compared; 3 a candidate regressed."
    )]
    Compare(CompareArgs),
    /// Re-render the report views (HTML, Markdown…) from a saved results file
    Report(ReportArgs),
    /// Combine the results of shards (--partition) into one results file and one verdict
    #[command(after_help = EXIT_CODES)]
    Merge(MergeArgs),
    /// Check and measure Python or Rust candidates given as JouleTrace service requests (a JSON
    /// body, or JSON Lines of them); candidates sharing `problem_name` are ranked together
    #[command(after_help = EXIT_CODES)]
    Measure(crate::commands::measure::MeasureFileArgs),
}

#[derive(Args, Debug, Clone, Default)]
pub struct RunArgs {
    #[command(flatten)]
    pub cargo: CargoArgs,
    #[command(flatten)]
    pub select: SelectArgs,
    #[command(flatten)]
    pub measure: MeasureArgs,
    #[command(flatten)]
    pub baseline: BaselineArgs,
    /// Also write an export: `bmf=PATH` (Bencher Metric Format), `junit=PATH` (JUnit XML of the
    /// checks), `markdown=PATH`, `html=PATH` or `json=PATH`; repeatable
    #[arg(long = "export", value_name = "FORMAT=PATH", help_heading = "Output")]
    pub export: Vec<String>,
}

impl CargoArgs {
    /// The selection as the library takes it.
    pub fn selection(&self) -> jouletrace::cargo::Selection {
        jouletrace::cargo::Selection {
            manifest_path: self.manifest_path.clone(),
            packages: self.package.clone(),
            workspace: self.workspace,
            benches: self.bench.clone(),
            features: self.features.clone(),
            all_features: self.all_features,
            no_default_features: self.no_default_features,
            profile: self.profile.clone(),
            target_dir: self.target_dir.clone(),
        }
    }
}

impl OutputArgs {
    /// How cargo's output is shown while it builds.
    pub fn build_output(&self) -> jouletrace::cargo::BuildOutput {
        jouletrace::cargo::BuildOutput {
            quiet: self.quiet > 0,
            color: crate::views::choice(self.color),
        }
    }
}

#[derive(Args, Debug, Clone, Default)]
#[command(next_help_heading = "Package selection")]
pub struct CargoArgs {
    /// Path to Cargo.toml
    #[arg(long, value_name = "PATH")]
    pub manifest_path: Option<PathBuf>,
    /// Package to bench (repeatable); default: the current package, or the workspace's default
    /// members
    #[arg(short = 'p', long = "package", value_name = "SPEC")]
    pub package: Vec<String>,
    /// Bench every workspace member that depends on jouletrace
    #[arg(long)]
    pub workspace: bool,
    /// Only this bench target (repeatable)
    #[arg(long = "bench", value_name = "NAME")]
    pub bench: Vec<String>,
    /// Features to activate (space or comma separated, repeatable)
    #[arg(short = 'F', long, value_name = "FEATURES")]
    pub features: Vec<String>,
    /// Activate all features
    #[arg(long)]
    pub all_features: bool,
    /// Do not activate the `default` feature
    #[arg(long)]
    pub no_default_features: bool,
    /// Cargo profile to build with
    #[arg(long, value_name = "NAME", default_value = "bench")]
    pub profile: String,
    /// Directory for build artifacts, results and baselines
    #[arg(
        long,
        value_name = "DIR",
        env = "CARGO_TARGET_DIR",
        hide_env_values = true
    )]
    pub target_dir: Option<PathBuf>,
}

#[derive(Args, Debug, Clone, Default)]
#[command(next_help_heading = "Candidate selection")]
pub struct SelectArgs {
    /// Run only candidates whose id (`problem::name`) contains a filter
    #[arg(value_name = "FILTER")]
    pub filters: Vec<String>,
    /// Filters match whole ids only
    #[arg(long)]
    pub exact: bool,
    /// Leave out candidates whose id contains PATTERN (repeatable)
    #[arg(long, value_name = "PATTERN")]
    pub skip: Vec<String>,
    /// Also run candidates marked `ignore`
    #[arg(long)]
    pub include_ignored: bool,
    /// Run only this shard of the candidates: hash:M/N (stable) or slice:M/N (even)
    #[arg(long, value_name = "KIND:M/N")]
    pub partition: Option<Partition>,
}

#[derive(Args, Debug, Clone, Default)]
#[command(next_help_heading = "Measurement")]
pub struct MeasureArgs {
    /// Energy meter; a forced meter that is unavailable ends the run with status 2
    #[arg(long, value_name = "METER", value_parser = ["auto", "perf", "powercap", "msr", "estimate", "nvml"])]
    pub meter: Option<String>,
    /// CPUs workers may use, e.g. 0,2-3 (default: one per physical core)
    #[arg(long, value_name = "LIST")]
    pub cores: Option<String>,
    /// Minimum measured samples per case
    #[arg(long, value_name = "N")]
    pub trials: Option<String>,
    /// Maximum measured samples per case
    #[arg(long, value_name = "N")]
    pub max_trials: Option<String>,
    /// Warm-up samples per case (not counted)
    #[arg(long, value_name = "N")]
    pub warmup: Option<String>,
    /// Minimum length of one sample, e.g. 100ms
    #[arg(long, value_name = "DURATION")]
    pub min_sample_time: Option<String>,
    /// Stop sampling a case once the interval of its median is this narrow, e.g. 2%
    #[arg(long, value_name = "PERCENT")]
    pub target_ci: Option<String>,
    /// Wall-time budget for the samples of one candidate on one case, e.g. 10s
    #[arg(long, value_name = "DURATION")]
    pub time_budget: Option<String>,
    /// Wall-clock limit of each worker step (a check, one sample), e.g. 30s
    #[arg(long, value_name = "DURATION")]
    pub timeout: Option<String>,
    /// Address-space limit of each worker, in MiB, or `none`
    #[arg(long, value_name = "MIB")]
    pub memory_limit_mb: Option<String>,
    /// Relative change of energy per call that counts as a regression, e.g. 5%
    #[arg(long, value_name = "PERCENT")]
    pub threshold: Option<String>,
    /// Fail at once if another run holds the machine's run lock
    #[arg(long)]
    pub no_wait: bool,
    /// Neither read nor append the run history (<target-dir>/joule/history/): intervals are
    /// widened by the meter's prior run-to-run variation only
    #[arg(long)]
    pub no_history: bool,
    /// The machine-wide run lock file (default /tmp/jouletrace-measure.lock); runs that share a
    /// machine, in containers too, must share this file
    #[arg(long, value_name = "PATH")]
    pub lock_path: Option<String>,
    /// Run workers without network access (a private network namespace)
    #[arg(long)]
    pub isolate_network: bool,
    /// Check correctness only; measure nothing
    #[arg(long)]
    pub no_measure: bool,
}

#[derive(Args, Debug, Clone, Default)]
#[command(next_help_heading = "Baselines")]
pub struct BaselineArgs {
    /// Save this run as baseline NAME (<target-dir>/joule/baselines/NAME.json)
    #[arg(long, value_name = "NAME")]
    pub save_baseline: Option<String>,
    /// Compare with baseline NAME; a regression ends the run with status 3
    #[arg(long, value_name = "NAME")]
    pub baseline: Option<String>,
    /// Compare even across meters, CPU models, or estimated against measured (marked as forced)
    #[arg(long)]
    pub force_compare: bool,
}

#[derive(Args, Debug, Clone)]
#[command(next_help_heading = "Output")]
pub struct OutputArgs {
    /// Print less (repeat for even less)
    #[arg(short, long, action = clap::ArgAction::Count, global = true)]
    pub quiet: u8,
    /// Print more (repeat for more)
    #[arg(short, long, action = clap::ArgAction::Count, global = true, conflicts_with = "quiet")]
    pub verbose: u8,
    /// Coloring
    #[arg(long, value_name = "WHEN", value_enum, default_value_t = Color::Auto, global = true)]
    pub color: Color,
    /// Progress and results as text for people, or as JSON lines on stdout for tools
    #[arg(long, value_name = "FMT", value_enum, default_value_t = MessageFormat::Human, global = true)]
    pub message_format: MessageFormat,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum Color {
    Auto,
    Always,
    Never,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum MessageFormat {
    Human,
    Json,
}

#[derive(Args, Debug, Clone)]
pub struct ListArgs {
    #[command(flatten)]
    pub cargo: CargoArgs,
    #[command(flatten)]
    pub select: SelectArgs,
}

#[derive(Args, Debug, Clone)]
pub struct DoctorArgs {
    /// Emit the diagnosis as one JSON document
    #[arg(long)]
    pub json: bool,
}

#[derive(Args, Debug, Clone)]
pub struct CompareArgs {
    /// The baseline results file
    pub old: PathBuf,
    /// The results file to judge
    pub new: PathBuf,
    /// Regression threshold (default: the new run's own setting)
    #[arg(long, value_name = "PERCENT")]
    pub threshold: Option<String>,
    /// Compare even across meters, CPU models, or estimated against measured (marked as forced)
    #[arg(long)]
    pub force_compare: bool,
}

#[derive(Args, Debug, Clone)]
pub struct ReportArgs {
    /// Results file (default: <target-dir>/joule/results.json)
    pub file: Option<PathBuf>,
    /// Where to write the views (default: the results file's directory)
    #[arg(long, value_name = "DIR")]
    pub out_dir: Option<PathBuf>,
    /// Path to Cargo.toml, to find the target directory
    #[arg(long, value_name = "PATH")]
    pub manifest_path: Option<PathBuf>,
    /// Target directory holding joule/results.json
    #[arg(
        long,
        value_name = "DIR",
        env = "CARGO_TARGET_DIR",
        hide_env_values = true
    )]
    pub target_dir: Option<PathBuf>,
}

#[derive(Args, Debug, Clone)]
pub struct MergeArgs {
    /// Results files of the shards
    #[arg(required = true, num_args = 1..)]
    pub files: Vec<PathBuf>,
    /// Where to write the merged results
    #[arg(short, long, value_name = "OUT")]
    pub output: PathBuf,
    /// Merge shards even when they measured with different meters or CPU models
    #[arg(long)]
    pub force: bool,
}
