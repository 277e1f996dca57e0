//! The builder: candidate crate roots compiled alone in the sandbox, glue roots linked against
//! the support library in the sandbox, both cached by content hash.
//!
//! ```text
//! candidate:  rustc --edition 2021 --crate-type rlib --crate-name <name> -C opt-level=3
//!             -A warnings --remap-path-prefix <workdir>=  <name>.rs -o lib<name>.rlib
//!             (no --extern, no -L: only std, core, alloc resolve)
//! glue:       rustc --edition 2021 --crate-type bin --crate-name glue -C opt-level=3
//!             -C linker=<cc> --extern jouletrace=<support>/deps/libjouletrace.rlib
//!             -L dependency=<support>/deps --extern <name>=<cache>/…/lib<name>.rlib … glue.rs
//! ```
//! Both run through [`SandboxSpec::run_command`](crate::pool::sandbox::SandboxSpec): the
//! worker sandbox's layers (no network, uid 65534 in its own user namespace, PID/IPC/UTS/mount
//! namespaces, seccomp, rlimits, cgroup) with the *compiler's* Landlock profile — read access
//! to the toolchain, `/usr`, `/lib*`, the loader cache, the work directory and, for a link, the
//! support library and the candidates' rlibs; nothing else of `/etc`, no `/root`, no other
//! cache entry. A wall-clock bound, an address-space and memory-cgroup bound, and an output
//! bound turn a hostile compile into a [`CompileFailure`], never a service error.

use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::cache::{Cache, CacheStats, Entry, EntryMeta, Lookup};
use super::support::{self, Support, SupportSource, hex};
use super::toolchain::{self, Toolchain};
use crate::config::{BuildConfig, RunConfig};
use crate::pool::sandbox::{
    CommandLimits, Finished, Sandbox, SandboxError, SandboxLevel, SandboxPolicy, SandboxSpec,
    SystemAccess, WorkerAccess,
};

/// The bounds of one compile or link.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct BuildLimits {
    /// Wall-clock time (`build_timeout`, default 120 s).
    pub wall: Duration,
    /// Address space per process and memory of the whole compiler process tree
    /// (`build_memory_limit_mb`, default 2 GiB).
    pub memory_bytes: u64,
    /// Compiler output (diagnostics) before the compile is stopped (`build_output_limit_kb`,
    /// default 1 MiB).
    pub output_bytes: u64,
}

impl Default for BuildLimits {
    fn default() -> Self {
        BuildLimits::from(&BuildConfig::default())
    }
}

impl From<&BuildConfig> for BuildLimits {
    fn from(c: &BuildConfig) -> Self {
        BuildLimits {
            wall: c.timeout,
            memory_bytes: c.memory_limit_bytes,
            output_bytes: c.output_limit_bytes,
        }
    }
}

/// Everything a [`Builder`] is configured with.
#[derive(Clone, Debug)]
pub struct BuilderOptions {
    /// The cache directory (entries, toolchain farm, support library).
    pub cache_dir: PathBuf,
    /// Bound on cached entries, in bytes (LRU eviction beyond it).
    pub cache_limit_bytes: u64,
    /// The sandbox the compiler runs in (`off` is refused: submissions are untrusted).
    pub sandbox: SandboxPolicy,
    pub limits: BuildLimits,
    /// The rustc to ask for its sysroot (default: `JOULETRACE_RUSTC`, else `rustc` on PATH).
    pub rustc: PathBuf,
    pub support: SupportSource,
}

/// The default cache directory (when the config's `build_cache` is not set):
/// `JOULETRACE_BUILD_CACHE` (the key's environment form, for callers that build their options
/// without the layered config), else `/var/cache/jouletrace/build` when running as root (root's
/// own cache dir under `/root` is unreachable for the sandbox user), else the user's cache dir
/// (`~/.cache/jouletrace/build`).
pub fn default_cache_dir() -> PathBuf {
    if let Some(dir) = std::env::var_os("JOULETRACE_BUILD_CACHE").filter(|d| !d.is_empty()) {
        return PathBuf::from(dir);
    }
    // SAFETY: geteuid has no preconditions.
    if unsafe { libc::geteuid() } == 0 {
        return PathBuf::from("/var/cache/jouletrace/build");
    }
    dirs::cache_dir()
        .unwrap_or_else(std::env::temp_dir)
        .join("jouletrace")
        .join("build")
}

