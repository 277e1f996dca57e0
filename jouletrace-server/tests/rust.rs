//! Rust candidates over HTTP (issue 16): the real server binary builds each submitted candidate
//! in the sandbox with the real toolchain and measures it with the real engine. One problem,
//! five kinds — two correct, one wrong, one that does not compile, one that panics, one that
//! never returns — submitted as one batch: each task is classified, the correct ones ranked
//! with intervals, and a request with an unknown language is a 422 naming the field. `/validate`
//! takes Rust too.
//!
//! The build cache (and the support library in it, built once per cache) is the one every test
//! binary of the workspace shares: `target/tmp/rust-build-cache`.

mod common;

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use common::Server;
use serde_json::{Value, json};

fn five_kinds() -> Vec<Value> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../tests/fixtures/rust-candidates/five_kinds.jsonl");
    std::fs::read_to_string(path)
        .unwrap()
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

fn server_env() -> Vec<(&'static str, String)> {
    let tmp = PathBuf::from(env!("CARGO_TARGET_TMPDIR"));
    let target = tmp.parent().unwrap().display().to_string();
    vec![
        ("JOULETRACE_METER", "estimate".into()),
        ("JOULETRACE_MIN_SAMPLE_TIME", "5ms".into()),
        ("JOULETRACE_TIME_BUDGET", "1s".into()),
        ("JOULETRACE_IDLE_WINDOW", "100ms".into()),
        (
            "JOULETRACE_BUILD_CACHE",
            jouletrace::rust_source::test_build_base(&tmp)
                .join("rust-build-cache")
                .display()
                .to_string(),
        ),
        ("JOULETRACE_SUPPORT_TARGET_DIR", target),
    ]
}

#[test]
fn five_kinds_of_rust_candidate_over_http() {
    let dir = tempfile::tempdir().unwrap();
    let env = server_env();
    let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let s = Server::start(dir.path(), &[], &env);

    // A language the service does not know is refused before anything is queued.
    let mut bad = five_kinds()[0].clone();
    bad["language"] = json!("cobol");
    let (st, body) = s.post("/api/v1/measure", &bad);
    assert_eq!(st, 422, "{body}");
    assert_eq!(
        body["field_errors"][0]["field"], "body -> language",
        "{body}"
    );
    assert_eq!(body["field_errors"][0]["type"], "literal_error");

    let (st, b) = s.post("/api/v1/batches", &json!({"requests": five_kinds()}));
    assert_eq!(st, 202, "{b}");
    let batch = b["batch_id"].as_str().unwrap().to_owned();
    let start = Instant::now();
    let status = loop {
        let body = s.get(&format!("/api/v1/batches/{batch}")).1;
        if body["status"] == "completed" {
            break body;
        }
        assert!(start.elapsed() < Duration::from_secs(300), "{body:#}");
        std::thread::sleep(Duration::from_millis(300));
    };
    let tasks = status["tasks"].as_array().unwrap();
    let task = |id: &str| {
        tasks
            .iter()
            .find(|t| t["candidate_id"] == id)
            .unwrap_or_else(|| panic!("no task {id}: {status:#}"))
    };
    for id in ["iterator", "indexed_loop"] {
        let t = task(id);
        assert_eq!(t["status"], "completed", "{t:#}");
        assert_eq!(t["validation"]["is_correct"], true);
        assert_eq!(t["validation"]["passed_tests"], 2);
        assert_eq!(t["provenance"], "estimated");
        assert_eq!(
            t["sandbox_level"], "full",
            "untrusted code ran in the sandbox"
        );
        let rustc = t["host"]["rustc"].as_str().unwrap_or_default();
        assert!(
            rustc.starts_with("rustc "),
            "the compiler is recorded: {t:#}"
        );
    }
    for (id, kind) in [
        ("wrong", "wrong_answer"),
        ("does_not_compile", "compile_error"),
        ("panics", "panic"),
        ("endless", "timeout"),
    ] {
        let t = task(id);
        assert_eq!(t["status"], "failed", "{id}: {t:#}");
        assert_eq!(t["failure_kind"], kind, "{id}: {t:#}");
        assert_eq!(t["validation"]["is_correct"], false, "{id}");
        assert_eq!(t["validation"]["failure"]["kind"], kind, "{id}");
    }
    let compile = &task("does_not_compile")["validation"]["failure"]["message"];
    assert!(
        compile.as_str().unwrap().contains("error[E0425]"),
        "the compiler's message: {compile}"
    );

    // The two correct candidates are ranked, with the interval of each one's energy.
    let ranking = &status["rankings"]["sum_of_squares"];
    let entries = ranking[0]["entries"].as_array().unwrap();
    let ranked: Vec<&str> = entries
        .iter()
        .map(|e| e["candidate_id"].as_str().unwrap())
        .collect();
    assert_eq!(ranked.len(), 2, "{ranking:#}");
    assert!(ranked.contains(&"iterator") && ranked.contains(&"indexed_loop"));
    for e in entries {
        let point = e["median_total_energy_joules"].as_f64().unwrap();
        let bounds = &e["median_total_energy_joules_bounds"];
        let (lo, hi) = (bounds[0].as_f64().unwrap(), bounds[1].as_f64().unwrap());
        assert!(lo <= point && point <= hi && hi > 0.0, "{e}");
    }

    // /validate builds and checks in a worker too (the candidates' builds are cached).
    let validate = |name: &str| {
        let r = five_kinds()
            .into_iter()
            .find(|r| r["candidate_id"] == name)
            .unwrap();
        let body = json!({"candidate_code": r["candidate_code"], "test_cases": r["test_cases"],
                          "language": "rust", "timeout_seconds": 5});
        let (st, v) = s.post("/api/v1/validate", &body);
        assert_eq!(st, 200, "{v}");
        v
    };
    let v = validate("iterator");
    assert_eq!(v["validation"]["is_correct"], true, "{v:#}");
    let v = validate("does_not_compile");
    assert_eq!(v["validation"]["is_correct"], false);
    assert_eq!(v["validation"]["failure"]["kind"], "compile_error", "{v:#}");
}
