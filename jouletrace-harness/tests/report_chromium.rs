//! The HTML report as a person sees it: rendered by headless Chromium, checked for its tables
//! and charts, screenshotted, and watched for network requests (there must be none).
//!
//! Needs `/usr/bin/chromium` (Debian's `chromium` package; `JOULE_CHROMIUM` overrides the path).
//! Without it the test fails when `CI` is set — CI installs Chromium, so its absence there is a
//! broken setup — and otherwise reports itself *ignored*, with the path it tried, in `cargo
//! test`'s own summary (a plain `#[test]` could only pass silently: libtest hides a passing
//! test's output, so this file runs under libtest-mimic, which can ignore at run time). The
//! screenshot is kept at
//! `target/joule-artifacts/report.png` (and `report-estimated.png`). Set `JOULE_REPORT_HTML` to
//! a report file (the examples' `target/joule/report.html`) to check that page as well.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use jouletrace::report::{Format, Html};
use jouletrace::results::RunResults;
use libtest_mimic::{Arguments, Completion, Failed, Trial};

const FIXTURES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/results");
const TIMEOUT: Duration = Duration::from_secs(90);

const RENDER_TEST: &str = "the_html_report_renders_in_headless_chromium_without_network_access";

/// The Chromium binary to use, or the path that was tried and how it was chosen.
fn chromium() -> Result<PathBuf, String> {
    let (path, from) = match std::env::var_os("JOULE_CHROMIUM") {
        Some(p) => (PathBuf::from(p), "JOULE_CHROMIUM"),
        None => (PathBuf::from("/usr/bin/chromium"), "the default path"),
    };
    if path.is_file() {
        Ok(path)
    } else {
        Err(format!(
            "no Chromium at {} ({from}): apt-get install -y chromium, or set JOULE_CHROMIUM",
            path.display()
        ))
    }
}

fn artifacts_dir() -> PathBuf {
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../target"));
    target.join("joule-artifacts")
}

/// Runs Chromium with the isolation flags plus `extra`, killing its whole process group if it
/// hangs. Returns stdout.
fn run_chromium(chromium: &Path, profile: &Path, extra: &[String], page: &Path) -> String {
    let mut args = vec![
        // Anything the page tried to resolve would fail, and show in the net log.
        "--host-resolver-rules=MAP * ~NOTFOUND".to_owned(),
    ];
    args.extend_from_slice(extra);
    jouletrace::chromium::run_headless(
        chromium,
        profile,
        &args,
        &format!("file://{}", page.display()),
        TIMEOUT,
    )
}

/// URLs the *page* asked the network stack for, from a `--log-net-log` file.
///
/// The browser itself talks to the network in the background (network time, component and
/// account checks) whatever flags it is given; those requests carry an empty (`null null`) or
/// Google isolation key. A request made on behalf of a `file://` page carries that page's
/// origin, `file://`, in its network isolation key: those are the ones that must not exist.
fn page_requests(net_log: &Path) -> Vec<String> {
    let text = std::fs::read_to_string(net_log).expect("chromium wrote the net log");
    // The log is a JSON object whose `events` array is closed on a clean exit only.
    let log: serde_json::Value = serde_json::from_str(&text)
        .or_else(|_| {
            let cut = text.trim_end().trim_end_matches(',');
            serde_json::from_str(&format!("{cut}]}}"))
        })
        .expect("the net log is JSON");
    let start_job = log["constants"]["logEventTypes"]["URL_REQUEST_START_JOB"].as_u64();
    assert!(start_job.is_some(), "net log without event types");
    log["events"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|e| e["type"].as_u64() == start_job)
        .filter(|e| {
            let params = &e["params"];
            let key = params["network_isolation_key"].as_str().unwrap_or("");
            let site = params["site_for_cookies"].as_str().unwrap_or("");
            key.contains("file://") || site.contains("file://")
        })
        .filter_map(|e| e["params"]["url"].as_str().map(str::to_string))
        .filter(|u| !(u.starts_with("file:") || u.starts_with("data:") || u.starts_with("about:")))
        .collect()
}

/// `src="http…"`, `href='https…'` and the like in the rendered DOM.
fn remote_references(dom: &str) -> Vec<String> {
    let lower = dom.to_lowercase();
    let mut found = Vec::new();
    for attr in [
        "src=", "href=", "srcset=", "action=", "poster=", "data=", "url(",
    ] {
        let mut rest = lower.as_str();
        while let Some(i) = rest.find(attr) {
            rest = &rest[i + attr.len()..];
            let value = rest.trim_start_matches(['"', '\'', ' ']);
            if value.starts_with("http:") || value.starts_with("https:") || value.starts_with("//")
            {
                found.push(value.chars().take(80).collect());
            }
        }
    }
    found
}

