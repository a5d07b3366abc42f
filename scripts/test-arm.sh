#!/usr/bin/env bash
# Runs the end-to-end tests against aarch64 and armv7 (musl) builds under
# qemu-user: the test programs and the client binary they start are ARM
# code, run by qemu-aarch64-static / qemu-arm-static (Debian's
# qemu-user-static, installed on first use). Usage:
#   scripts/test-arm.sh [TARGET...] [-- CARGO TEST ARGS]
# By default: both targets and every end-to-end suite: relay (stream,
# non-stream, every Ollama failure, malformed frames, TLS), faults
# (reconnects, half-open, outbox, SIGTERM, proxy), surface (flags, config,
# logs, test mode, --check) and terminal (first run through a pty). Pass
# e.g. `-- --test relay` for fewer.
set -euo pipefail
cd "$(dirname "$0")/.."

targets=()
while [ $# -gt 0 ] && [ "$1" != "--" ]; do targets+=("$1"); shift; done
[ "${1:-}" = "--" ] && shift
suites=("$@")
[ ${#suites[@]} -eq 0 ] && suites=(--test relay --test faults --test surface --test terminal)
[ ${#targets[@]} -eq 0 ] && targets=(aarch64-unknown-linux-musl armv7-unknown-linux-musleabihf)

. scripts/cross-env.sh
command -v qemu-aarch64-static >/dev/null || { echo "== installing qemu-user-static"; apt_install qemu-user-static; }

for target in "${targets[@]}"; do
    case "$target" in
        aarch64-*) runner=qemu-aarch64-static ;;
        armv7-*) runner=qemu-arm-static ;;
        *) echo "no qemu runner known for $target" >&2; exit 2 ;;
    esac
    echo "== testing $target under $runner"
    cross_target_env "$target"
    upper="$(echo "$target" | tr 'a-z-' 'A-Z_')"
    # Cargo runs the test programs under the runner; the tests run the
    # client binary under it too (OPC_TEST_RUNNER, see tests/support/client.rs).
    # The test profile (debug, panic=unwind, which the test harness needs)
    # with std and the test crate built for the target.
    # qemu-user can deadlock a forked child before it execs (a limit of its
    # emulation of fork in a multithreaded guest, seen once in a few runs
    # of the surface suite under qemu-arm): such a run hangs rather than
    # fails. It is stopped after 15 minutes (a normal run takes about 5)
    # and run once more; a test that fails fails at once.
    for attempt in 1 2; do
        status=0
        timeout --kill-after=10 900 \
            env "CARGO_TARGET_${upper}_RUNNER=$runner" OPC_TEST_RUNNER="$runner" \
            cargo-zigbuild test --locked -Zbuild-std --target "$target" "${suites[@]}" \
            || status=$?
        if [ "$status" -eq 0 ]; then
            break
        fi
        if [ "$attempt" -eq 1 ] && { [ "$status" -eq 124 ] || [ "$status" -eq 137 ]; }; then
            echo "== $target: the tests hung under $runner (stopped after 15 min); once more"
            pkill -9 -f "$runner" || true
            continue
        fi
        exit "$status"
    done
done
