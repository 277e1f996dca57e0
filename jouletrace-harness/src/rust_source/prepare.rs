//! A job's Rust candidates turned into one engine target: each candidate's signature checked
//! and its root compiled alone (in parallel, cached), the glue of those that compiled linked
//! once, the job file written beside it. Candidates that did not get through are kept as
//! `compile_error` results ([`Prepared::record`]), never a service error.

use std::path::{Path, PathBuf};

use super::codegen::{self, GlueCandidate};
use super::compile::{Binary, BuildError, Builder, CompileFailure, CompileFailureKind, Rlib};
use super::signature::{self, Signature, SignatureError};
use crate::engine::Target;
use crate::job::{Comparison, Job, JobCandidate, Language};
use crate::protocol::{METERING_ENV, WORKER_ARG};
use crate::results::{
    CandidateResult, CaseRecord, CheckRecord, Failure, ProblemResult, RunResults, Status,
};

/// A candidate that will not run: why, in the compiler's words where it has them.
#[derive(Clone, Debug, PartialEq)]
pub struct Refused {
    pub id: String,
    pub problem: String,
    pub name: String,
    pub location: String,
    /// What stopped it: `compile_error` (also for a signature the glue cannot call), `timeout`,
    /// `memory_limit` or `output_limit` of the compiler.
    pub kind: CompileFailureKind,
    pub message: String,
}

/// The engine target of a job's Rust candidates, and those that did not compile.
#[derive(Debug)]
pub struct Prepared {
    /// `None` when no candidate compiled (the run then has nothing of them to check).
    pub target: Option<Target>,
    pub refused: Vec<Refused>,
    /// `rustc -V` of the compiler every candidate was built with: the results' `rustc`.
    pub rustc: String,
    /// The cases of the refused candidates' problems, for problems with no other candidate.
    cases: Vec<(String, Vec<CaseRecord>)>,
    /// Pins the binary's cache entry against eviction for the run's length.
    _binary: Option<Binary>,
    /// The job file and the workers' directory, removed on drop: keep it for the run's length.
    _dir: tempfile::TempDir,
}

#[derive(Debug, thiserror::Error)]
pub enum PrepareError {
    #[error(
        "candidate `{0}`: a `custom` comparison runs a validator in Python; Rust candidates take \
         `predecessor`, `lenient`, `exact` or `tolerance`"
    )]
    CustomComparison(String),
    #[error("building the job's Rust candidates: {0}")]
    Build(#[from] BuildError),
    #[error("writing the job file in {dir}: {source}")]
    Write {
        dir: PathBuf,
        #[source]
        source: std::io::Error,
    },
}

