/* A QEMU TCG plugin that counts the guest instructions a run executes, exactly: every translated
 * block gets an inline add of its instruction count to one counter, which is printed at exit as
 * "ctattn-insns: N". QEMU is not cycle-accurate, so this count, not time, is how code on an
 * emulated Cortex-M core is compared (tools/emulated_counts.py).
 *
 * Debian 12 ships QEMU 7.2, which loads plugins of API version 1, but no qemu-plugin.h, so the
 * handful of declarations this plugin uses are written out here from that API's documentation.
 * Build: cc -shared -fPIC -O2 -o qemu_insn_count.so tools/qemu_insn_count.c
 * Use:   qemu-system-arm -M mps2-an386 ... -plugin ./qemu_insn_count.so -d plugin -kernel fw.elf */
#include <inttypes.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

typedef uint64_t qemu_plugin_id_t;
typedef struct qemu_info_t qemu_info_t; /* only passed by pointer here */
struct qemu_plugin_tb;
enum qemu_plugin_op { QEMU_PLUGIN_INLINE_ADD_U64 };
typedef void (*qemu_plugin_vcpu_tb_trans_cb_t)(qemu_plugin_id_t id, struct qemu_plugin_tb *tb);
typedef void (*qemu_plugin_udata_cb_t)(qemu_plugin_id_t id, void *userdata);

void qemu_plugin_register_vcpu_tb_trans_cb(qemu_plugin_id_t id, qemu_plugin_vcpu_tb_trans_cb_t cb);
size_t qemu_plugin_tb_n_insns(const struct qemu_plugin_tb *tb);
void qemu_plugin_register_vcpu_tb_exec_inline(struct qemu_plugin_tb *tb, enum qemu_plugin_op op, void *ptr,
                                              uint64_t imm);
void qemu_plugin_register_atexit_cb(qemu_plugin_id_t id, qemu_plugin_udata_cb_t cb, void *userdata);
void qemu_plugin_outs(const char *string);

#define CTATTN_PLUGIN_EXPORT __attribute__((visibility("default")))

CTATTN_PLUGIN_EXPORT int qemu_plugin_version = 1;

/* One vCPU (the MPS boards are single-core), so a plain counter needs no atomics. */
static uint64_t executed;

static void on_translate(qemu_plugin_id_t id, struct qemu_plugin_tb *tb) {
    (void)id;
    qemu_plugin_register_vcpu_tb_exec_inline(tb, QEMU_PLUGIN_INLINE_ADD_U64, &executed, qemu_plugin_tb_n_insns(tb));
}

static void on_exit(qemu_plugin_id_t id, void *userdata) {
    (void)id;
    (void)userdata;
    char line[64];
    snprintf(line, sizeof line, "ctattn-insns: %" PRIu64 "\n", executed);
    qemu_plugin_outs(line);
}

CTATTN_PLUGIN_EXPORT int qemu_plugin_install(qemu_plugin_id_t id, const qemu_info_t *info, int argc, char **argv) {
    (void)info;
    (void)argc;
    (void)argv;
    qemu_plugin_register_vcpu_tb_trans_cb(id, on_translate);
    qemu_plugin_register_atexit_cb(id, on_exit, NULL);
    return 0;
}
