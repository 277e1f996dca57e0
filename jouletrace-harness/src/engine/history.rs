//! The run history of a host class: what lets a run see the machine's run-to-run variation.
//!
//! After a run, one line per run is appended to `<history_dir>/<key>.jsonl`: the run's median
//! net energy per call of every measured candidate-case. The key names the *host class and
//! target set* — CPU model, meter backend and primary domain, the estimate's W per core (what
//! [`crate::baseline::incompatibilities`] requires for two runs to be compared) and the run's
//! bench binaries — so only runs whose figures can be compared meet in one file. The last
//! [`KEEP`] runs are kept; the file is rewritten whole (temporary file, then rename) under an
//! exclusive lock on `<key>.lock`, so two runs finishing together neither interleave lines nor
//! lose one.
//!
//! From the records that share at least one candidate-case with this run (this run included),
//! [`stats::run_to_run`] fits the run effects and their σ; with too little history the meter's
//! prior stands in. Every per-case interval of the run is then widened by it
//! ([`super::summarize::widen`]). A history that cannot be read or written, or a malformed line,
//! never fails a run: it is a warning, and the run goes on with what it could read.

use std::collections::BTreeMap;
use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::energy::Backend;
use crate::results::{RunResults, RunToRun, RunToRunSource};
use crate::stats::run_to_run::{self, SigmaSource};

/// Runs kept per history file: enough for a stable σ (the MAD of 30 run effects), few enough
/// that the machine's state a month ago does not speak for today.
pub const KEEP: usize = 30;

/// One run in the history file.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Record {
    /// The run's start time and monotonic origin: unique per run on one machine.
    pub run_id: String,
    pub finished_at: Option<String>,
    pub meter: Backend,
    /// The host class in words (what the file name hashes), for a reader of the file.
    #[serde(default)]
    pub host_class: String,
    /// Median net energy per call (J) by `<target>::<candidate id>::<case>`; cases whose net
    /// median is not positive are left out (no logarithm).
    pub medians: BTreeMap<String, f64>,
}

/// What the history step found: the σ to widen by, and warnings for the reader.
#[derive(Clone, Debug, PartialEq)]
pub struct Outcome {
    pub run_to_run: RunToRun,
    pub warnings: Vec<String>,
    /// The file read and written, when history is on.
    pub file: Option<PathBuf>,
}

/// The host class and target set of a run, in words.
pub fn host_class(results: &RunResults) -> Option<String> {
    let meter = results.meter.as_ref()?;
    let mut binaries = results.run.binaries.clone();
    binaries.sort();
    Some(format!(
        "{} | {}/{} | {} | {}",
        results
            .environment
            .cpu_model
            .as_deref()
            .unwrap_or("unknown CPU"),
        meter.backend.as_str(),
        meter.primary_domain,
        meter
            .estimate_watts_per_core
            .map_or("-".to_owned(), |w| format!("{} W/core", w.get())),
        binaries.join(",")
    ))
}

/// The history file of a host class under `dir`: 16 hex digits of the SHA-256 of its words.
pub fn file_for(dir: &Path, host_class: &str) -> PathBuf {
    let digest = Sha256::digest(host_class.as_bytes());
    let hex: String = digest.iter().take(8).map(|b| format!("{b:02x}")).collect();
    dir.join(format!("{hex}.jsonl"))
}

/// This run's record: the median net energy per call of each measured candidate-case.
pub fn record(results: &RunResults) -> Option<Record> {
    let meter = results.meter.as_ref()?;
    let mut medians = BTreeMap::new();
    for p in &results.problems {
        for c in &p.candidates {
            for m in &c.measurements {
                let Some(s) = &m.stats else { continue };
                let v = s.net_energy_per_call_j.point.0;
                if v.is_finite() && v > 0.0 {
                    let target = c.binary.as_deref().unwrap_or("-");
                    medians.insert(format!("{target}::{}::{}", c.id, m.case), v);
                }
            }
        }
    }
    Some(Record {
        run_id: format!(
            "{}+{:x}",
            results.run.started_at, results.run.monotonic_origin_ns
        ),
        finished_at: results.run.finished_at.clone(),
        meter: meter.backend,
        host_class: host_class(results).unwrap_or_default(),
        medians,
    })
}

