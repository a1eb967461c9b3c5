#!/usr/bin/env bash
# Runs the real app under Xvfb against a demo server with a few people
# already talking, signs in as alice, and saves assets/screenshot.png (or
# the file named as the first argument). THEME=light or THEME=dark picks
# the app's theme (else the app follows the system's, dark where the
# system does not say). OPEN=settings opens the settings window before the
# picture is taken. Builds into $CARGO_TARGET_DIR if set.
# Needs: xvfb, imagemagick, xdotool (installed with apt-get if missing).
set -euo pipefail
cd "$(dirname "$0")/.."

if ! command -v Xvfb >/dev/null || ! command -v import >/dev/null || ! command -v xdotool >/dev/null; then
  apt-get update -qq && apt-get install -y -qq xvfb imagemagick xdotool >/dev/null
fi
# Two commands: `--example` would limit one command to the example alone,
# leaving an old `cove` behind.
cargo build --release -p cove-client --bin cove
cargo build --release -p cove-server --example demo
target=${CARGO_TARGET_DIR:-target}
out=${1:-assets/screenshot.png}

work=$(mktemp -d)
port=7979
display=:99
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; rm -rf "$work"; }
trap cleanup EXIT

Xvfb "$display" -screen 0 1280x800x24 -nolisten tcp & pids+=($!)
"$target/release/examples/demo" "127.0.0.1:$port" "$work/server" > "$work/demo.log" & pids+=($!)
for _ in $(seq 100); do grep -q ready "$work/demo.log" 2>/dev/null && break; sleep 0.2; done

# A fresh config directory: the app remembers nothing from this machine.
export XDG_CONFIG_HOME="$work/config" XDG_DATA_HOME="$work/data" DISPLAY="$display"
if [ -n "${THEME:-}" ]; then
  mkdir -p "$work/config/cove"
  printf '{"theme": "%s"}\n' "$THEME" > "$work/config/cove/settings.json"
fi
"$target/release/cove" & pids+=($!)
for _ in $(seq 100); do win=$(xdotool search --name '^Cove$' 2>/dev/null | head -1) && [ -n "$win" ] && break; sleep 0.2; done
sleep 1
xdotool windowfocus --sync "$win"
# Coordinates of the start screen's fields at the default 980x640 window.
click() { xdotool mousemove --window "$win" "$1" "$2" click 1; sleep 0.3; }
click 487 158; xdotool key ctrl+a; xdotool type --delay 15 "127.0.0.1:$port"
click 487 186; xdotool type --delay 15 alice
click 487 214; xdotool type --delay 15 "correct horse battery"
xdotool key Return
sleep 2
click 370 238   # "Trust this server"
sleep 3
click 500 612   # the message box
xdotool type --delay 10 "Thanks Bob! See you all on Saturday."
xdotool key Return
sleep 2
if [ "${OPEN:-}" = settings ]; then
  click 930 12  # "Settings…" in the top bar
  sleep 1
fi
import -window "$win" "$out"
echo "saved $out"
