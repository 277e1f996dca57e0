# JouleTrace's Python host: runs untrusted Python candidates for the engine, speaking the worker
# protocol v3 (docs/protocol.md). Embedded in the jouletrace library and written to a private
# directory at run time; started as `python3 -I -S host.py JOB.json` by the worker pool, which
# has already applied the limits (wall-clock timeout from outside, address space, processes,
# sandbox). Nothing of a candidate runs before this process is under those limits.
#
# Channels: requests arrive on stdin, responses leave on the descriptor named by
# JOULETRACE_PROTOCOL_FD (3). Both are moved to private descriptors before any candidate code
# runs, and fds 0 becomes /dev/null, so `input()` or a stray print cannot touch the protocol.
# stdout and stderr belong to the candidate and are captured (bounded) by the engine.
#
# Semantics (docs/python.md): inputs spread as the predecessor did (array -> *args, object ->
# **kwargs, anything else -> one argument), fresh inputs for every call made before the window
# opens, its pre-seeded namespace. Outputs are reported, never judged here: the orchestrator
# compares them with expected outputs this process is never given (`encode`, `Host.check`).

import builtins
import gc
import json
import math
import os
import platform
import sys
import threading
import time
import traceback
import types

PROTOCOL = 3
JOB_PROTOCOL = 2
# The only filename candidate code is compiled under; tracebacks are cut to its frames.
CANDIDATE_FILE = "<candidate>"
# Longest `repr` of a value the output encoding cannot represent.
MAX_SHOWN = 2000
# The memory probe (Prepared.input_bytes) sizes at most this many nested objects.
PROBE_OBJECTS = 200_000

MEMORY_ERROR_LINE = (
    "memory allocation of unknown size failed: the candidate raised MemoryError under the "
    "address-space limit\n"
)


WINDOW_LINES = {
    "window_go": '{"request":"window_go"}\n',
    "window_ack": '{"request":"window_ack"}\n',
}
WINDOW_OPEN_LINE = '{"response":"window_open"}\n'


class HostError(Exception):
    """A request the host cannot carry out: answered with an `error` response."""


# ---------------------------------------------------------------------------------------------
# The protocol channel


class Channel:
    def __init__(self):
        out_fd = int(os.environ.get("JOULETRACE_PROTOCOL_FD", "3"))
        # Private copies, close-on-exec, so a candidate's subprocess inherits neither.
        self.out = os.fdopen(os.dup(out_fd), "w", encoding="utf-8", buffering=1)
        self.inp = os.fdopen(os.dup(0), "r", encoding="utf-8")
        os.close(out_fd)
        devnull = os.open(os.devnull, os.O_RDONLY)
        os.dup2(devnull, 0)
        os.close(devnull)

    def send(self, message):
        try:
            self.out.write(json.dumps(message, separators=(",", ":")) + "\n")
            self.out.flush()
        except (BrokenPipeError, OSError):
            # The orchestrator is gone; there is no one to tell.
            os._exit(3)

    def receive(self):
        line = self.inp.readline()
        if not line:
            return None
        try:
            return json.loads(line)
        except ValueError as e:
            raise HostError(f"unreadable request ({e})") from None

    def expect(self, name):
        """Blocks for one request of the window handshake. The orchestrator writes these lines
        exactly so; comparing text keeps the host's work inside a window to a minimum."""
        line = self.inp.readline()
        if not line:
            os._exit(0)
        if line == WINDOW_LINES[name]:
            return
        try:
            request = json.loads(line)
        except ValueError:
            request = {}
        if request.get("request") != name:
            raise HostError(f"expected `{name}` during a sample, got {line.strip()[:200]!r}")

    def send_line(self, line):
        """A pre-encoded response (the window handshake's)."""
        try:
            self.out.write(line)
            self.out.flush()
        except (BrokenPipeError, OSError):
            os._exit(3)


# ---------------------------------------------------------------------------------------------
# Candidates: the namespace, loading, calling


