// SPDX-License-Identifier: Apache-2.0
// A bias given as a bool-like type instead of the tag ctattn::with_bias or ctattn::no_bias.
#include <type_traits>

#include <ctattn/base/attention_config.hpp>

[[maybe_unused]] constexpr std::size_t width =
    ctattn::attention_config<8, 2, 2, 4, std::true_type, ctattn::causal_mask>::d_model;
