// SPDX-License-Identifier: Apache-2.0
// One KV head's attention for one new token on vector arches, for narrow heads (head_dim 8:
// stories260K), for 1 or 2 query heads sharing it (kernels/decode/attention.hpp walks the pairs):
//     s_j = (q_h . k_j) log2(e) / sqrt(head_dim)        j in the visible run (scores in base 2)
//     O_h = sum_j 2^(s_j - m) v_j / sum_j 2^(s_j - m),   m = max_j s_j
// Vectorised across keys, not along head_dim (a head of 8 floats is half an AVX-512 vector, and a
// horizontal sum per key costs more than its dot product): a vector's width of keys is read from K
// as stored (kv_heads, seq, head_dim) and transposed in registers to head_dim vectors of keys, so
// each query element is one broadcast and one FMA per vector of keys, for every query head that
// shares the KV head. Two passes over the visible keys, in chunks of one vector's width of keys:
//   1. scores of both heads and their running max, into scratch;
//   2. weights 2^(s - m) and their sum, and P V at once: each value row is loaded once and weighted
//      for both heads; the output is divided by the sum once.
// A typed cache (float16, int8: base/kv_storage.hpp) goes the same way, each chunk's rows widened to
// floats with their scales applied: in registers on x86 (simd/kv_x86.hpp: F16C, AVX2, AVX-512),
// else through the stack tile (keys) or a head_dim buffer (values); on Helium, head_dim 8,
// simd/kv_mve.hpp's passes widen the rows in registers instead.
// Numeric contract (docs/design.md): keys outside the visible run contribute nothing (their lanes
// are loaded as 0, scored -inf, weighted 0, and their value rows are never read, or read as 0);
// the largest score's weight is 2^0 = 1 exactly, so the sum is >= 1 and finite scores give a
// finite convex combination. A head with a score of -inf (from finite q and k, a dot product that
// overflowed with the sign of a partial sum), whose largest score is NaN or +-inf, or whose sum is
// NaN, is reported (false) and left to the general one-row core, which recomputes it exactly.
#pragma once

#include <cstddef>
#include <limits>
#include <type_traits>
#include <utility>

#include "../../simd/ops.hpp"
#include "../../simd/math.hpp"
#include "../../simd/x86.hpp"
#include "../../simd/kv_x86.hpp"
#include "../../simd/mve.hpp"
#include "../../simd/kv_mve.hpp"
#include "../../base/mask.hpp"
#include "kv_rows.hpp"