/// Builds the Rust candidates of `job` (its other candidates are left alone) with `builder`
/// and returns the target that runs them, labelled `label`.
pub fn prepare(job: &Job, builder: &Builder, label: &str) -> Result<Prepared, PrepareError> {
    let rust = job.only(Language::Rust).unwrap_or_else(|| Job {
        candidates: Vec::new(),
        ..job.clone()
    });
    for c in &rust.candidates {
        if matches!(rust.comparison_for(c), Comparison::Custom { .. }) {
            return Err(PrepareError::CustomComparison(c.id.clone()));
        }
    }
    let outcomes = compile_all(&rust.candidates, builder);
    let mut refused = Vec::new();
    let mut compiled: Vec<(&JobCandidate, Signature, Rlib)> = Vec::new();
    for (c, outcome) in rust.candidates.iter().zip(outcomes) {
        match outcome {
            Ok((sig, rlib)) => compiled.push((c, sig, rlib)),
            Err(failure) => refused.push(Refused {
                id: c.id.clone(),
                problem: c.problem.clone(),
                name: c.name.clone(),
                location: c.location.clone(),
                kind: failure.kind,
                message: failure.message,
            }),
        }
    }
    let dir = tempfile::Builder::new()
        .prefix("jouletrace-rust-")
        .tempdir()
        .map_err(|source| PrepareError::Write {
            dir: std::env::temp_dir(),
            source,
        })?;
    let rustc = builder.toolchain().version.clone();
    let cases = rust
        .cases
        .iter()
        .map(|(p, cs)| {
            let records = cs
                .iter()
                .map(|c| CaseRecord {
                    id: c.id.clone(),
                    size: c.size,
                    measured: c.measured,
                })
                .collect();
            (p.clone(), records)
        })
        .collect();
    if compiled.is_empty() {
        return Ok(Prepared {
            target: None,
            refused,
            rustc,
            cases,
            _binary: None,
            _dir: dir,
        });
    }
    // Only what compiled goes into the job file the binary reads.
    let ran = Job {
        candidates: compiled.iter().map(|(c, _, _)| (*c).clone()).collect(),
        ..rust.clone()
    };
    let glue = codegen::glue_root(
        &compiled
            .iter()
            .map(|(c, sig, rlib)| GlueCandidate {
                id: &c.id,
                problem: &c.problem,
                name: &c.name,
                location: &c.location,
                options: c.options,
                crate_name: &rlib.crate_name,
                signature: sig,
            })
            .collect::<Vec<_>>(),
    );
    // Equal submissions share one crate: link each once.
    let mut rlibs: Vec<Rlib> = Vec::new();
    for (_, _, rlib) in &compiled {
        if !rlibs.iter().any(|r| r.crate_name == rlib.crate_name) {
            rlibs.push(rlib.clone());
        }
    }
    let binary = builder.link(&glue, &rlibs)?;
    let job_path = dir.path().join("job.json");
    std::fs::write(&job_path, ran.to_json()).map_err(|source| PrepareError::Write {
        dir: dir.path().to_owned(),
        source,
    })?;
    let target = Target::for_job(&binary.path, [WORKER_ARG], &job_path, label)
        .with_env(METERING_ENV, "orchestrator")
        .with_cwd(dir.path());
    Ok(Prepared {
        target: Some(target),
        refused,
        rustc,
        cases,
        _binary: Some(binary),
        _dir: dir,
    })
}

/// Every candidate's signature checked and root compiled, on as many threads as there are
/// CPUs (each compile is one sandboxed rustc).
fn compile_all(
    candidates: &[JobCandidate],
    builder: &Builder,
) -> Vec<Result<(Signature, Rlib), CompileFailure>> {
    let threads = std::thread::available_parallelism()
        .map_or(1, usize::from)
        .clamp(1, candidates.len().max(1));
    let mut out: Vec<Option<Result<(Signature, Rlib), CompileFailure>>> =
        (0..candidates.len()).map(|_| None).collect();
    let next = std::sync::atomic::AtomicUsize::new(0);
    let results = std::sync::Mutex::new(&mut out);
    std::thread::scope(|s| {
        for _ in 0..threads {
            s.spawn(|| {
                loop {
                    let i = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                    let Some(c) = candidates.get(i) else { break };
                    let r = compile_one(c, builder);
                    results.lock().unwrap_or_else(|e| e.into_inner())[i] = Some(r);
                }
            });
        }
    });
    out.into_iter()
        .map(|r| r.expect("every candidate was compiled"))
        .collect()
}

fn compile_one(c: &JobCandidate, builder: &Builder) -> Result<(Signature, Rlib), CompileFailure> {
    let sig = match signature::parse(&c.code, &c.entry) {
        Ok(sig) => sig,
        Err(SignatureError::Syntax(why)) => {
            // The compiler says what is wrong far better than the parser: ask it.
            let name = codegen::crate_name(&c.code);
            return Err(match builder.candidate(&name, &c.code) {
                Err(failure) => failure,
                Ok(_) => failure(format!("the source does not parse: {why}")),
            });
        }
        Err(e) => return Err(failure(e.to_string())),
    };
    let root = codegen::candidate_root(&c.code, &sig);
    let rlib = builder.candidate(&codegen::crate_name(&root), &root)?;
    Ok((sig, rlib))
}

fn failure(message: String) -> CompileFailure {
    CompileFailure {
        kind: CompileFailureKind::CompileError,
        message,
    }
}

