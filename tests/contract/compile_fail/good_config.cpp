// SPDX-License-Identifier: Apache-2.0
// Control: a valid configuration compiles with the same command line the failing cases use.
#include <ctattn/layers/attention.hpp>

using config = ctattn::attention_config<12, 6, 2, 8, ctattn::with_bias, ctattn::sliding_window_mask<3>>;
static_assert(config::head_dim == 2 && config::group_size == 3);
[[maybe_unused]] constexpr std::size_t bytes = ctattn::multi_head_attention<config>::workspace_bytes;
