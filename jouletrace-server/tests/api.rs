//! The HTTP contract of the real binary, on loopback: the predecessor's shapes and status codes,
//! its bugs fixed, limits, admission control, and malformed input. Jobs run on the scripted
//! runner (no code, no measurement) so these tests exercise the service, not the engine; the
//! engine's end-to-end runs are in `tests/measure.rs`.

mod common;

use std::time::Duration;

use common::{Server, readme_request, squares_requests};
use serde_json::{Value, json};

fn scripted(dir: &std::path::Path, args: &[&str]) -> Server {
    Server::start(
        dir,
        args,
        &[
            ("JOULETRACE_SERVER_RUNNER", "scripted"),
            ("JOULETRACE_SERVER_SCRIPTED_MS", "10"),
        ],
    )
}

#[test]
fn service_routes_answer_the_predecessors_shapes() {
    let dir = tempfile::tempdir().unwrap();
    let s = scripted(dir.path(), &[]);

    let (st, b) = s.get("/ping");
    assert_eq!(
        (st, b),
        (200, json!({"status": "ok", "service": "jouletrace"}))
    );
    let (st, b) = s.get("/");
    assert_eq!(st, 200);
    for (k, v) in [
        ("service", "JouleTrace Energy Measurement API"),
        ("version", "1.0.0"),
        ("status", "healthy"),
        ("docs", "/docs"),
        ("api", "/api/v1"),
    ] {
        assert_eq!(b[k], v, "{k} in {b}");
    }
    let (st, h) = s.get("/api/v1/health");
    assert_eq!(st, 200);
    for k in [
        "status",
        "timestamp",
        "version",
        "energy_meter_available",
        "energy_meter_type",
        "celery_worker_count",
        "redis_connected",
        "active_tasks",
        "completed_tasks_24h",
        "average_measurement_time_seconds",
    ] {
        assert!(h.get(k).is_some(), "health lacks {k}: {h}");
    }
    assert!(["healthy", "degraded"].contains(&h["status"].as_str().unwrap()));
    assert_eq!(h["celery_worker_count"], 1);
    let (st, c) = s.get("/api/v1/capabilities");
    assert_eq!(st, 200);
    for k in [
        "energy_measurement_available",
        "supported_meter_types",
        "cpu_isolation_supported",
        "thermal_monitoring_supported",
        "platform",
        "cpu_vendor",
        "cpu_cores",
        "available_memory_gb",
        "max_concurrent_measurements",
        "max_measurement_timeout_seconds",
        "max_memory_limit_mb",
    ] {
        assert!(c.get(k).is_some(), "capabilities lacks {k}: {c}");
    }
    let (st, m) = s.get("/api/v1/metrics");
    assert_eq!(st, 200);
    assert!(
        m["celery"]["worker_count"].is_number() && m["system"].is_object(),
        "{m}"
    );

    let (st, b) = s.get("/nope");
    assert_eq!((st, b), (404, json!({"detail": "Not Found"})));
    let r = Server::client()
        .put(s.url("/api/v1/measure"))
        .send()
        .unwrap();
    assert_eq!(r.status().as_u16(), 405);
    assert_eq!(
        r.json::<Value>().unwrap(),
        json!({"detail": "Method Not Allowed"})
    );

    let openapi = s.get("/openapi.json").1;
    assert!(openapi["paths"]["/api/v1/measure"]["post"].is_object());
    let docs = Server::client().get(s.url("/docs/")).send().unwrap();
    assert_eq!(docs.status().as_u16(), 200);
    assert!(
        docs.text().unwrap().contains("swagger"),
        "Swagger UI is served offline"
    );
}