namespace ctattn::kernels::detail {

// Whether Heads query heads over typed rows (kv_rows of float16 or int8) take Helium's own passes
// (simd/kv_mve.hpp: rows widened in registers, the scalar kernel's arithmetic bit for bit).
template <class KvRows, std::size_t Heads, std::size_t HeadDim, std::size_t KvStride>
inline constexpr bool typed_rows_on_helium = false;
template <kv_storage St, std::size_t Heads, std::size_t HeadDim, std::size_t KvStride>
inline constexpr bool typed_rows_on_helium<kv_rows<St>, Heads, HeadDim, KvStride> =
    simd::kv_mve::fits<St, Heads, HeadDim, KvStride>;

// Keys j0 .. j0 + count - 1 (count <= width, rows of HeadDim floats at stride KvStride) transposed:
// kt[d] lane t = k_{j0+t}[d], lanes t >= count zero (their rows are not read). In registers where
// simd/x86.hpp has a transpose for the shape (head_dim 8, rows contiguous, 8 lanes with AVX or 16
// with AVX-512) or Helium gathers them (head_dim 8, simd/mve.hpp); elsewhere lane by lane through a
// stack tile.
template <std::size_t HeadDim, class Arch, std::size_t KvStride>
struct key_transpose {
    using V = simd::ops<Arch>;
    static constexpr std::size_t W = V::width;
    static constexpr bool in_registers =
        HeadDim == 8 && ((KvStride == 8 && ((W == 8 && simd::target::avx) || (W == 16 && simd::target::avx512f))) ||
                         (W == 4 && simd::target::mve_float));
    static void load(const float* k, std::size_t count, typename V::vec* kt) noexcept {
        if constexpr (in_registers && W == 4) {
            simd::mve::gather_keys<HeadDim, KvStride>(k, count, kt);
        } else if constexpr (in_registers && W == 8) {
            simd::x86::transpose_keys_8x8(k, count, kt);
        } else if constexpr (in_registers && W == 16) {
            simd::x86::transpose_keys_16x8(k, count, kt);
        } else {
            alignas(64) float tile[HeadDim][W];
            for (std::size_t d = 0; d < HeadDim; ++d)
                for (std::size_t t = 0; t < W; ++t) tile[d][t] = t < count ? k[t * KvStride + d] : 0.0f;
            CTATTN_UNROLL for (std::size_t d = 0; d < HeadDim; ++d) kt[d] = V::load(tile[d]);
        }
    }
    // Whether a typed chunk converts in registers before the transpose (simd/kv_x86.hpp): the
    // float rows' register shapes, with F16C (float16) or AVX2 (int8) under 8 lanes.
    template <kv_storage St>
    static constexpr bool typed_in_registers =
        in_registers && W != 4 &&
        (std::is_same_v<St, kv_float16> ? simd::kv_x86::half_keys<W> : simd::kv_x86::int8_keys<W>);
    // Keys j0 .. j0 + count - 1 of a typed cache (base/kv_storage.hpp) with their scales applied:
    // widened in registers and transposed where typed_in_registers, else converted lane by lane
    // through the stack tile; one chunk of rows, never the cache. The same floats either way.
    template <kv_storage St>
    static void load(const kv_rows<St>& k, std::size_t j0, std::size_t count, typename V::vec* kt) noexcept {
        if constexpr (typed_in_registers<St>) {
            if constexpr (std::is_same_v<St, kv_float16> && W == 8)
                simd::kv_x86::half_keys_8x8(k.values + j0 * KvStride, count, kt);
            else if constexpr (std::is_same_v<St, kv_float16>)
                simd::kv_x86::half_keys_16x8(k.values + j0 * KvStride, count, kt);
            else if constexpr (W == 8)
                simd::kv_x86::int8_keys_8x8(k.values + j0 * KvStride, k.scales + j0, count, kt);
            else
                simd::kv_x86::int8_keys_16x8(k.values + j0 * KvStride, k.scales + j0, count, kt);
            return;
        }
        alignas(64) float tile[HeadDim][W];
        for (std::size_t t = 0; t < W; ++t) {
            float row[HeadDim];
            const float scale = t < count ? kv_load_row<HeadDim, KvStride>(k, j0 + t, row) : 0.0f;
            for (std::size_t d = 0; d < HeadDim; ++d) tile[d][t] = t < count ? row[d] * scale : 0.0f;
        }
        CTATTN_UNROLL for (std::size_t d = 0; d < HeadDim; ++d) kt[d] = V::load(tile[d]);
    }
    static void load(const float* k, std::size_t j0, std::size_t count, typename V::vec* kt) noexcept {
        load(k + j0 * KvStride, count, kt);
    }
};

// Pass 1 and the weights of pass 2 for Heads query heads, over the visible keys in chunks of W:
// the whole chunks, then the partial one (if any) with its own instantiation of the loop body, so
// whole chunks carry no tail tests or masks. Scores of chunk c, head h, sit at scores[(c * Heads +
// h) * W]; the partial chunk would run past Heads x end floats, so it stays in last_scores.
template <std::size_t Heads, std::size_t HeadDim, std::size_t KvStride, class Arch>
struct key_chunks {
    using V = simd::ops<Arch>;
    using vec = typename V::vec;
    static constexpr std::size_t W = V::width;
    static constexpr float minus_inf = -std::numeric_limits<float>::infinity();

    std::size_t begin, n;
    float* scores;
    alignas(64) float last_scores[Heads][W];
    vec max_b[Heads];
    vec sum_v[Heads];
    float inv_sum[Heads];

