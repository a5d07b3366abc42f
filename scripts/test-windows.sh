#!/usr/bin/env bash
# Runs the end-to-end suites against the shipped Windows client under wine,
# as scripts/test-arm.sh runs them against the ARM builds under qemu: the
# test programs are Linux ones (cargo's own build), the client they start
# is the .exe, run by scripts/wine-run.sh (OPC_TEST_RUNNER) with the test's
# HOME as its Windows profile. Usage:
#   scripts/test-windows.sh [EXE] [-- SUITE...]
# EXE: by default the bare .exe scripts/build-release.sh leaves in dist/
# (dist/ollama-proxy-client-VERSION-x86_64-pc-windows-gnu.exe). SUITEs: by
# default every suite that starts the client (not doc_commands and
# language, which do not; not terminal, which drives the client through a
# Linux pty that wine's console cannot stand behind; not sharing, whose
# stand-in nvidia-smi is an sh script and which sets the client's local
# time through TZ, read by musl, not by Windows' C runtime: the selling
# hours' logic and localtime_s are unit-tested under wine instead).
#
# The tests whose feature Windows does not have (file modes and owners,
# FIFOs, Unix sockets, SIGHUP, links made from Linux, the 107-byte socket
# path) or that wine cannot show are skipped by name below, each group with
# its reason; the tests where Windows only shows the same thing differently
# (paths, its own pid, "Ctrl+C" for SIGTERM, wine's start-up time) ask
# tests/support (`launch::client_is_windows`). Each suite's time is printed;
# the first failing suite ends the run (status 1), after the rest have run.
#
# A test that fails is run once more, alone, and the run says so: wine
# (8.0) now and then loses the Ctrl+C that a SIGTERM to the runner becomes
# when it comes early in a program's life (seen once in about 250 stops),
# and the test then waits for an exit that never comes. A test that fails
# twice fails the suite. (scripts/test-arm.sh does the same for qemu's
# hangs.)
set -euo pipefail
cd "$(dirname "$0")/.."

