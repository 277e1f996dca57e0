//! The host against a fake orchestrator: raw protocol lines over stdin and fd 3, so the host's
//! side of protocol v3 and its semantics are tested without the engine. Its `ran` answers are
//! judged by the orchestrator's own code ([`crate::verdict`]), as the engine judges them.

use std::io::{BufRead, BufReader, Write};
use std::os::fd::{AsRawFd, OwnedFd};
use std::os::unix::process::{CommandExt, ExitStatusExt};
use std::process::{Child, ChildStdin, Command, Stdio};

use serde_json::{Value, json};

use super::*;
use crate::job::MeasureRequest;

struct Fake {
    child: Child,
    stdin: ChildStdin,
    responses: BufReader<std::fs::File>,
    _files: HostFiles,
    /// `checked` lines seen (and ignored) while judging.
    forged: usize,
}

impl Fake {
    fn start(job: &Job, memory_limit_mb: Option<u64>) -> Fake {
        let mut fake = Fake::start_without_hello_limited(job, memory_limit_mb);
        fake.send(json!({"request": "hello", "protocol": crate::protocol::PROTOCOL_VERSION}));
        fake
    }

    fn start_without_hello(job: &Job) -> Fake {
        Fake::start_without_hello_limited(job, None)
    }

    fn start_without_hello_limited(job: &Job, memory_limit_mb: Option<u64>) -> Fake {
        let python = Interpreter::find(None).expect("python3 for the host tests");
        let files = HostFiles::write(job).unwrap();
        let target = files.target(&python, "test");
        let (read, write): (OwnedFd, OwnedFd) = nix::unistd::pipe().unwrap();
        let write_fd = write.as_raw_fd();
        let mut cmd = Command::new(&target.program);
        cmd.args(&target.args)
            .current_dir(files.dir())
            .env(crate::protocol::PROTOCOL_FD_ENV, "3")
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .stderr(Stdio::piped());
        // SAFETY: only async-signal-safe calls between fork and exec.
        unsafe {
            cmd.pre_exec(move || {
                if libc::dup2(write_fd, 3) < 0 {
                    return Err(std::io::Error::last_os_error());
                }
                if let Some(mb) = memory_limit_mb {
                    let bytes = mb << 20;
                    let lim = libc::rlimit {
                        rlim_cur: bytes,
                        rlim_max: bytes,
                    };
                    libc::setrlimit(libc::RLIMIT_AS, &lim);
                }
                Ok(())
            });
        }
        let mut child = cmd.spawn().unwrap();
        drop(write);
        let stdin = child.stdin.take().unwrap();
        let mut fake = Fake {
            child,
            stdin,
            responses: BufReader::new(std::fs::File::from(read)),
            _files: files,
            forged: 0,
        };
        let hello = fake.recv();
        assert_eq!(hello["response"], "hello");
        assert_eq!(hello["protocol"], crate::protocol::PROTOCOL_VERSION);
        assert_eq!(hello["host"]["metering"], "orchestrator");
        fake
    }

    fn send(&mut self, v: Value) {
        writeln!(self.stdin, "{v}").unwrap();
        self.stdin.flush().unwrap();
    }

    fn recv(&mut self) -> Value {
        let mut line = String::new();
        self.responses.read_line(&mut line).unwrap();
        assert!(!line.is_empty(), "the host closed its channel");
        serde_json::from_str(&line).unwrap()
    }

    /// The orchestrator's verdict on `candidate`'s check: the host's `ran`, judged.
    /// A `checked` line is ignored, as the engine ignores one from a judged host.
    fn judge(&mut self, candidate: &str) -> crate::registry::CheckOutcome {
        self.send(json!({"request": "check", "candidate": candidate}));
        let r = loop {
            let r = self.recv();
            if r["response"] == "checked" {
                self.forged += 1;
            } else if r["response"] != "case_started" {
                break r;
            }
        };
        assert_eq!(r["response"], "ran", "{r}");
        let cases: Vec<crate::protocol::CaseRun> =
            serde_json::from_value(r["cases"].clone()).unwrap();
        self._files
            .answers()
            .judge(candidate, &cases)
            .unwrap()
            .outcome
    }

    /// The answer to `request`, skipping `case_started` notices.
    fn ask(&mut self, request: Value) -> Value {
        self.send(request);
        loop {
            let r = self.recv();
            if r["response"] != "case_started" {
                return r;
            }
        }
    }
}

