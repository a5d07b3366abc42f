#!/usr/bin/env bash
# Try the client with neither a hub nor Ollama: builds the client and the
# demo (which holds a hub emulator and an Ollama emulator), runs the client
# against them on 127.0.0.1, shows a buyer's answer streaming back, and
# stops everything it started.
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --release --quiet --bin ollama-proxy-client --example demo
exec target/release/examples/demo --client target/release/ollama-proxy-client "$@"
