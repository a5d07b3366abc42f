#!/usr/bin/env bash
# What CI can do for the systems it cannot run natively, besides building
# their release files (build-release.sh) and running the Windows end-to-end
# suites under wine (test-windows.sh):
#   - macOS (aarch64/x86_64-apple-darwin): clippy of the program and of
#     every test target, warnings as errors: the Unix code that differs
#     on macOS (src/platform/unix/) and the tests' support code compile
#     there. Nothing here runs a Mach-O binary.
#   - Windows (x86_64-pc-windows-gnu): clippy of the program, warnings as
#     errors, then its unit tests built and run
#     under wine (scripts/wine-run.sh): src/platform/windows/ and the rest
#     of the program's own tests, on Windows code. (The integration tests
#     run on Linux against the Windows .exe: test-windows.sh.)
# Uses the cross toolchain of scripts/cross-env.sh (installed on first
# use) and its own target directory, since the unit tests need a standard
# library built with unwinding.
#   scripts/check-other-systems.sh [macos] [windows]     (default: both)
set -euo pipefail
cd "$(dirname "$0")/.."

parts=("$@")
[ ${#parts[@]} -eq 0 ] && parts=(macos windows)
. scripts/cross-env.sh
export CARGO_TARGET_DIR="$PWD/target/other-systems"

for part in "${parts[@]}"; do
    case "$part" in
        macos)
            for target in aarch64-apple-darwin x86_64-apple-darwin; do
                echo "== clippy --all-targets for $target"
                cross_target_env "$target"
                cargo-zigbuild clippy --quiet --locked -Zbuild-std=std,panic_abort \
                    --target "$target" --all-targets -- -D warnings
            done
            ;;
        windows)
            target=x86_64-pc-windows-gnu
            echo "== clippy of the program for $target"
            cross_target_env "$target"
            # Unit tests unwind: the release profile's panic=abort would
            # build a second standard library beside the first. Release,
            # not dev: wine refuses a dev-profile -gnu executable
            # ("Bad EXE format", rust #139380).
            export CARGO_PROFILE_RELEASE_PANIC=unwind CARGO_PROFILE_RELEASE_LTO=false \
                CARGO_PROFILE_RELEASE_OPT_LEVEL=1
            cargo-zigbuild clippy --quiet --locked --release -Zbuild-std=std,panic_unwind \
                --target "$target" --bin ollama-proxy-client -- -D warnings
            echo "== the unit tests for $target under wine"
            scripts/wine-run.sh --setup
            tests="$(cargo-zigbuild test --locked --release -Zbuild-std=std,panic_unwind \
                --target "$target" --bin ollama-proxy-client --no-run --message-format=json \
                | python3 -c 'import json, sys
for line in sys.stdin:
    m = json.loads(line)
    if m.get("reason") == "compiler-artifact" and m.get("executable") and m["target"]["kind"] == ["bin"] and m["profile"]["test"]:
        print(m["executable"])')"
            [ -n "$tests" ] || { echo "no unit test executable was built" >&2; exit 1; }
            scripts/wine-run.sh "$tests" --test-threads 2
            ;;
        *) echo "unknown part: $part (macos, windows)" >&2; exit 2 ;;
    esac
done
