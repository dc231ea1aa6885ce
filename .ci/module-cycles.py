#!/usr/bin/env python3
"""No module cycles in src/ (issue 16).

Every path a module names — `use crate::…`, `use super::…`, `crate::a::b::f()` in code — is an edge from
that module (its file) to the deepest module the path reaches. At each level of the module tree the
edge counts between the two siblings that contain its ends (a child naming its parent, or a parent its
child, is not a sibling edge). Siblings must form a DAG at every level: a cycle is printed with one
line per edge (file:line of the first use) and the exit status is 1.

    python3 .ci/module-cycles.py [SRC_DIR]
"""

import os
import re
import sys

src = sys.argv[1] if len(sys.argv) > 1 else os.path.join(os.path.dirname(__file__), "..", "src")
src = os.path.normpath(src)


def module_of(path):
    rel = os.path.relpath(path, src)[:-3].split(os.sep)
    if rel == ["lib"]:
        return ()
    if rel[-1] == "mod":
        rel = rel[:-1]
    return tuple(rel)


files = {}
for d, _, names in os.walk(src):
    for n in names:
        if n.endswith(".rs") and not (d == src and n == "main.rs"):
            p = os.path.join(d, n)
            files[module_of(p)] = p
modules = set(files)

IDENT = r"[A-Za-z_][A-Za-z0-9_]*"


def strip_comments(text):
    # Line comments (doc comments too: intra-doc links are not dependencies) and block comments;
    # string literals are kept whole so a "//" inside one does not cut the line.
    out, i, n = [], 0, len(text)
    while i < n:
        c = text[i]
        if text.startswith("//", i):
            j = text.find("\n", i)
            i = n if j < 0 else j
        elif text.startswith("/*", i):
            j = text.find("*/", i + 2)
            seg = text[i : (n if j < 0 else j + 2)]
            out.append("\n" * seg.count("\n"))
            i = n if j < 0 else j + 2
        elif c == '"':
            j = i + 1
            while j < n and text[j] != '"':
                j += 2 if text[j] == "\\" else 1
            out.append(text[i : j + 1])
            i = j + 1
        elif c == "r" and re.match(r'r#*"', text[i:]):
            m = re.match(r'r(#*)"', text[i:])
            end = '"' + m.group(1)
            j = text.find(end, i + len(m.group(0)))
            j = n if j < 0 else j + len(end)
            out.append(text[i:j])
            i = j
        elif c == "'" and re.match(r"'(\\.|[^\\'])'", text[i:]):
            m = re.match(r"'(\\.|[^\\'])'", text[i:])
            out.append(m.group(0))
            i += len(m.group(0))
        else:
            out.append(c)
            i += 1
    return "".join(out)


def expand_use(tree):
    """`a::{b, c::{d as e, self}}` -> ['a::b', 'a::c::d', 'a::c']"""
    tree = re.sub(r"\s+as\s+" + IDENT, "", tree)
    tree = re.sub(r"\s+", "", tree)

    def parse(s, prefix):
        paths, depth, start, i = [], 0, 0, 0
        items = []
        for i, ch in enumerate(s):
            if ch == "{":
                depth += 1
            elif ch == "}":
                depth -= 1
            elif ch == "," and depth == 0:
                items.append(s[start:i])
                start = i + 1
        items.append(s[start:])
        for it in items:
            if not it:
                continue
            if "{" in it:
                head, rest = it.split("{", 1)
                paths += parse(rest[:-1], prefix + head)
            else:
                p = prefix + it
                p = re.sub(r"::(self|\*)$", "", p)
                paths.append(p)
        return paths

    return parse(tree, "")


def resolve(mod, path):
    """The deepest module a path names, from module `mod`; None when it leaves the crate."""
    parts = path.split("::")
    if parts[0] == "crate":
        cur, parts = (), parts[1:]
    elif parts[0] in ("super", "self"):
        cur = mod
        while parts and parts[0] in ("super", "self"):
            if parts[0] == "super":
                cur = cur[:-1]
            parts = parts[1:]
    else:
        # A path relative to this module: a child module (`use elb::X` from correlate).
        if mod + (parts[0],) in modules:
            cur = mod
        else:
            return None
    best = cur
    for p in parts:
        if cur + (p,) in modules:
            cur = cur + (p,)
            best = cur
        else:
            break
    return best


edges = {}  # (from, to) -> "file:line"
for mod, path in files.items():
    text = strip_comments(open(path, encoding="utf-8").read())
    lineno = lambda pos: text.count("\n", 0, pos) + 1
    for m in re.finditer(r"\buse\s+([^;]+);", text):
        for p in expand_use(m.group(1)):
            t = resolve(mod, p)
            if t is not None and t != mod:
                edges.setdefault((mod, t), f"{os.path.relpath(path)}:{lineno(m.start())}")
    for m in re.finditer(r"(?<![A-Za-z0-9_:])((?:crate|super)(?:::" + IDENT + r")+)", text):
        t = resolve(mod, m.group(1))
        if t is not None and t != mod:
            edges.setdefault((mod, t), f"{os.path.relpath(path)}:{lineno(m.start())}")

# Sibling edges at every level.
sib = {}  # parent -> {(a, b): where}
for (a, b), where in edges.items():
    k = 0
    while k < len(a) and k < len(b) and a[k] == b[k]:
        k += 1
    if k == len(a) or k == len(b):
        continue  # ancestor and descendant
    parent = a[:k]
    sib.setdefault(parent, {}).setdefault((a[: k + 1], b[: k + 1]), where)


def name(m):
    return "::".join(m) or "crate"


cycles = []
for parent, es in sorted(sib.items()):
    graph = {}
    for a, b in es:
        graph.setdefault(a, set()).add(b)
    # Tarjan's strongly connected components.
    index, low, stack, on, comps, counter = {}, {}, [], set(), [], [0]

    def strong(v):
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on.add(v)
        for w in sorted(graph.get(v, ())):
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
            if len(comp) > 1:
                comps.append(sorted(comp))

    for v in sorted(graph):
        if v not in index:
            strong(v)
    for comp in comps:
        cycles.append((parent, comp, [(a, b, w) for (a, b), w in sorted(es.items()) if a in comp and b in comp]))

n_edges = sum(len(es) for es in sib.values())
if not cycles:
    print(f"no module cycles: {len(files)} modules, {n_edges} sibling dependencies, a DAG at every level")
    sys.exit(0)
for parent, comp, es in cycles:
    print(f"module cycle under {name(parent)}: {', '.join(name(c) for c in comp)}", file=sys.stderr)
    for a, b, w in es:
        print(f"  {name(a)} -> {name(b)}   ({w})", file=sys.stderr)
sys.exit(1)