impl BuilderOptions {
    /// The defaults for `sandbox` (the run's sandbox policy).
    pub fn new(sandbox: SandboxPolicy) -> BuilderOptions {
        BuilderOptions::from_config(&RunConfig {
            sandbox,
            ..RunConfig::default()
        })
    }

    /// A run's settings: its sandbox policy and its `build_*` keys.
    pub fn from_config(config: &RunConfig) -> BuilderOptions {
        BuilderOptions {
            cache_dir: config
                .build
                .cache_dir
                .clone()
                .unwrap_or_else(default_cache_dir),
            cache_limit_bytes: config.build.cache_limit_bytes,
            sandbox: config.sandbox.clone(),
            limits: BuildLimits::from(&config.build),
            rustc: toolchain::default_rustc(),
            support: SupportSource::default(),
        }
    }
}

/// Why a submission did not compile (a classified result, never a service error).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CompileFailureKind {
    CompileError,
    Timeout,
    MemoryLimit,
    OutputLimit,
}

impl CompileFailureKind {
    pub fn as_str(self) -> &'static str {
        match self {
            CompileFailureKind::CompileError => "compile_error",
            CompileFailureKind::Timeout => "timeout",
            CompileFailureKind::MemoryLimit => "memory_limit",
            CompileFailureKind::OutputLimit => "output_limit",
        }
    }
}

/// A submission that did not compile, with the compiler's message trimmed to what is useful.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, thiserror::Error)]
#[error("{}: {message}", kind.as_str())]
pub struct CompileFailure {
    pub kind: CompileFailureKind,
    pub message: String,
}

/// Why the builder itself failed (the service's fault or the machine's, not the submission's).
#[derive(Debug, thiserror::Error)]
pub enum BuildError {
    #[error("the Rust toolchain is unusable for sandboxed builds: {reason}")]
    Toolchain { reason: String },
    #[error("the support library (jouletrace for generated crates) cannot be built: {reason}")]
    Support { reason: String },
    #[error(transparent)]
    Sandbox(#[from] SandboxError),
    #[error("build cache: {what}: {source}")]
    Cache {
        what: String,
        #[source]
        source: std::io::Error,
    },
    #[error(
        "the build cache {dir} is not reachable by the sandbox user (uid {uid}): {why}; set \
         `build_cache` (JOULETRACE_BUILD_CACHE) to a directory every user can enter, e.g. \
         /var/cache/jouletrace/build",
        dir = dir.display()
    )]
    CacheUnreachable { dir: PathBuf, uid: u32, why: String },
    /// The generated glue did not link: a bug in code generation, not in a candidate.
    #[error("the generated glue crate did not build ({failure})")]
    Link { failure: CompileFailure },
}

/// A compiled candidate: an rlib in the cache, pinned there while this (or a clone) lives.
#[derive(Clone, Debug)]
pub struct Rlib {
    pub crate_name: String,
    pub path: PathBuf,
    /// Its cache key (hex SHA-256 of the source, the compiler and the flags).
    pub hash: String,
    /// Served from the cache.
    pub cached: bool,
    _entry: Arc<Entry>,
}

/// A linked glue binary in the cache, pinned there while this (or a clone) lives: keep it
/// until its workers have started.
#[derive(Clone, Debug)]
pub struct Binary {
    pub path: PathBuf,
    pub hash: String,
    pub cached: bool,
    _entry: Arc<Entry>,
}

/// Flags of a candidate compile (part of its cache key).
const CANDIDATE_FLAGS: &[&str] = &[
    "--edition",
    "2021",
    "--crate-type",
    "rlib",
    "-C",
    "opt-level=3",
    "-C",
    "debuginfo=0",
    "--color",
    "never",
    // Warnings are noise in a classified failure; deny-by-default lints stay errors.
    "-A",
    "warnings",
];

/// Flags of a glue link (part of its cache key).
const LINK_FLAGS: &[&str] = &[
    "--edition",
    "2021",
    "--crate-type",
    "bin",
    "--crate-name",
    "glue",
    "-C",
    "opt-level=3",
    "-C",
    "debuginfo=0",
    "--color",
    "never",
    "-A",
    "warnings",
];

/// Builds submissions: one per process, shared (`Arc`).
#[derive(Debug)]
pub struct Builder {
    toolchain: Toolchain,
    sandbox: Arc<Sandbox>,
    cache: Cache,
    limits: BuildLimits,
    support_source: SupportSource,
    support: Mutex<Option<Support>>,
}

