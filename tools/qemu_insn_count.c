/* SPDX-License-Identifier: Apache-2.0 */
/* A QEMU TCG plugin that counts the guest instructions a run executes, exactly: every translated
 * block gets an inline add of its instruction count to one counter, which is printed at exit as
 * "ctattn-insns: N". QEMU is not cycle-accurate, so this count, not time, is how code on an
 * emulated Cortex-M core is compared (tools/emulated_counts.py). Optionally (mem=on) it also counts
 * the bytes the guest reads and writes, split by address range, and (cycles=on) estimates the
 * cycles a Cortex-M4F would take, from the Cortex-M4 Technical Reference Manual's timing tables.
 *
 * Marks: every time the guest executes the function named ctattn_count_mark (one instruction,
 * `bx lr`; bench/embedded/decode_count_fw.cpp calls it before each decode step and after the
 * last), the running counts are recorded; they are printed at exit as "ctattn-marks: c0 c1 ..."
 * (instructions) and, with mem=on or cycles=on, one "ctattn-marks-COUNTER: ..." line per counter
 * below, so one run gives the exact cost of every step (c[i+1] - c[i]), position by position.
 *
 * Memory (mem=on; the address ranges as flash=START:SIZE and ram=START:SIZE, each up to 4 times,
 * numbers in C syntax): every load and store gets a memory callback, whose access size is
 * 1 << qemu_plugin_mem_size_shift and whose address picks the range. Counters: flash_read_bytes,
 * flash_read_accesses (32-bit bus accesses: a byte, halfword or word read is one, a 64-bit read
 * two; an LDRD or a VLDM of N words is 2 or N accesses), ram_read_bytes, ram_write_bytes, flash_write_bytes and
 * other_bytes (peripherals, semihosting: anything outside the ranges). The default path (no mem=,
 * no cycles=) is unchanged: one inline add per block, no callbacks but the marks.
 *
 * Cycles (cycles=on, implies mem=on): an estimate for Cortex-M4F, not a measurement. Each
 * instruction is disassembled once, when QEMU translates it (qemu_plugin_insn_disas), and given a
 * cost from ARM DDI 0439B (Cortex-M4 r0p1 TRM), Table 3-1 "Cortex-M4 instruction set summary"
 * (section 3.3.1, "Cycles" column, zero wait states) and section 3.3.2 "Load/store timings", and
 * Table 7-1 "FPU instruction set" (section 7.2.3); a block's costs are summed at translation and
 * one callback per executed block adds them. The model:
 *   - data processing, shifts, compares, extends, bit fields, saturation, SIMD-in-core (SADD16 ...),
 *     IT, MOVW/MOVT, NOP: 1. Multiplies MUL, MLA, MLS, SMULL, UMULL, SMLAL, UMLAL, SMLA<x><y>,
 *     SMLAD, SMUAD, SMLSD, SMMUL, SMMLA: 1 (the TRM's single-cycle MAC).
 *   - SDIV, UDIV: "2 to 12" (early termination on the operands' magnitudes); taken as 12, the
 *     bound (a decode step runs a handful of divides; the bound costs nothing visible).
 *   - single loads LDR, LDRB, LDRH, LDRSB, LDRSH, LDREX: 2; single stores STR, STRB, STRH with an
 *     immediate or no offset: 1 ("STR Rx,[Ry,#imm] is always one cycle"), with a register offset:
 *     2. A single load or store right after a single load (in the same block) whose destination is
 *     not in its address is pipelined: one cycle less (at least 1).
 *   - LDRD, STRD: 1 + N = 3 (not pipelined). LDM, STM, PUSH, POP: 1 + N, N the registers.
 *   - branches B, BL, BX, BLX, CBZ, CBNZ: 1; TBB, TBH: 2; plus P = 2 pipeline-refill cycles
 *     (the TRM's P is 1 to 3) whenever control does not fall through: the next executed block
 *     does not start where the previous one ended. That covers taken conditional branches (an
 *     untaken one costs 1) and loads or moves to the PC (POP {..., pc}, LDR pc, BX lr).
 *   - FPU: VADD, VSUB, VMUL, VNMUL, VABS, VNEG, VCMP, VCVT, VMOV (immediate, register, and one
 *     core register to or from one single), VMRS, VMSR: 1; VMOV of two core registers: 2;
 *     VMLA, VMLS, VNMLA, VNMLS, VFMA, VFMS, VFNMA, VFNMS: 3; VDIV, VSQRT: 14; VLDR, VSTR: 2
 *     (single) or 3 (double); VLDM, VSTM, VPUSH, VPOP: 1 + N, N the words moved.
 *   - not modelled: register-dependency stalls (an address computed by the previous instruction,
 *     VFP result latencies), VDIV/VSQRT overlapping later integer instructions, unaligned
 *     accesses, bus contention, interrupts; an instruction an IT block skips costs as if it ran. Mnemonics the tables do not name count 1 each and are
 *     listed at exit as "ctattn-unclassified: SITES MNEMONIC" (translated sites, not executions).
 * Flash wait states are not added here: the plugin counts flash_read_accesses (data reads from a
 * flash range) and fetch_words, the 32-bit words of code in a flash range each executed block
 * spans (an instruction fetch is a 32-bit bus read that brings two 16-bit or one 32-bit
 * instruction; no prefetch buffer and no cache, every executed block fetches its words again).
 * Cycles at W wait states are then cycles + W * flash_read_accesses (code fetched from a cache or
 * a zero-wait accelerator, as an STM32's ART does for loops) or cycles + W * (flash_read_accesses
 * + fetch_words) (every fetch from flash pays); tools/emulated_counts.py reports both.
 *
 * Profile (plugin argument profile=on): instructions per translated block, summed by the symbol
 * of the block's first instruction, printed at exit as "ctattn-profile: COUNT SYMBOL" lines, most
 * first. -Os keeps most kernels out of line, so this names where a decode step spends its time.
 * With mem=on too, "ctattn-profile-bytes: FLASH_READ RAM SYMBOL" lines give the bytes each
 * function read from flash and moved in RAM (by the symbol of the accessing instruction).
 * disas=on prints every translated instruction with its cost class ("ctattn-disas: ...").
 * With cycles=on, "ctattn-cycle-class: CLASS INSTRUCTIONS CYCLES" lines split the whole run's
 * estimate by timing class (and "refill" for the P cycles), to see where the cycles go.
 *
 * Debian 12 ships QEMU 7.2, which loads plugins of API version 1, but no qemu-plugin.h, so the
 * handful of declarations this plugin uses are written out here from that API's documentation.
 * Build: cc -shared -fPIC -O2 -o qemu_insn_count.so tools/qemu_insn_count.c
 * Use:   qemu-system-arm -M mps2-an386 ... -plugin ./qemu_insn_count.so[,profile=on][,mem=on,
 *        flash=0:0x400000,ram=0x20000000:0x400000][,cycles=on] -d plugin -kernel fw.elf */
