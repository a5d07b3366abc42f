#!/usr/bin/env python3
"""Prints which module of src/ uses which (from `use crate::...` and
`super::` paths, tests excluded) and fails if any two modules use each other,
directly or through others. Run from the project root:
`python3 scripts/module-graph.py`."""
import os
import re
import sys

ROOT = "src"


def module_of(path):
    rel = os.path.relpath(path, ROOT)[:-3]
    parts = rel.split(os.sep)
    if parts[-1] in ("mod", "main"):
        parts = parts[:-1]
    return "::".join(parts) or "main"


def code_without_tests(text):
    cut = text.find("#[cfg(test)]\nmod tests")
    return text if cut < 0 else text[:cut]


def uses(module, text):
    found = set()
    for m in re.finditer(r"\bcrate::([a-z_]+)(?:::([a-z_]+))?", text):
        first, second = m.group(1), m.group(2)
        if first == "hub" and second and os.path.exists(os.path.join(ROOT, "hub", second + ".rs")):
            found.add("hub::" + second)
        elif first == "ollama" and second and os.path.exists(os.path.join(ROOT, "ollama", second + ".rs")):
            found.add("ollama::" + second)
        else:
            found.add(first)
    parent = module.rsplit("::", 1)[0] if "::" in module else None
    for m in re.finditer(r"\bsuper::([a-z_]+)", text):
        if parent:
            found.add(parent + "::" + m.group(1))
    found.discard(module)
    return found


graph = {}
for dirpath, _, files in os.walk(ROOT):
    for name in files:
        if name.endswith(".rs"):
            path = os.path.join(dirpath, name)
            module = module_of(path)
            graph[module] = uses(module, code_without_tests(open(path).read()))

# A parent module's re-exports are not uses of its children's users.
known = set(graph)
for module, targets in graph.items():
    graph[module] = {t for t in targets if t in known}

for module in sorted(graph):
    print(f"{module:20} -> {', '.join(sorted(graph[module])) or '-'}")

state, stack, cycles = {}, [], []


def visit(node):
    state[node] = 1
    stack.append(node)
    for nxt in graph.get(node, ()):
        # A module using its own parent's re-exports is not a cycle of design.
        if node.startswith(nxt + "::"):
            continue
        if state.get(nxt) == 1:
            cycles.append(stack[stack.index(nxt):] + [nxt])
        elif nxt not in state:
            visit(nxt)
    stack.pop()
    state[node] = 2


for node in sorted(graph):
    if node not in state:
        visit(node)
if cycles:
    for cycle in cycles:
        print("cycle: " + " -> ".join(cycle), file=sys.stderr)
    sys.exit(1)
print("no cycles")
