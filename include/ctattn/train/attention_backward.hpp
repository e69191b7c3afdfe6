// SPDX-License-Identifier: Apache-2.0
// Backward of the attention core `attend` (layers/attention.hpp) over all heads:
//   P_h = softmax(mask(Q_h K_g^T * scale)),  O_h = P_h V_g
//   dP = dO V^T;  dS = P * (dP - rowsum(P * dP));  dQ = scale dS K;  dK = scale dS^T Q;  dV = P^T dO
// P is not stored by the forward pass: each row is recomputed here from Q and K with the same
// score and softmax kernels (S^2 floats per head per layer saved for one extra score pass).
// Query heads sharing a K/V head (grouped-query) add into the same dK, dV rows.
#pragma once

#include "../base/language_check.hpp"  // first: under an older -std the first error names C++20

#include <cstddef>

#include "../base/attention_config.hpp"
#include "../kernels/scores.hpp"
#include "../kernels/softmax.hpp"
#include "../simd/ops.hpp"
#include "aggregate_backward.hpp"
#include "scores_backward.hpp"
#include "softmax_backward.hpp"

namespace ctattn::train {

// Queries at positions 0 .. n-1 against keys 0 .. n-1 (a full training sequence).
//   q, d_context, dq: n x d_model;  dk, dv: n x kv_dim.  dq, dk, dv are overwritten.
//   k, v: KV head g's row j at k + g * KvHeadStride + j * KvStride, as `attend` reads them (the
//   defaults: n x kv_dim rows; the block's tape holds the cache layout, head by head).
//   p_row, dp_row: scratch of at least n floats each.
template <attention_configuration Config, class Arch = simd::default_arch, std::size_t KvStride = Config::kv_dim,
          std::size_t KvHeadStride = Config::head_dim>
inline void attention_gradient(std::size_t n, const float* q, const float* k, const float* v,
                               const typename Config::mask::params& mask, const float* d_context, float* dq,
                               float* dk, float* dv, float* p_row, float* dp_row) noexcept {
    using Mask = typename Config::mask;
    using HeadArch = simd::arch_for_width<Arch, Config::head_dim>;
    constexpr std::size_t head_dim = Config::head_dim, D = Config::d_model, KV = Config::kv_dim;
    for (std::size_t i = 0; i < n * D; ++i) dq[i] = 0.0f;
    for (std::size_t i = 0; i < n * KV; ++i) dk[i] = dv[i] = 0.0f;
    for (std::size_t h = 0; h < Config::heads; ++h) {
        const std::size_t g = h / Config::group_size;
        for (std::size_t i = 0; i < n; ++i) {
            const key_range visible = Mask::visible_keys(mask, i, n);
            const float* q_row = q + i * D + h * head_dim;
            kernels::score_row<head_dim, HeadArch, KvStride>(q_row, k + g * KvHeadStride, n, visible, Config::score_scale,
                                                       p_row);
            kernels::softmax_row<Arch>(p_row, n, visible);
            aggregate_row_gradient<head_dim, HeadArch, KvStride, KV>(p_row, v + g * KvHeadStride,
                                                                     d_context + i * D + h * head_dim, n, visible,
                                                                     dp_row, dv + g * head_dim);
            softmax_row_gradient(p_row, dp_row, n, visible, dp_row);
            score_row_gradient<head_dim, KvStride, KV>(q_row, k + g * KvHeadStride, dp_row, visible,
                                                       Config::score_scale, dq + i * D + h * head_dim, dk + g * head_dim);
        }
    }
}

}  // namespace ctattn::train
