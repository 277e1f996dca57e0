//! Build side of Rust submissions (issue 16): what a job pays before anything is measured.
//!
//! ```sh
//! nice -n 19 cargo bench -p jouletrace --bench rust_build
//! ```
//!
//! Starts from an empty cache (under `target/tmp/`) and reports, for a problem with eight
//! candidates (`CANDIDATES` below):
//! - the toolchain farm (hard links of the sysroot into the cache) and the support library
//!   (jouletrace built by cargo; cargo's target directory is this workspace's `target/`, so it
//!   is as cold or warm as that; set `RUST_BUILD_BENCH_SUPPORT_TARGET` to an empty directory for
//!   a cold build);
//! - compile time per candidate, cold and cached; the glue link, cold and cached;
//! - the cache hit rate of a resubmission (the same job again), of a second case set (the glue
//!   reads its cases at run time, so a new case set changes no source), and of a resubmission
//!   with one candidate edited.
//!
//! The figures are wall times on this machine under whatever load it has; the bench says so.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use jouletrace::pool::sandbox::SandboxPolicy;
use jouletrace::rust_source::{BuildLimits, Builder, BuilderOptions, CacheStats, Rlib};

/// Eight ways to sum the squares below n: what an LLM-generated candidate set looks like.
const CANDIDATES: [&str; 8] = [
    "pub fn solve(n: u64) -> u64 { (0..n).map(|i| i * i).sum() }",
    "pub fn solve(n: u64) -> u64 { let mut s = 0; for i in 0..n { s += i * i; } s }",
    "pub fn solve(n: u64) -> u64 { let mut s = 0; let mut i = 0; while i < n { s += i * i; i += 1; } s }",
    "pub fn solve(n: u64) -> u64 { if n == 0 { 0 } else { let m = n - 1; m * (m + 1) * (2 * m + 1) / 6 } }",
    "pub fn solve(n: u64) -> u64 { (0..n).fold(0, |a, i| a + i * i) }",
    "pub fn solve(n: u64) -> u64 { let v: Vec<u64> = (0..n).collect(); v.iter().map(|x| x * x).sum() }",
    "pub fn solve(n: u64) -> u64 { fn r(i: u64, n: u64, a: u64) -> u64 { if i == n { a } else { r(i + 1, n, a + i * i) } } r(0, n, 0) }",
    "use std::collections::HashMap;\npub fn solve(n: u64) -> u64 { let mut m = HashMap::new(); for i in 0..n { m.insert(i, i * i); } m.values().sum() }",
];

fn glue(n: usize) -> String {
    let mut g = String::from(
        "use jouletrace::prelude::*;\n\n#[joule_cases(problem = \"squares\")]\n\
         fn cases() -> Vec<Case<u64, u64>> { vec![Case::new(\"ten\", 10u64, 285u64)] }\n",
    );
    for i in 0..n {
        g.push_str(&format!(
            "\n#[joule_bench(problem = \"squares\")]\nfn c{i}(n: u64) -> u64 {{ cand_{i}::solve(n) }}\n"
        ));
    }
    g.push_str("\njouletrace::main!();\n");
    g
}

fn candidates(b: &Builder, edited: Option<usize>) -> (Vec<Rlib>, Vec<Duration>) {
    let mut rlibs = Vec::new();
    let mut times = Vec::new();
    for (i, src) in CANDIDATES.iter().enumerate() {
        let src = if edited == Some(i) {
            format!("{src}\n// edited")
        } else {
            (*src).to_owned()
        };
        let t = Instant::now();
        rlibs.push(b.candidate(&format!("cand_{i}"), &src).expect("compiles"));
        times.push(t.elapsed());
    }
    (rlibs, times)
}

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

fn rate(before: CacheStats, after: CacheStats) -> String {
    let hits = after.hits - before.hits;
    let all = hits + after.misses - before.misses;
    format!("{hits}/{all} = {:.0}%", 100.0 * hits as f64 / all as f64)
}

fn main() {
    let tmp = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../target/tmp");
    let cache = tmp.join(format!("rust-build-bench-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&cache);
    let mut options = BuilderOptions::new(SandboxPolicy {
        work_root: tmp.join("rust-build-bench-work"),
        ..SandboxPolicy::default()
    });
    options.cache_dir = cache.clone();
    options.limits = BuildLimits::default();
    options.support.target_dir = Some(
        std::env::var_os("RUST_BUILD_BENCH_SUPPORT_TARGET")
            .map(PathBuf::from)
            .unwrap_or_else(|| tmp.parent().expect("target/").to_owned()),
    );

    let t = Instant::now();
    let b = Builder::new(options).expect("a builder");
    let farm = t.elapsed();
    let t = Instant::now();
    let support = b.support().expect("the support library builds");
    let support_time = t.elapsed();

    let (rlibs, cold) = candidates(&b, None);
    let t = Instant::now();
    let bin = b.link(&glue(CANDIDATES.len()), &rlibs).expect("links");
    let link_cold = t.elapsed();
    let first = b.stats();

    // The same job again.
    let (rlibs, cached) = candidates(&b, None);
    let t = Instant::now();
    let again = b.link(&glue(CANDIDATES.len()), &rlibs).expect("links");
    let link_cached = t.elapsed();
    assert!(again.cached && again.path == bin.path);
    let resubmitted = b.stats();

    // A second case set: the job file changes, no source does.
    let (rlibs, _) = candidates(&b, None);
    b.link(&glue(CANDIDATES.len()), &rlibs).expect("links");
    let second_cases = b.stats();

    // One candidate edited.
    let (rlibs, _) = candidates(&b, Some(3));
    b.link(&glue(CANDIDATES.len()), &rlibs).expect("links");
    let edited = b.stats();

    let ms = |d: Duration| {
        let ms = d.as_secs_f64() * 1e3;
        if ms < 10.0 {
            format!("{ms:.2} ms")
        } else {
            format!("{ms:.0} ms")
        }
    };
    println!(
        "rust_build: {} on this machine (wall times, whatever its load)",
        b.toolchain().version
    );
    println!(
        "  toolchain ({:?})              {}",
        b.toolchain().access,
        ms(farm)
    );
    println!(
        "  support library               {} ({})",
        ms(support_time),
        if support.built_in.is_some() {
            "built"
        } else {
            "reused"
        }
    );
    println!(
        "  candidate compile, cold       median {}, min {}, max {} ({} candidates)",
        ms(median(cold.clone())),
        ms(*cold.iter().min().unwrap()),
        ms(*cold.iter().max().unwrap()),
        cold.len()
    );
    println!(
        "  candidate compile, cached     median {}",
        ms(median(cached))
    );
    println!(
        "  glue link ({} candidates), cold {}",
        CANDIDATES.len(),
        ms(link_cold)
    );
    println!("  glue link, cached             {}", ms(link_cached));
    println!(
        "  hit rate, resubmission        {}",
        rate(first, resubmitted)
    );
    println!(
        "  hit rate, second case set     {}",
        rate(resubmitted, second_cases)
    );
    println!(
        "  hit rate, one candidate edited {}",
        rate(second_cases, edited)
    );
    let s = b.stats();
    println!(
        "  cache: {} entries, {} bytes; {} compiles, {:.1} s compiling; binary {} bytes",
        s.entries,
        s.bytes,
        s.compiles,
        s.compile_seconds,
        std::fs::metadata(&bin.path).map(|m| m.len()).unwrap_or(0)
    );
    drop((bin, again, rlibs));
    let _ = std::fs::remove_dir_all(&cache);
}
