#!/usr/bin/env bash
# Disk trouble, for real: the release cove-server on a 4 MiB tmpfs, real
# clients (server/examples/disk_trouble/), the disk filled up and freed,
# then remounted read-only and writable again, all without restarting the
# server. Then the server is restarted once to check that what is on the
# disk opens and verifies.
#
#   sudo scripts/disk-trouble.sh            # needs root (mount), Linux
#
# Runs in a private mount namespace (unshare -m), so the tmpfs disappears
# with the script whatever happens. Work files and logs go to
# target/disk-trouble/. Environment: USERS (6), PER_USER (10), FILLING (100).
set -euo pipefail

SELF=$(realpath "$0")
ROOT=$(cd "$(dirname "$SELF")/.." && pwd)
WORK=${WORK:-$ROOT/target/disk-trouble}
MNT=$WORK/mnt
DATA=$MNT/data
SERVER=$ROOT/target/release/cove-server
DRIVER=$ROOT/target/release/examples/disk_trouble

# Hooks, run by the driver between phases (inside the namespace).
if [[ ${1:-} == hook ]]; then
  case $2 in
    fill)
      # Fill every free byte. dd stops at ENOSPC.
      dd if=/dev/zero of="$MNT/filler" bs=64k status=none 2>/dev/null || true
      echo "   filler: $(du -k "$MNT/filler" | cut -f1) KiB; $(df -k --output=avail "$MNT" | tail -1 | tr -d ' ') KiB free"
      ;;
    fillslow)
      # Fill in 64 KiB steps, 10 ms apart, while clients are sending.
      while dd if=/dev/zero of="$MNT/filler" bs=64k count=1 oflag=append conv=notrunc status=none 2>/dev/null; do
        sleep 0.01
      done
      echo "   filler: $(du -k "$MNT/filler" | cut -f1) KiB; $(df -k --output=avail "$MNT" | tail -1 | tr -d ' ') KiB free"
      ;;
    unfill)
      rm -f "$MNT/filler"
      echo "   filler removed; $(df -k --output=avail "$MNT" | tail -1 | tr -d ' ') KiB free"
      ;;
    ro)
      # The kernel refuses while a file is open for writing; the server
      # closes idle history files after 5 s.
      start=$(date +%s%N)
      tries=0
      until mount -o remount,ro "$MNT" 2>/dev/null; do
        tries=$((tries + 1))
        if ((tries > 100)); then echo "   remount ro still busy after 20 s" >&2; exit 1; fi
        sleep 0.2
      done
      echo "   remounted read-only after $((($(date +%s%N) - start) / 1000000)) ms ($tries busy tries)"
      ;;
    rw)
      mount -o remount,rw "$MNT"
      echo "   remounted read-write"
      ;;
    *) echo "unknown hook $2" >&2; exit 2 ;;
  esac
  exit 0
fi

if [[ ${1:-} != inside ]]; then
  [[ $(id -u) == 0 ]] || { echo "needs root (mount)" >&2; exit 1; }
  cd "$ROOT"
  cargo build --release -p cove-server --bin cove-server --example disk_trouble
  mkdir -p "$WORK"
  exec unshare -m --propagation private "$SELF" inside
fi

# Inside the private mount namespace.
cd "$ROOT"
mkdir -p "$MNT"
mount -t tmpfs -o size=4m,mode=0700 tmpfs "$MNT"
SERVER_PID=
cleanup() {
  if [[ -n $SERVER_PID ]] && kill -0 "$SERVER_PID" 2>/dev/null; then
    kill "$SERVER_PID"; wait "$SERVER_PID" || true
  fi
  mount -o remount,rw "$MNT" 2>/dev/null || true
  umount "$MNT" 2>/dev/null || true
}
trap cleanup EXIT

start_server() {
  local log=$1
  rm -f "$WORK/server.out"
  : >"$log"
  # The driver sends bursts to fill the disk: the per-user send rate would
  # refuse them before the disk could.
  NO_COLOR=1 "$SERVER" --listen 127.0.0.1:0 --data-dir "$DATA" \
    --messages-per-second-per-user 0 >"$WORK/server.out" 2>>"$log" &
  SERVER_PID=$!
  for _ in $(seq 100); do
    ADDR=$(sed -n 's/^Cove server listening on //p' "$WORK/server.out")
    [[ -n $ADDR ]] && return 0
    sleep 0.1
  done
  echo "server did not start" >&2; cat "$log" >&2; exit 1
}

echo "== $(date -u +%FT%TZ) on $(nproc) cores, kernel $(uname -r)"
echo "== tmpfs: $(df -k --output=size "$MNT" | tail -1 | tr -d ' ') KiB at $MNT"
start_server "$WORK/server.log"
echo "== server pid $SERVER_PID at $ADDR"
status=0
"$DRIVER" run --addr "$ADDR" --hook "$SELF hook" --state "$WORK/expected.json" \
  --users "${USERS:-6}" --per-user "${PER_USER:-10}" --filling "${FILLING:-100}" || status=$?
if ! kill -0 "$SERVER_PID" 2>/dev/null; then
  echo "== the server DIED during the run" >&2; status=1
else
  echo "== server still running (pid $SERVER_PID), never restarted during the run"
fi
echo "== server log: $(grep -c ' ERROR ' "$WORK/server.log" || true) ERROR lines, $(grep -c ' WARN ' "$WORK/server.log" || true) WARN lines:"
grep -E ' (ERROR|WARN) ' "$WORK/server.log" | cut -c 28- | sed -E 's/[0-9a-f]{32}/<user>/g; s/^/   /' | head -20 || true

echo "== restart (SIGTERM, start again on the same tmpfs) to check what is on disk"
kill "$SERVER_PID"; wait "$SERVER_PID" || true
echo "== files on the tmpfs:"; ls -la "$DATA" "$DATA/chat_histories" | sed 's/^/   /' | head -30
stray=$(find "$DATA" \( -name '*.corrupt-*' -o -name '*.tmp' \) | wc -l)
echo "== files moved aside as corrupt or temporary files left: $stray"
((stray == 0)) || status=1
start_server "$WORK/server-restart.log"
"$DRIVER" verify --addr "$ADDR" --state "$WORK/expected.json" || status=$?
cut=$(grep -cE 'torn|corrupt' "$WORK/server-restart.log" || true)
echo "== torn or corrupt history records found when the restarted server reopened the files: $cut"
((cut == 0)) || status=1
echo "== exit status $status"
exit $status
