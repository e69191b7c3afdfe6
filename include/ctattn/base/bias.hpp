// SPDX-License-Identifier: Apache-2.0
// Bias tags: whether a layer's projections add a bias, y = x W (+ b). A tag type instead of a bare
// bool, so a configuration reads `attention_config<64, 8, 4, 256, no_bias, causal_mask>` rather than
// a `false` whose meaning the reader has to look up.
#pragma once

#include "language_check.hpp"  // first: under an older -std the first error names C++20

#include <concepts>
#include <type_traits>

namespace ctattn {

/// The projections add a bias: y = x W + b.
struct with_bias {
    static constexpr const char* name = "with_bias";  ///< the tag's name, for reports
    static constexpr bool enabled = true;             ///< a bias is added
};
/// The projections add no bias: y = x W.
struct no_bias {
    static constexpr const char* name = "no_bias";  ///< the tag's name, for reports
    static constexpr bool enabled = false;          ///< no bias is added
};

/// A bias tag: with_bias or no_bias.
template <class B>
concept bias_policy = std::same_as<B, with_bias> || std::same_as<B, no_bias>;

/// The tag for a bool known at compile time (a generated or file-driven configuration).
template <bool Enabled>
using bias_if = std::conditional_t<Enabled, with_bias, no_bias>;

}  // namespace ctattn
