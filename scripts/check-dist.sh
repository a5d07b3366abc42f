#!/usr/bin/env bash
# Checks what scripts/build-release.sh put in dist/, for every target (or
# the targets given), without running anything but python and `file`:
#   scripts/check-dist.sh [TARGET...]
#   OPC_DIST=other/dir scripts/check-dist.sh      (another folder than dist/)
# - size budget: each target's binary at most 2 MiB (2,097,152 B);
# - Linux: `file` says statically linked, for the right machine;
# - Windows: the zip holds exactly one folder with ollama-proxy-client.exe,
#   README.txt (UTF-8 with BOM, CRLF only, English and Russian, the config
#   folder %USERPROFILE%\.config\ollama_proxy\) and LICENSE.txt (CRLF), and
#   no DLL (the tests' ProcessPrng shim must never ship); the .exe is the
#   same as the bare one in dist/ and passes scripts/pe-check.py (PE32+
#   x86-64, console, only Windows' own DLLs);
# - macOS: each tar.gz holds exactly one folder with ollama-proxy-client
#   (0755), README.txt (English and Russian, how to clear the quarantine),
#   the launchd plist (read by plistlib, the keys the README relies on) and
#   LICENSE.txt; the binary passes scripts/macho-check.py (CPU, minimum
#   macOS 11.0, only system libraries, arm64: a valid ad-hoc signature),
#   and the checker itself fails on a copy with one byte flipped;
# - dist/SHA256SUMS matches, and lists every release file in dist/.
# Fails loudly, naming what is wrong. Needs python3 and file (installed
# with apt if missing).
set -euo pipefail
cd "$(dirname "$0")/.."

dist="${OPC_DIST:-dist}"
budget=$((2 * 1024 * 1024))
name=ollama-proxy-client
version="$(sed -n 's/^version = "\(.*\)"/\1/p' Cargo.toml | head -1)"
targets=("$@")
if [ ${#targets[@]} -eq 0 ]; then
    targets=(x86_64-unknown-linux-musl aarch64-unknown-linux-musl armv7-unknown-linux-musleabihf
        x86_64-pc-windows-gnu aarch64-apple-darwin x86_64-apple-darwin)
fi
if ! command -v file >/dev/null; then
    echo "== installing file"
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq file >/dev/null
fi

failures=0
ok() { echo "ok    $*"; }
fail() { echo "FAIL  $*" >&2; failures=$((failures + 1)); }
within_budget() {
    local size
    size="$(stat -c %s "$1")"
    if [ "$size" -le "$budget" ]; then
        ok "$(printf '%10d B  %s (budget %d B)' "$size" "$2" "$budget")"
    else
        fail "$(printf '%10d B  %s: over the 2 MiB budget (%d B)' "$size" "$2" "$budget")"
    fi
}
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

# Exactly these files (relative to the archive's root), nothing else.
expect_members() {
    local listing="$1" base="$2"; shift 2
    local want got
    want="$(printf "$base/%s\n" "$@" | sort)"
    got="$(sort "$listing")"
    if [ "$want" = "$got" ]; then
        ok "contents: $(echo "$got" | tr '\n' ' ')"
    else
        fail "contents differ: wanted [$(echo "$want" | tr '\n' ' ')] got [$(echo "$got" | tr '\n' ' ')]"
    fi
}

for target in "${targets[@]}"; do
    base="$name-$version-$target"
    echo "== $target"
    case "$target" in
        *-linux-*)
            binary="$dist/$base"
            [ -f "$binary" ] || { fail "$binary is missing"; continue; }
            within_budget "$binary" "$base"
            case "$target" in
                x86_64-*) machine="x86-64" ;;
                aarch64-*) machine="ARM aarch64" ;;
                armv7-*) machine="ARM, EABI5" ;;
            esac
            description="$(file -b "$binary")"
            if [[ "$description" == *"statically linked"* && "$description" == *"$machine"* ]]; then
                ok "file: $description"
            else
                fail "file: $description (wanted $machine, statically linked)"
            fi
            ;;
        *-windows-*)
            zip="$dist/$base.zip"
            [ -f "$zip" ] || { fail "$zip is missing"; continue; }
            python3 - "$zip" "$work/$target" > "$work/$target.list" <<'EOF' || fail "$zip cannot be unpacked"
