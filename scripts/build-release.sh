#!/usr/bin/env bash
# Builds fully static (musl) release binaries into dist/:
#   dist/ollama-proxy-client-<version>-<target>   and   dist/SHA256SUMS
# for x86_64-unknown-linux-musl, aarch64-unknown-linux-musl and
# armv7-unknown-linux-musleabihf (or the targets given as arguments), and
# prints each file's size. Installs what it needs itself (scripts/cross-env.sh)
# and never changes the machine's default Rust toolchain.
set -euo pipefail
cd "$(dirname "$0")/.."

targets=("$@")
if [ ${#targets[@]} -eq 0 ]; then
    targets=(x86_64-unknown-linux-musl aarch64-unknown-linux-musl armv7-unknown-linux-musleabihf)
fi
version="$(sed -n 's/^version = "\(.*\)"/\1/p' Cargo.toml | head -1)"
. scripts/cross-env.sh
# Size (min-sized-rust), to keep the static x86_64 build within 2 MiB:
# -Zlocation-detail=none leaves file, line and column out of panic messages;
# -Zfmt-debug=shallow makes derived `{:?}` print only the type's name (the
# client shows nothing with Debug: its log and terminal texts use Display).
# Not `=none`: that silences hand-written Debug too, and ureq writes the
# HTTP version of its request line with `{:?}`: the binaries built with it
# sent Ollama `GET /api/version ` with no `HTTP/1.1`, which it refuses. The standard library (built here, -Zbuild-std) is
# compiled for size (`optimize_for_size`) and without its default features
# (the unwinder and backtrace printing: panics abort anyway).
# .ci/run tests the binaries built here, not only the test profile's.
export RUSTFLAGS="$RUSTFLAGS -Zlocation-detail=none -Zfmt-debug=shallow"

size_flags=(-Zbuild-std-features=optimize_for_size)
mkdir -p dist
for target in "${targets[@]}"; do
    echo "== building $target"
    cargo zigbuild --quiet "${cross_flags[@]}" "${size_flags[@]}" --target "$target" --bin ollama-proxy-client
    cp "target/$target/release/ollama-proxy-client" "dist/ollama-proxy-client-$version-$target"
done

cd dist
rm -f SHA256SUMS
sha256sum ollama-proxy-client-"$version"-* > SHA256SUMS
echo "== dist/ (check with: cd dist && sha256sum -c SHA256SUMS)"
for file in ollama-proxy-client-"$version"-*; do
    printf '%10d B  %s\n' "$(stat -c %s "$file")" "$file"
done
