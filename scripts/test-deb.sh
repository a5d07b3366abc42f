#!/usr/bin/env bash
# Tests the Debian packages of scripts/build-deb.sh by building, inspecting
# and installing them on this machine (Debian, as root). CI runs it after
# the static builds; dist/ must hold the three binaries of
# scripts/build-release.sh.
#
#   1. Builds the amd64, arm64 and armhf packages into dist/; a second build
#      of amd64 must be byte-identical (SOURCE_DATE_EPOCH).
#   2. Each package: its control fields (the architecture), every file with
#      its mode and owner (the env file 0600), the conffile, lintian with no
#      error and no warning; its binary's --version, under qemu-user for ARM;
#      the man pages (English, Russian), the same in all three, name every
#      flag and variable --help names.
#   3. Install, upgrade, remove, purge of amd64 with apt, as an owner does,
#      systemd not running (as in a container): the user, group, home and
#      modes; the unit passes `systemd-analyze verify` and keeps its
#      hardening (`security`, exposure <= 2.0); --version; `man` and
#      `man -L ru` find and show the pages with every section;
#      nothing enabled; the shipped env file leaves the client without a
#      token (exit 78, which the unit does not restart) and the README's
#      --check command runs as the service user. An upgrade to a higher
#      version keeps the edited env file, the config, the ledger and the
#      owner's `enable`; remove keeps them; purge removes the env file,
#      /var/lib/ollama-proxy, the user, the group and the enable link.
#   4. The same cycle with dpkg where the maintainer scripts see a running
#      systemd (a private /run/systemd/system, systemctl and
#      deb-systemd-invoke replaced by recorders): install only reloads,
#      upgrade try-restarts, remove stops.
#
# It refuses to run where ollama-proxy-client is installed or was set up by
# hand (user, env file or /var/lib/ollama-proxy present): it would purge
# them. Whatever happens, it purges what it installed, so a second run
# starts clean. Installs what it needs with apt (lintian, man-db, systemd
# for systemd-analyze, qemu-user-static).
set -euo pipefail
cd "$(dirname "$0")/.."

name=ollama-proxy-client
user=ollama-proxy
home=/var/lib/ollama-proxy
data=$home/.config/ollama_proxy
env_file=/etc/$name.env
unit_file=/lib/systemd/system/$name.service
enable_link=/etc/systemd/system/multi-user.target.wants/$name.service
dsh_state=/var/lib/systemd/deb-systemd-helper-enabled/$name.service.dsh-also
version="$(sed -n 's/^version = "\(.*\)"/\1/p' Cargo.toml | head -1)"
up_version="$version+test1"
export DEBIAN_FRONTEND=noninteractive

fail() {
    echo "FAIL: $*" >&2
    exit 1
}
ok() { echo "ok: $*"; }
expect() { # what got expected
    [ "$2" = "$3" ] || fail "$1: got '$2', expected '$3'"
}
status() { # installed, config-files, not-installed (also when dpkg never knew it)...
    local state
    state="$(dpkg-query -W -f='${db:Status-Status}' "$name" 2>/dev/null || true)"
    echo "${state:-not-installed}"
}

[ "$(id -u)" -eq 0 ] || fail "run as root: it installs and purges the package"
case "$(status)" in
    not-installed) ;;
    *) fail "$name is installed here ($(status)); this test would purge it: run it on a build machine" ;;
esac
for trace in "$env_file" "$home" "$enable_link"; do
    [ ! -e "$trace" ] || fail "$trace exists: $name was set up by hand here, and the purge would delete it"
done
! getent passwd "$user" >/dev/null || fail "the user $user exists here; the purge would delete it"
if grep -rqs '^path-exclude.*/usr/share/\(man\|doc\)' /etc/dpkg/dpkg.cfg.d/; then
    fail "dpkg here skips /usr/share/man or /usr/share/doc (/etc/dpkg/dpkg.cfg.d/), so man -w cannot pass"
fi

unshare --mount true 2>/dev/null ||
    fail "unshare --mount is refused here; step 4 needs a private mount namespace (root with CAP_SYS_ADMIN)"

