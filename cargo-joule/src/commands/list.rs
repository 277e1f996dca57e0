//! `cargo joule list`: the candidates a run with the same flags would check and measure.
//!
//! Each bench binary lists its candidates through the libtest `--list` interface that every
//! JouleTrace harness answers (`problem::name: test`); the name filters and the partition are then
//! applied exactly as the engine applies them ([`jouletrace::config::RunConfig::partitioned`]).

use std::process::Command;

use anyhow::{Context, bail};
use jouletrace::config::RunConfig;
use jouletrace::engine::Event;

use crate::cli::{ListArgs, OutputArgs};
use crate::exit::{CliResult, Failure, Status};
use crate::output::Printer;
use crate::settings;
use jouletrace::cargo;

pub fn list(args: &ListArgs, out: &OutputArgs) -> CliResult {
    let printer = Printer::new(out);
    let selection = args.cargo.selection();
    let ws = cargo::discover(&selection)?;
    let targets = cargo::build(&ws, &selection, out.build_output())?;
    let mut config = RunConfig::default();
    settings::apply_selection(&mut config, &args.select);

    let mut all: Vec<(String, String)> = Vec::new();
    let mut ignored: Vec<String> = Vec::new();
    for t in &targets {
        let listed = |extra: &[&str]| -> Result<Vec<String>, Failure> {
            let mut cmd = Command::new(&t.program);
            cmd.arg("--list").args(extra);
            if let Some(cwd) = &t.cwd {
                cmd.current_dir(cwd);
            }
            let output = cmd
                .output()
                .with_context(|| format!("cannot run {} --list", t.program.display()))
                .map_err(Failure::usage)?;
            if !output.status.success() {
                return Err(Failure::usage(anyhow::anyhow!(
                    "{} --list failed ({}): {}",
                    t.label,
                    output.status,
                    String::from_utf8_lossy(&output.stderr).trim()
                )));
            }
            parse_list(&String::from_utf8_lossy(&output.stdout)).map_err(Failure::usage)
        };
        for id in listed(&[])? {
            all.push((id, t.label.clone()));
        }
        // libtest's `--list --ignored` lists only the candidates marked `ignore`.
        ignored.extend(listed(&["--ignored"])?);
    }
    let selected = config.partitioned(all.iter().map(|(id, _)| id.as_str()));
    // A run checks an ignored candidate only with --include-ignored: otherwise say so.
    let skipped = |id: &str| !config.include_ignored && ignored.iter().any(|i| i == id);
    for id in &selected {
        let label = all
            .iter()
            .find(|(i, _)| i == id)
            .map_or("", |(_, l)| l.as_str());
        if printer.json() {
            printer.emit(&Event::Candidate {
                id: (*id).to_owned(),
                binary: label.to_owned(),
                ignored: skipped(id),
            });
        } else if skipped(id) {
            println!("{id}    ({label})    ignored");
        } else {
            println!("{id}    ({label})");
        }
    }
    if !printer.json() && out.quiet == 0 {
        let n = selected.iter().filter(|id| skipped(id)).count();
        if n > 0 {
            eprintln!(
                "{} candidates, {n} ignored (not run unless --include-ignored)",
                selected.len()
            );
        } else {
            eprintln!("{} candidates", selected.len());
        }
    }
    Ok(Status::Ok)
}

/// The ids in libtest `--list` output (`[kind] name: test` lines), once each.
fn parse_list(text: &str) -> anyhow::Result<Vec<String>> {
    let mut ids = Vec::new();
    for line in text.lines().map(str::trim).filter(|l| !l.is_empty()) {
        let Some((name, kind)) = line.rsplit_once(": ") else {
            // libtest ends a human-format list with a count line ("3 tests, 0 benchmarks").
            if line.ends_with("benchmarks") {
                continue;
            }
            bail!("unexpected line in --list output: `{line}`");
        };
        if !matches!(kind, "test" | "bench" | "benchmark") {
            bail!("unexpected line in --list output: `{line}`");
        }
        let name = match name.strip_prefix('[').and_then(|r| r.split_once("] ")) {
            Some((_, rest)) => rest,
            None => name,
        };
        if !ids.iter().any(|i| i == name) {
            ids.push(name.to_owned());
        }
    }
    Ok(ids)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_libtest_lists() {
        let text = "sort::std_sort: test\n[energy] sort::std_sort: bench\nsort::bubble: test\n\n2 tests, 1 benchmarks\n";
        assert_eq!(
            parse_list(text).unwrap(),
            vec!["sort::std_sort", "sort::bubble"]
        );
        assert!(parse_list("garbage").is_err());
    }
}
