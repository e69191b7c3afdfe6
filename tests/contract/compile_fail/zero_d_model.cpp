// SPDX-License-Identifier: Apache-2.0
// A model of width 0.
#include <ctattn/base/attention_config.hpp>

[[maybe_unused]] constexpr std::size_t width = ctattn::attention_config<0, 1>::d_model;