missing=()
command -v lintian >/dev/null || missing+=(lintian)
command -v man >/dev/null || missing+=(man-db)
command -v systemd-analyze >/dev/null || missing+=(systemd)
command -v qemu-aarch64-static >/dev/null || missing+=(qemu-user-static)
if [ ${#missing[@]} -gt 0 ]; then
    echo "== installing ${missing[*]}"
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

work="$(mktemp -d "${TMPDIR:-/tmp}/test-deb.XXXXXX")"
cleanup() {
    set +e
    if [ "$(status)" != not-installed ]; then
        echo "== cleanup: purging $name"
        dpkg --purge "$name" >/dev/null
    fi
    getent passwd "$user" >/dev/null && userdel "$user"
    getent group "$user" >/dev/null && groupdel "$user"
    rm -rf "$home" "$env_file" "$enable_link" "$dsh_state" "$work"
}
trap cleanup EXIT

# ---------------------------------------------------------------- build
echo "== building the packages"
scripts/build-deb.sh
deb() { echo "dist/${name}_${version}_$1.deb"; }
(cd dist && sha256sum -c --quiet SHA256SUMS) || fail "dist/SHA256SUMS does not match"
for arch in amd64 arm64 armhf; do
    grep -q " ${name}_${version}_$arch.deb\$" dist/SHA256SUMS || fail "dist/SHA256SUMS lacks the $arch package"
done
ok "three packages, in dist/SHA256SUMS"
DEB_OUTDIR="$work/again" scripts/build-deb.sh amd64 >/dev/null
cmp -s "$(deb amd64)" "$work/again/${name}_${version}_amd64.deb" || fail "a second build of amd64 differs"
ok "a second build is byte-identical"

# ---------------------------------------------------------------- contents
# Mode, owner and path of every entry, in dpkg-deb --contents order.
expected_contents="drwxr-xr-x root/root ./
drwxr-xr-x root/root ./etc/
-rw------- root/root ./etc/$name.env
drwxr-xr-x root/root ./lib/
drwxr-xr-x root/root ./lib/systemd/
drwxr-xr-x root/root ./lib/systemd/system/
-rw-r--r-- root/root ./lib/systemd/system/$name.service
drwxr-xr-x root/root ./usr/
drwxr-xr-x root/root ./usr/bin/
-rwxr-xr-x root/root ./usr/bin/$name
drwxr-xr-x root/root ./usr/share/
drwxr-xr-x root/root ./usr/share/doc/
drwxr-xr-x root/root ./usr/share/doc/$name/
-rw-r--r-- root/root ./usr/share/doc/$name/README.md.gz
-rw-r--r-- root/root ./usr/share/doc/$name/README.ru.md.gz
-rw-r--r-- root/root ./usr/share/doc/$name/changelog.gz
-rw-r--r-- root/root ./usr/share/doc/$name/copyright
drwxr-xr-x root/root ./usr/share/doc/$name/docs/
-rw-r--r-- root/root ./usr/share/doc/$name/docs/config-reference.md.gz
-rw-r--r-- root/root ./usr/share/doc/$name/docs/configuration.md.gz
-rw-r--r-- root/root ./usr/share/doc/$name/docs/how-it-works.md.gz
-rw-r--r-- root/root ./usr/share/doc/$name/docs/install.md.gz
-rw-r--r-- root/root ./usr/share/doc/$name/docs/monitoring.md.gz
-rw-r--r-- root/root ./usr/share/doc/$name/docs/operations.md.gz
drwxr-xr-x root/root ./usr/share/doc/$name/docs/ru/
-rw-r--r-- root/root ./usr/share/doc/$name/docs/ru/config-reference.md.gz
-rw-r--r-- root/root ./usr/share/doc/$name/docs/ru/configuration.md.gz
-rw-r--r-- root/root ./usr/share/doc/$name/docs/ru/how-it-works.md.gz
-rw-r--r-- root/root ./usr/share/doc/$name/docs/ru/install.md.gz
-rw-r--r-- root/root ./usr/share/doc/$name/docs/ru/monitoring.md.gz
-rw-r--r-- root/root ./usr/share/doc/$name/docs/ru/operations.md.gz
-rw-r--r-- root/root ./usr/share/doc/$name/docs/ru/security.md.gz
-rw-r--r-- root/root ./usr/share/doc/$name/docs/ru/troubleshooting.md.gz
-rw-r--r-- root/root ./usr/share/doc/$name/docs/security.md.gz
-rw-r--r-- root/root ./usr/share/doc/$name/docs/troubleshooting.md.gz
drwxr-xr-x root/root ./usr/share/lintian/
drwxr-xr-x root/root ./usr/share/lintian/overrides/
-rw-r--r-- root/root ./usr/share/lintian/overrides/$name
drwxr-xr-x root/root ./usr/share/man/
drwxr-xr-x root/root ./usr/share/man/man1/
-rw-r--r-- root/root ./usr/share/man/man1/$name.1.gz
drwxr-xr-x root/root ./usr/share/man/ru/
drwxr-xr-x root/root ./usr/share/man/ru/man1/
-rw-r--r-- root/root ./usr/share/man/ru/man1/$name.1.gz"

help_text="$(LC_ALL=C "dist/$name-$version-x86_64-unknown-linux-musl" --help)"
help_text_ru="$(env -u LC_ALL -u LC_MESSAGES LANG=ru_RU.UTF-8 "dist/$name-$version-x86_64-unknown-linux-musl" --help)"
for arch in amd64 arm64 armhf; do
    file="$(deb "$arch")"
    echo "== $file"
    expect "$arch Package" "$(dpkg-deb --field "$file" Package)" "$name"
    expect "$arch Version" "$(dpkg-deb --field "$file" Version)" "$version"
    expect "$arch Architecture" "$(dpkg-deb --field "$file" Architecture)" "$arch"
    expect "$arch Depends" "$(dpkg-deb --field "$file" Depends)" adduser
    contents="$(dpkg-deb --contents "$file" | awk '{ print $1, $2, $6 }')"
    if [ "$contents" != "$expected_contents" ]; then
        diff <(echo "$expected_contents") <(echo "$contents") || true
        fail "$arch: the files differ from the expected list (above: - expected, + found)"
    fi
    mkdir -p "$work/$arch"
    dpkg-deb --control "$file" "$work/$arch/DEBIAN"
    expect "$arch conffiles" "$(cat "$work/$arch/DEBIAN/conffiles")" "$env_file"
    for script in postinst prerm postrm; do
        [ -x "$work/$arch/DEBIAN/$script" ] || fail "$arch: no executable $script"
    done
    ok "Architecture: $arch; $(echo "$expected_contents" | grep -c '^-') files, env file 0600, conffile, maintainer scripts"

    status_lintian=0
    lint="$(lintian -I --fail-on error,warning "$file" 2>&1)" || status_lintian=$?
    lint="$(grep -v 'running with root privileges' <<<"$lint" || true)"
    [ -z "$lint" ] || printf '%s\n' "$lint" | sed 's/^/   /'
    [ "$status_lintian" -eq 0 ] || fail "lintian: errors or warnings in $file"
    ok "lintian: no error, no warning ($(grep -c '^I:' <<<"$lint" || true) info)"

    dpkg-deb -x "$file" "$work/$arch/root"
    binary="$work/$arch/root/usr/bin/$name"
    case "$arch" in
        amd64) run=() ;;
        arm64) run=(qemu-aarch64-static) ;;
        armhf) run=(qemu-arm-static) ;;
    esac
    expect "$arch --version" "$("${run[@]}" "$binary" --version)" "$name $version"
    ok "its binary says '$name $version'${run:+ under ${run[*]}}"
