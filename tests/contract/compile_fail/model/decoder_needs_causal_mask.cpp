// SPDX-License-Identifier: Apache-2.0
// An encoder layer (no mask) cannot be decoded incrementally: it would attend to future tokens.
#include <ctattn/model/decoder.hpp>

using namespace ctattn;
using block = block_config<attention_config<16, 4, 4, 8, with_bias, no_mask>, ffn_config<16>>;
using config = stacked_model_config<10, 1, block, sinusoidal_positions, no_norm, untied_head<>>;
[[maybe_unused]] decoder<config> d;
