//! The results file: one versioned schema that every report is rendered from.
//!
//! Field-by-field documentation, with units, is in `docs/results-schema.md`. Units are in the
//! field names (`_j` joules, `_w` watts, `_s` seconds) and in the Rust types ([`Joules`], [`Watts`]).
//! Times of windows are seconds since the run's `monotonic_origin_ns`, on `CLOCK_MONOTONIC`, which
//! all processes of a run share.
//!
//! Versioning: [`SCHEMA_VERSION`] is `MAJOR.MINOR`. A minor bump only adds optional fields, so a
//! reader loads any older minor version; a file with another major version is refused by
//! [`RunResults::from_json`].

use serde::{Deserialize, Serialize};

use crate::energy::{Backend, Domain, Provenance};
use crate::units::{Joules, Watts};

pub const SCHEMA_MAJOR: u32 = 1;
pub const SCHEMA_MINOR: u32 = 2;
pub const SCHEMA_VERSION: &str = "1.2";

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct RunResults {
    pub schema_version: String,
    pub tool: Tool,
    pub run: RunInfo,
    pub environment: Environment,
    /// The meter, when anything was measured; `None` for a run that only checked correctness.
    pub meter: Option<MeterRecord>,
    /// Idle power per domain, measured with all workers quiet.
    #[serde(default)]
    pub idle: Vec<IdleRecord>,
    pub settings: Settings,
    pub problems: Vec<ProblemResult>,
    /// Filled when the run was compared with a baseline.
    #[serde(default)]
    pub baseline: Option<BaselineComparison>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Tool {
    pub name: String,
    pub version: String,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct RunInfo {
    /// RFC 3339, UTC.
    pub started_at: String,
    pub finished_at: Option<String>,
    /// `false` when the run was interrupted: the file holds what was gathered. (A worker that
    /// dies is its candidate's failure, not an incomplete run.)
    pub complete: bool,
    /// Why the run is incomplete (`interrupted by SIGINT`, …).
    #[serde(default)]
    pub incomplete_reason: Option<String>,
    pub mode: RunMode,
    pub command_line: Vec<String>,
    /// Bench binaries that took part.
    #[serde(default)]
    pub binaries: Vec<String>,
    /// Bench binaries that were found but are not JouleTrace benches (criterion, libtest).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub skipped_binaries: Vec<String>,
    /// What ran each target's candidates: language, its version, the executable, and who read
    /// the meter (absent in files written before protocol 2).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub hosts: Vec<HostRecord>,
    /// `CLOCK_MONOTONIC` at the run's start; every `*_s` time in samples is relative to it.
    pub monotonic_origin_ns: u64,
    /// Shard, for `--partition`: `hash:1/3`.
    #[serde(default)]
    pub partition: Option<String>,
    /// The machine-wide run lock and every hold of it (since 1.1): what this run shared the
    /// machine with, provably.
    #[serde(default)]
    pub lock: Option<LockRecord>,
}

/// The machine-wide run lock of one run (`docs/process-model.md`, “The run lock”).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct LockRecord {
    pub path: String,
    /// In order: shared (listing and checks) then, when the run measures, exclusive.
    pub holds: Vec<LockHold>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LockMode {
    /// Listing and checking: other runs may check too, none may measure.
    Shared,
    /// Idle baselines and measured windows: no other run does anything.
    Exclusive,
}

/// One hold of the run lock. Times are seconds since the run's origin, on `CLOCK_MONOTONIC`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct LockHold {
    /// `shared` for listing and checks, `exclusive` for idle baselines and measurement.
    pub mode: LockMode,
    pub requested_at_s: f64,
    pub acquired_at_s: f64,
    pub released_at_s: f64,
    /// How long the run waited for other runs: `acquired_at_s - requested_at_s`.
    pub waited_s: f64,
}

/// The host that ran one target's candidates, as its worker announced it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct HostRecord {
    /// The target's label (as in `binaries`).
    pub target: String,
    #[serde(flatten)]
    pub host: HostInfo,
}

/// What a worker runs its candidates with; recorded in the results.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct HostInfo {
    /// `rust`, `python`, …
    pub language: String,
    /// The language's version (`rustc 1.95.0 (…)`, `3.11.2`).
    pub version: String,
    /// The executable that runs the candidates (the bench binary, the interpreter).
    pub executable: String,
    #[serde(default)]
    pub metering: Metering,
}

