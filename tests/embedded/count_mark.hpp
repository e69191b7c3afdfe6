// SPDX-License-Identifier: Apache-2.0
// ctattn_count_mark(): the marker call the QEMU plugin (tools/qemu_insn_count.c) records its running
// counts at. One instruction, a return (`bx lr` on Arm, `ret` on RISC-V), so the plugin sees exactly
// one execution per call; a call the compiler cannot see into, so no work moves across it. Defined
// once here, per architecture, for every image that counts (firmware tests, bench/embedded).
#pragma once

#if defined(__riscv)
asm(".section .text.ctattn_count_mark,\"ax\",%progbits\n"
    ".global ctattn_count_mark\n"
    ".type ctattn_count_mark, %function\n"
    "ctattn_count_mark:\n"
    "    ret\n"
    ".size ctattn_count_mark, .-ctattn_count_mark\n"
    ".previous\n");
#else
asm(".section .text.ctattn_count_mark,\"ax\",%progbits\n"
    ".global ctattn_count_mark\n"
    ".type ctattn_count_mark, %function\n"
    ".thumb_func\n"
    "ctattn_count_mark:\n"
    "    bx lr\n"
    ".size ctattn_count_mark, .-ctattn_count_mark\n"
    ".previous\n");
#endif
extern "C" void ctattn_count_mark();
