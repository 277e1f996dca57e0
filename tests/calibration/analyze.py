#!/usr/bin/env python3
"""Figures of a calibration directory written by examples.sh (run1.json … runN.json, log).

Coverage: for each candidate-case, the share of other runs' medians inside a run's 95% interval of
net energy per call (the issue asks >= 0.8 overall; right intervals give about 0.83, since both
medians vary). Verdicts: each run after the first against run 1 (the saved baseline). Window
share: wall time inside measured windows (warm-up included) over the run's wall time, per lane
(the estimate meter measures on every worker CPU at once, so its capacity is wall x lanes), the
time spent waiting for another run's lock excluded.
"""
import collections
import datetime
import glob
import json
import os
import re
import statistics
import sys


def when(s):
    return datetime.datetime.fromisoformat(s.replace("Z", "+00:00"))


def measurements(r):
    for p in r.get("problems", []):
        for c in p.get("candidates", []):
            for m in c.get("measurements", []):
                yield c, m


def run_to_run(stats):
    """The run-level sigma an interval was widened by, as the results record it (issue 11's
    history design); None for results written before it."""
    return stats.get("run_to_run")


def window_share(r):
    run = r["run"]
    wall = (when(run["finished_at"]) - when(run["started_at"])).total_seconds()
    waited = sum(h.get("waited_s", 0.0) for h in run.get("lock", {}).get("holds", []))
    inside = 0.0
    for _, m in measurements(r):
        for s in m.get("warmup", []) + m.get("samples", []):
            inside += s["measured_s"]
    meter = r.get("meter") or {}
    lanes = len(r["environment"]["worker_cpus"]) if meter.get("estimated") else 1
    return inside / max((wall - waited) * lanes, 1e-9), wall


def main(out):
    paths = sorted(glob.glob(os.path.join(out, "run*.json")),
                   key=lambda p: int(re.findall(r"run(\d+)\.json", p)[0]))
    runs = [json.load(open(p)) for p in paths]
    if not runs:
        sys.exit(f"no run*.json in {out}")
    exits = {}
    loads = []
    logpath = os.path.join(out, "log")
    if os.path.exists(logpath):
        for line in open(logpath):
            m = re.match(r"run (\d+) exit (\d+)", line)
            if m:
                exits[int(m.group(1))] = int(m.group(2))
            m = re.match(r"run \d+ start \S+ load (\S+)", line)
            if m:
                loads.append(float(m.group(1)))

    figures = collections.defaultdict(list)
    unreliable = set()
    print(f"{len(runs)} runs in {out}")
    for i, r in enumerate(runs, 1):
        meter = (r.get("meter") or {}).get("backend", "none")
        sigmas = collections.Counter()
        for c, m in measurements(r):
            s = m.get("stats")
            if not s:
                continue
            e = s["net_energy_per_call_j"]
            bad = "unreliable" in s.get("flags", [])
            figures[(c["id"], m["case"])].append((e["point"], e["lower"], e["upper"], bad))
            if bad:
                unreliable.add((i, c["id"], m["case"]))
            rr = run_to_run(s)
            if rr:
                sigmas[(round(rr.get("sigma", 0.0), 4), rr.get("source"), rr.get("runs"))] += 1
        share, wall = window_share(r)
        bg = r["environment"].get("background") or {}
        sig = ", ".join(f"sigma {k[0]:.2%} from {k[1]}" + (f" ({k[2]} runs)" if k[2] else "")
                        for k in sigmas) or "no run-to-run sigma recorded"
        print(f"  run {i}: exit {exits.get(i, '?')}, {meter}, wall {wall:.0f} s, window share "
              f"{share:.3f}, {bg.get('flagged', 0)} of {bg.get('samples', 0)} samples flagged, "
              f"{bg.get('unreliable_cases', 0)} unreliable; {sig}")

    inside = pairs = inside_r = pairs_r = 0
    per_case = []
    for key, fs in figures.items():
        k_in = k_pairs = 0
        for i, (_, lo, hi, bad) in enumerate(fs):
            for j, (med, *_) in enumerate(fs):
                if i == j:
                    continue
                x = lo <= med <= hi
                inside += x
                pairs += 1
                k_in += x
                k_pairs += 1
                if not bad:
                    inside_r += x
                    pairs_r += 1
        per_case.append((k_in / max(k_pairs, 1), key))
    per_case.sort()
    half = [(hi - lo) / 2 / abs(p) for fs in figures.values() for p, lo, hi, _ in fs if p]
    print(f"coverage {inside / max(pairs, 1):.3f} over {pairs} pairs of {len(figures)} "
          f"candidate-cases (reliable cases only: {inside_r / max(pairs_r, 1):.3f} over "
          f"{pairs_r}); median half-interval {100 * statistics.median(half):.2f}%")
    print("  lowest: " + ", ".join(f"{k[0]}/{k[1]} {v:.2f}" for v, k in per_case[:5]))

    comp = reg = imp = excl = 0
    for r in runs[1:]:
        b = r.get("baseline")
        if not b:
            continue
        for e in b.get("entries", []):
            ch = e.get("change")
            if not ch:
                continue
            comp += 1
            reg += e.get("verdict") == "regressed"
            imp += e.get("verdict") == "improved"
            excl += ch["lower"] > 0 or ch["upper"] < 0
    codes = [exits[k] for k in sorted(exits)]
    print(f"exit codes {codes}; vs baseline: {comp} comparisons, {reg} regressed, {imp} improved "
          f"({100 * imp / max(comp, 1):.1f}%), change interval excludes zero in {excl} "
          f"({100 * excl / max(comp, 1):.1f}%)")
    shares = [window_share(r)[0] for r in runs]
    print(f"window share: median {statistics.median(shares):.3f} "
          f"(min {min(shares):.3f}, max {max(shares):.3f})"
          + (f"; load average at run starts {min(loads):.1f}-{max(loads):.1f}" if loads else ""))


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else ".")