version="$(sed -n 's/^version = "\(.*\)"/\1/p' Cargo.toml | head -1)"
exe="dist/ollama-proxy-client-$version-x86_64-pc-windows-gnu.exe"
if [ $# -gt 0 ] && [ "$1" != "--" ]; then exe="$1"; shift; fi
[ "${1:-}" = "--" ] && shift
suites=("$@")
if [ ! -f "$exe" ]; then
    echo "test-windows: no $exe: build it with scripts/build-release.sh, or pass the .exe:" >&2
    echo "  scripts/test-windows.sh path/to/ollama-proxy-client.exe" >&2
    exit 2
fi
exe="$(cd "$(dirname "$exe")" && pwd)/$(basename "$exe")"
[ ${#suites[@]} -eq 0 ] && suites=(
    relay control faults surface backends backend_health backends_seen busy_ports
    hosts_surface ledger limits openai prometheus rig_hub rig_ollama secrets slow_hub
    state_files stats step_back prompts outside_text llamacpp
)

# Skipped under Windows, by suite: "suite:test name" (a substring, as
# cargo test's --skip takes it), grouped by reason.
skips=(
    # File modes and owners: Windows keeps the files private through the
    # profile's ACL; there is no 0600/0700, no "others can write".
    control:the_socket_and_its_directory_are_private
    control:a_directory_others_can_write_in_is_warned_about_and_a_missing_one_made_private
    surface:a_log_directory_others_can_write_is_refused_and_a_private_one_is_used
    surface:saved_flags_go_to_a_private_config_file_and_unknown_keys_stay
    state_files:a_ledger_others_can_read_is_made_private_and_the_log_says_so
    # The control channel is a 127.0.0.1 port and a secret, not a Unix
    # socket a test can connect to; and no 107-byte socket path limit.
    control:garbage_on_the_socket_is_answered_and_the_next_status_still_served
    control:a_pause_behind_idle_connections_waits_for_its_answer_and_happens_once
    control:a_config_directory_too_deep_for_a_socket_stops_with_78_and_names_it
    # The test holds control.lock with flock(2) from Linux; the Windows
    # client's lock is LockFileEx, which wine keeps apart from flock.
    control:a_client_holding_the_lock_without_a_socket_is_waited_for_then_reported_as_75
    # The Windows config "folder" that is a file: Windows says "path not
    # found", as for a missing folder, so the client says "no client is
    # running" (exit 69 as on Linux), not the separate reason it names.
    control:a_socket_that_cannot_be_reached_is_named_with_the_reason
    # On Windows closing a connection does not end a read in progress on it
    # (src/accept.rs): a closed silent connection holds its thread until the
    # metrics port's deadline, so a burst of 100 delays /healthz by seconds.
    busy_ports:a_hundred_silent_connections
    # No SIGHUP and no nohup on Windows.
    faults:sighup_lets_a_running_answer_finish_and_exits_0_like_sigterm
    faults:started_with_sighup_ignored_as_by_nohup_the_client_keeps_serving
    # A TCP reset reads as the end of the stream (Ok(0)) under wine; real
    # Windows reports WSAECONNRESET: a limit of wine, not of the client.
    faults:a_reset_during_the_handshake_is_a_connection_error
    faults:a_reset_connection_is_reported_as_broken_and_replaced
    # A write to a pipe without a reader fails under wine with
    # ERROR_PIPE_NOT_CONNECTED (233), which Rust does not take as a broken
    # pipe; real Windows says ERROR_NO_DATA (232), a broken pipe.
    surface:output_to_a_closed_pipe_ends_quietly_with_status_0
    # Symbolic links made from Linux are followed by wine, never seen as
    # links, so Windows' refusal of reparse points cannot be tested here.
    surface:a_symbolic_link_at_the_log_file_is_not_followed_and_the_console_says_why
    state_files:a_symbolic_link_at_the_lock_or_the_pause_file_is_never_written_through
    state_files:a_symbolic_link_at_the_ledger_is_called_the_ledger
    # No FIFOs on Windows.
    state_files:a_fifo_at_any_state_file_neither_holds_the_client_nor_goes_unsaid
    state_files:check_stats_and_status_finish_and_name_a_fifo_in_both_languages
)

echo "== wine (scripts/wine-run.sh --setup)"
scripts/wine-run.sh --setup
echo "== building the test programs"
nice -n 10 cargo test --locked --no-run --tests >/dev/null 2>&1 \
    || nice -n 10 cargo test --locked --no-run --tests

export OPC_TEST_CLIENT="$exe" OPC_TEST_RUNNER="$PWD/scripts/wine-run.sh"
failed=()
total_start=$SECONDS
for suite in "${suites[@]}"; do
    args=()
    for skip in "${skips[@]}"; do
        [ "${skip%%:*}" = "$suite" ] && args+=(--skip "${skip#*:}")
    done
    echo "== $suite under wine ($(( ${#args[@]} / 2 )) skipped)"
    start=$SECONDS
    status=0
    log="$(mktemp)"
    nice -n 10 cargo test --locked -q --test "$suite" -- "${args[@]}" 2>&1 | tee "$log" || status=$?
    if [ $status -ne 0 ]; then
        mapfile -t again < <(sed -n 's/^---- \(.*\) stdout ----$/\1/p' "$log" | sort -u)
        if [ ${#again[@]} -gt 0 ]; then
            echo "== $suite: once more, alone: ${again[*]}"
            status=0
            for name in "${again[@]}"; do
                nice -n 10 cargo test --locked -q --test "$suite" -- --exact "$name" || status=$?
            done
            [ $status -eq 0 ] && echo "== $suite: passed the second time under wine: ${again[*]}"
        fi
    fi
    rm -f "$log"
    echo "== $suite: $((SECONDS - start)) s, $([ $status -eq 0 ] && echo ok || echo "FAILED ($status)")"
    [ $status -eq 0 ] || failed+=("$suite")
done
# Russian in the Windows console: the client writes UTF-16 to a console
# (WriteConsoleW, through Rust's stdout/stderr), which wine's console turns
# into the terminal's UTF-8 (`script` gives it a terminal). LC_MESSAGES
# picks the client's language; LANG=C.UTF-8 gives wine its codeset (this
# machine may have no ru_RU locale, and wine would write "?" then).
echo "== Russian text in the Windows console (under wine's console, on a pty)"
console_home="$(mktemp -d)"
said="$(HOME="$console_home" LANG=C.UTF-8 LC_MESSAGES=ru_RU.UTF-8 LC_ALL='' \
    timeout 120 script -qec "$OPC_TEST_RUNNER $exe --status" /dev/null 2>&1 || true)"
rm -rf "$console_home"
if printf '%s' "$said" | grep -q 'клиент с этими настройками не запущен'; then
    echo "== ok: the console shows the Russian text"
else
    echo "== FAILED: no Russian text in the console:" >&2
    printf '%s\n' "$said" | sed -n l >&2
    failed+=("russian-console")
fi

echo "== all suites: $((SECONDS - total_start)) s"
if [ ${#failed[@]} -gt 0 ]; then
    echo "== FAILED under wine: ${failed[*]}" >&2
    exit 1
fi
echo "== every suite passed under wine"
