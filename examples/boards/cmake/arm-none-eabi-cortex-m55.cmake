# SPDX-License-Identifier: Apache-2.0
# CMake toolchain file for bare-metal Cortex-M55 (ARMv8.1-M with MVE and FPU, hard-float ABI): QEMU board mps3-an547,
# with Debian's gcc-arm-none-eabi, as vendor SDKs write them: compiler, CPU flags, firmware flags.
#   cmake -S app -B build -DCMAKE_TOOLCHAIN_FILE=<ctattn>/examples/boards/cmake/arm-none-eabi-cortex-m55.cmake
#         -DCMAKE_BUILD_TYPE=MinSizeRel
# then include(<ctattn>/examples/boards/cmake/board.cmake) and ctattn_board_firmware(app BOARD).
set(CMAKE_SYSTEM_NAME Generic)
set(CMAKE_SYSTEM_PROCESSOR arm)
set(CMAKE_C_COMPILER arm-none-eabi-gcc)
set(CMAKE_CXX_COMPILER arm-none-eabi-g++)
# No OS to link a test program against: CMake's compiler checks build a static library instead.
set(CMAKE_TRY_COMPILE_TARGET_TYPE STATIC_LIBRARY)

set(cpu_flags "-mcpu=cortex-m55 -mthumb -mfloat-abi=hard")
set(CMAKE_C_FLAGS_INIT "${cpu_flags} -ffunction-sections -fdata-sections")
set(CMAKE_CXX_FLAGS_INIT "${cpu_flags} -fno-exceptions -fno-rtti -fno-threadsafe-statics -ffunction-sections -fdata-sections")
set(CMAKE_EXE_LINKER_FLAGS_INIT "${cpu_flags} -nostartfiles -Wl,--gc-sections")

# Programs come from the build machine; the build machine's headers and libraries must not be
# taken for the target's (ctattn's CTATTN_HEADER_PACKAGES exposes header-only packages alone).
set(CMAKE_FIND_ROOT_PATH_MODE_PROGRAM NEVER)
