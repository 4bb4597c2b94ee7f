#!/usr/bin/env python3
"""Checks that the crate's modules depend one way.

Nodes are the top-level modules under src/ (everything in src/config/ is
`config`); an edge A -> B is a `crate::B` path (or `use crate::{B, ...}`)
written in A's files, outside unit tests and comments. src/cli/ is the
binary, so there `vendoras::B` is the edge. Fails when

  * the edges form a cycle,
  * an edge does not go down the layer table of docs/architecture.md (a
    module uses only modules of lower layers, none of its own), or
  * a module is missing from that table (a new module must be placed).

usage: check-layers.py [--src DIR] [--table FILE] [-v]
       check-layers.py --self-test
"""
import argparse
import os
import re
import sys
import tempfile

IDENT = re.compile(r"[a-z_][a-z0-9_]*")
RAW_STR = re.compile(r'b?r(#*)"')
CHAR = re.compile(r"'(\\.[^']*|[^\\'\n])'")


def code_only(text):
    """`text` with comments, string and char literals blanked, so that
    neither a doc link nor a message counts as an import and braces in
    literals do not confuse the block matching below."""
    out, i, n = [], 0, len(text)
    while i < n:
        c = text[i]
        if text.startswith("//", i):
            j = text.find("\n", i)
            i = n if j < 0 else j
        elif text.startswith("/*", i):
            depth, i = 1, i + 2
            while i < n and depth:
                if text.startswith("/*", i):
                    depth, i = depth + 1, i + 2
                elif text.startswith("*/", i):
                    depth, i = depth - 1, i + 2
                else:
                    i += 1
            out.append(" ")
        elif (m := RAW_STR.match(text, i)) and (i == 0 or not text[i - 1].isalnum()):
            end = text.find('"' + m.group(1), m.end())
            i = n if end < 0 else end + 1 + len(m.group(1))
            out.append('""')
        elif c == '"':
            i += 1
            while i < n and text[i] != '"':
                i += 2 if text[i] == "\\" else 1
            i += 1
            out.append('""')
        elif m := CHAR.match(text, i):
            i = m.end()
            out.append("' '")
        else:
            out.append(c)
            i += 1
    return "".join(out)


def without_cfg_test(code):
    """Drops every item marked `#[cfg(test)]` (unit tests may reach anywhere)."""
    while (m := re.search(r"#\[cfg\(test\)\]", code)):
        i = m.end()
        brace, semi = code.find("{", i), code.find(";", i)
        if brace < 0 or 0 <= semi < brace:
            end = len(code) if semi < 0 else semi + 1
        else:
            depth, end = 0, brace
            while end < len(code):
                depth += {"{": 1, "}": -1}.get(code[end], 0)
                end += 1
                if depth == 0:
                    break
        code = code[: m.start()] + code[end:]
    return code


def group_heads(code, start):
    """The first segment of each path in the `{...}` group opening at `start`."""
    depth, part, heads, i = 0, "", [], start
    while i < len(code):
        c = code[i]
        if c == "{":
            depth += 1
            if depth > 1:
                part += c
        elif c == "}":
            depth -= 1
            if depth == 0:
                break
            part += c
        elif c == "," and depth == 1:
            heads.append(part)
            part = ""
        else:
            part += c
        i += 1
    heads.append(part)
    out = []
    for h in heads:
        h = h.strip().split("::")[0].strip()
        if IDENT.fullmatch(h) and h != "self":
            out.append(h)
    return out


def file_module_path(rel):
    """src-relative file -> its module path: a/b.rs and a/b/mod.rs -> [a, b]."""
    parts = rel[: -len(".rs")].split(os.sep)
    if parts[-1] == "mod":
        parts.pop()
    return parts


def targets(code, rel):
    """Top-level modules a file's code names."""
    root = "vendoras" if rel.split(os.sep)[0] in ("cli", "main.rs") else "crate"
    found = set()
    for m in re.finditer(r"(?<![\w$])" + root + r"::", code):
        if code.startswith("{", m.end()):
            found.update(group_heads(code, m.end()))
        elif h := IDENT.match(code, m.end()):
            found.add(h.group(0))
    # super::super::x climbing out of a nested file up to the crate root
    here = file_module_path(rel)
    for m in re.finditer(r"(?<![\w:])((?:super::)+)", code):
        up = m.group(1).count("super::")
        if up == len(here):
            if code.startswith("{", m.end()):
                found.update(group_heads(code, m.end()))
            elif h := IDENT.match(code, m.end()):
                found.add(h.group(0))
    return found


def root_aliases(src):
    """Modules the crate root re-exports under another name
    (`pub use ffi::signal;` makes `vendoras::signal` mean `ffi`)."""
    path = os.path.join(src, "lib.rs")
    if not os.path.exists(path):
        return {}
    code = code_only(open(path, encoding="utf-8").read())
    return {m.group(2): m.group(1)
            for m in re.finditer(r"\bpub use (?:crate::)?([a-z_][a-z0-9_]*)::(?:[a-z_][a-z0-9_]*::)*"
                                 r"([a-z_][a-z0-9_]*)\s*;", code)}