#include <ctype.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef uint64_t qemu_plugin_id_t;
typedef struct qemu_info_t qemu_info_t; /* only passed by pointer here */
typedef uint32_t qemu_plugin_meminfo_t;
struct qemu_plugin_tb;
struct qemu_plugin_insn;
enum qemu_plugin_op { QEMU_PLUGIN_INLINE_ADD_U64 };
enum qemu_plugin_cb_flags { QEMU_PLUGIN_CB_NO_REGS, QEMU_PLUGIN_CB_R_REGS, QEMU_PLUGIN_CB_RW_REGS };
enum qemu_plugin_mem_rw { QEMU_PLUGIN_MEM_R = 1, QEMU_PLUGIN_MEM_W, QEMU_PLUGIN_MEM_RW };
typedef void (*qemu_plugin_vcpu_tb_trans_cb_t)(qemu_plugin_id_t id, struct qemu_plugin_tb *tb);
typedef void (*qemu_plugin_udata_cb_t)(qemu_plugin_id_t id, void *userdata);
typedef void (*qemu_plugin_vcpu_udata_cb_t)(unsigned int vcpu_index, void *userdata);
typedef void (*qemu_plugin_vcpu_mem_cb_t)(unsigned int vcpu_index, qemu_plugin_meminfo_t info, uint64_t vaddr,
                                          void *userdata);

void qemu_plugin_register_vcpu_tb_trans_cb(qemu_plugin_id_t id, qemu_plugin_vcpu_tb_trans_cb_t cb);
size_t qemu_plugin_tb_n_insns(const struct qemu_plugin_tb *tb);
struct qemu_plugin_insn *qemu_plugin_tb_get_insn(const struct qemu_plugin_tb *tb, size_t idx);
const char *qemu_plugin_insn_symbol(const struct qemu_plugin_insn *insn);
uint64_t qemu_plugin_insn_vaddr(const struct qemu_plugin_insn *insn);
size_t qemu_plugin_insn_size(const struct qemu_plugin_insn *insn);
char *qemu_plugin_insn_disas(const struct qemu_plugin_insn *insn);
void qemu_plugin_register_vcpu_tb_exec_inline(struct qemu_plugin_tb *tb, enum qemu_plugin_op op, void *ptr,
                                              uint64_t imm);
void qemu_plugin_register_vcpu_tb_exec_cb(struct qemu_plugin_tb *tb, qemu_plugin_vcpu_udata_cb_t cb,
                                          enum qemu_plugin_cb_flags flags, void *userdata);
void qemu_plugin_register_vcpu_insn_exec_cb(struct qemu_plugin_insn *insn, qemu_plugin_vcpu_udata_cb_t cb,
                                            enum qemu_plugin_cb_flags flags, void *userdata);
void qemu_plugin_register_vcpu_mem_cb(struct qemu_plugin_insn *insn, qemu_plugin_vcpu_mem_cb_t cb,
                                      enum qemu_plugin_cb_flags flags, enum qemu_plugin_mem_rw rw, void *userdata);