def preseeded_namespace(name):
    """The predecessor's pre-seeded names, so benchmark code written against it keeps passing.
    A real module (registered in sys.modules) so dataclasses, pickle and typing work."""
    import bisect
    import collections
    import functools
    import heapq
    import itertools
    import random
    import typing

    module = types.ModuleType(name)
    module.__dict__.update(
        {
            "__builtins__": builtins,
            "math": math,
            "collections": collections,
            "itertools": itertools,
            "functools": functools,
            "heapq": heapq,
            "bisect": bisect,
            "random": random,
            "List": typing.List,
            "Dict": typing.Dict,
            "Set": typing.Set,
            "Tuple": typing.Tuple,
            "Optional": typing.Optional,
            "Union": typing.Union,
            "Any": typing.Any,
        }
    )
    sys.modules[name] = module
    return module


class CandidateFailure(Exception):
    """The candidate failed in a way that is its own fault: reported as its check's outcome."""

    def __init__(self, kind, message):
        super().__init__(message)
        self.kind = kind
        self.message = message


def describe_exception(exc):
    """`Type: message (line N)`, from the candidate's own innermost frame."""
    line = None
    tb = exc.__traceback__
    while tb is not None:
        if tb.tb_frame.f_code.co_filename == CANDIDATE_FILE:
            line = tb.tb_lineno
        tb = tb.tb_next
    text = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
    return text + (f" (line {line})" if line else "")


def classify_exception(exc):
    if isinstance(exc, MemoryError):
        die_of_memory()
    if isinstance(exc, RecursionError):
        return CandidateFailure("recursion", describe_exception(exc))
    if isinstance(exc, SystemExit):
        return CandidateFailure(
            "exit", f"the candidate called sys.exit({exc.code!r}) (SystemExit)"
        )
    if isinstance(exc, KeyboardInterrupt):
        return CandidateFailure("exception", "KeyboardInterrupt raised by the candidate")
    return CandidateFailure("exception", describe_exception(exc))


def die_of_memory():
    """A MemoryError under RLIMIT_AS is the memory limit. The engine recognises that from an
    abort whose stderr says a memory allocation failed (the same rule as a Rust worker's), so
    the host says so and aborts, without a core file."""
    try:
        import resource

        resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    except Exception:
        pass
    try:
        os.write(2, MEMORY_ERROR_LINE.encode())
    except OSError:
        pass
    os.abort()


class Candidate:
    def __init__(self, spec):
        self.spec = spec
        self.id = spec["id"]
        self.entry = spec["entry"]
        self._code = None
        self.loads = 0

    def compiled(self):
        if self._code is None:
            try:
                self._code = compile(self.spec["code"], CANDIDATE_FILE, "exec", dont_inherit=True)
            except SyntaxError as e:
                where = f" (line {e.lineno})" if e.lineno else ""
                raise CandidateFailure("syntax_error", f"SyntaxError: {e.msg}{where}") from None
            except (ValueError, OverflowError, MemoryError, RecursionError) as e:
                if isinstance(e, MemoryError):
                    die_of_memory()
                raise CandidateFailure("syntax_error", f"{type(e).__name__}: {e}") from None
        return self._code

    def load(self):
        """Executes the module in a fresh namespace and returns its entry function. Every load
        is a fresh module: globals never carry over from an earlier load."""
        code = self.compiled()
        self.loads += 1
        module = preseeded_namespace(f"candidate_{self.loads}")
        try:
            exec(code, module.__dict__)
        except BaseException as e:  # noqa: BLE001 - the candidate's failure, whatever it is
            raise classify_exception(e) from None
        entry = module.__dict__.get(self.entry)
        if entry is None or not callable(entry):
            available = sorted(
                k
                for k, v in module.__dict__.items()
                if callable(v) and not k.startswith("__") and not isinstance(v, types.ModuleType)
                and getattr(v, "__module__", None) == module.__name__
            )
            what = "not found" if entry is None else "not callable"
            raise CandidateFailure(
                "missing_function",
                f"function `{self.entry}` {what}; defined: {', '.join(available) or 'nothing'}",
            )
        return entry


