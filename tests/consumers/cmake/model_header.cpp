// SPDX-License-Identifier: Apache-2.0
// Compiles when the model headers and Boost.Hana are on the consumer's include path: a two-layer
// llama-style model whose footprint is checked at compile time.
#include <ctattn/model/footprint.hpp>

namespace {
using block = ctattn::block_config<ctattn::attention_config<16, 4, 2, 8, ctattn::no_bias, ctattn::causal_mask>,
                                   ctattn::ffn_config<16, ctattn::swiglu, 32>,
                                   ctattn::rms_norm<ctattn::eps_1e_minus<5>>, ctattn::pre_norm>;
using model = ctattn::stacked_model_config<32, 2, block, ctattn::rotary_positions<10000>,
                                           ctattn::rms_norm<ctattn::eps_1e_minus<5>>, ctattn::tied_head>;
static_assert(ctattn::footprint<model>::kv_bytes >= 2 * 2 * 8 * 8 * sizeof(float), "K and V of 2 layers, 8 positions, kv_dim 8");
static_assert(ctattn::fits<model>(64 * 1024, 64 * 1024));
}  // namespace
