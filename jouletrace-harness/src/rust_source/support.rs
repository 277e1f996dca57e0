//! The support library: jouletrace itself (with `jouletrace-macros` and every dependency),
//! built once as rlibs that generated glue crates link against.
//!
//! This build is trusted — our own source, our own lock file — so it runs outside the sandbox,
//! with cargo: `cargo build --release --offline --lib` of the jouletrace crate, located by
//! `env!("CARGO_MANIFEST_DIR")` when this library was compiled (overridable:
//! `JOULETRACE_SUPPORT_SOURCE`, or [`SupportSource`]). Cargo's JSON messages name every artifact
//! of the build; the rlibs and proc-macro libraries are copied into
//! `<cache>/support/<key>/deps/` (a copy, not a link: cargo rewrites files in its target
//! directory), readable by the sandbox user, so a glue link needs `--extern
//! jouletrace=<dir>/deps/libjouletrace.rlib -L dependency=<dir>/deps` and nothing else.
//!
//! The key is the SHA-256 of the jouletrace source (its `Cargo.toml`, `build.rs`, `src/`,
//! `templates/`, the sibling `macros/` crate and the workspace's `Cargo.toml` and `Cargo.lock`
//! when present) and of `rustc -vV`: a new version, an edited source or another compiler builds
//! a new support directory. Builders in several processes serialise on
//! `<cache>/support/.lock`; the second finds the first's result.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use sha2::{Digest, Sha256};

use super::BuildError;
use super::cache::{create_public_dir, lock_exclusive};
use super::toolchain::Toolchain;

/// Where the support library's source is and how to build it.
#[derive(Clone, Debug, PartialEq)]
pub struct SupportSource {
    /// The jouletrace crate's directory (the one holding its `Cargo.toml`).
    pub manifest_dir: PathBuf,
    /// cargo (`JOULETRACE_CARGO`, else `CARGO`, else `cargo` on PATH).
    pub cargo: PathBuf,
    /// cargo's target directory for the build; `None`: `<cache>/support/target`. Point it at
    /// a workspace's `target/` to reuse what a release build there already compiled.
    pub target_dir: Option<PathBuf>,
}

impl Default for SupportSource {
    fn default() -> Self {
        let var = |k: &str| std::env::var_os(k).filter(|v| !v.is_empty());
        SupportSource {
            manifest_dir: var("JOULETRACE_SUPPORT_SOURCE")
                .map(PathBuf::from)
                .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR"))),
            cargo: var("JOULETRACE_CARGO")
                .or_else(|| var("CARGO"))
                .map(PathBuf::from)
                .unwrap_or_else(|| PathBuf::from("cargo")),
            target_dir: var("JOULETRACE_SUPPORT_TARGET_DIR").map(PathBuf::from),
        }
    }
}

/// A built support library.
#[derive(Clone, Debug)]
pub struct Support {
    /// `<cache>/support/<key>/`.
    pub dir: PathBuf,
    /// The jouletrace rlib (`--extern jouletrace=…`).
    pub jouletrace: PathBuf,
    /// Every dependency's rlib and proc-macro library (`-L dependency=…`).
    pub deps: PathBuf,
    /// The key (hex SHA-256): part of every glue's cache key.
    pub key: String,
    /// How long this process spent building it (`None`: it was there already).
    pub built_in: Option<Duration>,
}

fn hash_tree(hasher: &mut Sha256, root: &Path, dir: &Path) -> std::io::Result<()> {
    let mut entries: Vec<_> = std::fs::read_dir(dir)?.flatten().collect();
    entries.sort_by_key(|e| e.file_name());
    for e in entries {
        let path = e.path();
        let ty = e.file_type()?;
        if ty.is_dir() {
            hash_tree(hasher, root, &path)?;
        } else if ty.is_file() {
            let rel = path.strip_prefix(root).unwrap_or(&path);
            hasher.update(rel.to_string_lossy().as_bytes());
            hasher.update([0]);
            hasher.update(std::fs::read(&path)?);
            hasher.update([0]);
        }
    }
    Ok(())
}

/// The support key of `source` under `toolchain`.
pub fn key(source: &SupportSource, toolchain: &Toolchain) -> Result<String, BuildError> {
    let dir = &source.manifest_dir;
    let err = |source: std::io::Error| BuildError::Support {
        reason: format!(
            "cannot read the jouletrace source in {}: {source}",
            dir.display()
        ),
    };
    let mut h = Sha256::new();
    h.update(toolchain.verbose_version.as_bytes());
    for file in ["Cargo.toml", "build.rs"] {
        if let Ok(bytes) = std::fs::read(dir.join(file)) {
            h.update(file.as_bytes());
            h.update(bytes);
        }
    }
    hash_tree(&mut h, dir, &dir.join("src")).map_err(err)?;
    if dir.join("templates").is_dir() {
        hash_tree(&mut h, dir, &dir.join("templates")).map_err(err)?;
    }
    if let Some(ws) = dir.parent() {
        let macros = ws.join("macros");
        if macros.join("src").is_dir() {
            hash_tree(&mut h, ws, &macros.join("src")).map_err(err)?;
            if let Ok(b) = std::fs::read(macros.join("Cargo.toml")) {
                h.update(b);
            }
        }
        for file in ["Cargo.toml", "Cargo.lock"] {
            if let Ok(bytes) = std::fs::read(ws.join(file)) {
                h.update(file.as_bytes());
                h.update(bytes);
            }
        }
    }
    Ok(hex(&h.finalize()))
}