    template <class Body>
    [[gnu::always_inline]] void for_each(Body&& body) {
        const std::size_t whole_chunks = n / W;
        for (std::size_t c = 0; c < whole_chunks; ++c) body(c, std::true_type{});
        if (n % W != 0) body(whole_chunks, std::false_type{});
    }
    template <bool Whole>
    [[gnu::always_inline]] float* chunk_scores(std::size_t c, std::size_t h) noexcept {
        if constexpr (Whole)
            return scores + (c * Heads + h) * W;
        else
            return &last_scores[h][0];
    }

    // Pass 1: scores and their max; false when a head's max is NaN or +-inf (every score -inf, or
    // q . k overflowed), or a score is -inf (q . k overflowed with the wrong sign: found by a running
    // min beside the max, one vector min per chunk). A NaN lane may be dropped by the max: the sum
    // catches it.
    template <class KvRows>
    bool score(const float* q, std::size_t q_stride, KvRows k, float score_scale) noexcept {
        const float q_scale = score_scale * simd::log2_e;
        vec q_elements[Heads][HeadDim];
        CTATTN_UNROLL for (std::size_t h = 0; h < Heads; ++h)
            CTATTN_UNROLL for (std::size_t d = 0; d < HeadDim; ++d)
                q_elements[h][d] = V::broadcast(q[h * q_stride + d] * q_scale);
        vec max_v[Heads], min_v[Heads];
        CTATTN_UNROLL for (std::size_t h = 0; h < Heads; ++h) max_v[h] = V::broadcast(minus_inf), min_v[h] = V::broadcast(-minus_inf);
        for_each([&](std::size_t c, auto whole) {
            constexpr bool is_whole = decltype(whole)::value;
            const std::size_t count = is_whole ? W : n - c * W;
            vec kt[HeadDim];
            key_transpose<HeadDim, Arch, KvStride>::load(k, begin + c * W, count, kt);
            CTATTN_UNROLL for (std::size_t h = 0; h < Heads; ++h) {
                vec s = V::mul(q_elements[h][0], kt[0]);
                CTATTN_UNROLL for (std::size_t d = 1; d < HeadDim; ++d) s = V::fma(q_elements[h][d], kt[d], s);
                // Lanes past the run scored q . 0 = 0 here (finite q): the min needs no mask.
                min_v[h] = V::min(min_v[h], s);
                if constexpr (!is_whole) s = V::select_first(count, s, minus_inf);
                max_v[h] = V::max(max_v[h], s);
                V::store(chunk_scores<is_whole>(c, h), s);
            }
        });
        CTATTN_UNROLL for (std::size_t h = 0; h < Heads; ++h) {
            const float max = V::reduce_max(max_v[h]);
            if (!(max - max == 0.0f)) return false;
            if (V::any_equal(min_v[h], minus_inf)) return false;  // a -inf score
            max_b[h] = V::broadcast(max);
            sum_v[h] = V::zero();
        }
        return true;
    }

    // Pass 2's weights of chunk c: e[h] = 2^(s - m) (the max key's exactly 1), lanes past the run 0,
    // added to the sums.
    template <bool Whole>
    [[gnu::always_inline]] void weights(std::size_t c, vec* e) noexcept {
        CTATTN_UNROLL for (std::size_t h = 0; h < Heads; ++h) {
            e[h] = simd::exp2_nonpositive(V::sub(V::load(chunk_scores<Whole>(c, h)), max_b[h]));
            if constexpr (!Whole) e[h] = V::select_first(n - c * W, e[h], 0.0f);
            sum_v[h] = sum_v[h] + e[h];
        }
    }

