// SPDX-License-Identifier: Apache-2.0
// Each kernel's instructions per call on an emulated Cortex-M core, on the build's default arch
// (the scalar path on Cortex-M4F and M7 and on cross/cortex-m55-scalar.ini, Helium on
// cross/cortex-m55.ini), at stories260K's shapes and a few others. Every kernel runs once to warm
// up, then once between two ctattn_count_mark() calls; tools/qemu_insn_count.c records the running
// count at each mark and `tools/emulated_counts.py --sweep` takes the differences, less an empty
// entry's (the marks' own call overhead). The image prints the kernels' names in order.
#include <cstddef>
#include <cstdint>

#include <ctattn/kernels/activation.hpp>
#include <ctattn/kernels/decode/attention.hpp>
#include <ctattn/kernels/norm.hpp>
#include <ctattn/kernels/projection.hpp>
#include <ctattn/kernels/scores.hpp>
#include <ctattn/kernels/softmax.hpp>
#include <ctattn/layers/attention_core_selector.hpp>

#include "../../tests/embedded/print.hpp"

#include "../../tests/embedded/count_mark.hpp"  // ctattn_count_mark(), per architecture

namespace {

using arch = ctattn::simd::default_arch;
constexpr std::size_t keys_max = 512;

// Inputs in RAM (globals: no call can be moved across a mark), filled once.
alignas(16) float x[8 * 512];                 // rows of activations
alignas(16) float w[512 * 172];               // weights, (in, out) row-major
alignas(16) float y[8 * 512];                 // outputs
alignas(16) float gain[512];                  // norm gains
alignas(16) float kv_keys[keys_max * 8];      // one KV head's keys, head_dim 8
alignas(16) float kv_values[keys_max * 8];    // and values
alignas(16) float scores[2 * keys_max];       // decode scratch, softmax rows
alignas(16) float q2[16];                     // two query heads of head_dim 8

void fill() {
    std::uint32_t state = 12345u;
    auto next = [&state] {
        state ^= state << 13;
        state ^= state >> 17;
        state ^= state << 5;
        return float(state >> 8) / 16777216.0f - 0.5f;  // [-0.5, 0.5)
    };
    for (float& e : x) e = next();
    for (float& e : w) e = 0.1f * next();
    for (float& e : gain) e = 1.0f + next();
    for (float& e : kv_keys) e = next();
    for (float& e : kv_values) e = next();
    for (float& e : q2) e = next();
}

void empty() {}
template <std::size_t Din, std::size_t Dout, std::size_t Rows>
void project() {
    ctattn::kernels::project<Din, Dout, arch>(Rows, x, w, nullptr, y);
}
template <std::size_t N>
void rms_norm() {
    ctattn::kernels::rms_norm_row<N, arch>(x, gain, 1e-5f, y);
}
template <std::size_t N>
void softmax() {
    for (std::size_t j = 0; j < N; ++j) scores[j] = x[j] * 8.0f;
    (void)ctattn::kernels::softmax_row<arch>(scores, N, ctattn::key_range{0, N});
}
template <std::size_t N>
void silu_gated() {
    ctattn::kernels::activate_gated_row<ctattn::silu, N, arch>(y, x);
}
template <std::size_t Vocab>
void tied_head() {
    ctattn::kernels::dot_rows<64, Vocab, arch>(x, w, y);
}
// One KV head, two query heads of head_dim 8 (stories260K's pairs), keys 0 .. Keys - 1: the
// kernel the decoder takes on this arch (layers/block.hpp).
template <std::size_t Keys>
void decode_pair() {
    const ctattn::key_range visible{0, Keys};
    if constexpr (ctattn::uses_blocked_attention<arch> && ctattn::kernels::vector_decode_fits<8, arch>)
        (void)ctattn::kernels::vector_decode_attention<2, 1, 8, 8, 8, arch>(q2, kv_keys, kv_values, visible, 0.35f,
                                                                            scores, y);
    else
        (void)ctattn::kernels::decode_attention<2, 1, 8, 8, 8>(q2, kv_keys, kv_values, visible, 0.35f, scores, y);
}

struct entry {
    const char* name;
    void (*run)();
};
constexpr entry kernels[] = {
    {"empty", empty},
    {"project 1 x 64 -> 64", project<64, 64, 1>},
    {"project 1 x 64 -> 32", project<64, 32, 1>},
    {"project 1 x 64 -> 172", project<64, 172, 1>},
    {"project 1 x 172 -> 64", project<172, 64, 1>},
    {"project 1 x 64 -> 512", project<64, 512, 1>},
    {"project 1 x 20 -> 12", project<20, 12, 1>},
    {"project 8 x 64 -> 64", project<64, 64, 8>},
    {"project 8 x 64 -> 172", project<64, 172, 8>},
    {"rms_norm 64", rms_norm<64>},
    {"rms_norm 172", rms_norm<172>},
    {"softmax row 64", softmax<64>},
    {"softmax row 257", softmax<257>},
    {"SwiGLU gate 172", silu_gated<172>},
    {"tied head 64 -> 512", tied_head<512>},
    {"decode attention, 2 heads of 8, 16 keys", decode_pair<16>},
    {"decode attention, 2 heads of 8, 255 keys", decode_pair<255>},
    {"decode attention, 2 heads of 8, 512 keys", decode_pair<512>},
};

}  // namespace

int firmware_main() {
    fill();
    embedded::print("arch ", ctattn::simd::arch_name<arch>(), "\n");
    for (const entry& e : kernels) {
        e.run();
        ctattn_count_mark();
        e.run();
        ctattn_count_mark();
        embedded::print("sweep: ", e.name, "\n");
    }
    return 0;
}
