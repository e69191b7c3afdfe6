// SPDX-License-Identifier: Apache-2.0
// 6 query heads cannot be shared evenly by 4 KV heads.
#include <ctattn/base/attention_config.hpp>

[[maybe_unused]] constexpr std::size_t group = ctattn::attention_config<24, 6, 4>::group_size;
