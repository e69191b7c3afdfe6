// SPDX-License-Identifier: Apache-2.0
// Two layers of different d_model cannot share a residual stream.
#include <ctattn/model/language_model.hpp>

using namespace ctattn;
using narrow = block_config<attention_config<16, 4, 4, 8>, ffn_config<16>>;
using wide = block_config<attention_config<32, 4, 4, 8>, ffn_config<32>>;
using config = model_config<10, no_positions, no_norm, untied_head<>, narrow, wide>;
[[maybe_unused]] constexpr std::size_t layers = config::layers;
