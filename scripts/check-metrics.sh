#!/usr/bin/env bash
# Checks the metrics endpoint with Prometheus's own tools: renders two
# samples (the ignored unit test
# metrics::prometheus::tests::write_samples_for_promtool: a fresh client, and
# one with every family set) and gives each to `promtool check metrics`,
# which must find nothing to say; then has a real Prometheus server scrape
# the real client on loopback after a session (the ignored test
# tests/prometheus.rs), checking through Prometheus's HTTP API that the
# target is up and a counter holds the session's value.
#
# Installs Debian's prometheus package (apt-get, as root) if promtool is
# missing. Other scripts can reuse that step (the package also brings the
# prometheus server, for a real scrape): `. scripts/check-metrics.sh
# --functions-only` only defines need_prometheus (and fail), changing no
# shell option of the caller's.
# Exit status 0 when all of it passes, 1 otherwise.

fail() {
    echo "FAIL: $*" >&2
    exit 1
}

# Makes promtool and prometheus available: Debian's prometheus package
# carries both.
need_prometheus() {
    command -v promtool >/dev/null && command -v prometheus >/dev/null && return 0
    echo "== installing Debian's prometheus package (for promtool)"
    [ "$(id -u)" -eq 0 ] || fail "promtool is missing; run as root to install it"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
        prometheus >/dev/null
    command -v promtool >/dev/null || fail "the prometheus package brought no promtool"
    command -v prometheus >/dev/null || fail "the prometheus package brought no prometheus"
}

if [ "${1:-}" = "--functions-only" ]; then
    return 0 2>/dev/null || exit 0
fi

set -euo pipefail
cd "$(dirname "$0")/.."
need_prometheus
echo "== $(promtool --version 2>&1 | head -1)"

samples="$(mktemp -d)"
trap 'rm -rf "$samples"' EXIT
METRICS_SAMPLES="$samples" cargo test --quiet --bin ollama-proxy-client \
    metrics::prometheus::tests::write_samples_for_promtool -- --ignored --exact >/dev/null

# promtool prints one line per problem (and exits non-zero for most): any
# output at all is a failure.
for sample in "$samples/fresh.prom" "$samples/busy.prom"; do
    [ -s "$sample" ] || fail "no sample $(basename "$sample") was written"
    families="$(grep -c '^# TYPE' "$sample")"
    values="$(grep -vc '^#' "$sample")"
    if ! problems="$(promtool check metrics <"$sample" 2>&1)" || [ -n "$problems" ]; then
        cat "$sample" >&2
        echo "$problems" >&2
        fail "promtool check metrics found problems in $(basename "$sample") (above)"
    fi
    echo "ok: $(basename "$sample"), $families families, $values samples: promtool found nothing"
done

echo "== a real Prometheus scrapes the client (tests/prometheus.rs)"
cargo test --quiet --test prometheus -- --ignored \
    || fail "the Prometheus scrape test failed (above)"
