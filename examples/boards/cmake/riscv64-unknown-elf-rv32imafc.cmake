# SPDX-License-Identifier: Apache-2.0
# CMake toolchain file for bare-metal RV32IMAFC (single-precision FPU, hard-float ABI ilp32f): QEMU
# board virt-rv32, with Debian's gcc-riscv64-unknown-elf and picolibc-riscv64-unknown-elf; the
# same flags as cross/riscv64-unknown-elf.ini (docs/integration.md, "RISC-V microcontrollers":
# libstdc++'s headers from libstdc++-arm-none-eabi-dev, no C++ runtime library to link).
#   cmake -S app -B build -DCMAKE_TOOLCHAIN_FILE=<ctattn>/examples/boards/cmake/riscv64-unknown-elf-rv32imafc.cmake
#         -DCMAKE_BUILD_TYPE=MinSizeRel
# then include(<ctattn>/examples/boards/cmake/board.cmake) and ctattn_board_firmware(app virt-rv32).
# For RV32IMAC (no FPU) use -march=rv32imac -mabi=ilp32 instead.
set(CMAKE_SYSTEM_NAME Generic)
set(CMAKE_SYSTEM_PROCESSOR riscv32)
set(CMAKE_C_COMPILER riscv64-unknown-elf-gcc)
set(CMAKE_CXX_COMPILER riscv64-unknown-elf-g++)
# No OS to link a test program against: CMake's compiler checks build a static library instead.
set(CMAKE_TRY_COMPILE_TARGET_TYPE STATIC_LIBRARY)

set(cpu_flags "-march=rv32imafc -mabi=ilp32f --specs=picolibc.specs")
set(libstdcxx_headers "/usr/include/newlib/c++/12.2.1")
set(CMAKE_C_FLAGS_INIT "${cpu_flags} -ffunction-sections -fdata-sections")
set(CMAKE_CXX_FLAGS_INIT "${cpu_flags} -isystem ${libstdcxx_headers} -isystem ${libstdcxx_headers}/arm-none-eabi/thumb/v7-m/nofp -fno-exceptions -fno-rtti -fno-threadsafe-statics -ffunction-sections -fdata-sections")
# CMake links with the compile flags too, which carry the --specs (GCC refuses to read it twice).
set(CMAKE_EXE_LINKER_FLAGS_INIT "-nostartfiles -nodefaultlibs -Wl,--gc-sections")
# After the objects: the C libraries by name (there is no libstdc++ to link, see above).
set(CMAKE_CXX_STANDARD_LIBRARIES "-Wl,--start-group -lc -lm -lsemihost -lgcc -Wl,--end-group")
set(CMAKE_C_STANDARD_LIBRARIES "${CMAKE_CXX_STANDARD_LIBRARIES}")

# Programs come from the build machine; the build machine's headers and libraries must not be
# taken for the target's (ctattn's CTATTN_HEADER_PACKAGES exposes header-only packages alone).
set(CMAKE_FIND_ROOT_PATH_MODE_PROGRAM NEVER)
