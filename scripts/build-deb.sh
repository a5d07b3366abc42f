#!/usr/bin/env bash
# Builds the Debian packages from the static binaries of
# scripts/build-release.sh:
#   dist/ollama-proxy-client_<version>_amd64.deb   (x86_64-unknown-linux-musl)
#   dist/ollama-proxy-client_<version>_arm64.deb   (aarch64-unknown-linux-musl)
#   dist/ollama-proxy-client_<version>_armhf.deb   (armv7-unknown-linux-musleabihf)
# and adds them to dist/SHA256SUMS (the binaries' lines stay).
#
# Usage: scripts/build-deb.sh [ARCH...]     (default: amd64 arm64 armhf)
# Environment:
#   DEB_VERSION     the package version (default: Cargo.toml's), e.g. 0.1.0+1
#                   for a test upgrade; the binary itself is not rebuilt
#   DEB_OUTDIR      where the packages and SHA256SUMS go (default: dist)
#   DEB_MAINTAINER  the Maintainer field
#   SOURCE_DATE_EPOCH  the time stamped on every file, the changelog and the
#                   man page (default: the last commit's): the same inputs
#                   give byte-identical packages
#
# Why dpkg-deb on a tree laid out here, not cargo-deb: the binaries are
# cross-built by build-release.sh (zig, -Zbuild-std) and only need packing;
# dpkg-deb is on every Debian machine, while cargo-deb is one more tool to
# compile and trust in CI. Everything that matters is written out below and
# in scripts/deb/: the maintainer scripts (user, no start on install,
# try-restart on upgrade, purge), each file's mode (the env file 0600), the
# conffile list. scripts/test-deb.sh checks the result, lintian included.
#
# The package holds: /usr/bin/ollama-proxy-client; the hardened unit
# /lib/systemd/system/ollama-proxy-client.service (scripts/ollama-proxy-client.service
# with the binary in /usr/bin); the conffile /etc/ollama-proxy-client.env,
# mode 0600 (scripts/ollama-proxy-client.env.example); the man pages in
# English and Russian (docs/man/, which scripts/gen-docs.sh renders from the
# --help page and the settings table, and a test keeps current), dated
# SOURCE_DATE_EPOCH; the README in both languages (README.md, README.ru.md) and the owner's
# pages (docs/*.md, docs/ru/*.md), copyright (DEP-5) and changelog under
# /usr/share/doc. The system
# user ollama-proxy is created by the postinst (scripts/deb/).
#
# Needs dpkg-deb and gzip; installs qemu-user-static (to ask a foreign
# binary its --version) with apt when missing. `cargo tree` lists the statically
# linked crates for the copyright file (from Cargo.lock; the crates are
# normally cached by the builds, else cargo fetches them).
set -euo pipefail
cd "$(dirname "$0")/.."
umask 022

fail() {
    echo "build-deb: $*" >&2
    exit 1
}

arches=("$@")
[ ${#arches[@]} -gt 0 ] || arches=(amd64 arm64 armhf)
name=ollama-proxy-client
cargo_version="$(sed -n 's/^version = "\(.*\)"/\1/p' Cargo.toml | head -1)"
version="${DEB_VERSION:-$cargo_version}"
dpkg --validate-version "$version" || fail "DEB_VERSION '$version' is not a Debian version"
outdir="${DEB_OUTDIR:-dist}"
maintainer="${DEB_MAINTAINER:-ollama-proxy-client developers <maintainers@users.noreply.b-seed-811108aa.example>}"
export SOURCE_DATE_EPOCH="${SOURCE_DATE_EPOCH:-$(git log -1 --format=%ct 2>/dev/null || date +%s)}"
commit="$(git rev-parse --short HEAD 2>/dev/null || echo unknown)"

apt_install() {
    [ "$(id -u)" -eq 0 ] || fail "$* missing; run as root to install it with apt"
    echo "== installing $*"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "$@" >/dev/null
}

# arch -> Rust target, ELF e_machine (bytes 18-19, little endian), qemu runner.
target_of() {
    case "$1" in
        amd64) echo x86_64-unknown-linux-musl ;;
        arm64) echo aarch64-unknown-linux-musl ;;
        armhf) echo armv7-unknown-linux-musleabihf ;;
        *) fail "unknown architecture '$1' (amd64, arm64 or armhf)" ;;
    esac
}
machine_of() {
    case "$1" in amd64) echo 3e00 ;; arm64) echo b700 ;; armhf) echo 2800 ;; esac
}
qemu_of() {
    case "$1" in amd64) echo qemu-x86_64-static ;; arm64) echo qemu-aarch64-static ;; armhf) echo qemu-arm-static ;; esac
}
host_arch="$(dpkg --print-architecture)"

