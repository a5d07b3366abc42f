#!/usr/bin/env bash
# Soak test: the release client against the test rig's emulators for a
# while (default 600 s; e.g. `scripts/soak.sh 60`), with random faults.
# Prints requests, answers, errors, reconnects and RSS at start and end;
# fails if any answer is missing, duplicated, reordered or incomplete, or if
# RSS grew by more than 1 MiB.
set -euo pipefail
cd "$(dirname "$0")/.."
seconds="${1:-600}"
shift || true
cargo build --release --quiet --bin ollama-proxy-client --example soak
exec target/release/examples/soak --seconds "$seconds" --client target/release/ollama-proxy-client "$@"