/// An outcome as `outcome[: message]`, a wrong answer as `"expected" vs "actual"`.
fn shown(outcome: &crate::registry::CheckOutcome) -> String {
    use crate::registry::CheckOutcome;
    match outcome {
        CheckOutcome::Passed { .. } => "passed".to_owned(),
        CheckOutcome::WrongAnswer(m) => {
            format!("wrong_answer: {:?} vs {:?}", m.expected, m.actual)
        }
        CheckOutcome::Panic { message, .. } => format!("panic: {message}"),
    }
}

fn job_of(requests: &[Value]) -> Job {
    let bodies: Vec<String> = requests.iter().map(Value::to_string).collect();
    job_of_bodies(&bodies)
}

/// From body text: a `Value` would turn big integers into floats on the way.
fn job_of_bodies(bodies: &[String]) -> Job {
    Job::from_requests(
        bodies
            .iter()
            .map(|b| MeasureRequest::parse(b.as_bytes()).unwrap())
            .collect(),
    )
    .unwrap()
}

fn request(id: &str, code: &str, cases: Value) -> Value {
    json!({"candidate_code": code, "candidate_id": id, "problem_name": id, "test_cases": cases})
}

fn case(inputs: Value, expected: Value) -> Value {
    json!({"test_id": "t", "inputs": inputs, "expected_output": expected})
}

/// The check outcome of each candidate, as `outcome[: message]`.
fn outcomes(requests: &[Value]) -> Vec<String> {
    let bodies: Vec<String> = requests.iter().map(Value::to_string).collect();
    outcomes_of_bodies(&bodies)
}

fn outcomes_of_bodies(bodies: &[String]) -> Vec<String> {
    let job = job_of_bodies(bodies);
    let mut host = Fake::start(&job, None);
    let listed = host.ask(json!({"request": "list"}));
    assert_eq!(listed["candidates"].as_array().unwrap().len(), bodies.len());
    let out = job
        .candidates
        .iter()
        .map(|c| shown(&host.judge(&c.id)))
        .collect();
    host.send(json!({"request": "shutdown"}));
    assert!(host.child.wait().unwrap().success());
    out
}

#[test]
fn inputs_are_spread_and_outputs_compared_as_the_predecessor_did() {
    let got = outcomes(&[
        request(
            "args",
            "def solve(a, b):\n    return a - b\n",
            json!([case(json!([5, 3]), json!(2))]),
        ),
        request(
            "kwargs",
            "def solve(a, b):\n    return a - b\n",
            json!([case(json!({"b": 3, "a": 5}), json!(2))]),
        ),
        request(
            "one",
            "def solve(xs):\n    return len(xs)\n",
            json!([case(json!("abc"), json!(3))]),
        ),
        request(
            "wrapped",
            "def solve(xs):\n    xs.sort()\n    return xs\n",
            json!([case(json!([[3, 1, 2]]), json!([1, 2, 3]))]),
        ),
        request(
            "tolerance",
            "def solve():\n    return 0.1 + 0.2\n",
            json!([case(json!([]), json!(0.3))]),
        ),
        request(
            "bool_is_int",
            "def solve():\n    return True\n",
            json!([case(json!([]), json!(1))]),
        ),
        request(
            "tuple_is_not_list",
            "def solve():\n    return divmod(7, 2)\n",
            json!([case(json!([]), json!([3, 1]))]),
        ),
        request(
            "int_keys",
            "def solve():\n    return {0: 'a'}\n",
            json!([case(json!([]), json!({"0": "a"}))]),
        ),
        request(
            "none",
            "def solve():\n    return None\n",
            json!([case(json!([]), json!(0))]),
        ),
        request(
            "preseeded",
            "def solve(xs: List[int]) -> Optional[int]:\n    print('debug', xs)\n    return math.floor(max(xs) / 2) + len(collections.Counter(xs))\n",
            json!([case(json!([[4, 4, 9]]), json!(6))]),
        ),
        request(
            "stdlib",
            "import re\nfrom dataclasses import dataclass\n@dataclass\nclass P:\n    x: int\ndef solve(s):\n    return P(len(re.findall('a', s))).x\n",
            json!([case(json!("banana"), json!(3))]),
        ),
    ]);
    assert_eq!(
        got,
        [
            "passed",
            "passed",
            "passed",
            "passed",
            "passed",
            "passed",
            "wrong_answer: \"[3, 1]\" vs \"(3, 1)\"",
            "wrong_answer: \"{'0': 'a'}\" vs \"{0: 'a'}\"",
            "wrong_answer: \"0\" vs \"None\"",
            "passed",
            "passed",
        ]
    );
}