done

# The man pages (docs/man/, which a unit test keeps current with --help
# and the settings table): the same in all three packages, dated and for
# this version, and they name every flag and variable --help names.
for page_help in "usr/share/man/man1/$name.1.gz:help_text" "usr/share/man/ru/man1/$name.1.gz:help_text_ru"; do
    man_page="${page_help%%:*}" help_var="${page_help##*:}"
    help="${!help_var}"
    for arch in arm64 armhf; do
        cmp -s "$work/amd64/root/$man_page" "$work/$arch/root/$man_page" ||
            fail "the $arch $man_page differs from amd64's"
    done
    roff="$(zcat "$work/amd64/root/$man_page" | sed 's/\\-/-/g')"
    # The rows' flags, placeholders and variables (indented lines; the
    # headings are the man page's own sections).
    names="$(grep '^    [-A-Z]' <<<"$help" | grep -oE -- '(^|[ ,[])(--?[a-zA-Z][a-z-]*|[A-Z][A-Z_]{3,})' |
        tr -d ' ,[' | sort -u)"
    for word in $names; do
        grep -qF -- "$word" <<<"$roff" || fail "$man_page lacks $word, which its language's --help shows"
    done
    grep -q "^\.TH [^ ]* 1 \"[0-9-]*\" \"$name $version\"" <<<"$roff" ||
        fail "$man_page is not dated or not for $name $version"
done
ok "man pages, English and Russian: the same in all three, dated, all $(wc -w <<<"$names") flags and upper-case names of --help"

