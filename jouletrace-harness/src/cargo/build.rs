//! Building the bench binaries through cargo, as cargo would show it.
//!
//! `cargo bench --no-run --message-format=json-render-diagnostics` builds exactly the selected
//! bench targets; compiler diagnostics arrive pre-rendered and are printed as cargo prints them,
//! and the artifacts name the executables. `--no-run` also reports the test harnesses of library
//! targets it builds along the way, so only artifacts of bench targets we asked for are kept.

use std::io::BufReader;
use std::process::{Command, Stdio};

use cargo_metadata::{Message, TargetKind};

use super::{CargoError, Selection, Workspace};
use crate::engine::Target;
use crate::report::ColorChoice;

/// How cargo's own output is shown while it builds.
#[derive(Clone, Copy, Debug, Default)]
pub struct BuildOutput {
    /// `cargo --quiet`.
    pub quiet: bool,
    pub color: ColorChoice,
}

/// Builds the bench targets of `ws` with the features and profile of `args`; returns one target
/// per bench executable, sorted by label. Compiler diagnostics go to stderr as cargo renders them.
pub fn build(
    ws: &Workspace,
    args: &Selection,
    out: BuildOutput,
) -> Result<Vec<Target>, CargoError> {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let mut cmd = Command::new(cargo);
    cmd.args([
        "bench",
        "--no-run",
        "--message-format=json-render-diagnostics",
    ])
    .arg("--manifest-path")
    .arg(ws.root_manifest())
    .arg("--profile")
    .arg(&args.profile)
    .arg("--target-dir")
    .arg(&ws.target_dir);
    for p in &ws.packages {
        cmd.arg("-p").arg(&p.name);
    }
    let mut benches: Vec<&str> = ws
        .packages
        .iter()
        .flat_map(|p| p.benches.iter().map(String::as_str))
        .collect();
    benches.sort_unstable();
    benches.dedup();
    for b in benches {
        cmd.arg("--bench").arg(b);
    }
    for f in &args.features {
        cmd.arg("--features").arg(f);
    }
    if args.all_features {
        cmd.arg("--all-features");
    }
    if args.no_default_features {
        cmd.arg("--no-default-features");
    }
    if out.quiet {
        cmd.arg("--quiet");
    }
    match out.color {
        ColorChoice::Auto => {}
        ColorChoice::Always => {
            cmd.arg("--color=always");
        }
        ColorChoice::Never => {
            cmd.arg("--color=never");
        }
    }
    cmd.stdout(Stdio::piped()).stderr(Stdio::inherit());
    let mut child = cmd.spawn().map_err(CargoError::Spawn)?;
    let stdout = child.stdout.take().expect("stdout is piped");

    let mut targets = Vec::new();
    let mut success = None;
    for message in Message::parse_stream(BufReader::new(stdout)) {
        match message.map_err(CargoError::Messages)? {
            Message::CompilerMessage(m) => {
                if let Some(rendered) = m.message.rendered {
                    eprint!("{rendered}");
                }
            }
            Message::CompilerArtifact(a) => {
                let Some(exe) = a.executable else { continue };
                if !a.target.is_kind(TargetKind::Bench) {
                    continue;
                }
                let Some(pkg) = ws.packages.iter().find(|p| p.id == a.package_id) else {
                    continue;
                };
                if !pkg.benches.contains(&a.target.name) {
                    continue;
                }
                targets.push(
                    Target::bench(
                        exe.into_std_path_buf(),
                        format!("{}/{}", pkg.name, a.target.name),
                    )
                    .with_cwd(pkg.root.clone()),
                );
            }
            Message::BuildFinished(f) => success = Some(f.success),
            Message::TextLine(line) => eprintln!("{line}"),
            _ => {}
        }
    }
    let status = child.wait().map_err(CargoError::Messages)?;
    if !status.success() || success == Some(false) {
        return Err(CargoError::Build { status });
    }
    targets.sort_by(|a, b| a.label.cmp(&b.label));
    targets.dedup_by(|a, b| a.label == b.label);
    if targets.is_empty() {
        return Err(CargoError::NoExecutables);
    }
    Ok(targets)
}