# ---------------------------------------------------------------------------------------------
# Inputs


class Inputs:
    """One case's inputs: raw JSON, spread into calls; fresh objects on demand.

    Python's json keeps integers exact. Inputs made only of immutable values (numbers,
    strings, booleans, null) are shared: no call can change them."""

    def __init__(self, raw):
        self.raw = raw
        self.text = json.dumps(raw)
        if isinstance(raw, list):
            self.spread = "args"
        elif isinstance(raw, dict):
            self.spread = "kwargs"
        else:
            self.spread = "one"
        self.immutable = is_immutable(raw)
        self._shared = self._make(raw) if self.immutable else None

    def _make(self, value):
        if self.spread == "args":
            return tuple(value)
        if self.spread == "kwargs":
            return value
        return (value,)

    def raw_copy(self):
        """The inputs as JSON gave them (for a custom validator), a fresh copy."""
        return json.loads(self.text)

    def fresh(self):
        if self.immutable:
            return self._shared
        return self._make(json.loads(self.text))

    def batch(self, n):
        if self.immutable:
            return [self._shared] * n
        return [self.fresh() for _ in range(n)]

    def call(self, f, args):
        if self.spread == "kwargs":
            return f(**args)
        return f(*args)

    def arity_names(self):
        return list(self.raw.keys()) if self.spread == "kwargs" else None


def is_immutable(value):
    if isinstance(value, list):
        return all(isinstance(v, (int, float, str, bool)) or v is None for v in value)
    if isinstance(value, dict):
        return all(isinstance(v, (int, float, str, bool)) or v is None for v in value.values())
    return True


def approximate_size(value):
    """Bytes one fresh copy of the inputs takes (recursive getsizeof, bounded)."""
    seen = 0
    total = 0
    stack = [value]
    while stack and seen < PROBE_OBJECTS:
        v = stack.pop()
        seen += 1
        total += sys.getsizeof(v)
        if isinstance(v, dict):
            stack.extend(v.keys())
            stack.extend(v.values())
        elif isinstance(v, (list, tuple)):
            stack.extend(v)
    return total


def empty_twin(f, inputs):
    """An empty function taking the same parameters as `f` (same names, kinds and defaults
    slots), so calling it on the same inputs costs what the calling loop and argument binding
    cost, and nothing of the candidate's body."""
    import inspect

    try:
        signature = inspect.signature(f)
    except (TypeError, ValueError):
        signature = None
    if signature is None:
        def anything(*args, **kwargs):
            return None

        return anything
    params = []
    seen_kw_only = False
    saw_positional_only = False
    for p in signature.parameters.values():
        name = p.name
        default = "=None" if p.default is not inspect.Parameter.empty else ""
        if p.kind is inspect.Parameter.POSITIONAL_ONLY:
            params.append(name + default)
            saw_positional_only = True
            continue
        if saw_positional_only:
            params.append("/")
            saw_positional_only = False
        if p.kind is inspect.Parameter.VAR_POSITIONAL:
            params.append("*" + name)
            seen_kw_only = True
        elif p.kind is inspect.Parameter.KEYWORD_ONLY:
            if not seen_kw_only:
                params.append("*")
                seen_kw_only = True
            params.append(name + default)
        elif p.kind is inspect.Parameter.VAR_KEYWORD:
            params.append("**" + name)
        else:
            params.append(name + default)
    if saw_positional_only:
        params.append("/")
    namespace = {}
    exec(f"def empty({', '.join(params)}):\n    return None\n", namespace)
    return namespace["empty"]


# ---------------------------------------------------------------------------------------------
# Outputs: reported as tagged values, judged by the orchestrator (protocol 3)
#
# The host never sees an expected output (the job file it is given has none, except for a
# `custom` comparison, which runs here by definition). It reports what each call returned as
# a flat list of tokens (docs/protocol.md, "Outputs"); the orchestrator compares. Built-ins are
# bound here, before any candidate runs, so that a candidate rebinding `isinstance` or `repr`
# in builtins does not change how honest outputs are reported.