work="$(mktemp -d "${TMPDIR:-/tmp}/build-deb.XXXXXX")"
trap 'rm -rf "$work"' EXIT
mkdir -p "$outdir"

# A command that runs the binary of $1 here: itself, or under qemu-user.
# Its environment is fixed so that --help is English and shows the config
# paths as ~/.config/..., the same on every machine.
runner() { # arch binary wrapper-path
    local run=""
    if [ "$1" != "$host_arch" ]; then
        run="$(qemu_of "$1")"
        command -v "$run" >/dev/null || apt_install qemu-user-static
        run="$(command -v "$run") "
    fi
    printf '#!/bin/sh\nexec env -i LC_ALL=C HOME="~" %s"%s" "$@"\n' "$run" "$(realpath "$2")" >"$3"
    chmod 0755 "$3"
}

# The MIT text of LICENSE as a DEP-5 License paragraph's body.
licence_body() {
    sed -n '/^Permission is hereby granted/,$p' LICENSE | sed -e 's/^$/./' -e 's/^/ /'
}

# The crates linked into the target's binary, "name version: licence".
crates() {
    cargo tree --locked -e normal,no-proc-macro --prefix none \
        --format '{p}|{l}' --target "$1" |
        sed -e 's/ (\*)$//' -e 's/ (\/.*)//' | sort -u |
        awk -F'|' '$1 !~ /^ollama-proxy-client / { sub(/ v/, " ", $1); print "  " $1 ": " $2 }'
}

