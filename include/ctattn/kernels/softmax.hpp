// SPDX-License-Identifier: Apache-2.0
// Row softmax, max-subtracted: p_j = exp(t_j - max_k t_k) / sum_k exp(t_k - max_k t_k) over the
// visible keys, t_j = scale * s_j. The max term is exactly exp(0) = 1, so the sum lies in [1, n]:
// every finite row of scores (anywhere in +-FLT_MAX, scaled or not) gives finite weights. Masked
// keys get weight exactly 0. Non-finite scores follow one rule, in the body and the tail of a vector
// alike (docs/design.md, "Numeric contract"): -inf weighs 0 (a fully masked row is all zeros), +inf
// entries share the row's weight evenly (the limit of softmax), and a NaN makes the whole visible
// run NaN; and any of them makes the row irregular (false), so an attention core recomputes it
// exactly (softmax_row_in_double): from finite q and k a non-finite float score is an overflow.
#pragma once

#include <cmath>
#include <cstddef>
#include <limits>

#include "../simd/ops.hpp"
#include "../base/mask.hpp"

// The rare paths (a row with NaN, +-inf or overflowed scores) are kept out of line, so the
// regular row's code stays small enough to inline into the attention cores.
#if defined(__GNUC__) || defined(__clang__)
#define CTATTN_RARE_PATH __attribute__((cold, noinline))
#else
#define CTATTN_RARE_PATH
#endif

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

// The rows the vector pass does not take: their max scaled score fl(scale * max) is NaN, +inf or
// -inf (a NaN the vector max kept, a +inf, or every visible score -inf). One scalar pass over the
// run decides: any NaN -> the run is NaN; else k entries of +inf -> 1/k on each of them, 0 on the
// rest; else (all -inf) zeros.
CTATTN_RARE_PATH inline void softmax_row_irregular(float* row, std::size_t n, key_range visible, float scale) noexcept {
    constexpr float plus_inf = std::numeric_limits<float>::infinity();
    const std::size_t begin = visible.begin, end = visible.end < n ? visible.end : n;
    bool has_nan = false;
    std::size_t infinite = 0;
    for (std::size_t j = begin; j < end; ++j) {
        const float t = scale * row[j];
        has_nan = has_nan || t != t;
        infinite += t == plus_inf ? 1 : 0;
    }
    const float share = infinite > 0 ? 1.0f / float(infinite) : 0.0f;
    for (std::size_t j = begin; j < end; ++j)
        row[j] = has_nan ? std::numeric_limits<float>::quiet_NaN() : (scale * row[j] == plus_inf ? share : 0.0f);
    for (std::size_t t = 0; t < begin && t < n; ++t) row[t] = 0.0f;
    for (std::size_t t = end; t < n; ++t) row[t] = 0.0f;
}

// Whether no lane of `lowest` (a running min of a row's visible scores) is -inf. From finite q and
// k a score of -inf is a dot product that overflowed, and its sign is that of the partial sum
// that overflowed first, not of the exact value (-1e60 + 7e60 gives -inf where q . k is +6e60):
// such a row is irregular even though its max and sum look regular. A NaN lane may pass here; the
// sum catches it.
template <class Arch>
[[gnu::always_inline]] inline bool above_minus_inf(typename simd::ops<Arch>::vec lowest) noexcept {
    return !simd::ops<Arch>::any_equal(lowest, -std::numeric_limits<float>::infinity());
}
}  // namespace detail