#[test]
fn a_task_goes_queued_to_completed_and_bad_ids_are_404() {
    let dir = tempfile::tempdir().unwrap();
    let s = scripted(dir.path(), &[]);
    let (st, q) = s.post("/api/v1/measure", &readme_request());
    assert_eq!(st, 202, "{q}");
    let id = q["task_id"].as_str().unwrap().to_owned();
    assert_eq!(q["status"], "queued");
    assert_eq!(q["poll_url"], format!("/api/v1/tasks/{id}"));
    assert!(q["request_id"].is_string());
    assert!(q["estimated_completion_seconds"].as_u64().unwrap() > 0);
    let done = s.wait_task(&id, Duration::from_secs(30));
    assert_eq!(done["status"], "completed", "{done}");
    assert_eq!(done["task_id"], id.as_str());
    assert_eq!(done["request_id"], id.as_str());
    assert_eq!(done["attempts"], 1);

    // The predecessor's pitfall 8: unknown ids stayed "queued" forever, malformed ones gave 500.
    let (st, b) = s.get(&format!("/api/v1/tasks/{}", uuid_like()));
    assert_eq!(st, 404, "{b}");
    assert_eq!(b["error"], "http_error");
    assert_eq!(b["details"]["status_code"], 404);
    for bad in [
        "not-a-uuid",
        "1234",
        "%20",
        "00000000-0000-0000-0000-00000000000g",
    ] {
        let (st, b) = s.get(&format!("/api/v1/tasks/{bad}"));
        assert_eq!(st, 404, "{bad}: {b}");
        let r = Server::client()
            .delete(s.url(&format!("/api/v1/tasks/{bad}")))
            .send()
            .unwrap();
        assert_eq!(r.status().as_u16(), 404, "DELETE {bad}");
    }
}

fn uuid_like() -> String {
    "3f2b8a4e-9c1d-4e5f-8a7b-0c1d2e3f4a5b".into()
}

#[test]
fn cancelled_tasks_poll_cleanly_and_events_stream() {
    let dir = tempfile::tempdir().unwrap();
    // A slow scripted job keeps the first one running while the second waits.
    let s = Server::start(
        dir.path(),
        &[],
        &[
            ("JOULETRACE_SERVER_RUNNER", "scripted"),
            ("JOULETRACE_SERVER_SCRIPTED_MS", "400"),
        ],
    );
    let a = s.post("/api/v1/measure", &readme_request()).1["task_id"]
        .as_str()
        .unwrap()
        .to_owned();
    let b = s.post("/api/v1/measure", &readme_request()).1["task_id"]
        .as_str()
        .unwrap()
        .to_owned();
    // Wait until `a` runs, then cancel both: one running, one queued.
    let start = std::time::Instant::now();
    while s.get(&format!("/api/v1/tasks/{a}")).1["status"] != "running" {
        assert!(start.elapsed() < Duration::from_secs(20));
        std::thread::sleep(Duration::from_millis(20));
    }
    let running = s.get(&format!("/api/v1/tasks/{a}")).1;
    for k in ["stage", "progress", "elapsed_seconds"] {
        assert!(
            running.get(k).is_some(),
            "running shape lacks {k}: {running}"
        );
    }
    for id in [&a, &b] {
        let r = Server::client()
            .delete(s.url(&format!("/api/v1/tasks/{id}")))
            .send()
            .unwrap();
        assert_eq!(r.status().as_u16(), 204);
        let (st, body) = s.get(&format!("/api/v1/tasks/{id}"));
        assert_eq!(st, 200, "{body}");
        assert_eq!(body["status"], "cancelled");
        assert_eq!(body["error_type"], "cancelled");
        assert!(body["failure_timestamp"].is_number());
    }
    // The SSE stream of a finished task: its state, then the end of the stream.
    let text = s.text(&format!("/api/v1/tasks/{a}/events")).1;
    assert!(text.contains("event: state"), "{text}");
    assert!(text.contains("\"status\":\"cancelled\""), "{text}");
    // The worker was killed: the next job runs and completes.
    let c = s.post("/api/v1/measure", &readme_request()).1["task_id"]
        .as_str()
        .unwrap()
        .to_owned();
    let sse = s.text(&format!("/api/v1/tasks/{c}/events")).1;
    assert!(sse.contains("event: progress"), "{sse}");
    assert!(sse.contains("\"status\":\"completed\""), "{sse}");
}

