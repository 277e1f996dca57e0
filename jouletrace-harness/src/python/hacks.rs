//! Reward hacks against a comparison made in the candidate's own process, as Python candidates:
//! what the Python host's tests and the end-to-end tests (`tests/e2e/python_verdict.rs`) run to
//! show that the orchestrator's verdict (protocol 3) holds against each.

/// Each hack as `(name, code)` defining `solve(x)`; every one answers a case whose expected
/// output is 42 with what it found, which would pass, or with something else.
pub const HACKS: &[(&str, &str)] = &[
    (
        "always_equal",
        "class AlwaysEqual:\n    def __eq__(self, other):\n        return True\n    \
         def __ne__(self, other):\n        return False\n    __hash__ = object.__hash__\n\
         def solve(x):\n    return AlwaysEqual()\n",
    ),
    (
        "equal_int",
        "import sys\nclass E(int):\n    def __eq__(self, other):\n        return True\n    \
         __hash__ = int.__hash__\n    def __int__(self):\n        \
         return sys._getframe(1).f_locals.get('expected', 0)\n\
         def solve(x):\n    return E(7)\n",
    ),
    (
        "equal_list",
        "class L(list):\n    def __eq__(self, other):\n        return True\n\
         def solve(x):\n    return L()\n",
    ),
    (
        "frames",
        "import sys\ndef solve(x):\n    f = sys._getframe(1)\n    while f is not None:\n        \
         for k, v in list(f.f_locals.items()):\n            \
         if k == 'expected':\n                return v\n            \
         if isinstance(v, dict) and 'expected' in v:\n                return v['expected']\n        \
         f = f.f_back\n    return 'not found'\n",
    ),
    (
        "gc",
        "import gc\ndef solve(x):\n    for o in gc.get_objects():\n        \
         if isinstance(o, dict) and 'expected' in o and 'inputs' in o:\n            \
         return o['expected']\n    return 'not found'\n",
    ),
    (
        "job_file",
        "import sys, json\ndef solve(x):\n    job = json.load(open(sys.argv[-1]))\n    \
         for cases in job['cases'].values():\n        for c in cases:\n            \
         if 'expected' in c:\n                return c['expected']\n    return 'not found'\n",
    ),
    // Writes a `checked` verdict of its own to every descriptor it has (the host's private
    // copy of the protocol channel among them), then returns a wrong answer.
    (
        "forged_checked",
        "import os\n\
         LINE = ('{\"response\":\"checked\",\"outcome\":{\"outcome\":\"passed\",\"cases\":1},'\n        \
         '\"stray_threads\":0,\"verdicts\":[{\"case\":\"t\",\"passed\":true}]}\\n').encode()\n\
         def solve(x):\n    for fd in range(1, 256):\n        try:\n            \
         os.write(fd, LINE)\n        except OSError:\n            pass\n    return -1\n",
    ),
];
