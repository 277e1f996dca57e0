//! The build side of Rust candidates submitted as source (issue 16), with real rustc in the
//! real sandbox: candidates compiled alone, a glue crate linked against the support library and
//! run, the cache, and every build-time escape a submission can try. Each escape test asserts
//! what the compiler could not read or run, and checks the world outside.
//!
//! The support library is built once per cache (`target/tmp/rust-build-cache`), with cargo's
//! target directory set to this workspace's `target/` so that a release build of the workspace
//! is reused.

use std::path::{Path, PathBuf};
use std::sync::OnceLock;
use std::time::Duration;

use jouletrace::pool::sandbox::SandboxPolicy;
use jouletrace::rust_source::{
    BuildLimits, Builder, BuilderOptions, CompileFailure, CompileFailureKind, ToolchainAccess,
    support,
};

fn tmp() -> PathBuf {
    PathBuf::from(env!("CARGO_TARGET_TMPDIR"))
}

/// Where the tests' build cache and work directories go (`target/tmp/`, shared by every test
/// binary of the workspace, or the system's temporary directory for a clone under `/root`).
fn base() -> PathBuf {
    jouletrace::rust_source::test_build_base(&tmp())
}

fn cache_dir() -> PathBuf {
    base().join("rust-build-cache")
}

fn options(limits: BuildLimits) -> BuilderOptions {
    let policy = SandboxPolicy {
        work_root: base().join("rust-build-work"),
        ..SandboxPolicy::default()
    };
    let mut o = BuilderOptions::new(policy);
    o.cache_dir = cache_dir();
    o.support.target_dir = tmp().parent().map(Path::to_path_buf);
    o.limits = limits;
    o
}

/// One builder for the file (default limits), as a service process has.
fn builder() -> &'static Builder {
    static B: OnceLock<Builder> = OnceLock::new();
    B.get_or_init(|| Builder::new(options(BuildLimits::default())).expect("a builder"))
}

/// A builder with small bounds, for the hostile compiles.
fn tight() -> &'static Builder {
    static B: OnceLock<Builder> = OnceLock::new();
    B.get_or_init(|| {
        Builder::new(options(BuildLimits {
            wall: Duration::from_secs(8),
            memory_bytes: 1 << 30,
            output_bytes: 64 << 10,
        }))
        .expect("a builder")
    })
}

/// A unique crate name per call, so a test never hits another test's (or run's) cache entry.
fn fresh(prefix: &str) -> String {
    use std::time::{SystemTime, UNIX_EPOCH};
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_nanos();
    format!("{prefix}_{nanos:x}")
}

fn compile_error(name: &str, source: &str) -> CompileFailure {
    match builder().candidate(name, source) {
        Ok(r) => panic!("{name} compiled to {}", r.path.display()),
        Err(f) => {
            assert_eq!(f.kind, CompileFailureKind::CompileError, "{f}");
            f
        }
    }
}

const GLUE: &str = r#"
use jouletrace::prelude::*;

#[joule_cases(problem = "sum")]
fn cases() -> Vec<Case<u64, u64>> {
    vec![Case::new("ten", 10u64, 45u64)]
}

#[joule_bench(problem = "sum")]
fn by_loop(n: u64) -> u64 {
    cand_loop::solve(n)
}

#[joule_bench(problem = "sum")]
fn by_formula(n: u64) -> u64 {
    cand_formula::solve(n)
}

jouletrace::main!();
"#;

#[test]
fn candidates_compile_alone_and_the_glue_links_and_runs_then_everything_is_cached() {
    let b = builder();
    let looped = "pub fn solve(n: u64) -> u64 { (0..n).sum() }";
    let formula = "pub fn solve(n: u64) -> u64 { n * n.saturating_sub(1) / 2 }";
    // Run as root with rustup's toolchain under /root (mode 0700), the sandbox user reaches the
    // compiler only through the hard-link farm in the cache.
    let t = b.toolchain();
    // SAFETY: geteuid has no preconditions.
    if unsafe { libc::geteuid() } == 0 && t.source_sysroot.starts_with("/root") {
        assert_eq!(t.access, ToolchainAccess::HardLinks, "{t:?}");
        assert!(t.rustc.starts_with(b.cache_dir()), "{t:?}");
    }
    assert!(t.version.starts_with("rustc "), "{t:?}");
    let a = b.candidate("cand_loop", looped).expect("compiles");
    let f = b.candidate("cand_formula", formula).expect("compiles");
    assert!(a.path.is_file() && f.path.is_file());
    let bin = b.link(GLUE, &[a, f]).expect("links");
    // The glue is an ordinary JouleTrace bench binary: it lists its candidates.
    let out = std::process::Command::new(&bin.path)
        .arg("--list")
        .output()
        .unwrap();
    let listed = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{listed}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        listed.contains("by_loop") && listed.contains("by_formula"),
        "{listed}"
    );

    // A resubmission compiles nothing: both candidates and the link come from the cache.
    let before = b.stats();
    let a = b.candidate("cand_loop", looped).unwrap();
    let f = b.candidate("cand_formula", formula).unwrap();
    assert!(a.cached && f.cached);
    let again = b.link(GLUE, &[a, f]).unwrap();
    assert!(again.cached);
    assert_eq!(again.path, bin.path);
    let after = b.stats();
    assert_eq!(after.hits, before.hits + 3, "{after:?}");
    assert_eq!(after.compiles, before.compiles, "{after:?}");
}

