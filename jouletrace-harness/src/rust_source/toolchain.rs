//! The Rust toolchain that builds submissions, made reachable by the sandbox user.
//!
//! `rustc` on PATH is usually rustup's proxy, which picks a toolchain from the environment and
//! `rust-toolchain` files; a build of untrusted source must not depend on either, so the real
//! compiler is found once (`rustc --print sysroot`, then `<sysroot>/bin/rustc -vV`) and used
//! directly. rustup installs it under `$HOME/.rustup` — for root, under `/root` (mode 0700),
//! which the sandbox user (65534) cannot enter. Rather than loosening `/root`, the files rustc
//! needs (`bin/rustc`, `lib/*.so`, `lib/rustlib/<host>/`) are **hard-linked** into a
//! world-readable directory of the build cache, `<cache>/toolchain/<host>-<commit>/`: no bytes
//! are copied (the same inodes), it takes milliseconds, it needs no mount namespace (so it works
//! wherever the sandbox runs, even with the mount layer missing), and rustc finds its sysroot
//! relative to its own path, so the farm is a complete toolchain. Across filesystems the files
//! are copied instead (about 520 MB, once). When the sysroot is already readable by the sandbox
//! user (a toolchain under `/usr/local`, or JouleTrace not running as root) it is used in place.

use std::path::{Path, PathBuf};
use std::process::Command;

use serde::Serialize;

use super::BuildError;
use crate::pool::sandbox::{self, SandboxPolicy};

/// How the sandbox reaches the toolchain.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ToolchainAccess {
    /// The sysroot itself is readable by the sandbox user.
    InPlace,
    /// A hard-link farm in the build cache (same inodes, no copy).
    HardLinks,
    /// A copy in the build cache (the cache is on another filesystem).
    Copied,
}

/// The compiler every submission is built with.
#[derive(Clone, Debug, Serialize)]
pub struct Toolchain {
    /// `rustc -V`, e.g. `rustc 1.95.0 (59807616e 2026-04-14)`: recorded in results.
    pub version: String,
    /// `rustc -vV` in full (commit hash, host, LLVM): part of every cache key.
    pub verbose_version: String,
    /// The host triple (`x86_64-unknown-linux-gnu`).
    pub host: String,
    /// The sysroot the proxy resolved to (outside the sandbox).
    pub source_sysroot: PathBuf,
    /// The real rustc in `source_sysroot`: what cargo builds the support library with, so
    /// the support rlibs and the submissions come from the same compiler.
    pub source_rustc: PathBuf,
    /// The sysroot the sandbox uses (the farm, or `source_sysroot` in place).
    pub sysroot: PathBuf,
    /// `<sysroot>/bin/rustc`.
    pub rustc: PathBuf,
    /// The C compiler driver rustc links with (`cc`, resolved).
    pub linker: PathBuf,
    pub access: ToolchainAccess,
}

/// What `rustc -vV` says.
struct Version {
    short: String,
    verbose: String,
    host: String,
    commit: String,
}

fn run(program: &Path, args: &[&str]) -> Result<String, BuildError> {
    let out = Command::new(program)
        .args(args)
        .output()
        .map_err(|e| BuildError::Toolchain {
            reason: format!("cannot run `{} {}`: {e}", program.display(), args.join(" ")),
        })?;
    if !out.status.success() {
        return Err(BuildError::Toolchain {
            reason: format!(
                "`{} {}` failed ({}): {}",
                program.display(),
                args.join(" "),
                out.status,
                String::from_utf8_lossy(&out.stderr).trim()
            ),
        });
    }
    Ok(String::from_utf8_lossy(&out.stdout).trim().to_owned())
}

fn version(rustc: &Path) -> Result<Version, BuildError> {
    let verbose = run(rustc, &["-vV"])?;
    let field = |name: &str| {
        verbose
            .lines()
            .find_map(|l| l.strip_prefix(name))
            .map(|v| v.trim().to_owned())
            .unwrap_or_default()
    };
    Ok(Version {
        short: verbose.lines().next().unwrap_or_default().to_owned(),
        host: field("host:"),
        commit: field("commit-hash:"),
        verbose,
    })
}

/// The rustc to ask: `JOULETRACE_RUSTC`, else `rustc` on PATH (rustup's proxy is fine here:
/// it is asked for its sysroot once, outside the sandbox).
pub fn default_rustc() -> PathBuf {
    std::env::var_os("JOULETRACE_RUSTC")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("rustc"))
}

/// `cc` on PATH (or `JOULETRACE_LINKER`), resolved to the real driver.
fn find_linker() -> Result<PathBuf, BuildError> {
    let name = std::env::var_os("JOULETRACE_LINKER").unwrap_or_else(|| "cc".into());
    let name = PathBuf::from(name);
    let found = if name.components().count() > 1 {
        Some(name.clone())
    } else {
        std::env::var_os("PATH").and_then(|paths| {
            std::env::split_paths(&paths)
                .map(|d| d.join(&name))
                .find(|p| p.is_file())
        })
    };
    found
        .and_then(|p| p.canonicalize().ok())
        .ok_or_else(|| BuildError::Toolchain {
            reason: format!(
                "no C linker `{}` on PATH: install gcc (Debian: `apt-get install gcc`) or set \
                 JOULETRACE_LINKER",
                name.display()
            ),
        })
}

