#!/usr/bin/env bash
# Mutation testing of what a change touched (cargo-mutants): every mutant
# of the Rust files under src/ that changed since REV (default HEAD~1: the
# last commit plus any uncommitted work), or of the files given, is built
# and run against the whole test suite. Prints the counts and the survivors
# ("missed": a test suite that still passes with the code broken), and
# exits 1 if any survived. A survivor is killed with a test, or, when it
# truly cannot change behaviour, excluded in .cargo/mutants.toml with a
# comment saying why.
#
#   scripts/mutants.sh                       files changed since HEAD~1
#   scripts/mutants.sh --since main          files changed since main
#   scripts/mutants.sh src/hub/wire.rs ...   these files
#   scripts/mutants.sh --lines [--since REV] only mutants on changed lines
#
# Not part of .ci/run: a file takes minutes on 2 cores (about 10 s a
# mutant). MUTANTS_JOBS (default 2) builds and tests that many at once.
# The full report is in target/mutants.out/.
set -euo pipefail
cd "$(dirname "$0")/.."

since="HEAD~1"
lines=false
files=()
while [ $# -gt 0 ]; do
    case "$1" in
        --since) since="$2"; shift 2 ;;
        --lines) lines=true; shift ;;
        -h|--help) sed -n '2,19p' "$0"; exit 0 ;;
        -*) echo "mutants.sh: unknown option $1" >&2; exit 2 ;;
        *) files+=("$1"); shift ;;
    esac
done

if ! cargo mutants --version >/dev/null 2>&1; then
    echo "installing cargo-mutants from crates.io" >&2
    cargo install --locked cargo-mutants
fi

args=(--jobs "${MUTANTS_JOBS:-2}" --output target)
if $lines; then
    diff_file="$(mktemp)"
    trap 'rm -f "$diff_file"' EXIT
    git diff "$since" -- 'src/*.rs' >"$diff_file"
    args+=(--in-diff "$diff_file")
else
    if [ ${#files[@]} -eq 0 ]; then
        mapfile -t files < <(git diff --name-only "$since" -- 'src/*.rs' | sort -u)
        mapfile -t -O "${#files[@]}" files < <(git ls-files --others --exclude-standard -- 'src/*.rs')
    fi
    if [ ${#files[@]} -eq 0 ]; then
        echo "mutants.sh: no Rust file under src/ changed since $since" >&2
        exit 0
    fi
    for file in "${files[@]}"; do
        [ -f "$file" ] && args+=(--file "$file")
    done
fi

echo "cargo mutants ${args[*]}" >&2
status=0
cargo mutants "${args[@]}" || status=$?
out=target/mutants.out
count() { if [ -s "$out/$1.txt" ]; then wc -l <"$out/$1.txt"; else echo 0; fi; }
echo
echo "caught $(count caught), missed $(count missed), unviable $(count unviable), timeout $(count timeout)"
if [ -s "$out/missed.txt" ]; then
    echo "survivors (kill each with a test, or explain it in .cargo/mutants.toml):"
    sed 's/^/  /' "$out/missed.txt"
fi
# cargo-mutants exits 2 when mutants were missed, 3 on timeouts only, 4
# when the tests fail without any mutation.
case "$status" in
    0 | 3) exit 0 ;;
    2) exit 1 ;;
    *) exit "$status" ;;
esac
