// SPDX-License-Identifier: Apache-2.0
// d_model 10 cannot be split into 3 heads.
#include <ctattn/base/attention_config.hpp>

[[maybe_unused]] constexpr std::size_t head_dim = ctattn::attention_config<10, 3>::head_dim;