    // 1 / sum per head; false when a NaN score slipped past the max (the sum is >= 1 otherwise:
    // the max contributes 2^0 = 1).
    [[gnu::always_inline]] bool finish_sums() noexcept {
        CTATTN_UNROLL for (std::size_t h = 0; h < Heads; ++h) {
            const float sum = V::reduce_add(sum_v[h]);
            if (sum != sum) return false;
            inv_sum[h] = 1.0f / sum;
        }
        return true;
    }
};

// Pass 2's P V, portable: each value row is a few vectors of the widest arch no wider than
// head_dim (one 8-float vector for head_dim 8) and a scalar tail, loaded once and weighted for
// every head; consecutive keys go to separate partial sums (Chains) so the FMAs do not wait on
// each other. add(): one chunk of `count` keys (rows from `value`), weights e[h] of Arch's width.
template <std::size_t Heads, std::size_t HeadDim, std::size_t KvStride, class Arch>
struct value_rows {
    using V = simd::ops<Arch>;
    using HeadArch = simd::arch_for_width<Arch, HeadDim>;
    using H = simd::ops<HeadArch>;
    static constexpr std::size_t W = V::width, HW = H::width, vectors = HeadDim / HW, tail = HeadDim - vectors * HW;
    static constexpr std::size_t Chains = vectors <= 1 ? 4 : (vectors <= 2 ? 2 : 1);
    typename H::vec acc[Chains][Heads][vectors > 0 ? vectors : 1];
    float acc_tail[Heads][tail > 0 ? tail : 1];

    value_rows() noexcept {
        CTATTN_UNROLL for (std::size_t ch = 0; ch < Chains; ++ch)
            CTATTN_UNROLL for (std::size_t h = 0; h < Heads; ++h)
                CTATTN_UNROLL for (std::size_t i = 0; i < vectors; ++i) acc[ch][h][i] = H::zero();
        CTATTN_UNROLL for (std::size_t h = 0; h < Heads; ++h)
            CTATTN_UNROLL for (std::size_t i = 0; i < tail; ++i) acc_tail[h][i] = 0.0f;
    }

    // Row `row` weighted by p[h][key] into chain ch.
    [[gnu::always_inline]] void add_row(std::size_t ch, const float* row, const float (*p)[W], std::size_t key) noexcept {
        CTATTN_UNROLL for (std::size_t i = 0; i < vectors; ++i) {
            const typename H::vec vi = H::load(row + i * HW);
            CTATTN_UNROLL for (std::size_t h = 0; h < Heads; ++h)
                acc[ch][h][i] = H::fma(H::broadcast(p[h][key]), vi, acc[ch][h][i]);
        }
        CTATTN_UNROLL for (std::size_t i = 0; i < tail; ++i)
            CTATTN_UNROLL for (std::size_t h = 0; h < Heads; ++h) acc_tail[h][i] += p[h][key] * row[vectors * HW + i];
    }

    // Whether a typed row's head_dim vectors widen in registers (simd/kv_x86.hpp) rather than
    // through a head_dim buffer.
    template <kv_storage St>
    static constexpr bool typed_in_registers =
        vectors > 0 && (std::is_same_v<St, kv_float16> ? simd::kv_x86::half_rows<HW> : simd::kv_x86::int8_rows<HW>);

    // int8 rows whose scales go into the chunk's weights, one vector multiply per head, instead of
    // into every element (p_t s_t e_t, not p_t (s_t e_t): another rounding of the same product).
    template <kv_storage St>
    static constexpr bool scales_in_weights = St::scaled && typed_in_registers<St> && simd::kv_x86::scale_rows<W>;

    // Typed row `row` (its elements as floats times its scale, the buffer's values) weighted by
    // p[h][key] into chain Ch: the vectors widened in registers, the tail element by element. With
    // scales_in_weights, p already carries the scale.
    template <std::size_t Ch, kv_storage St>
    [[gnu::always_inline]] void add_typed_row(const kv_rows<St>& v, std::size_t row, const float (*p)[W],
                                              std::size_t key) noexcept {
        const typename St::element* e = v.values + row * KvStride;
        constexpr bool scaled = St::scaled && !scales_in_weights<St>;
        [[maybe_unused]] const float scale = scaled ? kv_row_scale(v, row) : 1.0f;
        CTATTN_UNROLL for (std::size_t i = 0; i < vectors; ++i) {
            typename H::vec vi;
            if constexpr (std::is_same_v<St, kv_float16>)
                vi = simd::kv_x86::half_row<typename H::vec>(e + i * HW);
            else
                vi = simd::kv_x86::int8_row<typename H::vec>(e + i * HW);
            if constexpr (scaled) vi = H::mul(vi, H::broadcast(scale));
            CTATTN_UNROLL for (std::size_t h = 0; h < Heads; ++h)
                acc[Ch][h][i] = H::fma(H::broadcast(p[h][key]), vi, acc[Ch][h][i]);
        }
        CTATTN_UNROLL for (std::size_t i = 0; i < tail; ++i) {
            float x = kv_element_value<St>(e[vectors * HW + i]);
            if constexpr (scaled) x *= scale;
            CTATTN_UNROLL for (std::size_t h = 0; h < Heads; ++h) acc_tail[h][i] += p[h][key] * x;
        }
    }

