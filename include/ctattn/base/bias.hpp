// SPDX-License-Identifier: Apache-2.0
// Bias tags: whether a layer's projections add a bias, y = x W (+ b). A tag type instead of a bare
// bool, so a configuration reads `attention_config<64, 8, 4, 256, no_bias, causal_mask>` rather than
// a `false` whose meaning the reader has to look up.
#pragma once

#include "language_check.hpp"  // first: under an older -std the first error names C++20

#include <concepts>
#include <type_traits>

namespace ctattn {

struct with_bias {
    static constexpr const char* name = "with_bias";
    static constexpr bool enabled = true;
};
struct no_bias {
    static constexpr const char* name = "no_bias";
    static constexpr bool enabled = false;
};

template <class B>
concept bias_policy = std::same_as<B, with_bias> || std::same_as<B, no_bias>;

// The tag for a bool known at compile time (a generated or file-driven configuration).
template <bool Enabled>
using bias_if = std::conditional_t<Enabled, with_bias, no_bias>;

}  // namespace ctattn
