// SPDX-License-Identifier: Apache-2.0
// A bias given as the bool literal of the old attention_config<..., bool Bias, ...>: the parameter
// is a type now (ctattn::with_bias or ctattn::no_bias), so the compiler itself rejects a value.
#include <ctattn/base/attention_config.hpp>

[[maybe_unused]] constexpr std::size_t width = ctattn::attention_config<8, 2, 2, 4, true, ctattn::causal_mask>::d_model;