// In place over row[0, n): p_j = exp(t_j - t_max) / sum for keys inside `visible`, 0 for the rest,
// with t_j = scale * s_j. `scale` folds the 1/sqrt(head_dim) of raw dot products into the exponent
// (no separate scaling pass); 1 leaves scores as they are. scale must be positive and finite, so
// the max of the raw scores gives the max of the scaled ones.
// The shift is fl(scale * max) = hi plus its rounding residual lo = fma(scale, max, -hi) (exact
// where the FMA is fused, 0 where it is a*b+c), and the exponent of key j is
// fma(s_j, scale, -hi) - lo: the max key's is exactly 0 (the same fma gives lo twice), every other
// is <= 0, so no term overflows and the sum is >= 1. (exp(fma(s, scale, -hi)) alone would leave the
// max term exp(lo), with |lo| up to half an ulp of scale * max: ~1e4 for raw scores near 1e12,
// whose exp is inf or 0.)
// A run's last partial vector goes through the same vector exp as the rest: loaded whole when
// the row has room (lanes past the run are replaced, whatever they hold, and stored back as 0),
// else copied lane by lane.
// Returns false when the row took the rule for NaN, +inf or all -inf (softmax_row_irregular), a
// NaN reached the sum, or a visible score is -inf (its weight is still 0 by the rule); true
// otherwise (every visible score finite, or no visible key). Attention cores then recompute that
// row in double (softmax_row_in_double), where float q and k cannot overflow. The -inf check is a
// running min beside the running max: one vector min per vector of scores.
template <class Arch = simd::default_arch>
inline bool softmax_row(float* row, std::size_t n, key_range visible, float scale = 1.0f) noexcept {
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

    if (begin >= end) {  // fully masked: zeros, and nothing irregular about it
        for (std::size_t t = 0; t < n; ++t) row[t] = 0.0f;
        return true;
    }
    typename V::vec m = V::broadcast(minus_inf), lowest = V::broadcast(-minus_inf);
    for (std::size_t j = begin; j < body_end; j += W) {
        const typename V::vec s = V::load(row + j);
        m = V::max(m, s);
        lowest = V::min(lowest, s);
    }
    if (tail_count > 0) {
        const typename V::vec s = tail(minus_inf);
        m = V::max(m, s);
        lowest = V::min(lowest, V::select_first(tail_count, s, -minus_inf));
    }
    const float max = V::reduce_max(m);  // a NaN lane may or may not survive the vector max

    // hi is finite unless the max is NaN, +-inf or scales past FLT_MAX: those rows take the rule.
    const float hi = scale * max;
    if (!(hi - hi == 0.0f)) {
        detail::softmax_row_irregular(row, n, visible, scale);
        return false;
    }
    const typename V::vec scale_v = V::broadcast(scale), minus_hi_v = V::broadcast(-hi);
    const typename V::vec lo_v = V::fma(V::broadcast(max), scale_v, minus_hi_v);  // the same fma as below
    typename V::vec sum_v = V::zero();
    for (std::size_t j = begin; j < body_end; j += W) {
        const typename V::vec e = V::exp(V::sub(V::fma(V::load(row + j), scale_v, minus_hi_v), lo_v));
        V::store(row + j, e);
        sum_v = sum_v + e;
    }
    typename V::vec tail_e = V::zero();
    if (tail_count > 0) {  // padded with the max (exp 1), then those lanes zeroed
        tail_e = V::select_first(tail_count, V::exp(V::sub(V::fma(tail(max), scale_v, minus_hi_v), lo_v)), 0.0f);
        sum_v = sum_v + tail_e;
    }
    // sum in [1, n] unless a NaN score slipped past the max: then it is NaN, and so is every
    // visible weight below (NaN * e), the same rule as softmax_row_irregular's.
    const float sum = V::reduce_add(sum_v);
    const float inv_sum = 1.0f / sum;
    const typename V::vec inv_v = V::broadcast(inv_sum);
    for (std::size_t j = begin; j < body_end; j += W) V::store(row + j, V::mul(V::load(row + j), inv_v));
    std::size_t zero_from = end;
    if (tail_count > 0 && tail_loads_whole) {
        // Lanes past the run are 0 * inv_sum: NaN when the row is, so they are zeroed again.
        V::store(row + body_end, V::select_first(tail_count, V::mul(tail_e, inv_v), 0.0f));
        zero_from = body_end + W;
    } else if (tail_count > 0) {
        alignas(64) float lanes[W];
        V::store(lanes, V::mul(tail_e, inv_v));
        for (std::size_t j = body_end; j < end; ++j) row[j] = lanes[j - body_end];
    }

    for (std::size_t t = 0; t < begin; ++t) row[t] = 0.0f;
    for (std::size_t t = zero_from; t < n; ++t) row[t] = 0.0f;
    return sum == sum && detail::above_minus_inf<Arch>(lowest);
}

namespace detail {
// softmax_rows' state between its steps, per row r of the block: the visible run [begin, end), its
// whole vectors up to body_end and tail_count scores after, whether the row is live (a visible,
// regular run: the rows the batched steps work on), its vector and scalar max, whether no score is
// -inf, exp sums, the
// exponentiated tail vector and 1 / sum. Each step runs over every row before the next starts.
template <class Arch, std::size_t Rows>
struct softmax_block {
    using V = simd::ops<Arch>;
    using vec = typename V::vec;
    static constexpr std::size_t W = V::width;
    static constexpr float minus_inf = -std::numeric_limits<float>::infinity();

    float* rows;
    std::size_t stride, n;
    std::size_t begin[Rows], end[Rows], body_end[Rows], tail_count[Rows];
    bool live[Rows], no_minus_inf[Rows];
    vec m[Rows];
    float max[Rows], hi[Rows];
    vec sum_v[Rows], tail_e[Rows];
    float inv_sum[Rows];

    [[gnu::always_inline]] float* row(std::size_t r) const noexcept { return rows + r * stride; }
    // Row r's tail as a whole vector, lanes past it `fill`.
    [[gnu::always_inline]] vec tail(std::size_t r, float fill) const noexcept {
        return body_end[r] + W <= n ? V::select_first(tail_count[r], V::load(row(r) + body_end[r]), fill)
                                    : load_tail<Arch>(row(r) + body_end[r], tail_count[r], fill);
    }

