#!/usr/bin/env bash
# Runs a Windows program (x86_64-pc-windows-gnu .exe) under wine on this
# Linux machine, as transparently as wine allows, for the tests:
#   scripts/wine-run.sh PROGRAM.exe [ARGS...]
#   OPC_TEST_RUNNER=$PWD/scripts/wine-run.sh OPC_TEST_CLIENT=$PWD/dist/...exe cargo test ...
#   scripts/wine-run.sh --setup      (prepare everything once, e.g. as its own CI step)
#
# Why a script and not plain `wine64`:
# - A private WINEPREFIX ($OPC_WINE_PREFIX, default
#   ~/.cache/ollama-proxy-client-tools/wine-prefix), made once (wineboot -i,
#   under a lock, no GUI: DISPLAY unset, no Mono/Gecko prompts): the
#   owner's ~/.wine is never touched.
# - Debian 12's wine 8.0 lacks ProcessPrng (bcryptprimitives.dll, added in
#   wine 8.13), which Rust's std imports: every Rust .exe would exit 53
#   with "bcryptprimitives.dll not found". The shim of
#   scripts/wine/processprng.c is built with zig and installed as the
#   prefix's C:\windows\system32\bcryptprimitives.dll (wine 8.0 has no
#   builtin one to override): it is on the test machine only, never beside
#   a shipped .exe, and dist/ stays untouched.
# - The Windows profile follows the caller's HOME: wine ignores the
#   USERPROFILE, APPDATA, LOCALAPPDATA, TEMP and USERNAME the caller sets and
#   passes HOME on only as WINEHOMEDIR. The profile is C:\users\$USER, and
#   the variables are fixed once per wineserver session, from the USER of
#   the session's first program (the known-folder API follows each
#   program's USER). So when HOME is a directory other than the user's real
#   home, C:\users\opc-<hash of HOME> is made a link to it, USER names it,
#   and the program runs in a prefix of that HOME's own: a clone of the
#   shared one (its registry files, ~1.7 MB, the shared drive_c linked),
#   made in ~15 ms, with a session of its own (the first run in it costs
#   ~0.6 s, a cold start). Then %USERPROFILE%\.config\ollama_proxy\ is
#   $HOME/.config/ollama_proxy/, as the tests expect (wine may add
#   AppData/Local and AppData/Roaming there). Clones whose HOME is gone are
#   removed after 10 minutes.
# - Signals: wine turns a SIGINT sent to its process into CTRL_C_EVENT for
#   the program, but SIGTERM and SIGHUP kill it outright (status 143, 129)
#   without the program seeing anything. So wine runs as a child, and a
#   SIGTERM, SIGHUP or SIGINT sent to this script reaches the program as
#   one SIGINT, i.e. CTRL_C_EVENT, its nearest polite stop. Not when standard
#   input is a terminal: there a typed Ctrl+C reaches wine through the
#   terminal already, and forwarding would make it two. If this script is
#   killed (SIGKILL), wine gets SIGKILL too (parent-death signal).
# - stdin, stdout and stderr are the caller's (wine's own messages are off:
#   WINEDEBUG=-all unless set), and end when the program ends: a new
#   session's first program is a `cmd /c exit` with nothing open, since wine's
#   background programs keep that first program's stderr open until the
#   session ends. The exit status is the program's (its low 8 bits, as wine
#   gives it; 128+N if wine died of signal N; 125 for this script's own
#   failures).
# - The wineserver is kept for $OPC_WINE_PERSIST seconds (default 60; a
#   HOME's own prefix: $OPC_WINE_HOME_PERSIST, default 10) after the last
#   program ends: a run then costs ~0.05-0.1 s instead of ~0.5-0.7 s.
# Installs what it lacks (wine64 with apt, zig through scripts/cross-env.sh),
# with its messages on stderr: stdout belongs to the program.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
tools="${OPC_TOOLS:-$HOME/.cache/ollama-proxy-client-tools}"
prefix="${OPC_WINE_PREFIX:-$tools/wine-prefix}"
persist="${OPC_WINE_PERSIST:-60}"
home_persist="${OPC_WINE_HOME_PERSIST:-10}"
shim_src="$here/wine/processprng.c"
shim_dll="$prefix/drive_c/windows/system32/bcryptprimitives.dll"

say() { echo "wine-run: $*" >&2; }
die() { say "$*"; exit 125; }

# The real user's home, where the wine prefix and the tools live: HOME is
# the caller's (a test's temporary one), so it is read from passwd once and
# kept for the nested calls.
if [ -z "${OPC_WINE_REAL_HOME:-}" ]; then
    OPC_WINE_REAL_HOME="$(getent passwd "$(id -u)" | cut -d: -f6)"
    export OPC_WINE_REAL_HOME
