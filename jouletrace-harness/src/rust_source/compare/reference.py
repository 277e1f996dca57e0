# The output comparison the Python host ran in the candidate's own process until protocol 3,
# kept verbatim (from host.py) as the reference the Rust comparison is cross-checked against
# (rust_source/compare/tests.rs): every pair it judged must get the same verdict from the
# orchestrator's comparison of the host's tagged output. Not used at run time.

import json
import math


class HostError(Exception):
    pass


def numbers(a, b):
    return isinstance(a, (int, float)) and isinstance(b, (int, float))


def floats_equal(expected, actual, abs_tol, rel_tol):
    expected, actual = float(expected), float(actual)
    if math.isnan(expected) and math.isnan(actual):
        return True
    if math.isinf(expected) or math.isinf(actual):
        return expected == actual
    diff = abs(expected - actual)
    return diff <= abs_tol or diff <= rel_tol * max(abs(expected), abs(actual))


def int_equal(expected, actual):
    # Exact for big integers: no detour through float.
    return int(expected) == int(actual)


def outputs_equal(expected, actual, rule):
    """Dispatches on the job's comparison mode (docs/python.md, docs/protocol.md)."""
    mode = rule["mode"]
    if mode in ("predecessor", "lenient"):
        return predecessor_equal(expected, actual, rule)
    if mode == "exact":
        return exact_equal(expected, actual)
    if mode == "tolerance":
        return tolerance_equal(expected, actual, rule)
    raise HostError(f"unknown comparison mode {mode!r}")


def predecessor_equal(expected, actual, rule):
    """The predecessor's comparison: None only equals None; different types fail unless both
    are numbers (bool counts as int); numbers within abs or rel tolerance (NaN equals NaN);
    lists element-wise; dicts with exactly the same keys. Lenient adds: any sequence (tuple,
    deque, ...) equals a list element-wise, and a dict key equals its JSON string form."""
    lenient = rule["mode"] == "lenient"
    if expected is None or actual is None:
        return expected is None and actual is None
    if type(expected) is not type(actual):
        if numbers(expected, actual):
            if isinstance(expected, float) or isinstance(actual, float):
                return floats_equal(expected, actual, rule["abs_tol"], rule["rel_tol"])
            return int_equal(expected, actual)
        if lenient and isinstance(expected, list) and is_sequence(actual):
            return lists_equal(expected, list(actual), rule)
        return False
    if isinstance(expected, float):
        return floats_equal(expected, actual, rule["abs_tol"], rule["rel_tol"])
    if isinstance(expected, list):
        return lists_equal(expected, actual, rule)
    if isinstance(expected, dict):
        if lenient:
            actual = {json_key(k): v for k, v in actual.items()}
        if set(expected.keys()) != set(actual.keys()):
            return False
        return all(predecessor_equal(expected[k], actual[k], rule) for k in expected)
    return expected == actual


def exact_equal(expected, actual):
    """Equal values of equal types at every depth, no tolerance; NaN equals NaN."""
    if type(expected) is not type(actual):
        return False
    if isinstance(expected, float):
        return (math.isnan(expected) and math.isnan(actual)) or expected == actual
    if isinstance(expected, list):
        return len(expected) == len(actual) and all(
            exact_equal(e, a) for e, a in zip(expected, actual)
        )
    if isinstance(expected, dict):
        return set(expected.keys()) == set(actual.keys()) and all(
            exact_equal(expected[k], actual[k]) for k in expected
        )
    return expected == actual


def tolerance_equal(expected, actual, rule):
    """Numbers of any type within abs or rel tolerance at any depth; any sequence equals a
    list element-wise; everything else exact."""
    if numbers(expected, actual):
        if isinstance(expected, float) or isinstance(actual, float):
            return floats_equal(expected, actual, rule["abs_tol"], rule["rel_tol"])
        return int_equal(expected, actual)
    if isinstance(expected, list) and is_sequence(actual):
        actual = list(actual)
        return len(expected) == len(actual) and all(
            tolerance_equal(e, a, rule) for e, a in zip(expected, actual)
        )
    if isinstance(expected, dict) and isinstance(actual, dict):
        return set(expected.keys()) == set(actual.keys()) and all(
            tolerance_equal(expected[k], actual[k], rule) for k in expected
        )
    return exact_equal(expected, actual)

def lists_equal(expected, actual, rule):
    return len(expected) == len(actual) and all(
        predecessor_equal(e, a, rule) for e, a in zip(expected, actual)
    )


def is_sequence(value):
    """Tuples, deques and other sequences; never strings, bytes or sets (unordered)."""
    import collections.abc

    return isinstance(value, collections.abc.Sequence) and not isinstance(
        value, (str, bytes, bytearray)
    )


def json_key(key):
    """The key JSON would write for `key` (json.dumps's rules for non-string keys)."""
    if isinstance(key, str):
        return key
    if key is True:
        return "true"
    if key is False:
        return "false"
    if key is None:
        return "null"
    if isinstance(key, float):
        return json.dumps(key)
    if isinstance(key, int):
        return str(key)
    return key


