# SPDX-License-Identifier: Apache-2.0
# Debian 12 packages ctattn needs, and a function that installs only the missing ones.
# Sourced by tools/run_demo.sh and tools/run_tests.sh.

# Host build, tests, benchmarks.
CTATTN_PACKAGES=(
  g++ meson ninja-build pkg-config python3 cmake
  libxsimd-dev libboost-dev catch2 libbenchmark-dev libeigen3-dev
)
# Cross toolchains and emulators for the embedded tests (cross/, tests/embedded/).
CTATTN_CROSS_PACKAGES=(
  gcc-arm-none-eabi libstdc++-arm-none-eabi-newlib g++-aarch64-linux-gnu qemu-user qemu-system-arm
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
