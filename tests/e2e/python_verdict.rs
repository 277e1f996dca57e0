//! The orchestrator judges Python outputs (protocol 3), end to end through `engine::run` and the
//! real, sandboxed Python host: the reward hacks that beat the old in-process comparison — an
//! object equal to anything, the expected output read from the caller's frames, the garbage
//! collector or the job file, a forged `checked` verdict written to the protocol channel — are
//! each a wrong answer, never measured, and the run goes on to check and measure an honest
//! candidate of the same problem.

use std::path::Path;

use jouletrace::config::HostConfig;
use jouletrace::engine::{self, CancelToken, NullObserver, RunContext};
use jouletrace::job::{Job, MeasureRequest};
use jouletrace::python::hacks::HACKS;
use jouletrace::python::{HostFiles, Interpreter};
use jouletrace::results::{RunResults, Status};
use serde_json::json;

/// The system interpreter: the sandbox user (when these tests run as root) can execute it,
/// unlike pyenv's under /root.
fn python() -> Interpreter {
    Interpreter::find(Some(Path::new("/usr/bin/python3"))).expect("Debian's /usr/bin/python3")
}

const HONEST: &str = "def solve(x):\n    return x * 7\n";

fn job() -> Job {
    job_of(HACKS.iter().copied().chain([("honest", HONEST)]))
}

fn job_of<'a>(candidates: impl Iterator<Item = (&'a str, &'a str)>) -> Job {
    let requests = candidates
        .map(|(name, code)| {
            let body = json!({"candidate_code": code, "candidate_id": name, "problem_name": "p",
                              "test_cases": [{"test_id": "t", "inputs": [6], "expected_output": 42}]});
            MeasureRequest::parse(body.to_string().as_bytes()).unwrap()
        })
        .collect();
    Job::from_requests(requests).unwrap()
}

fn run(job: &Job, dir: &Path) -> RunResults {
    let files = HostFiles::write(job).unwrap();
    let config = jouletrace_tests::quick_estimate_config();
    let context = RunContext::new(&HostConfig {
        lock_path: dir.join("measure.lock"),
        ..HostConfig::default()
    });
    engine::run(
        &[files.target(&python(), "verdict")],
        &config,
        &context,
        &mut NullObserver,
        &CancelToken::new(),
    )
    .expect("engine run")
}

#[test]
fn reward_hacks_are_wrong_answers_and_the_honest_candidate_is_measured() {
    let dir = tempfile::tempdir().unwrap();
    let job = job();
    // The host's job file holds no expected output to find.
    let files = HostFiles::write(&job).unwrap();
    let text = std::fs::read_to_string(files.job()).unwrap();
    let written: serde_json::Value = serde_json::from_str(&text).unwrap();
    assert_eq!(
        written["cases"]["p"],
        json!([{"id": "t", "inputs": [6], "metadata": {}, "measured": true}])
    );

    let r = run(&job, dir.path());
    let mut seen = Vec::new();
    for c in r.candidates() {
        let f = c.check.failure.as_ref();
        seen.push(format!(
            "{}: {:?} {:?} {:?}",
            c.name,
            c.status,
            f.and_then(|f| f.expected.clone()),
            f.and_then(|f| f.actual.clone())
        ));
    }
    seen.sort();
    let shown: Vec<String> = seen
        .iter()
        // The object's address varies.
        .map(|s| match s.find(" object at 0x") {
            Some(at) => format!("{}…", &s[..at]),
            None => s.clone(),
        })
        .collect();
    assert_eq!(
        shown,
        [
            "always_equal: WrongAnswer Some(\"42\") Some(\"<candidate_1.AlwaysEqual…",
            "equal_int: WrongAnswer Some(\"42\") Some(\"E(0)\")",
            "equal_list: WrongAnswer Some(\"42\") Some(\"L([])\")",
            "forged_checked: WrongAnswer Some(\"42\") Some(\"-1\")",
            "frames: WrongAnswer Some(\"42\") Some(\"'not found'\")",
            "gc: WrongAnswer Some(\"42\") Some(\"'not found'\")",
            "honest: Passed None None",
            "job_file: WrongAnswer Some(\"42\") Some(\"'not found'\")",
        ]
    );
    for c in r.candidates() {
        if c.name == "honest" {
            assert_eq!(c.check.verdicts.len(), 1);
            assert!(c.check.verdicts[0].passed);
            assert!(
                !c.measurements.is_empty(),
                "the honest candidate is measured"
            );
        } else {
            assert_eq!(c.status, Status::WrongAnswer);
            assert!(
                c.measurements.is_empty(),
                "{}: a wrong answer is never measured",
                c.name
            );
            assert!(!c.check.verdicts[0].passed, "{}", c.name);
        }
    }
}

/// A candidate that writes without end to every descriptor it has, the protocol channel among
/// them, with no newline: the orchestrator stops reading at its message limit, calls it a
/// protocol error and kills the worker, instead of buffering until it runs out of memory; the
/// honest candidate beside it is still checked and measured.
#[test]
fn an_endless_line_on_the_protocol_channel_is_a_protocol_error() {
    const FLOOD: &str = "import os\n\
        CHUNK = b'x' * (1 << 20)\n\
        def solve(x):\n\
        \x20   while True:\n\
        \x20       for fd in range(3, 64):\n\
        \x20           try:\n\
        \x20               os.write(fd, CHUNK)\n\
        \x20           except OSError:\n\
        \x20               pass\n";
    let dir = tempfile::tempdir().unwrap();
    let job = job_of([("flood", FLOOD), ("honest", HONEST)].into_iter());
    let r = run(&job, dir.path());
    let by_name = |n: &str| r.candidates().find(|c| c.name == n).unwrap();
    let flood = by_name("flood");
    assert_eq!(flood.status, Status::ProtocolError, "{:?}", flood.check);
    let message = &flood.check.failure.as_ref().unwrap().message;
    assert!(message.contains("longer than 268435456 bytes"), "{message}");
    assert!(flood.measurements.is_empty());
    let honest = by_name("honest");
    assert_eq!(honest.status, Status::Passed);
    assert!(
        !honest.measurements.is_empty(),
        "the honest candidate is measured"
    );
}
