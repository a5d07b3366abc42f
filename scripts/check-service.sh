#!/usr/bin/env bash
# Checks scripts/ollama-proxy-client.service with systemd's own tools, without
# a running systemd and without installing anything outside a temporary dir:
#
#   1. systemd-analyze verify: the unit parses with no warning at all (unknown
#      keys, bad values and a missing ExecStart binary are only *printed* by
#      systemd-analyze, so any output counts as a failure here);
#   2. systemd-analyze security --offline=yes: the hardening review; prints
#      the exposure score and fails above MAX_EXPOSURE (default 2.0, "OK").
#
# The unit is checked inside a temporary root (--root=): the unit goes to
# ROOT/etc/systemd/system, systemd's own units are copied to
# ROOT/usr/lib/systemd/system (the unit needs sysinit.target and friends) and
# a stub stands in for /usr/local/bin/ollama-proxy-client, which verify wants
# to be an executable file. Nothing is written to the real /usr/local/bin.
#
# Installs Debian's systemd package (apt-get, as root) if systemd-analyze is
# missing. Exit status 0 when everything passes, 1 otherwise.
#
# `scripts/check-service.sh --boot` also runs the unit for real: it builds
# the client and the demo's emulators, boots a throw-away systemd as PID 1 of
# new pid/mount/net/uts/ipc/cgroup namespaces (a private view of /run, /srv,
# /var/lib, /usr/local/bin, /etc/passwd; nothing on the host is changed but a
# temporary child cgroup, removed at the end), and checks under the unit's
# full sandbox: exit 78 without a token and no restart; start with the token
# from an env file; the hub reached over TLS; --check and a --test prompt;
# a restart after SIGKILL; a clean stop (exit 0). Needs root with full
# capabilities, cgroup v2 (unified or hybrid), unshare and nsenter.
set -euo pipefail
cd "$(dirname "$0")/.."
boot=false
case "${1:-}" in
    "") ;;
    --boot) boot=true ;;
    *) echo "usage: $0 [--boot]" >&2; exit 2 ;;
esac

unit_name=ollama-proxy-client.service
unit_src=scripts/$unit_name
max_exposure="${MAX_EXPOSURE:-2.0}"

fail() {
    echo "FAIL: $*" >&2
    exit 1
}

if ! command -v systemd-analyze >/dev/null; then
    echo "== installing Debian's systemd package (for systemd-analyze)"
    [ "$(id -u)" -eq 0 ] || fail "systemd-analyze is missing; run as root to install it"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends systemd >/dev/null
fi
echo "== $(systemd-analyze --version | head -1)"

[ -f "$unit_src" ] || fail "$unit_src not found"
units_dir=""
for dir in /usr/lib/systemd/system /lib/systemd/system; do
    if [ -f "$dir/sysinit.target" ]; then
        units_dir=$dir
        break
    fi
done
[ -n "$units_dir" ] || fail "systemd's unit directory (with sysinit.target) not found"

root="$(mktemp -d "${TMPDIR:-/tmp}/check-service.XXXXXX")"
trap 'rm -rf "$root"' EXIT
mkdir -p "$root/etc/systemd/system" "$root/usr/lib/systemd" "$root/usr/local/bin"
cp -a "$units_dir" "$root/usr/lib/systemd/system"
cp "$unit_src" "$root/etc/systemd/system/$unit_name"
exec_path="$(sed -n 's/^ExecStart=[-+!@:]*\([^ ]*\).*/\1/p' "$unit_src" | head -1)"
[ "$exec_path" = /usr/local/bin/ollama-proxy-client ] ||
    fail "ExecStart should run /usr/local/bin/ollama-proxy-client, found '$exec_path'"
printf '#!/bin/sh\nexit 0\n' >"$root$exec_path"
chmod 0755 "$root$exec_path"

# The token must never be on the command line (ps shows it to every user).
if grep -Eq '^ExecStart=.*(--force-token|OLLAMA_PROXY_TOKEN)' "$unit_src"; then
    fail "the token is on ExecStart's command line; use the env file or the config"
fi

# verify prints problems and still exits 0 for most of them: output = failure.
verify() {
    systemd-analyze verify --root="$root" --man=no "$unit_name" 2>&1
}

