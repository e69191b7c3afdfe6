#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# tools/deps.sh's ctattn_setup (what tools/run_tests.sh sets each folder up with) over the folder an
# interrupted first `meson setup` leaves: meson-logs/ and part of meson-private/, no coredata.dat.
# Plain `meson setup --reconfigure` must fail on it (the control: the folder is really broken);
# ctattn_setup must wipe it and leave a build tree meson accepts. Header-only options keep it fast.
# usage: test_setup_recovers.sh SOURCE_DIR
set -euo pipefail
source_dir=$(cd "$1" && pwd)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
. "$source_dir/tools/deps.sh"
dir="$work/build-interrupted"
mkdir -p "$dir/meson-logs" "$dir/meson-private"
echo "Build started at (interrupted)" >"$dir/meson-logs/meson-log.txt"
options=(-Dtests=disabled -Dbench=disabled -Dexamples=disabled)
cd "$source_dir"
if meson setup --reconfigure "$dir" "${options[@]}" >"$work/control.log" 2>&1; then
  echo "FAIL: meson setup --reconfigure accepted the interrupted folder; the control is void"
  exit 1
fi
grep -q "valid build tree" "$work/control.log" || { echo "FAIL: unexpected control failure:"; cat "$work/control.log"; exit 1; }
ctattn_setup "$dir" "${options[@]}" >/dev/null
meson introspect "$dir" --buildoptions >/dev/null
# And a healthy folder is reconfigured in place (not wiped): a file left in it survives.
touch "$dir/kept"
ctattn_setup "$dir" "${options[@]}" >/dev/null
[ -f "$dir/kept" ] || { echo "FAIL: a valid build folder was wiped instead of reconfigured"; exit 1; }
echo "PASS: an interrupted setup folder is set up afresh, a valid one reconfigured"