    template <bool Whole>
    [[gnu::always_inline]] void add(const float* value, std::size_t count, const typename V::vec* e) noexcept {
        alignas(64) float p[Heads][W];
        CTATTN_UNROLL for (std::size_t h = 0; h < Heads; ++h) V::store(p[h], e[h]);
        std::size_t t = 0;
        for (; t + Chains <= count; t += Chains)
            CTATTN_UNROLL for (std::size_t ch = 0; ch < Chains; ++ch) add_row(ch, value + (t + ch) * KvStride, p, t + ch);
        for (; t < count; ++t) add_row(0, value + t * KvStride, p, t);
    }

    // The same for a typed cache: rows j0 .. j0 + count - 1, each converted into a head_dim buffer
    // with its scale applied.
    template <bool Whole, kv_storage St>
    [[gnu::always_inline]] void add(const kv_rows<St>& v, std::size_t j0, std::size_t count,
                                    const typename V::vec* e) noexcept {
        alignas(64) float p[Heads][W];
        if constexpr (scales_in_weights<St>) {
            const typename V::vec scales = simd::kv_x86::row_scales<typename V::vec>(v.scales + j0, count);
            CTATTN_UNROLL for (std::size_t h = 0; h < Heads; ++h) V::store(p[h], V::mul(e[h], scales));
        } else {
            CTATTN_UNROLL for (std::size_t h = 0; h < Heads; ++h) V::store(p[h], e[h]);
        }
        if constexpr (typed_in_registers<St>) {
            // Key t into chain t % Chains, as below, with the chain a constant (registers).
            std::size_t t = 0;
            for (; t + Chains <= count; t += Chains)
                [&]<std::size_t... Ch>(std::index_sequence<Ch...>) {
                    (add_typed_row<Ch>(v, j0 + t + Ch, p, t + Ch), ...);
                }(std::make_index_sequence<Chains>{});
            [&]<std::size_t... Ch>(std::index_sequence<Ch...>) {
                ((t + Ch < count ? add_typed_row<Ch>(v, j0 + t + Ch, p, t + Ch) : void()), ...);
            }(std::make_index_sequence<Chains - 1>{});
            return;
        }
        for (std::size_t t = 0; t < count; ++t) {
            alignas(64) float row[HeadDim];
            const float scale = kv_load_row<HeadDim, KvStride>(v, j0 + t, row);
            if constexpr (St::scaled)
                for (std::size_t d = 0; d < HeadDim; ++d) row[d] *= scale;
            add_row(t % Chains, row, p, t);
        }
    }

    // out[h * QStride + d] = (sum of head h's chains)[d] * inv_sum[h].
    template <std::size_t QStride>
    [[gnu::always_inline]] void store(float* out, const float* inv_sum) const noexcept {
        CTATTN_UNROLL for (std::size_t h = 0; h < Heads; ++h) {
            CTATTN_UNROLL for (std::size_t i = 0; i < vectors; ++i) {
                typename H::vec total = acc[0][h][i];
                CTATTN_UNROLL for (std::size_t ch = 1; ch < Chains; ++ch) total = total + acc[ch][h][i];
                H::store(out + h * QStride + i * HW, H::mul(total, H::broadcast(inv_sum[h])));
            }
            CTATTN_UNROLL for (std::size_t i = 0; i < tail; ++i)
                out[h * QStride + vectors * HW + i] = acc_tail[h][i] * inv_sum[h];
        }
    }
};

template <class Arch>
struct vector_decode_heads {
    // P V for the shape: AVX-512's two value rows per vector for head_dim 8 with rows contiguous
    // (simd/x86.hpp), else the portable value_rows.
    template <std::size_t Heads, std::size_t HeadDim, std::size_t KvStride, bool FloatRows = true>
    using values_for = std::conditional_t<FloatRows && simd::target::avx512f && simd::ops<Arch>::width == 16 &&
                                              HeadDim == 8 && KvStride == 8,
                                          simd::x86::value_pairs_16x8<Heads>, value_rows<Heads, HeadDim, KvStride, Arch>>;

