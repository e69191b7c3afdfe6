// Row softmax, max-subtracted: p_j = exp(s_j - max) / sum_k exp(s_k - max). Subtracting the max
// keeps every exponent <= 0, so scores up to +-1e30 stay finite. Masked keys (outside the visible
// run, or -inf) get weight exactly 0, and a fully masked row gives all zeros, never NaN.
#pragma once

#include <cstddef>
#include <limits>

#include "../simd.hpp"
#include "mask.hpp"

namespace ctattn::kernels {

namespace detail {
// The `count` (< width) entries at src, as a vector padded with `fill`, copied lane by lane: for a
// row's tail when a whole vector would run past the row's end.
template <class Arch>
inline typename simd::ops<Arch>::vec load_tail(const float* src, std::size_t count, float fill) noexcept {
    alignas(64) float lanes[simd::ops<Arch>::width];
    for (std::size_t t = 0; t < simd::ops<Arch>::width; ++t) lanes[t] = t < count ? src[t] : fill;
    return simd::ops<Arch>::load(lanes);
}
}  // namespace detail

// In place over row[0, n): p_j = exp(scale * s_j - scale * max) / sum for keys inside `visible`,
// 0 for the rest. `scale` folds the 1/sqrt(head_dim) of raw dot products into the exponent (one
// FMA per element, no separate scaling pass); 1 leaves scores as they are (fma(s, 1, -m) = s - m
// exactly). scale must be positive, so the max of the raw scores is the max of the scaled ones.
// A run's last partial vector goes through the same vector exp as the rest: loaded whole when
// the row has room (lanes past the run are replaced, whatever they hold, and stored back as 0),
// else copied lane by lane.
template <class Arch = simd::default_arch>
inline void softmax_row(float* row, std::size_t n, key_range visible, float scale = 1.0f) noexcept {
    using V = simd::ops<Arch>;
    constexpr std::size_t W = V::width;
    const std::size_t begin = visible.begin, end = visible.end < n ? visible.end : n;
    constexpr float minus_inf = -std::numeric_limits<float>::infinity();
    const std::size_t body_end = begin + (end > begin ? (end - begin) / W * W : 0);
    const std::size_t tail_count = end > body_end ? end - body_end : 0;
    const bool tail_loads_whole = body_end + W <= n;
    auto tail = [&](float fill) {
        return tail_loads_whole ? V::select_first(tail_count, V::load(row + body_end), fill)
                                : detail::load_tail<Arch>(row + body_end, tail_count, fill);
    };

    float max = minus_inf;
    if (begin < end) {
        typename V::vec m = V::broadcast(minus_inf);
        for (std::size_t j = begin; j < body_end; j += W) m = V::max(m, V::load(row + j));
        if (tail_count > 0) m = V::max(m, tail(minus_inf));
        max = V::reduce_max(m);
    }

    if (begin >= end || !(max > minus_inf)) {  // fully masked (or every score -inf)
        for (std::size_t t = 0; t < n; ++t) row[t] = 0.0f;
        return;
    }

    const typename V::vec scale_v = V::broadcast(scale), shift_v = V::broadcast(-(scale * max));
    typename V::vec sum_v = V::zero();
    for (std::size_t j = begin; j < body_end; j += W) {
        const typename V::vec e = V::exp(V::fma(V::load(row + j), scale_v, shift_v));
        V::store(row + j, e);
        sum_v = sum_v + e;
    }
    typename V::vec tail_e = V::zero();
    if (tail_count > 0) {  // padded with the max (exp 1), then those lanes zeroed
        tail_e = V::select_first(tail_count, V::exp(V::fma(tail(max), scale_v, shift_v)), 0.0f);
        sum_v = sum_v + tail_e;
    }
    // sum >= ~1: the max term contributes exp(fma(max, scale, -fl(scale * max))) = exp(r) with
    // |r| below one rounding of scale * max, so the division is always safe.
    const float inv_sum = 1.0f / V::reduce_add(sum_v);
    const typename V::vec inv_v = V::broadcast(inv_sum);
    for (std::size_t j = begin; j < body_end; j += W) V::store(row + j, V::mul(V::load(row + j), inv_v));
    std::size_t zero_from = end;
    if (tail_count > 0 && tail_loads_whole) {
        V::store(row + body_end, V::mul(tail_e, inv_v));
        zero_from = body_end + W;
    } else if (tail_count > 0) {
        alignas(64) float lanes[W];
        V::store(lanes, V::mul(tail_e, inv_v));
        for (std::size_t j = body_end; j < end; ++j) row[j] = lanes[j - body_end];
    }

    for (std::size_t t = 0; t < begin; ++t) row[t] = 0.0f;
    for (std::size_t t = zero_from; t < n; ++t) row[t] = 0.0f;
}

// Plain softmax over a whole row; -inf entries are masked entries.
template <class Arch = simd::default_arch>
inline void softmax_row(float* row, std::size_t n) noexcept {
    softmax_row<Arch>(row, n, key_range{0, n});
}

}  // namespace ctattn::kernels
