#!/usr/bin/env bash
# Builds the Debian packages of the desktop app (`cove`) and of the server
# (`cove-server`) in release mode with cargo-deb, and prints their paths.
#
#   scripts/package.sh                  # then: sudo apt install ./target/debian/*.deb
#
# Needs cargo-deb (`cargo install cargo-deb`, done here if missing). If
# ImageMagick's `convert` is there, the icon is also rendered at the smaller
# hicolor sizes; without it the package ships the 128x128 icon only.
# The packaging itself is in client-gui/Cargo.toml and server/Cargo.toml
# ([package.metadata.deb]) and in client-gui/debian/ and server/debian/.
# scripts/package-test.sh installs the result and runs it.
set -euo pipefail
cd "$(dirname "$0")/.."

if ! cargo deb --version >/dev/null 2>&1; then
  cargo install --locked cargo-deb
fi

target=$(cargo metadata --format-version 1 --no-deps |
  python3 -c 'import json, sys; print(json.load(sys.stdin)["target_directory"])')

# The icon theme's sizes, where cargo-deb's glob in client-gui/Cargo.toml
# finds them (target/release/icons/hicolor/<size>/apps/cove.png).
icons=$target/release/icons/hicolor
rm -rf "$icons"
mkdir -p "$icons/128x128/apps"
cp assets/icon.png "$icons/128x128/apps/cove.png"
if convert -version 2>/dev/null | grep -q ImageMagick; then
  for size in 16 22 24 32 48 64; do
    mkdir -p "$icons/${size}x$size/apps"
    convert assets/icon.png -resize "${size}x$size" -strip "$icons/${size}x$size/apps/cove.png"
  done
else
  echo "package.sh: ImageMagick's convert not found; shipping the 128x128 icon only" >&2
fi

# One build for both binaries, so the dependencies they share compile once;
# cargo-deb then packages what was built.
cargo build --release --locked -p cove-server -p cove-client --bins

debs=()
for pkg in cove-server cove-client; do
  # Stripped, as Debian ships binaries: the release profile's line tables
  # would triple their size. cargo-deb prints the path it wrote, last.
  deb=$(cargo deb --no-build --strip --quiet -p "$pkg" | tail -n 1)
  debs+=("$deb")
done
printf '%s\n' "${debs[@]}"
