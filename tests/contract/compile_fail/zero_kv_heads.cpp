// SPDX-License-Identifier: Apache-2.0
// No key/value heads.
#include <ctattn/base/attention_config.hpp>

[[maybe_unused]] constexpr std::size_t kv_heads = ctattn::attention_config<8, 2, 0>::kv_heads;