/// Parses a history file's text: the records in order, and one warning per line that is not a
/// record (skipped).
pub fn parse(text: &str, file: &Path) -> (Vec<Record>, Vec<String>) {
    let mut records = Vec::new();
    let mut warnings = Vec::new();
    for (i, line) in text.lines().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        match serde_json::from_str::<Record>(line) {
            Ok(r) => records.push(r),
            Err(e) => warnings.push(format!(
                "run history {} line {}: not a run record ({e}): skipped",
                file.display(),
                i + 1
            )),
        }
    }
    (records, warnings)
}

/// σ_run from `history` (earlier runs) and `this` run, measured when enough runs share
/// candidate-cases with this one, else the meter's prior ([`run_to_run::choose_sigma`]).
pub fn sigma(history: &[Record], this: &Record, level: f64) -> RunToRun {
    let keys: Vec<&String> = this.medians.keys().collect();
    let rows: Vec<Vec<Option<f64>>> = history
        .iter()
        .filter(|r| r.meter == this.meter)
        .chain(std::iter::once(this))
        .map(|r| {
            keys.iter()
                .map(|k| r.medians.get(*k).filter(|v| **v > 0.0).map(|v| v.ln()))
                .collect::<Vec<_>>()
        })
        .filter(|row| row.iter().any(Option::is_some))
        .collect();
    let runs = rows.len();
    let measured = if runs >= 2 {
        run_to_run::run_sigma(&run_to_run::median_polish(&rows).rows, level)
    } else {
        None
    };
    let (sigma, source) = run_to_run::choose_sigma(run_to_run::prior(this.meter), measured, runs);
    RunToRun {
        sigma,
        source: match source {
            SigmaSource::History => RunToRunSource::History,
            SigmaSource::Prior => RunToRunSource::Prior,
        },
        runs: runs as u32,
        meter: this.meter,
    }
}

/// The history step of a run: reads the host class's history under `dir` (none: the prior
/// only), works out σ_run, appends this run (a complete run only) keeping the last [`KEEP`], and
/// widens every case's intervals in `results`. `None` for a run that measured nothing.
pub fn apply(results: &mut RunResults, dir: Option<&Path>) -> Option<Outcome> {
    let this = record(results)?;
    let level = results.settings.confidence_level;
    let mut warnings = Vec::new();
    let mut file = None;
    let mut history = Vec::new();
    if let Some(dir) = dir
        && !this.medians.is_empty()
    {
        let path = file_for(dir, &this.host_class);
        let append = results.run.complete;
        match update(&path, &this, append) {
            Ok((records, bad)) => {
                history = records;
                warnings.extend(bad);
            }
            Err(e) => warnings.push(format!(
                "run history {}: {e}; this run's intervals use what could be read",
                path.display()
            )),
        }
        file = Some(path);
    }
    let r = sigma(&history, &this, level);
    for p in &mut results.problems {
        for c in &mut p.candidates {
            for m in &mut c.measurements {
                if let Some(s) = &mut m.stats {
                    super::summarize::widen(s, r.clone(), level);
                }
            }
        }
    }
    Some(Outcome {
        run_to_run: r,
        warnings,
        file,
    })
}

/// Under the file's lock: reads the records there, and (when `append`) rewrites the file with
/// `this` appended and only the last [`KEEP`] kept. Returns the records read (not `this`) and
/// the warnings for malformed lines.
fn update(
    path: &Path,
    this: &Record,
    append: bool,
) -> Result<(Vec<Record>, Vec<String>), std::io::Error> {
    let dir = path.parent().unwrap_or(Path::new("."));
    fs::create_dir_all(dir)?;
    // The lock is a file of its own: the data file is replaced by a rename, and a lock on a
    // replaced inode guards nothing.
    let lock = crate::rust_source::cache::lock_exclusive(&path.with_extension("lock"))?;
    let (records, warnings) = match read(path) {
        Ok(read) => read,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => (Vec::new(), Vec::new()),
        Err(e) => return Err(e),
    };
    if append {
        let keep = records.len().saturating_sub(KEEP - 1);
        let mut tmp = tempfile::NamedTempFile::new_in(dir)?;
        {
            let mut out = std::io::BufWriter::new(tmp.as_file_mut());
            for r in records[keep..].iter().chain(std::iter::once(this)) {
                serde_json::to_writer(&mut out, r)?;
                out.write_all(b"\n")?;
            }
            out.flush()?;
        }
        tmp.as_file().sync_all()?;
        tmp.persist(path).map_err(|e| e.error)?;
    }
    drop(lock);
    Ok((records, warnings))
}

