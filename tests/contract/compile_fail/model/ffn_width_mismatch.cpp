// SPDX-License-Identifier: Apache-2.0
// The FFN's d_model (12) differs from the attention's (16).
#include <ctattn/layers/block.hpp>

using namespace ctattn;
using block = block_config<attention_config<16, 4>, ffn_config<12>>;
[[maybe_unused]] constexpr std::size_t width = block::d_model;