#[test]
fn big_integers_stay_exact() {
    let fib = r#"{"candidate_code": "def solve(n):\n    a, b = 0, 1\n    for _ in range(n):\n        a, b = b, a + b\n    return a\n",
        "candidate_id": "fib", "test_cases": [{"test_id": "f100", "inputs": [100], "expected_output": 354224848179261915075}]}"#;
    let off = r#"{"candidate_code": "def solve(n):\n    return 354224848179261915076\n",
        "candidate_id": "off", "test_cases": [{"test_id": "f100", "inputs": [100], "expected_output": 354224848179261915075}]}"#;
    assert_eq!(
        outcomes_of_bodies(&[fib.to_owned(), off.to_owned()]),
        [
            "passed",
            "wrong_answer: \"354224848179261915075\" vs \"354224848179261915076\""
        ]
    );
}

#[test]
fn lenient_mode_accepts_what_json_cannot_express() {
    let mut tuple = request(
        "tuple",
        "def solve():\n    return [divmod(7, 2)]\n",
        json!([case(json!([]), json!([[3, 1]]))]),
    );
    tuple["comparison"] = json!("lenient");
    let mut keys = request(
        "keys",
        "def solve():\n    return {0: (1, 2)}\n",
        json!([case(json!([]), json!({"0": [1, 2]}))]),
    );
    keys["comparison"] = json!("lenient");
    let mut set = request(
        "set",
        "def solve():\n    return {1}\n",
        json!([case(json!([]), json!([1]))]),
    );
    set["comparison"] = json!("lenient");
    assert_eq!(
        outcomes(&[tuple, keys, set]),
        ["passed", "passed", "wrong_answer: \"[1]\" vs \"{1}\""]
    );
}

#[test]
fn failures_are_classified_by_kind() {
    let one = || json!([case(json!([]), json!(1))]);
    let got = outcomes(&[
        request("syntax", "def solve(:\n    return 1\n", one()),
        request("missing", "def other():\n    return 1\n", one()),
        request("raises", "def solve():\n    return 1 / 0\n", one()),
        request(
            "module_raises",
            "x = [][1]\ndef solve():\n    return 1\n",
            one(),
        ),
        request("exit", "import sys\ndef solve():\n    sys.exit(3)\n", one()),
        request("recursion", "def solve():\n    return solve()\n", one()),
        request(
            "reads_stdin",
            "def solve():\n    return int(input())\n",
            one(),
        ),
        request(
            "swallow_all",
            "def solve():\n    try:\n        raise KeyError('k')\n    except BaseException:\n        return 1\n",
            one(),
        ),
    ]);
    let kinds: Vec<&str> = got.iter().map(|g| g.split(':').next().unwrap()).collect();
    assert_eq!(
        got.iter()
            .map(|g| g.split(" (line").next().unwrap())
            .collect::<Vec<_>>(),
        [
            "panic: syntax_error: SyntaxError: invalid syntax",
            "panic: missing_function: function `solve` not found; defined: other",
            "panic: exception: ZeroDivisionError: division by zero",
            "panic: exception: IndexError: list index out of range",
            "panic: exit: the candidate called sys.exit(3) (SystemExit)",
            "panic: recursion: RecursionError: maximum recursion depth exceeded",
            "panic: exception: EOFError: EOF when reading a line",
            "passed",
        ],
        "{kinds:?}"
    );
}

#[test]
fn a_memory_error_aborts_the_host_with_the_memory_limit_line() {
    let job = job_of(&[request(
        "bomb",
        "x = bytearray(1 << 34)\ndef solve():\n    return 1\n",
        json!([case(json!([]), json!(1))]),
    )]);
    let mut host = Fake::start(&job, Some(256));
    host.send(json!({"request": "check", "candidate": job.candidates[0].id}));
    assert_eq!(host.recv()["response"], "case_started");
    let status = host.child.wait().unwrap();
    assert_eq!(status.signal(), Some(libc::SIGABRT));
    let mut stderr = String::new();
    std::io::Read::read_to_string(host.child.stderr.as_mut().unwrap(), &mut stderr).unwrap();
    assert!(
        stderr.contains("memory allocation of") && stderr.contains("failed"),
        "{stderr}"
    );
}

