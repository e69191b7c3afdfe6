// SPDX-License-Identifier: Apache-2.0
// RoPE rotates pairs, so head_dim (here 15 / 5 = 3) must be even.
#include <ctattn/model/language_model.hpp>

using namespace ctattn;
using block = block_config<attention_config<15, 5, 5, 8, no_bias>, ffn_config<15>>;
using config = stacked_model_config<10, 1, block, rotary_positions<>, no_norm, untied_head<>>;
status run(const model_weights<config>& w, model_workspace<config>& ws, float* logits) {
    const token_id tokens[1] = {1};
    return language_model<config>::forward(w, tokens, 1, logits, ws);
}
