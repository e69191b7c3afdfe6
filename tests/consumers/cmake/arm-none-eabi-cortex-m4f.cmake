# SPDX-License-Identifier: Apache-2.0
# CMake toolchain file for bare-metal Cortex-M4F (ARMv7E-M, single-precision FPU, hard-float ABI)
# with Debian's gcc-arm-none-eabi, as vendor SDKs write them: compiler, CPU flags, firmware flags.
set(CMAKE_SYSTEM_NAME Generic)
set(CMAKE_SYSTEM_PROCESSOR arm)
set(CMAKE_C_COMPILER arm-none-eabi-gcc)
set(CMAKE_CXX_COMPILER arm-none-eabi-g++)
# No OS to link a test program against: CMake's compiler checks build a static library instead.
set(CMAKE_TRY_COMPILE_TARGET_TYPE STATIC_LIBRARY)

set(cpu_flags "-mcpu=cortex-m4 -mthumb -mfpu=fpv4-sp-d16 -mfloat-abi=hard")
set(CMAKE_C_FLAGS_INIT "${cpu_flags} -ffunction-sections -fdata-sections")
set(CMAKE_CXX_FLAGS_INIT "${cpu_flags} -fno-exceptions -fno-rtti -fno-threadsafe-statics -ffunction-sections -fdata-sections")
set(CMAKE_EXE_LINKER_FLAGS_INIT "${cpu_flags} -nostartfiles -Wl,--gc-sections")
# Build with -DCMAKE_BUILD_TYPE=MinSizeRel for -Os, the usual firmware setting.

# Programs come from the build machine. Packages are searched the default way; for a Generic system
# that misses Debian's multiarch folders, so the build machine's xsimd and Boost are not picked up
# (Boost is exposed alone through CTATTN_HEADER_PACKAGES instead).
set(CMAKE_FIND_ROOT_PATH_MODE_PROGRAM NEVER)