unsigned int qemu_plugin_mem_size_shift(qemu_plugin_meminfo_t info);
bool qemu_plugin_mem_is_store(qemu_plugin_meminfo_t info);
void qemu_plugin_register_atexit_cb(qemu_plugin_id_t id, qemu_plugin_udata_cb_t cb, void *userdata);
void qemu_plugin_outs(const char *string);

#define CTATTN_PLUGIN_EXPORT __attribute__((visibility("default")))

CTATTN_PLUGIN_EXPORT int qemu_plugin_version = 1;

/* One vCPU (the MPS boards are single-core), so plain counters need no atomics. */
static uint64_t executed;

/* The counters mem=on and cycles=on add; recorded at every mark like `executed`. */
enum counter {
    FLASH_READ_BYTES,
    FLASH_READ_ACCESSES,
    RAM_READ_BYTES,
    RAM_WRITE_BYTES,
    FLASH_WRITE_BYTES,
    OTHER_BYTES,
    CYCLES,      /* at zero wait states, refills included */
    FETCH_WORDS, /* 32-bit code words fetched from a flash range */
    N_COUNTERS
};
static const char *const counter_names[N_COUNTERS] = {
    "flash_read_bytes", "flash_read_accesses", "ram_read_bytes", "ram_write_bytes",
    "flash_write_bytes", "other_bytes", "cycles", "fetch_words"};
static uint64_t counters[N_COUNTERS];
static int memory_on, cycles_on;

#define MAX_RANGES 4
struct address_range {
    uint64_t start, end; /* [start, end) */
};
static struct address_range flash_ranges[MAX_RANGES], ram_ranges[MAX_RANGES];
static size_t n_flash_ranges, n_ram_ranges;

#define MAX_MARKS 4096
static uint64_t marks[MAX_MARKS];
static uint64_t counter_marks[MAX_MARKS][N_COUNTERS];
static size_t n_marks;

/* Profile: one counter per symbol name (a block is charged to its first instruction's symbol). */
#define MAX_SYMBOLS 4096
struct symbol_count {
    const char *name; /* QEMU's string, alive for the whole run */
    uint64_t insns;
    uint64_t flash_read_bytes, ram_bytes; /* with mem=on: by the symbol of the accessing instruction */
};
static struct symbol_count symbols[MAX_SYMBOLS];
static size_t n_symbols;
static int profile, print_disas;

/* Mnemonics the timing tables do not name (translated sites, for the exit report). */
#define MAX_UNCLASSIFIED 256
struct unclassified {
    char mnemonic[24];
    uint64_t sites;
};
static struct unclassified unclassified[MAX_UNCLASSIFIED];
static size_t n_unclassified;

enum cost_class { DATA, DIVIDE, LOAD, STORE, LOAD_STORE_PAIR, MULTIPLE, BRANCH, TABLE_BRANCH, FP_MOVE, FP_SIMPLE,
                  FP_MAC, FP_DIVIDE, FP_LOAD_STORE, FP_MULTIPLE, UNKNOWN, N_CLASSES };
static const char *const class_names[N_CLASSES] = {"data", "divide", "load", "store", "ldrd/strd", "ldm/stm",
                                                   "branch", "tbb/tbh", "vmov", "fp", "fp-mac", "fp-divide",
                                                   "vldr/vstr", "vldm/vstm", "unclassified"};

/* What the cycle model keeps per translated block: its static cost (in all and by class), the
 * code words it spans in flash, and where it ends (for the fall-through test). Allocated at
 * translation and never freed: a block is translated once, or a few times if QEMU flushes. */
struct block_cost {
    uint64_t start, end;
    uint64_t cycles;
    uint64_t fetch_words;
    uint32_t class_insns[N_CLASSES], class_cycles[N_CLASSES];
};
/* Whole-run totals by class ("ctattn-cycle-class: CLASS INSTRUCTIONS CYCLES" at exit; refills
 * are charged to "refill"). */
static uint64_t class_insns[N_CLASSES], class_cycles[N_CLASSES], refills;
static const struct block_cost *previous_block;
enum { REFILL_CYCLES = 2 }; /* the TRM's P, 1 to 3: taken as 2 */

static bool in_ranges(const struct address_range *ranges, size_t n, uint64_t address) {
    for (size_t i = 0; i < n; ++i)
        if (address >= ranges[i].start && address < ranges[i].end) return true;
    return false;
}

static void record_mark(void) {
    if (n_marks == MAX_MARKS) return;
    marks[n_marks] = executed;
    memcpy(counter_marks[n_marks], counters, sizeof counters);
    ++n_marks;
}

static void on_mark(unsigned int vcpu_index, void *userdata) {
    (void)vcpu_index;
    (void)userdata;
    record_mark();
}

