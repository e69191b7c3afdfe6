# SPDX-License-Identifier: Apache-2.0
# ctattn_board_firmware(TARGET BOARD): makes the executable TARGET a firmware image for one of
# QEMU's boards with the templates beside this file: the start-up code (reset into main,
# semihosting output and exit; startup.c on Arm, startup_riscv.c on RISC-V) and BOARD.ld
# (mps2-an385 Cortex-M3, mps2-an386 Cortex-M4F, mps2-an500 Cortex-M7, mps3-an547 Cortex-M55;
# virt-rv32 for RV32). Run it with
#   qemu-system-arm -M BOARD -nographic -monitor none -serial none \
#                   -semihosting-config enable=on,target=native -kernel TARGET.elf
# or, for virt-rv32, qemu-system-riscv32 -M virt -cpu rv32,d=false -bios none ... (the same options).
# A real board starts from the same files with its own memory map and UART.
get_filename_component(CTATTN_BOARDS_DIR "${CMAKE_CURRENT_LIST_DIR}/.." ABSOLUTE)
# The start-up code is C. Enabled here, at file scope: inside the function CMake's C rules would
# stay in the function's scope (CMAKE_C_COMPILE_OBJECT unset at generation).
enable_language(C)

function(ctattn_board_firmware target board)
    set(script "${CTATTN_BOARDS_DIR}/${board}.ld")
    if(NOT EXISTS "${script}")
        message(FATAL_ERROR "ctattn_board_firmware: no linker script ${script}")
    endif()
    if(board MATCHES "^virt-rv32")
        target_sources(${target} PRIVATE "${CTATTN_BOARDS_DIR}/startup_riscv.c")
    else()
        target_sources(${target} PRIVATE "${CTATTN_BOARDS_DIR}/startup.c")
    endif()
    target_include_directories(${target} PRIVATE "${CTATTN_BOARDS_DIR}")
    target_link_options(${target} PRIVATE -nostartfiles "-T${script}" "-L${CTATTN_BOARDS_DIR}")
    set_target_properties(${target} PROPERTIES SUFFIX ".elf" LINK_DEPENDS "${script};${CTATTN_BOARDS_DIR}/sections.ld")
endfunction()
