#!/usr/bin/env bash
# Performance benchmark: builds the release client and the `bench` example,
# then runs the client against the test rig's emulators on 127.0.0.1 (hub
# over TLS) and prints one Markdown table: CPU per relayed piece, pieces per
# second, added latency p50/p99, idle and peak RSS, idle wakeups, start to
# connected, binary sizes, each against its budget (see examples/bench.rs
# for the method and its caveats). Takes about 30 s.
#
#   scripts/bench.sh                      measures target/release/ollama-proxy-client
#   BENCH_CLIENT=dist/ollama-proxy-client-0.1.0-x86_64-unknown-linux-musl scripts/bench.sh
#   scripts/bench.sh --client PATH        the same as BENCH_CLIENT
#
# Exit status 0 once the table is printed (whatever passes or fails), 1 if
# a measurement could not be made.
set -euo pipefail
cd "$(dirname "$0")/.."
client="${BENCH_CLIENT:-target/release/ollama-proxy-client}"
cargo build --release --quiet --bin ollama-proxy-client --example bench
# The bench removes what it creates; this catches anything left by a crash.
scratch="$(mktemp -d "${TMPDIR:-/tmp}/opc-bench.XXXXXX")"
trap 'rm -rf "$scratch"' EXIT
# A hard bound on the whole run; the bench's own waits are all bounded too.
TMPDIR="$scratch" timeout --kill-after=5 120 \
    target/release/examples/bench --client "$client" "$@"