/* userdata: the accessing instruction's symbol_count with profile=on, else NULL. */
static void on_memory(unsigned int vcpu_index, qemu_plugin_meminfo_t info, uint64_t address, void *userdata) {
    (void)vcpu_index;
    struct symbol_count *symbol = userdata;
    const uint64_t bytes = 1u << qemu_plugin_mem_size_shift(info);
    const bool store = qemu_plugin_mem_is_store(info);
    if (in_ranges(flash_ranges, n_flash_ranges, address)) {
        if (store) {
            counters[FLASH_WRITE_BYTES] += bytes;
        } else {
            counters[FLASH_READ_BYTES] += bytes;
            counters[FLASH_READ_ACCESSES] += (bytes + 3) / 4; /* a 64-bit access is two on the 32-bit bus */
            if (symbol) symbol->flash_read_bytes += bytes;
        }
    } else if (in_ranges(ram_ranges, n_ram_ranges, address)) {
        counters[store ? RAM_WRITE_BYTES : RAM_READ_BYTES] += bytes;
        if (symbol) symbol->ram_bytes += bytes;
    } else {
        counters[OTHER_BYTES] += bytes;
    }
}

static void on_block(unsigned int vcpu_index, void *userdata) {
    (void)vcpu_index;
    const struct block_cost *block = userdata;
    if (previous_block && previous_block->end != block->start) {
        counters[CYCLES] += REFILL_CYCLES;
        ++refills;
    }
    counters[CYCLES] += block->cycles;
    counters[FETCH_WORDS] += block->fetch_words;
    for (size_t c = 0; c < N_CLASSES; ++c) {
        class_insns[c] += block->class_insns[c];
        class_cycles[c] += block->class_cycles[c];
    }
    previous_block = block;
}

/* ---- The cost of one instruction, from its disassembly (Cortex-M4 TRM tables, see the top). ---- */


struct mnemonic_class {
    const char *name;
    enum cost_class cls;
};
/* Exact base mnemonics (no condition, no S, no .W/.N/.F32 qualifier). */
static const struct mnemonic_class mnemonic_classes[] = {
    {"mov", DATA}, {"movw", DATA}, {"movt", DATA}, {"mvn", DATA}, {"add", DATA}, {"addw", DATA}, {"adc", DATA},
    {"sub", DATA}, {"subw", DATA}, {"sbc", DATA}, {"rsb", DATA}, {"adr", DATA}, {"and", DATA}, {"orr", DATA},
    {"eor", DATA}, {"bic", DATA}, {"orn", DATA}, {"lsl", DATA}, {"lsr", DATA}, {"asr", DATA}, {"ror", DATA},
    {"rrx", DATA}, {"cmp", DATA}, {"cmn", DATA}, {"tst", DATA}, {"teq", DATA}, {"neg", DATA}, {"mul", DATA},
    {"mla", DATA}, {"mls", DATA}, {"smull", DATA}, {"umull", DATA}, {"smlal", DATA}, {"umlal", DATA},
    {"umaal", DATA}, {"smlad", DATA}, {"smladx", DATA}, {"smlsd", DATA}, {"smlsdx", DATA}, {"smuad", DATA},
    {"smuadx", DATA}, {"smusd", DATA}, {"smusdx", DATA}, {"smlald", DATA}, {"smlaldx", DATA}, {"smlsld", DATA},
    {"smlsldx", DATA}, {"smmul", DATA}, {"smmulr", DATA}, {"smmla", DATA}, {"smmlar", DATA}, {"smmls", DATA},
    {"smmlsr", DATA}, {"smlawb", DATA}, {"smlawt", DATA}, {"smulwb", DATA}, {"smulwt", DATA}, {"sxtb", DATA},
    {"sxth", DATA}, {"uxtb", DATA}, {"uxth", DATA}, {"sxtab", DATA}, {"sxtah", DATA}, {"uxtab", DATA},
    {"uxtah", DATA}, {"sxtb16", DATA}, {"sxtab16", DATA}, {"uxtb16", DATA}, {"uxtab16", DATA}, {"ubfx", DATA},
    {"sbfx", DATA}, {"bfi", DATA}, {"bfc", DATA}, {"clz", DATA}, {"rbit", DATA}, {"rev", DATA}, {"rev16", DATA},
    {"revsh", DATA}, {"ssat", DATA}, {"usat", DATA}, {"ssat16", DATA}, {"usat16", DATA}, {"qadd", DATA},
    {"qsub", DATA}, {"qdadd", DATA}, {"qdsub", DATA}, {"sel", DATA}, {"usad8", DATA}, {"usada8", DATA},
    {"pkhbt", DATA}, {"pkhtb", DATA}, {"nop", DATA}, {"mrs", DATA}, {"msr", DATA}, {"cpsid", DATA},
    {"cpsie", DATA}, {"dmb", DATA}, {"dsb", DATA}, {"isb", DATA}, {"bkpt", DATA}, {"svc", DATA}, {"wfi", DATA},
    {"wfe", DATA}, {"sev", DATA}, {"yield", DATA}, {"clrex", DATA}, {"udf", DATA},
    {"sdiv", DIVIDE}, {"udiv", DIVIDE},
    {"ldr", LOAD}, {"ldrb", LOAD}, {"ldrh", LOAD}, {"ldrsb", LOAD}, {"ldrsh", LOAD}, {"ldrex", LOAD},
    {"ldrexb", LOAD}, {"ldrexh", LOAD}, {"ldrt", LOAD}, {"ldrbt", LOAD}, {"ldrht", LOAD}, {"pld", LOAD},
    {"str", STORE}, {"strb", STORE}, {"strh", STORE}, {"strex", STORE}, {"strexb", STORE}, {"strexh", STORE},
    {"strt", STORE}, {"strbt", STORE}, {"strht", STORE},
    {"ldrd", LOAD_STORE_PAIR}, {"strd", LOAD_STORE_PAIR},
    {"ldm", MULTIPLE}, {"ldmia", MULTIPLE}, {"ldmfd", MULTIPLE}, {"ldmdb", MULTIPLE}, {"ldmea", MULTIPLE},
    {"stm", MULTIPLE}, {"stmia", MULTIPLE}, {"stmea", MULTIPLE}, {"stmdb", MULTIPLE}, {"stmfd", MULTIPLE},
    {"push", MULTIPLE}, {"pop", MULTIPLE},
    {"b", BRANCH}, {"bl", BRANCH}, {"bx", BRANCH}, {"blx", BRANCH}, {"cbz", BRANCH}, {"cbnz", BRANCH},
    {"tbb", TABLE_BRANCH}, {"tbh", TABLE_BRANCH},
    {"vmov", FP_MOVE}, {"vmrs", FP_SIMPLE}, {"vmsr", FP_SIMPLE}, {"vadd", FP_SIMPLE}, {"vsub", FP_SIMPLE},
    {"vmul", FP_SIMPLE}, {"vnmul", FP_SIMPLE}, {"vabs", FP_SIMPLE}, {"vneg", FP_SIMPLE}, {"vcmp", FP_SIMPLE},
    {"vcmpe", FP_SIMPLE}, {"vcvt", FP_SIMPLE}, {"vcvtr", FP_SIMPLE}, {"vcvtb", FP_SIMPLE}, {"vcvtt", FP_SIMPLE},
    {"vmla", FP_MAC}, {"vmls", FP_MAC}, {"vnmla", FP_MAC}, {"vnmls", FP_MAC}, {"vfma", FP_MAC}, {"vfms", FP_MAC},
    {"vfnma", FP_MAC}, {"vfnms", FP_MAC},
    {"vdiv", FP_DIVIDE}, {"vsqrt", FP_DIVIDE},
    {"vldr", FP_LOAD_STORE}, {"vstr", FP_LOAD_STORE},
    {"vldm", FP_MULTIPLE}, {"vldmia", FP_MULTIPLE}, {"vldmdb", FP_MULTIPLE}, {"vstm", FP_MULTIPLE},
    {"vstmia", FP_MULTIPLE}, {"vstmdb", FP_MULTIPLE}, {"vpush", FP_MULTIPLE}, {"vpop", FP_MULTIPLE},
};

