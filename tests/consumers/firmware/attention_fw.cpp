// SPDX-License-Identifier: Apache-2.0
// The smallest firmware that runs one ctattn attention layer, and everything it needs in one file:
// vector table, reset handler, the layer, a check, and the verdict through Arm semihosting (QEMU
// prints nothing here; `-semihosting-config enable=on,target=native` turns SYS_EXIT into its exit
// status). Built by the consumer tests with CMake and with pkg-config flags for Cortex-M4F
// (mps2-an386), linked with mps2-an386.ld; docs/integration.md quotes its size.
//
// The check is hand arithmetic: with Wq = Wk = 0 every score is 0, so a causal layer averages the
// value rows of tokens 0..t; with Wv = Wo = I and x(s, j) = (s + 1)(j + 1) the output is
// y(t, j) = (j + 1) * mean(1..t+1) = (j + 1)(t + 2) / 2.
#include <ctattn/layers/attention.hpp>
#include <ctattn/layers/footprint.hpp>

#include <cstddef>
#include <cstdint>

namespace {

// d_model 16, 4 heads sharing 2 KV heads, 6 positions, no bias, causal.
using config = ctattn::attention_config<16, 4, 2, 6, ctattn::no_bias, ctattn::causal_mask>;
using layer = ctattn::multi_head_attention<config>;
static_assert(ctattn::fits<config>(16 * 1024, 16 * 1024), "one layer in 16 KiB of RAM and of flash");

layer::weights_type weights;      // (d_model, d_model) Wq, Wo; (d_model, kv_dim) Wk, Wv
layer::workspace_type workspace;  // K, V, Q rows, context and one score row
ctattn::matrix<config::seq_capacity, config::d_model> x, y;  // (tokens, d_model)

#if !defined(CTATTN_FIRMWARE_BOARD_TEMPLATES)
// Arm semihosting SYS_EXIT (0x18) with ADP_Stopped_ApplicationExit or ADP_Stopped_RunTimeError.
[[noreturn]] void exit_with(bool success) {
    register std::uint32_t r0 asm("r0") = 0x18;
    register std::uint32_t r1 asm("r1") = success ? 0x20026u : 0x20023u;
    asm volatile("bkpt 0xab" : "+r"(r0) : "r"(r1) : "memory");
    for (;;) asm volatile("wfi");
}
#endif

bool run_layer() {
    for (std::size_t i = 0; i < config::d_model; ++i) weights.wo(i, i) = 1.0f;
    for (std::size_t i = 0; i < config::kv_dim; ++i) weights.wv(i, i) = 1.0f;
    for (std::size_t s = 0; s < config::seq_capacity; ++s)
        for (std::size_t j = 0; j < config::d_model; ++j) x(s, j) = float((s + 1) * (j + 1));
    // 5 of 6 positions: the last row of y must stay as it was.
    constexpr std::size_t seq_len = 5;
    if (layer::forward(weights, x, seq_len, y, workspace) != ctattn::status::ok) return false;
    bool ok = true;
    for (std::size_t t = 0; t < seq_len; ++t) {
        for (std::size_t j = 0; j < config::d_model; ++j) {
            // Grouped-query: query head h reads KV head h / group_size, whose slice of V is
            // columns [kv_head * head_dim, +head_dim) of x (Wv = I on its kv_dim columns).
            const std::size_t head = j / config::head_dim;
            const std::size_t kv_column = head / config::group_size * config::head_dim + j % config::head_dim;
            const float expected = float((kv_column + 1) * (t + 2)) / 2.0f;
            const float error = y(t, j) - expected;
            // Sums of at most 5 terms of size <= 48: float rounding stays below 1e-5 relative.
            ok = ok && error <= 1e-5f * (1.0f + expected) && -error <= 1e-5f * (1.0f + expected);
        }
    }
    for (std::size_t j = 0; j < config::d_model; ++j) ok = ok && y(seq_len, j) == 0.0f;
    return ok;
}

}  // namespace

#if !defined(CTATTN_FIRMWARE_BOARD_TEMPLATES)  // attention_board_fw.cpp: the board templates' start-up instead
// ---- start-up: what a vendor's startup file and CMSIS SystemInit do, reduced to the minimum ----
extern "C" {
extern std::uint32_t __data_load[], __data_start[], __data_end[], __bss_start[], __bss_end[], __stack_top[];

[[noreturn]] void reset_handler() {
    // Enable the FPU (CPACR: full access to CP10 and CP11) before the first float instruction.
    volatile std::uint32_t& cpacr = *reinterpret_cast<volatile std::uint32_t*>(0xE000ED88u);
    cpacr = cpacr | (0xFu << 20);
    asm volatile("dsb\n\tisb" ::: "memory");
    for (volatile std::uint32_t *src = __data_load, *dst = __data_start; dst < __data_end;) *dst++ = *src++;
    for (volatile std::uint32_t* p = __bss_start; p < __bss_end;) *p++ = 0;
    exit_with(run_layer());
}

[[noreturn]] void fault_handler() { exit_with(false); }

using vector_entry = void (*)();
__attribute__((section(".vectors"), used)) const vector_entry vector_table[7] = {
    reinterpret_cast<vector_entry>(__stack_top), reset_handler, fault_handler, fault_handler,
    fault_handler, fault_handler, fault_handler,  // NMI, HardFault, MemManage, BusFault, UsageFault
};
}
#endif