pub(super) fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// The support library for `source` under `toolchain`, built into `cache_root` unless there.
pub fn ensure(
    cache_root: &Path,
    toolchain: &Toolchain,
    source: &SupportSource,
) -> Result<Support, BuildError> {
    let key = key(source, toolchain)?;
    let base = cache_root.join("support");
    let dir = base.join(&key[..16]);
    let io = |what: String| {
        move |source: std::io::Error| BuildError::Cache {
            what: what.clone(),
            source,
        }
    };
    create_public_dir(&base).map_err(io(format!("creating {}", base.display())))?;
    let done = |built_in| Support {
        jouletrace: dir.join("deps").join("libjouletrace.rlib"),
        deps: dir.join("deps"),
        dir: dir.clone(),
        key: key.clone(),
        built_in,
    };
    if dir.join(".complete").exists() {
        return Ok(done(None));
    }
    let _lock =
        lock_exclusive(&base.join(".lock")).map_err(io("locking the support build".into()))?;
    if dir.join(".complete").exists() {
        return Ok(done(None));
    }
    let start = Instant::now();
    let artifacts = cargo_build(source, toolchain, &base)?;
    let tmp = base.join(format!(".tmp-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&tmp);
    let deps = tmp.join("deps");
    create_public_dir(&deps).map_err(io(format!("creating {}", deps.display())))?;
    let mut found_jouletrace = false;
    for (crate_name, path) in &artifacts {
        let name = if crate_name == "jouletrace" && path.extension().is_some_and(|e| e == "rlib") {
            found_jouletrace = true;
            "libjouletrace.rlib".into()
        } else {
            path.file_name().unwrap_or_default().to_owned()
        };
        std::fs::copy(path, deps.join(&name)).map_err(io(format!("copying {}", path.display())))?;
    }
    if !found_jouletrace {
        return Err(BuildError::Support {
            reason: "cargo built no jouletrace rlib (no compiler-artifact message named it)".into(),
        });
    }
    std::fs::write(tmp.join(".complete"), format!("{key}\n"))
        .map_err(io("writing the support marker".into()))?;
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::rename(&tmp, &dir).map_err(io(format!("renaming into {}", dir.display())))?;
    prune(&base, &dir);
    Ok(done(Some(start.elapsed())))
}

/// Support directories kept besides the newest: a second version of JouleTrace sharing the
/// cache (a rolling upgrade) keeps its own; older ones (each ~200 MB) go.
const KEEP_OLD_SUPPORT: usize = 1;

/// Removes all but the newest [`KEEP_OLD_SUPPORT`] other support directories (called under the
/// support lock, so no build of them is under way).
fn prune(base: &Path, current: &Path) {
    let Ok(dirs) = std::fs::read_dir(base) else {
        return;
    };
    let mut old: Vec<(std::time::SystemTime, PathBuf)> = dirs
        .flatten()
        .map(|d| d.path())
        .filter(|p| p != current && p.join(".complete").exists())
        .filter_map(|p| Some((std::fs::metadata(&p).ok()?.modified().ok()?, p)))
        .collect();
    old.sort();
    old.reverse();
    for (_, dir) in old.into_iter().skip(KEEP_OLD_SUPPORT) {
        let _ = std::fs::remove_dir_all(dir);
    }
}

/// Runs cargo and returns (crate name, file) of every rlib and proc-macro library it made.
fn cargo_build(
    source: &SupportSource,
    toolchain: &Toolchain,
    base: &Path,
) -> Result<Vec<(String, PathBuf)>, BuildError> {
    let target_dir = source
        .target_dir
        .clone()
        .unwrap_or_else(|| base.join("target"));
    let out = Command::new(&source.cargo)
        .arg("build")
        .args([
            "--release",
            "--offline",
            "--lib",
            "--message-format=json-render-diagnostics",
        ])
        .arg("--manifest-path")
        .arg(source.manifest_dir.join("Cargo.toml"))
        .arg("--target-dir")
        .arg(&target_dir)
        // The compiler the submissions are built with, not whatever the proxy picks here.
        .env("RUSTC", &toolchain.source_rustc)
        .env_remove("RUSTC_WRAPPER")
        .env_remove("RUSTFLAGS")
        .env_remove("CARGO_ENCODED_RUSTFLAGS")
        .stdin(Stdio::null())
        .output()
        .map_err(|e| BuildError::Support {
            reason: format!("cannot run {}: {e}", source.cargo.display()),
        })?;
    if !out.status.success() {
        let stderr = String::from_utf8_lossy(&out.stderr);
        let tail: Vec<&str> = stderr.lines().rev().take(30).collect();
        return Err(BuildError::Support {
            reason: format!(
                "`cargo build --release --offline` of {} failed ({}):\n{}",
                source.manifest_dir.display(),
                out.status,
                tail.into_iter().rev().collect::<Vec<_>>().join("\n")
            ),
        });
    }
    let mut artifacts = Vec::new();
    for line in out.stdout.split(|b| *b == b'\n') {
        let Ok(msg) = serde_json::from_slice::<serde_json::Value>(line) else {
            continue;
        };
        if msg["reason"] != "compiler-artifact" {
            continue;
        }
        let name = msg["target"]["name"]
            .as_str()
            .unwrap_or_default()
            .replace('-', "_");
        for f in msg["filenames"].as_array().into_iter().flatten() {
            let path = PathBuf::from(f.as_str().unwrap_or_default());
            if path.extension().is_some_and(|e| e == "rlib" || e == "so") {
                artifacts.push((name.clone(), path));
            }
        }
    }
    Ok(artifacts)
}
