#!/usr/bin/env bash
# What CI can do for the systems it cannot run natively, besides building
# their release files (build-release.sh) and running the Windows end-to-end
# suites under wine (test-windows.sh):
#   - macOS: `cargo check` of every test target (the program's unit tests
#     and the integration suites), warnings as errors, for
#     aarch64-apple-darwin: the Unix code that differs on macOS
#     (src/platform/unix/) and the tests' support code compile there. The
#     program itself is built for both Apple targets by build-release.sh;
#     the test code is the same for both. Nothing here runs a Mach-O
#     binary.
#   - Windows (x86_64-pc-windows-gnu): the program's unit tests built,
#     warnings as errors, and run under wine (scripts/wine-run.sh):
#     src/platform/windows/ and the rest of the program's own tests, on
#     Windows code. (The integration tests run on Linux against the
#     Windows .exe: test-windows.sh.)
# Clippy is not used here: the cross toolchain (Debian's Rust with
# -Zbuild-std, scripts/cross-env.sh) has none, and the machine's rustup
# one cannot build for these targets. Uses its own target directory,
# since the unit tests need a standard library built with unwinding.
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
            target=aarch64-apple-darwin
            echo "== cargo check --tests for $target"
            cross_target_env "$target" "-D warnings"
            cargo-zigbuild check --quiet --locked -Zbuild-std=std,panic_abort \
                --target "$target" --tests
            ;;
        windows)
            target=x86_64-pc-windows-gnu
            echo "== the unit tests for $target, built"
            cross_target_env "$target" "-D warnings"
            # Unit tests unwind: the release profile's panic=abort would
            # build a second standard library beside the first. Release,
            # not dev: wine refuses a dev-profile -gnu executable
            # ("Bad EXE format", rust #139380).
            export CARGO_PROFILE_RELEASE_PANIC=unwind CARGO_PROFILE_RELEASE_LTO=false \
                CARGO_PROFILE_RELEASE_OPT_LEVEL=1
            build=(cargo-zigbuild test --locked --release -Zbuild-std=std,panic_unwind
                --target "$target" --bin ollama-proxy-client --no-run)
            "${build[@]}"
            tests="$("${build[@]}" --message-format=json 2>/dev/null | python3 -c 'import json, sys
for line in sys.stdin:
    m = json.loads(line)
    if m.get("reason") == "compiler-artifact" and m.get("executable") and m["profile"]["test"]:
        print(m["executable"])')"
            [ -n "$tests" ] || { echo "no unit test executable was built" >&2; exit 1; }
            echo "== the unit tests for $target under wine"
            scripts/wine-run.sh --setup
            scripts/wine-run.sh "$tests" --test-threads 2
            ;;
        *) echo "unknown part: $part (macos, windows)" >&2; exit 2 ;;
    esac
done
