/* SPDX-License-Identifier: Apache-2.0 */
/* Hand-timed loops for tools/qemu_insn_count.c's Cortex-M4F cycle model (test_qemu_cycle_model.py
 * holds each segment's hand count and checks the plugin against it). Bare metal for QEMU
 * mps2-an386: code and the zero table in flash at 0, the buffer and stack in RAM at 0x20000000.
 * Every segment ends with `bl ctattn_count_mark`; the plugin records its counters there, so a
 * segment's cost is the difference of two marks. The cost of each instruction is written beside
 * it, from the Cortex-M4 TRM's tables as the plugin's header states them (P = 2 for a refill). */
    .syntax unified
    .cpu cortex-m4
    .fpu fpv4-sp-d16
    .thumb

    .section .vectors, "a"
    .word 0x20010000        /* initial stack pointer */
    .word reset             /* reset handler (a thumb_func: bit 0 set) */

    .text
    .global ctattn_count_mark
    .thumb_func
ctattn_count_mark:
    bx lr                   /* 1, and P when control returns */

    .thumb_func
reset:
    ldr r0, =0xE000ED88     /* CPACR: full access to CP10 and CP11 (the FPU) */
    ldr r1, [r0]
    orr r1, r1, #(0xF << 20)
    str r1, [r0]
    dsb
    isb
    bl ctattn_count_mark    /* mark 0 */

    /* Segment "empty": the marks' own cost. P (return) + bl 1 + P (call) + bx lr 1 = 6. */
    bl ctattn_count_mark    /* mark 1 */

    /* Segment "vfma": 100 VFMAs fed by 25 VLDMs of 4 words from flash. */
    .global vfma_start, vfma_loop, vfma_bl
vfma_start:
    movw r0, #:lower16:table        /* 1 */
    movt r0, #:upper16:table        /* 1 */
    movs r1, #25                    /* 1 */
vfma_loop:
    vldmia r0!, {s0-s3}             /* 1 + N = 5 (4 flash reads) */
    vfma.f32 s16, s0, s8            /* 3 */
    vfma.f32 s17, s1, s8            /* 3 */
    vfma.f32 s18, s2, s8            /* 3 */
    vfma.f32 s19, s3, s8            /* 3 */
    subs r1, r1, #1                 /* 1 */
    bne vfma_loop                   /* 1, + P when taken (24 times) */
vfma_bl:
    bl ctattn_count_mark    /* mark 2 */

    /* Segment "mac": integer multiply-accumulates, then one divide. */
    movs r2, #100                   /* 1 */
1:  mla r3, r4, r5, r3              /* 1 */
    mla r6, r4, r5, r6              /* 1 */
    smlad r7, r4, r5, r7            /* 1 */
    smlabb r8, r4, r5, r8           /* 1 */
    subs r2, r2, #1                 /* 1 */
    bne 1b                          /* 1, + P when taken (99 times) */
    sdiv r0, r1, r3                 /* 12 (the TRM's 2 to 12, taken as 12) */
    bl ctattn_count_mark    /* mark 3 */

    /* Segment "loads": loads from flash, loads and stores in RAM, pipelining. */
    movw r0, #:lower16:table        /* 1 */
    movt r0, #:upper16:table        /* 1 */
    movw r1, #:lower16:buffer       /* 1 */
    movt r1, #:upper16:buffer       /* 1 */
    movs r2, #25                    /* 1 */
1:  ldr r3, [r0], #4                /* 2 (flash) */
    ldr r4, [r0], #4                /* 1: pipelined after a load (flash) */
    ldr r7, [r1, r4]                /* 2: its address uses the last load's r4 (RAM) */
    str r3, [r1], #4                /* 1: immediate offset, "always one cycle" (RAM) */
    str r4, [r1], #4                /* 1 (RAM) */
    ldrd r5, r6, [r0], #8           /* 1 + N = 3, never pipelined (2 flash reads) */
    str r7, [r1, r2, lsl #2]        /* 2: register offset, after an LDRD (RAM) */
    ldr r8, [r0, #-4]               /* 2 (flash) */
    str r8, [r1, r2, lsl #2]        /* 1: register offset, pipelined after a load (RAM) */
    subs r2, r2, #1                 /* 1 */
    bne 1b                          /* 1, + P when taken (24 times) */
    bl ctattn_count_mark    /* mark 4 */

    /* Segment "fpu": one of each FPU timing class, and the stack. */
    movw r9, #:lower16:table        /* 1 */
    movt r9, #:upper16:table        /* 1 */
    vldr s0, [r9]                   /* 2 (flash, 4 bytes) */
    vldr d1, [r9, #8]               /* 3 (flash, 8 bytes: two bus reads) */
    vdiv.f32 s4, s0, s1             /* 14 */
    vsqrt.f32 s5, s4                /* 14 */
    vmov r0, s5                     /* 1 */
    vmov s6, r0                     /* 1 */
    vmov r0, r1, d1                 /* 2: two core registers */
    vadd.f32 s7, s6, s5             /* 1 */
    vmla.f32 s7, s6, s5             /* 3 */
    vcvt.s32.f32 s8, s7             /* 1 */
    vstr s8, [sp, #-4]              /* 2 (RAM, 4 bytes) */
    push {r4-r7, lr}                /* 1 + N = 6 (RAM, 20 bytes) */
    pop {r4-r7, lr}                 /* 6 (RAM, 20 bytes) */
    vpush {d8-d9}                   /* 1 + N = 5, N = 4 words (RAM, 16 bytes) */
    vpop {d8-d9}                    /* 5 (RAM, 16 bytes) */
    bl ctattn_count_mark    /* mark 5 */

    /* Segment "calls": an untaken CBNZ, a call, a return by POP {pc}. */
    movs r0, #0                     /* 1 */
    cbnz r0, 2f                     /* 1 (not taken: falls through) */
    bl leaf                         /* 1 + P */
2:  bl ctattn_count_mark    /* mark 6 */

    /* Exit through semihosting: SYS_EXIT with ADP_Stopped_ApplicationExit. */
    movs r0, #0x18
    ldr r1, =0x20026
    bkpt 0xab
3:  b 3b

    .thumb_func
leaf:
    push {r4, lr}                   /* 1 + N = 3 (RAM, 8 bytes) */
    pop {r4, pc}                    /* 3 (RAM, 8 bytes), + P for the return */

    .ltorg

    .section .rodata
    .balign 8
table:
    .space 512              /* zeros: the FMAs' inputs and the loads' offsets */

    .bss
    .balign 8
buffer:
    .space 512
