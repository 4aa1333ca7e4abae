#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""bench/compare.py: two relays measured in one run (bench/run.sh with
RELAY_B and BENCH_SYSTEMS="herald herald-b"), side by side: the median of
the repetitions for memory per idle connection, server CPU per delivered
message and delivered msg/s, and B against A in percent.

Usage: bench/compare.py RESULTS.jsonl [LABEL_A LABEL_B]
The last column is A against B: negative CPU and memory, positive msg/s
mean A is better.
"""
import json
import statistics
import sys


def main():
    path = sys.argv[1]
    la = sys.argv[2] if len(sys.argv) > 2 else "herald"
    lb = sys.argv[3] if len(sys.argv) > 3 else "herald-b"
    runs, meta = {}, {}
    with open(path) as f:
        for line in f:
            line = line.strip()
            if not line:
                continue
            r = json.loads(line)
            if r.get("meta"):
                meta = r
                continue
            key = (r["scenario"], r["proto"], r["subs"])
            lg = r["lg"]
            msgs = lg.get("msgs", 0)
            v = {
                "bpc": (r["pss_after"] - r["pss_before"]) / r["subs"],
                "cpu": r["cpu_ns"] / msgs / 1000 if msgs else None,
                "mps": lg.get("msgs_per_s"),
                "lost": lg.get("lost", 0),
            }
            runs.setdefault(key, {}).setdefault(r["system"], []).append(v)
    print(f"Run: {meta.get('date', '?')}, load average at start {meta.get('loadavg', '?')}, "
          f"{meta.get('reps', '?')} interleaved repetitions; {la}: the system 'herald' "
          f"(build/herald-relay), {lb}: 'herald-b' (RELAY_B).\n")
    print(f"| scenario | subscribers | measure | {la} (median) | {lb} (median) | {la} vs {lb} "
          f"| which is better |")
    print("|---|---:|---|---:|---:|---:|---|")
    for key in sorted(runs):
        scen, proto, subs = key
        g = runs[key]
        if "herald" not in g or "herald-b" not in g:
            continue
        measures = [("bpc", "B per idle connection")] if scen.startswith("idle") else [
            ("cpu", "server CPU µs per delivered msg"), ("mps", "delivered msg/s")]
        for m, label in measures:
            a = [x[m] for x in g["herald"] if x[m] is not None]
            b = [x[m] for x in g["herald-b"] if x[m] is not None]
            if not a or not b:
                continue
            ma, mb = statistics.median(a), statistics.median(b)
            pct = (ma - mb) / mb * 100 if mb else 0
            fmt = "{:.0f}" if m != "cpu" else "{:.3f}"
            lower = m != "mps"
            better = "lower is better" if lower else "higher is better"
            better += ": " + (la if (ma < mb) == lower else lb) if ma != mb else ": equal"
            print(f"| {scen} ({proto}) | {subs} | {label} | {fmt.format(ma)} | {fmt.format(mb)} "
                  f"| {pct:+.1f} % | {better} |")
    lost = sum(x["lost"] for g in runs.values() for s in g.values() for x in s)
    print(f"\nMessages lost in all runs: {lost}.")


if __name__ == "__main__":
    main()