/// A crate name rustc accepts: `[A-Za-z_][A-Za-z0-9_]*`, not a reserved one.
fn valid_crate_name(name: &str) -> bool {
    let mut chars = name.chars();
    chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
        && !matches!(
            name,
            "std" | "core" | "alloc" | "proc_macro" | "test" | "jouletrace" | "glue"
        )
}

impl Builder {
    /// Finds the toolchain (and makes it reachable by the sandbox user), probes the sandbox
    /// and opens the cache. The support library is built on the first [`Builder::link`] (or
    /// [`Builder::support`]).
    pub fn new(options: BuilderOptions) -> Result<Builder, BuildError> {
        let sandbox = Sandbox::new(options.sandbox.clone())?;
        // `off` refuses untrusted work: a build of submitted source is exactly that.
        sandbox.applies(false, "a build of submitted Rust source")?;
        let cache =
            Cache::open(&options.cache_dir, options.cache_limit_bytes).map_err(|source| {
                BuildError::Cache {
                    what: format!("opening {}", options.cache_dir.display()),
                    source,
                }
            })?;
        // The sandbox user reads the farm, the support library and cached rlibs, and executes
        // the glue binaries, all through this directory.
        crate::pool::sandbox::runnable(&options.sandbox, &options.cache_dir).map_err(|why| {
            BuildError::CacheUnreachable {
                dir: options.cache_dir.clone(),
                uid: options.sandbox.uid,
                why,
            }
        })?;
        let toolchain = Toolchain::prepare(&options.rustc, &options.cache_dir, &options.sandbox)?;
        Ok(Builder {
            toolchain,
            sandbox,
            cache,
            limits: options.limits,
            support_source: options.support,
            support: Mutex::new(None),
        })
    }

    pub fn toolchain(&self) -> &Toolchain {
        &self.toolchain
    }

    pub fn stats(&self) -> CacheStats {
        self.cache.stats()
    }

    pub fn cache_dir(&self) -> &Path {
        self.cache.root()
    }

    /// The isolation builds run under (for the results' environment).
    pub fn sandbox_level(&self) -> SandboxLevel {
        self.sandbox.level(true)
    }

    /// The support library, built now if this cache has none for this source and compiler.
    pub fn support(&self) -> Result<Support, BuildError> {
        let mut slot = self.support.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(s) = slot.as_ref() {
            return Ok(s.clone());
        }
        let s = support::ensure(self.cache.root(), &self.toolchain, &self.support_source)?;
        if let Some(took) = s.built_in {
            self.cache.record_support_build(took);
        }
        *slot = Some(s.clone());
        Ok(s)
    }

    fn spec(&self, read: Vec<PathBuf>) -> SandboxSpec {
        SandboxSpec {
            sandbox: self.sandbox.clone(),
            access: WorkerAccess {
                read,
                energy: None,
                network: false,
                private_cwd: true,
                system: SystemAccess::Compiler,
            },
        }
    }

    fn limits(&self) -> crate::pool::sandbox::CommandLimits {
        CommandLimits {
            wall: self.limits.wall,
            memory_bytes: self.limits.memory_bytes,
            output_bytes: self.limits.output_bytes,
        }
    }

    fn env(&self) -> Vec<(&'static str, OsString)> {
        vec![
            // Only system directories: the orchestrator's PATH may lead under /root.
            ("PATH", "/usr/bin:/bin".into()),
            ("LC_ALL", "C".into()),
        ]
    }