echo "== self-test: a broken copy must be reported"
cp "$root/etc/systemd/system/$unit_name" "$root/unit.good"
printf '[Service]\nNoSuchKey=1\nProtectSystem=bogus\n' >>"$root/etc/systemd/system/$unit_name"
broken_output="$(verify || true)"
mv "$root/unit.good" "$root/etc/systemd/system/$unit_name"
if ! grep -q NoSuchKey <<<"$broken_output" || ! grep -q bogus <<<"$broken_output"; then
    printf '%s\n' "$broken_output"
    fail "systemd-analyze verify did not report a deliberately broken unit; this check proves nothing"
fi
echo "ok: reported ($(wc -l <<<"$broken_output") line(s))"

echo "== systemd-analyze verify $unit_name"
status=0
output="$(verify)" || status=$?
if [ "$status" -ne 0 ] || [ -n "$output" ]; then
    printf '%s\n' "$output"
    fail "systemd-analyze verify: exit status $status, $(grep -c . <<<"$output") line(s) of warnings"
fi
echo "ok: no errors, no warnings"

echo "== systemd-analyze security --offline=yes $unit_name"
security_status=0
security="$(systemd-analyze security --offline=yes --root="$root" --man=no \
    "$unit_name" 2>&1)" || security_status=$?
score_line="$(grep -m1 'Overall exposure level' <<<"$security" || true)"
if [ -z "$score_line" ]; then
    printf '%s\n' "$security" | tail -5
    if grep -qiE 'unrecognized option|unknown option' <<<"$security"; then
        echo "skipped: this systemd-analyze has no offline security review (needs systemd 250+)"
        echo "== PASS (verify only)"
        exit 0
    fi
    fail "systemd-analyze security printed no exposure level (exit status $security_status)"
fi
echo "not hardened (each with its share of the exposure):"
grep '^✗' <<<"$security" | sed -E 's/^✗ +/  /; s/ {2,}/  /g'
echo "$score_line"
score="$(sed -E 's/.*: ([0-9]+\.[0-9]+).*/\1/' <<<"$score_line")"
awk -v s="$score" -v m="$max_exposure" 'BEGIN { exit !(s <= m) }' ||
    fail "exposure $score is above $max_exposure"
echo "ok: exposure $score <= $max_exposure"
$boot || { echo "== PASS"; exit 0; }

# ---------------------------------------------------------------- --boot
echo "== --boot: the unit under a real systemd in private namespaces"
[ "$(id -u)" -eq 0 ] || fail "--boot needs root"
for tool in unshare nsenter; do
    command -v "$tool" >/dev/null || fail "--boot needs $tool"
done
cgroot=""
for dir in /sys/fs/cgroup/unified /sys/fs/cgroup; do
    if [ "$(stat -fc %T "$dir" 2>/dev/null)" = cgroup2fs ]; then
        cgroot=$dir
        break
    fi
done
[ -n "$cgroot" ] || fail "--boot needs a cgroup v2 hierarchy"
cargo build --release --quiet --bin ollama-proxy-client --example demo
boot_dir="$root/boot"
mkdir -p "$boot_dir"
cp target/release/ollama-proxy-client "$boot_dir/client"
own_cgroup="$(sed -n 's/^0:://p' /proc/self/cgroup)"
cgroup="$cgroot${own_cgroup%/}/check-service-$$"
pid1=""
demo_pid=""
cleanup_boot() {
    set +e # do every step, whatever fails
    if [ -n "$demo_pid" ]; then
        echo >&3 # the demo stops at a newline and removes its files
        sleep 1
        kill "$demo_pid" 2>/dev/null
    fi
    # Ends every process of the namespaces.
    [ -n "$pid1" ] && kill -KILL "$pid1" 2>/dev/null
    sleep 1
    if [ -d "$cgroup" ]; then
        find "$cgroup" -mindepth 1 -depth -type d -exec rmdir {} + 2>/dev/null
        rmdir "$cgroup" 2>/dev/null || echo "note: could not remove $cgroup" >&2
    fi
    rm -rf "$root"
}
trap cleanup_boot EXIT