# ---------------------------------------------------------------- install
apt_deb() { # apt-get verb [file]: as an owner does, output kept for a failure
    apt-get "$@" -y </dev/null >"$work/apt.log" 2>&1 || { cat "$work/apt.log"; fail "apt-get $*"; }
}
modes() { stat -c '%a %U %G %n' "$@"; }
sums() { sha256sum "$env_file" "$data/config.json" "$data/ledger.jsonl"; }

# The README's and docs/install.md's commands run here as shown (their
# `sudo` kept, or dropped where this script is root anyway; the amd64
# package, this machine's); tests/doc_commands.rs checks that they still are.
command -v sudo >/dev/null || { apt-get update -qq; apt_deb install --no-install-recommends sudo; }
echo "== apt install ./${name}_${version}_amd64.deb in dist/ (systemd not running)"
(cd dist && apt install ./ollama-proxy-client_${version}_amd64.deb -y </dev/null >"$work/apt.log" 2>&1) ||
    { cat "$work/apt.log"; fail "apt install ./${name}_${version}_amd64.deb"; }
expect status "$(dpkg-query -W -f='${Status} ${Version}' "$name")" "install ok installed $version"
IFS=: read -r _ _ uid gid _ user_home shell < <(getent passwd "$user")
[ "$uid" -lt 1000 ] || fail "$user has uid $uid, not a system user's"
expect "the user's group" "$(getent group "$gid" | cut -d: -f1)" "$user"
expect "the user's home" "$user_home" "$home"
expect "the user's shell" "$shell" /usr/sbin/nologin
ok "system user $user (uid $uid), group $user, home $home, no login shell"
expect modes "$(modes /usr/bin/$name "$unit_file" "$env_file" "$home" "$home/.config" "$data")" \
    "755 root root /usr/bin/$name
644 root root $unit_file
600 root root $env_file
700 $user $user $home
700 $user $user $home/.config
700 $user $user $data"
ok "modes: binary 755, unit 644, env file 600 root, home and config directory 700 $user"
# The by-hand install's steps where the package has done the same: they
# change nothing it made (the env file is the example, a conffile unedited).
install -m 0600 scripts/ollama-proxy-client.env.example /etc/ollama-proxy-client.env
install -d -m 0700 -o ollama-proxy -g ollama-proxy \
    /var/lib/ollama-proxy/.config /var/lib/ollama-proxy/.config/ollama_proxy
SUDO_EDITOR=true sudoedit /etc/ollama-proxy-client.env </dev/null 2>/dev/null
cmp -s "scripts/$name.env.example" "$env_file" || fail "the env file is not the example after install and sudoedit"
expect "modes after the by-hand steps" "$(modes "$env_file" "$home/.config" "$data")" \
    "600 root root $env_file
700 $user $user $home/.config
700 $user $user $data"
ok "install -m 0600 of the env example, install -d of the config folders, sudoedit: nothing changed"
# A release's binary as the README installs it (the checksums, then the
# aarch64 build, run under qemu), and the by-hand unit beside it, verified:
# in a private mount namespace whose /usr/local/bin and /etc/systemd/system
# start empty, so this machine's stay as they are.
said="$(unshare --mount -- sh -ec "
mount -t tmpfs -o mode=0755 tmpfs /usr/local/bin
mount -t tmpfs -o mode=0755 tmpfs /etc/systemd/system
cd dist && sha256sum -c SHA256SUMS --ignore-missing >/dev/null
install -m 0755 ollama-proxy-client-${version}-aarch64-unknown-linux-musl \
    /usr/local/bin/ollama-proxy-client
cd .. && install -m 0644 scripts/ollama-proxy-client.service /etc/systemd/system/
warnings=\$(systemd-analyze verify /etc/systemd/system/$name.service 2>&1)
[ -z \"\$warnings\" ] || { echo \"systemd-analyze verify: \$warnings\" >&2; exit 1; }
qemu-aarch64-static /usr/local/bin/ollama-proxy-client --version" 2>"$work/release.log")" ||
    { cat "$work/release.log"; fail "the README's install of a release binary, or the by-hand unit"; }
expect "the installed aarch64 binary's --version" "$said" "$name $version"
ok "sha256sum -c, the aarch64 binary in /usr/local/bin (qemu), the by-hand unit verified"
verify="$(systemd-analyze verify "$unit_file" 2>&1)" || fail "systemd-analyze verify: $verify"
[ -z "$verify" ] || fail "systemd-analyze verify warns: $verify"
# It prints problems rather than failing: a broken copy must show some.
{ cat "$unit_file"; printf '[Service]\nNoSuchKey=1\n'; } >"$work/broken.service"
systemd-analyze verify "$work/broken.service" 2>&1 | grep -q NoSuchKey ||
    fail "systemd-analyze verify did not report a broken copy of the unit; the check proves nothing"
ok "systemd-analyze verify $unit_file: no warning"
# As scripts/check-service.sh holds the unit of scripts/ to it.
score="$(systemd-analyze security --offline=yes "$unit_file" 2>&1 |
    sed -n 's/.*Overall exposure level for .*: \([0-9.]*\).*/\1/p')"
