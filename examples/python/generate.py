"""Writes the request files of examples/python (deterministic: run it again, get the same files).

Each file is JSON Lines of JouleTrace service requests (the predecessor's body, unchanged);
candidates sharing `problem_name` are ranked together by `cargo joule measure FILE`.
"""

import json
import random

HERE = __file__.rsplit("/", 1)[0] if "/" in __file__ else "."


def write(name, requests):
    with open(f"{HERE}/{name}", "w") as f:
        for r in requests:
            f.write(json.dumps(r) + "\n")


def fib(n):
    a, b = 0, 1
    for _ in range(n):
        a, b = b, a + b
    return a


FIB_ITERATIVE = """def solve(n):
    a, b = 0, 1
    for _ in range(n):
        a, b = b, a + b
    return a
"""

FIB_RECURSIVE = """def solve(n):
    if n < 2:
        return n
    return solve(n - 1) + solve(n - 2)
"""

fib_cases = [
    {"test_id": f"fib{n}", "inputs": [n], "expected_output": fib(n), "metadata": {"size": n}}
    for n in (12, 18, 22)
]
write(
    "fibonacci.jsonl",
    [
        {
            "candidate_id": "iterative",
            "problem_name": "fibonacci",
            "candidate_code": FIB_ITERATIVE,
            "test_cases": fib_cases,
            "timeout_seconds": 30,
            "energy_measurement_trials": 3,
            "warmup_trials": 1,
        },
        {
            "candidate_id": "recursive",
            "problem_name": "fibonacci",
            "candidate_code": FIB_RECURSIVE,
            "test_cases": fib_cases,
            "timeout_seconds": 30,
            "energy_measurement_trials": 3,
            "warmup_trials": 1,
        },
    ],
)

TWO_SUM_QUADRATIC = """def solve(nums, target):
    for i in range(len(nums)):
        for j in range(i + 1, len(nums)):
            if nums[i] + nums[j] == target:
                return [i, j]
    return []
"""

TWO_SUM_HASHED = """def solve(nums, target):
    seen = {}
    for j, x in enumerate(nums):
        i = seen.get(target - x)
        if i is not None:
            return [i, j]
        seen[x] = j
    return []
"""


def two_sum_case(n, rng):
    # Multiples of 4, plus two numbers that are 1 mod 4 at the very end: theirs is the only
    # pair summing to 2 mod 4, and the quadratic scan meets it last.
    values = rng.sample(range(0, 40 * n, 4), n - 2)
    a, b = 4 * rng.randrange(10 * n) + 1, 4 * rng.randrange(10 * n) + 1
    nums = values + [a, b]
    return {
        "test_id": f"n{n}",
        "inputs": [nums, a + b],
        "expected_output": [n - 2, n - 1],
        "metadata": {"size": n},
    }


rng = random.Random(13)
two_sum_cases = [two_sum_case(n, rng) for n in (100, 400, 1000)]
write(
    "two_sum.jsonl",
    [
        {
            "candidate_id": "quadratic",
            "problem_name": "two_sum",
            "candidate_code": TWO_SUM_QUADRATIC,
            "test_cases": two_sum_cases,
            "energy_measurement_trials": 3,
            "warmup_trials": 1,
        },
        {
            "candidate_id": "hashed",
            "problem_name": "two_sum",
            "candidate_code": TWO_SUM_HASHED,
            "test_cases": two_sum_cases,
            "energy_measurement_trials": 3,
            "warmup_trials": 1,
        },
    ],
)

MEDIAN_MERGE = """class Solution:
    def findMedianSortedArrays(self, nums1: List[int], nums2: List[int]) -> float:
        merged = []
        i = j = 0
        while i < len(nums1) and j < len(nums2):
            if nums1[i] <= nums2[j]:
                merged.append(nums1[i])
                i += 1
            else:
                merged.append(nums2[j])
                j += 1
        merged.extend(nums1[i:])
        merged.extend(nums2[j:])
        n = len(merged)
        if n % 2:
            return float(merged[n // 2])
        return (merged[n // 2 - 1] + merged[n // 2]) / 2.0


def findMedianSortedArrays(nums1, nums2):
    return Solution().findMedianSortedArrays(nums1, nums2)
"""

MEDIAN_BINARY_SEARCH = """def findMedianSortedArrays(nums1, nums2):
    if len(nums1) > len(nums2):
        nums1, nums2 = nums2, nums1
    m, n = len(nums1), len(nums2)
    lo, hi, half = 0, m, (m + n + 1) // 2
    while lo <= hi:
        i = (lo + hi) // 2
        j = half - i
        left1 = nums1[i - 1] if i > 0 else -math.inf
        right1 = nums1[i] if i < m else math.inf
        left2 = nums2[j - 1] if j > 0 else -math.inf
        right2 = nums2[j] if j < n else math.inf
        if left1 <= right2 and left2 <= right1:
            if (m + n) % 2:
                return float(max(left1, left2))
            return (max(left1, left2) + min(right1, right2)) / 2.0
        if left1 > right2:
            hi = i - 1
        else:
            lo = i + 1
    raise ValueError("inputs are not sorted")
"""


def median_case(m, n, rng):
    a = sorted(rng.randrange(10**6) for _ in range(m))
    b = sorted(rng.randrange(10**6) for _ in range(n))
    merged = sorted(a + b)
    k = len(merged)
    median = float(merged[k // 2]) if k % 2 else (merged[k // 2 - 1] + merged[k // 2]) / 2.0
    return {
        "test_id": f"{m}+{n}",
        "inputs": [a, b],
        "expected_output": median,
        "metadata": {"size": m + n},
    }


rng = random.Random(7)
median_cases = [median_case(m, n, rng) for m, n in ((50, 70), (1000, 1500), (5000, 4000))]
write(
    "median.jsonl",
    [
        {
            "candidate_id": name,
            "problem_name": "median_of_two_sorted_arrays",
            "function_name": "findMedianSortedArrays",
            "candidate_code": code,
            "test_cases": median_cases,
            "timeout_seconds": 15,
            "memory_limit_mb": 1024,
            "energy_measurement_trials": 3,
            "warmup_trials": 1,
        }
        for name, code in (("merge", MEDIAN_MERGE), ("binary_search", MEDIAN_BINARY_SEARCH))
    ],
)
