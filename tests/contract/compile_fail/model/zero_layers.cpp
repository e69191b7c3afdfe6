// SPDX-License-Identifier: Apache-2.0
// A stack of zero layers.
#include <ctattn/model/language_model.hpp>

using namespace ctattn;
using block = block_config<attention_config<16, 4, 4, 8>, ffn_config<16>>;
using config = stacked_model_config<10, 0, block, no_positions, no_norm, untied_head<>>;
[[maybe_unused]] constexpr std::size_t layers = config::layers;