    fn cache_err(what: &str) -> impl FnOnce(std::io::Error) -> BuildError + '_ {
        move |source| BuildError::Cache {
            what: what.to_owned(),
            source,
        }
    }

    /// One candidate root, compiled alone to an rlib named `crate_name`. Cached by the hash of
    /// the name, the source, the compiler and the flags (a cached compile error too).
    pub fn candidate(&self, crate_name: &str, source: &str) -> Result<Rlib, CompileFailure> {
        if !valid_crate_name(crate_name) {
            // The name comes from our code generation, but a failure here is the caller's
            // message to show, not a panic.
            return Err(CompileFailure {
                kind: CompileFailureKind::CompileError,
                message: format!("`{crate_name}` is not a valid crate name"),
            });
        }
        let mut h = Sha256::new();
        for part in [
            "candidate",
            crate_name,
            source,
            &self.toolchain.verbose_version,
        ] {
            h.update(part.as_bytes());
            h.update([0]);
        }
        for f in CANDIDATE_FLAGS {
            h.update(f.as_bytes());
            h.update([0]);
        }
        let key = hex(&h.finalize());
        let internal = |e: BuildError| CompileFailure {
            kind: CompileFailureKind::CompileError,
            message: format!("internal build error: {e}"),
        };
        let rlib_name = format!("lib{crate_name}.rlib");
        let slot = match self
            .cache
            .lookup(&key)
            .map_err(Self::cache_err("looking up a candidate"))
            .map_err(internal)?
        {
            Lookup::Hit(entry) => return self.rlib_from(entry, crate_name, key, true),
            Lookup::Miss(slot) => slot,
        };
        let source_file = format!("{crate_name}.rs");
        let start = Instant::now();
        let finished = self
            .spec(Vec::new())
            .run_command(&self.toolchain.rustc, &self.env(), self.limits(), |dir| {
                std::fs::write(dir.join(&source_file), source)?;
                let mut args: Vec<OsString> = CANDIDATE_FLAGS.iter().map(Into::into).collect();
                args.extend(["--crate-name".into(), crate_name.into()]);
                args.push(remap(dir));
                args.push(source_file.clone().into());
                args.extend(["-o".into(), dir.join(&rlib_name).into()]);
                Ok(args)
            })
            .map_err(BuildError::from)
            .map_err(internal)?;
        let took = start.elapsed();
        match outcome(&finished, self.limits.wall) {
            Ok(()) => {
                self.cache.record_compile(took, false);
                std::fs::copy(
                    finished.workdir().join(&rlib_name),
                    slot.tmp.join(&rlib_name),
                )
                .map_err(Self::cache_err("storing an rlib"))
                .map_err(internal)?;
                let entry = self
                    .cache
                    .commit(
                        slot,
                        EntryMeta {
                            kind: "candidate".into(),
                            artifact: Some(rlib_name),
                            compile_error: None,
                            bytes: 0,
                            compile_seconds: took.as_secs_f64(),
                        },
                    )
                    .map_err(Self::cache_err("storing an rlib"))
                    .map_err(internal)?;
                self.rlib_from(entry, crate_name, key, false)
            }
            Err(failure) => {
                self.cache.record_compile(took, true);
                if failure.kind == CompileFailureKind::CompileError {
                    // Deterministic: a resubmission gets the same answer without a compile.
                    let _ = self.cache.commit(
                        slot,
                        EntryMeta {
                            kind: "candidate".into(),
                            artifact: None,
                            compile_error: Some(failure.message.clone()),
                            bytes: 0,
                            compile_seconds: took.as_secs_f64(),
                        },
                    );
                } else {
                    let _ = std::fs::remove_dir_all(&slot.tmp);
                }
                Err(failure)
            }
        }
    }

    fn rlib_from(
        &self,
        entry: Entry,
        crate_name: &str,
        hash: String,
        cached: bool,
    ) -> Result<Rlib, CompileFailure> {
        match (&entry.meta.artifact, &entry.meta.compile_error) {
            (Some(file), _) => Ok(Rlib {
                crate_name: crate_name.to_owned(),
                path: entry.dir.join(file),
                hash,
                cached,
                _entry: Arc::new(entry),
            }),
            (None, message) => Err(CompileFailure {
                kind: CompileFailureKind::CompileError,
                message: message.clone().unwrap_or_default(),
            }),
        }
    }

    /// The trusted glue root linked against jouletrace and the given rlibs (each available to
    /// the glue as `extern crate <crate_name>`). Cached by the hash of the glue, the rlibs'
    /// hashes, the support library's key, the compiler and the flags.
    pub fn link(&self, glue_source: &str, rlibs: &[Rlib]) -> Result<Binary, BuildError> {
        let support = self.support()?;
        let mut h = Sha256::new();
        for part in [
            "link",
            glue_source,
            &support.key,
            &self.toolchain.verbose_version,
        ] {
            h.update(part.as_bytes());
            h.update([0]);
        }
        for f in LINK_FLAGS {
            h.update(f.as_bytes());
            h.update([0]);
        }
        for r in rlibs {
            h.update(r.crate_name.as_bytes());
            h.update([0]);
            h.update(r.hash.as_bytes());
            h.update([0]);
        }
        let key = hex(&h.finalize());
        let slot = match self
            .cache
            .lookup(&key)
            .map_err(Self::cache_err("looking up a glue binary"))?
        {
            Lookup::Hit(entry) => return binary_from(entry, key, true),
            Lookup::Miss(slot) => slot,
        };
        let mut read = vec![support.dir.clone()];
        read.extend(rlibs.iter().map(|r| r.path.clone()));
        let linker = self.toolchain.linker.clone();
        let start = Instant::now();
        let finished = self.spec(read).run_command(
            &self.toolchain.rustc,
            &self.env(),
            self.limits(),
            |dir| {
                std::fs::write(dir.join("glue.rs"), glue_source)?;
                let mut args: Vec<OsString> = LINK_FLAGS.iter().map(Into::into).collect();
                let mut linker_arg = OsString::from("linker=");
                linker_arg.push(&linker);
                args.extend(["-C".into(), linker_arg]);
                let mut jt = OsString::from("jouletrace=");
                jt.push(&support.jouletrace);
                args.extend(["--extern".into(), jt]);
                let mut deps = OsString::from("dependency=");
                deps.push(&support.deps);
                args.extend(["-L".into(), deps]);
                for r in rlibs {
                    let mut e = OsString::from(format!("{}=", r.crate_name));
                    e.push(&r.path);
                    args.extend(["--extern".into(), e]);
                }
                args.push(remap(dir));
                args.push("glue.rs".into());
                args.extend(["-o".into(), dir.join("glue").into()]);
                Ok(args)
            },
        )?;
        let took = start.elapsed();
        if let Err(failure) = outcome(&finished, self.limits.wall) {
            self.cache.record_compile(took, true);
            let _ = std::fs::remove_dir_all(&slot.tmp);
            return Err(BuildError::Link { failure });
        }
        self.cache.record_compile(took, false);
        let stored = slot.tmp.join("glue");
        std::fs::copy(finished.workdir().join("glue"), &stored)
            .and_then(|_| {
                // Executable by the sandbox user, who runs it as a worker; written by no one.
                use std::os::unix::fs::PermissionsExt;
                std::fs::set_permissions(&stored, std::fs::Permissions::from_mode(0o755))
            })
            .map_err(Self::cache_err("storing a glue binary"))?;
        let entry = self
            .cache
            .commit(
                slot,
                EntryMeta {
                    kind: "link".into(),
                    artifact: Some("glue".into()),
                    compile_error: None,
                    bytes: 0,
                    compile_seconds: took.as_secs_f64(),
                },
            )
            .map_err(Self::cache_err("storing a glue binary"))?;
        binary_from(entry, key, false)
    }
}