/// Reads a history file (for tools and tests): its records and warnings for malformed lines.
/// Bytes that are not UTF-8 make their lines malformed, not the file unreadable.
pub fn read(path: &Path) -> Result<(Vec<Record>, Vec<String>), std::io::Error> {
    let bytes = fs::read(path)?;
    Ok(parse(&String::from_utf8_lossy(&bytes), path))
}

/// The sentence the reports print after "widened by": "σ 1.8% over the last 12 runs" or
/// "σ 2.0%, the estimate meter's prior: 3 runs of history here, 5 needed".
pub fn describe(r: &RunToRun) -> String {
    let sigma = r.sigma * 100.0;
    match r.source {
        RunToRunSource::History => format!(
            "σ {sigma:.1}% over the last {} runs on this machine",
            r.runs
        ),
        RunToRunSource::Prior if r.runs <= 1 => format!(
            "σ {sigma:.1}%, the {} meter's prior: no run history here",
            r.meter.as_str()
        ),
        RunToRunSource::Prior => format!(
            "σ {sigma:.1}%, the {} meter's prior: {} runs of history here, {} needed",
            r.meter.as_str(),
            r.runs,
            run_to_run::MIN_RUNS_ALONE
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rec(id: &str, meter: Backend, medians: &[(&str, f64)]) -> Record {
        Record {
            run_id: id.into(),
            finished_at: None,
            meter,
            host_class: "test".into(),
            medians: medians.iter().map(|(k, v)| ((*k).into(), *v)).collect(),
        }
    }

    /// Run `i` of a history whose runs shift by `shifts[i]` (relative) over three cases.
    fn shifted(i: usize, shift: f64) -> Record {
        rec(
            &format!("r{i}"),
            Backend::Estimate,
            &[
                ("b::p::a::x", 1e-6 * (1.0 + shift)),
                ("b::p::b::x", 3e-6 * (1.0 + shift)),
                ("b::p::c::y", 5e-3 * (1.0 + shift)),
            ],
        )
    }

    #[test]
    fn too_little_history_uses_the_meters_prior() {
        let this = shifted(0, 0.0);
        let r = sigma(&[], &this, 0.95);
        assert_eq!(
            (r.sigma, r.source, r.runs),
            (0.02, RunToRunSource::Prior, 1)
        );
        // Three runs that barely move: the prior still stands (measured below it).
        let h = [shifted(1, 0.001), shifted(2, -0.001)];
        let r = sigma(&h, &this, 0.95);
        assert_eq!(
            (r.sigma, r.source, r.runs),
            (0.02, RunToRunSource::Prior, 3)
        );
        // Three runs that move a lot: the measured figure raises the prior.
        let h = [shifted(1, 0.08), shifted(2, -0.08)];
        let r = sigma(&h, &this, 0.95);
        assert_eq!((r.source, r.runs), (RunToRunSource::History, 3));
        assert!(r.sigma > 0.05, "{r:?}");
        // A RAPL run's prior.
        let mut rapl = this.clone();
        rapl.meter = Backend::Powercap;
        assert_eq!(sigma(&[], &rapl, 0.95).sigma, 0.01);
    }

    #[test]
    fn enough_history_measures_sigma_from_the_run_effects() {
        let shifts = [0.0, 0.01, -0.01, 0.02, -0.02, 0.005, -0.005, 0.015];
        let h: Vec<Record> = shifts[1..]
            .iter()
            .enumerate()
            .map(|(i, s)| shifted(i + 1, *s))
            .collect();
        let r = sigma(&h, &shifted(0, 0.0), 0.95);
        assert_eq!((r.source, r.runs), (RunToRunSource::History, 8));
        let logs: Vec<f64> = shifts.iter().map(|s| (1.0f64 + s).ln()).collect();
        let want = run_to_run::run_sigma(
            &logs
                .iter()
                .map(|l| l - crate::stats::median(&logs).unwrap())
                .collect::<Vec<_>>(),
            0.95,
        )
        .unwrap();
        assert!((r.sigma - want).abs() < 1e-9, "{} vs {want}", r.sigma);
        // Identical runs: the floor, not zero.
        let same: Vec<Record> = (1..6).map(|i| shifted(i, 0.0)).collect();
        let r = sigma(&same, &shifted(0, 0.0), 0.95);
        assert_eq!(r.sigma, run_to_run::SIGMA_FLOOR);
    }

    #[test]
    fn runs_sharing_no_case_or_of_another_meter_do_not_count() {
        let other = rec("o", Backend::Estimate, &[("b::q::z::x", 1.0)]);
        let rapl = rec("r", Backend::Perf, &[("b::p::a::x", 1e-6)]);
        let r = sigma(&[other, rapl], &shifted(0, 0.0), 0.95);
        assert_eq!(r.runs, 1);
    }

    #[test]
    fn a_malformed_line_is_skipped_with_a_warning() {
        let good = serde_json::to_string(&shifted(1, 0.0)).unwrap();
        let text = format!("{good}\n{{\"run_id\": 3\nnot json at all\n\n{good}\n");
        let (records, warnings) = parse(&text, Path::new("h.jsonl"));
        assert_eq!(records.len(), 2);
        assert_eq!(warnings.len(), 2, "{warnings:?}");
        assert!(warnings[0].contains("h.jsonl line 2"), "{}", warnings[0]);
        assert!(warnings[1].contains("line 3"), "{}", warnings[1]);
    }

    #[test]
    fn the_file_keeps_the_last_runs_and_survives_corruption() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("nested").join("k.jsonl");
        for i in 0..KEEP + 5 {
            let (got, warnings) = update(&path, &shifted(i, 0.0), true).unwrap();
            assert_eq!(got.len(), i.min(KEEP));
            assert!(warnings.is_empty());
        }
        let (records, _) = read(&path).unwrap();
        assert_eq!(records.len(), KEEP);
        assert_eq!(records[0].run_id, "r5");
        assert_eq!(records[KEEP - 1].run_id, format!("r{}", KEEP + 4));
        // A torn or garbled line (and bytes that are not UTF-8) fails nothing: skipped, warned,
        // and dropped from the rewritten file.
        let mut f = fs::OpenOptions::new().append(true).open(&path).unwrap();
        f.write_all(b"{\"run_id\":\"torn\",\"med\n\xff\xfe garbage\n")
            .unwrap();
        drop(f);
        let (got, warnings) = update(&path, &shifted(99, 0.0), true).unwrap();
        assert_eq!(got.len(), KEEP);
        assert_eq!(warnings.len(), 2, "{warnings:?}");
        let (records, warnings) = read(&path).unwrap();
        assert!(warnings.is_empty());
        assert_eq!(records.last().unwrap().run_id, "r99");
        // Not appending (an interrupted run) reads and leaves the file alone.
        let before = fs::read(&path).unwrap();
        update(&path, &shifted(100, 0.0), false).unwrap();
        assert_eq!(fs::read(&path).unwrap(), before);
    }

    #[test]
    fn describe_says_where_sigma_came_from() {
        let r = |sigma, source, runs| RunToRun {
            sigma,
            source,
            runs,
            meter: Backend::Estimate,
        };
        assert_eq!(
            describe(&r(0.018, RunToRunSource::History, 12)),
            "σ 1.8% over the last 12 runs on this machine"
        );
        assert_eq!(
            describe(&r(0.02, RunToRunSource::Prior, 3)),
            "σ 2.0%, the estimate meter's prior: 3 runs of history here, 5 needed"
        );
        assert_eq!(
            describe(&r(0.02, RunToRunSource::Prior, 1)),
            "σ 2.0%, the estimate meter's prior: no run history here"
        );
    }
}