# PID 1 of the new namespaces: a private view of the file system, then systemd.
cat >"$boot_dir/inner.sh" <<'INNER'
#!/bin/bash
set -euo pipefail
boot_dir=$1
umount -R /sys/fs/cgroup
for dir in /run /srv /var/lib /usr/local/bin; do mount -t tmpfs tmpfs "$dir"; done
mkdir -p /srv/t/units
install -m 0755 "$boot_dir/client" /usr/local/bin/ollama-proxy-client
cp "$boot_dir"/units/* /srv/t/units/
cp /etc/passwd /etc/group /srv/t/
echo 'ollama-proxy:x:990:990::/var/lib/ollama-proxy:/usr/sbin/nologin' >>/srv/t/passwd
echo 'ollama-proxy:x:990:' >>/srv/t/group
mount --bind /srv/t/passwd /etc/passwd
mount --bind /srv/t/group /etc/group
# A real install's env file (and its token) stays out of the test.
if [ -e /etc/ollama-proxy-client.env ]; then mount --bind /dev/null /etc/ollama-proxy-client.env; fi
install -d -m 0700 -o 990 -g 990 /var/lib/ollama-proxy
export SYSTEMD_UNIT_PATH=/srv/t/units container=check-service
exec /usr/lib/systemd/systemd --log-target=console --log-level=warning --unit=multi-user.target
INNER
chmod 0755 "$boot_dir/inner.sh"
# Only these units exist in there: the targets the unit's default
# dependencies need (none of their .wants), and the unit under test.
mkdir -p "$boot_dir/units"
for target in basic default exit final local-fs multi-user network-online network paths \
    shutdown slices sockets swap sysinit timers umount; do
    cp "$units_dir/$target.target" "$boot_dir/units/"
done
cp "$unit_src" "$boot_dir/units/$unit_name"

mkdir -p "$cgroup"
(
    echo "$BASHPID" >"$cgroup/cgroup.procs"
    exec unshare --pid --fork --mount --uts --net --ipc --cgroup --mount-proc \
        "$boot_dir/inner.sh" "$boot_dir"
) >"$boot_dir/systemd.log" 2>&1 &
unshare_pid=$!
in_ns() { nsenter -t "$pid1" -m -p -n -u -i --cgroup "$@"; }
for _ in $(seq 50); do
    pid1="$(pgrep -P "$unshare_pid" || true)"
    [ -n "$pid1" ] && [[ "$(in_ns systemctl is-system-running 2>/dev/null)" =~ running|degraded ]] && break
    sleep 0.2
done
[ -n "$pid1" ] || { cat "$boot_dir/systemd.log"; fail "systemd did not boot"; }
echo "ok: systemd $(in_ns systemctl --version | head -1 | cut -d' ' -f2) is PID 1 of the namespaces"

# The hub and Ollama emulators, on the namespaces' loopback. The demo stops
# (and removes its files) at a newline on its input: fd 3 holds that open.
mkfifo "$boot_dir/demo.in"
exec 3<>"$boot_dir/demo.in"
nsenter -t "$pid1" -n -- target/release/examples/demo --serve <&3 >"$boot_dir/demo.log" 2>&1 &
demo_pid=$!
for _ in $(seq 50); do
    grep -q '^press Enter' "$boot_dir/demo.log" && break
    sleep 0.2
done
hub_url="$(sed -n 's/^hub emulator: *\([^ ]*\).*/\1/p' "$boot_dir/demo.log")"
ollama_url="$(sed -n 's/^Ollama emulator: *\([^ ]*\).*/\1/p' "$boot_dir/demo.log")"
ca_file="$(sed -n 's/^CA certificate: *\([^ ]*\).*/\1/p' "$boot_dir/demo.log")"
token="$(sed -n 's/.*(token \([^)]*\)).*/\1/p' "$boot_dir/demo.log")"
if [ -z "$hub_url" ] || [ -z "$ollama_url" ] || [ -z "$ca_file" ] || [ -z "$token" ]; then
    cat "$boot_dir/demo.log"
    fail "the emulators did not start"
fi
in_ns install -m 0644 "$ca_file" /srv/t/ca.pem