copyright() { # target
    local holder
    holder="$(sed -n 's/^Copyright (c) //p' LICENSE | head -1)"
    [ -n "$holder" ] || fail "LICENSE has no 'Copyright (c)' line"
    cat <<EOF
Format: https://www.debian.org/doc/packaging-manuals/copyright-format/1.0/
Upstream-Name: $name
Comment: /usr/bin/$name is statically linked. Besides this
 program's own code it holds the Rust standard library (MIT OR Apache-2.0),
 musl libc (MIT) and these crates from crates.io, each under the licence
 its authors chose (an SPDX expression; Apache-2.0 and MPL-2.0 are in
 /usr/share/common-licenses, every crate's licence text is in the crate):
 .
EOF
    crates "$1"
    cat <<EOF

Files: *
Copyright: $holder
License: MIT

License: MIT
EOF
    licence_body
}

changelog() {
    cat <<EOF
$name ($version) unstable; urgency=medium

  * Packaged from commit $commit: the static musl binary built by
    scripts/build-release.sh, packed by scripts/build-deb.sh.

 -- $maintainer  $(date -u -R -d "@$SOURCE_DATE_EPOCH")
EOF
}

# The unit as installed: the binary is in /usr/bin; the rest is the checked
# unit of scripts/ (hardening, exit 78 not restarted), word for word.
# A man page of docs/man/ for the package: dated, compressed. It must be for
# this version (scripts/gen-docs.sh writes it after a version change).
man_page() { # path
    grep -q "^\.TH .* \"$name $cargo_version\" " "$1" ||
        fail "$1 is not for version $cargo_version: run scripts/gen-docs.sh"
    local date
    date="$(date -u -d "@$SOURCE_DATE_EPOCH" +%Y-%m-%d)"
    sed "s/^\(\.TH [^ ]* 1\) \"\"/\1 \"$date\"/" "$1" | gzip -9n
}

unit() {
    cat <<'EOF'
# systemd unit for ollama-proxy-client, installed by its Debian package:
# keeps one outbound WebSocket to the marketplace hub and relays buyers'
# prompts to the local Ollama, as the system user ollama-proxy.
#
# Not enabled on install. Put the token in /etc/ollama-proxy-client.env
# (sudoedit it), then: systemctl enable --now ollama-proxy-client
# To change a setting here, use `systemctl edit ollama-proxy-client` (a
# drop-in that upgrades keep) rather than editing this file.
# The package creates /var/lib/ollama-proxy/.config/ollama_proxy (config
# file, log, ledger). Logs: journalctl -u ollama-proxy-client and
# /var/lib/ollama-proxy/.config/ollama_proxy/logs/client.log.

EOF
    sed -n '/^\[Unit\]$/,$p' scripts/ollama-proxy-client.service |
        sed -e "s|^ExecStart=/usr/local/bin/$name\$|ExecStart=/usr/bin/$name|" \
            -e "/^\[Unit\]\$/a Documentation=man:$name(1)"
}

build() { # arch
    local arch=$1 target binary pkg doc deb machine installed_size
    target="$(target_of "$arch")"
    binary="dist/$name-$cargo_version-$target"
    [ -f "$binary" ] || fail "$binary not found: build it first (scripts/build-release.sh $target)"
    machine="$(od -An -tx1 -j18 -N2 "$binary" | tr -d ' \n')"
    [ "$machine" = "$(machine_of "$arch")" ] || fail "$binary is not a $arch binary (ELF machine $machine)"
    pkg="$work/$arch"
    doc="$pkg/usr/share/doc/$name"

    runner "$arch" "$binary" "$work/$name"
    local said
    said="$("$work/$name" --version)" || fail "$binary --version failed"
    [ "$said" = "$name $cargo_version" ] || fail "$binary --version says '$said', expected '$name $cargo_version'"

    install -D -m 0755 "$binary" "$pkg/usr/bin/$name"
    install -d "$pkg/lib/systemd/system"
    unit >"$pkg/lib/systemd/system/$name.service"
    grep -qx "ExecStart=/usr/bin/$name" "$pkg/lib/systemd/system/$name.service" ||
        fail "scripts/$name.service: ExecStart is not /usr/local/bin/$name, so not adapted"
    install -D -m 0600 scripts/$name.env.example "$pkg/etc/$name.env"
    install -d "$doc" "$pkg/usr/share/man/man1" "$pkg/usr/share/man/ru/man1"
    install -D -m 0644 scripts/deb/lintian-overrides "$pkg/usr/share/lintian/overrides/$name"
    install -d "$doc/docs/ru"
    for page in README.md README.ru.md docs/*.md docs/ru/*.md; do
        gzip -9n <"$page" >"$doc/$page.gz"
    done
    copyright "$target" >"$doc/copyright"
    changelog | gzip -9n >"$doc/changelog.gz"
    man_page "docs/man/$name.1" >"$pkg/usr/share/man/man1/$name.1.gz"
    man_page "docs/man/ru/$name.1" >"$pkg/usr/share/man/ru/man1/$name.1.gz"
    find "$doc" -type f -exec chmod 0644 {} +
    chmod 0644 "$pkg/usr/share/man/man1/$name.1.gz" "$pkg/usr/share/man/ru/man1/$name.1.gz"

    mkdir -p "$pkg/DEBIAN"
    install -m 0755 scripts/deb/postinst scripts/deb/prerm scripts/deb/postrm "$pkg/DEBIAN/"
    echo "/etc/$name.env" >"$pkg/DEBIAN/conffiles"
    (cd "$pkg" && find . -path ./DEBIAN -prune -o -path ./etc -prune -o -type f -printf '%P\0' |
        sort -z | xargs -0 md5sum) >"$pkg/DEBIAN/md5sums"
    # As dpkg-gencontrol counts it: KiB per file, rounded up, 1 per directory.
    installed_size="$(cd "$pkg" && find . -mindepth 1 -path ./DEBIAN -prune -o -printf '%y %s\n' |
        awk '{ n += ($1 == "f") ? int(($2 + 1023) / 1024) : 1 } END { print n }')"
    cat >"$pkg/DEBIAN/control" <<EOF
Package: $name
Version: $version
Architecture: $arch
Maintainer: $maintainer
Installed-Size: $installed_size
Depends: adduser
Section: net
Priority: optional
Description: sell the local Ollama on the marketplace hub
 ollama-proxy-client runs next to Ollama, keeps one outbound WebSocket to
 the marketplace hub, takes buyers' prompts from it, runs them on Ollama and
 streams the answers back. It needs no open port and no runtime: one small
 static binary that carries its own CA roots.
 .
 The package adds a hardened systemd unit running as the system user
 ollama-proxy. It is not enabled on install: write the hub token into
 /etc/ollama-proxy-client.env, then run
 systemctl enable --now ollama-proxy-client.
EOF
    chmod 0644 "$pkg/DEBIAN/control" "$pkg/DEBIAN/conffiles" "$pkg/DEBIAN/md5sums"
    find "$pkg" -exec touch -h -d "@$SOURCE_DATE_EPOCH" {} +

    deb="$outdir/${name}_${version}_$arch.deb"
    dpkg-deb --root-owner-group -Zxz --build "$pkg" "$deb" >/dev/null
    built+=("$(basename "$deb")")
}

built=()
for arch in "${arches[@]}"; do
    echo "== $arch"
    build "$arch"
done

# SHA256SUMS: the lines of the packages just built are replaced, the others
# (the binaries', other packages') kept.
cd "$outdir"
{
    if [ -f SHA256SUMS ]; then
        printf '%s\n' "${built[@]}" | awk 'NR == FNR { skip[$0] = 1; next }
            { file = $2; sub(/^\*/, "", file) } !(file in skip)' - SHA256SUMS
    fi
    sha256sum "${built[@]}"
} >SHA256SUMS.new
mv SHA256SUMS.new SHA256SUMS
echo "== $outdir/ (check with: cd $outdir && sha256sum -c SHA256SUMS)"
for deb in "${built[@]}"; do
    printf '%10d B  %s\n' "$(stat -c %s "$deb")" "$deb"
done
