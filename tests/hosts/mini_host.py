#!/usr/bin/env python3
"""A minimal JouleTrace host in another language, for the engine's tests.

It speaks worker protocol 3 (docs/protocol.md) with `metering: orchestrator`: it never opens an
energy counter; it announces each batch with `window_open`, runs it between two CLOCK_MONOTONIC
readings once told `window_go`, and reports them in `window_closed`. Candidates and cases come
from the job file named by its first argument (or JOULETRACE_JOB). It compares outputs with the
job's rule: `exact` (equal values of equal types), else numbers within `abs_tol`/`rel_tol`, and
answers `checked` itself: its targets carry no answers, so the engine lets it judge (the
product's Python host reports outputs instead, for the engine to judge).

This is a test fixture, not the product's Python host (no sandbox, no predecessor semantics):
it proves that the engine hosts a program it was not compiled with.
"""

import copy
import json
import os
import platform
import sys
import time

PROTOCOL = 3


def send(out, message):
    out.write(json.dumps(message) + "\n")
    out.flush()


def read(stdin):
    line = stdin.readline()
    if not line:
        sys.exit(0)
    return json.loads(line)


def spread(fn, inputs):
    """A JSON array is the positional arguments, an object the keyword ones, else one argument."""
    if isinstance(inputs, list):
        return lambda: fn(*inputs)
    if isinstance(inputs, dict):
        return lambda: fn(**inputs)
    return lambda: fn(inputs)


def equal(actual, expected, rule):
    if rule.get("mode") == "exact":
        return type(actual) is type(expected) and actual == expected
    if isinstance(actual, bool) or isinstance(expected, bool):
        return actual == expected
    if isinstance(actual, (int, float)) and isinstance(expected, (int, float)):
        if actual == expected:
            return True
        diff = abs(actual - expected)
        return diff <= rule.get("abs_tol", 0.0) or diff <= rule.get("rel_tol", 0.0) * max(
            abs(actual), abs(expected)
        )
    if isinstance(actual, (list, tuple)) and isinstance(expected, list):
        return len(actual) == len(expected) and all(
            equal(a, e, rule) for a, e in zip(actual, expected)
        )
    return actual == expected


