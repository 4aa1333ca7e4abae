#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""check-layers.py: the relay's layers and the C modules' include graph.

The relay lives in relay/src/<layer>/ (docs/ARCHITECTURE.md): each layer may
include only from the layers below it, siblings of one rank not from each
other, and the modules (foo.c with foo.h) of the relay and of the PHP
extension (ext/) must not include each other in a circle. Every include of
ours names its layer ("core/chan.h"), so the check needs no compiler.

Usage: scripts/check-layers.py [ROOT]   (ROOT: the repository, default ".")
Prints each offending edge as FILE:LINE: FROM -> TO (why) and exits 1, or
prints one "ok" line and exits 0.
"""
import os
import re
import sys

# Rank of each layer: a file may include its own layer and lower ranks.
RANKS = {
    "abi": 0,  # the ring layout shared with the extension (abi/ at the root)
    "base": 1,
    "codec": 2,
    "core": 3,
    "net": 4,
    "ingest": 5,
    "hooks": 5,
    "cluster": 5,
    "app": 6,
}
INCLUDE = re.compile(r'^\s*#\s*include\s+"([^"]+)"')

# ext/: a header that belongs to a module of another name.
EXT_ALIASES = {"php_herald": "herald", "herald_arginfo": "herald"}


def includes(path):
    with open(path, encoding="utf-8", errors="replace") as f:
        for n, line in enumerate(f, 1):
            m = INCLUDE.match(line)
            if m:
                yield n, m.group(1)


def module_of(path):
    return os.path.splitext(path)[0]


def find_cycles(edges):
    """edges: {node: {node: (file, line)}}. Returns a list of cycles, each a
    list of (from, to, where) edges, one per strongly connected component."""
    index, low, on, stack, out = {}, {}, set(), [], []
    counter = [0]

    def strong(v):
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on.add(v)
        for w in edges.get(v, {}):
            if w not in index:
                strong(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1 or v in edges.get(v, {}):
                out.append(cycle_in(set(comp), edges))

    for v in sorted(edges):
        if v not in index:
            strong(v)
    return out


def cycle_in(comp, edges):
    """One concrete cycle through a strongly connected component."""
    start = min(comp)
    path, seen, v = [], {}, start
    while v not in seen:
        seen[v] = len(path)
        w = min(x for x in edges[v] if x in comp)
        path.append((v, w, edges[v][w]))
        v = w
    return path[seen[v]:]


def check_relay(root, problems):
    src = os.path.join(root, "relay", "src")
    edges = {}
    for layer in sorted(os.listdir(src)):
        d = os.path.join(src, layer)
        if not os.path.isdir(d):
            continue
        if layer not in RANKS:
            problems.append(f"relay/src/{layer}/: not a layer (see scripts/check-layers.py)")
            continue
        for name in sorted(os.listdir(d)):
            if not name.endswith((".c", ".h")):
                continue
            rel = f"relay/src/{layer}/{name}"
            me = module_of(f"{layer}/{name}")
            for line, inc in includes(os.path.join(d, name)):
                where = f"{rel}:{line}"
                to_layer = inc.split("/", 1)[0] if "/" in inc else None
                if to_layer not in RANKS:
                    problems.append(f'{where}: {me} -> "{inc}" (an include of ours names its '
                                    f"layer: base/, codec/, core/, ...)")
                    continue
                target = os.path.join(root, inc) if to_layer == "abi" else os.path.join(root, "relay/src", inc)
                if not os.path.exists(target):
                    problems.append(f'{where}: {me} -> "{inc}" (no such file)')
                    continue
                if to_layer != layer:
                    if RANKS[to_layer] > RANKS[layer]:
                        problems.append(f"{where}: {me} -> {module_of(inc)} (upward: {layer} "
                                        f"may not include {to_layer})")
                    elif RANKS[to_layer] == RANKS[layer]:
                        problems.append(f"{where}: {me} -> {module_of(inc)} (sideways: {layer} "
                                        f"and {to_layer} are siblings)")
                other = module_of(inc)
                if other != me:
                    edges.setdefault(me, {}).setdefault(other, where)
    return edges


def check_ext(root, problems):
    d = os.path.join(root, "ext")
    edges = {}
    if not os.path.isdir(d):
        return edges
    for name in sorted(os.listdir(d)):
        if not name.endswith((".c", ".h")):
            continue
        me = EXT_ALIASES.get(module_of(name), module_of(name))
        for line, inc in includes(os.path.join(d, name)):
            if inc.startswith("abi/"):
                continue
            if not os.path.exists(os.path.join(d, inc)):
                continue  # PHP's own headers
            other = EXT_ALIASES.get(module_of(inc), module_of(inc))
            if other != me:
                edges.setdefault("ext/" + me, {}).setdefault("ext/" + other, f"ext/{name}:{line}")
    return edges


def main():
    root = sys.argv[1] if len(sys.argv) > 1 else "."
    problems = []
    graph = check_relay(root, problems)
    graph.update(check_ext(root, problems))
    for cycle in find_cycles(graph):
        names = " -> ".join([cycle[0][0]] + [to for _, to, _ in cycle])
        problems.append(f"include cycle: {names}")
        for frm, to, where in cycle:
            problems.append(f"    {where}: {frm} -> {to}")
    if problems:
        for p in problems:
            print(p)
        print(f"check-layers: {len(problems)} problem(s)")
        return 1
    nodes = len(graph)
    print(f"check-layers: ok ({nodes} modules with includes, no upward include, no cycle)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