import sys, zipfile
with zipfile.ZipFile(sys.argv[1]) as z:
    bad = z.testzip()
    if bad:
        sys.exit(f"corrupt member {bad}")
    for info in z.infolist():
        print(info.filename)
    z.extractall(sys.argv[2])
EOF
            expect_members "$work/$target.list" "$base" "$name.exe" README.txt LICENSE.txt ollama-proxy-client-task.xml
            cmp -s "$work/$target/$base/ollama-proxy-client-task.xml" scripts/windows/ollama-proxy-client-task.xml \
                && ok "the task file is scripts/windows/ollama-proxy-client-task.xml, byte for byte" \
                || fail "the zip's task file differs from scripts/windows/ollama-proxy-client-task.xml"
            if grep -i '\.dll$' "$work/$target.list"; then
                fail "a DLL is in the zip (the tests' ProcessPrng shim must never ship)"
            else
                ok "no DLL in the zip"
            fi
            dir="$work/$target/$base"
            exe="$dir/$name.exe"
            [ -f "$exe" ] || { fail "no $name.exe in $zip"; continue; }
            within_budget "$exe" "$name.exe"
            if [ -f "$dist/$base.exe" ]; then
                cmp -s "$exe" "$dist/$base.exe" && ok "the zip's .exe is $dist/$base.exe" \
                    || fail "the zip's .exe differs from $dist/$base.exe"
            fi
            python3 scripts/pe-check.py "$exe" | sed 's/^/      /' || fail "pe-check.py: $exe"
            python3 - "$dir/README.txt" "$dir/LICENSE.txt" <<'EOF' || fail "README.txt or LICENSE.txt of $zip"
import sys
readme, licence = (open(p, "rb").read() for p in sys.argv[1:])
problems = []
if not readme.startswith(b"\xef\xbb\xbf"):
    problems.append("README.txt has no UTF-8 byte order mark")
for name, text in (("README.txt", readme), ("LICENSE.txt", licence)):
    if text.count(b"\n") != text.count(b"\r\n") or text.count(b"\r") != text.count(b"\r\n"):
        problems.append(f"{name}: not CRLF throughout")
body = readme.decode("utf-8-sig")
for needle in ("%USERPROFILE%\\.config\\ollama_proxy\\", "ollama-proxy-client.exe", "ПЕРВЫЙ ЗАПУСК", "THE FIRST RUN", "docs/"):
    if needle not in body:
        problems.append(f"README.txt does not say {needle!r}")
if "@" + "VERSION@" in body:
    problems.append("README.txt: @VERSION@ not replaced")
if problems:
    sys.exit("\n".join(problems))
print("ok    README.txt: UTF-8 with BOM, CRLF, English and Russian, the config folder; LICENSE.txt: CRLF")
EOF
            ;;
        *-apple-*)
            tgz="$dist/$base.tar.gz"
            [ -f "$tgz" ] || { fail "$tgz is missing"; continue; }
            python3 - "$tgz" "$work/$target" > "$work/$target.list" <<'EOF' || fail "$tgz cannot be unpacked"
import sys, tarfile
with tarfile.open(sys.argv[1], "r:gz") as t:
    for m in t.getmembers():
        if not m.isfile() or m.name.startswith("/") or ".." in m.name.split("/"):
            sys.exit(f"{m.name}: not a plain file inside the archive's folder")
        print(m.name)
    t.extractall(sys.argv[2])
