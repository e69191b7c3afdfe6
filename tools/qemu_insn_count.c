/* SPDX-License-Identifier: Apache-2.0 */
/* A QEMU TCG plugin that counts the guest instructions a run executes, exactly: every translated
 * block gets an inline add of its instruction count to one counter, which is printed at exit as
 * "ctattn-insns: N". QEMU is not cycle-accurate, so this count, not time, is how code on an
 * emulated Cortex-M core is compared (tools/emulated_counts.py).
 *
 * Marks: every time the guest executes the function named ctattn_count_mark (one instruction,
 * `bx lr`; bench/embedded/decode_count_fw.cpp calls it before each decode step and after the
 * last), the running count is recorded; they are printed at exit as "ctattn-marks: c0 c1 ...", so
 * one run gives the exact cost of every step (c[i+1] - c[i]), position by position.
 *
 * Profile (plugin argument profile=on): instructions per translated block, summed by the symbol
 * of the block's first instruction, printed at exit as "ctattn-profile: COUNT SYMBOL" lines, most
 * first. -Os keeps most kernels out of line, so this names where a decode step spends its time.
 *
 * Debian 12 ships QEMU 7.2, which loads plugins of API version 1, but no qemu-plugin.h, so the
 * handful of declarations this plugin uses are written out here from that API's documentation.
 * Build: cc -shared -fPIC -O2 -o qemu_insn_count.so tools/qemu_insn_count.c
 * Use:   qemu-system-arm -M mps2-an386 ... -plugin ./qemu_insn_count.so[,profile=on] -d plugin -kernel fw.elf */
#include <inttypes.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef uint64_t qemu_plugin_id_t;
typedef struct qemu_info_t qemu_info_t; /* only passed by pointer here */
struct qemu_plugin_tb;
struct qemu_plugin_insn;
enum qemu_plugin_op { QEMU_PLUGIN_INLINE_ADD_U64 };
enum qemu_plugin_cb_flags { QEMU_PLUGIN_CB_NO_REGS, QEMU_PLUGIN_CB_R_REGS, QEMU_PLUGIN_CB_RW_REGS };
typedef void (*qemu_plugin_vcpu_tb_trans_cb_t)(qemu_plugin_id_t id, struct qemu_plugin_tb *tb);
typedef void (*qemu_plugin_udata_cb_t)(qemu_plugin_id_t id, void *userdata);
typedef void (*qemu_plugin_vcpu_udata_cb_t)(unsigned int vcpu_index, void *userdata);

void qemu_plugin_register_vcpu_tb_trans_cb(qemu_plugin_id_t id, qemu_plugin_vcpu_tb_trans_cb_t cb);
size_t qemu_plugin_tb_n_insns(const struct qemu_plugin_tb *tb);
struct qemu_plugin_insn *qemu_plugin_tb_get_insn(const struct qemu_plugin_tb *tb, size_t idx);
const char *qemu_plugin_insn_symbol(const struct qemu_plugin_insn *insn);
void qemu_plugin_register_vcpu_tb_exec_inline(struct qemu_plugin_tb *tb, enum qemu_plugin_op op, void *ptr,
                                              uint64_t imm);
void qemu_plugin_register_vcpu_insn_exec_cb(struct qemu_plugin_insn *insn, qemu_plugin_vcpu_udata_cb_t cb,
                                            enum qemu_plugin_cb_flags flags, void *userdata);
void qemu_plugin_register_atexit_cb(qemu_plugin_id_t id, qemu_plugin_udata_cb_t cb, void *userdata);
void qemu_plugin_outs(const char *string);

#define CTATTN_PLUGIN_EXPORT __attribute__((visibility("default")))

CTATTN_PLUGIN_EXPORT int qemu_plugin_version = 1;

/* One vCPU (the MPS boards are single-core), so plain counters need no atomics. */
static uint64_t executed;

#define MAX_MARKS 4096
static uint64_t marks[MAX_MARKS];
static size_t n_marks;

/* Profile: one counter per symbol name (a block is charged to its first instruction's symbol). */
#define MAX_SYMBOLS 4096
struct symbol_count {
    const char *name; /* QEMU's string, alive for the whole run */
    uint64_t insns;
};
static struct symbol_count symbols[MAX_SYMBOLS];
static size_t n_symbols;
static int profile;

static void on_mark(unsigned int vcpu_index, void *userdata) {
    (void)vcpu_index;
    (void)userdata;
    if (n_marks < MAX_MARKS) marks[n_marks++] = executed;
}

static uint64_t *symbol_counter(const char *name) {
    for (size_t i = 0; i < n_symbols; ++i)
        if (symbols[i].name == name || strcmp(symbols[i].name, name) == 0) return &symbols[i].insns;
    if (n_symbols == MAX_SYMBOLS) return NULL;
    symbols[n_symbols].name = name;
    return &symbols[n_symbols++].insns;
}

static void on_translate(qemu_plugin_id_t id, struct qemu_plugin_tb *tb) {
    (void)id;
    const size_t n = qemu_plugin_tb_n_insns(tb);
    qemu_plugin_register_vcpu_tb_exec_inline(tb, QEMU_PLUGIN_INLINE_ADD_U64, &executed, n);
    for (size_t i = 0; i < n; ++i) {
        struct qemu_plugin_insn *insn = qemu_plugin_tb_get_insn(tb, i);
        const char *name = qemu_plugin_insn_symbol(insn);
        if (name && strcmp(name, "ctattn_count_mark") == 0)
            qemu_plugin_register_vcpu_insn_exec_cb(insn, on_mark, QEMU_PLUGIN_CB_NO_REGS, NULL);
        if (profile && i == 0) {
            uint64_t *counter = symbol_counter(name ? name : "?");
            if (counter) qemu_plugin_register_vcpu_tb_exec_inline(tb, QEMU_PLUGIN_INLINE_ADD_U64, counter, n);
        }
    }
}

static int by_count(const void *a, const void *b) {
    const struct symbol_count *x = a, *y = b;
    return x->insns < y->insns ? 1 : x->insns > y->insns ? -1 : 0;
}

static void at_exit(qemu_plugin_id_t id, void *userdata) {
    (void)id;
    (void)userdata;
    char line[256];
    snprintf(line, sizeof line, "ctattn-insns: %" PRIu64 "\n", executed);
    qemu_plugin_outs(line);
    if (n_marks > 0) {
        qemu_plugin_outs("ctattn-marks:");
        for (size_t i = 0; i < n_marks; ++i) {
            snprintf(line, sizeof line, " %" PRIu64, marks[i]);
            qemu_plugin_outs(line);
        }
        qemu_plugin_outs("\n");
    }
    if (profile) {
        qsort(symbols, n_symbols, sizeof symbols[0], by_count);
        for (size_t i = 0; i < n_symbols && symbols[i].insns > 0; ++i) {
            snprintf(line, sizeof line, "ctattn-profile: %" PRIu64 " %.200s\n", symbols[i].insns, symbols[i].name);
            qemu_plugin_outs(line);
        }
    }
}

CTATTN_PLUGIN_EXPORT int qemu_plugin_install(qemu_plugin_id_t id, const qemu_info_t *info, int argc, char **argv) {
    (void)info;
    for (int i = 0; i < argc; ++i)
        if (strcmp(argv[i], "profile=on") == 0) profile = 1;
    qemu_plugin_register_vcpu_tb_trans_cb(id, on_translate);
    qemu_plugin_register_atexit_cb(id, at_exit, NULL);
    return 0;
}
