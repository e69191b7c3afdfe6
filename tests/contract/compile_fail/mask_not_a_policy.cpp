// SPDX-License-Identifier: Apache-2.0
// A mask that is not a mask policy.
#include <ctattn/base/attention_config.hpp>

struct not_a_mask {};
[[maybe_unused]] constexpr std::size_t width = ctattn::attention_config<8, 2, 2, 4, ctattn::with_bias, not_a_mask>::d_model;
