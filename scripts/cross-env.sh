# Sourced by build-release.sh and test-arm.sh (and by wine-run.sh for zig): makes a
# cross-build toolchain available without touching the machine's default
# (rustup) toolchain, for the static Linux (musl) targets, Windows
# (x86_64-pc-windows-gnu) and macOS (aarch64/x86_64-apple-darwin).
#
# rustup cannot add targets on these machines, so this uses Debian's Rust
# (rustc-web + cargo-web, with the standard library's source in
# rust-web-src) to build std itself (-Zbuild-std), and zig (PyPI `ziglang`)
# through cargo-zigbuild (crates.io) as the C compiler and linker. All of it
# is installed on first use: the Debian packages with apt, zig and
# cargo-zigbuild under $OPC_TOOLS (default ~/.cache/ollama-proxy-client-tools).
# Debian's cargo is put first in PATH for the calling script only.
#
# zig and cargo-zigbuild are pinned: windows-gnu linking broke with their
# upgrades before (cargo-zigbuild #274, #400, #439), and the Linux builds'
# bytes depend on the linker. A different installed version is replaced.
#
# After sourcing, call `cross_target_env TARGET` before building TARGET: it
# sets RUSTFLAGS (and MACOSX_DEPLOYMENT_TARGET) for that target alone, since
# what one target needs another refuses (see cross_rustflags).

tools="${OPC_TOOLS:-$HOME/.cache/ollama-proxy-client-tools}"
zig_version=0.17.1            # PyPI ziglang's version string (pip index versions ziglang)
cargo_zigbuild_version=0.24.1

apt_install() {
    if [ -z "${OPC_APT_UPDATED:-}" ]; then
        apt-get update -qq
        OPC_APT_UPDATED=1
    fi
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@" >/dev/null
}

have_debian_rust() {
    [ -x /usr/bin/cargo ] && [ -x /usr/bin/rustc ] && [ -d /usr/lib/rustlib/src/rust/library ]
}
if ! have_debian_rust; then
    echo "== installing Debian's Rust (rustc-web, cargo-web, rust-web-src)"
    apt_install rustc-web cargo-web rust-web-src
fi
have_debian_rust || { echo "Debian's Rust is not usable" >&2; exit 1; }

installed_zig() {
    "$tools/venv/bin/python3" -c 'import importlib.metadata as m; print(m.version("ziglang"))' 2>/dev/null || true
}
if [ "$(installed_zig)" != "$zig_version" ]; then
    echo "== installing zig (PyPI ziglang==$zig_version) into $tools/venv (found: '$(installed_zig)')"
    [ -x "$tools/venv/bin/python3" ] || python3 -m venv "$tools/venv"
    "$tools/venv/bin/pip" install --quiet "ziglang==$zig_version"
    [ "$(installed_zig)" = "$zig_version" ] || { echo "zig $zig_version did not install" >&2; exit 1; }
fi

export CARGO_HOME="$tools/cargo-home"
export PATH="/usr/bin:$CARGO_HOME/bin:$PATH"
export CARGO_ZIGBUILD_PYTHON_PATH="$tools/venv/bin/python3"
installed_cargo_zigbuild() {
    { "$CARGO_HOME/bin/cargo-zigbuild" --version 2>/dev/null || true; } | awk '{print $2}'
}
if [ "$(installed_cargo_zigbuild)" != "$cargo_zigbuild_version" ]; then
    echo "== installing cargo-zigbuild $cargo_zigbuild_version into $CARGO_HOME (found: '$(installed_cargo_zigbuild)')"
    cargo install --quiet --locked --force cargo-zigbuild --version "$cargo_zigbuild_version"
    [ "$(installed_cargo_zigbuild)" = "$cargo_zigbuild_version" ] \
        || { echo "cargo-zigbuild $cargo_zigbuild_version did not install" >&2; exit 1; }
fi

# std is built from source (nightly-only flag, allowed on a stable
# compiler by RUSTC_BOOTSTRAP). The release builds add size flags of their
# own (build-release.sh).
export RUSTC_BOOTSTRAP=1
unset RUSTFLAGS
cross_flags=(--locked --release -Zbuild-std=std,panic_abort)

# Empty libssp.a and libssp_nonshared.a: Debian's rustc asks the linker for
# `-lssp_nonshared -lssp` on x86_64-pc-windows-gnu (GCC's stack protector
# runtime, which mingw's libc needs; zig's does not), and zig ships
# neither. An empty archive satisfies the -l and adds no code.
windows_stub_dir="$tools/windows-gnu-stubs"
windows_stubs() {
    mkdir -p "$windows_stub_dir"
    local lib
    for lib in ssp ssp_nonshared; do
        [ -s "$windows_stub_dir/lib$lib.a" ] || printf '!<arch>\n' > "$windows_stub_dir/lib$lib.a"
    done
}

# The RUSTFLAGS a target needs:
# - Linux musl and windows-gnu: zig supplies the C runtime start files, so
#   rustc must not ask for its own (a -Zbuild-std sysroot has none):
#   `-C link-self-contained=no`; windows-gnu also links the empty ssp stubs.
# - Apple: rustc refuses `-C link-self-contained=no` there (and has no
#   self-contained files to add anyway): nothing.
cross_rustflags() {
    case "$1" in
        *-linux-musl*) echo "-C link-self-contained=no" ;;
        x86_64-pc-windows-gnu) echo "-C link-self-contained=no -L native=$windows_stub_dir" ;;
        *-apple-darwin) echo "" ;;
        *) echo "cross-env.sh: no recipe for target $1" >&2; return 1 ;;
    esac
}

# Sets the environment for building TARGET: RUSTFLAGS (plus EXTRA, e.g. the
# release's size flags), and for Apple MACOSX_DEPLOYMENT_TARGET=11.0 (zig's
# default is the newest macOS, 15.0; 11.0 is the first with Apple Silicon).
#   cross_target_env TARGET [EXTRA RUSTFLAGS]
cross_target_env() {
    local flags
    flags="$(cross_rustflags "$1")" || exit 1
    [ -n "${2:-}" ] && flags="${flags:+$flags }$2"
    export RUSTFLAGS="$flags"
    case "$1" in
        *-apple-darwin) export MACOSX_DEPLOYMENT_TARGET=11.0 ;;
        *) unset MACOSX_DEPLOYMENT_TARGET ;;
    esac
    case "$1" in
        *-windows-gnu) windows_stubs ;;
    esac
}
echo "== $(cargo --version | cut -d' ' -f1-2), $(rustc --version | cut -d' ' -f1-2), zig $("$tools/venv/bin/python3" -m ziglang version), cargo-zigbuild $(installed_cargo_zigbuild)"
