/* SPDX-License-Identifier: Apache-2.0 */
/* Board support for QEMU's Arm MPS2/MPS3 Cortex-M boards and its RISC-V virt board as an RV32
 * microcontroller (examples/boards/): what startup.c (Arm) and startup_riscv.c (RISC-V) give a
 * program. Reset enables the FPU, copies .data, clears .bss, calls board_before_main(), runs
 * static constructors, then main(), and ends the run through semihosting with main's verdict
 * (QEMU's exit status: 0 when main returned 0).
 * Output goes through semihosting too (QEMU -semihosting-config enable=on,target=native). */
#ifndef CTATTN_BOARD_H
#define CTATTN_BOARD_H

#ifdef __cplusplus
extern "C" {
#endif

/* Writes a NUL-terminated string to the host (SYS_WRITE0). */
void board_write(const char* text);
/* Stops the run: QEMU exits with status 0 when success is non-zero, 1 otherwise. */
void board_exit(int success) __attribute__((noreturn));
/* Called once before static constructors and main (weak, empty unless a program defines it):
 * e.g. to paint the stack for a high-water mark. */
void board_before_main(void);

#ifdef __cplusplus
}
#endif

#endif /* CTATTN_BOARD_H */