[ -n "$score" ] || fail "systemd-analyze security printed no exposure level"
awk -v s="$score" 'BEGIN { exit !(s <= 2.0) }' || fail "the installed unit's exposure is $score, above 2.0"
ok "systemd-analyze security: exposure $score (at most 2.0)"
expect "ollama-proxy-client --version" "$(ollama-proxy-client --version)" "$name $version"
expect "man -w" "$(man -w "$name")" "/usr/share/man/man1/$name.1.gz"
expect "man -L ru -w" "$(man -L ru -w "$name")" "/usr/share/man/ru/man1/$name.1.gz"
# As an owner reads them: formatted, every section there, in each language.
shown="$(LC_ALL=C.UTF-8 MANWIDTH=80 man "$name" 2>&1)" || fail "man $name: $shown"
shown_ru="$(LC_ALL=C.UTF-8 MANWIDTH=80 man -L ru "$name" 2>&1)" || fail "man -L ru $name: $shown_ru"
for title in NAME SYNOPSIS DESCRIPTION OPTIONS CONFIGURATION FILES ENVIRONMENT "EXIT STATUS" EXAMPLES "SEE ALSO"; do
    grep -qx "$title" <<<"$shown" || fail "man $name shows no $title section"
done
for title in ИМЯ ОБЗОР ОПИСАНИЕ ПАРАМЕТРЫ НАСТРОЙКИ ФАЙЛЫ ОКРУЖЕНИЕ "КОДЫ ВЫХОДА" ПРИМЕРЫ "СМОТРИТЕ ТАКЖЕ"; do
    grep -qx "$title" <<<"$shown_ru" || fail "man -L ru $name shows no $title section"
done
for key in max_parallel ledger_files_kept buyer_language; do
    grep -q "^       $key" <<<"$shown" || fail "man $name lacks the key $key under CONFIGURATION"
    grep -q "^       $key" <<<"$shown_ru" || fail "man -L ru $name lacks the key $key"
done
grep -q "Must be a whole number from 1 to 256" <<<"$shown" || fail "man $name does not show max_parallel's range"
ok "--version, man -w, man -L ru -w; man and man -L ru show every section and key"
expect "systemctl is-enabled" "$(systemctl is-enabled "$name" 2>&1 || true)" disabled
[ ! -e "$enable_link" ] || fail "installing enabled the unit"
ok "not enabled, not started"

# The service's view: the env file as shipped (no token), the service user.
status_serve=0
sh -c "set -a; . $env_file; exec runuser -u $user -- env -u LANG LC_ALL=C $name" </dev/null \
    >"$work/serve.log" 2>&1 || status_serve=$?
[ "$status_serve" -eq 78 ] || { cat "$work/serve.log"; fail "without a token: exit $status_serve, expected 78"; }
grep -q 'RestartPreventExitStatus=2 78' "$unit_file" || fail "the unit would restart after exit 78"
ok "the shipped env file has no token: exit 78, which the unit does not restart"
# The README's commands: the model as the service user, then --check.
sudo -u ollama-proxy -H ollama-proxy-client --force-model llama3.2 --show-config >/dev/null </dev/null
status_check=0
sh -c "set -a; . $env_file; exec runuser -u $user -- env LC_ALL=C $name --check" </dev/null \
    >"$work/check.log" 2>&1 || status_check=$?
grep -q "config $data/config.json: no hub token" "$work/check.log" || {
    cat "$work/check.log"
    fail "the README's --check command did not check the service user's config"
}
expect "--check without a token" "$status_check" 1
ok "the README's --force-model and --check run as $user on $data/config.json"