fn binary_from(entry: Entry, hash: String, cached: bool) -> Result<Binary, BuildError> {
    let file = entry.meta.artifact.clone().unwrap_or_default();
    Ok(Binary {
        path: entry.dir.join(file),
        hash,
        cached,
        _entry: Arc::new(entry),
    })
}

/// `--remap-path-prefix <dir>/=`: spans name `cand.rs:3:5`, not the private directory (stable
/// messages, and nothing about the host's layout).
fn remap(dir: &Path) -> OsString {
    let mut arg = OsString::from("--remap-path-prefix=");
    arg.push(dir);
    arg.push("/=");
    arg
}

/// Messages that mean the compiler ran out of memory (RLIMIT_AS makes allocations fail; const
/// evaluation reports a failed allocation itself).
const OUT_OF_MEMORY: &[&str] = &[
    "more memory than available to compiler",
    "memory allocation of",
    "out of memory",
    "failed to allocate",
    "std::bad_alloc",
    "Cannot allocate memory",
];

/// How a compile ended: Ok, or the classified failure.
fn outcome(f: &Finished, wall: Duration) -> Result<(), CompileFailure> {
    use std::os::unix::process::ExitStatusExt;
    if f.status.success() && !f.timed_out && !f.output_exceeded {
        return Ok(());
    }
    let (kind, message) = if f.timed_out {
        (
            CompileFailureKind::Timeout,
            format!("the compiler did not finish within {wall:?}"),
        )
    } else if f.output_exceeded {
        (
            CompileFailureKind::OutputLimit,
            format!(
                "the compiler's output exceeded the limit; its start:\n{}",
                trim(&f.stderr, 20)
            ),
        )
    } else if f.memory_limit_reached
        || OUT_OF_MEMORY.iter().any(|m| f.stderr.contains(m))
        || f.status.signal() == Some(libc::SIGKILL)
    {
        (
            CompileFailureKind::MemoryLimit,
            "the compiler exceeded its memory limit".to_owned(),
        )
    } else if f.status.signal() == Some(libc::SIGXFSZ) {
        (
            CompileFailureKind::OutputLimit,
            "the compiler's output file exceeded the file-size limit".to_owned(),
        )
    } else {
        (CompileFailureKind::CompileError, trim(&f.stderr, 10))
    };
    Err(CompileFailure { kind, message })
}

