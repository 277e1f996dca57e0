//! Building the bench binaries through cargo, as cargo would show it.
//!
//! `cargo bench --no-run --message-format=json-render-diagnostics` builds exactly the selected
//! bench targets; compiler diagnostics arrive pre-rendered and are printed as cargo prints them,
//! and the artifacts name the executables. `--no-run` also reports the test harnesses of library
//! targets it builds along the way, so only artifacts of bench targets we asked for are kept.

use std::io::BufReader;
use std::process::{Command, Stdio};

use anyhow::{Context, bail};
use cargo_metadata::{Message, TargetKind};
use jouletrace::engine::Target;

use crate::cli::{CargoArgs, Color, OutputArgs};
use crate::workspace::Workspace;

pub fn build(ws: &Workspace, args: &CargoArgs, out: &OutputArgs) -> anyhow::Result<Vec<Target>> {
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
    if out.quiet > 0 {
        cmd.arg("--quiet");
    }
    match out.color {
        Color::Auto => {}
        Color::Always => {
            cmd.arg("--color=always");
        }
        Color::Never => {
            cmd.arg("--color=never");
        }
    }
    cmd.stdout(Stdio::piped()).stderr(Stdio::inherit());
    let mut child = cmd
        .spawn()
        .context("cannot start cargo to build the benches")?;
    let stdout = child
        .stdout
        .take()
        .context("cargo's stdout is not captured")?;

    let mut targets = Vec::new();
    let mut success = None;
    for message in Message::parse_stream(BufReader::new(stdout)) {
        match message.context("cannot read cargo's build messages")? {
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
    let status = child.wait().context("cargo did not finish")?;
    if !status.success() || success == Some(false) {
        bail!("could not build the benches (cargo bench --no-run failed: {status})");
    }
    targets.sort_by(|a, b| a.label.cmp(&b.label));
    targets.dedup_by(|a, b| a.label == b.label);
    if targets.is_empty() {
        bail!("cargo built no bench executables for the selected targets");
    }
    Ok(targets)
}