fi
if [ -z "${OPC_TOOLS:-}" ]; then
    tools="$OPC_WINE_REAL_HOME/.cache/ollama-proxy-client-tools"
    prefix="${OPC_WINE_PREFIX:-$tools/wine-prefix}"
    shim_dll="$prefix/drive_c/windows/system32/bcryptprimitives.dll"
fi

find_wine() {
    local w
    for w in /usr/lib/wine/wine64 "$(command -v wine64 || true)"; do
        [ -n "$w" ] && [ -x "$w" ] && { echo "$w"; return 0; }
    done
    return 1
}
find_wineserver() {
    local w
    for w in /usr/lib/wine/wineserver64 /usr/lib/wine/wineserver "$(command -v wineserver || true)"; do
        [ -n "$w" ] && [ -x "$w" ] && { echo "$w"; return 0; }
    done
    return 1
}

# Everything a run needs, made once under a lock (parallel tests start many
# runs at once): wine, the prefix, the ProcessPrng shim.
setup() {
    local start=$SECONDS
    if ! find_wine >/dev/null; then
        say "installing wine64 (Debian's wine, 8.0 on Debian 12) with apt"
        export DEBIAN_FRONTEND=noninteractive
        apt-get update -qq >&2
        apt-get install -y -qq wine64 >&2 </dev/null
        find_wine >/dev/null || die "wine64 did not install"
    fi
    if [ ! -f "$prefix/.opc-ready" ]; then
        say "making the wine prefix $prefix (wineboot -i)"
        local old
        for old in "$prefix" "$tools"/wine-homes/*; do
            [ -d "$old" ] && WINEPREFIX="$old" "$(find_wineserver)" -k >/dev/null 2>&1 || true
        done
        rm -rf "$prefix" "$tools/wine-homes"
        mkdir -p "$(dirname "$prefix")"
        env -u DISPLAY -u WAYLAND_DISPLAY WINEPREFIX="$prefix" WINEDEBUG=-all \
            WINEDLLOVERRIDES="mscoree,mshtml=" "$(find_wine)" wineboot -i </dev/null >"$prefix.log" 2>&1 \
            || { cat "$prefix.log" >&2; die "wineboot -i failed for $prefix"; }
        WINEPREFIX="$prefix" "$(find_wineserver)" -w
        touch "$prefix/.opc-ready"
    fi
    if [ ! -s "$shim_dll" ] || [ "$shim_src" -nt "$shim_dll" ]; then
        local zig_python="$tools/venv/bin/python3"
        if ! "$zig_python" -m ziglang version >/dev/null 2>&1; then
            say "installing zig (scripts/cross-env.sh)"
            (cd "$here/.." && OPC_TOOLS="$tools" HOME="$OPC_WINE_REAL_HOME" . scripts/cross-env.sh) >&2
        fi
        say "building the ProcessPrng shim into $shim_dll"
        local tmp
        tmp="$(mktemp -d)"
        "$zig_python" -m ziglang cc -target x86_64-windows-gnu -shared -O2 -s \
            -o "$tmp/bcryptprimitives.dll" "$shim_src" -ladvapi32 >&2
        mv "$tmp/bcryptprimitives.dll" "$shim_dll.new"
        mv "$shim_dll.new" "$shim_dll"
        rm -rf "$tmp"
    fi
    # Links of test homes that are gone.
    local link
    for link in "$prefix"/drive_c/users/opc-*; do
        [ -L "$link" ] && [ ! -e "$link" ] && rm -f "$link"
    done
    [ $((SECONDS - start)) -gt 0 ] && say "ready in $((SECONDS - start)) s"
    return 0
}

mkdir -p "$tools"
exec 9>"$tools/wine-prefix.lock"
if [ ! -f "$prefix/.opc-ready" ] || [ ! -s "$shim_dll" ] || [ "$shim_src" -nt "$shim_dll" ] \
    || [ "${1:-}" = "--setup" ]; then
    flock 9
    setup
fi
flock -u 9
exec 9>&-
wine="$(find_wine)" || die "no wine64: run scripts/wine-run.sh --setup"
[ "${1:-}" = "--setup" ] && exit 0
[ $# -ge 1 ] || die "usage: scripts/wine-run.sh PROGRAM.exe [ARGS...] | --setup"

export WINEPREFIX="$prefix"
export WINEDEBUG="${WINEDEBUG:--all}"
unset DISPLAY WAYLAND_DISPLAY

# The caller's HOME as the Windows profile, in a prefix of its own (see
# above).
clone_prefix() {
    local clone="$1" tmp
    tmp="$(mktemp -d "$clone.XXXXXX")"
    mkdir "$tmp/dosdevices"
    cp -p "$prefix/system.reg" "$prefix/user.reg" "$prefix/userdef.reg" "$prefix/.update-timestamp" "$tmp/"
    ln -s "$prefix/drive_c" "$tmp/drive_c"
    ln -s ../drive_c "$tmp/dosdevices/c:"
    ln -s / "$tmp/dosdevices/z:"
    touch "$tmp/.opc-ready"
    # Another run for the same HOME may have made it first: keep that one.
    mv -T "$tmp" "$clone" 2>/dev/null || rm -rf "$tmp"
}
if [ -n "${HOME:-}" ] && [ -d "$HOME" ] && [ "$HOME" != "$OPC_WINE_REAL_HOME" ]; then
    name="opc-$(printf '%s' "$HOME" | sha256sum | cut -c1-12)"
    link="$prefix/drive_c/users/$name"
    if [ "$(readlink "$link" 2>/dev/null || true)" != "$HOME" ]; then
        ln -sfn "$HOME" "$link.$$"
        mv -T "$link.$$" "$link"
    fi
    export USER="$name" LOGNAME="$name"
    clone="$tools/wine-homes/$name"
    if [ ! -f "$clone/.opc-ready" ]; then
        mkdir -p "$tools/wine-homes"
        # Clones of HOMEs that are gone, unused for 10 minutes.
        for old in $(find "$tools/wine-homes" -mindepth 1 -maxdepth 1 -name 'opc-*' -mmin +10 2>/dev/null); do
            [ -e "$prefix/drive_c/users/${old##*/}" ] && continue
            rm -rf "$old"
            rm -f "$prefix/drive_c/users/${old##*/}"
        done
        clone_prefix "$clone"
    fi
    touch "$clone"
    WINEPREFIX="$clone"
    persist="$home_persist"
