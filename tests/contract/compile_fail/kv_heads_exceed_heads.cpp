// SPDX-License-Identifier: Apache-2.0
// More KV heads (8) than query heads (4).
#include <ctattn/base/attention_config.hpp>

[[maybe_unused]] constexpr std::size_t group = ctattn::attention_config<16, 4, 8>::group_size;
