use std::process::Command;
use std::time::Duration;

use super::*;
use crate::rust_source::signature;

const TWO_SUM: &str = "use std::collections::HashMap;\n\
pub fn two_sum(nums: &[i64], target: i64) -> Option<(usize, usize)> {\n\
    let mut seen = HashMap::new();\n\
    for (i, n) in nums.iter().enumerate() {\n\
        if let Some(&j) = seen.get(&(target - n)) { return Some((j, i)); }\n\
        seen.insert(*n, i);\n\
    }\n\
    None\n\
}";

/// Compiles `root` alone as an rlib with the toolchain's plain rustc (no sandbox, no cache:
/// the builder's own tests cover those); the compiler's stderr on failure.
fn rustc_rlib(name: &str, root: &str) -> Result<(), String> {
    let dir = tempfile::tempdir().unwrap();
    let src = dir.path().join("lib.rs");
    std::fs::write(&src, root).unwrap();
    let out = Command::new(std::env::var("RUSTC").unwrap_or_else(|_| "rustc".into()))
        .args([
            "--edition",
            "2021",
            "--crate-type",
            "rlib",
            "--crate-name",
            name,
        ])
        .arg("--out-dir")
        .arg(dir.path())
        .arg(&src)
        .output()
        .expect("rustc runs");
    if out.status.success() {
        Ok(())
    } else {
        Err(String::from_utf8_lossy(&out.stderr).into_owned())
    }
}

#[test]
fn a_candidate_root_is_the_submission_plus_a_typed_entry() {
    let sig = signature::parse(TWO_SUM, "two_sum").unwrap();
    let root = candidate_root(TWO_SUM, &sig);
    assert!(
        root.starts_with(TWO_SUM),
        "the submission's lines stay where they were"
    );
    assert!(
        root.contains(
            "pub fn __jouletrace_entry(__jouletrace_a0: &[::core::primitive::i64], \
             __jouletrace_a1: ::core::primitive::i64) -> \
             ::core::option::Option<(::core::primitive::usize,::core::primitive::usize,)> {\n    \
             two_sum(__jouletrace_a0, __jouletrace_a1)\n}"
        ),
        "{root}"
    );
    let name = crate_name(&root);
    assert!(name.starts_with("cand_") && name.len() == 5 + 16, "{name}");
    assert_eq!(name, crate_name(&root), "names are content hashes");
    rustc_rlib(&name, &root).unwrap();
}

#[test]
fn associated_entries_and_every_supported_type_compile() {
    let code = "use std::collections::{BTreeMap, HashMap};\n\
        struct Solution;\n\
        impl Solution {\n\
            pub fn solve(a: Vec<i32>, b: &str, c: &HashMap<String, Vec<f64>>, d: Option<(u8, char)>,\n\
                         e: &[String], f: &(bool, u128), g: BTreeMap<String, i16>) -> (usize, String, Option<Vec<bool>>) {\n\
                let _ = (c, d, e, f, g);\n\
                (a.len(), b.to_owned(), None)\n\
            }\n\
        }\n";
    let sig = signature::parse(code, "solve").unwrap();
    let root = candidate_root(code, &sig);
    rustc_rlib("cand_types", &root).unwrap();
    let unit = "fn solve() {}";
    let sig = signature::parse(unit, "solve").unwrap();
    rustc_rlib("cand_unit", &candidate_root(unit, &sig)).unwrap();
}

#[test]
fn a_submission_that_shadows_std_types_fails_its_own_compile() {
    let code = "#[derive(Debug)] pub struct Vec<T>(T);\npub fn solve(v: Vec<i32>) -> i32 { v.0 }";
    let sig = signature::parse(code, "solve").unwrap();
    let err = rustc_rlib("cand_shadow", &candidate_root(code, &sig)).unwrap_err();
    assert!(err.contains("mismatched types"), "{err}");
}

#[test]
fn the_glue_registers_each_candidate_with_its_options_and_cases() {
    let sig = signature::parse(TWO_SUM, "two_sum").unwrap();
    let unit = signature::parse("fn solve(n: u64) -> u64 { n }", "solve").unwrap();
    let options = CandidateOptions {
        timeout: Some(Duration::from_secs(5)),
        memory_limit_mb: Some(512),
        trials: Some(3),
        warmup: Some(1),
        ..CandidateOptions::DEFAULT
    };
    let glue = glue_root(&[
        GlueCandidate {
            id: "two-sum::hashed",
            problem: "two-sum",
            name: "hashed",
            location: "x.jsonl:1",
            options,
            crate_name: "cand_0123456789abcdef",
            signature: &sig,
        },
        GlueCandidate {
            id: "sq::candidate-2",
            problem: "sq",
            name: "candidate-2",
            location: "x.jsonl:2",
            options: CandidateOptions::DEFAULT,
            crate_name: "cand_fedcba9876543210",
            signature: &unit,
        },
    ]);
    syn::parse_file(&glue).unwrap_or_else(|e| panic!("{e}\n{glue}"));
    for part in [
        r#"__rt::cases("two-sum::hashed", &["nums", "target"], "two_sum(nums: &[i64], target: i64) -> Option<(usize, usize)>")"#,
        r#"problem: "two-sum","#,
        r#"name: "candidate-2","#,
        "timeout: ::core::option::Option::Some(::jouletrace::__private::Duration::from_millis(5000))",
        "trials: ::core::option::Option::Some(3u32)",
        "::core::result::Result::Ok((a0,a1,)) => __rt::Output::Actual(cand_0123456789abcdef::__jouletrace_entry(&a0, a1))",
        "::core::result::Result::Ok((a0,)) => __rt::Output::Actual(cand_fedcba9876543210::__jouletrace_entry(a0))",
        "::jouletrace::main!();",
    ] {
        assert!(glue.contains(part), "missing {part} in\n{glue}");
    }
    assert!(
        !glue.contains(".borrowing("),
        "a by-value parameter needs fresh inputs"
    );
    let refs = signature::parse(
        "fn f(a: &[i64], s: &str) -> usize { a.len() + s.len() }",
        "f",
    )
    .unwrap();
    let glue = glue_root(&[GlueCandidate {
        id: "p::r",
        problem: "p",
        name: "r",
        location: "",
        options: CandidateOptions::DEFAULT,
        crate_name: "cand_r",
        signature: &refs,
    }]);
    syn::parse_file(&glue).unwrap();
    assert!(
        glue.contains("::core::result::Result::Ok(args) => __rt::Output::Actual(cand_r::__jouletrace_entry(&args.0, &args.1))"),
        "{glue}"
    );
}