static enum cost_class lookup(const char *name) {
    for (size_t i = 0; i < sizeof mnemonic_classes / sizeof mnemonic_classes[0]; ++i)
        if (strcmp(mnemonic_classes[i].name, name) == 0) return mnemonic_classes[i].cls;
    /* IT, ITT, ITE, ITTE, ...; the in-core SIMD family (SADD16, UQSUB8, SHASX, ...): one cycle. */
    if (name[0] == 'i' && name[1] == 't' && strspn(name + 2, "te") == strlen(name + 2)) return DATA;
    static const char *const simd_ops[] = {"add16", "add8", "sub16", "sub8", "asx", "sax"};
    static const char *const simd_prefixes[] = {"s", "q", "sh", "u", "uq", "uh"};
    for (size_t p = 0; p < 6; ++p)
        for (size_t o = 0; o < 6; ++o) {
            char candidate[16];
            snprintf(candidate, sizeof candidate, "%s%s", simd_prefixes[p], simd_ops[o]);
            if (strcmp(candidate, name) == 0) return DATA;
        }
    /* SMLA<x><y>, SMUL<x><y>, SMLAL<x><y>: the halfword multiplies. */
    if ((strncmp(name, "smla", 4) == 0 || strncmp(name, "smul", 4) == 0) && strlen(name) <= 7) {
        const char *xy = name + (strncmp(name, "smlal", 5) == 0 ? 5 : 4);
        if (strlen(xy) == 2 && strchr("bt", xy[0]) && strchr("bt", xy[1])) return DATA;
    }
    return UNKNOWN;
}

static const char *const conditions[] = {"eq", "ne", "cs", "hs", "cc", "lo", "mi", "pl", "vs",
                                         "vc", "hi", "ls", "ge", "lt", "gt", "le", "al"};

/* The class of a mnemonic as the disassembler spells it: "bne.n", "adds.w", "vfma.f32", "moveq",
 * "ldmia.w": the qualifier after '.' goes, then a condition suffix and an S flag are tried off. */
