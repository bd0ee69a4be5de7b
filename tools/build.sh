#!/usr/bin/env bash
# Configures and builds Postern in DIR (default: build), optionally with
# extra meson options: tools/build.sh build-asan -Db_sanitize=address,undefined
set -euo pipefail
cd "$(dirname "$0")/.."
dir=${1:-build}
shift || true
# Quiet when all goes well; what meson or ninja said when it does not.
out=$(mktemp)
trap 'rm -f "$out"' EXIT
if [ -d "$dir" ] && [ -f "$dir/build.ninja" ]; then
  # `meson configure`, not `setup --reconfigure`: meson 1.0 (Debian 12)
  # ignores a changed c_link_args on reconfigure.
  meson configure "$dir" "$@" > "$out" 2>&1 || { cat "$out"; exit 1; }
else
  meson setup "$dir" "$@" > "$out" 2>&1 || { cat "$out"; exit 1; }
fi
ninja -C "$dir" > "$out" 2>&1 || { cat "$out"; exit 1; }
