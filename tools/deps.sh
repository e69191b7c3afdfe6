# SPDX-License-Identifier: Apache-2.0
# Debian 12 packages ctattn needs, and a function that installs only the missing ones.
# Sourced by tools/run_demo.sh and tools/run_tests.sh; also sets up build folders (ctattn_setup).

# Host build, tests, benchmarks.
CTATTN_PACKAGES=(
  g++ meson ninja-build pkg-config python3 cmake
  libxsimd-dev libboost-dev catch2 libbenchmark-dev libeigen3-dev
)
# The whole suite's extras (tools/run_tests.sh): the second host compiler (build-clang) and the
# API reference, built by a test from docs/Doxyfile.
CTATTN_SUITE_PACKAGES=(clang-14 doxygen)
# Cross toolchains and emulators for the embedded tests (cross/, tests/embedded/).
CTATTN_CROSS_PACKAGES=(
  gcc-arm-none-eabi libstdc++-arm-none-eabi-newlib g++-aarch64-linux-gnu qemu-user qemu-system-arm
  # RV32 firmware (cross/riscv64-unknown-elf.ini): compiler, picolibc, qemu-system-riscv32, and the
  # libstdc++ headers it borrows from the Arm package (Debian has none for riscv64-unknown-elf).
  gcc-riscv64-unknown-elf picolibc-riscv64-unknown-elf qemu-system-misc libstdc++-arm-none-eabi-dev
)
# Fuzzing (tests/fuzz): clang 14 with libFuzzer and the sanitizer runtimes.
CTATTN_FUZZ_PACKAGES=(clang-14 libclang-rt-14-dev)

ctattn_install_missing() {
  local missing=()
  local pkg
  for pkg in "$@"; do
    dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
  done
  [ ${#missing[@]} -eq 0 ] && return 0
  echo "ctattn: installing ${missing[*]}"
  local sudo=""
  [ "$(id -u)" -eq 0 ] || sudo="sudo"
  $sudo apt-get update -q
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -q --no-install-recommends "${missing[@]}"
}

# ctattn_setup DIR [OPTIONS...]: `meson setup` DIR, reconfiguring a folder that holds a build tree.
# A folder without one (a first setup that was interrupted or failed leaves meson-logs/ but no
# meson-private/coredata.dat) would stop `meson setup --reconfigure` at "Directory does not contain
# a valid build tree": it is wiped and set up afresh. So is a tree meson refuses to reconfigure
# (e.g. written by another meson version).
ctattn_setup() {
  local dir=$1
  shift
  if [ -d "$dir" ] && [ ! -f "$dir/meson-private/coredata.dat" ]; then
    echo "ctattn: $dir holds no complete build tree (an interrupted setup?): setting it up afresh" >&2
    rm -rf "$dir"
  fi
  if [ -d "$dir" ]; then
    meson setup --reconfigure "$dir" "$@" && return 0
    echo "ctattn: $dir could not be reconfigured: setting it up afresh" >&2
    rm -rf "$dir"
  fi
  meson setup "$dir" "$@"
}
