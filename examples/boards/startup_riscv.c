/* SPDX-License-Identifier: Apache-2.0 */
/* Start-up code for QEMU's RISC-V virt board as a 32-bit microcontroller (rv32imafc, rv32imac),
 * without the C library's crt0: link with -nostartfiles and virt-rv32.ld (which INCLUDEs
 * sections.ld, whose symbols this uses). Run with
 *   qemu-system-riscv32 -M virt -bios none -nographic -monitor none -serial none \
 *                       -semihosting-config enable=on,target=native -kernel fw.elf
 * With -bios none QEMU jumps to 0x80000000 in machine mode: reset_handler sits there (.vectors),
 * sets gp, sp, the trap vector and, with an FPU, mstatus.FS; then .data and the thread-local block
 * (picolibc's errno) are copied, .bss cleared, board_before_main(), static constructors, main(),
 * and SYS_EXIT with main's verdict; every trap ends the run as a failure. board.h has the
 * interface, the same as startup.c's for the Arm boards. */
#include <stdint.h>

#include "startup_common.h"

extern uint32_t __data_load[], __data_start[], __data_end[];
extern uint32_t __tdata_load[], __tls_start[], __tdata_end[], __tbss_start[], __tbss_end[];
extern uint32_t __bss_start[], __bss_end[];

void reset_handler(void);
void board_start(void) __attribute__((noreturn, used));
void trap_handler(void) __attribute__((noreturn, aligned(4)));

/* First instruction at reset. No C before sp is set, so this is assembly: gp for the linker's
 * gp-relative accesses to small data (set with relaxation off, or it would be relaxed against
 * itself), sp at the top of the stack (sections.ld), mtvec to trap_handler (direct mode), and on
 * a core with an FPU mstatus.FS = Initial: until then every floating-point instruction is an
 * illegal-instruction trap. */
__attribute__((naked, section(".vectors"))) void reset_handler(void) {
    __asm__ volatile(
        ".option push\n\t"
        ".option norelax\n\t"
        "la gp, __global_pointer$\n\t"
        "la sp, __stack_top\n\t"
        "la t0, trap_handler\n\t"
        ".option arch, +zicsr\n\t" /* CSR access: its own extension since ISA spec 20191213 */
        "csrw mtvec, t0\n\t"
#if defined(__riscv_flen)
        "li t0, 0x2000\n\t" /* mstatus.FS (bits 13-14) = 01, Initial */
        "csrs mstatus, t0\n\t"
        "csrw fcsr, zero\n\t" /* round to nearest, no flags */
#endif
        ".option pop\n\t"
        "j board_start");
}

void board_start(void) {
    startup_copy_words(__data_start, __data_end, __data_load);
    startup_copy_words(__tls_start, __tdata_end, __tdata_load);
    startup_zero_words(__tbss_start, __tbss_end);
    startup_zero_words(__bss_start, __bss_end);
    /* One thread: its thread-local block is the linked one (local-exec TLS: tp points at the start of
     * .tdata, RISC-V's TLS variant I with no offset). */
    __asm__ volatile("mv tp, %0" : : "r"(__tls_start));
    startup_run_program();
}

static void write_hex(uint32_t value) {
    char text[11] = "0x";
    for (int i = 0; i < 8; ++i) text[2 + i] = "0123456789abcdef"[(value >> (28 - 4 * i)) & 0xFu];
    text[10] = '\0';
    board_write(text);
}

void trap_handler(void) {
    /* An exception (bad address, illegal instruction, FP instruction with the FPU off, misaligned
     * access, ebreak) ends the run as a failure instead of hanging until a test's timeout. */
    uint32_t cause, pc, value;
    __asm__ volatile(".option push\n\t.option arch, +zicsr\n\t"
                     "csrr %0, mcause\n\tcsrr %1, mepc\n\tcsrr %2, mtval\n\t.option pop"
                     : "=r"(cause), "=r"(pc), "=r"(value));
    board_write("FAIL: CPU trap, mcause ");
    write_hex(cause);
    board_write(" at mepc ");
    write_hex(pc);
    board_write(", mtval ");
    write_hex(value);
    board_write("\n");
    board_exit(0);
}