    // Heads (1 or 2) query heads of one KV head: q (Heads x HeadDim, stride QStride), keys and
    // values rows at stride KvStride, scores: scratch of Heads x visible.end floats, out: Heads x
    // HeadDim (stride QStride). False for an irregular head (see the header); out is then not written.
    // k, v: const float* (a float32 cache) or kv_rows (a typed one, base/kv_storage.hpp).
    template <std::size_t Heads, std::size_t HeadDim, std::size_t QStride, std::size_t KvStride, class KvRows>
    static bool attend(const float* q, KvRows k, KvRows v, key_range visible, float score_scale,
                       float* scores, float* out) noexcept {
        constexpr std::size_t W = simd::ops<Arch>::width;
        const std::size_t begin = visible.begin, end = visible.end;
        if (begin >= end) {  // fully masked: the output is 0
            CTATTN_UNROLL for (std::size_t h = 0; h < Heads; ++h)
                for (std::size_t d = 0; d < HeadDim; ++d) out[h * QStride + d] = 0.0f;
            return true;
        }
        // Helium, head_dim 8: its own three passes sized to 8 q registers (simd/mve.hpp); rows at most
        // 31 floats apart (a chunk of 4 rows is one VLDRW write-back step, <= 508 bytes).
        // A float32 cache only (typed caches: the next branch).
        if constexpr (simd::target::mve_float && W == 4 && HeadDim == 8 && KvStride <= 31 &&
                      std::is_same_v<KvRows, const float*>)
            return simd::mve::attend_heads_8<simd::exp2_minimax, Heads, QStride, KvStride>(
                q, k, v, begin, end, score_scale * simd::log2_e, scores, out);
        // Helium, head_dim 8, a float16 or int8 cache: rows widened in registers (simd/kv_mve.hpp),
        // the scalar kernel's results bit for bit. Other typed shapes take the generic chunks below
        // (vector_decode_attention sends them to the scalar kernel on Cortex-M).
        if constexpr (W == 4 && typed_rows_on_helium<KvRows, Heads, HeadDim, KvStride>)
            return simd::kv_mve::attend_heads_8<typename KvRows::storage, Heads, QStride, KvStride>(
                q, k.values, k.scales, v.values, v.scales, begin, end, score_scale * simd::log2_e, scores, out);
        key_chunks<Heads, HeadDim, KvStride, Arch> chunks;
        chunks.begin = begin;
        chunks.n = end - begin;
        chunks.scores = scores;
        if (!chunks.score(q, QStride, k, score_scale)) return false;

        values_for<Heads, HeadDim, KvStride, std::is_pointer_v<KvRows>> values;
        chunks.for_each([&](std::size_t c, auto whole) {
            constexpr bool is_whole = decltype(whole)::value;
            // A run-time count in both cases: GCC 12 misreads the tail loop of value_rows::add,
            // dead for a constant W, as overflowing (-Waggressive-loop-optimizations).
            const std::size_t count = chunks.n - c * W < W ? chunks.n - c * W : W;
            typename simd::ops<Arch>::vec e[Heads];
            chunks.template weights<is_whole>(c, e);
            if constexpr (std::is_pointer_v<KvRows>)
                values.template add<is_whole>(v + (begin + c * W) * KvStride, count, e);
            else
                values.template add<is_whole>(v, begin + c * W, count, e);
        });
        if (!chunks.finish_sums()) return false;
        values.template store<QStride>(out, chunks.inv_sum);
        return true;
    }
};

}  // namespace ctattn::kernels::detail
