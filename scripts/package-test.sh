#!/usr/bin/env bash
# Installs the Debian packages made by scripts/package.sh and runs what they
# installed: `cove --version`/`--help`, `cove-server --version`/`--help`, the
# installed server started and stopped on a temporary data directory, the
# desktop entry (desktop-file-validate) and the systemd unit
# (systemd-analyze verify) where those tools exist.
#
#   scripts/package.sh && scripts/package-test.sh [DEB...]
#
# With no arguments it takes target/debian/cove_*.deb and cove-server_*.deb
# (the newest of each). As root it installs them for real with apt-get
# (dependencies included, postinst run) and purges them afterwards unless
# KEEP=1; otherwise it unpacks them with `dpkg -x` into a temporary root and
# runs the binaries from there. Not part of `cargo test --workspace`:
# building the packages takes minutes.
set -euo pipefail
cd "$(dirname "$0")/.."

fail() { echo "package-test: FAIL: $*" >&2; exit 1; }
step() { echo "== $*"; }

if [ $# -gt 0 ]; then
  debs=("$@")
else
  target=$(cargo metadata --format-version 1 --no-deps |
    python3 -c 'import json, sys; print(json.load(sys.stdin)["target_directory"])')
  # shellcheck disable=SC2012 # newest first; the names are cargo-deb's own
  app=$(ls -t "$target"/debian/cove_*.deb 2>/dev/null | head -n 1 || true)
  # shellcheck disable=SC2012
  server=$(ls -t "$target"/debian/cove-server_*.deb 2>/dev/null | head -n 1 || true)
  if [ -z "$app" ] || [ -z "$server" ]; then
    fail "no packages in $target/debian; run scripts/package.sh first"
  fi
  debs=("$app" "$server")
fi

work=$(mktemp -d)
pid=
cleanup() {
  if [ -n "$pid" ]; then kill "$pid" 2>/dev/null || true; fi
  rm -rf "$work"
}
trap cleanup EXIT

step "contents"
for deb in "${debs[@]}"; do
  echo "$deb:"
  dpkg-deb --field "$deb" Package Version Depends | sed 's/^/  /'
done
for deb in "${debs[@]}"; do dpkg-deb -c "$deb" | awk '{print $6}'; done >"$work/files"
for f in ./usr/bin/cove ./usr/share/applications/cove.desktop \
  ./usr/share/icons/hicolor/128x128/apps/cove.png ./usr/bin/cove-server \
  ./etc/default/cove-server; do
  grep -qx "$f" "$work/files" || fail "$f is not in the packages"
done
unit=$(grep -E '/systemd/system/cove-server\.service$' "$work/files" | head -n 1) ||
  fail "cove-server.service is not in the packages"
grep 'icons/hicolor/' "$work/files" | grep '\.png$' | sed 's/^/  /'

installed=no
if [ "$(id -u)" = 0 ] && [ "${EXTRACT:-0}" != 1 ]; then
  step "install (apt-get install ./*.deb, as root)"
  debs_abs=()
  for deb in "${debs[@]}"; do debs_abs+=("$(realpath "$deb")"); done
  DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends "${debs_abs[@]}" >"$work/apt.log" 2>&1 ||
    { cat "$work/apt.log" >&2; fail "apt-get install"; }
  tail -n 3 "$work/apt.log"
  installed=yes
  root=
  if [ "${KEEP:-0}" != 1 ]; then
    trap 'cleanup; apt-get purge -y cove cove-server >/dev/null 2>&1 || true' EXIT
  fi
  dpkg -s cove cove-server | grep -E '^(Package|Status|Version):'
  # postinst made the passphrase credential file, root's alone, empty.
  [ "$(stat -c '%a %U %s' /etc/cove-server/passphrase)" = "600 root 0" ] ||
    fail "/etc/cove-server/passphrase: $(stat -c '%a %U %s' /etc/cove-server/passphrase)"
  echo "/etc/cove-server/passphrase: mode 600, root, empty"
  unit=${unit#.}
else
  step "extract (dpkg -x, not root or EXTRACT=1)"
  root=$work/root
  for deb in "${debs[@]}"; do dpkg -x "$deb" "$root"; done
  unit=$root${unit#.}
fi

step "cove --version / --help"
"$root/usr/bin/cove" --version
"$root/usr/bin/cove" --help | head -n 3
if "$root/usr/bin/cove" --no-such-flag 2>/dev/null; then fail "cove accepted an unknown flag"; fi

step "cove-server --version / --help"
"$root/usr/bin/cove-server" --version
"$root/usr/bin/cove-server" --help >"$work/help"
head -n 3 "$work/help"
grep -q -- '--data-dir' "$work/help" || fail "cove-server --help does not list --data-dir"
grep -q 'COVE_PASSPHRASE_FILE' "$work/help" || fail "cove-server --help does not mention COVE_PASSPHRASE_FILE"

step "cove-server runs (as the unit starts it, on a temporary data directory)"
: >"$work/passphrase"
COVE_PASSPHRASE_FILE=$work/passphrase "$root/usr/bin/cove-server" \
  --listen 127.0.0.1:0 --data-dir "$work/data" --log-level warn >"$work/out" 2>"$work/err" &
pid=$!
for _ in $(seq 100); do
  grep -q '^Server fingerprint' "$work/out" && break
  kill -0 "$pid" 2>/dev/null || { cat "$work/err" >&2; fail "cove-server exited"; }
  sleep 0.1
done
cat "$work/out"
grep -q '^Cove server listening on 127.0.0.1:' "$work/out" || fail "cove-server did not start"
# The SIGTERM handler is set up just after that line is printed.
sleep 1
kill -TERM "$pid"
wait "$pid" || fail "cove-server did not exit cleanly on SIGTERM"
pid=

step "desktop entry"
desktop=$root/usr/share/applications/cove.desktop
grep -E '^(Name|Exec|Icon|Categories)=' "$desktop"
if command -v desktop-file-validate >/dev/null; then
  desktop-file-validate "$desktop" || fail "desktop-file-validate"
  echo "desktop-file-validate: no complaints"
else
  echo "desktop-file-validate not installed (apt-get install desktop-file-utils); skipped"
fi

step "systemd unit"
if command -v systemd-analyze >/dev/null; then
  if [ "$installed" = yes ]; then
    systemd-analyze verify "$unit" 2>&1 | tee "$work/verify"
  else
    # Outside the real root, /usr/bin/cove-server is not where ExecStart
    # says; verify a copy pointing at the extracted binary.
    sed "s|/usr/bin/cove-server|$root/usr/bin/cove-server|" "$unit" >"$work/cove-server.service"
    systemd-analyze verify "$work/cove-server.service" 2>&1 | tee "$work/verify"
  fi
  if grep -i 'cove-server.service' "$work/verify"; then fail "systemd-analyze verify complained about the unit"; fi
  echo "systemd-analyze verify: no complaints about cove-server.service"
  # The hardening as systemd scores it (0 = most locked down, 10 = none).
  if [ "$installed" = yes ]; then
    systemd-analyze security --offline=true "$unit" 2>/dev/null | tail -n 1 || true
  fi
else
  echo "systemd-analyze not installed; skipped"
fi

if [ "$installed" = yes ] && [ "${KEEP:-0}" != 1 ]; then
  step "purge"
  # A passphrase written to the credential file outlives the purge (the data
  # it opens stays in /var/lib/private/cove); an empty one goes.
  echo "test passphrase" >/etc/cove-server/passphrase
  apt-get purge -y cove cove-server >/dev/null 2>&1 || fail "apt-get purge"
  [ -s /etc/cove-server/passphrase ] || fail "purge removed a passphrase that was set"
  [ ! -e /etc/default/cove-server ] || fail "purge left /etc/default/cove-server"
  rm -f /etc/cove-server/passphrase
  rmdir /etc/cove-server
  echo "purged; a passphrase that was set is kept"
fi

echo "package-test: all passed ($installed installed, ${#debs[@]} packages)"
