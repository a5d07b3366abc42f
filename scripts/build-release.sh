#!/usr/bin/env bash
# Builds the release files into dist/ and prints each file's size:
#   Linux, static (musl): the bare binaries, as they are installed
#     dist/ollama-proxy-client-<version>-x86_64-unknown-linux-musl
#     dist/ollama-proxy-client-<version>-aarch64-unknown-linux-musl
#     dist/ollama-proxy-client-<version>-armv7-unknown-linux-musleabihf
#   Windows 10+ (x86_64-pc-windows-gnu):
#     dist/ollama-proxy-client-<version>-x86_64-pc-windows-gnu.zip
#       (a folder: ollama-proxy-client.exe, README.txt in English and
#       Russian, the Task Scheduler task ollama-proxy-client-task.xml,
#       LICENSE.txt; both texts CRLF, the README UTF-8 with a BOM
#       so that Notepad shows the Russian)
#     dist/ollama-proxy-client-<version>-x86_64-pc-windows-gnu.exe
#       (the same .exe bare: what the wine tests run, OPC_TEST_CLIENT)
#   macOS 11+ (aarch64-apple-darwin, x86_64-apple-darwin):
#     dist/ollama-proxy-client-<version>-<target>.tar.gz
#       (a folder: ollama-proxy-client, README.txt in English and Russian
#       with how to clear Gatekeeper's quarantine, the launchd agent
#       local.ollama-proxy-client.plist, LICENSE.txt)
#   dist/SHA256SUMS over all of these
# for every target above, or the targets given as arguments:
#   scripts/build-release.sh [TARGET...]
# Archives are reproducible (scripts/dist-archive.py: sorted, every file
# dated SOURCE_DATE_EPOCH, default the last commit's time, no owners).
# Installs what it needs itself (scripts/cross-env.sh) and never changes the
# machine's default Rust toolchain. scripts/check-dist.sh checks the result.
set -euo pipefail
cd "$(dirname "$0")/.."

linux_targets=(x86_64-unknown-linux-musl aarch64-unknown-linux-musl armv7-unknown-linux-musleabihf)
targets=("$@")
if [ ${#targets[@]} -eq 0 ]; then
    targets=("${linux_targets[@]}" x86_64-pc-windows-gnu aarch64-apple-darwin x86_64-apple-darwin)
fi
for target in "${targets[@]}"; do
    case "$target" in
        *-unknown-linux-musl*|x86_64-pc-windows-gnu|aarch64-apple-darwin|x86_64-apple-darwin) ;;
        *) echo "build-release.sh: unknown target $target" >&2; exit 2 ;;
    esac
done
name=ollama-proxy-client
version="$(sed -n 's/^version = "\(.*\)"/\1/p' Cargo.toml | head -1)"
export SOURCE_DATE_EPOCH="${SOURCE_DATE_EPOCH:-$(git log -1 --format=%ct 2>/dev/null || echo 315532800)}"
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
# The target's own flags come first (cross_target_env): for the Linux
# targets the whole string is what it always was, so their bytes do not
# change.
# .ci/run tests the binaries built here, not only the test profile's.
size_rustflags="-Zlocation-detail=none -Zfmt-debug=shallow"
# Linux only: -Cforce-unwind-tables=no drops the unwind tables (.eh_frame,
# a quarter of a megabyte), which a program that aborts on panic and prints
# no backtraces never reads. What it costs: a debugger or `perf
# --call-graph=dwarf` cannot walk this binary's stack. The Windows target
# requires its tables; the Apple ones keep theirs (untested there).
linux_size_rustflags="$size_rustflags -Cforce-unwind-tables=no"
size_flags=(-Zbuild-std-features=optimize_for_size)

# Windows text files: CRLF; the README also with a UTF-8 byte order mark.
crlf() { sed 's/\r*$/\r/' "$1"; }
readme() {
    sed -e "s|@VERSION@|$version|g" -e "s|@MACHINE@|$2|g" -e "s|@MACHINE_RU@|$3|g" "scripts/dist/$1"
}

mkdir -p dist
stage_root="target/dist-stage"
for target in "${targets[@]}"; do
    echo "== building $target"
    case "$target" in
        *-linux-*) cross_target_env "$target" "$linux_size_rustflags" ;;
        *) cross_target_env "$target" "$size_rustflags" ;;
    esac
    start=$SECONDS
    cargo zigbuild --quiet "${cross_flags[@]}" "${size_flags[@]}" --target "$target" --bin "$name"
    echo "   built in $((SECONDS - start)) s"
    out="target/$target/release/$name"
    base="$name-$version-$target"
    stage="$stage_root/$base"
    case "$target" in
        *-linux-*)
            cp "$out" "dist/$base"
            ;;
        *-windows-*)
            rm -rf "$stage" && mkdir -p "$stage"
            cp "$out.exe" "$stage/$name.exe"
            { printf '\xef\xbb\xbf'; readme README-windows.txt "" "" | crlf /dev/stdin; } > "$stage/README.txt"
            crlf LICENSE > "$stage/LICENSE.txt"
            # UTF-16 with its BOM, as schtasks /xml needs: copied as it is.
            cp scripts/windows/ollama-proxy-client-task.xml "$stage/"
            chmod 0644 "$stage/README.txt" "$stage/LICENSE.txt" "$stage/ollama-proxy-client-task.xml"
            chmod 0755 "$stage/$name.exe"
            python3 scripts/dist-archive.py zip "dist/$base.zip" "$stage"
            cp "$out.exe" "dist/$base.exe"
            ;;
        *-apple-*)
            case "$target" in
                aarch64-*) machine="Apple silicon (M1 and later, arm64)" machine_ru="Apple silicon (M1 и новее, arm64)" ;;
                *) machine="Intel (x86_64)" machine_ru="Intel (x86_64)" ;;
            esac
            rm -rf "$stage" && mkdir -p "$stage"
            cp "$out" "$stage/$name"
            readme README-macos.txt "$machine" "$machine_ru" > "$stage/README.txt"
            cp scripts/macos/local.ollama-proxy-client.plist "$stage/"
            cp LICENSE "$stage/LICENSE.txt"
            chmod 0644 "$stage/README.txt" "$stage/LICENSE.txt" "$stage/local.ollama-proxy-client.plist"
            chmod 0755 "$stage/$name"
            python3 scripts/dist-archive.py tar.gz "dist/$base.tar.gz" "$stage"
            ;;
    esac
done

cd dist
rm -f SHA256SUMS
files=()
for file in "$name-$version"-*; do
    case "$file" in *.tmp) continue ;; esac
    files+=("$file")
done
sha256sum "${files[@]}" > SHA256SUMS
echo "== dist/ (check with: cd dist && sha256sum -c SHA256SUMS; scripts/check-dist.sh)"
for file in "${files[@]}" SHA256SUMS; do
    printf '%10d B  %s\n' "$(stat -c %s "$file")" "$file"
done
