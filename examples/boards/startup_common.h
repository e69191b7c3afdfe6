/* SPDX-License-Identifier: Apache-2.0 */
/* What startup.c (Arm MPS2/MPS3) and startup_riscv.c (RISC-V virt) share once their core is set
 * up: board_write and board_exit through semihosting (cpu.h's trap; RISC-V's semihosting reuses
 * Arm's operation numbers and exit reasons), the weak board_before_main, and the C run-time's
 * start: copy a load image word by word, clear a block, then board_before_main(), static
 * constructors, main() and SYS_EXIT with main's verdict. It defines functions: one start-up file
 * per image includes it. */
#ifndef CTATTN_STARTUP_COMMON_H
#define CTATTN_STARTUP_COMMON_H

#include <stdint.h>

#include "board.h"
#include "cpu.h"

extern void (*__init_array_start[])(void);
extern void (*__init_array_end[])(void);
int main(void);

/* Semihosting operations and SYS_EXIT reasons (Arm's numbers; RV32 and AArch32 pass the reason
 * itself in the parameter register). */
enum {
    semihosting_write0 = 0x04,
    semihosting_exit = 0x18,
    adp_stopped_application_exit = 0x20026,
    adp_stopped_runtime_error = 0x20023,
};

void board_write(const char* text) { cpu_semihost(semihosting_write0, text); }

void board_exit(int success) {
    cpu_semihost(semihosting_exit,
                 (const void*)(uintptr_t)(success ? adp_stopped_application_exit : adp_stopped_runtime_error));
    for (;;) cpu_wait_for_interrupt(); /* not reached under QEMU; a debugger-less board parks here */
}

__attribute__((weak)) void board_before_main(void) {}

/* Volatile pointers keep these loops loops: a memcpy/memset call here would run before .data
 * exists, and the code must not depend on what the library's versions touch. */
static void startup_copy_words(uint32_t* dst, uint32_t* dst_end, const uint32_t* src) {
    for (volatile uint32_t* d = dst; d < dst_end;) *d++ = *(const volatile uint32_t*)src++;
}

static void startup_zero_words(uint32_t* dst, uint32_t* dst_end) {
    for (volatile uint32_t* d = dst; d < dst_end;) *d++ = 0;
}

/* After the data is in place: the program's own early hook, static constructors, main(), exit. */
__attribute__((noreturn)) static void startup_run_program(void) {
    board_before_main();
    for (void (**ctor)(void) = __init_array_start; ctor < __init_array_end; ++ctor) (*ctor)();
    board_exit(main() == 0);
}

#endif /* CTATTN_STARTUP_COMMON_H */
