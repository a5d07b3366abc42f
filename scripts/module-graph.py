#!/usr/bin/env python3
"""Prints which module of src/ uses which, and fails if any modules use
each other, directly or through others. Tests (`#[cfg(test)]`) excluded.

A module uses another when its code names it or an item of it: a
`use` (braces expanded), a path in the code (`crate::a::b`, `super::x`,
`self::x`, `child::item`), and a parent uses each child it declares
(`mod x;`). A name reached through a parent's re-export
(`pub use writer::Writer` in `hub`) is a use of the module that defines
it (`hub::writer`), not of the parent: a child that takes a sibling's item
through the parent is no circle, but one that takes the parent's own items
while the parent declares it is.

    python3 scripts/module-graph.py             the tree under src/
    python3 scripts/module-graph.py DIR         another tree
    python3 scripts/module-graph.py --self-test plants a circle and checks
                                                that it is found
"""
import os
import re
import sys
import tempfile

IDENT = r"[A-Za-z_][A-Za-z0-9_]*"


def module_of(root, path):
    parts = os.path.relpath(path, root)[:-3].split(os.sep)
    if parts[-1] in ("mod", "main"):
        parts = parts[:-1]
    return "::".join(parts)


def without_tests(text):
    """The code with every `#[cfg(test)]` item (a module, a `use`, a
    function) cut out."""
    out, index = [], 0
    for m in re.finditer(r"#\[cfg\(test\)\]\s*", text):
        if m.start() < index:
            continue
        out.append(text[index:m.start()])
        index = end_of_item(text, m.end())
    out.append(text[index:])
    return "".join(out)


def end_of_item(text, start):
    """Where the item starting at `start` ends: its `;` or its closing
    brace, whichever comes first at depth 0."""
    depth = 0
    for i in range(start, len(text)):
        c = text[i]
        if c == "{":
            depth += 1
        elif c == "}":
            depth -= 1
            if depth == 0:
                return i + 1
        elif c == ";" and depth == 0:
            return i + 1
    return len(text)


def code_only(text):
    """The text without comments, and with every string and character
    literal emptied (`""`, `' '`): what is left are names and braces."""
    out, i, n = [], 0, len(text)
    while i < n:
        c = text[i]
        if text.startswith("//", i):
            i = text.find("\n", i)
            i = n if i < 0 else i
        elif text.startswith("/*", i):
            end = text.find("*/", i + 2)
            i = n if end < 0 else end + 2
        elif m := re.match(r'b?r(#*)"', text[i:i + 40]) if c in "br" and (i == 0 or not (text[i - 1].isalnum() or text[i - 1] == "_")) else None:
            close = '"' + m.group(1)
            end = text.find(close, i + m.end())
            i = n if end < 0 else end + len(close)
            out.append('""')
        elif c == '"':
            i += 1
            while i < n and text[i] != '"':
                i += 2 if text[i] == "\\" else 1
            i += 1
            out.append('""')
        elif c == "'" and (m := re.match(r"'(?:\\.[^']*|[^\\'])'", text[i:i + 12])):
            i += m.end()
            out.append("' '")
        else:
            out.append(c)
            i += 1
    return "".join(out)


def expand(tree):
    """`a::{b, c::{d, e as f}}` -> [(["a","b"], "b"), (["a","c","d"], "d"),
    (["a","c","e"], "f")]."""
    tree = tree.strip()
    brace = tree.find("{")
    if brace < 0:
        name = tree
        alias = None
        if " as " in tree:
            name, alias = [x.strip() for x in tree.split(" as ")]
        segments = [s for s in name.split("::") if s]
        if segments and segments[-1] == "self":
            segments = segments[:-1]
        if not segments:
            return []
        return [(segments, alias or segments[-1])]
    prefix = [s for s in tree[:brace].split("::") if s]
    inner = tree[brace + 1:tree.rfind("}")]
    parts, depth, start = [], 0, 0
    for i, c in enumerate(inner):
        if c == "{":
            depth += 1
        elif c == "}":
            depth -= 1
        elif c == "," and depth == 0:
            parts.append(inner[start:i])
            start = i + 1
    parts.append(inner[start:])
    leaves = []
    for part in parts:
        if part.strip():
            for segments, alias in expand(part):
                leaves.append((prefix + segments, alias))
    return leaves