/// Renders `page`, checks its DOM and network activity, and keeps a screenshot as `shot`.
fn check_page(chromium: &Path, page: &Path, shot: &str, expect_estimated: bool) {
    let work = tempfile::tempdir().unwrap();
    let net_log = work.path().join("netlog.json");
    let dom = run_chromium(
        chromium,
        &work.path().join("profile-dom"),
        &[
            "--dump-dom".into(),
            format!("--log-net-log={}", net_log.display()),
            "--net-log-capture-mode=Everything".into(),
        ],
        page,
    );

    assert!(
        dom.contains("<table class=\"ranking\""),
        "no ranking table in the DOM"
    );
    assert!(
        dom.contains("<svg class=\"chart bars\""),
        "no bar chart in the DOM"
    );
    assert!(
        dom.contains("<svg class=\"chart distribution\""),
        "no distribution chart"
    );
    assert!(dom.contains("id=\"environment\""), "no environment section");
    assert!(dom.matches("<rect").count() > 5, "bar charts have no bars");
    assert_eq!(
        dom.contains("id=\"estimated-banner\""),
        expect_estimated,
        "the estimated banner must appear exactly for estimated runs"
    );
    let remote = remote_references(&dom);
    assert!(
        remote.is_empty(),
        "the page references the network: {remote:?}"
    );
    let network = page_requests(&net_log);
    assert!(
        network.is_empty(),
        "the page made network requests: {network:?}"
    );

    let dir = artifacts_dir();
    std::fs::create_dir_all(&dir).unwrap();
    let png = dir.join(shot);
    let _ = std::fs::remove_file(&png);
    run_chromium(
        chromium,
        &work.path().join("profile-shot"),
        &[
            format!("--screenshot={}", png.display()),
            "--window-size=1280,2600".into(),
        ],
        page,
    );
    // Keep the page beside its screenshot: a reviewer opens both.
    std::fs::copy(page, png.with_extension("html")).unwrap();
    let bytes = std::fs::read(&png).expect("chromium wrote the screenshot");
    assert!(bytes.starts_with(b"\x89PNG"), "the screenshot is not a PNG");
    eprintln!("screenshot: {}", png.display());
}

/// The request check must be able to fail: a page with a remote image is caught.
fn detector_sees_a_page_request(chromium: &Path, dir: &Path) {
    let page = dir.join("canary.html");
    std::fs::write(
        &page,
        "<!DOCTYPE html><p>canary</p><img src=\"https://jouletrace.invalid/pixel.png\">",
    )
    .unwrap();
    let net_log = dir.join("canary-netlog.json");
    let dom = run_chromium(
        chromium,
        &dir.join("profile-canary"),
        &[
            "--dump-dom".into(),
            format!("--log-net-log={}", net_log.display()),
            "--net-log-capture-mode=Everything".into(),
        ],
        &page,
    );
    assert!(
        !remote_references(&dom).is_empty(),
        "DOM check missed the canary"
    );
    let requests = page_requests(&net_log);
    assert!(
        requests.iter().any(|u| u.contains("jouletrace.invalid")),
        "net-log check missed the canary: {requests:?}"
    );
}

fn main() {
    let args = Arguments::from_args();
    let trials = vec![
        Trial::ignorable_test(RENDER_TEST, renders_without_network_access),
        Trial::test(
            "a_missing_chromium_is_reported_as_ignored_naming_the_path",
            a_missing_chromium_is_reported_as_ignored,
        ),
    ];
    libtest_mimic::run(&args, trials).exit();
}

fn renders_without_network_access() -> Result<Completion, Failed> {
    let chromium = match chromium() {
        Ok(path) => path,
        Err(why) if std::env::var_os("CI").is_some() => {
            return Err(format!(
                "CI is set but {why} (CI installs Chromium: its absence there is a broken setup)"
            )
            .into());
        }
        Err(why) => return Ok(Completion::ignored_with(why)),
    };
    let dir = tempfile::tempdir().unwrap();
    detector_sees_a_page_request(&chromium, dir.path());
    for (fixture, shot, estimated) in [
        ("measured.json", "report.png", false),
        ("estimated.json", "report-estimated.png", true),
    ] {
        let results = RunResults::load(&Path::new(FIXTURES).join(fixture)).unwrap();
        let page = dir.path().join(fixture.replace(".json", ".html"));
        std::fs::write(&page, Html.render(&results).unwrap()).unwrap();
        check_page(&chromium, &page, shot, estimated);
    }
    if let Some(report) = std::env::var_os("JOULE_REPORT_HTML") {
        let report = PathBuf::from(report);
        let estimated = std::fs::read_to_string(&report)
            .unwrap()
            .contains("id=\"estimated-banner\"");
        check_page(&chromium, &report, "report-examples.png", estimated);
    }
    Ok(Completion::Completed)
}

/// Issue 12: without Chromium the test printed a skip notice that `cargo test` hides and
/// reported `ok`. Runs this binary's rendering test with a Chromium path that does not exist:
/// libtest's summary must say `ignored`, with that path.
fn a_missing_chromium_is_reported_as_ignored() -> Result<(), Failed> {
    let missing = "/nonexistent/jouletrace-test/chromium";
    let out = Command::new(std::env::current_exe().map_err(|e| e.to_string())?)
        .args(["--exact", RENDER_TEST, "--test-threads", "1"])
        .env("JOULE_CHROMIUM", missing)
        .env_remove("CI")
        .output()
        .map_err(|e| e.to_string())?;
    let stdout = String::from_utf8_lossy(&out.stdout);
    if !out.status.success()
        || !stdout.contains(&format!(
            "{RENDER_TEST} ... ignored (no Chromium at {missing}"
        ))
        || !stdout.contains("1 ignored")
    {
        return Err(format!("expected an ignored test naming {missing}:\n{stdout}").into());
    }
    Ok(())
}