# Test-only drop-ins: the emulators' hub and CA, output to files (there is no
# journald in there), the env file at a test path. The sandbox is untouched.
# $1: the unit's name without .service, $2: extra flags, $3: more lines.
drop_in() {
    in_ns sh -c "mkdir -p /srv/t/units/$1.service.d && cat >/srv/t/units/$1.service.d/test.conf" <<CONF
[Service]
ExecStart=
ExecStart=/usr/local/bin/ollama-proxy-client --server $hub_url --ca-file /srv/t/ca.pem $2
EnvironmentFile=-/srv/t/env
StandardOutput=append:/srv/t/$1.log
StandardError=append:/srv/t/$1.log
$3
CONF
    in_ns systemctl daemon-reload
}
prop() { in_ns systemctl show -p "$2" --value "$1"; }
expect() { # unit property value
    local got
    got="$(prop "$1" "$2")"
    [ "$got" = "$3" ] || { in_ns cat "/srv/t/$1.log" 2>/dev/null; fail "$1: $2=$got, expected $3"; }
}
svc=ollama-proxy-client
drop_in "$svc" "" ""

echo "-- no token anywhere: exit 78, not restarted"
in_ns systemctl start "$svc" || true
sleep 7
expect "$svc" ActiveState failed
expect "$svc" ExecMainStatus 78
expect "$svc" NRestarts 0
echo "ok: failed with status 78, no restart after 7 s"

echo "-- token from the env file, config directory absent"
in_ns sh -c "printf 'OLLAMA_PROXY_TOKEN=%s\nOLLAMA_HOST=%s\n' '$token' '$ollama_url' >/srv/t/env"
in_ns systemctl reset-failed "$svc"
in_ns systemctl start "$svc"
sleep 2
expect "$svc" SubState running
in_ns grep -q 'connected to the hub' "/srv/t/$svc.log" || fail "no hub connection under the sandbox"
in_ns grep -q 'logging to the console only' "/srv/t/$svc.log" || fail "expected the no-log-file warning"
echo "ok: running as $(in_ns ps -o user= -p "$(prop "$svc" MainPID)"), connected to the hub over TLS"
in_ns systemctl stop "$svc"

echo "-- config directory created as the docs say: the log file is written"
in_ns install -d -m 0700 -o ollama-proxy -g ollama-proxy \
    /var/lib/ollama-proxy/.config /var/lib/ollama-proxy/.config/ollama_proxy
in_ns systemctl start "$svc"
sleep 2
log_file=/var/lib/ollama-proxy/.config/ollama_proxy/logs/client.log
in_ns grep -q 'connected to the hub' "$log_file" || fail "nothing in $log_file"
echo "ok: $log_file written ($(in_ns stat -c '%U %a' "$log_file"))"

echo "-- SIGKILL: restarted after RestartSec"
in_ns kill -KILL "$(prop "$svc" MainPID)"
sleep 7
expect "$svc" SubState running
expect "$svc" NRestarts 1
echo "ok: running again, NRestarts=1"

echo "-- systemctl stop: SIGTERM, exit 0"
in_ns systemctl stop "$svc"
expect "$svc" ActiveState inactive
expect "$svc" Result success
expect "$svc" ExecMainStatus 0
in_ns grep -q 'SIGTERM received' "$log_file" || fail "no graceful stop in the log"
echo "ok: stopped cleanly"

echo "-- --check and a --test prompt in the same sandbox (a oneshot copy)"
in_ns sh -c "sed -e 's/^Type=exec/Type=oneshot/' -e 's/^Restart=always/Restart=no/' \
    /srv/t/units/$unit_name >/srv/t/units/opc-check.service"
in_ns sh -c "printf 'why is the sky blue?\nexit\n' >/srv/t/prompts"
drop_in opc-check --check ""
in_ns systemctl start opc-check || true
expect opc-check ExecMainStatus 0
in_ns cat /srv/t/opc-check.log | grep '^\[' | sed 's/^/   /'
drop_in opc-check --test "StandardInput=file:/srv/t/prompts"
in_ns sh -c ': >/srv/t/opc-check.log'
in_ns systemctl start opc-check || true
expect opc-check ExecMainStatus 0
in_ns grep -q 'pieces' /srv/t/opc-check.log || fail "--test got no answer"
echo "ok: --check passed and a prompt was answered under the sandbox"

echo >&3 # stops the demo
wait "$demo_pid" 2>/dev/null || true
demo_pid=""
echo "== PASS (with --boot)"