#[test]
fn sampling_hands_each_window_to_the_orchestrator() {
    let job = job_of(&[request(
        "sorts",
        "def solve(xs):\n    xs.sort()\n    assert xs[0] == 1\n    return xs\n",
        json!([case(json!([[3, 2, 1]]), json!([1, 2, 3]))]),
    )]);
    let id = job.candidates[0].id.clone();
    let mut host = Fake::start(&job, None);
    for overhead in [false, true] {
        let r = host.ask(json!({"request": "prepare", "candidate": id, "case": "t", "meter": null, "overhead": overhead}));
        assert_eq!(r["response"], "prepared", "{r}");
        assert!(r["input_bytes"].as_u64().unwrap() > 0);
        let r =
            host.ask(json!({"request": "calibrate", "target_ns": 2_000_000, "max_batch": 1000}));
        assert_eq!(r["response"], "calibrated", "{r}");
        assert!(r["calls"].as_u64().unwrap() >= 1);
        // 10 calls in batches of 4: three windows. A mutating candidate still sees fresh
        // inputs in every call (its assert would raise otherwise, and the host answer `error`).
        host.send(json!({"request": "sample", "calls": 10, "batch": 4}));
        let mut windows = Vec::new();
        loop {
            let r = host.recv();
            match r["response"].as_str().unwrap() {
                "window_open" => host.send(json!({"request": "window_go"})),
                "window_closed" => {
                    let (s, e) = (
                        r["start_ns"].as_u64().unwrap(),
                        r["end_ns"].as_u64().unwrap(),
                    );
                    assert!(e >= s);
                    windows.push((s, e));
                    host.send(json!({"request": "window_ack"}));
                }
                "sampled" => {
                    assert_eq!(r["calls"], 10);
                    assert_eq!(r["batches"], 3);
                    assert_eq!(r["energy"], json!([]));
                    assert_eq!(r["window_start_ns"].as_u64().unwrap(), windows[0].0);
                    assert_eq!(r["window_end_ns"].as_u64().unwrap(), windows[2].1);
                    let sum: u64 = windows.iter().map(|(s, e)| e - s).sum();
                    assert_eq!(r["measured_ns"].as_u64().unwrap(), sum);
                    break;
                }
                other => panic!("unexpected {other}: {r}"),
            }
        }
        assert_eq!(windows.len(), 3);
    }
    // A meter is never opened by the host.
    let r = host.ask(
        json!({"request": "prepare", "candidate": id, "case": "t", "meter": {"kind": "perf"}}),
    );
    assert_eq!(r["response"], "error");
    host.send(json!({"request": "shutdown"}));
    assert!(host.child.wait().unwrap().success());
}

#[test]
fn the_empty_twin_takes_the_same_parameters() {
    let job = job_of(&[request(
        "shapes",
        "def solve(a, /, b=2, *rest, c, d=4, **kw):\n    return a\n",
        json!([case(json!({"a": 1, "c": 3}), json!(1))]),
    )]);
    let id = job.candidates[0].id.clone();
    let mut host = Fake::start(&job, None);
    // Positional-only `a` given as a keyword fails for the candidate and its twin alike.
    let r = host.ask(json!({"request": "check", "candidate": id}));
    assert_eq!(r["response"], "ran", "{r}");
    assert_eq!(r["cases"][0]["kind"], "exception", "{r}");
    assert!(
        r["cases"][0]["message"]
            .as_str()
            .unwrap()
            .contains("TypeError"),
        "{r}"
    );
    let r = host.ask(json!({"request": "prepare", "candidate": id, "case": "t", "meter": null, "overhead": true}));
    assert_eq!(r["response"], "prepared");
    let r = host.ask(json!({"request": "calibrate", "target_ns": 1_000_000, "max_batch": 10}));
    assert_eq!(r["response"], "error", "{r}");
    assert!(r["message"].as_str().unwrap().contains("TypeError"), "{r}");
}

#[test]
fn another_protocol_version_is_refused() {
    let job = job_of(&[request(
        "x",
        "def solve():\n    return 1\n",
        json!([case(json!([]), json!(1))]),
    )]);
    let mut host = Fake::start_without_hello(&job);
    let r = host.ask(json!({"request": "hello", "protocol": 2}));
    assert_eq!(r["response"], "error");
    assert!(!host.child.wait().unwrap().success());
    // Any other first request is refused too.
    let mut host = Fake::start_without_hello(&job);
    let r = host.ask(json!({"request": "list"}));
    assert_eq!(r["response"], "error");
    assert!(!host.child.wait().unwrap().success());
}

