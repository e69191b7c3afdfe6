/* SPDX-License-Identifier: Apache-2.0 */
/* Start-up code for QEMU's Arm MPS2/MPS3 Cortex-M boards, without the C library's crt0 (link with
 * -nostartfiles and one of the board scripts here: mps2-an385.ld (M3), mps2-an386.ld (M4F),
 * mps2-an500.ld (M7), mps3-an547.ld (M55); each INCLUDEs sections.ld, whose symbols this uses).
 * Vector table, FPU enable, .data copy, .bss clear, board_before_main(), static constructors,
 * main(), then SYS_EXIT with main's verdict; every fault ends the run as a failure. board.h has
 * the interface. A real board keeps this shape and replaces semihosting with its UART. */
#include <stdint.h>

#include "startup_common.h"

extern uint32_t __data_load[], __data_start[], __data_end[];
extern uint32_t __bss_start[], __bss_end[];
extern uint32_t __stack_top[];

void reset_handler(void) __attribute__((noreturn));
void fault_handler(void) __attribute__((noreturn));

static void enable_fpu(void) {
#if defined(__ARM_FP) || defined(__ARM_FEATURE_MVE)
    /* CPACR bits 20..23: full access to coprocessors 10 and 11 (the FPU, and MVE on v8.1-M).
     * Until then the first floating-point instruction raises a UsageFault (NOCP). */
    volatile uint32_t* cpacr = (volatile uint32_t*)0xE000ED88u;
    *cpacr = *cpacr | (0xFu << 20);
    __asm__ volatile("dsb\n\tisb" ::: "memory");
#endif
}

void reset_handler(void) {
    enable_fpu();
    startup_copy_words(__data_start, __data_end, __data_load);
    startup_zero_words(__bss_start, __bss_end);
    startup_run_program();
}

void fault_handler(void) {
    /* A fault (bad address, undefined instruction, FPU access while disabled, stack overflow into
     * the guard) ends the run as a failure instead of hanging until a test's timeout. */
    board_write("FAIL: CPU fault (HardFault/MemManage/BusFault/UsageFault)\n");
    board_exit(0);
}

/* Initial stack pointer, then the handlers for reset and the system exceptions. The core reads
 * the table at VTOR, which resets to 0 on these boards; sections.ld places .vectors there.
 * Interrupts are never enabled, so the table stops after SysTick. */
typedef void (*vector_entry)(void);
__attribute__((section(".vectors"), used)) const vector_entry vector_table[16] = {
    (vector_entry)(uintptr_t)__stack_top, /* initial SP */
    reset_handler,                        /* Reset */
    fault_handler,                        /* NMI */
    fault_handler,                        /* HardFault */
    fault_handler,                        /* MemManage */
    fault_handler,                        /* BusFault */
    fault_handler,                        /* UsageFault */
    fault_handler,                        /* SecureFault (v8-M) */
    0, 0, 0,                              /* reserved */
    fault_handler,                        /* SVCall */
    fault_handler,                        /* DebugMonitor */
    0,                                    /* reserved */
    fault_handler,                        /* PendSV */
    fault_handler,                        /* SysTick */
};