# ---------------------------------------------------------------- upgrade
echo "== the owner edits the env file and enables the unit; the box serves (config, ledger)"
sed -i 's/^OLLAMA_PROXY_TOKEN=$/OLLAMA_PROXY_TOKEN=kept-over-the-upgrade/' "$env_file"
echo 'OLLAMA_HOST=127.0.0.1:11434' >>"$env_file"
runuser -u "$user" -- sh -c "echo '{\"event\":\"start\"}' >>$data/ledger.jsonl"
systemctl enable "$name" 2>/dev/null
[ -L "$enable_link" ] || fail "systemctl enable made no link"
before="$(sums)"
echo "== upgrade: apt install ./${name}_${up_version}_amd64.deb"
DEB_VERSION="$up_version" DEB_OUTDIR="$work/up" scripts/build-deb.sh amd64 >/dev/null
dpkg --compare-versions "$up_version" gt "$version" || fail "$up_version is not higher than $version"
apt_deb install "$work/up/${name}_${up_version}_amd64.deb"
expect status "$(dpkg-query -W -f='${Status} ${Version}' "$name")" "install ok installed $up_version"
expect "env file, config and ledger" "$(sums)" "$before"
expect "env file mode" "$(modes "$env_file")" "600 root root $env_file"
[ -z "$(ls "$env_file".dpkg-* 2>/dev/null)" ] || fail "the upgrade left $(ls "$env_file".dpkg-*)"
expect "uid" "$(id -u "$user")" "$uid"
[ -L "$enable_link" ] || fail "the upgrade disabled the unit"
ok "upgraded to $up_version: env file (edited), config, ledger, user and enable kept; no conffile prompt"

# ---------------------------------------------------------------- remove, purge
echo "== apt remove"
apt_deb remove "$name"
expect status "$(status)" config-files
if [ -e /usr/bin/$name ] || [ -e "$unit_file" ]; then fail "remove left the binary or the unit"; fi
expect "env file, config and ledger" "$(sums)" "$before"
getent passwd "$user" >/dev/null || fail "remove deleted the user"
ok "removed: binary and unit gone; env file, config, ledger, user kept"

echo "== apt purge"
apt_deb purge "$name"
expect status "$(status)" not-installed
for gone in "$env_file" "$home" "$enable_link" "$dsh_state"; do
    if [ -e "$gone" ] || [ -L "$gone" ]; then fail "purge left $gone"; fi
done
! getent passwd "$user" >/dev/null || fail "purge left the user $user"
! getent group "$user" >/dev/null || fail "purge left the group $user"
ok "purged: env file, $home, user, group and the enable link gone"

# ---------------------------------------------------------------- with systemd
# dpkg in a private mount namespace whose /run/systemd/system exists, with
# systemctl and deb-systemd-invoke recording their arguments instead.
echo "== the maintainer scripts with a running systemd (recorded calls)"
mkdir -p "$work/stubs"
for tool in systemctl deb-systemd-invoke; do
    printf '#!/bin/sh\necho "%s $*" >>"%s"\n' "$tool" "$work/calls" >"$work/stubs/$tool"
    chmod 0755 "$work/stubs/$tool"
done
with_systemd() { # expected calls, dpkg arguments...
    local want=$1
    shift
    : >"$work/calls"
    # shellcheck disable=SC2016 # expanded by the inner shell
    unshare --mount -- sh -c 'mount -t tmpfs -o mode=0755 tmpfs /run/systemd &&
        mkdir /run/systemd/system && PATH="$0:$PATH" exec dpkg "$@"' "$work/stubs" "$@" \
        </dev/null >"$work/dpkg.log" 2>&1 || { cat "$work/dpkg.log"; fail "dpkg $*"; }
    expect "systemd calls of dpkg $1" "$(cat "$work/calls")" "$want"
}
reload="systemctl --system daemon-reload"
with_systemd "$reload" -i "$(deb amd64)"
ok "install: daemon-reload only, nothing started"
with_systemd "$reload
deb-systemd-invoke try-restart $name.service" -i "$work/up/${name}_${up_version}_amd64.deb"
ok "upgrade: restarts the service if it runs (try-restart), never stopped first"
with_systemd "deb-systemd-invoke stop $name.service
$reload" -r "$name"
ok "remove: stopped, then daemon-reload"
with_systemd "$reload" -P "$name"
expect status "$(status)" not-installed
if getent passwd "$user" >/dev/null || [ -e "$home" ]; then fail "purge left the user or $home"; fi
ok "purge: daemon-reload; user and $home gone"

echo "== PASS"
