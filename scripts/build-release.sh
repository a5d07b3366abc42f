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

mkdir -p dist
for target in "${targets[@]}"; do
    echo "== building $target"
    cargo zigbuild --quiet "${cross_flags[@]}" --target "$target" --bin ollama-proxy-client
    cp "target/$target/release/ollama-proxy-client" "dist/ollama-proxy-client-$version-$target"
done

cd dist
rm -f SHA256SUMS
sha256sum ollama-proxy-client-"$version"-* > SHA256SUMS
echo "== dist/ (check with: cd dist && sha256sum -c SHA256SUMS)"
for file in ollama-proxy-client-"$version"-*; do
    printf '%10d B  %s\n' "$(stat -c %s "$file")" "$file"
done
