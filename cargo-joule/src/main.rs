//! `cargo joule`: discover, build and run the JouleTrace energy benches of a workspace, compare
//! them with a baseline, and exit with a status CI can gate on.
//!
//! The binary parses the command line ([`cli`]), resolves it with the manifests and the
//! environment into one `RunConfig` ([`settings`]), finds and builds the bench binaries
//! (`jouletrace::cargo`), and hands them all to one `jouletrace::engine::run`. Everything
//! it measures and judges comes from the library; this crate adds cargo integration, files, and
//! exit statuses ([`exit`]). Usage and CI set-up: `docs/cli.md`, `docs/ci.md`.

mod cli;
mod commands;
mod doctor;
mod exit;
mod output;
mod settings;
mod signal;
mod views;

use std::process::ExitCode;

use clap::Parser;

use crate::cli::{Cargo, Command};
use crate::exit::Status;

fn main() -> ExitCode {
    let mut argv: Vec<std::ffi::OsString> = std::env::args_os().collect();
    // Cargo runs `cargo-joule joule ARGS…`; run directly, the binary gets `cargo-joule ARGS…`.
    if argv.get(1).is_none_or(|a| a != "joule") {
        argv.insert(1, "joule".into());
    }
    let Cargo::Joule(joule) = match Cargo::try_parse_from(argv) {
        Ok(c) => c,
        Err(e) => {
            // `--help` and `--version` are not errors; everything else is a usage error (2).
            let _ = e.print();
            return ExitCode::from(if e.use_stderr() {
                Status::Usage.code()
            } else {
                0
            });
        }
    };
    let out = &joule.output;
    let result = match &joule.command {
        None => commands::run::run(&joule.run, out),
        Some(Command::Run(args)) => commands::run::run(args, out),
        Some(Command::List(args)) => commands::list::list(args, out),
        Some(Command::Doctor(args)) => doctor::doctor(args.json),
        Some(Command::Compare(args)) => commands::compare::compare(args, out),
        Some(Command::Report(args)) => commands::report::report(args, out),
        Some(Command::Merge(args)) => commands::merge::merge(args, out),
        Some(Command::Measure(args)) => commands::measure::measure(args, out),
    };
    match result {
        Ok(status) => status.into(),
        Err(failure) => {
            eprintln!("error: {:#}", failure.error);
            failure.status.into()
        }
    }
}