#[test]
fn a_compile_error_is_classified_trimmed_and_cached() {
    let name = fresh("cand_bad");
    let source = "pub fn solve(n: u64) -> u64 {\n    \"not a number\"\n}\n";
    let f = compile_error(&name, source);
    assert!(
        f.message.starts_with("error[E0308]: mismatched types"),
        "{}",
        f.message
    );
    assert!(
        f.message.contains(&format!("{name}.rs:2:5")),
        "{}",
        f.message
    );
    assert!(
        !f.message.contains("rust-build-work"),
        "the host path leaks: {}",
        f.message
    );
    let before = builder().stats();
    let again = compile_error(&name, source);
    assert_eq!(again, f);
    let after = builder().stats();
    assert_eq!(
        (after.hits, after.compiles),
        (before.hits + 1, before.compiles)
    );
}

/// The sandbox user cannot read /etc/shadow anyway (mode 0640); the point is that the compile
/// fails cleanly and the message carries nothing of the file.
#[test]
fn include_bytes_of_etc_shadow_is_refused() {
    let f = compile_error(
        &fresh("cand_shadow"),
        "pub static S: &[u8] = include_bytes!(\"/etc/shadow\");",
    );
    assert!(
        f.message.contains("couldn't read") && f.message.contains("/etc/shadow"),
        "{}",
        f.message
    );
    assert!(f.message.contains("Permission denied"), "{}", f.message);
}

/// /etc/passwd is world-readable: only Landlock stands between the compiler and it.
#[test]
fn include_str_of_a_world_readable_file_outside_the_allowed_set_is_refused() {
    assert!(
        std::fs::read_to_string("/etc/passwd")
            .unwrap()
            .contains("root:"),
        "the file exists and is readable here"
    );
    let f = compile_error(
        &fresh("cand_passwd"),
        "pub static S: &str = include_str!(\"/etc/passwd\");",
    );
    assert!(
        f.message.contains("couldn't read") && f.message.contains("/etc/passwd"),
        "{}",
        f.message
    );
    assert!(f.message.contains("Permission denied"), "{}", f.message);
    assert!(!f.message.contains("root:"), "{}", f.message);
}

/// `#[path]` modules: an absolute path, and `..` out of the private directory to a
/// world-readable file planted beside it.
#[test]
fn path_modules_outside_the_work_directory_are_refused() {
    let f = compile_error(
        &fresh("cand_pathabs"),
        "#[path = \"/etc/passwd\"]\nmod m;\npub fn f() {}",
    );
    assert!(f.message.contains("/etc/passwd"), "{}", f.message);
    assert!(!f.message.contains("root:x"), "{}", f.message);

    // `..` of the private directory is the work root: plant valid Rust there.
    let root = base().join("rust-build-work");
    std::fs::create_dir_all(&root).unwrap();
    let planted = root.join("planted.rs");
    std::fs::write(&planted, "pub fn leaked() -> u32 { 42 }\n").unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&planted, std::fs::Permissions::from_mode(0o644)).unwrap();
    let f = compile_error(
        &fresh("cand_pathrel"),
        "#[path = \"../planted.rs\"]\nmod m;\npub fn f() -> u32 { m::leaked() }",
    );
    assert!(f.message.contains("planted.rs"), "{}", f.message);
    assert!(
        f.message.contains("Permission denied") || f.message.contains("couldn't read"),
        "{}",
        f.message
    );
}

/// Other jobs' builds: a candidate's compile cannot read the cache it is stored in (another
/// candidate's rlib, the support library).
#[test]
fn other_cache_entries_cannot_be_included() {
    let other = builder()
        .candidate(&fresh("cand_victim"), "pub fn secret() -> u64 { 0x5EC2E7 }")
        .unwrap();
    let support = builder().support().unwrap();
    for path in [&other.path, &support.jouletrace] {
        assert!(std::fs::metadata(path).is_ok(), "{} exists", path.display());
        let f = compile_error(
            &fresh("cand_thief"),
            &format!(
                "pub static S: &[u8] = include_bytes!({:?});",
                path.display().to_string()
            ),
        );
        assert!(f.message.contains("Permission denied"), "{}", f.message);
    }
}