def graph(src):
    """{module: {module it uses: first file that does}} for the files under src."""
    edges = {}
    aliases = root_aliases(src)
    for dirpath, dirs, names in os.walk(src):
        dirs[:] = sorted(d for d in dirs if d != "tests")
        for name in sorted(names):
            if not name.endswith(".rs") or name == "tests.rs":
                continue
            path = os.path.join(dirpath, name)
            rel = os.path.relpath(path, src)
            if rel in ("lib.rs", "main.rs"):
                continue
            mod = rel.split(os.sep)[0].removesuffix(".rs")
            edges.setdefault(mod, {})
            code = without_cfg_test(code_only(open(path, encoding="utf-8").read()))
            for t in sorted({aliases.get(t, t) for t in targets(code, rel)}):
                if t != mod:
                    edges[mod].setdefault(t, rel)
    return edges


def layer_table(path):
    """{module: layer number} from the rows `| N | name | `a`, `b` | ... |`."""
    layers = {}
    for line in open(path, encoding="utf-8"):
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) >= 3 and cells[0].isdigit():
            for m in re.findall(r"`([a-z_][a-z0-9_]*)`", cells[2]):
                layers[m] = int(cells[0])
    return layers


def cycles(edges):
    """Strongly connected components of two or more modules (Tarjan)."""
    index, low, stack, on, out = {}, {}, [], set(), []

    def visit(v):
        index[v] = low[v] = len(index)
        stack.append(v)
        on.add(v)
        for w in edges.get(v, {}):
            if w not in index:
                visit(w)
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
                out.append(sorted(comp))

    sys.setrecursionlimit(10000)
    for v in sorted(set(edges) | {w for ws in edges.values() for w in ws}):
        if v not in index:
            visit(v)
    return out


def check(src, table, verbose=False):
    """Problems found, one line each (empty: all good)."""
    edges = graph(src)
    layers = layer_table(table)
    problems = []
    nodes = sorted(set(edges) | {w for ws in edges.values() for w in ws})
    for m in nodes:
        if m not in layers:
            problems.append(f"module `{m}` is not in the layer table of {table}")
    for comp in cycles(edges):
        inside = [f"{a} -> {b} ({edges[a][b]})" for a in comp for b in edges[a] if b in comp]
        problems.append(f"cycle: {', '.join(comp)}: " + "; ".join(inside))
    for a in sorted(edges):
        for b, where in sorted(edges[a].items()):
            if a in layers and b in layers and layers[b] >= layers[a]:
                way = "upward" if layers[b] > layers[a] else "within a layer"
                problems.append(
                    f"{way}: {a} (layer {layers[a]}) -> {b} (layer {layers[b]}) in src/{where}"
                )
            elif verbose:
                print(f"  {a} -> {b} ({where})")
    n_edges = sum(len(v) for v in edges.values())
    print(f"{len(nodes)} modules, {n_edges} edges, {len(problems)} problems")
    return problems


def self_test():
    """The checker catches what it is for (and not what it must ignore)."""
    def tree(files):
        d = tempfile.mkdtemp()
        for rel, text in files.items():
            p = os.path.join(d, rel)
            os.makedirs(os.path.dirname(p), exist_ok=True)
            with open(p, "w", encoding="utf-8") as f:
                f.write(text)
        return d

    table = "| 1 | leaf | `a` |\n| 2 | mid | `c`, `e` |\n| 3 | upper | `b` |\n| 4 | top | `cli` |\n"
    ok = {
        "table.md": table,
        "src/a.rs": '// crate::b in a comment\nconst S: &str = "crate::c";\n'
        "/// [`crate::b`]\n#[cfg(test)]\nmod tests { use crate::b; fn f() { let _ = '{'; } }\n",
        "src/b/mod.rs": "use crate::{a::{self, X}, c};\n",
        "src/c.rs": "use crate::a::Y;\n",
        "src/e.rs": "",
        "src/lib.rs": "pub use c::sub;\n",
        "src/cli/mod.rs": "use vendoras::b;\nuse crate::cli;\nuse vendoras::sub::f;\n",
    }
    bad = dict(ok)
    bad["src/a.rs"] = "use crate::b::Z;\n"  # upward, and a cycle a -> b -> a
    bad["src/c.rs"] = "fn f() { super::d::g() }\n"  # unknown module d
    bad["src/e.rs"] = "fn f() { crate::c::h() }\n"  # within layer 2
    want_bad = ["upward: a", "within a layer: e", "cycle: a, b", "module `d`"]
    for files, want in ((ok, []), (bad, want_bad)):
        d = tree(files)
        got = check(os.path.join(d, "src"), os.path.join(d, "table.md"))
        for w in want:
            assert any(g.startswith(w) for g in got), (w, got)
        assert len(got) == len(want), got
    edges = graph(os.path.join(tree(ok), "src"))
    assert edges == {"a": {}, "b": {"a": "b/mod.rs", "c": "b/mod.rs"}, "c": {"a": "c.rs"},
                     "e": {}, "cli": {"b": "cli/mod.rs", "c": "cli/mod.rs"}}, edges
    print("self-test passed")


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--src", default="src")
    ap.add_argument("--table", default="docs/architecture.md")
    ap.add_argument("-v", "--verbose", action="store_true", help="list every allowed edge")
    ap.add_argument("--self-test", action="store_true")
    args = ap.parse_args()
    if args.self_test:
        self_test()
        return 0
    problems = check(args.src, args.table, args.verbose)
    for p in problems:
        print(p)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
