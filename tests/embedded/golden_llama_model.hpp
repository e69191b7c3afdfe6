// SPDX-License-Identifier: Apache-2.0
// The PyTorch llama reference case compiled in by tools/embed_golden.py (CTATTN_GOLDEN_HEADER,
// namespace golden: 2 layers, RoPE, SwiGLU, RMSNorm, an untied head) as a ctattn configuration and
// its weights, built at compile time so a firmware test can place them in flash (an
// `extern constexpr model_weights<golden_llama::config>` in the test). Shared by model_fw.cpp and
// kv_storage_fw.cpp; include after CTATTN_GOLDEN_HEADER.
#pragma once

#include <cstddef>

#include <ctattn/model/config.hpp>
#include <ctattn/model/language_model.hpp>

namespace golden_llama {

using namespace ctattn;
using block = block_config<attention_config<golden::d_model, golden::heads, golden::kv_heads, golden::seq, no_bias,
                                            causal_mask>,
                           ffn_config<golden::d_model, swiglu, golden::hidden>, rms_norm<eps_1e_minus<5>>, pre_norm>;
using config = stacked_model_config<golden::vocab, golden::layers, block, rotary_positions<10000>,
                                    rms_norm<eps_1e_minus<5>>, untied_head<false>>;
static_assert(golden::layers == 2, "golden_llama_model.hpp: the weight loader below names layers 0 and 1");

template <std::size_t N, class Matrix>
constexpr void copy_values(const float (&from)[N], Matrix& to) {
    static_assert(N == Matrix::size, "golden_llama_model.hpp: a reference array's size differs from the weight it fills");
    for (std::size_t i = 0; i < N; ++i) to[i] = from[i];
}

template <class BlockWeights>
constexpr void fill_layer(BlockWeights& layer, const float (&attn_norm)[golden::d_model], const auto& wq,
                          const auto& wk, const auto& wv, const auto& wo, const float (&ffn_norm)[golden::d_model],
                          const auto& w1, const auto& w3, const auto& w2) {
    copy_values(attn_norm, layer.attention_norm.gain);
    copy_values(wq, layer.attention.wq);
    copy_values(wk, layer.attention.wk);
    copy_values(wv, layer.attention.wv);
    copy_values(wo, layer.attention.wo);
    copy_values(ffn_norm, layer.ffn_norm.gain);
    copy_values(w1, layer.ffn.w1);
    copy_values(w3, layer.ffn.w3);
    copy_values(w2, layer.ffn.w2);
}

/// The reference case's weights, in ctattn's layout (a constant expression).
constexpr model_weights<config> make_weights() {
    model_weights<config> w{};
    copy_values(golden::embedding, w.embedding);
    fill_layer(hana::at_c<0>(w.layers), golden::l0_attn_norm, golden::l0_wq, golden::l0_wk, golden::l0_wv,
               golden::l0_wo, golden::l0_ffn_norm, golden::l0_w1, golden::l0_w3, golden::l0_w2);
    fill_layer(hana::at_c<1>(w.layers), golden::l1_attn_norm, golden::l1_wq, golden::l1_wk, golden::l1_wv,
               golden::l1_wo, golden::l1_ffn_norm, golden::l1_w1, golden::l1_w3, golden::l1_w2);
    copy_values(golden::final_norm, w.final_norm.gain);
    copy_values(golden::w_cls, w.head.w_out);
    return w;
}

}  // namespace golden_llama