_type = type
_isinstance = isinstance
_len = len
_list = list
_int = int
_float = float
_repr = repr
_int_repr = int.__repr__
_float_repr = float.__repr__
_str_encode = str.encode
_bytes_hex = bytes.hex
_dict_items = dict.items
_getattr = getattr
_bool, _str, _bytes, _bytearray = bool, str, bytes, bytearray
_tuple, _set, _frozenset, _dict = tuple, set, frozenset, dict
_reversed = reversed
_Sequence = None  # collections.abc.Sequence, imported on first use

# Bounds of one output (docs/python.md): beyond them the output is reported as cut, which the
# orchestrator judges a wrong answer; no JSON expected output comes near them.
MAX_TOKENS = 1_000_000
MAX_TEXT = 16 * 1024 * 1024
MAX_DEPTH = 200
MAX_INT_BITS = 1 << 18
# Ints of smaller magnitude are written as JSON numbers, which any JSON reader keeps exact.
SAFE_INT = 1 << 53


class TooLarge(Exception):
    pass


def type_name(value):
    try:
        name = _getattr(_type(value), "__qualname__", None)
        return name if _isinstance(name, _str) else "?"
    except BaseException:  # noqa: BLE001 - a hostile metaclass
        return "?"


def show(value):
    """A bounded `repr`, for what has no faithful encoding (the orchestrator renders the rest)."""
    try:
        text = _repr(value)
        if _type(text) is not _str:
            raise TypeError("__repr__ returned a non-string")
    except BaseException as e:  # noqa: BLE001 - a hostile __repr__
        if _isinstance(e, MemoryError):
            die_of_memory()
        text = f"<unprintable {type_name(value)}: {_type(e).__name__}>"
    if _len(text) > MAX_SHOWN:
        text = text[:MAX_SHOWN] + f"… ({_len(text)} characters)"
    return text


def int_text(value):
    try:
        return _int_repr(value)
    except ValueError:
        # Python 3.11+ limits int-to-decimal conversion (4300 digits by default).
        limit = sys.get_int_max_str_digits()
        sys.set_int_max_str_digits(0)
        try:
            return _int_repr(value)
        finally:
            sys.set_int_max_str_digits(limit)


def derived_base(value):
    """For an instance of a subclass of int, float, list, tuple or dict, or another sequence
    (deque, range, a named tuple…): its value as the built-in type the comparison rules treat
    it as (what the in-process comparison used: `int(x)`, `float(x)`, `list(x)`, its items).
    `None` for anything else."""
    global _Sequence
    if _isinstance(value, (_str, _bytes, _bytearray)):
        return None
    if _isinstance(value, _int):
        base = _int(value)
        return base if _type(base) is _int else None
    if _isinstance(value, _float):
        base = _float(value)
        return base if _type(base) is _float else None
    if _isinstance(value, _dict):
        return _dict(_list(_dict_items(value)))
    if _isinstance(value, _tuple):
        return _tuple(value)
    if _Sequence is None:
        import collections.abc

        _Sequence = collections.abc.Sequence
    if _isinstance(value, _Sequence):
        return _list(value)
    return None


def encode(value):
    """`value` as protocol 3's tokens, in pre-order (docs/protocol.md, "Outputs"); a single
    `cut` token when the whole output exceeds the bounds. Iterative: the depth of the value
    never meets the interpreter's recursion limit."""
    try:
        return encode_tokens(value)
    except TooLarge as e:
        return [["cut", _str(e)]]


