#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""bench/v1_compare.py: herald.v1 envelopes against raw WebSocket, from one
run of `bench/run.sh --only v1` (the two interleaved in every repetition):
medians of the repetitions for memory per idle connection, server CPU per
delivered message and delivered msg/s, and herald.v1 against raw in percent.

Usage: bench/v1_compare.py RESULTS.jsonl
"""
import json
import statistics
import sys


def main():
    runs = {}
    with open(sys.argv[1]) as f:
        for line in f:
            line = line.strip()
            if not line:
                continue
            r = json.loads(line)
            if r.get("meta") or r.get("system") != "herald":
                continue
            runs.setdefault(r["scenario"], []).append(r)

    def med(scen, fn):
        vals = [fn(r) for r in runs.get(scen, []) if r["lg"]["msgs"] > 0 or scen.startswith("idle")]
        return (statistics.median(vals), len(vals)) if vals else (None, 0)

    def mem(r):
        return (r["pss_after"] - r["pss_before"]) / r["subs"]

    def cpu(r):
        return r["cpu_ns"] / r["lg"]["msgs"] / 1000.0

    def mps(r):
        return r["lg"]["msgs_per_s"]

    rows = [
        ("memory per idle connection (B)", "idle", mem, "{:.0f}"),
        ("server CPU per delivered message (us)", "fanout", cpu, "{:.3f}"),
        ("delivered msg/s", "fanout", mps, "{:,.0f}"),
    ]
    print("| 10k subscribers | raw WebSocket | herald.v1 | herald.v1 vs raw | runs |")
    print("| --- | ---: | ---: | ---: | ---: |")
    for label, scen, fn, fmt in rows:
        a, na = med(scen + "-ws", fn)
        b, nb = med(scen + "-v1", fn)
        if a is None or b is None:
            print(f"| {label} | - | - | - | {na}/{nb} |")
            continue
        pct = (b - a) / a * 100 if a else 0.0
        print(f"| {label} | {fmt.format(a)} | {fmt.format(b)} | {pct:+.1f} % | {na}/{nb} |")
    lost = sum(r["lg"]["lost"] for rs in runs.values() for r in rs)
    print(f"\nmessages lost in all runs: {lost}")


if __name__ == "__main__":
    main()
