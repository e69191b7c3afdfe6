// SPDX-License-Identifier: Apache-2.0
// The stories260K configuration the instruction-count firmware and its host reference run: the
// model's whole trained context (512 positions) as the KV cache, tied head, llama's block; and the
// same model with int8 weights (configs/stories260k_q8.json: Q8, q8_group_rule<32, 8>).
#pragma once

#include <cstddef>

#include <ctattn/model/decoder.hpp>
#include <ctattn/io/llama2c.hpp>

namespace stories260k {
using namespace ctattn;
inline constexpr std::size_t context = 512;  // the checkpoint's seq_len
using attention = attention_config<64, 8, 4, context, no_bias, causal_mask>;
using block = block_config<attention, ffn_config<64, swiglu, 172>, rms_norm<eps_1e_minus<5>>, pre_norm>;
using config = stacked_model_config<512, 5, block, rotary_positions<10000>, rms_norm<eps_1e_minus<5>>, tied_head>;
using config_q8 = with_weight_format<config, q8_weights<>>;
inline constexpr token_id bos = 1;

inline std::size_t argmax(const float* logits, std::size_t n) noexcept {
    std::size_t best = 0;
    for (std::size_t i = 1; i < n; ++i)
        if (logits[i] > logits[best]) best = i;
    return best;
}
}  // namespace stories260k