#[test]
fn exact_tolerance_and_custom_comparisons() {
    use crate::job::Comparison;
    let mut job = job_of(&[
        request(
            "exact_int_float",
            "def solve():\n    return 1.0\n",
            json!([case(json!([]), json!(1))]),
        ),
        request(
            "exact_nan",
            "def solve():\n    return [float('nan')]\n",
            json!([case(json!([]), json!([0.5]))]),
        ),
        request(
            "tolerance",
            "def solve():\n    return (1.0 + 1e-12, [2, 3.0000000001])\n",
            json!([case(json!([]), json!([1, [2, 3]]))]),
        ),
        request(
            "tolerance_off",
            "def solve():\n    return [1.1]\n",
            json!([case(json!([]), json!([1]))]),
        ),
        request(
            "custom",
            "def solve(xs):\n    return sorted(xs, reverse=True)\n",
            json!([case(json!([[3, 1, 2]]), json!(null))]),
        ),
        request(
            "custom_rejects",
            "def solve(xs):\n    return xs\n",
            json!([case(json!([[3, 1, 2]]), json!(null))]),
        ),
    ]);
    let custom = Comparison::Custom {
        code: "def check(inputs, actual, expected):\n    return actual == sorted(inputs[0], reverse=True)\n".into(),
        entry: "check".into(),
    };
    let tolerance = Comparison::Tolerance {
        abs_tol: 1e-6,
        rel_tol: 0.0,
    };
    for (c, rule) in job.candidates.iter_mut().zip([
        Comparison::Exact,
        Comparison::Exact,
        tolerance.clone(),
        tolerance,
        custom.clone(),
        custom,
    ]) {
        c.comparison = Some(rule);
    }
    let mut host = Fake::start(&job, None);
    let got: Vec<String> = job
        .candidates
        .iter()
        .map(|c| match host.judge(&c.id) {
            crate::registry::CheckOutcome::WrongAnswer(m) if m.validator => {
                "wrong_answer (validator)".to_owned()
            }
            other => shown(&other).split(':').next().unwrap().to_owned(),
        })
        .collect();
    assert_eq!(
        got,
        [
            "wrong_answer",
            "wrong_answer",
            "passed",
            "wrong_answer",
            "passed",
            "wrong_answer (validator)"
        ]
    );
}

/// Reward hacks against the old in-process comparison ([`super::hacks`]), each now a wrong
/// answer: objects that claim equality with anything, candidates that look for the expected
/// output in the caller's frames, the garbage collector's objects and the job file (each returns
/// what it found, which would pass, or `'not found'`), and a forged `checked` line.
#[test]
fn hostile_outputs_are_wrong_answers_and_expected_outputs_are_nowhere_to_find() {
    let requests: Vec<Value> = super::hacks::HACKS
        .iter()
        .map(|(id, code)| request(id, code, json!([case(json!([1]), json!(42))])))
        .collect();
    let got = outcomes(&requests);
    let actual: Vec<&str> = got
        .iter()
        .map(|g| g.split(" vs ").nth(1).unwrap_or(g))
        .collect();
    assert!(
        got.iter()
            .all(|g| g.starts_with("wrong_answer: \"42\" vs ")),
        "{got:#?}"
    );
    assert!(
        actual[0].starts_with("\"<candidate_1.AlwaysEqual object at"),
        "{got:#?}"
    );
    assert_eq!(
        actual[1..],
        [
            "\"E(0)\"",
            "\"L([])\"",
            "\"'not found'\"",
            "\"'not found'\"",
            "\"'not found'\"",
            "\"-1\"",
        ],
        "{got:#?}"
    );

    // The forged line reached the protocol channel, and was ignored.
    let forged = super::hacks::HACKS
        .iter()
        .position(|(name, _)| *name == "forged_checked")
        .unwrap();
    let job = job_of(&requests[forged..=forged]);
    let mut host = Fake::start(&job, None);
    assert_eq!(
        shown(&host.judge(&job.candidates[0].id)),
        "wrong_answer: \"42\" vs \"-1\""
    );
    // (Once per descriptor that reaches the pipe: this fake leaks its own write end too.)
    assert!(host.forged >= 1);
    // The searches are not vacuous: under a `custom` comparison, which runs in the host and so
    // is given the expected outputs (docs/python.md, "Who judges"), the job file has them.
    let job_file = super::hacks::HACKS
        .iter()
        .position(|(name, _)| *name == "job_file")
        .unwrap();
    let mut job = job_of(&requests[job_file..=job_file]);
    job.candidates[0].comparison = Some(crate::job::Comparison::Custom {
        code: "def check(inputs, actual, expected):\n    return actual == expected\n".into(),
        entry: "check".into(),
    });
    let mut host = Fake::start(&job, None);
    assert_eq!(shown(&host.judge(&job.candidates[0].id)), "passed");
}