static enum cost_class classify(const char *mnemonic) {
    char base[16];
    size_t length = strcspn(mnemonic, ".");
    if (length >= sizeof base) return UNKNOWN;
    memcpy(base, mnemonic, length);
    base[length] = '\0';
    enum cost_class cls = lookup(base);
    if (cls != UNKNOWN) return cls;
    char stripped[16];
    for (int drop_condition = 0; drop_condition <= 1; ++drop_condition) {
        strcpy(stripped, base);
        size_t n = strlen(stripped);
        if (drop_condition) {
            bool dropped = false;
            for (size_t c = 0; c < sizeof conditions / sizeof conditions[0] && !dropped; ++c)
                if (n > 2 && strcmp(stripped + n - 2, conditions[c]) == 0) {
                    stripped[n - 2] = '\0';
                    n -= 2;
                    dropped = true;
                }
            if (!dropped) continue;
            if ((cls = lookup(stripped)) != UNKNOWN) return cls;
        }
        if (n > 1 && stripped[n - 1] == 's') {
            stripped[n - 1] = '\0';
            if ((cls = lookup(stripped)) != UNKNOWN) return cls;
        }
    }
    return UNKNOWN;
}

/* Words a register list moves: "{r4, r5, r6, lr}", "{s0-s7}", "{d8, d9}" (a D register is 2). */
static unsigned list_words(const char *operands) {
    const char *open = strchr(operands, '{');
    const char *close = open ? strchr(open, '}') : NULL;
    if (!open || !close) return 1;
    unsigned words = 0;
    const char *p = open + 1;
    while (p < close) {
        while (p < close && (*p == ' ' || *p == ',')) ++p;
        if (p >= close) break;
        const char *item_end = p;
        while (item_end < close && *item_end != ',') ++item_end;
        const unsigned per = (*p == 'd') ? 2 : 1;
        const char *dash = memchr(p, '-', (size_t)(item_end - p));
        if (dash && isdigit((unsigned char)p[1]) && isdigit((unsigned char)dash[2])) {
            const long first = strtol(p + 1, NULL, 10), last = strtol(dash + 2, NULL, 10);
            words += per * (unsigned)(last >= first ? last - first + 1 : 1);
        } else {
            words += per;
        }
        p = item_end;
    }
    return words ? words : 1;
}

/* True when operand text names a core register (r0-r12, sb, sl, fp, ip, sp, lr, pc) as a token. */
static unsigned core_registers(const char *operands) {
    static const char *const names[] = {"sb", "sl", "fp", "ip", "sp", "lr", "pc"};
    unsigned count = 0;
    for (const char *p = operands; *p; ++p) {
        if (p != operands && (isalnum((unsigned char)p[-1]) || p[-1] == '_')) continue;
        if (*p == 'r' && isdigit((unsigned char)p[1])) {
            ++count;
            continue;
        }
        for (size_t i = 0; i < 7; ++i)
            if (strncmp(p, names[i], 2) == 0 && !isalnum((unsigned char)p[2])) ++count;
    }
    return count;
}

struct instruction_cost {
    enum cost_class cls;
    unsigned cycles;
    char load_destination[8]; /* a single load's destination, for the next instruction's pipelining */
};

/* `previous` is the instruction before in the same block (NULL at the block's start). */
static struct instruction_cost cost_of(const char *text, const struct instruction_cost *previous) {
    struct instruction_cost cost = {UNKNOWN, 1, ""};
    char mnemonic[24];
    size_t length = strcspn(text, " \t");
    if (length >= sizeof mnemonic) length = sizeof mnemonic - 1;
    memcpy(mnemonic, text, length);
    mnemonic[length] = '\0';
    for (char *c = mnemonic; *c; ++c) *c = (char)tolower((unsigned char)*c);
    const char *operands = text + strcspn(text, " \t");
    while (*operands == ' ' || *operands == '\t') ++operands;
    cost.cls = classify(mnemonic);
    const char *address = strchr(operands, '[');
    switch (cost.cls) {
    case DATA: case BRANCH: case FP_SIMPLE: case UNKNOWN: case N_CLASSES: cost.cycles = 1; break;
    case DIVIDE: cost.cycles = 12; break;
    case TABLE_BRANCH: cost.cycles = 2; break;
    case LOAD: cost.cycles = 2; break;
    case STORE: {
        /* A register offset: "[r1, r2]" or "[r1, r2, lsl #2]"; an immediate one is "[r1, #4]". */
        const char *comma = address ? strchr(address, ',') : NULL;
        const char *close = address ? strchr(address, ']') : NULL;
        const char *offset = comma && close && comma < close ? comma + 1 : NULL;
        while (offset && *offset == ' ') ++offset;
        cost.cycles = offset && *offset != '#' ? 2 : 1;
        break;
    }
    case LOAD_STORE_PAIR: cost.cycles = 3; break;
    case MULTIPLE: case FP_MULTIPLE: cost.cycles = 1 + list_words(operands); break;
    case FP_MOVE: cost.cycles = core_registers(operands) >= 2 ? 2 : 1; break;
    case FP_MAC: cost.cycles = 3; break;
    case FP_DIVIDE: cost.cycles = 14; break;
    case FP_LOAD_STORE: cost.cycles = operands[0] == 'd' ? 3 : 2; break;
    }
    if ((cost.cls == LOAD || cost.cls == STORE) && previous && previous->cls == LOAD && previous->load_destination[0]) {
        /* Pipelined after a load, unless the load's destination is in this address. */
        const char *close = address ? strchr(address, ']') : NULL;
        bool depends = false;
        const size_t n = strlen(previous->load_destination);
        for (const char *p = address; p && p < close; ++p)
            if (strncmp(p, previous->load_destination, n) == 0 && !isalnum((unsigned char)p[n]) &&
                !isalnum((unsigned char)p[-1]))
                depends = true;
        if (!depends && cost.cycles > 1) cost.cycles -= 1;
    }
    if (cost.cls == LOAD) {
        const size_t n = strcspn(operands, ", ");
        if (n < sizeof cost.load_destination) {
            memcpy(cost.load_destination, operands, n);
            cost.load_destination[n] = '\0';
        }
    }
    if (cost.cls == UNKNOWN && n_unclassified < MAX_UNCLASSIFIED) {
        size_t i = 0;
        while (i < n_unclassified && strcmp(unclassified[i].mnemonic, mnemonic) != 0) ++i;
        if (i == n_unclassified) {
            snprintf(unclassified[i].mnemonic, sizeof unclassified[i].mnemonic, "%s", mnemonic);
            ++n_unclassified;
        }
        ++unclassified[i].sites;
    }
    return cost;
}

