//! A real `jouletrace-server agent` process for the fleet tests.

#![allow(dead_code, reason = "each test binary uses part of it")]

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

pub struct Agent {
    pub child: Option<Child>,
    pub name: String,
    /// Its stderr (tracing at info): what it started, finished, dropped.
    pub log: PathBuf,
}

impl Agent {
    /// Starts an agent named `name` on `cpus`, with its own TMPDIR (so its own machine-wide
    /// lock path, `$TMPDIR/jouletrace-measure.lock`), running the server's scripted runner.
    pub fn start(
        queue: &str,
        name: &str,
        cpus: &str,
        dir: &Path,
        extra: &[&str],
        env: &[(&str, &str)],
    ) -> Agent {
        let tmp = dir.join(format!("{name}-tmp"));
        std::fs::create_dir_all(&tmp).unwrap();
        let log = dir.join(format!("{name}-{}.log", std::process::id()));
        let log = unique(log);
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_jouletrace-server"));
        cmd.args(["agent", "--queue", queue, "--name", name, "--cpus", cpus])
            .args(extra)
            .env("TMPDIR", &tmp)
            .env("JOULETRACE_LOG", "info")
            .env("NO_COLOR", "1")
            .env("JOULETRACE_SERVER_RUNNER", "scripted")
            .stdout(Stdio::piped())
            .stderr(std::fs::File::create(&log).unwrap());
        // As the server's own tests: the sandbox user cannot read an interpreter under /root.
        if std::env::var_os("JOULETRACE_PYTHON").is_none() && Path::new("/usr/bin/python3").exists()
        {
            cmd.env("JOULETRACE_PYTHON", "/usr/bin/python3");
        }
        for (k, v) in env {
            cmd.env(k, v);
        }
        let mut child = cmd.spawn().expect("start jouletrace-server agent");
        let mut reader = BufReader::new(child.stdout.take().unwrap());
        let mut line = String::new();
        reader.read_line(&mut line).unwrap();
        assert!(
            line.starts_with(&format!("agent {name}:")) && line.contains("registered"),
            "agent {name} did not register: {line:?}; log:\n{}",
            std::fs::read_to_string(&log).unwrap_or_default()
        );
        std::thread::spawn(move || for _ in reader.lines() {});
        Agent {
            child: Some(child),
            name: name.to_owned(),
            log,
        }
    }

    pub fn signal(&self, sig: i32) {
        if let Some(c) = &self.child {
            // Our own unreaped child: its pid cannot have been reused.
            unsafe { libc::kill(c.id() as i32, sig) };
        }
    }

    pub fn wait(&mut self) -> Option<std::process::ExitStatus> {
        self.child.take().map(|mut c| c.wait().unwrap())
    }

    /// The log, without terminal colour codes should the subscriber write any.
    pub fn log_text(&self) -> String {
        let raw = std::fs::read_to_string(&self.log).unwrap_or_default();
        let mut out = String::with_capacity(raw.len());
        let mut chars = raw.chars();
        while let Some(c) = chars.next() {
            if c == '\u{1b}' {
                for c in chars.by_ref() {
                    if c.is_ascii_alphabetic() {
                        break;
                    }
                }
            } else {
                out.push(c);
            }
        }
        out
    }

    /// Task ids of the results this agent wrote (the queue accepted them).
    pub fn finished(&self) -> Vec<String> {
        self.task_ids("job finished")
    }

    pub fn task_ids(&self, message: &str) -> Vec<String> {
        self.log_text()
            .lines()
            .filter(|l| l.contains(message))
            .filter_map(|l| {
                let i = l.find("task_id=")? + "task_id=".len();
                Some(l[i..].chars().take(36).collect())
            })
            .collect()
    }
}

fn unique(p: PathBuf) -> PathBuf {
    let mut n = 0;
    let mut q = p.clone();
    while q.exists() {
        n += 1;
        q = p.with_extension(format!("{n}.log"));
    }
    q
}

impl Drop for Agent {
    fn drop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}