EOF
            expect_members "$work/$target.list" "$base" "$name" README.txt local.ollama-proxy-client.plist LICENSE.txt
            dir="$work/$target/$base"
            binary="$dir/$name"
            [ -f "$binary" ] || { fail "no $name in $tgz"; continue; }
            [ -x "$binary" ] && ok "$name is executable" || fail "$name in $tgz is not executable"
            within_budget "$binary" "$name ($target)"
            case "$target" in
                aarch64-*) arch=arm64 signed=(--signed) ;;
                *) arch=x86_64 signed=() ;;
            esac
            python3 scripts/macho-check.py "$binary" --arch "$arch" --min-macos 11.0 "${signed[@]}" | sed 's/^/      /' \
                || fail "macho-check.py: $binary"
            if [ "$arch" = arm64 ]; then
                # The checker must see a change: one byte flipped in the middle
                # of the code.
                cp "$binary" "$work/flipped"
                python3 -c '
import sys
p = sys.argv[1]; d = bytearray(open(p, "rb").read()); d[len(d) // 3] ^= 0x01; open(p, "wb").write(d)' "$work/flipped"
                if python3 scripts/macho-check.py "$work/flipped" --arch arm64 --signed > "$work/flipped.out"; then
                    fail "macho-check.py passes a binary with a flipped byte"
                else
                    ok "macho-check.py refuses a copy with one byte flipped: $(grep FAIL "$work/flipped.out" | head -1 | sed 's/^FAIL *//')"
                fi
            fi
            python3 - "$dir/README.txt" "$dir/local.ollama-proxy-client.plist" <<'EOF' || fail "README.txt or the plist of $tgz"
import plistlib, sys
readme = open(sys.argv[1], encoding="utf-8").read()
problems = []
for needle in ("xattr -d com.apple.quarantine ./ollama-proxy-client", "~/.config/ollama_proxy/",
               "ПЕРВЫЙ ЗАПУСК", "THE FIRST RUN", 'sed "s|/Users/USERNAME|$HOME|g"', "launchctl bootstrap gui/"):
    if needle not in readme:
        problems.append(f"README.txt does not say {needle!r}")
if "\r" in readme or "@" + "VERSION@" in readme or "@MACHINE" in readme:
    problems.append("README.txt: CR or a placeholder left")
with open(sys.argv[2], "rb") as f:
    plist = plistlib.load(f)
want = {
    "Label": "local.ollama-proxy-client",
    "ProgramArguments": ["/usr/local/bin/ollama-proxy-client"],
    "RunAtLoad": True,
    "KeepAlive": {"SuccessfulExit": False},
    "ThrottleInterval": 30,
}
for key, value in want.items():
    if plist.get(key) != value:
        problems.append(f"plist {key} is {plist.get(key)!r}, wanted {value!r}")
for key in ("StandardOutPath", "StandardErrorPath"):
    if not str(plist.get(key, "")).startswith("/Users/USERNAME/Library/Logs/"):
        problems.append(f"plist {key} is {plist.get(key)!r}: not under /Users/USERNAME/Library/Logs/")
if set(plist) - set(want) - {"StandardOutPath", "StandardErrorPath"}:
    problems.append(f"plist has keys not checked here: {sorted(set(plist) - set(want))}")
if problems:
    sys.exit("\n".join(problems))
print("ok    README.txt: English and Russian, quarantine, launchd; plist: valid (plistlib), restart on failure only")
EOF
            ;;
        *) fail "unknown target $target" ;;
    esac
done

echo "== $dist/SHA256SUMS"
if [ ! -f "$dist/SHA256SUMS" ]; then
    fail "$dist/SHA256SUMS is missing"
else
    (cd "$dist" && sha256sum --check --quiet --strict SHA256SUMS) && ok "every file listed matches" \
        || fail "$dist/SHA256SUMS does not match"
    for file in "$dist/$name-$version"-*; do
        awk -v f="${file##*/}" '$2 == f { found = 1 } END { exit !found }' "$dist/SHA256SUMS" \
            || fail "${file##*/} is not in $dist/SHA256SUMS"
    done
fi

if [ "$failures" -gt 0 ]; then
    echo "check-dist: $failures problem(s)" >&2
    exit 1
fi
echo "check-dist: all passed"
