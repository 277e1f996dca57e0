//! End to end through the engine: the real binary measures the predecessor README's request and
//! its notebook's batch of eight squares with a real Python interpreter, and every field of the
//! predecessor's shapes — plus what JouleTrace adds — is asserted. On this kind of machine the
//! meter is the estimate, so every figure must say "estimated".

mod common;

use std::time::{Duration, Instant};

use common::{Server, readme_request, squares_requests};
use serde_json::{Value, json};

/// Short samples keep the suite quick; the engine still calibrates, warms up and samples.
fn engine_env() -> Vec<(&'static str, &'static str)> {
    vec![
        ("JOULETRACE_MIN_SAMPLE_TIME", "5ms"),
        ("JOULETRACE_TIME_BUDGET", "1s"),
        ("JOULETRACE_IDLE_WINDOW", "100ms"),
    ]
}

fn assert_completed_shape(t: &Value, n_cases: usize) {
    assert_eq!(t["status"], "completed", "{t:#}");
    // The predecessor's fields.
    for k in [
        "request_id",
        "candidate_id",
        "problem_name",
        "status",
        "validation",
        "energy_metrics",
        "measurement_environment",
        "processing_time_seconds",
        "measurement_timestamp",
    ] {
        assert!(t.get(k).is_some(), "completed lacks {k}");
    }
    let v = &t["validation"];
    assert_eq!(v["is_correct"], true);
    assert_eq!(v["passed_tests"], n_cases);
    assert_eq!(v["total_tests"], n_cases);
    assert_eq!(v["pass_rate"], 100.0, "a percentage, as the predecessor's");
    assert_eq!(v["error_summary"], Value::Null);
    let e = &t["energy_metrics"];
    let total = e["median_total_energy_joules"].as_f64().unwrap();
    let time = e["median_execution_time_seconds"].as_f64().unwrap();
    assert!(total > 0.0 && time > 0.0, "{e}");
    let per = e["energy_per_test_case_joules"].as_f64().unwrap();
    assert!((per - total / n_cases as f64).abs() <= 1e-12 * total.max(1.0));
    assert_eq!(
        e["energy_efficiency_score"],
        e["energy_per_test_case_joules"]
    );
    let watts = e["power_consumption_watts"].as_f64().unwrap();
    assert!((watts - total / time).abs() <= 1e-9 * watts.max(1.0));
    // No RAPL here: not a package figure, and no DRAM figure made up as 0.
    assert!(e.get("median_package_energy_joules").is_some());
    assert_eq!(e["median_ram_energy_joules"], Value::Null);
    assert_eq!(e["provenance"], "estimated");
    assert_eq!(e["estimated"], true);
    assert_eq!(e["idle_subtracted"], true);
    let [lo, hi] = [0, 1].map(|i| e["median_total_energy_joules_bounds"][i].as_f64().unwrap());
    assert!(lo <= total && total <= hi, "{lo} {total} {hi}");
    let env = &t["measurement_environment"];
    assert_eq!(env["meter_type"], "estimate");
    for k in [
        "cpu_model",
        "measurement_core",
        "thermal_controlled",
        "timestamp",
    ] {
        assert!(env.get(k).is_some(), "measurement_environment lacks {k}");
    }
    // What JouleTrace adds.
    assert_eq!(t["provenance"], "estimated");
    assert_eq!(t["meter"]["backend"], "estimate");
    assert_eq!(t["meter"]["estimated"], true);
    assert!(t["idle_power_watts"].is_array());
    assert!(t["sandbox_level"].is_string());
    assert_ne!(
        t["sandbox_level"], "unknown",
        "the engine records its sandbox level"
    );
    assert!(t["sandbox"]["layers"].is_array());
    assert!(t["host"]["logical_cpus"].as_u64().unwrap() >= 1);
    let cases = t["per_test_case"].as_array().unwrap();
    assert_eq!(cases.len(), n_cases);
    let mut sum = 0.0;
    for c in cases {
        let p = c["energy_joules"]["point"].as_f64().unwrap();
        assert!(c["energy_joules"]["lower"].as_f64().unwrap() <= p);
        assert!(c["energy_joules"]["upper"].as_f64().unwrap() >= p);
        assert!(c["execution_time_seconds"]["point"].as_f64().unwrap() > 0.0);
        assert_eq!(c["provenance"], "estimated");
        assert!(c["samples"].as_u64().unwrap() >= 1);
        sum += p;
    }
    assert!(
        (sum - total).abs() <= 1e-9 * total.max(1e-12),
        "total = sum over cases"
    );
}

