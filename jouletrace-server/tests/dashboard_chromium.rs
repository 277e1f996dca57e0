//! The dashboard as a person sees it: the real server with a completed and a failed job,
//! rendered by headless Chromium (as `jouletrace-harness/tests/report_chromium.rs` renders the
//! report), its sections checked, its requests watched (only the server itself, no CDN), and a
//! screenshot kept at `target/joule-artifacts/dashboard.png`.
//!
//! Needs `/usr/bin/chromium` (`JOULE_CHROMIUM` overrides); fails without it when `CI` is set,
//! is skipped with a notice otherwise.

mod common;

use std::path::{Path, PathBuf};
use std::time::Duration;

use common::{Server, readme_request};
use serde_json::json;

const TIMEOUT: Duration = Duration::from_secs(90);

fn chromium() -> Option<PathBuf> {
    let path = std::env::var_os("JOULE_CHROMIUM")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("/usr/bin/chromium"));
    path.is_file().then_some(path)
}

fn run_chromium(chromium: &Path, profile: &Path, extra: &[String], url: &str) -> String {
    let mut args = vec![
        // Any host name the page tried to resolve would fail; 127.0.0.1 needs no resolving.
        "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1".to_owned(),
        "--virtual-time-budget=3000".to_owned(),
    ];
    args.extend_from_slice(extra);
    jouletrace::chromium::run_headless(chromium, profile, &args, url, TIMEOUT)
}

/// URLs requested in the net log that are not the server under test.
fn foreign_requests(net_log: &Path, base: &str) -> Vec<String> {
    let text = std::fs::read_to_string(net_log).expect("chromium wrote the net log");
    let log: serde_json::Value = serde_json::from_str(&text)
        .or_else(|_| {
            let cut = text.trim_end().trim_end_matches(',');
            serde_json::from_str(&format!("{cut}]}}"))
        })
        .expect("the net log is JSON");
    let start_job = log["constants"]["logEventTypes"]["URL_REQUEST_START_JOB"].as_u64();
    log["events"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|e| e["type"].as_u64() == start_job)
        .filter(|e| {
            // Requests made for the page carry its origin in their isolation key; the browser's
            // own background requests do not.
            let key = e["params"]["network_isolation_key"].as_str().unwrap_or("");
            key.contains("127.0.0.1")
        })
        .filter_map(|e| e["params"]["url"].as_str().map(str::to_owned))
        .filter(|u| !u.starts_with(base) && !u.starts_with("data:"))
        .collect()
}

#[test]
fn dashboard_renders_in_chromium_without_the_network() {
    let Some(chromium) = chromium() else {
        assert!(
            std::env::var_os("CI").is_none(),
            "CI must install chromium (.ci/run does)"
        );
        eprintln!("skipped: no chromium (set JOULE_CHROMIUM)");
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let s = Server::start(
        dir.path(),
        &[],
        &[
            ("JOULETRACE_MIN_SAMPLE_TIME", "5ms"),
            ("JOULETRACE_TIME_BUDGET", "1s"),
            ("JOULETRACE_IDLE_WINDOW", "100ms"),
        ],
    );
    let good = s.post("/api/v1/measure", &readme_request()).1["task_id"]
        .as_str()
        .unwrap()
        .to_owned();
    let mut bad_req = readme_request();
    bad_req["candidate_code"] = json!("def solve(x):\n  return x + x\n");
    bad_req["candidate_id"] = json!("doubler");
    let bad = s.post("/api/v1/measure", &bad_req).1["task_id"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_eq!(
        s.wait_task(&good, Duration::from_secs(120))["status"],
        "completed"
    );
    assert_eq!(
        s.wait_task(&bad, Duration::from_secs(120))["status"],
        "failed"
    );

    let work = tempfile::tempdir().unwrap();
    let net_log = work.path().join("netlog.json");
    let dom = run_chromium(
        &chromium,
        &work.path().join("profile"),
        &[
            "--dump-dom".into(),
            format!("--log-net-log={}", net_log.display()),
            "--net-log-capture-mode=Everything".into(),
        ],
        &s.url("/dashboard"),
    );
    for section in [
        "id=\"queue\"",
        "id=\"agents\"",
        "id=\"running\"",
        "id=\"results\"",
        "id=\"failures\"",
    ] {
        assert!(dom.contains(section), "dashboard lacks {section}");
    }
    assert!(dom.contains(&good[..8]), "the completed job is listed");
    assert!(
        dom.contains(&bad[..8]) && dom.contains("incorrect_solution"),
        "the failure is listed"
    );
    assert!(
        dom.contains("class=\"est\""),
        "estimated figures are labelled"
    );
    assert!(!dom.contains("<script src"), "no scripts from anywhere");
    let foreign = foreign_requests(&net_log, &s.base);
    assert!(foreign.is_empty(), "the dashboard requested {foreign:?}");

    // The job's page embeds its report, served by the same process.
    let net_log2 = work.path().join("netlog2.json");
    let job_dom = run_chromium(
        &chromium,
        &work.path().join("profile2"),
        &[
            "--dump-dom".into(),
            format!("--log-net-log={}", net_log2.display()),
            "--net-log-capture-mode=Everything".into(),
        ],
        &s.url(&format!("/dashboard/jobs/{good}")),
    );
    assert!(
        job_dom.contains("id=\"report\"") && job_dom.contains("/report\""),
        "{job_dom}"
    );
    let foreign = foreign_requests(&net_log2, &s.base);
    assert!(foreign.is_empty(), "the job page requested {foreign:?}");

    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../target"));
    let shots = target.join("joule-artifacts");
    std::fs::create_dir_all(&shots).unwrap();
    let png = shots.join("dashboard.png");
    let _ = std::fs::remove_file(&png);
    run_chromium(
        &chromium,
        &work.path().join("profile-shot"),
        &[
            format!("--screenshot={}", png.display()),
            "--window-size=1280,1400".into(),
        ],
        &s.url("/dashboard"),
    );
    assert!(png.is_file(), "no screenshot");
}
