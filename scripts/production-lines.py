#!/usr/bin/env python3
"""Counts the production lines of src/: non-blank lines that are not `//`
comments, outside `#[cfg(test)]` items (cut by matching their braces).
The measure issue 22 set its goal in.

    python3 scripts/production-lines.py            the total
    python3 scripts/production-lines.py --files    per file, largest first
"""
import os
import re
import sys


def production_lines(text):
    kept, at = [], 0
    for test_item in re.finditer(r"#\[cfg\(test\)\]", text):
        if test_item.start() < at:
            continue
        kept.append(text[at:test_item.start()])
        end, depth = test_item.end(), 0
        while end < len(text):
            c = text[end]
            end += 1
            if c == "{":
                depth += 1
            elif c == "}":
                depth -= 1
                if depth == 0:
                    break
            elif c == ";" and depth == 0:
                break
        at = end
    kept.append(text[at:])
    lines = "".join(kept).splitlines()
    return sum(1 for line in lines if line.strip() and not line.strip().startswith("//"))


def main():
    root = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "src")
    counts = []
    for folder, _, names in os.walk(root):
        for name in names:
            if name.endswith(".rs"):
                path = os.path.join(folder, name)
                with open(path, encoding="utf-8") as file:
                    counts.append((production_lines(file.read()), os.path.relpath(path, os.path.dirname(root))))
    if "--files" in sys.argv[1:]:
        for count, path in sorted(counts, reverse=True):
            print(f"{count:6d} {path}")
    print(sum(count for count, _ in counts))


if __name__ == "__main__":
    main()