else
    # The shared prefix's session is always the real user's.
    USER="$(id -un)"
    export USER LOGNAME="$USER"
fi

# A wineserver that outlives this run by $persist seconds; an already running
# one (another test's) is used as it is (a second wineserver for the same
# prefix exits at once, status 2). A new one starts a session, and the
# session's first program starts wine's own background programs
# (services.exe, winedevice.exe, plugplay.exe, svchost.exe), which keep that
# program's stderr open for the whole session: the caller would see the end
# of the program's stderr only when the session ends, 10 or 60 s later. So a
# new session's first program is `cmd /c exit` with nothing open (~0.7 s;
# it replaces the cold start the program would have paid anyway), under a
# lock, so that no other run comes first. (A wineserver started with no
# program at all would wait for a first one forever.)
exec 8>"$WINEPREFIX/.opc-session.lock"
flock 8
if "$(find_wineserver)" -p"$persist" </dev/null >/dev/null 2>&1; then
    "$wine" cmd /c exit </dev/null >/dev/null 2>&1 || die "wine cannot start cmd.exe in $WINEPREFIX"
fi
flock -u 8
exec 8>&-

# At a terminal, wine's console switches it to raw input (no CR->LF, no
# line editing, no echo: wine edits and echoes the line itself) only when
# the program first reads; what is typed before that goes through the
# terminal's own line discipline, whose Enter arrives as LF, which wine's
# console does not take as Enter: the read then never returns. So the
# terminal is put in wine's input mode before wine starts, and restored
# after. (ISIG stays on, as wine leaves it: Ctrl+C is still SIGINT.)
tty_saved=""
if [ -t 0 ]; then
    tty_saved="$(stty -g)"
    stty -icrnl -icanon -echo
fi

# wine as a child: its own default signal dispositions (a background job of
# a script would have SIGINT ignored), killed with this script, and the
# caller's stdin (a background job's would be /dev/null).
setpriv --pdeathsig KILL -- env --default-signal=INT,QUIT "$wine" "$@" <&0 &
child=$!
forward() {
    kill -INT "$child" 2>/dev/null || true
}
if [ -t 0 ]; then
    trap forward TERM HUP
    trap : INT
else
    trap forward TERM HUP INT
fi
# `wait` returns early when a trapped signal arrives: wait again until the
# child itself is gone (a zombie still answers kill -0).
while :; do
    status=0
    wait "$child" || status=$?
    kill -0 "$child" 2>/dev/null || break
done
[ -n "$tty_saved" ] && stty "$tty_saved"
exit "$status"
