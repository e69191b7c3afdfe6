// SPDX-License-Identifier: Apache-2.0
// attention_fw.cpp's layer and check on a board from examples/boards/ (start-up code, linker
// script, semihosting: startup_riscv.c and virt-rv32.ld for RISC-V), for the consumer builds that
// go through the board templates: the CMake toolchain files beside board.cmake and pkg-config.
// Exit status 0 under QEMU: the layer matched the hand arithmetic.
#define CTATTN_FIRMWARE_BOARD_TEMPLATES 1
#include "attention_fw.cpp"

// Called by the board's start-up code, which ends the run with main's verdict.
int main() { return run_layer() ? 0 : 1; }
