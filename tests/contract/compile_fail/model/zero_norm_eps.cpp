// SPDX-License-Identifier: Apache-2.0
// eps = 0 would let a constant row divide by zero.
#include <ctattn/layers/norm.hpp>

[[maybe_unused]] constexpr float eps = ctattn::layer_norm<std::ratio<0, 1>>::eps;
