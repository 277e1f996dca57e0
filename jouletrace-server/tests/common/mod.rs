//! Starts the real `jouletrace-server` binary on a loopback port for end-to-end tests.
#![allow(
    dead_code,
    reason = "each test binary uses a different part of the helpers"
)]

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

pub struct Server {
    pub child: Child,
    pub base: String,
    pub data_dir: PathBuf,
}

impl Server {
    /// Starts `serve` on 127.0.0.1 with an OS-chosen port; `env` adds environment variables.
    pub fn start(data_dir: &Path, args: &[&str], env: &[(&str, &str)]) -> Server {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_jouletrace-server"));
        cmd.args(["serve", "--listen", "127.0.0.1:0", "--data-dir"])
            .arg(data_dir)
            .args(args)
            .env("JOULETRACE_LOG", "warn")
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit());
        // The sandbox runs candidates as an unprivileged user, who cannot enter /root (where
        // pyenv lives on our machines): use the system interpreter when there is one.
        if std::env::var_os("JOULETRACE_PYTHON").is_none() && Path::new("/usr/bin/python3").exists()
        {
            cmd.env("JOULETRACE_PYTHON", "/usr/bin/python3");
        }
        // Off the machine's default lock, as cargo-joule's tests: a real run elsewhere on the
        // machine (a calibration, a developer's `cargo joule`) held it exclusively for minutes and
        // the batch test timed out waiting. These tests still take turns among themselves.
        cmd.env(
            "JOULETRACE_LOCK_PATH",
            Path::new(env!("CARGO_TARGET_TMPDIR")).join("jouletrace-server-tests.lock"),
        );
        for (k, v) in env {
            cmd.env(k, v);
        }
        let mut child = cmd.spawn().expect("start jouletrace-server");
        let stdout = child.stdout.take().unwrap();
        let mut reader = BufReader::new(stdout);
        let mut line = String::new();
        reader
            .read_line(&mut line)
            .expect("read the listening line");
        let base = line
            .trim()
            .strip_prefix("listening on ")
            .unwrap_or_else(|| panic!("unexpected first line {line:?}"))
            .to_owned();
        // Keep draining stdout so the server never blocks on a full pipe.
        std::thread::spawn(move || for _ in reader.lines() {});
        Server {
            child,
            base,
            data_dir: data_dir.to_owned(),
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.base, path)
    }

    pub fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    pub fn client() -> reqwest::blocking::Client {
        reqwest::blocking::Client::builder()
            .timeout(Duration::from_secs(60))
            .build()
            .unwrap()
    }

    pub fn post(&self, path: &str, body: &Value) -> (u16, Value) {
        let r = Self::client()
            .post(self.url(path))
            .json(body)
            .send()
            .unwrap();
        let status = r.status().as_u16();
        (status, r.json().unwrap_or(Value::Null))
    }

    pub fn get(&self, path: &str) -> (u16, Value) {
        let r = Self::client().get(self.url(path)).send().unwrap();
        let status = r.status().as_u16();
        (status, r.json().unwrap_or(Value::Null))
    }

    /// A page's status and text (HTML, SSE, Prometheus).
    pub fn text(&self, path: &str) -> (u16, String) {
        let r = Self::client().get(self.url(path)).send().unwrap();
        (r.status().as_u16(), r.text().unwrap())
    }

    /// Polls a task until it is completed, failed or cancelled.
    pub fn wait_task(&self, id: &str, limit: Duration) -> Value {
        let start = Instant::now();
        loop {
            let (s, body) = self.get(&format!("/api/v1/tasks/{id}"));
            assert_eq!(s, 200, "{body}");
            if ["completed", "failed", "cancelled"].contains(&body["status"].as_str().unwrap()) {
                return body;
            }
            assert!(
                start.elapsed() < limit,
                "task {id} still {body} after {limit:?}"
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.kill();
    }
}

/// The predecessor README's request (`POST /api/v1/measure-socket0`, README "Submit a
/// measurement").
pub fn readme_request() -> Value {
    serde_json::json!({
        "candidate_code": "def solve(x):\n  return x * x\n",
        "function_name": "solve",
        "test_cases": [
            {"test_id": "t1", "inputs": [2], "expected_output": 4},
            {"test_id": "t2", "inputs": [7], "expected_output": 49}
        ],
        "energy_measurement_trials": 3,
        "timeout_seconds": 20
    })
}

/// The notebook's batch: eight squares (try.ipynb).
pub fn squares_requests() -> Vec<Value> {
    [2, 7, 11, 13, 17, 19, 23, 29]
        .iter()
        .map(|x: &i64| {
            serde_json::json!({
                "candidate_code": "def solve(x):\n    return x * x\n",
                "function_name": "solve",
                "test_cases": [
                    {"test_id": format!("t1-{x}"), "inputs": [x], "expected_output": x * x},
                    {"test_id": format!("t2-{x}"), "inputs": [x], "expected_output": x * x}
                ],
                "timeout_seconds": 5,
                "energy_measurement_trials": 3,
                "warmup_trials": 1,
                "candidate_id": format!("square-{x}"),
                "problem_name": "squares"
            })
        })
        .collect()
}

/// Whether a test that runs Python candidates must be skipped: no `python3` on PATH (it says
/// so). Never on CI (`CI` set), whose machines have one.
pub fn skip_without_python() -> bool {
    let found = std::process::Command::new("python3")
        .args(["-c", "pass"])
        .status()
        .is_ok_and(|s| s.success());
    if !found {
        assert!(std::env::var_os("CI").is_none(), "CI machines have python3");
        eprintln!("skipped: no python3 on PATH (the Python host needs one)");
    }
    !found
}
