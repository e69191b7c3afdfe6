// SPDX-License-Identifier: Apache-2.0
// No query heads.
#include <ctattn/base/attention_config.hpp>

[[maybe_unused]] constexpr std::size_t heads = ctattn::attention_config<8, 0, 1>::heads;