def encode_tokens(value):
    tokens = []
    append = tokens.append
    text = 0
    stack = [(value, 0)]
    pop, push = stack.pop, stack.append
    while stack:
        v, depth = pop()
        if _len(tokens) >= MAX_TOKENS or text > MAX_TEXT:
            raise TooLarge(
                f"output too large to compare: more than {MAX_TOKENS} values or "
                f"{MAX_TEXT} characters"
            )
        t = _type(v)
        if v is None or t is _bool:
            append(v)
        elif t is _int:
            if -SAFE_INT < v < SAFE_INT:
                append(v)
            elif v.bit_length() > MAX_INT_BITS:
                append(["cut", f"an int of {v.bit_length()} bits, beyond {MAX_INT_BITS}"])
            else:
                digits = int_text(v)
                text += _len(digits)
                append(["i", digits])
        elif t is _float:
            append(["f", _float_repr(v)])
        elif t is _str:
            try:
                _str_encode(v, "utf-8")
            except UnicodeEncodeError:
                # Lone surrogates: no JSON text carries them, so no expected output has them.
                append(["o", "str", show(v)])
                continue
            text += _len(v)
            append(v)
        elif depth >= MAX_DEPTH:
            append(["cut", f"nested deeper than {MAX_DEPTH} levels"])
        elif t is _list or t is _tuple or t is _set or t is _frozenset:
            items = _list(v)
            tag = "l" if t is _list else "t" if t is _tuple else "s" if t is _set else "fs"
            append([tag, _len(items)])
            for item in _reversed(items):
                push((item, depth + 1))
        elif t is _dict:
            items = _list(_dict_items(v))
            append(["d", _len(items)])
            for k, x in _reversed(items):
                push((x, depth + 1))
                push((k, depth + 1))
        elif t is _bytes:
            text += 2 * _len(v)
            append(["b", _bytes_hex(v)])
        else:
            try:
                base = derived_base(v)
            except BaseException as e:  # noqa: BLE001 - a hostile __int__, __len__, __iter__
                if _isinstance(e, MemoryError):
                    die_of_memory()
                base = None
            if base is None:
                shown = show(v)
                text += _len(shown)
                append(["o", type_name(v), shown])
            else:
                append(["x", type_name(v)])
                push((base, depth + 1))
    return tokens


class CustomValidator:
    """`comparison: custom`: `code` defines `entry(inputs, actual, expected)`; a true result
    accepts the output. Loaded in a fresh, pre-seeded namespace, in the candidate's worker:
    the one rule the orchestrator cannot apply itself, so the one whose expected outputs the
    host is given (docs/python.md, "Who judges")."""

    def __init__(self, rule):
        module = preseeded_namespace("jouletrace_validator")
        try:
            exec(compile(rule["code"], "<validator>", "exec", dont_inherit=True), module.__dict__)
        except BaseException as e:  # noqa: BLE001 - a broken validator is reported, not fatal
            raise HostError(f"the custom comparison's code fails: {describe_exception(e)}")
        self.entry = module.__dict__.get(rule["entry"])
        if not callable(self.entry):
            raise HostError(f"the custom comparison defines no function `{rule['entry']}`")

    def accepts(self, inputs, actual, expected):
        return bool(self.entry(inputs, actual, expected))

# ---------------------------------------------------------------------------------------------
# The host


