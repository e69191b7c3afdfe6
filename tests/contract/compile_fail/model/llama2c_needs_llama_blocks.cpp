// SPDX-License-Identifier: Apache-2.0
// A post-norm LayerNorm GPT-style model cannot hold a llama2.c checkpoint.
#include <ctattn/io/llama2c.hpp>

using namespace ctattn;
using block = block_config<attention_config<16, 4, 4, 8, no_bias>, ffn_config<16, swiglu>, layer_norm<>, post_norm>;
using config = stacked_model_config<10, 1, block, rotary_positions<>, rms_norm<>, tied_head>;
status load(const unsigned char* bytes, std::size_t size, model_weights<config>& w) {
    return llama2c::load<config>(bytes, size, w);
}
