// SPDX-License-Identifier: Apache-2.0
// The two models the examples run (tiny_lm, heatmap): stories260K, the llama2.c checkpoint, and a
// small built-in model with deterministic weights; and the one way they read a file. Static
// storage only: the caller owns the weights and the file buffer.
#pragma once

#include <ctattn/model/language_model.hpp>
#include <ctattn/base/status.hpp>

#include <cstddef>
#include <cstdint>
#include <cstdio>

namespace ctattn_examples {

using namespace ctattn;

// stories260K: dim 64, 8 heads sharing 4 KV heads, SwiGLU 172, 5 layers, vocab 512, tied head.
// Capacity 256 positions (the checkpoint was trained for 512; the cache costs 5*2*256*32*4 bytes).
using stories_block = block_config<attention_config<64, 8, 4, 256, no_bias, causal_mask>, ffn_config<64, swiglu, 172>,
                                   rms_norm<eps_1e_minus<5>>, pre_norm>;
using stories_config =
    stacked_model_config<512, 5, stories_block, rotary_positions<10000>, rms_norm<eps_1e_minus<5>>, tied_head>;

// The built-in model: two different layers in one Hana tuple, a sliding-window layer below a
// full causal one, both llama-style (RoPE, grouped-query attention, SwiGLU).
using local_block = block_config<attention_config<24, 4, 2, 48, no_bias, sliding_window_mask<8>>,
                                 ffn_config<24, swiglu, 40>, rms_norm<eps_1e_minus<5>>, pre_norm>;
using global_block = block_config<attention_config<24, 4, 2, 48, no_bias, causal_mask>, ffn_config<24, swiglu, 64>,
                                  rms_norm<eps_1e_minus<5>>, pre_norm>;
using tiny_config =
    model_config<32, rotary_positions<10000>, rms_norm<eps_1e_minus<5>>, untied_head<>, local_block, global_block>;

// Deterministic weights for the built-in model: a fixed LCG, scaled like an initialised layer.
template <class M>
void fill(M& m, std::uint32_t& state, float scale, float centre = 0.0f) {
    for (std::size_t i = 0; i < M::size; ++i) {
        state = state * 1664525u + 1013904223u;
        m[i] = centre + scale * (float(state >> 8) / float(1u << 24) - 0.5f);
    }
}

inline void build_tiny_model(model_weights<tiny_config>& w) {
    std::uint32_t state = 2024u;
    fill(w.embedding, state, 2.0f);
    hana::for_each(w.layers, [&](auto& layer) {
        fill(layer.attention.wq, state, 0.7f);
        fill(layer.attention.wk, state, 0.7f);
        fill(layer.attention.wv, state, 0.7f);
        fill(layer.attention.wo, state, 0.7f);
        fill(layer.ffn.w1, state, 0.7f);
        fill(layer.ffn.w3, state, 0.7f);
        fill(layer.ffn.w2, state, 0.5f);
        fill(layer.attention_norm.gain, state, 0.2f, 1.0f);
        fill(layer.ffn_norm.gain, state, 0.2f, 1.0f);
    });
    fill(w.final_norm.gain, state, 0.2f, 1.0f);
    fill(w.head.w_out, state, 1.5f);
}

// 2 MiB: room for stories260K.bin (1,056,540 bytes).
inline constexpr std::size_t max_file_bytes = 1u << 21;

// Reads up to capacity bytes of a file into buffer. A file that cannot be opened is
// status::file_not_found, so it is not reported as a format error.
inline status read_file(const char* path, unsigned char* buffer, std::size_t capacity, std::size_t& size) {
    std::FILE* f = std::fopen(path, "rb");
    if (f == nullptr) return status::file_not_found;
    size = std::fread(buffer, 1, capacity, f);
    std::fclose(f);
    return status::ok;
}

}  // namespace ctattn_examples
