// SPDX-License-Identifier: Apache-2.0
// Room for no tokens.
#include <ctattn/base/attention_config.hpp>

[[maybe_unused]] constexpr std::size_t capacity = ctattn::attention_config<8, 2, 2, 0>::seq_capacity;