class Tree:
    def __init__(self, root):
        self.code = {}
        for dirpath, _, files in os.walk(root):
            for name in files:
                if name.endswith(".rs"):
                    path = os.path.join(dirpath, name)
                    text = code_only(open(path, encoding="utf-8").read())
                    self.code[module_of(root, path)] = without_tests(text)
        self.reexports = {module: {} for module in self.code}

    def child(self, module, name):
        child = f"{module}::{name}" if module else name
        return child if child in self.code else None

    def resolve(self, module, segments):
        """The module that defines what `segments` names, seen from
        `module`; None for another crate."""
        first = segments[0]
        if first == "crate":
            current, rest = "", segments[1:]
        elif first in ("super", "self"):
            current, rest = module, segments
            while rest and rest[0] in ("super", "self"):
                if rest[0] == "super":
                    current = current.rsplit("::", 1)[0] if "::" in current else ""
                rest = rest[1:]
        elif self.child(module, first):
            current, rest = module, segments
        else:
            return None
        for segment in rest:
            nested = self.child(current, segment)
            if nested:
                current = nested
            elif segment in self.reexports.get(current, {}):
                return self.reexports[current][segment]
            else:
                break
        return current

    def use_statements(self, module):
        for m in re.finditer(r"(pub(?:\([^)]*\))?\s+)?\buse\s+([^;]+);", self.code[module]):
            for segments, alias in expand(m.group(2)):
                yield bool(m.group(1)), segments, alias

    def find_reexports(self):
        # Re-exports of re-exports settle in a few rounds.
        for _ in range(4):
            for module in self.code:
                for public, segments, alias in self.use_statements(module):
                    target = self.resolve(module, segments) if public else None
                    if target and target != module:
                        self.reexports[module][alias] = target

    def uses(self, module):
        code = self.code[module]
        found = set()
        for _, segments, _ in self.use_statements(module):
            found.add(self.resolve(module, segments))
        for m in re.finditer(rf"\bmod\s+({IDENT})\s*;", code):
            found.add(self.child(module, m.group(1)))
        paths = re.finditer(rf"(?<![A-Za-z0-9_:]){IDENT}(?:::{IDENT})+", code)
        for m in paths:
            found.add(self.resolve(module, m.group(0).split("::")))
        found.discard(None)
        found.discard(module)
        return found

    def graph(self):
        self.find_reexports()
        return {module: self.uses(module) for module in self.code}


def cycles_of(graph):
    state, stack, cycles = {}, [], []

    def visit(node):
        state[node] = 1
        stack.append(node)
        for nxt in sorted(graph.get(node, ())):
            if state.get(nxt) == 1:
                cycles.append(stack[stack.index(nxt):] + [nxt])
            elif nxt not in state:
                visit(nxt)
        stack.pop()
        state[node] = 2

    for node in sorted(graph):
        if node not in state:
            visit(node)
    return cycles


def check(root, quiet=False):
    graph = Tree(root).graph()
    if not quiet:
        for module in sorted(graph):
            shown = module or "main"
            targets = ", ".join(sorted(t or "main" for t in graph[module]))
            print(f"{shown:22} -> {targets or '-'}")
    return cycles_of(graph)


def self_test():
    """A tree with a circle through a parent and its child, and one whose
    child takes a sibling through the parent's re-export (no circle)."""
    planted = {
        "main.rs": "mod a;\nmod b;\nfn main() { a::run(); }\n",
        "a/mod.rs": "mod inner;\npub use inner::Thing;\npub fn run() {}\n",
        "a/inner.rs": "use crate::b::helper;\npub struct Thing;\n",
        "b.rs": "pub fn helper() { crate::a::run(); }\n",
    }
    fine = {
        "main.rs": "mod a;\nfn main() { a::Thing::new(); }\n",
        "a/mod.rs": "mod one;\nmod two;\npub use one::Thing;\npub use two::Other;\n",
        "a/one.rs": "use super::Other;\npub struct Thing;\n",
        "a/two.rs": "pub struct Other;\n#[cfg(test)]\nmod tests { use crate::a::Thing; }\n",
    }
    results = []
    for files in (planted, fine):
        with tempfile.TemporaryDirectory() as root:
            for name, text in files.items():
                os.makedirs(os.path.dirname(os.path.join(root, name)), exist_ok=True)
                open(os.path.join(root, name), "w").write(text)
            results.append(check(root, quiet=True))
    planted_cycles, fine_cycles = results
    assert any("a::inner" in c and "b" in c for c in planted_cycles), planted_cycles
    assert not fine_cycles, fine_cycles
    print("self-test: the planted circle is found, the re-export is not one")


def main():
    args = sys.argv[1:]
    if args == ["--self-test"]:
        self_test()
        return
    cycles = check(args[0] if args else "src")
    if cycles:
        for cycle in cycles:
            print("cycle: " + " -> ".join(m or "main" for m in cycle), file=sys.stderr)
        sys.exit(1)
    print("no cycles")


main()