    // Step 1: each row's run, the max of its scores (and whether one is -inf: softmax_row's running
    // min), then fl(scale * max). A fully masked row is zeroed here (nothing irregular about it).
    [[gnu::always_inline]] void find_maxima(const key_range* visible, float scale, bool* regular) noexcept {
        CTATTN_UNROLL for (std::size_t r = 0; r < Rows; ++r) {
            begin[r] = visible[r].begin;
            end[r] = visible[r].end < n ? visible[r].end : n;
            body_end[r] = begin[r] + (end[r] > begin[r] ? (end[r] - begin[r]) / W * W : 0);
            tail_count[r] = end[r] > body_end[r] ? end[r] - body_end[r] : 0;
            live[r] = begin[r] < end[r];
            regular[r] = true;
            m[r] = V::broadcast(minus_inf);
            vec lowest = V::broadcast(-minus_inf);
            if (!live[r]) {
                for (std::size_t t = 0; t < n; ++t) row(r)[t] = 0.0f;
                no_minus_inf[r] = true;
                continue;
            }
            for (std::size_t j = begin[r]; j < body_end[r]; j += W) {
                const vec s = V::load(row(r) + j);
                m[r] = V::max(m[r], s);
                lowest = V::min(lowest, s);
            }
            if (tail_count[r] > 0) {
                const vec s = tail(r, minus_inf);
                m[r] = V::max(m[r], s);
                lowest = V::min(lowest, V::select_first(tail_count[r], s, -minus_inf));
            }
            no_minus_inf[r] = above_minus_inf<Arch>(lowest);
        }
        CTATTN_UNROLL for (std::size_t r = 0; r < Rows; ++r) {
            max[r] = V::reduce_max(m[r]);
            hi[r] = scale * max[r];
        }
    }

    // Step 2: e_j = exp(fma(s_j, scale, -hi) - lo) in place, and their sums (softmax_row's
    // shift). A row whose hi is NaN, +-inf or past FLT_MAX takes softmax_row's rule instead.
    [[gnu::always_inline]] void exponentiate(const key_range* visible, float scale, bool* regular) noexcept {
        const vec scale_v = V::broadcast(scale);
        CTATTN_UNROLL for (std::size_t r = 0; r < Rows; ++r) {
            sum_v[r] = V::zero();
            tail_e[r] = V::zero();
            if (!live[r]) continue;
            if (!(hi[r] - hi[r] == 0.0f)) {
                softmax_row_irregular(row(r), n, visible[r], scale);
                regular[r] = live[r] = false;
                continue;
            }
            const vec minus_hi_v = V::broadcast(-hi[r]);
            const vec lo_v = V::fma(V::broadcast(max[r]), scale_v, minus_hi_v);
            for (std::size_t j = begin[r]; j < body_end[r]; j += W) {
                const vec e = V::exp(V::sub(V::fma(V::load(row(r) + j), scale_v, minus_hi_v), lo_v));
                V::store(row(r) + j, e);
                sum_v[r] = sum_v[r] + e;
            }
            if (tail_count[r] > 0) {
                tail_e[r] = V::select_first(tail_count[r],
                                            V::exp(V::sub(V::fma(tail(r, max[r]), scale_v, minus_hi_v), lo_v)), 0.0f);
                sum_v[r] = sum_v[r] + tail_e[r];
            }
        }
    }

    // Step 3: 1 / sum; a NaN sum (a NaN score slipped past the max) or a -inf score makes the row
    // irregular.
    [[gnu::always_inline]] void invert_sums(bool* regular) noexcept {
        CTATTN_UNROLL for (std::size_t r = 0; r < Rows; ++r) {
            const float sum = V::reduce_add(sum_v[r]);
            inv_sum[r] = 1.0f / sum;
            if (live[r]) regular[r] = sum == sum && no_minus_inf[r];
        }
    }

    // Step 4: the weights e_j / sum, and zeros outside the run (softmax_row's tail handling).
    [[gnu::always_inline]] void normalise() noexcept {
        CTATTN_UNROLL for (std::size_t r = 0; r < Rows; ++r) {
            if (!live[r]) continue;
            float* const out = row(r);
            const vec inv_v = V::broadcast(inv_sum[r]);
            for (std::size_t j = begin[r]; j < body_end[r]; j += W) V::store(out + j, V::mul(V::load(out + j), inv_v));
            std::size_t zero_from = end[r];
            if (tail_count[r] > 0 && body_end[r] + W <= n) {
                V::store(out + body_end[r], V::select_first(tail_count[r], V::mul(tail_e[r], inv_v), 0.0f));
                zero_from = body_end[r] + W;
            } else if (tail_count[r] > 0) {
                alignas(64) float lanes[W];
                V::store(lanes, V::mul(tail_e[r], inv_v));
                for (std::size_t j = body_end[r]; j < end[r]; ++j) out[j] = lanes[j - body_end[r]];
            }
            for (std::size_t t = 0; t < begin[r]; ++t) out[t] = 0.0f;
            for (std::size_t t = zero_from; t < n; ++t) out[t] = 0.0f;
        }
    }
};
}  // namespace detail