impl Toolchain {
    /// Finds the real compiler behind `rustc` and makes it reachable by the sandbox user of
    /// `policy` (a hard-link farm under `cache_dir` when it is not).
    pub fn prepare(
        rustc: &Path,
        cache_dir: &Path,
        policy: &SandboxPolicy,
    ) -> Result<Toolchain, BuildError> {
        let sysroot = PathBuf::from(run(rustc, &["--print", "sysroot"])?);
        let source_rustc = sysroot.join("bin").join("rustc");
        let v = version(&source_rustc)?;
        if v.host.is_empty() {
            return Err(BuildError::Toolchain {
                reason: format!("`{} -vV` names no host", source_rustc.display()),
            });
        }
        let linker = find_linker()?;
        sandbox::runnable(policy, &linker).map_err(|why| BuildError::Toolchain {
            reason: format!(
                "the linker {} is not usable by the sandbox user: {why}",
                linker.display()
            ),
        })?;
        let (farm, access) = if sandbox::runnable(policy, &source_rustc).is_ok()
            && sandbox::runnable(policy, &sysroot.join("lib")).is_ok()
        {
            (sysroot.clone(), ToolchainAccess::InPlace)
        } else {
            let commit: String = v.commit.chars().take(12).collect();
            let dir = cache_dir
                .join("toolchain")
                .join(format!("{}-{}", v.host, commit));
            let access = farm(&sysroot, &v.host, &dir)?;
            (dir, access)
        };
        Ok(Toolchain {
            version: v.short,
            verbose_version: v.verbose,
            host: v.host,
            source_sysroot: sysroot,
            source_rustc,
            rustc: farm.join("bin").join("rustc"),
            sysroot: farm,
            linker,
            access,
        })
    }
}

/// The parts of a sysroot rustc needs to compile and link for the host: the driver, its shared
/// libraries, the host's standard library and linker wrappers (`rust-lld`, `gcc-ld/`).
fn parts(host: &str) -> [PathBuf; 3] {
    [
        PathBuf::from("bin/rustc"),
        PathBuf::from("lib"),
        PathBuf::from("lib/rustlib").join(host),
    ]
}

/// Makes `dir` a farm of `sysroot` (once; concurrent processes wait on a lock and reuse it).
fn farm(sysroot: &Path, host: &str, dir: &Path) -> Result<ToolchainAccess, BuildError> {
    let err = |what: String| {
        move |source: std::io::Error| BuildError::Cache {
            what: what.clone(),
            source,
        }
    };
    let marker = dir.join(".complete");
    let parent = dir.parent().expect("a farm lives in <cache>/toolchain");
    super::cache::create_public_dir(parent)
        .map_err(err(format!("creating {}", parent.display())))?;
    let read_marker = || {
        std::fs::read_to_string(&marker)
            .ok()
            .map(|m| match m.trim() {
                "copied" => ToolchainAccess::Copied,
                _ => ToolchainAccess::HardLinks,
            })
    };
    if let Some(access) = read_marker() {
        return Ok(access);
    }
    let _lock = super::cache::lock_exclusive(&parent.join(".lock"))
        .map_err(err(format!("locking {}", parent.display())))?;
    if let Some(access) = read_marker() {
        return Ok(access);
    }
    let tmp = parent.join(format!(".tmp-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&tmp);
    let mut copied = false;
    for part in parts(host) {
        let from = sysroot.join(&part);
        let to = tmp.join(&part);
        if part.starts_with("lib") && part.components().count() == 1 {
            // `lib/` itself: only its files (the shared libraries), not the whole rustlib.
            super::cache::create_public_dir(&to)
                .map_err(err(format!("creating {}", to.display())))?;
            let entries =
                std::fs::read_dir(&from).map_err(err(format!("reading {}", from.display())))?;
            for entry in entries.flatten() {
                let path = entry.path();
                if path.is_file() {
                    copied |= link_or_copy(&path, &to.join(entry.file_name()))
                        .map_err(err(format!("linking {}", path.display())))?;
                }
            }
        } else {
            copied |= link_tree(&from, &to).map_err(err(format!("linking {}", from.display())))?;
        }
    }
    std::fs::write(
        tmp.join(".complete"),
        if copied { "copied\n" } else { "hard links\n" },
    )
    .map_err(err("writing the farm's marker".into()))?;
    std::fs::rename(&tmp, dir).map_err(err(format!("renaming into {}", dir.display())))?;
    Ok(if copied {
        ToolchainAccess::Copied
    } else {
        ToolchainAccess::HardLinks
    })
}

/// Hard-links (or copies) a file or a directory tree; true when anything had to be copied.
fn link_tree(from: &Path, to: &Path) -> std::io::Result<bool> {
    let meta = std::fs::symlink_metadata(from)?;
    if meta.is_dir() {
        super::cache::create_public_dir(to)?;
        let mut copied = false;
        for entry in std::fs::read_dir(from)? {
            let entry = entry?;
            copied |= link_tree(&entry.path(), &to.join(entry.file_name()))?;
        }
        Ok(copied)
    } else if meta.file_type().is_symlink() {
        let target = std::fs::read_link(from)?;
        std::os::unix::fs::symlink(target, to)?;
        Ok(false)
    } else {
        if let Some(parent) = to.parent() {
            super::cache::create_public_dir(parent)?;
        }
        link_or_copy(from, to)
    }
}

/// A hard link, or a copy (readable by others) where a link is impossible or would be
/// unreadable; true when copied.
fn link_or_copy(from: &Path, to: &Path) -> std::io::Result<bool> {
    use std::os::unix::fs::PermissionsExt;
    let mode = std::fs::metadata(from)?.permissions().mode();
    if mode & 0o004 != 0 && std::fs::hard_link(from, to).is_ok() {
        return Ok(false);
    }
    std::fs::copy(from, to)?;
    let exec = if mode & 0o100 != 0 { 0o755 } else { 0o644 };
    std::fs::set_permissions(to, std::fs::Permissions::from_mode(exec))?;
    Ok(true)
}
