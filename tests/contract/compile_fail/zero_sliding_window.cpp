// SPDX-License-Identifier: Apache-2.0
// A sliding window that shows no keys at all.
#include <ctattn/base/mask.hpp>

[[maybe_unused]] constexpr std::size_t window = ctattn::sliding_window_mask<0>::window;
