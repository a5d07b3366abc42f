# Sourced by build-release.sh and test-arm.sh: makes a static (musl)
# cross-build toolchain available without touching the machine's default
# (rustup) toolchain.
#
# rustup cannot add targets on these machines, so this uses Debian's Rust
# (rustc-web + cargo-web, with the standard library's source in
# rust-web-src) to build std itself (-Zbuild-std), and zig (PyPI `ziglang`)
# through cargo-zigbuild (crates.io) as the C compiler and linker. All of it
# is installed on first use: the Debian packages with apt, zig and
# cargo-zigbuild under $OPC_TOOLS (default ~/.cache/ollama-proxy-client-tools).
# Debian's cargo is put first in PATH for the calling script only.

tools="${OPC_TOOLS:-$HOME/.cache/ollama-proxy-client-tools}"

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

if [ ! -x "$tools/venv/bin/python3" ] || ! "$tools/venv/bin/python3" -c 'import ziglang' 2>/dev/null; then
    echo "== installing zig (PyPI ziglang) into $tools/venv"
    python3 -m venv "$tools/venv"
    "$tools/venv/bin/pip" install --quiet ziglang
fi

export CARGO_HOME="$tools/cargo-home"
export PATH="/usr/bin:$CARGO_HOME/bin:$PATH"
export CARGO_ZIGBUILD_PYTHON_PATH="$tools/venv/bin/python3"
if ! command -v cargo-zigbuild >/dev/null; then
    echo "== installing cargo-zigbuild into $CARGO_HOME"
    cargo install --quiet --locked cargo-zigbuild
fi
# std is built from source (nightly-only flag, allowed on a stable
# compiler by RUSTC_BOOTSTRAP); zig supplies the C runtime start files, so
# rustc must not ask for its own (a -Zbuild-std sysroot has none).
# The release builds add size flags of their own (build-release.sh).
export RUSTC_BOOTSTRAP=1
export RUSTFLAGS="-C link-self-contained=no"
cross_flags=(--locked --release -Zbuild-std=std,panic_abort)
echo "== $(cargo --version | cut -d' ' -f1-2), $(rustc --version | cut -d' ' -f1-2), zig $("$tools/venv/bin/python3" -m ziglang version)"