#[test]
fn batches_rank_per_problem_and_report() {
    let dir = tempfile::tempdir().unwrap();
    let s = scripted(dir.path(), &[]);
    let (st, b) = s.post(
        "/api/v1/batches",
        &json!({"name": "squares", "requests": squares_requests()}),
    );
    assert_eq!(st, 202, "{b}");
    assert_eq!(b["total"], 8);
    let batch = b["batch_id"].as_str().unwrap().to_owned();
    let start = std::time::Instant::now();
    let status = loop {
        let (st, body) = s.get(&format!("/api/v1/batches/{batch}"));
        assert_eq!(st, 200);
        if body["status"] == "completed" {
            break body;
        }
        assert!(start.elapsed() < Duration::from_secs(60), "{body}");
        std::thread::sleep(Duration::from_millis(100));
    };
    assert_eq!(status["counts"]["completed"], 8, "{status}");
    assert_eq!(status["tasks"].as_array().unwrap().len(), 8);
    let page = Server::client()
        .get(s.url(&format!("/api/v1/batches/{batch}/report")))
        .send()
        .unwrap();
    assert_eq!(page.status().as_u16(), 200);
    assert!(page.text().unwrap().contains(&batch));
    assert_eq!(s.get("/api/v1/batches/not-a-batch").0, 404);

    // One bad request in a batch: 422 naming its index, nothing queued.
    let mut reqs = squares_requests();
    reqs[3]["timeout_seconds"] = json!(0);
    let (st, e) = s.post("/api/v1/batches", &json!({"requests": reqs}));
    assert_eq!(st, 422, "{e}");
    assert_eq!(
        e["field_errors"][0]["field"],
        "body -> requests -> 3 -> timeout_seconds"
    );
}