impl Prepared {
    /// Adds the refused candidates to `results` as failed candidates of their problems
    /// (status `compile_error`, the message as the failure's; a compiler timeout or limit is
    /// named in the message), like any candidate that failed its check.
    pub fn record(&self, results: &mut RunResults) {
        record(&self.refused, &self.cases, results);
    }

    /// Where the job file and the workers' directory are.
    pub fn dir(&self) -> &Path {
        self._dir.path()
    }
}

fn record(refused: &[Refused], cases: &[(String, Vec<CaseRecord>)], results: &mut RunResults) {
    for r in refused {
        let message = match r.kind {
            CompileFailureKind::CompileError => r.message.clone(),
            other => format!(
                "the compiler hit its {} limit: {}",
                other.as_str(),
                r.message
            ),
        };
        let failure = Failure::new(Status::CompileError, None, message);
        let result = CandidateResult {
            id: r.id.clone(),
            name: r.name.clone(),
            location: r.location.clone(),
            binary: None,
            status: Status::CompileError,
            check: CheckRecord {
                status: Status::CompileError,
                cases_passed: 0,
                duration_s: 0.0,
                start_s: None,
                end_s: None,
                cpu: None,
                failure: Some(failure),
                stdout: Default::default(),
                stderr: Default::default(),
                verdicts: Vec::new(),
            },
            measurements: Vec::new(),
            threshold: None,
        };
        let problem = match results
            .problems
            .iter_mut()
            .position(|p| p.name == r.problem)
        {
            Some(i) => &mut results.problems[i],
            None => {
                results.problems.push(ProblemResult {
                    name: r.problem.clone(),
                    cases: cases
                        .iter()
                        .find(|(p, _)| *p == r.problem)
                        .map(|(_, c)| c.clone())
                        .unwrap_or_default(),
                    candidates: Vec::new(),
                    rankings: Vec::new(),
                });
                results.problems.last_mut().expect("just pushed")
            }
        };
        // After the candidates the engine ordered, as failed candidates come.
        problem.candidates.push(result);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn refused(problem: &str, name: &str, kind: CompileFailureKind) -> Refused {
        Refused {
            id: format!("{problem}::{name}"),
            problem: problem.into(),
            name: name.into(),
            location: "r.jsonl:3".into(),
            kind,
            message: "error[E0425]: cannot find value `x` in this scope".into(),
        }
    }

    #[test]
    fn refused_candidates_join_their_problem_as_compile_errors() {
        let path = concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/tests/fixtures/results/estimated.json"
        );
        let mut results = RunResults::load(std::path::Path::new(path)).unwrap();
        let before: Vec<String> = results.candidates().map(|c| c.id.clone()).collect();
        let cases = vec![(
            "fresh".to_owned(),
            vec![CaseRecord {
                id: "t1".into(),
                size: Some(3),
                measured: true,
            }],
        )];
        record(
            &[
                refused("sort", "typo", CompileFailureKind::CompileError),
                refused("fresh", "slow_compile", CompileFailureKind::Timeout),
            ],
            &cases,
            &mut results,
        );
        let sort = results.problems.iter().find(|p| p.name == "sort").unwrap();
        let last = sort.candidates.last().unwrap();
        assert_eq!(
            (last.id.as_str(), last.status, last.check.status),
            ("sort::typo", Status::CompileError, Status::CompileError)
        );
        let failure = last.check.failure.as_ref().unwrap();
        assert_eq!(failure.kind, Status::CompileError);
        assert!(failure.message.starts_with("error[E0425]"));
        assert!(last.measurements.is_empty() && last.status.is_failure());
        // The engine's order is kept; the new problem comes with its cases.
        let after: Vec<String> = results
            .candidates()
            .map(|c| c.id.clone())
            .filter(|id| id != "sort::typo" && id != "fresh::slow_compile")
            .collect();
        assert_eq!(after, before);
        let fresh = results.problems.last().unwrap();
        assert_eq!(fresh.name, "fresh");
        assert_eq!(fresh.cases.len(), 1);
        let message = &fresh.candidates[0].check.failure.as_ref().unwrap().message;
        assert!(
            message.starts_with("the compiler hit its timeout limit"),
            "{message}"
        );
    }
}