/// Several processes (here: threads with caches of their own) wanting the support library at
/// once: one builds it, the others wait on the lock and reuse it.
#[test]
fn concurrent_support_builds_serialise_and_reuse() {
    let b = builder();
    let cache = base().join(fresh("rust-build-support-race"));
    let source = options(BuildLimits::default()).support;
    let threads: Vec<_> = (0..3)
        .map(|_| {
            let (cache, source, toolchain) = (cache.clone(), source.clone(), b.toolchain().clone());
            std::thread::spawn(move || support::ensure(&cache, &toolchain, &source).unwrap())
        })
        .collect();
    let results: Vec<_> = threads.into_iter().map(|t| t.join().unwrap()).collect();
    assert_eq!(results.iter().filter(|s| s.built_in.is_some()).count(), 1);
    assert!(
        results
            .iter()
            .all(|s| s.dir == results[0].dir && s.jouletrace.is_file())
    );
    let _ = std::fs::remove_dir_all(&cache);
}

/// No `--extern` and no `-L` for candidates: another crate cannot be named, not even
/// jouletrace; the sysroot's private crates (`libc` inside std) need a nightly feature.
#[test]
fn extern_crate_of_anything_but_the_standard_library_fails() {
    for krate in ["serde", "jouletrace", "jouletrace_macros"] {
        let f = compile_error(
            &fresh("cand_extern"),
            &format!("extern crate {krate};\npub fn f() {{}}"),
        );
        assert!(
            f.message
                .contains(&format!("can't find crate for `{krate}`")),
            "{}",
            f.message
        );
    }
    let f = compile_error(&fresh("cand_libc"), "extern crate libc;\npub fn f() {}");
    assert!(f.message.contains("rustc_private"), "{}", f.message);
}

/// A build script cannot exist: the builder takes one source string, compiled by rustc as a
/// library (no cargo, no `build.rs`, no proc-macro crate type). A submission that carries a
/// build script's `main` gets it compiled as dead code and never run; one that declares a
/// procedural macro is refused.
#[test]
fn a_build_script_or_proc_macro_in_the_submission_never_runs() {
    let marker = tmp().join(fresh("build_rs_ran"));
    let source = format!(
        "fn main() {{ std::fs::write({:?}, \"ran\").unwrap(); }}\npub fn f() {{ main() }}",
        marker.display().to_string()
    );
    builder()
        .candidate(&fresh("cand_buildrs"), &source)
        .expect("a build script's main is just a function here");
    assert!(
        !marker.exists(),
        "nothing of the submission runs at build time"
    );

    let f = compile_error(
        &fresh("cand_procmacro"),
        "#![crate_type = \"proc-macro\"]\nextern crate proc_macro;\n\
         #[proc_macro]\npub fn evil(i: proc_macro::TokenStream) -> proc_macro::TokenStream { i }",
    );
    assert!(f.message.contains("proc-macro"), "{}", f.message);
}

#[test]
fn an_endless_const_evaluation_is_stopped_by_the_wall_clock() {
    let source = "#![allow(long_running_const_eval)]\n\
                  pub const X: u64 = { let mut i = 0u64; loop { i = i.wrapping_add(1); } };";
    let f = tight().candidate(&fresh("cand_loop"), source).unwrap_err();
    assert_eq!(f.kind, CompileFailureKind::Timeout, "{f}");
}

#[test]
fn a_constant_too_big_for_the_memory_bound_is_a_memory_limit() {
    let source = "pub const BIG: [u8; 1 << 32] = [1; 1 << 32];\n\
                  pub fn f(i: usize) -> u8 { BIG[i] }";
    let f = tight().candidate(&fresh("cand_big"), source).unwrap_err();
    assert_eq!(f.kind, CompileFailureKind::MemoryLimit, "{f}");
}

#[test]
fn a_flood_of_diagnostics_is_an_output_limit() {
    let line = format!("compile_error!(\"{}\");\n", "x".repeat(200));
    let f = tight()
        .candidate(&fresh("cand_flood"), &line.repeat(2000))
        .unwrap_err();
    assert_eq!(f.kind, CompileFailureKind::OutputLimit, "{f}");
    assert!(f.message.len() < 8192);
}

/// A cache the sandbox user cannot enter is refused up front, naming the key to set (root
/// only: otherwise the sandbox user is the caller).
#[test]
fn a_cache_the_sandbox_user_cannot_enter_is_refused_with_the_remedy() {
    // SAFETY: geteuid has no preconditions.
    if unsafe { libc::geteuid() } != 0 {
        return;
    }
    use std::os::unix::fs::PermissionsExt;
    let private = base().join(fresh("private"));
    std::fs::create_dir_all(&private).unwrap();
    std::fs::set_permissions(&private, std::fs::Permissions::from_mode(0o700)).unwrap();
    let mut o = options(BuildLimits::default());
    o.cache_dir = private.join("cache");
    let err = Builder::new(o).unwrap_err().to_string();
    assert!(err.contains("not reachable by the sandbox user"), "{err}");
    assert!(err.contains("build_cache"), "{err}");
    let _ = std::fs::remove_dir_all(&private);
}
