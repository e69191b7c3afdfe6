// SPDX-License-Identifier: Apache-2.0
// Shapes and policies as types. An attention configuration carries every extent as a constexpr
// member, so buffers are sized by the type and loops run over constants the compiler can see
// through. Invalid combinations stop the build with a static_assert that names the rule.
#pragma once

#include "language_check.hpp"  // first: under an older -std the first error names C++20

#include <cstddef>

#include "bias.hpp"
#include "mask.hpp"

namespace ctattn {

namespace detail {
// sqrt for constant expressions (std::sqrt is not constexpr in C++20): Newton's iteration in
// double converges to the correctly rounded root for the small integers used here.
constexpr double constexpr_sqrt(double x) noexcept {
    if (x <= 0.0) return 0.0;
    double r = x > 1.0 ? x : 1.0;
    for (int i = 0; i < 64; ++i) {
        const double next = 0.5 * (r + x / r);
        if (next == r) break;
        r = next;
    }
    return r;
}
}  // namespace detail

/// The shape and policies of one attention layer.
/// DModel:      model width (embedding size), d_model.
/// Heads:       query heads; head_dim = DModel / Heads.
/// KvHeads:     key/value heads (== Heads: multi-head; 1: multi-query; between: grouped-query).
/// SeqCapacity: the longest sequence (and the KV cache's length); buffers are sized by it.
/// Bias:        with_bias or no_bias (base/bias.hpp): whether Q, K, V and output projections carry a bias.
/// Mask:        a mask policy type from base/mask.hpp.
template <std::size_t DModel, std::size_t Heads, std::size_t KvHeads = Heads, std::size_t SeqCapacity = 64,
          class Bias = with_bias, class Mask = causal_mask>
struct attention_config {
    static_assert(DModel > 0, "ctattn: d_model must be at least 1");
    static_assert(Heads > 0, "ctattn: heads must be at least 1");
    static_assert(KvHeads > 0, "ctattn: kv_heads must be at least 1");
    static_assert(SeqCapacity > 0, "ctattn: seq_capacity must be at least 1");
    static_assert(DModel % (Heads > 0 ? Heads : 1) == 0,
                  "ctattn: d_model must be divisible by heads (head_dim = d_model / heads)");
    static_assert(KvHeads <= Heads, "ctattn: kv_heads must not exceed heads");
    static_assert(Heads % (KvHeads > 0 ? KvHeads : 1) == 0,
                  "ctattn: heads must be divisible by kv_heads (each KV head serves heads / kv_heads query heads)");
    static_assert(bias_policy<Bias>,
                  "ctattn: Bias must be the tag ctattn::with_bias or ctattn::no_bias (not a bool: base/bias.hpp)");
    static_assert(mask_policy<Mask>, "ctattn: Mask must be a mask policy (see base/mask.hpp)");

    static constexpr std::size_t d_model = DModel;            ///< model width (embedding size)
    static constexpr std::size_t heads = Heads;               ///< query heads
    static constexpr std::size_t kv_heads = KvHeads;          ///< key/value heads
    static constexpr std::size_t seq_capacity = SeqCapacity;  ///< the longest sequence, the KV cache's length
    using bias_tag = Bias;                                    ///< with_bias or no_bias
    static constexpr bool bias = std::is_same_v<Bias, with_bias>;  ///< whether the projections add a bias
    using mask = Mask;                                        ///< the mask policy

    static constexpr std::size_t head_dim = DModel / (Heads > 0 ? Heads : 1);  ///< d_model / heads
    static constexpr std::size_t kv_dim = KvHeads * head_dim;        ///< width of K and V rows
    static constexpr std::size_t group_size = Heads / (KvHeads > 0 ? KvHeads : 1);  ///< query heads per KV head
    /// 1/sqrt(head_dim): the scaling that keeps score variance ~1 whatever the head width.
    static constexpr float score_scale = static_cast<float>(1.0 / detail::constexpr_sqrt(double(head_dim)));
};

/// Detects attention_config-like types for constrained templates.
template <class C>
concept attention_configuration = requires {
    C::d_model; C::heads; C::kv_heads; C::seq_capacity; C::head_dim; C::kv_dim; C::bias;
    typename C::mask;
};

}  // namespace ctattn