static struct symbol_count *symbol_counter(const char *name) {
    for (size_t i = 0; i < n_symbols; ++i)
        if (symbols[i].name == name || strcmp(symbols[i].name, name) == 0) return &symbols[i];
    if (n_symbols == MAX_SYMBOLS) return NULL;
    symbols[n_symbols].name = name;
    return &symbols[n_symbols++];
}

static void on_translate(qemu_plugin_id_t id, struct qemu_plugin_tb *tb) {
    (void)id;
    const size_t n = qemu_plugin_tb_n_insns(tb);
    qemu_plugin_register_vcpu_tb_exec_inline(tb, QEMU_PLUGIN_INLINE_ADD_U64, &executed, n);
    struct block_cost *block = NULL;
    if (cycles_on && n > 0) {
        block = calloc(1, sizeof *block);
        if (block) {
            struct qemu_plugin_insn *first = qemu_plugin_tb_get_insn(tb, 0), *last = qemu_plugin_tb_get_insn(tb, n - 1);
            block->start = qemu_plugin_insn_vaddr(first);
            block->end = qemu_plugin_insn_vaddr(last) + qemu_plugin_insn_size(last);
            if (in_ranges(flash_ranges, n_flash_ranges, block->start))
                block->fetch_words = (block->end - 1) / 4 - block->start / 4 + 1;
        }
    }
    struct instruction_cost previous = {UNKNOWN, 0, ""};
    for (size_t i = 0; i < n; ++i) {
        struct qemu_plugin_insn *insn = qemu_plugin_tb_get_insn(tb, i);
        const char *name = qemu_plugin_insn_symbol(insn);
        if (name && strcmp(name, "ctattn_count_mark") == 0)
            qemu_plugin_register_vcpu_insn_exec_cb(insn, on_mark, QEMU_PLUGIN_CB_NO_REGS, NULL);
        if (profile && i == 0) {
            struct symbol_count *counter = symbol_counter(name ? name : "?");
            if (counter) qemu_plugin_register_vcpu_tb_exec_inline(tb, QEMU_PLUGIN_INLINE_ADD_U64, &counter->insns, n);
        }
        if (memory_on)
            qemu_plugin_register_vcpu_mem_cb(insn, on_memory, QEMU_PLUGIN_CB_NO_REGS, QEMU_PLUGIN_MEM_RW,
                                             profile ? symbol_counter(name ? name : "?") : NULL);
        if (block || print_disas) {
            char *text = qemu_plugin_insn_disas(insn);
            const struct instruction_cost cost = cost_of(text ? text : "?", i > 0 ? &previous : NULL);
            if (block) {
                block->cycles += cost.cycles;
                block->class_insns[cost.cls] += 1;
                block->class_cycles[cost.cls] += cost.cycles;
            }
            if (print_disas) {
                char line[256];
                snprintf(line, sizeof line, "ctattn-disas: %08" PRIx64 " %-12s %2u  %.180s\n", qemu_plugin_insn_vaddr(insn),
                         class_names[cost.cls], cost.cycles, text ? text : "?");
                qemu_plugin_outs(line);
            }
            previous = cost;
            free(text);
        }
    }
    if (block) qemu_plugin_register_vcpu_tb_exec_cb(tb, on_block, QEMU_PLUGIN_CB_NO_REGS, block);
}