/// At most this many bytes of compiler message in a failure.
const MESSAGE_CAP: usize = 4096;

/// The useful part of rustc's human output: each `error…` diagnostic with its span lines (up
/// to `max` of them), without warnings, notes on other diagnostics, or the closing
/// `aborting due to …` line; capped at [`MESSAGE_CAP`] bytes.
pub fn trim(stderr: &str, max: usize) -> String {
    let mut blocks: Vec<String> = Vec::new();
    let mut current: Option<String> = None;
    let mut more = 0;
    for line in stderr.lines() {
        let starts_error = line.starts_with("error");
        let starts_other = line.starts_with("warning") || line.starts_with("note:");
        if starts_error || starts_other {
            if let Some(b) = current.take() {
                blocks.push(b);
            }
        }
        if line.starts_with("error: aborting due to")
            || line.starts_with("For more information about")
            || line.starts_with("Some errors have detailed explanations")
        {
            continue;
        }
        if starts_error {
            if blocks.len() >= max {
                more += 1;
                continue;
            }
            current = Some(line.to_owned());
        } else if starts_other {
            current = None;
        } else if let Some(b) = current.as_mut() {
            b.push('\n');
            b.push_str(line);
        }
    }
    blocks.extend(current);
    let mut text = if blocks.is_empty() {
        // Not a rustc diagnostic (a linker or a crash): the last lines say what happened.
        let lines: Vec<&str> = stderr.lines().collect();
        lines[lines.len().saturating_sub(20)..].join("\n")
    } else {
        blocks
            .iter()
            .map(|b| b.trim_end())
            .collect::<Vec<_>>()
            .join("\n\n")
    };
    if more > 0 {
        text.push_str(&format!("\n\n… and {more} more errors"));
    }
    if text.len() > MESSAGE_CAP {
        let mut cut = MESSAGE_CAP;
        while !text.is_char_boundary(cut) {
            cut -= 1;
        }
        text.truncate(cut);
        text.push_str("\n… (message truncated)");
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn trim_keeps_errors_with_spans_and_drops_warnings_and_the_epilogue() {
        let stderr = "\
warning: unused variable: `x`
 --> cand.rs:1:5
  |
1 | let x = 1;
  |     ^

error[E0308]: mismatched types
 --> cand.rs:2:5
  |
2 |     \"a\"
  |     ^^^ expected `u64`, found `&str`

error: aborting due to 1 previous error; 1 warning emitted

For more information about this error, try `rustc --explain E0308`.
";
        let t = trim(stderr, 10);
        assert!(t.starts_with("error[E0308]: mismatched types"), "{t}");
        assert!(t.contains("cand.rs:2:5"), "{t}");
        assert!(t.contains("expected `u64`, found `&str`"), "{t}");
        assert!(!t.contains("warning"), "{t}");
        assert!(!t.contains("aborting"), "{t}");
    }

    #[test]
    fn trim_caps_the_number_of_errors_and_the_bytes() {
        let one = "error: bad\n --> c.rs:1:1\n\n";
        let t = trim(&one.repeat(30), 10);
        assert_eq!(t.matches("error: bad").count(), 10);
        assert!(t.ends_with("… and 20 more errors"), "{t}");
        let long = format!("error: {}\n", "é".repeat(5000));
        let t = trim(&long, 10);
        assert!(t.len() <= MESSAGE_CAP + 40);
        assert!(t.ends_with("(message truncated)"));
    }

    #[test]
    fn one_builder_is_shared_between_threads() {
        fn shared<T: Send + Sync>() {}
        shared::<Builder>();
        shared::<Rlib>();
        shared::<Binary>();
    }

    #[test]
    fn crate_names_are_checked() {
        assert!(valid_crate_name("cand_3fa2"));
        assert!(!valid_crate_name("3abc"));
        assert!(!valid_crate_name("a-b"));
        assert!(!valid_crate_name("std"));
        assert!(!valid_crate_name("jouletrace"));
        assert!(!valid_crate_name(""));
    }
}
