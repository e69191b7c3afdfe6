// SPDX-License-Identifier: Apache-2.0
// Which attention core computes O_h = softmax(mask(Q_h K_g^T / sqrt(head_dim))) V_g for a call,
// decided by one rule for both callers: the layer (multi_head_attention::forward, layers/
// attention.hpp) and the transformer block (prefill chunks and decode steps over the KV cache,
// layers/block.hpp). Every input but the query count is known at compile time.
#pragma once

#include <cstddef>
#include <type_traits>

#include "../base/mask.hpp"
#include "../kernels/decode/attention.hpp"
#include "../simd/ops.hpp"

namespace ctattn {

/// The cores; all give the same result up to rounding (sums run in other orders).
enum class attention_core {
    one_row,        ///< attend (layers/attention.hpp): one query row at a time, kernels along head_dim
    blocked,        ///< attend_blocked: blocks of query rows as register tiles against K^T (vector arches)
    scalar_decode,  ///< kernels/decode/attention.hpp: one query, heads paired per KV head, exp by polynomial
    vector_decode,  ///< kernels/decode/vector_heads.hpp: one query, vectorised across keys (narrow heads)
};

/// Where K and V come from: the input in which the two callers differ.
enum class kv_source {
    /// multi_head_attention::forward: the call's own projected rows, heads side by side (row stride
    /// kv_dim), as many keys as queries. The blocked core from the measured threshold below.
    projected_rows,
    /// transformer_block: the KV cache, head by head (row stride head_dim). One query (a decode step)
    /// takes a decode kernel where one fits; several (a prefill chunk) take the blocked core from 2
    /// rows on whenever the caller has its scratch, as blocks have since they got the blocked core
    /// (the threshold table below was measured for the layer and never applied to blocks).
    kv_cache,
};

/// Vector arches run the blocked core; the scalar path (Cortex-M) keeps the one-row core and
/// spends no RAM on the blocked scratch ((head_dim + tile rows) x seq_capacity floats).
template <class Arch>
inline constexpr bool uses_blocked_attention = simd::width<Arch> > 1;

/// The layer's threshold, fixed at compile time from head_dim and the mask: the blocked core from
/// this many queries on, the one-row core below. The blocked core pays per call for K^T (head_dim x
/// keys floats moved) and per block of 6 queries for a register tile, which a prompt of a few
/// tokens does not amortise; the one-row core pays per query, and its dot products along head_dim
/// get cheaper per flop as head_dim grows. Measured on the AVX-512 Xeon of docs/performance.md
/// (both cores over all heads, S queries against S keys, best of 30 runs of 20), one-row
/// time / blocked time, causal / no mask (> 1: blocked wins):
///   head_dim  S=1        2          4          8          12         16
///   8         0.77/0.77  1.14/1.12  1.31/1.40  1.40/1.43  1.44/1.46  3.30/3.32
///   16        0.86/0.73  1.20/1.12  1.37/1.37  1.41/1.43  1.49/1.49  2.93/1.76
///   32        0.76/0.76  0.97/1.00  1.22/1.25  1.30/1.35  1.38/1.41  2.39/1.88
///   64        0.41/0.42  0.67/0.68  0.89/0.97  0.99/1.05  1.11/1.22  1.64/1.61
///   128       0.20/0.15  0.35/0.29  0.58/0.52  0.73/0.81  1.00/1.46  1.63/2.39
///   256       0.11/0.11  0.16/0.17  0.33/0.42  0.55/0.77  0.82/1.20  1.10/1.51
///   512       0.05/0.05  0.12/0.14  0.28/0.35  0.50/0.69  0.88/1.71  1.38/2.43
/// and 2.2x-4.5x for the blocked core at S=64 and S=256 for every head_dim and both masks. The
/// threshold is the first measured S where both masks win; with no mask (every key visible, twice
/// a causal row's work per query) the blocked core wins sooner at head_dim >= 128. Masks other
/// than none see at most a causal row's keys and take the causal threshold.
template <class Arch, std::size_t HeadDim, class Mask>
inline constexpr std::size_t blocked_attention_min_queries =
    !uses_blocked_attention<Arch>        ? ~std::size_t(0)
    : HeadDim <= 16                      ? 2
    : HeadDim <= 32                      ? 4
    : HeadDim <= 64                      ? 12
    : std::is_same_v<Mask, no_mask>      ? 12
                                         : 16;

/// Blocks of a prefill chunk run the blocked core from this many rows on (see kv_source::kv_cache).
inline constexpr std::size_t blocked_attention_min_cached_queries = 2;

/// The one rule. queries: query rows in the call; has_blocked_scratch: the caller holds the
/// blocked core's scratch for Arch (a layer's workspace made for Arch; a block's buffers with
/// score_block set). A decode kernel may still hand a row back (a NaN or non-finite score): the
/// caller then runs the one-row core for it.
template <class Arch, std::size_t HeadDim, class Mask>
constexpr attention_core choose_attention_core(kv_source source, std::size_t queries,
                                               bool has_blocked_scratch) noexcept {
    if (source == kv_source::kv_cache && queries == 1) {
        if constexpr (!uses_blocked_attention<Arch>) return attention_core::scalar_decode;
        if constexpr (kernels::vector_decode_fits<HeadDim, Arch>) return attention_core::vector_decode;
    }
    if (uses_blocked_attention<Arch> && has_blocked_scratch) {
        const std::size_t blocked_from = source == kv_source::kv_cache ? blocked_attention_min_cached_queries
                                                                       : blocked_attention_min_queries<Arch, HeadDim, Mask>;
        if (queries >= blocked_from) return attention_core::blocked;
    }
    return attention_core::one_row;
}

}  // namespace ctattn