class Host:
    def __init__(self, job):
        self.job = job
        self.candidates = {c["id"]: c for c in job["candidates"]}
        self.prepared = None

    def descriptor(self, c):
        return {
            "id": c["id"],
            "problem": c["problem"],
            "name": c["name"],
            "location": c.get("location") or "job:" + c["id"],
            "options": c.get("options", {}),
            "cases": [
                {"id": k["id"], "size": k.get("size"), "measured": k.get("measured", True)}
                for k in self.job["cases"].get(c["problem"], [])
            ],
        }

    def load(self, c):
        namespace = {}
        exec(compile(c["code"], "<candidate " + c["id"] + ">", "exec"), namespace)
        return namespace[c["entry"]]

    def check(self, out, c):
        rule = c.get("comparison") or self.job.get("comparison") or {}
        cases = self.job["cases"].get(c["problem"], [])
        for case in cases:
            send(out, {"response": "case_started", "case": case["id"]})
            try:
                actual = spread(self.load(c), copy.deepcopy(case["inputs"]))()
            except Exception as e:  # noqa: BLE001 - a candidate's exception is its failure
                return {"outcome": "panic", "case": case["id"], "message": repr(e)}
            if not equal(actual, case["expected"], rule):
                return {
                    "outcome": "wrong_answer",
                    "case": case["id"],
                    "expected": repr(case["expected"]),
                    "actual": repr(actual),
                    "validator": False,
                }
        return {"outcome": "passed", "cases": len(cases)}

    def prepare(self, c, case_id, overhead):
        case = next(k for k in self.job["cases"][c["problem"]] if k["id"] == case_id)
        fn = (lambda *a, **k: None) if overhead else self.load(c)
        inputs = case["inputs"]
        # Immutable arguments need no fresh copy per call; containers do (a candidate may sort).
        mutable = isinstance(inputs, (list, dict)) and any(
            isinstance(v, (list, dict))
            for v in (inputs if isinstance(inputs, list) else inputs.values())
        )
        self.prepared = (fn, inputs, mutable)
        return len(json.dumps(inputs)) * 8

    def calls(self, n):
        fn, inputs, mutable = self.prepared
        if mutable:
            return [spread(fn, copy.deepcopy(inputs)) for _ in range(n)]
        call = spread(fn, inputs)
        return [call] * n

    def calibrate(self, target_ns, max_batch):
        n = 1
        while True:
            calls = self.calls(min(n, max_batch))
            rounds = max(1, n // len(calls))
            start = time.monotonic_ns()
            for _ in range(rounds):
                for call in calls:
                    call()
            elapsed = max(time.monotonic_ns() - start, 1)
            done = rounds * len(calls)
            if elapsed >= target_ns // 10 or n >= 1 << 40:
                return {
                    "response": "calibrated",
                    "calls": max(1, -(-done * target_ns // elapsed)),
                    "elapsed_ns": elapsed,
                }
            n *= max(2, min(100, (target_ns // 10) // elapsed))

    def sample(self, out, stdin, calls, batch):
        # Bounded batches keep the fresh inputs of one batch small.
        batch = max(1, min(batch, 100_000))
        remaining, batches, measured = calls, 0, 0
        first, last = None, 0
        while remaining > 0:
            n = min(batch, remaining)
            ready = self.calls(n)
            # A misbehaving host for the engine's tests: it starts its clock before the go, so
            # its window would not lie inside the metered one.
            early = time.monotonic_ns() if os.environ.get("MINI_HOST_EARLY_CLOCK") else None
            send(out, {"response": "window_open"})
            if read(stdin).get("request") != "window_go":
                sys.exit(2)
            start = early or time.monotonic_ns()
            for call in ready:
                call()
            end = time.monotonic_ns()
            send(out, {"response": "window_closed", "start_ns": start, "end_ns": end})
            if read(stdin).get("request") != "window_ack":
                sys.exit(2)
            first = start if first is None else first
            last = end
            measured += end - start
            batches += 1
            remaining -= n
        if os.environ.get("MINI_HOST_MISCOUNT"):
            # Misbehaving for the engine's tests: one batch more than the windows it opened.
            batches += 1
        return {
            "response": "sampled",
            "calls": calls,
            "window_start_ns": first,
            "window_end_ns": last,
            "measured_ns": measured,
            "cpu_ns": 0,
            "batches": batches,
            "energy": [],
        }


def main():
    out = os.fdopen(int(os.environ.get("JOULETRACE_PROTOCOL_FD", "3")), "w")
    stdin = sys.stdin
    path = sys.argv[1] if len(sys.argv) > 1 else os.environ["JOULETRACE_JOB"]
    with open(path) as f:
        host = Host(json.load(f))
    send(
        out,
        {
            "response": "hello",
            # Another version only when a test asks for one: the orchestrator must refuse it.
            "protocol": int(os.environ.get("MINI_HOST_PROTOCOL", PROTOCOL)),
            "pid": os.getpid(),
            "host": {
                "language": "python",
                "version": platform.python_version(),
                "executable": sys.executable,
                # Another value only when a test asks: the engine must refuse it.
                "metering": os.environ.get("MINI_HOST_METERING", "orchestrator"),
            },
        },
    )
    first = read(stdin)
    if first.get("request") != "hello" or first.get("protocol") != PROTOCOL:
        send(out, {"response": "error", "message": "this host speaks protocol 3 only"})
        sys.exit(2)
    while True:
        r = read(stdin)
        kind = r.get("request")
        c = host.candidates.get(r.get("candidate"))
        if kind == "shutdown":
            sys.exit(0)
        elif kind == "list":
            answer = {
                "response": "candidates",
                "candidates": [host.descriptor(c) for c in host.job["candidates"]],
            }
        elif kind in ("cases", "check", "prepare") and c is None:
            answer = {"response": "error", "message": "no candidate " + repr(r.get("candidate"))}
        elif kind == "cases":
            answer = {"response": "cases", "cases": host.descriptor(c)["cases"]}
        elif kind == "check":
            answer = {"response": "checked", "outcome": host.check(out, c), "stray_threads": 0}
        elif kind == "prepare":
            if r.get("meter") is not None:
                answer = {"response": "error", "message": "this host never opens a meter"}
            else:
                answer = {
                    "response": "prepared",
                    "input_bytes": host.prepare(c, r["case"], r.get("overhead", False)),
                }
        elif kind == "calibrate" and host.prepared:
            answer = host.calibrate(r["target_ns"], r["max_batch"])
        elif kind == "sample" and host.prepared:
            answer = host.sample(out, stdin, r["calls"], r["batch"])
        else:
            answer = {"response": "error", "message": "unexpected request " + json.dumps(r)}
        send(out, answer)


if __name__ == "__main__":
    main()