#[test]
fn readme_request_and_the_eight_squares_complete_with_every_field() {
    if common::skip_without_python() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let s = Server::start(dir.path(), &[], &engine_env());

    let (st, q) = s.post("/api/v1/measure-socket0", &readme_request());
    assert_eq!(st, 202, "{q}");
    for k in [
        "task_id",
        "request_id",
        "status",
        "estimated_completion_seconds",
        "poll_url",
    ] {
        assert!(q.get(k).is_some(), "queued lacks {k}");
    }
    let id = q["task_id"].as_str().unwrap().to_owned();
    let t = s.wait_task(&id, Duration::from_secs(120));
    assert_completed_shape(&t, 2);
    assert_eq!(t["request_id"], id.as_str());
    assert_eq!(t["candidate_id"], Value::Null);

    // The engine's results record and its HTML report.
    let (st, r) = s.get(&format!("/api/v1/tasks/{id}/results"));
    assert_eq!(st, 200);
    assert_eq!(r["meter"]["provenance"], "estimated");
    let html = s.text(&format!("/api/v1/tasks/{id}/report")).1;
    assert!(html.contains("<html") && html.to_lowercase().contains("estimated"));

    // The notebook's batch: eight squares, one problem, ranked.
    let (st, b) = s.post("/api/v1/batches", &json!({"requests": squares_requests()}));
    assert_eq!(st, 202, "{b}");
    let batch = b["batch_id"].as_str().unwrap().to_owned();
    let start = Instant::now();
    let status = loop {
        let body = s.get(&format!("/api/v1/batches/{batch}")).1;
        if body["status"] == "completed" {
            break body;
        }
        assert!(start.elapsed() < Duration::from_secs(240), "{body}");
        std::thread::sleep(Duration::from_millis(500));
    };
    assert_eq!(status["counts"]["completed"], 8, "{status:#}");
    for t in status["tasks"].as_array().unwrap() {
        assert_completed_shape(t, 2);
        assert_eq!(t["problem_name"], "squares");
    }
    let ranking = &status["rankings"]["squares"];
    assert_eq!(ranking.as_array().unwrap().len(), 1, "one comparable class");
    let entries = ranking[0]["entries"].as_array().unwrap();
    assert_eq!(entries.len(), 8);
    assert_eq!(entries[0]["rank"], 1);
    assert_eq!(entries[0]["ratio_to_best"], 1.0);
    assert!(
        ranking[0]["comparable_class"]
            .as_str()
            .unwrap()
            .contains("estimated")
    );

    // The batch's report is the library's report of the eight results as one run.
    let report = s.text(&format!("/api/v1/batches/{batch}/report")).1;
    assert!(
        report.contains("<table class=\"ranking\""),
        "a ranking table"
    );
    assert!(
        report.contains("square-29") && report.contains("square-2"),
        "every candidate"
    );
    let page = Server::client()
        .get(s.url(&format!("/dashboard/batches/{batch}")))
        .send()
        .unwrap();
    assert_eq!(page.status().as_u16(), 200);
    assert!(page.text().unwrap().contains("Ranking: squares"));

    // The metrics count windows and energy by provenance, and the outcomes.
    let prom = s.text("/metrics").1;
    assert!(
        prom.contains("jouletrace_energy_joules_total{provenance=\"estimated\"}"),
        "{prom}"
    );
    assert!(
        !prom.contains("provenance=\"measured\""),
        "nothing here is measured: {prom}"
    );
    assert!(
        prom.contains("jouletrace_job_outcomes_total{outcome=\"completed\"} 9"),
        "{prom}"
    );
    let windows: f64 = prom
        .lines()
        .find_map(|l| l.strip_prefix("jouletrace_windows_measured_total "))
        .and_then(|v| v.trim().parse().ok())
        .unwrap();
    assert!(
        windows >= 9.0 * 2.0,
        "at least one window per case: {windows}"
    );

    // /validate runs in a worker process and reports the failing case.
    let (st, v) = s.post(
        "/api/v1/validate",
        &json!({"candidate_code": "def solve(x):\n  return x + x\n",
                "test_cases": [{"test_id": "t1", "inputs": [2], "expected_output": 4},
                               {"test_id": "t2", "inputs": [7], "expected_output": 49}]}),
    );
    assert_eq!(st, 200, "{v}");
    assert_eq!(v["validation"]["is_correct"], false);
    assert_eq!(v["validation"]["total_tests"], 2);
    assert_eq!(v["validation"]["failure"]["kind"], "wrong_answer");
    assert!(v["processing_time_seconds"].is_number());
}