/// 50 malformed bodies: each 4xx with a body that names the problem; the server stays up.
#[test]
fn fifty_malformed_bodies_get_clear_4xx() {
    let dir = tempfile::tempdir().unwrap();
    let s = scripted(
        dir.path(),
        &["--max-test-cases", "5", "--max-body-bytes", "65536"],
    );
    let good = readme_request();
    let mut bodies: Vec<(String, &str, &str)> = Vec::new(); // (body, expected field, type)
    let with = |k: &str, v: Value| {
        let mut b = good.clone();
        b[k] = v;
        b.to_string()
    };
    let without = |k: &str| {
        let mut b = good.clone();
        b.as_object_mut().unwrap().remove(k);
        b.to_string()
    };
    bodies.push((
        without("candidate_code"),
        "body -> candidate_code",
        "missing",
    ));
    bodies.push((without("test_cases"), "body -> test_cases", "missing"));
    bodies.push((
        with("test_cases", json!([])),
        "body -> test_cases",
        "value_error",
    ));
    bodies.push((
        with("test_cases", json!("x")),
        "body -> test_cases",
        "list_type",
    ));
    bodies.push((
        with("candidate_code", json!(5)),
        "body -> candidate_code",
        "string_type",
    ));
    bodies.push((
        with("candidate_code", json!(null)),
        "body -> candidate_code",
        "string_type",
    ));
    bodies.push((
        with("function_name", json!(null)),
        "body -> function_name",
        "string_type",
    ));
    for (k, lo, hi) in [
        ("timeout_seconds", 0, 301),
        ("memory_limit_mb", 63, 8193),
        ("energy_measurement_trials", 0, 21),
        ("warmup_trials", -1, 11),
    ] {
        let field: &'static str = Box::leak(format!("body -> {k}").into_boxed_str());
        bodies.push((with(k, json!(lo)), field, "greater_than_equal"));
        bodies.push((with(k, json!(hi)), field, "less_than_equal"));
        bodies.push((with(k, json!(3.5)), field, "int_from_float"));
        bodies.push((with(k, json!("three")), field, "int_parsing"));
        bodies.push((with(k, json!(null)), field, "int_type"));
    }
    bodies.push((
        with("cpu_core", json!(-1)),
        "body -> cpu_core",
        "greater_than_equal",
    ));
    bodies.push((
        with("thermal_wait_seconds", json!(61)),
        "body -> thermal_wait_seconds",
        "less_than_equal",
    ));
    bodies.push((
        with("candidate_id", json!(7)),
        "body -> candidate_id",
        "string_type",
    ));
    bodies.push((
        with("problem_name", json!(7)),
        "body -> problem_name",
        "string_type",
    ));
    bodies.push((
        with("test_cases", json!([{"inputs": [1], "expected_output": 1}])),
        "body -> test_cases -> 0 -> test_id",
        "missing",
    ));
    bodies.push((
        with(
            "test_cases",
            json!([{"test_id": 1, "inputs": [1], "expected_output": 1}]),
        ),
        "body -> test_cases -> 0 -> test_id",
        "string_type",
    ));
    bodies.push((
        with(
            "test_cases",
            json!([{"test_id": "a", "expected_output": 1}]),
        ),
        "body -> test_cases -> 0 -> inputs",
        "missing",
    ));
    bodies.push((
        with("test_cases", json!([{"test_id": "a", "inputs": 1}])),
        "body -> test_cases -> 0 -> expected_output",
        "missing",
    ));
    bodies.push((
        with("test_cases", json!([1, 2])),
        "body -> test_cases -> 0",
        "model_attributes_type",
    ));
    bodies.push((
        with("comparison", json!("fuzzy")),
        "body -> comparison",
        "literal_error",
    ));
    bodies.push((
        with(
            "test_cases",
            json!([{"test_id": "a", "inputs": 1, "expected_output": 1, "metadata": 5}]),
        ),
        "body -> test_cases -> 0 -> metadata",
        "dict_type",
    ));
    let six: Vec<Value> = (0..6)
        .map(|i| json!({"test_id": format!("t{i}"), "inputs": [i], "expected_output": i}))
        .collect();
    bodies.push((
        with("test_cases", json!(six)),
        "body -> test_cases",
        "too_long",
    ));
    bodies.push(("[]".into(), "body", "model_attributes_type"));
    bodies.push(("\"text\"".into(), "body", "model_attributes_type"));
    bodies.push(("42".into(), "body", "model_attributes_type"));
    bodies.push(("null".into(), "body", "model_attributes_type"));
    bodies.push(("".into(), "body", "missing"));
    // Invalid JSON: the location is `body -> <char offset>` (the library's reckoning).
    bodies.push(("{".into(), "body -> ", "json_invalid"));
    bodies.push(("{\"candidate_code\": }".into(), "body -> ", "json_invalid"));
    bodies.push(("{'a': 1}".into(), "body -> ", "json_invalid"));
    bodies.push(("\u{0}\u{1}".into(), "body -> ", "json_invalid"));
    assert!(bodies.len() >= 44, "{}", bodies.len());
    let client = Server::client();
    let mut n = 0;
    for (body, field, kind) in &bodies {
        let r = client
            .post(s.url("/api/v1/measure"))
            .header("content-type", "application/json")
            .body(body.clone())
            .send()
            .unwrap();
        let st = r.status().as_u16();
        let e: Value = r.json().unwrap();
        assert_eq!(st, 422, "{body} → {e}");
        assert_eq!(e["error"], "validation_error");
        assert!(e["timestamp"].is_number());
        let errs = e["field_errors"].as_array().unwrap();
        assert!(
            errs.iter().any(|fe| {
                let f = fe["field"].as_str().unwrap();
                (f == *field || (field.ends_with("-> ") && f.starts_with(field)))
                    && fe["type"] == *kind
            }),
            "{body}: expected {field} {kind}, got {e}"
        );
        assert!(
            errs.iter()
                .all(|fe| !fe["message"].as_str().unwrap().is_empty())
        );
        n += 1;
    }
    // Transport-level refusals.
    let r = client
        .post(s.url("/api/v1/measure"))
        .header("content-type", "text/plain")
        .body(good.to_string())
        .send()
        .unwrap();
    assert_eq!(r.status().as_u16(), 422);
    assert_eq!(
        r.json::<Value>().unwrap()["field_errors"][0]["type"],
        "model_attributes_type"
    );
    let big = "x".repeat(70_000);
    let r = client
        .post(s.url("/api/v1/measure"))
        .header("content-type", "application/json")
        .body(with("candidate_code", json!(big)))
        .send()
        .unwrap();
    assert_eq!(r.status().as_u16(), 413);
    assert!(
        r.json::<Value>().unwrap()["message"]
            .as_str()
            .unwrap()
            .contains("65536")
    );
    // No Content-Type is read as JSON, as FastAPI did.
    let r = client
        .post(s.url("/api/v1/measure"))
        .body(good.to_string())
        .send()
        .unwrap();
    assert_eq!(r.status().as_u16(), 202);
    n += 2;
    assert!(n >= 50, "{n} malformed bodies");
    // Unharmed: nothing malformed was queued, and a good job completes.
    let (st, q) = s.post("/api/v1/measure", &good);
    assert_eq!(st, 202);
    let done = s.wait_task(q["task_id"].as_str().unwrap(), Duration::from_secs(30));
    assert_eq!(done["status"], "completed");
    let (_, m) = s.get("/api/v1/metrics");
    assert_eq!(m["queue"]["completed"], 2, "{m}");
}

