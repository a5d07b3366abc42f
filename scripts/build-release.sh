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
# -Zlocation-detail=none leaves file, line and column out of panic messages
# (72 KB); -Zfmt-debug=none makes every `{:?}` print nothing (97 KB): the
# running client shows nothing with Debug (its log and terminal texts use
# Display), so only a panic's message loses detail, and there should be
# none. The tests (test-arm.sh) are built without them.
export RUSTFLAGS="$RUSTFLAGS -Zlocation-detail=none -Zfmt-debug=none"

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
