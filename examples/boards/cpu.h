/* SPDX-License-Identifier: Apache-2.0 */
/* The only instructions the board code needs by name, one definition per architecture: the
 * semihosting trap (the debugger's, here QEMU's, channel for text out and the exit status) and
 * the stack pointer. Arm (Cortex-M) traps with `bkpt 0xAB`; RISC-V with the three-instruction
 * sequence of the RISC-V semihosting spec. Both take the operation in the first argument register
 * (r0 / a0), its argument in the second (r1 / a1), and return in the first. Used by startup.c,
 * startup_riscv.c and the firmware tests (tests/embedded/semihosting.hpp, startup.cpp). */
#ifndef CTATTN_BOARD_CPU_H
#define CTATTN_BOARD_CPU_H

#include <stdint.h>

#if defined(__riscv)
/* slli x0,x0,0x1f; ebreak; srai x0,x0,7: uncompressed (.option norvc) and within one page, or
 * QEMU takes the ebreak for a plain breakpoint. Out of line, aligned to 16 bytes, with nothing
 * before the sequence, so the 12 bytes never straddle a page. The arguments are already in a0
 * and a1 (the calling convention), and the result is left in a0. noipa: the compiler must treat
 * every call as reading memory (the text) and never inline or clone the function. */
__attribute__((naked, noipa, aligned(16), unused)) static uint32_t cpu_semihost(uint32_t op, const void* arg) {
    (void)op;
    (void)arg;
    __asm__ volatile(
        ".option push\n\t"
        ".option norvc\n\t"
        "slli x0, x0, 0x1f\n\t"
        "ebreak\n\t"
        "srai x0, x0, 7\n\t"
        ".option pop\n\t"
        "ret");
}

static inline uintptr_t cpu_stack_pointer(void) {
    uintptr_t sp;
    __asm__ volatile("mv %0, sp" : "=r"(sp));
    return sp;
}
#elif defined(__arm__)
static inline uint32_t cpu_semihost(uint32_t op, const void* arg) {
    register uint32_t r0 __asm__("r0") = op;
    register const void* r1 __asm__("r1") = arg;
    __asm__ volatile("bkpt 0xab" : "+r"(r0) : "r"(r1) : "memory");
    return r0;
}

static inline uintptr_t cpu_stack_pointer(void) {
    uintptr_t sp;
    __asm__ volatile("mov %0, sp" : "=r"(sp));
    return sp;
}
#else
#error "examples/boards/cpu.h: the board code knows Arm (Cortex-M) and RISC-V"
#endif

/* Both architectures have `wfi`: where a board without a debugger parks after the exit call. */
static inline void cpu_wait_for_interrupt(void) { __asm__ volatile("wfi"); }

#endif /* CTATTN_BOARD_CPU_H */
