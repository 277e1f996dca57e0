//! Headless Chromium for tests that look at a page as a person would (feature `test-support`):
//! the HTML report here, the service's dashboard in `jouletrace-server`. Not part of the API
//! users measure with.

use std::io::Read as _;
use std::os::unix::process::CommandExt as _;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// Opens `url` in a headless Chromium with a fresh `profile` directory and no network beyond
/// what the `extra` arguments allow (a `--host-resolver-rules=…` among them), and returns what
/// it printed on stdout (`--dump-dom`, for instance). The whole process group is killed after
/// `timeout` or once the browser exits, so no helper outlives the test.
///
/// # Panics
/// When Chromium cannot start, exceeds `timeout` or exits unsuccessfully: these are test
/// failures, named with the extra arguments.
pub fn run_headless(
    chromium: &Path,
    profile: &Path,
    extra: &[String],
    url: &str,
    timeout: Duration,
) -> String {
    let mut child = Command::new(chromium)
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--disable-extensions",
            "--disable-dev-shm-usage",
            "--hide-scrollbars",
        ])
        .arg(format!("--user-data-dir={}", profile.display()))
        .args(extra)
        .arg(url)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .process_group(0)
        .spawn()
        .expect("start chromium");
    let mut stdout = child.stdout.take().expect("piped");
    let reader = std::thread::spawn(move || {
        let mut text = String::new();
        let _ = stdout.read_to_string(&mut text);
        text
    });
    let start = Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait().expect("wait for chromium") {
            break status;
        }
        if start.elapsed() > timeout {
            // SAFETY: kill(2) on the process group created for this child; no memory involved.
            unsafe { libc::kill(-(child.id() as i32), libc::SIGKILL) };
            let _ = child.wait();
            panic!("chromium did not finish within {timeout:?} ({extra:?})");
        }
        std::thread::sleep(Duration::from_millis(100));
    };
    // Chromium's helpers may outlive the browser process for a moment; end them.
    // SAFETY: as above.
    unsafe { libc::kill(-(child.id() as i32), libc::SIGKILL) };
    let out = reader.join().expect("reader thread");
    assert!(status.success(), "chromium failed: {status} ({extra:?})");
    out
}