#[test]
fn a_full_queue_answers_503_with_retry_after() {
    let dir = tempfile::tempdir().unwrap();
    let s = scripted(dir.path(), &["--max-queue", "3", "--no-agent"]);
    for _ in 0..3 {
        assert_eq!(s.post("/api/v1/measure", &readme_request()).0, 202);
    }
    let r = Server::client()
        .post(s.url("/api/v1/measure"))
        .json(&readme_request())
        .send()
        .unwrap();
    assert_eq!(r.status().as_u16(), 503);
    assert!(r.headers().get("retry-after").is_some());
    let b: Value = r.json().unwrap();
    assert_eq!(b["error"], "queue_full");
    // A batch that would overflow is refused whole.
    let (st, _) = s.post("/api/v1/batches", &json!(squares_requests()));
    assert_eq!(st, 503);
    let prom = s.text("/metrics").1;
    assert!(
        prom.contains("jouletrace_queue_jobs{state=\"queued\"} 3"),
        "{prom}"
    );
    assert!(
        prom.contains("jouletrace_jobs_rejected_queue_full_total 2"),
        "{prom}"
    );
}

#[test]
fn cors_is_off_unless_configured() {
    let dir = tempfile::tempdir().unwrap();
    let preflight = |s: &Server| {
        Server::client()
            .request(reqwest::Method::OPTIONS, s.url("/api/v1/measure"))
            .header("origin", "http://localhost:3000")
            .header("access-control-request-method", "POST")
            .send()
            .unwrap()
            .headers()
            .get("access-control-allow-origin")
            .map(|v| v.to_str().unwrap().to_owned())
    };
    let off = scripted(&dir.path().join("a"), &["--no-agent"]);
    assert_eq!(preflight(&off), None);
    let on = scripted(
        &dir.path().join("b"),
        &["--no-agent", "--cors-origin", "http://localhost:3000"],
    );
    assert_eq!(preflight(&on).as_deref(), Some("http://localhost:3000"));
}