/// Who reads the meter around the worker's windows.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Metering {
    /// The worker opens the meter from `prepare`'s spec and reads it itself (Rust benches).
    #[default]
    Worker,
    /// The orchestrator reads its own meter on `window_open` / `window_closed`, and the worker's
    /// CPU time from outside; the worker never holds an energy counter.
    Orchestrator,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RunMode {
    /// Correctness checks only (`cargo test`).
    Check,
    /// Checks, then measurement (`cargo bench`, `cargo joule`).
    Bench,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Environment {
    pub cpu_model: Option<String>,
    pub cpu_vendor: Option<String>,
    pub kernel: Option<String>,
    pub os: String,
    pub arch: String,
    pub hostname: Option<String>,
    pub logical_cpus: u32,
    pub physical_cores: u32,
    pub packages: u32,
    /// Frequency governor of the measured CPUs, when cpufreq is exposed.
    pub governor: Option<String>,
    pub turbo: Option<bool>,
    pub virtualized: Option<bool>,
    /// `git rev-parse HEAD` of the measured project, with `-dirty` when the tree had changes.
    pub commit: Option<String>,
    /// `rustc -V` of the compiler that built the bench.
    pub rustc: Option<String>,
    /// CPUs that ran workers.
    pub worker_cpus: Vec<u32>,
    /// The CPU the orchestrator was pinned to: always `None` today (it is not pinned).
    pub orchestrator_cpu: Option<u32>,
    /// The isolation workers ran under (absent in files written before the sandbox existed).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sandbox: Option<crate::pool::sandbox::SandboxLevel>,
    /// How busy the machine was with other work while measuring, and what was done about it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub background: Option<BackgroundSummary>,
}

/// Activity beside one measured or idle window that was not the measured worker's.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct Background {
    /// CPU time of everything but the worker (other processes, interrupts, a hypervisor's steal)
    /// on the CPUs that share the meter's scope, as a share of those CPUs' time over the window.
    pub foreign_share: f64,
    /// Share of the window the worker was runnable but waiting for a CPU (0 for idle windows).
    pub wait_share: f64,
    /// How many CPUs the scope has (1 for the estimate and per-core meters).
    pub cpus: u32,
}