static int by_count(const void *a, const void *b) {
    const struct symbol_count *x = a, *y = b;
    return x->insns < y->insns ? 1 : x->insns > y->insns ? -1 : 0;
}

static void print_marks(const char *label, size_t counter) {
    char line[64];
    qemu_plugin_outs(label);
    for (size_t i = 0; i < n_marks; ++i) {
        snprintf(line, sizeof line, " %" PRIu64, counter == N_COUNTERS ? marks[i] : counter_marks[i][counter]);
        qemu_plugin_outs(line);
    }
    qemu_plugin_outs("\n");
}

static void at_exit(qemu_plugin_id_t id, void *userdata) {
    (void)id;
    (void)userdata;
    char line[256];
    snprintf(line, sizeof line, "ctattn-insns: %" PRIu64 "\n", executed);
    qemu_plugin_outs(line);
    const size_t shown = cycles_on ? N_COUNTERS : memory_on ? CYCLES : 0;
    for (size_t c = 0; c < shown; ++c) {
        snprintf(line, sizeof line, "ctattn-%s: %" PRIu64 "\n", counter_names[c], counters[c]);
        qemu_plugin_outs(line);
    }
    if (n_marks > 0) {
        print_marks("ctattn-marks:", N_COUNTERS);
        for (size_t c = 0; c < shown; ++c) {
            snprintf(line, sizeof line, "ctattn-marks-%s:", counter_names[c]);
            print_marks(line, c);
        }
    }
    for (size_t c = 0; cycles_on && c < N_CLASSES; ++c)
        if (class_insns[c] > 0) {
            snprintf(line, sizeof line, "ctattn-cycle-class: %s %" PRIu64 " %" PRIu64 "\n", class_names[c],
                     class_insns[c], class_cycles[c]);
            qemu_plugin_outs(line);
        }
    if (cycles_on) {
        snprintf(line, sizeof line, "ctattn-cycle-class: refill 0 %" PRIu64 "\n", refills * REFILL_CYCLES);
        qemu_plugin_outs(line);
    }
    for (size_t i = 0; i < n_unclassified; ++i) {
        snprintf(line, sizeof line, "ctattn-unclassified: %" PRIu64 " %.23s\n", unclassified[i].sites,
                 unclassified[i].mnemonic);
        qemu_plugin_outs(line);
    }
    if (profile) {
        qsort(symbols, n_symbols, sizeof symbols[0], by_count);
        for (size_t i = 0; i < n_symbols && symbols[i].insns > 0; ++i) {
            snprintf(line, sizeof line, "ctattn-profile: %" PRIu64 " %.200s\n", symbols[i].insns, symbols[i].name);
            qemu_plugin_outs(line);
        }
        for (size_t i = 0; memory_on && i < n_symbols; ++i)
            if (symbols[i].flash_read_bytes + symbols[i].ram_bytes > 0) {
                snprintf(line, sizeof line, "ctattn-profile-bytes: %" PRIu64 " %" PRIu64 " %.200s\n",
                         symbols[i].flash_read_bytes, symbols[i].ram_bytes, symbols[i].name);
                qemu_plugin_outs(line);
            }
    }
}

/* "START:SIZE" (C numbers: 0x20000000:0x400000) into a range; false if malformed. */
static bool parse_range(const char *text, struct address_range *ranges, size_t *n) {
    char *end;
    const uint64_t start = strtoull(text, &end, 0);
    if (*end != ':' || *n == MAX_RANGES) return false;
    const uint64_t size = strtoull(end + 1, &end, 0);
    if (*end != '\0' || size == 0) return false;
    ranges[*n].start = start;
    ranges[*n].end = start + size;
    ++*n;
    return true;
}

CTATTN_PLUGIN_EXPORT int qemu_plugin_install(qemu_plugin_id_t id, const qemu_info_t *info, int argc, char **argv) {
    (void)info;
    for (int i = 0; i < argc; ++i) {
        const char *arg = argv[i];
        bool ok = true;
        if (strcmp(arg, "profile=on") == 0) profile = 1;
        else if (strcmp(arg, "mem=on") == 0) memory_on = 1;
        else if (strcmp(arg, "cycles=on") == 0) cycles_on = memory_on = 1;
        else if (strcmp(arg, "disas=on") == 0) print_disas = 1;
        else if (strncmp(arg, "flash=", 6) == 0) ok = parse_range(arg + 6, flash_ranges, &n_flash_ranges);
        else if (strncmp(arg, "ram=", 4) == 0) ok = parse_range(arg + 4, ram_ranges, &n_ram_ranges);
        else ok = false;
        if (!ok) {
            fprintf(stderr, "qemu_insn_count: unknown or malformed argument '%s' (profile=on, mem=on, cycles=on, "
                            "disas=on, flash=START:SIZE, ram=START:SIZE)\n", arg);
            return -1;
        }
    }
    qemu_plugin_register_vcpu_tb_trans_cb(id, on_translate);
    qemu_plugin_register_atexit_cb(id, at_exit, NULL);
    return 0;
}
