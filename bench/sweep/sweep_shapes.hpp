// SPDX-License-Identifier: Apache-2.0
// The sweep's shapes and work counts, shared by the harness (inputs, references, names) and the
// per-arch modules (instantiations): a small set on purpose, each arch instantiates all of them.
#pragma once

#include <cstddef>

namespace ctattn_sweep::shapes {

constexpr std::size_t seq = 64;             // rows of every kernel and layer case
constexpr std::size_t decode_length = 512;  // stories260K's whole context, from an empty cache
constexpr std::size_t peak_steps = 1024;    // multiply-adds per chain per run of the peak case
constexpr float peak_a = 0.999f, peak_b = 0.001f;  // acc * a + b stays in (0, chains): no overflow, no denormals

// Query-key pairs a mask lets through, over all heads (masked work is not credited).
constexpr double pairs(std::size_t s, std::size_t heads, bool causal) {
    return double(heads) * (causal ? double(s) * double(s + 1) / 2.0 : double(s) * double(s));
}
constexpr double projection_flops(std::size_t s, std::size_t d) { return 2.0 * double(s) * double(d) * double(d); }
// Scores and P V: one multiply-add per visible pair per head_dim element.
constexpr double core_flops(std::size_t s, std::size_t d, std::size_t heads, bool causal) {
    return 2.0 * double(d / heads) * pairs(s, heads, causal);
}
// The layer: four projections, then scores and P V (as bench/bench_mha.cpp counts it).
constexpr double layer_flops(std::size_t s, std::size_t d, std::size_t heads, bool causal) {
    return 4.0 * projection_flops(s, d) + 2.0 * core_flops(s, d, heads, causal);
}

}  // namespace ctattn_sweep::shapes