/// The run's account of background activity (`docs/statistics.md`, "A busy machine").
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct BackgroundSummary {
    /// What is flagged and what is done with flagged samples, in one sentence.
    pub policy: String,
    /// A sample is flagged `background_activity` above this foreign share…
    pub foreign_share_limit: f64,
    /// …or above this run-queue wait share.
    pub wait_share_limit: f64,
    /// Measured samples (warm-up excluded) and how many of them were flagged.
    pub samples: u32,
    pub flagged: u32,
    /// Measurements marked unreliable: their statistics had to include flagged samples (too few
    /// quiet ones), or more than a quarter of their samples were flagged.
    pub unreliable_cases: u32,
    /// Median and largest foreign share over measured samples.
    pub median_foreign_share: f64,
    pub max_foreign_share: f64,
    /// Largest run-queue wait share over measured samples.
    pub max_wait_share: f64,
    /// Largest foreign share seen during the idle measurements that were kept; `None` when no
    /// idle power was measured.
    pub idle_foreign_share: Option<f64>,
    /// Whether every idle measurement was taken quietly (after retries).
    pub idle_quiet: bool,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct MeterRecord {
    pub backend: Backend,
    pub provenance: Provenance,
    /// `true` exactly when `provenance` is `estimated`; repeated so no reader can miss it.
    pub estimated: bool,
    pub domains: Vec<Domain>,
    /// The domain whose energy is ranked and compared (package, or psys, or the estimate).
    pub primary_domain: String,
    /// For the estimate: the per-core power it charges.
    pub estimate_watts_per_core: Option<Watts>,
    /// Backends that were tried first, with why they were not used.
    #[serde(default)]
    pub rejected: Vec<RejectedMeter>,
    #[serde(default)]
    pub warnings: Vec<String>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct RejectedMeter {
    pub backend: Backend,
    pub reason: String,
    pub remedy: Option<String>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct IdleRecord {
    pub domain: String,
    #[serde(rename = "power_w")]
    pub power: Watts,
    pub window_s: f64,
    /// Seconds since the run's origin.
    pub taken_at_s: f64,
    /// Activity beside the idle window: anything here was counted as idle power.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub background: Option<Background>,
    /// Set when the window stayed busy through every retry (the idle power is too high).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub background_activity: bool,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Settings {
    pub min_sample_time_s: f64,
    pub warmup: u32,
    pub min_trials: u32,
    pub max_trials: u32,
    /// Target half-width of the 95% interval of the median, relative (0.02 = ±2%).
    pub target_ci: f64,
    pub time_budget_s: f64,
    pub timeout_s: f64,
    pub memory_limit_mb: Option<u64>,
    pub isolate_network: bool,
    pub threshold: f64,
    pub confidence_level: f64,
    pub bootstrap_resamples: u32,
    pub seed: u64,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ProblemResult {
    pub name: String,
    pub cases: Vec<CaseRecord>,
    pub candidates: Vec<CandidateResult>,
    /// Per measured case, the candidates ranked by energy per call.
    #[serde(default)]
    pub rankings: Vec<CaseRanking>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct CaseRecord {
    pub id: String,
    pub size: Option<u64>,
    pub measured: bool,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    Passed,
    WrongAnswer,
    Panic,
    Timeout,
    MemoryLimit,
    Crashed,
    /// The candidate returned but left threads running, which would be charged to later calls.
    StrayThread,
    ProtocolError,
    /// A candidate given as source did not compile (Rust candidates: the compiler's message,
    /// trimmed, is the failure's message). Never checked or measured.
    CompileError,
    /// `ignore` on the candidate, or filtered out.
    Ignored,
    /// Not run because the run was interrupted.
    NotRun,
}

impl Status {
    pub fn is_failure(self) -> bool {
        !matches!(self, Status::Passed | Status::Ignored | Status::NotRun)
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Status::Passed => "passed",
            Status::WrongAnswer => "wrong_answer",
            Status::Panic => "panic",
            Status::Timeout => "timeout",
            Status::MemoryLimit => "memory_limit",
            Status::Crashed => "crashed",
            Status::StrayThread => "stray_thread",
            Status::ProtocolError => "protocol_error",
            Status::CompileError => "compile_error",
            Status::Ignored => "ignored",
            Status::NotRun => "not_run",
        }
    }
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct CandidateResult {
    /// `problem::name`.
    pub id: String,
    pub name: String,
    /// `file:line` of the function.
    pub location: String,
    pub binary: Option<String>,
    pub status: Status,
    pub check: CheckRecord,
    #[serde(default)]
    pub measurements: Vec<CaseMeasurement>,
    /// The candidate's own regression threshold (`#[joule_bench(threshold = …)]`), when it
    /// overrides the run's.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub threshold: Option<f64>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct CheckRecord {
    pub status: Status,
    pub cases_passed: u32,
    pub duration_s: f64,
    /// When the check's worker ran, from its start to its exit (seconds since the run's origin,
    /// `CLOCK_MONOTONIC`), and on which CPU (since 1.1; absent for checks that never ran).
    #[serde(default)]
    pub start_s: Option<f64>,
    #[serde(default)]
    pub end_s: Option<f64>,
    #[serde(default)]
    pub cpu: Option<u32>,
    pub failure: Option<Failure>,
    pub stdout: Captured,
    pub stderr: Captured,
    /// One verdict per case, from hosts that run every case even after a failure (the Python
    /// host: the predecessor's `passed_tests` of `total_tests`); empty from workers that stop at
    /// the first failure (Rust benches).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub verdicts: Vec<CaseVerdict>,
}

/// How one case of a check went.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CaseVerdict {
    pub case: String,
    pub passed: bool,
    /// Why it failed; `None` when it passed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kind: Option<VerdictKind>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expected: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub actual: Option<String>,
}

/// Why one case failed, as a host classifies it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum VerdictKind {
    WrongAnswer,
    SyntaxError,
    MissingFunction,
    /// The candidate raised.
    Exception,
    /// Recursion too deep.
    Recursion,
    /// The candidate tried to end its process (`sys.exit`).
    Exit,
    /// A kind this version does not know (a newer host).
    #[serde(other)]
    Other,
}

/// Why a check or a measurement failed.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Failure {
    pub kind: Status,
    pub case: Option<String>,
    pub message: String,
    pub expected: Option<String>,
    pub actual: Option<String>,
    /// For `crashed`: `SIGSEGV`, `SIGABRT`…
    pub signal: Option<String>,
    /// For `timeout` and `memory_limit`: the limit that was hit (`10s`, `512 MiB`).
    pub limit: Option<String>,
}

impl Sample {
    /// This sample's energy in `domain`, net of idle or gross, in joules.
    pub fn energy_in(&self, domain: &str, net: bool) -> Option<f64> {
        self.energy
            .iter()
            .find(|e| e.domain == domain)
            .map(|e| if net { e.net.get() } else { e.gross.get() })
    }
}

/// Energy per call of each sample in `domain`, net of idle or gross, in joules (samples without
/// that domain are left out).
pub fn per_call(samples: &[Sample], domain: &str, net: bool) -> Vec<f64> {
    samples
        .iter()
        .filter_map(|s| s.energy_in(domain, net).map(|e| e / s.calls as f64))
        .collect()
}

impl MeterRecord {
    /// The meter a run selected, as the results file records it.
    pub fn of(sel: &crate::energy::Selection) -> MeterRecord {
        MeterRecord {
            backend: sel.info.backend,
            provenance: sel.info.provenance,
            estimated: sel.info.is_estimated(),
            domains: sel.info.domains.clone(),
            primary_domain: sel.info.primary.clone(),
            estimate_watts_per_core: sel.info.estimate_watts_per_core,
            rejected: sel.rejected.iter().map(RejectedMeter::from).collect(),
            warnings: sel.warnings.clone(),
        }
    }
}

impl From<&crate::energy::Unavailable> for RejectedMeter {
    fn from(u: &crate::energy::Unavailable) -> RejectedMeter {
        RejectedMeter {
            backend: u.backend,
            reason: u.reason.clone(),
            remedy: u.remedy.clone(),
        }
    }
}

impl CheckRecord {
    /// The record of a check that did not run (`not_run`, `ignored`): no worker, no output.
    pub fn without_worker(status: Status) -> CheckRecord {
        CheckRecord {
            status,
            cases_passed: 0,
            duration_s: 0.0,
            start_s: None,
            end_s: None,
            cpu: None,
            failure: None,
            stdout: Captured::default(),
            stderr: Captured::default(),
            verdicts: Vec::new(),
        }
    }
}

impl Failure {
    /// A failure with only its kind, case and message; the optional details start empty.
    pub fn new(kind: Status, case: Option<&str>, message: impl Into<String>) -> Failure {
        Failure {
            kind,
            case: case.map(str::to_owned),
            message: message.into(),
            expected: None,
            actual: None,
            signal: None,
            limit: None,
        }
    }
}

/// A bounded capture of a worker's output stream.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Captured {
    pub text: String,
    pub truncated: bool,
    pub total_bytes: u64,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct CaseMeasurement {
    pub case: String,
    pub size: Option<u64>,
    pub calls_per_sample: u64,
    /// `None` when the measurement completed; otherwise why it stopped short.
    pub failure: Option<Failure>,
    /// Why trials stopped: `target_ci`, `max_trials`, `time_budget`, `background_activity` (too
    /// many samples beside other work), `interrupted`, `failed`.
    pub stop_reason: String,
    pub warmup: Vec<Sample>,
    pub samples: Vec<Sample>,
    pub stats: Option<CaseStats>,
    /// The domain this case's energy per call is read from: the meter's primary domain for the
    /// CPU the worker ran on (with several packages, that CPU's package).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub primary_domain: Option<String>,
    /// Interpreted hosts only: the calling loop's own cost, already taken off every sample's
    /// `net_j` (see [`LoopOverhead`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub loop_overhead: Option<LoopOverhead>,
}

/// What calling the candidate costs in an interpreted host, measured on an empty function with
/// the candidate's parameters, called on the same inputs in the same loop, with the same calls
/// per sample and meter. `energy_per_call` × a sample's calls has been subtracted from that
/// sample's `net_j` in each domain; the figures and the twin's own samples are kept here.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct LoopOverhead {
    /// Median net energy per call of the empty twin, per domain.
    pub energy_per_call: Vec<crate::energy::DomainEnergy>,
    /// Median time per call of the empty twin (not subtracted from times).
    pub time_per_call_s: Option<f64>,
    pub samples: Vec<Sample>,
    /// Why the overhead could not be measured (then nothing was subtracted).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub unavailable: Option<String>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Sample {
    pub calls: u64,
    pub cpu: u32,
    pub package: Option<u32>,
    /// Seconds since the run's monotonic origin.
    pub window_start_s: f64,
    pub window_end_s: f64,
    /// Time inside measured windows (excludes input cloning between batches).
    pub measured_s: f64,
    /// The time the energy covers: `measured_s` for a worker that meters itself; longer for a
    /// host metered by the orchestrator, which reads before and after each batch's two protocol
    /// messages. Idle power is subtracted over this span. `None` in files written before it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub metered_s: Option<f64>,
    pub cpu_time_s: f64,
    pub energy: Vec<SampleEnergy>,
    /// Flagged by Tukey's fences on energy per call; never dropped.
    #[serde(default)]
    pub outlier: bool,
    /// Which fresh worker process of this candidate and case took the sample (0, 1, …): the
    /// unit the intervals resample.
    #[serde(default)]
    pub process: u32,
    /// Activity beside the window that was not the worker's, when `/proc` could tell.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub background: Option<Background>,
    /// Foreign activity above the documented share: re-taken, and kept out of the statistics
    /// while enough quiet samples exist.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub background_activity: bool,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SampleEnergy {
    pub domain: String,
    #[serde(rename = "gross_j")]
    pub gross: Joules,
    /// Gross minus the domain's idle power × `metered_s` (else `measured_s`).
    #[serde(rename = "net_j")]
    pub net: Joules,
}

/// A point estimate with its confidence interval.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct Estimate<T> {
    pub point: T,
    pub lower: T,
    pub upper: T,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct CaseStats {
    pub domain: String,
    /// Median gross energy per call.
    pub energy_per_call_j: Estimate<Joules>,
    /// Median idle-subtracted energy per call.
    pub net_energy_per_call_j: Estimate<Joules>,
    pub power_w: Estimate<Watts>,
    pub net_power_w: Estimate<Watts>,
    pub time_per_call_s: Estimate<f64>,
    pub mean_energy_per_call_j: Joules,
    pub stddev_energy_per_call_j: Joules,
    pub mad_energy_per_call_j: Joules,
    /// Coefficient of variation of energy per call.
    pub cv: f64,
    pub outliers: u32,
    /// Samples the statistics use (flagged `background_activity` ones left out while enough
    /// quiet ones exist).
    pub samples: u32,
    /// Fresh worker processes those samples came from: the unit the intervals resample
    /// ("95% CI over 3 processes × 15 samples"). 1 in files written before processes were
    /// spread.
    #[serde(default = "one")]
    pub processes: u32,
    /// Plain flags a reader must see: `negative_net_power`, `net_power_above_tdp`, `estimated`…
    #[serde(default)]
    pub flags: Vec<String>,
    /// The machine's run-to-run variation the headline intervals above are widened by (since
    /// 1.2; `None` in older files, whose intervals are within-run only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub run_to_run: Option<RunToRun>,
    /// The same intervals before that widening: what the samples of this run alone show (since
    /// 1.2). The stopping rule used these.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub within_run: Option<WithinRun>,
}

fn one() -> u32 {
    1
}

/// How far a whole run's figures move from one run to the next on this machine (relative σ of
/// the run's common shift), and where that figure came from. See docs/statistics.md,
/// "Run-to-run variation".
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct RunToRun {
    /// Relative standard deviation of a whole run's shift (0.018 = 1.8%).
    pub sigma: f64,
    pub source: RunToRunSource,
    /// Runs of this machine's history the figure was fitted on, this one included (1 without
    /// history).
    pub runs: u32,
    /// The meter backend (`estimate`, `perf`…) whose prior applies.
    pub meter: Backend,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RunToRunSource {
    /// Measured from the history of runs on this host class.
    History,
    /// The meter's documented prior (too little history, or history turned off).
    Prior,
}

impl RunToRunSource {
    pub fn as_str(self) -> &'static str {
        match self {
            RunToRunSource::History => "history",
            RunToRunSource::Prior => "prior",
        }
    }
}

/// A case's intervals from this run's samples alone (before the run-to-run widening).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct WithinRun {
    pub energy_per_call_j: Estimate<Joules>,
    pub net_energy_per_call_j: Estimate<Joules>,
    pub power_w: Estimate<Watts>,
    pub net_power_w: Estimate<Watts>,
    pub time_per_call_s: Estimate<f64>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct CaseRanking {
    pub case: String,
    pub entries: Vec<RankEntry>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct RankEntry {
    pub rank: u32,
    pub candidate: String,
    /// Energy per call relative to the best candidate (1.0 for the best).
    pub ratio_to_best: Estimate<f64>,
    /// Whether this candidate differs significantly from the next one in the ranking.
    pub significant_vs_next: Option<bool>,
    pub p_value_vs_next: Option<f64>,
    /// "insertion_sort uses 2.31× the energy of std_sort (95% CI 2.25–2.38)".
    pub verdict: String,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct BaselineComparison {
    pub name: String,
    pub file: String,
    /// Set when `--force-compare` overrode a meter or CPU mismatch.
    pub forced: bool,
    #[serde(default)]
    pub warnings: Vec<String>,
    pub entries: Vec<ChangeEntry>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ChangeEntry {
    pub candidate: String,
    pub case: String,
    /// Median energy per call in the baseline; `None` when the baseline has no measurement of
    /// this candidate and case (a [`ChangeVerdict::Missing`] entry), never a stand-in 0.
    #[serde(default)]
    pub old_energy_per_call_j: Option<Joules>,
    /// Median energy per call in this run; `None` when this run did not measure it.
    #[serde(default)]
    pub new_energy_per_call_j: Option<Joules>,
    /// Relative change of energy per call (+0.10 = 10% more), with its interval; `None` for a
    /// `missing` entry.
    #[serde(default)]
    pub change: Option<Estimate<f64>>,
    pub threshold: f64,
    /// The run-to-run noise the data show for this entry (relative, like `change`): how far
    /// one worker process's median strays from another's, combined over both sides at the
    /// confidence level. A verdict needs the change beyond both `threshold` and this. `None`
    /// when neither side has two processes (then it cannot be seen inside a run).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub noise: Option<f64>,
    /// Each side's run-to-run σ that `change` and `noise` include (since 1.2): the baseline's as
    /// recorded in it (its meter's prior for older files), and this run's.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub run_to_run: Option<ChangeRunToRun>,
    /// The interval of the change from the two runs' samples alone, before that widening.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub within_run: Option<Estimate<f64>>,
    pub verdict: ChangeVerdict,
    /// Why the entry is `missing` ("not in the baseline", "not measured in this run:
    /// wrong_answer", "removed"…); `None` for a compared entry.
    #[serde(default)]
    pub reason: Option<String>,
}

/// Both sides' run-to-run σ of a baseline comparison (relative).
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct ChangeRunToRun {
    pub old: f64,
    pub new: f64,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ChangeVerdict {
    Regressed,
    Improved,
    Unchanged,
    /// Present on one side only, or not measured on one side.
    Missing,
}

/// Why a results file could not be read.
#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    #[error("{path}: {source}")]
    Io {
        path: String,
        source: std::io::Error,
    },
    #[error("{path}: not a JouleTrace results file: {message}")]
    Malformed { path: String, message: String },
    #[error(
        "{path}: results schema version {found} is not supported (this JouleTrace reads {SCHEMA_MAJOR}.x); \
         re-run the measurement or use a matching JouleTrace"
    )]
    UnsupportedVersion { path: String, found: String },
}

impl RunResults {
    /// Parses a results file, refusing other major versions with a clear message.
    /// `origin` names the file in errors.
    pub fn from_json(text: &str, origin: &str) -> Result<RunResults, LoadError> {
        let value: serde_json::Value =
            serde_json::from_str(text).map_err(|e| LoadError::Malformed {
                path: origin.into(),
                message: e.to_string(),
            })?;
        let version = value
            .get("schema_version")
            .and_then(|v| v.as_str())
            .ok_or_else(|| LoadError::Malformed {
                path: origin.into(),
                message: "field `schema_version` is missing or not a string".into(),
            })?;
        let major = version
            .split('.')
            .next()
            .and_then(|m| m.parse::<u32>().ok());
        if major != Some(SCHEMA_MAJOR) {
            return Err(LoadError::UnsupportedVersion {
                path: origin.into(),
                found: version.into(),
            });
        }
        serde_json::from_value(value).map_err(|e| LoadError::Malformed {
            path: origin.into(),
            message: e.to_string(),
        })
    }

    pub fn load(path: &std::path::Path) -> Result<RunResults, LoadError> {
        let text = std::fs::read_to_string(path).map_err(|source| LoadError::Io {
            path: path.display().to_string(),
            source,
        })?;
        Self::from_json(&text, &path.display().to_string())
    }

    pub fn to_json(&self) -> String {
        serde_json::to_string_pretty(self).expect("results always serialize")
    }

    /// Whether the numbers are estimates rather than measurements.
    pub fn is_estimated(&self) -> bool {
        self.meter.as_ref().is_some_and(|m| m.estimated)
    }

    pub fn candidates(&self) -> impl Iterator<Item = &CandidateResult> {
        self.problems.iter().flat_map(|p| p.candidates.iter())
    }
}
