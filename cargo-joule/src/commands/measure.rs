//! `cargo joule measure FILE`: candidates given as the service's request bodies (Python, or Rust
//! source with `"language": "rust"`), checked and measured by the same engine, with the same
//! reports, baselines and exit statuses as `cargo joule`.
//!
//! FILE holds one request body (a JSON object), a JSON array of them, or JSON Lines (one body
//! per line; blank lines skipped); `-` reads stdin. Every invalid field of every request is
//! reported before anything runs (exit status 2), in the service's words. Each request's
//! `timeout_seconds`, `memory_limit_mb`, `energy_measurement_trials` (a floor on samples) and
//! `warmup_trials` apply to its candidate, as `#[joule_bench(...)]` options do; the other
//! settings come from `JOULETRACE_*` and the flags. See `docs/python.md` and
//! `docs/rust-candidates.md`: Rust candidates are compiled in the sandbox (cached in
//! `JOULETRACE_BUILD_CACHE`), and one that does not compile is reported as `compile_error`.

use std::io::Read;
use std::path::{Path, PathBuf};

use anyhow::{Context, anyhow};
use clap::Args;
use jouletrace::config::{Layer, host_layered, layered};
use jouletrace::engine::{self, CancelToken, RunContext};
use jouletrace::job::{Job, Language, MeasureRequest};
use jouletrace::python::{HostFiles, Interpreter};
use jouletrace::rust_source::{self, Builder, BuilderOptions};
use serde_json::value::RawValue;

use crate::cli::{BaselineArgs, MeasureArgs, OutputArgs, SelectArgs};
use crate::exit::{CliResult, Failure};
use crate::output::Printer;
use crate::views::{self, Export};
use crate::{settings, signal};

#[derive(Args, Debug, Clone)]
pub struct MeasureFileArgs {
    /// Request bodies: one JSON object, a JSON array of them, or JSON Lines; `-` for stdin
    #[arg(value_name = "FILE")]
    pub file: PathBuf,
    /// Python interpreter running the candidates [default: $JOULETRACE_PYTHON, else python3]
    #[arg(long, value_name = "PATH")]
    pub python: Option<PathBuf>,
    /// Directory for results and baselines (results in DIR/joule/)
    #[arg(
        long,
        value_name = "DIR",
        env = "CARGO_TARGET_DIR",
        hide_env_values = true,
        default_value = "target"
    )]
    pub target_dir: PathBuf,
    #[command(flatten)]
    pub select: SelectArgs,
    #[command(flatten)]
    pub measure: MeasureArgs,
    #[command(flatten)]
    pub baseline: BaselineArgs,
    /// Also write an export: `bmf=PATH`, `junit=PATH`, `markdown=PATH`, `html=PATH` or
    /// `json=PATH`; repeatable
    #[arg(long = "export", value_name = "FORMAT=PATH", help_heading = "Output")]
    pub export: Vec<String>,
}

pub fn measure(args: &MeasureFileArgs, out: &OutputArgs) -> CliResult {
    let mut printer = Printer::new(out);
    let requests = read_requests(&args.file).map_err(Failure::usage)?;
    // `host_class` routes a job to a fleet's agents; a local run measures on this machine.
    if let Some((at, class)) = requests
        .iter()
        .find_map(|(at, r)| r.host_class.as_ref().map(|c| (at, c)))
    {
        printer.warn(&format!(
            "{at}: host_class {class} is ignored: it routes a job to the service's agents of \
             that class, and `cargo joule measure` measures on this machine"
        ));
    }
    let job = Job::from_located(requests).map_err(Failure::usage)?;
    let exports = args
        .export
        .iter()
        .map(|e| e.parse::<Export>())
        .collect::<Result<Vec<_>, _>>()?;
    let base = super::run::load_baseline(&args.target_dir, &args.baseline)?;
    let env = Layer::from_env(std::env::vars())?;
    let flags = settings::flag_layer(&args.measure)?;
    let mut config = layered(&[&env, &flags])?;
    let host = host_layered(&[&env, &flags]);
    config.measure = !args.measure.no_measure;
    settings::apply_selection(&mut config, &args.select);
    let label = args
        .file
        .file_name()
        .map_or_else(|| "stdin".to_owned(), |n| n.to_string_lossy().into_owned());
    let mut targets = Vec::new();
    // The code under test is Python and/or Rust built here: the interpreter is recorded in
    // `run.hosts`, the rustc that built Rust candidates as the run's rustc; no workspace commit.
    let mut context = RunContext {
        command_line: std::env::args().collect(),
        ..RunContext::new(&host)
    };

    // Python: the host script and the job live in a private directory for the run's length.
    let mut _python_files = None;
    if let Some(python_job) = job.only(Language::Python) {
        let chosen = Interpreter::find_runnable(args.python.as_deref(), &config.sandbox)
            .map_err(Failure::usage)?;
        if let Some(note) = &chosen.note {
            printer.warn(note);
        }
        let python = chosen.interpreter;
        let files = HostFiles::write(&python_job).map_err(Failure::usage)?;
        printer.say(
            1,
            &format!(
                "      Python {} ({}), {} candidate(s) in {} problem(s)",
                python.version,
                python.path.display(),
                python_job.candidates.len(),
                python_job.cases.len()
            ),
        );
        targets.push(files.target(&python, label.clone()));
        _python_files = Some(files);
    }

    // Rust: every candidate compiled alone in the sandbox, the glue of those that compiled
    // linked once; the binary and the job file live for the run's length.
    let mut prepared = None;
    if let Some(rust_job) = job.only(Language::Rust) {
        let builder = Builder::new(BuilderOptions::from_config(&config)).map_err(Failure::usage)?;
        printer.say(
            1,
            &format!(
                "    Building {} Rust candidate(s) with {} (cache {})",
                rust_job.candidates.len(),
                builder.toolchain().version,
                builder.cache_dir().display()
            ),
        );
        let p = rust_source::prepare(&rust_job, &builder, &format!("{label} (rust)"))
            .map_err(Failure::usage)?;
        for r in &p.refused {
            let first = r.message.lines().next().unwrap_or_default();
            printer.warn(&format!("{}: {}: {first}", r.id, r.kind.as_str()));
        }
        context.rustc = Some(p.rustc.clone());
        targets.extend(p.target.clone());
        prepared = Some(p);
    }

    let cancel = CancelToken::new();
    signal::cancel_on_interrupt(&cancel)?;
    let mut results = if printer.json() {
        engine::run(&targets, &config, &context, &mut printer, &cancel).map_err(Failure::engine)?
    } else {
        let mut progress = views::progress(out.quiet > 0);
        engine::run(&targets, &config, &context, &mut progress, &cancel).map_err(Failure::engine)?
    };
    if let Some(p) = &prepared {
        p.record(&mut results);
    }
    super::run::finish(
        &printer,
        results,
        &args.target_dir,
        &args.baseline,
        base,
        &exports,
        &cancel,
    )
}

