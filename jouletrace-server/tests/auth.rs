//! API keys: a missing, wrong or revoked key is turned away (401/403) before any handler runs,
//! so nothing reaches the queue; a valid key gets through, within its rate and quota; and a
//! non-loopback address without keys refuses to start.

mod common;

use std::process::Command;

use common::{Server, readme_request};
use jouletrace_server::auth::hash_key;
use serde_json::Value;

const GOOD: &str = "good-key-0123456789abcdef";
const REVOKED: &str = "revoked-key-0123456789abcdef";
const SLOW: &str = "slow-key-0123456789abcdef";

fn keys_file(dir: &std::path::Path) -> std::path::PathBuf {
    let path = dir.join("keys.txt");
    std::fs::write(
        &path,
        format!(
            "# id  hash  options\nalice sha256:{} concurrency=2\nmallory sha256:{} revoked\nsnail sha256:{} rate=2/min\n",
            hash_key(GOOD),
            hash_key(REVOKED),
            hash_key(SLOW)
        ),
    )
    .unwrap();
    path
}

fn submit(s: &Server, key: Option<(&str, &str)>) -> (u16, Value) {
    let mut r = Server::client()
        .post(s.url("/api/v1/measure"))
        .json(&readme_request());
    if let Some((h, v)) = key {
        r = r.header(h, v);
    }
    let r = r.send().unwrap();
    (r.status().as_u16(), r.json().unwrap_or(Value::Null))
}

#[test]
fn missing_wrong_and_revoked_keys_never_reach_the_queue() {
    let dir = tempfile::tempdir().unwrap();
    let keys = keys_file(dir.path());
    let s = Server::start(
        &dir.path().join("data"),
        &["--api-keys-file", keys.to_str().unwrap(), "--no-agent"],
        &[],
    );
    let (st, b) = submit(&s, None);
    assert_eq!(st, 401, "{b}");
    assert_eq!(b["error"], "unauthorized");
    assert_eq!(
        submit(&s, Some(("x-api-key", "wrong-key-0123456789"))).0,
        401
    );
    assert_eq!(submit(&s, Some(("authorization", "Bearer nope"))).0, 401);
    let (st, b) = submit(&s, Some(("x-api-key", REVOKED)));
    assert_eq!(st, 403, "{b}");
    assert_eq!(b["error"], "forbidden");
    // Reads are guarded too, and the dashboard.
    assert_eq!(s.get("/api/v1/health").0, 401);
    assert_eq!(s.get("/dashboard").0, 401);
    // /ping stays open for health checks.
    assert_eq!(s.get("/ping").0, 200);

    // Nothing was queued by any of them.
    let counts = Server::client()
        .get(s.url("/api/v1/metrics"))
        .header("x-api-key", GOOD)
        .send()
        .unwrap()
        .json::<Value>()
        .unwrap();
    assert_eq!(counts["queue"]["queued"], 0, "{counts}");

    // A valid key is accepted, in either header, up to its concurrency quota (2).
    assert_eq!(submit(&s, Some(("x-api-key", GOOD))).0, 202);
    assert_eq!(
        submit(&s, Some(("authorization", &format!("Bearer {GOOD}")))).0,
        202
    );
    let (st, b) = submit(&s, Some(("x-api-key", GOOD)));
    assert_eq!(st, 429, "{b}");
    assert_eq!(b["error"], "quota_exceeded");

    // The rate limit: 2 per minute, then 429 with Retry-After.
    assert_eq!(s.get_with("/api/v1/health", SLOW), 200);
    assert_eq!(s.get_with("/api/v1/health", SLOW), 200);
    let r = Server::client()
        .get(s.url("/api/v1/health"))
        .header("x-api-key", SLOW)
        .send()
        .unwrap();
    assert_eq!(r.status().as_u16(), 429);
    assert!(r.headers().get("retry-after").is_some());
}

trait GetWith {
    fn get_with(&self, path: &str, key: &str) -> u16;
}

impl GetWith for Server {
    fn get_with(&self, path: &str, key: &str) -> u16 {
        Server::client()
            .get(self.url(path))
            .header("x-api-key", key)
            .send()
            .unwrap()
            .status()
            .as_u16()
    }
}

#[test]
fn listening_beyond_loopback_requires_keys() {
    let dir = tempfile::tempdir().unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_jouletrace-server"))
        .args(["serve", "--listen", "0.0.0.0:0", "--data-dir"])
        .arg(dir.path())
        .env_remove("JOULETRACE_API_KEYS")
        .env_remove("JOULETRACE_API_KEYS_FILE")
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("requires API keys"), "{err}");
}

#[test]
fn hash_key_prints_a_keys_file_line() {
    let mut child = Command::new(env!("CARGO_BIN_EXE_jouletrace-server"))
        .args(["hash-key", "--id", "ci"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    use std::io::Write as _;
    child
        .stdin
        .take()
        .unwrap()
        .write_all(GOOD.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    let line = String::from_utf8(out.stdout).unwrap();
    assert_eq!(line.trim(), format!("ci sha256:{}", hash_key(GOOD)));
}