class Host:
    def __init__(self, job, channel):
        if job.get("protocol") != JOB_PROTOCOL:
            raise HostError(
                f"job file protocol {job.get('protocol')!r}, this host reads {JOB_PROTOCOL}"
            )
        self.job = job
        self.channel = channel
        self.candidates = {c["id"]: c for c in job["candidates"]}
        self.cases = job.get("cases", {})
        self.prepared = None  # (function, Inputs)

    def candidate(self, cid):
        spec = self.candidates.get(cid)
        if spec is None:
            raise HostError(f"no candidate `{cid}` in this job")
        return spec

    def case_infos(self, spec):
        return [
            {"id": c["id"], "size": c.get("size"), "measured": c.get("measured", True)}
            for c in self.cases.get(spec["problem"], [])
        ]

    def rule(self, spec):
        return spec.get("comparison") or self.job.get("comparison") or {
            "mode": "predecessor",
            "abs_tol": 1e-9,
            "rel_tol": 1e-9,
        }

    def handle(self, request):
        kind = request.get("request")
        if kind == "list":
            return {
                "response": "candidates",
                "candidates": [
                    {
                        "id": c["id"],
                        "problem": c["problem"],
                        "name": c["name"],
                        "location": c.get("location") or c["id"],
                        "options": c["options"],
                        "cases": self.case_infos(c),
                    }
                    for c in self.job["candidates"]
                ],
            }
        if kind == "cases":
            return {"response": "cases", "cases": self.case_infos(self.candidate(request["candidate"]))}
        if kind == "check":
            return self.check(self.candidate(request["candidate"]))
        if kind == "prepare":
            return self.prepare(request)
        if kind == "calibrate":
            return self.calibrate(int(request["target_ns"]), int(request["max_batch"]))
        if kind == "sample":
            return self.sample(int(request["calls"]), int(request["batch"]))
        raise HostError(f"unknown request {kind!r}")

    def check(self, spec):
        """Runs every case (as the predecessor did), each on a freshly executed module and a
        fresh copy of its inputs, and reports what each call returned (`ran`), or how it
        failed. Whether an output is right is the orchestrator's call: this process never
        holds the expected outputs (a `custom` comparison aside)."""
        candidate = Candidate(spec)
        rule = self.rule(spec)
        validator = CustomValidator(rule) if rule.get("mode") == "custom" else None
        threads_before = threading.active_count()
        ran = []
        for case in self.cases.get(spec["problem"], []):
            self.channel.send({"response": "case_started", "case": case["id"]})
            try:
                f = candidate.load()
                inputs = Inputs(case["inputs"])
                try:
                    actual = inputs.call(f, inputs.fresh())
                except BaseException as e:  # noqa: BLE001
                    raise classify_exception(e) from None
                entry = {"case": case["id"], "output": encode(actual)}
                if validator is not None:
                    entry["validated"] = self.validate(validator, case, inputs, actual)
            except CandidateFailure as failure:
                entry = {"case": case["id"], "kind": failure.kind, "message": failure.message}
            ran.append(entry)
        return {
            "response": "ran",
            "stray_threads": max(0, threading.active_count() - threads_before),
            "cases": ran,
        }

    def validate(self, validator, case, inputs, actual):
        if "expected" not in case:
            raise HostError(f"the job gives no expected output for case `{case['id']}`")
        try:
            return validator.accepts(inputs.raw_copy(), actual, case["expected"])
        except BaseException as e:  # noqa: BLE001 - a hostile __eq__ or __len__
            if isinstance(e, MemoryError):
                die_of_memory()
            raise CandidateFailure(
                "exception", f"the custom comparison raised {describe_exception(e)}"
            ) from None

    def prepare(self, request):
        spec = self.candidate(request["candidate"])
        case = next(
            (c for c in self.cases.get(spec["problem"], []) if c["id"] == request["case"]), None
        )
        if case is None:
            raise HostError(f"no case `{request['case']}` for `{spec['id']}`")
        if request.get("meter") is not None:
            raise HostError("the Python host is metered by the orchestrator; it opens no meter")
        try:
            f = Candidate(spec).load()
        except CandidateFailure as failure:
            raise HostError(f"{failure.kind}: {failure.message}") from None
        inputs = Inputs(case["inputs"])
        if request.get("overhead"):
            f = empty_twin(f, inputs)
        self.prepared = (f, inputs)
        size = 8 if inputs.immutable else approximate_size(inputs.fresh())
        return {"response": "prepared", "input_bytes": size}

    def run(self, n, max_batch):
        """Untimed-by-the-meter batches (calibration): copies outside, calls inside."""
        f, inputs = self.prepared
        elapsed = 0
        done = 0
        while done < n:
            k = min(max_batch, n - done)
            argsets = inputs.batch(k)
            start = time.monotonic_ns()
            calls(f, inputs.spread, argsets)
            elapsed += time.monotonic_ns() - start
            done += k
            del argsets
        return elapsed

    def calibrate(self, target_ns, max_batch):
        if self.prepared is None:
            raise HostError("calibrate and sample need a prepared case first")
        n = 1
        while True:
            elapsed = max(1, self.run(n, max(1, max_batch)))
            if elapsed >= target_ns // 10 or n >= 1 << 40:
                return {
                    "response": "calibrated",
                    "calls": max(1, math.ceil(n * target_ns / elapsed)),
                    "elapsed_ns": elapsed,
                }
            n *= min(100, max(2, target_ns // 10 // elapsed))

    def sample(self, total, batch):
        """One sample, metered by the orchestrator: for each batch, fresh inputs first, then
        window_open / window_go / calls / window_closed / window_ack."""
        if self.prepared is None:
            raise HostError("calibrate and sample need a prepared case first")
        f, inputs = self.prepared
        spread = inputs.spread
        batch = max(1, batch)
        first_start = None
        last_end = 0
        measured = 0
        batches = 0
        done = 0
        send_line, expect = self.channel.send_line, self.channel.expect
        monotonic_ns = time.monotonic_ns
        while done < total:
            k = min(batch, total - done)
            argsets = inputs.batch(k)
            # Garbage from the previous batch is collected now, not inside the window.
            gc.collect()
            send_line(WINDOW_OPEN_LINE)
            expect("window_go")
            start = monotonic_ns()
            calls(f, spread, argsets)
            end = monotonic_ns()
            send_line(f'{{"response":"window_closed","start_ns":{start},"end_ns":{end}}}\n')
            expect("window_ack")
            del argsets
            if first_start is None:
                first_start = start
            last_end = end
            measured += end - start
            batches += 1
            done += k
        return {
            "response": "sampled",
            "calls": total,
            "window_start_ns": first_start if first_start is not None else last_end,
            "window_end_ns": last_end,
            "measured_ns": measured,
            # The orchestrator reads this process's CPU clock around each window itself.
            "cpu_ns": 0,
            "batches": batches,
            "energy": [],
        }


def calls(f, spread, argsets):
    """The measured loop: nothing but the calls. The empty twin runs this same loop."""
    if spread == "kwargs":
        for a in argsets:
            f(**a)
    else:
        for a in argsets:
            f(*a)


def host_info():
    return {
        "language": "python",
        "version": platform.python_version(),
        "executable": os.path.realpath(sys.executable),
        "metering": "orchestrator",
    }


def main(argv):
    channel = Channel()
    job_path = argv[1] if len(argv) > 1 else os.environ.get("JOULETRACE_JOB")
    channel.send(
        {"response": "hello", "protocol": PROTOCOL, "pid": os.getpid(), "host": host_info()}
    )
    try:
        if not job_path:
            raise HostError("no job file: pass its path as the first argument or JOULETRACE_JOB")
        with open(job_path, encoding="utf-8") as f:
            job = json.load(f)
        host = Host(job, channel)
    except (OSError, ValueError, KeyError, HostError) as e:
        channel.send({"response": "error", "message": f"the job file cannot be used: {e}"})
        return 2
    # The orchestrator's first request is its hello: the same version, or we stop.
    try:
        first = channel.receive()
    except HostError:
        first = {}
    if first is None:
        return 0
    if first.get("request") != "hello" or first.get("protocol") != PROTOCOL:
        channel.send(
            {
                "response": "error",
                "message": f"expected the orchestrator's hello with protocol {PROTOCOL}, got "
                f"{json.dumps(first)[:200]}",
            }
        )
        return 2
    while True:
        try:
            request = channel.receive()
        except HostError as e:
            channel.send({"response": "error", "message": str(e)})
            continue
        if request is None or request.get("request") == "shutdown":
            return 0
        try:
            response = host.handle(request)
        except HostError as e:
            response = {"response": "error", "message": str(e)}
        except MemoryError:
            die_of_memory()
        except BaseException as e:  # noqa: BLE001 - a candidate's failure outside check
            response = {"response": "error", "message": classify_exception(e).message}
        flush_candidate_output()
        channel.send(response)


def flush_candidate_output():
    """The candidate's prints reach the engine's capture before the answer that follows them."""
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except BaseException:  # noqa: BLE001 - a candidate may have replaced or closed them
            pass


if __name__ == "__main__":
    sys.exit(main(sys.argv))