/// The requests of `path`, each with its location (`file:line`), or every error of every
/// request.
fn read_requests(path: &Path) -> anyhow::Result<Vec<(String, MeasureRequest)>> {
    let (name, text) = if path == Path::new("-") {
        let mut text = String::new();
        std::io::stdin()
            .read_to_string(&mut text)
            .context("cannot read requests from stdin")?;
        ("stdin".to_owned(), text)
    } else {
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("cannot read {}", path.display()))?;
        (path.display().to_string(), text)
    };
    let bodies = split_bodies(&name, &text)?;
    if bodies.is_empty() {
        return Err(anyhow!("{name}: no requests"));
    }
    let mut requests = Vec::new();
    let mut problems = Vec::new();
    for (location, body) in bodies {
        match MeasureRequest::from_raw(&body) {
            Ok(r) => requests.push((location, r)),
            Err(errors) => {
                problems.extend(errors.errors.iter().map(|e| format!("{location}: {e}")))
            }
        }
    }
    if problems.is_empty() {
        Ok(requests)
    } else {
        Err(anyhow!(
            "{} invalid field(s); nothing was run:\n  {}",
            problems.len(),
            problems.join("\n  ")
        ))
    }
}

/// One JSON document (an object, or an array of objects), else JSON Lines.
fn split_bodies(name: &str, text: &str) -> anyhow::Result<Vec<(String, Box<RawValue>)>> {
    if let Ok(whole) = serde_json::from_str::<Box<RawValue>>(text) {
        let trimmed = whole.get().trim_start();
        if trimmed.starts_with('[') {
            let items: Vec<Box<RawValue>> = serde_json::from_str(whole.get())?;
            return Ok(items
                .into_iter()
                .enumerate()
                .map(|(i, b)| (format!("{name}[{i}]"), b))
                .collect());
        }
        return Ok(vec![(name.to_owned(), whole)]);
    }
    let mut bodies = Vec::new();
    for (i, line) in text.lines().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        let location = format!("{name}:{}", i + 1);
        let body = serde_json::from_str::<Box<RawValue>>(line).map_err(|e| {
            anyhow!("{location}: not a JSON request body ({e}); expected one JSON object per line")
        })?;
        bodies.push((location, body));
    }
    Ok(bodies)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_body_an_array_or_json_lines() {
        let one = split_bodies("f", "{\"a\": 1}\n").unwrap();
        assert_eq!(one.len(), 1);
        assert_eq!(one[0].0, "f");
        let array = split_bodies("f", "[{\"a\": 1}, {\"a\": 2}]").unwrap();
        assert_eq!(array[1].0, "f[1]");
        let lines = split_bodies("f", "{\"a\": 1}\n\n{\"a\": 2}\n").unwrap();
        assert_eq!(lines[1].0, "f:3");
        let bad = split_bodies("f", "{\"a\": 1}\n{oops\n").unwrap_err();
        assert!(
            bad.to_string().starts_with("f:2: not a JSON request body"),
            "{bad}"
        );
    }
}
