#!/usr/bin/env python3
"""Fails if an owner-facing text is built outside the catalogue (src/text/).

Every text a person reads at the terminal must come from the catalogue,
where it has its English and its Russian side by side. This scans the code
under src/ (outside src/text/ and outside `#[cfg(test)]` modules) for the
places a text reaches the terminal or a fatal error, and reports any string
literal with a word in it among their arguments:

- printing: print(...), print!/println!/eprint!/eprintln!(...),
  read_secret_line(...);
- fatal errors and usage errors: Fatal::usage/config(...), UsageError(...);
- --check's lines: Step::pass/fail(...);
- the `Display` of an error type (`impl fmt::Display for ...`), which is
  what the log shows: it must render the catalogue's English
  (`self.text().english()`), so that the text is defined once.

A literal that is not prose (a program name, a URL's scheme) is allowed by
a comment `// not prose: why` on its line or the line before (for a
`Display`, the line before the `impl`); the `Display` of a type that only
the log shows, by `// log only: why` on the line before the `impl`.

Usage: python3 scripts/check-texts.py [ROOT]   (exit 1 on any finding)
"""

import pathlib
import re
import sys

CALLS = re.compile(
    r"\b(print|print!|println!|eprint!|eprintln!|read_secret_line|"
    r"Fatal::usage|Fatal::config|UsageError|Step::pass|Step::fail)\s*\("
)
DISPLAY_IMPL = re.compile(r"impl\s+(std::)?fmt::Display\s+for\s+(\w+)")
STRING = re.compile(r'r#*"|"')
WORD = re.compile(r"[A-Za-z]{2,}")
ALLOW = ("// not prose:", "// log only:")


def without_tests(text):
    """The file up to its `#[cfg(test)] mod ...` (tests are not shown)."""
    match = re.search(r"^\s*#\[cfg\(test\)\]\s*\n\s*(pub\s+)?mod\s+\w+", text, re.M)
    return text[: match.start()] if match else text


def literals(code):
    """The string literals in a piece of Rust code, with their offsets."""
    found, i = [], 0
    while True:
        m = STRING.search(code, i)
        if not m:
            return found
        start = m.start()
        if m.group().startswith("r"):
            hashes = m.group().count("#")
            end = code.find('"' + "#" * hashes, m.end())
            end = len(code) if end < 0 else end + 1 + hashes
            found.append((start, code[m.end() : end - 1 - hashes]))
        else:
            j = m.end()
            while j < len(code) and code[j] != '"':
                j += 2 if code[j] == "\\" else 1
            found.append((start, code[m.end() : j]))
            end = j + 1
        # A char literal such as '"' is not a string's start.
        if start > 0 and code[start - 1] == "'":
            found.pop()
        i = end


def balanced(code, open_at):
    """The text from `open_at` (an opening bracket) to its closing one."""
    depth, i = 0, open_at
    pairs = {"(": ")", "{": "}", "[": "]"}
    closing = pairs[code[open_at]]
    while i < len(code):
        c = code[i]
        if c == '"':
            i += 1
            while i < len(code) and code[i] != '"':
                i += 2 if code[i] == "\\" else 1
        elif c == code[open_at]:
            depth += 1
        elif c == closing:
            depth -= 1
            if depth == 0:
                return code[open_at : i + 1]
        i += 1
    return code[open_at:]


def allowed(code, offset):
    """A marker on the line of `offset` or the line before."""
    line_start = code.rfind("\n", 0, offset) + 1
    previous_start = code.rfind("\n", 0, max(line_start - 1, 0)) + 1
    line_end = code.find("\n", offset)
    lines = code[previous_start : line_end if line_end >= 0 else len(code)]
    return any(marker in lines for marker in ALLOW)


def findings(path, code):
    spans = []
    for m in CALLS.finditer(code):
        spans.append((m.group(1), m.end() - 1, m.start()))
    for m in DISPLAY_IMPL.finditer(code):
        body = code.find("{", m.end())
        spans.append((f"Display for {m.group(2)}", body, m.start()))
    for what, open_at, marked_at in spans:
        args = balanced(code, open_at)
        for offset, literal in literals(args):
            at = open_at + offset
            if allowed(code, marked_at) or allowed(code, at):
                continue
            if WORD.search(re.sub(r"\{[^}]*\}", "", literal)):
                line = code.count("\n", 0, at) + 1
                yield f"{path}:{line}: {what}: {literal[:60]!r} is not from the catalogue"


def main():
    root = pathlib.Path(sys.argv[1] if len(sys.argv) > 1 else ".")
    problems, files = [], 0
    for path in sorted((root / "src").rglob("*.rs")):
        relative = path.relative_to(root)
        if relative.parts[:2] == ("src", "text"):
            continue
        files += 1
        problems.extend(findings(relative, without_tests(path.read_text())))
    for problem in problems:
        print(problem)
    if problems:
        print(f"{len(problems)} owner-facing texts outside src/text/ (see the script's comment)")
        return 1
    print(f"check-texts: {files} files, every owner-facing text is from the catalogue")
    return 0


if __name__ == "__main__":
    sys.exit(main())