// softmax_row for Rows rows at once (row r at rows + r * stride, its own run visible[r], the same
// n and scale): each row gets the same operations in the same order, so the same bits. A row's
// cost is mostly latency, not work: max, horizontal max, exp, horizontal sum and a division
// depend on each other in turn, and a causal row of S=64 has a few vectors of work between them.
// Taking each step for every row of a query block before the next lets those chains overlap.
// Measured with the inlined AVX-512 exp (simd/math.hpp), perf samples of the layer at
// S64/D256/H8/causal: softmax 7.2% -> 6.5% of the layer. (Running every row of the block over the
// same whole vectors with lanes outside its run masked, to drop the per-row trip counts, was
// slower: 7.9%.)
// regular[r] is what softmax_row would return for row r (false: recompute it in double).
template <class Arch, std::size_t Rows>
inline void softmax_rows(float* rows, std::size_t stride, std::size_t n, const key_range* visible, float scale,
                         bool* regular) noexcept {
    detail::softmax_block<Arch, Rows> block;
    block.rows = rows;
    block.stride = stride;
    block.n = n;
    block.find_maxima(visible, scale, regular);
    block.exponentiate(visible, scale, regular);
    block.invert_sums(regular);
    block.normalise();
}

// The weights of one query row computed in double from q and the keys (rows of HeadDim floats,
// stride KStride): s_j = scale * q . k_j, p_j = exp(s_j - max) / sum over `visible`, 0 elsewhere,
// rounded once to float. Products of floats are exact in double and |q_d k_jd| <= FLT_MAX^2 ~ 1e77,
// so for finite q and k every score is finite and so is every weight: the fallback of the
// attention cores for a row whose float scores overflowed (q . k past FLT_MAX gives +-inf, or NaN
// from inf - inf). NaN or +-inf in q or k follow the same rule as softmax_row.
template <std::size_t HeadDim, std::size_t KStride = HeadDim>
CTATTN_RARE_PATH inline void softmax_row_in_double(const float* q, const float* k, std::size_t n, key_range visible, double scale,
                                  float* row) noexcept {
    constexpr double plus_inf = std::numeric_limits<double>::infinity();
    const std::size_t begin = visible.begin, end = visible.end < n ? visible.end : n;
    double max = -plus_inf;
    bool has_nan = false;
    for (std::size_t j = begin; j < end; ++j) {
        double dot = 0.0;
        for (std::size_t d = 0; d < HeadDim; ++d) dot += double(q[d]) * double(k[j * KStride + d]);
        const double s = scale * dot;
        has_nan = has_nan || s != s;
        max = s > max ? s : max;
    }
    std::size_t infinite = 0;
    double sum = 0.0;
    for (std::size_t j = begin; j < end; ++j) {  // second pass: the dot products again, no scratch
        double dot = 0.0;
        for (std::size_t d = 0; d < HeadDim; ++d) dot += double(q[d]) * double(k[j * KStride + d]);
        const double s = scale * dot;
        if (max == plus_inf) {
            infinite += s == plus_inf ? 1 : 0;
            row[j] = s == plus_inf ? 1.0f : 0.0f;
        } else {
            const double e = max > -plus_inf ? std::exp(s - max) : 0.0;
            sum += e;
            row[j] = float(e);  // in [0, 1]; rescaled below from the double sum
        }
    }
    // Rounding e to float first costs one extra rounding per weight (e in [0, 1], no underflow
    // that matters next to the max term's 1).
    const double inv = has_nan ? std::numeric_limits<double>::quiet_NaN()
                       : max == plus_inf ? 1.0 / double(infinite)
                       : sum > 0.0       ? 1.0 / sum
                                         : 0.0;
    for (std::size_t j = begin; j < end; ++j) row[j] = float(double(row[j]) * inv);
    for (std::size_t t = 0; t < begin && t < n; ++t) row[t] = 0.0f;
    for (std::size_t t = end; t < n; ++t) row[t] = 0.0f;
}

// Plain softmax over a whole row; -inf entries are masked entries.
template <class Arch = simd::default_arch>
inline bool softmax_row(float* row, std::size_t n) noexcept {
    return softmax_row<Arch>(row, n, key_range{0, n});
}

}  // namespace ctattn::kernels
