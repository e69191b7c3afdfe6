// SPDX-License-Identifier: Apache-2.0
// Attention for one new token (decode) on vector arches, for narrow heads (head_dim 8: stories260K):
//   for each query head h (KV head g = h / group_size):
//     s_j = (q_h . k_j) log2(e) / sqrt(head_dim)        j in the visible run (scores in base 2)
//     O_h = sum_j 2^(s_j - m) v_j / sum_j 2^(s_j - m),   m = max_j s_j
// Vectorised across keys, not along head_dim (a head of 8 floats is half an AVX-512 vector, and a
// horizontal sum per key costs more than its dot product): a vector's width of keys is read from K
// as stored (kv_heads, seq, head_dim) and transposed in registers to head_dim vectors of keys, so
// each query element is one broadcast and one FMA per vector of keys, for every query head that
// shares the KV head (two per pass). Two passes over the visible keys:
//   1. scores of both heads and their running max, into scratch;
//   2. weights 2^(s - m) and their sum, and P V at once: each value row is loaded once and weighted
//      for both heads; the output is divided by the sum once.
// Numeric contract (docs/design.md): keys outside the visible run contribute nothing (their lanes
// are loaded as 0, scored -inf, weighted 0, and their value rows are never read, or read as 0);
// the largest score's weight is 2^0 = 1 exactly, so the sum is >= 1 and finite scores give a
// finite convex combination. A head whose largest score is NaN or +-inf, or whose sum is NaN, is
// reported (false) and left to the general one-row core.
#pragma once

#include <cmath>
#include <cstddef>
#include <limits>
#include <type_traits>

#include "../../simd/ops.hpp"
#include "../../simd/math.hpp"
#include "../../base/mask.hpp"

namespace ctattn::kernels {

namespace detail {

// Keys j0 .. j0 + count - 1 (count <= width, rows of HeadDim floats at stride KvStride) transposed:
// kt[d] lane t = k_{j0+t}[d], lanes t >= count zero (their rows are not read). Portable form: lane by
// lane through a stack tile. The arches and shapes decode runs use have register transposes below.
template <std::size_t HeadDim, class Arch, std::size_t KvStride>
struct key_transpose {
    using V = simd::ops<Arch>;
    static constexpr bool in_registers = false;
    static void load(const float* k, std::size_t count, typename V::vec* kt) noexcept {
        constexpr std::size_t W = V::width;
        alignas(64) float tile[HeadDim][W];
        for (std::size_t d = 0; d < HeadDim; ++d)
            for (std::size_t t = 0; t < W; ++t) tile[d][t] = t < count ? k[t * KvStride + d] : 0.0f;
        CTATTN_UNROLL for (std::size_t d = 0; d < HeadDim; ++d) kt[d] = V::load(tile[d]);
    }
};

#if defined(CTATTN_HAS_XSIMD) && defined(__AVX__)
// 8 keys x 8 floats (AVX, rows contiguous): the classic 8x8 transpose, 24 shuffles.
template <class Arch>
    requires(simd::ops<Arch>::width == 8)
struct key_transpose<8, Arch, 8> {
    using V = simd::ops<Arch>;
    static constexpr bool in_registers = true;
    static void load(const float* k, std::size_t count, typename V::vec* kt) noexcept {
        __m256 r[8];
        CTATTN_UNROLL for (std::size_t t = 0; t < 8; ++t) r[t] = t < count ? _mm256_loadu_ps(k + 8 * t) : _mm256_setzero_ps();
        __m256 a[8], b[8];
        CTATTN_UNROLL for (std::size_t t = 0; t < 8; t += 2) {
            a[t] = _mm256_unpacklo_ps(r[t], r[t + 1]);  // k_t0 k_(t+1)0 k_t1 k_(t+1)1 | same for dims 4, 5
            a[t + 1] = _mm256_unpackhi_ps(r[t], r[t + 1]);
        }
        CTATTN_UNROLL for (std::size_t t = 0; t < 8; t += 4) {
            b[t] = _mm256_shuffle_ps(a[t], a[t + 2], 0x44);
            b[t + 1] = _mm256_shuffle_ps(a[t], a[t + 2], 0xEE);
            b[t + 2] = _mm256_shuffle_ps(a[t + 1], a[t + 3], 0x44);
            b[t + 3] = _mm256_shuffle_ps(a[t + 1], a[t + 3], 0xEE);
        }
        CTATTN_UNROLL for (std::size_t d = 0; d < 4; ++d) {
            kt[d] = typename V::vec(_mm256_permute2f128_ps(b[d], b[d + 4], 0x20));
            kt[d + 4] = typename V::vec(_mm256_permute2f128_ps(b[d], b[d + 4], 0x31));
        }
    }
};
#endif

#if defined(CTATTN_HAS_XSIMD) && defined(__AVX512F__)
// 16 keys x 8 floats (AVX-512, rows contiguous: 128 floats, 8 vectors of two keys each) in three
// rounds of 8 two-source permutes. Float e = 8 key + d sits in vector e / 16, lane e % 16: vector
// bits (k3 k2 k1), lane bits (k0 d2 d1 d0). Round r swaps vector bit r with a d bit of the lane,
// so after three rounds vector = d and lane = key: (k3 k2 d0 | k0 d2 d1 k1), (k3 d1 d0 | k0 d2 k2
// k1), (d2 d1 d0 | k3 k2 k1 k0). Index tables: lane L of the new vector whose swapped bit is b
// takes lane idx(L, b) of the pair (+16: the pair's second vector).
template <class Arch>
    requires(simd::ops<Arch>::width == 16)
struct key_transpose<8, Arch, 8> {
    using V = simd::ops<Arch>;
    static constexpr bool in_registers = true;
    struct index_tables {
        alignas(64) int idx[3][2][16];
    };
    static constexpr index_tables make_tables() noexcept {
        index_tables t{};
        for (int bit = 0; bit < 2; ++bit)
            for (int L = 0; L < 16; ++L) {
                t.idx[0][bit][L] = (L & 1) * 16 + (L & ~1) + bit;
                t.idx[1][bit][L] = ((L >> 1) & 1) * 16 + (L & ~2) + 2 * bit;
                t.idx[2][bit][L] = (L >> 3) * 16 + (L & 1) * 8 + 4 * bit + ((L >> 2) & 1) * 2 + ((L >> 1) & 1);
            }
        return t;
    }
    static constexpr index_tables tables = make_tables();
    static __m512i index(int round, int bit) noexcept { return _mm512_load_si512(tables.idx[round][bit]); }
    static void load(const float* k, std::size_t count, typename V::vec* kt) noexcept {
        __m512 r[8];
        CTATTN_UNROLL for (std::size_t i = 0; i < 8; ++i) {
            const std::size_t floats = count * 8 > 16 * i ? count * 8 - 16 * i : 0;
            r[i] = floats >= 16 ? _mm512_loadu_ps(k + 16 * i)
                                : _mm512_maskz_loadu_ps(__mmask16((1u << floats) - 1u), k + 16 * i);
        }
        CTATTN_UNROLL for (int round = 0; round < 3; ++round) {
            const __m512i lo = index(round, 0), hi = index(round, 1);
            const int stride = 1 << round;  // the pair differs in vector bit `round`
            __m512 next[8];
            CTATTN_UNROLL for (int i = 0; i < 8; ++i) {
                if (i & stride) continue;
                next[i] = _mm512_permutex2var_ps(r[i], lo, r[i + stride]);
                next[i + stride] = _mm512_permutex2var_ps(r[i], hi, r[i + stride]);
            }
            CTATTN_UNROLL for (int i = 0; i < 8; ++i) r[i] = next[i];
        }
        CTATTN_UNROLL for (std::size_t d = 0; d < 8; ++d) kt[d] = typename V::vec(r[d]);
    }
};
#endif

// 2^x for x <= 0 (softmax exponents in base 2): exactly 1 at 0, 0 for -inf, NaN for NaN.
// AVX-512: x = n + f (n = round(x), |f| <= 1/2), 2^f by simd/math.hpp's degree-5 minimax
// polynomial (relative error 9.2e-8), times 2^n by one VSCALEFPS, which rounds underflowing
// results to denormals and 0 as 2^x would; 8 instructions. Elsewhere xsimd's exp2.
template <class Arch>
inline typename simd::ops<Arch>::vec exp2_nonpositive(typename simd::ops<Arch>::vec x) noexcept {
    using V = simd::ops<Arch>;
#if defined(CTATTN_HAS_XSIMD) && defined(__AVX512F__)
    if constexpr (V::width == 16) {
        // exp2_lowest: below it 2^x rounds to 0; max(lowest, x) keeps a NaN x (the second operand).
        const __m512 clamped = _mm512_max_ps(_mm512_set1_ps(exp2_lowest), x);
        const __m512 n = _mm512_roundscale_ps(clamped, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
        const __m512 f = _mm512_sub_ps(clamped, n);
        __m512 p = _mm512_fmadd_ps(_mm512_set1_ps(exp2_c5 * 0x1p100f), f, _mm512_set1_ps(exp2_c4 * 0x1p100f));
        p = _mm512_fmadd_ps(p, f, _mm512_set1_ps(exp2_c3 * 0x1p100f));
        p = _mm512_fmadd_ps(p, f, _mm512_set1_ps(exp2_c2 * 0x1p100f));
        p = _mm512_fmadd_ps(p, f, _mm512_set1_ps(exp2_c1 * 0x1p100f));
        p = _mm512_fmadd_ps(p, f, _mm512_set1_ps(1.0f));
        return typename V::vec(_mm512_scalef_ps(p, n));
    }
#endif
#if defined(CTATTN_HAS_XSIMD)
    if constexpr (V::width > 1) return xsimd::exp2(x);
#endif
    if constexpr (V::width == 1) return std::exp2(x);
}

// Heads (1 or 2) query heads of one KV head: q (Heads x HeadDim, stride QStride), keys and values
// rows at stride KvStride, scores: scratch of Heads x visible.end floats, out: Heads x HeadDim
// (stride QStride). False for an irregular head (see the header); out is then not written.
// Scores are in base 2: q is scaled by log2(e) / sqrt(head_dim) once, so a weight is 2^(s - m).
template <std::size_t Heads, std::size_t HeadDim, std::size_t QStride, std::size_t KvStride, class Arch>
inline bool decode_heads_vector(const float* q, const float* k, const float* v, key_range visible, float score_scale,
                                float* scores, float* out) noexcept {
    using V = simd::ops<Arch>;
    using vec = typename V::vec;
    using transpose = key_transpose<HeadDim, Arch, KvStride>;
    constexpr std::size_t W = V::width;
    constexpr float minus_inf = -std::numeric_limits<float>::infinity();
    const std::size_t begin = visible.begin, end = visible.end;
    if (begin >= end) {  // fully masked: the output is 0
        CTATTN_UNROLL for (std::size_t h = 0; h < Heads; ++h)
            for (std::size_t d = 0; d < HeadDim; ++d) out[h * QStride + d] = 0.0f;
        return true;
    }
    const std::size_t n = end - begin;
    // Chunks of W keys: the whole ones, then the partial one (if any) with its own instantiation of
    // the loop body, so whole chunks carry no tail tests or masks.
    const std::size_t whole_chunks = n / W;
    auto for_each_chunk = [&](auto&& body) {
        for (std::size_t c = 0; c < whole_chunks; ++c) body(c, std::true_type{});
        if (n % W != 0) body(whole_chunks, std::false_type{});
    };
    // Scores of chunk c, head h, at scores[(c * Heads + h) * W]; the partial chunk would run past
    // Heads x end floats, so it stays on the stack.
    alignas(64) float last_scores[Heads][W];
    auto chunk_scores = [&](std::size_t c, std::size_t h, auto whole) {
        if constexpr (decltype(whole)::value)
            return scores + (c * Heads + h) * W;
        else
            return &last_scores[h][0];
    };

    // Pass 1: scores and their max.
    const float q_scale = score_scale * log2_e;
    vec q_elements[Heads][HeadDim];
    CTATTN_UNROLL for (std::size_t h = 0; h < Heads; ++h)
        CTATTN_UNROLL for (std::size_t d = 0; d < HeadDim; ++d)
            q_elements[h][d] = V::broadcast(q[h * QStride + d] * q_scale);
    vec max_v[Heads];
    CTATTN_UNROLL for (std::size_t h = 0; h < Heads; ++h) max_v[h] = V::broadcast(minus_inf);
    for_each_chunk([&](std::size_t c, auto whole) {
        const std::size_t count = decltype(whole)::value ? W : n - c * W;
        vec kt[HeadDim];
        transpose::load(k + (begin + c * W) * KvStride, count, kt);
        CTATTN_UNROLL for (std::size_t h = 0; h < Heads; ++h) {
            vec s = V::mul(q_elements[h][0], kt[0]);
            CTATTN_UNROLL for (std::size_t d = 1; d < HeadDim; ++d) s = V::fma(q_elements[h][d], kt[d], s);
            if constexpr (!decltype(whole)::value) s = V::select_first(count, s, minus_inf);
            max_v[h] = V::max(max_v[h], s);
            V::store(chunk_scores(c, h, whole), s);
        }
    });
    vec max_b[Heads];
    CTATTN_UNROLL for (std::size_t h = 0; h < Heads; ++h) {
        const float max = V::reduce_max(max_v[h]);  // a NaN lane may be dropped: the sum catches it
        if (!(max - max == 0.0f)) return false;     // NaN, +-inf (all -inf, or q . k overflowed)
        max_b[h] = V::broadcast(max);
    }

    // Pass 2: weights 2^(s - m) (the max key's exactly 1), their sum, and P V.
    vec sum_v[Heads];
    CTATTN_UNROLL for (std::size_t h = 0; h < Heads; ++h) sum_v[h] = V::zero();
    auto weights = [&](std::size_t c, auto whole, vec* e) {
        CTATTN_UNROLL for (std::size_t h = 0; h < Heads; ++h) {
            e[h] = exp2_nonpositive<Arch>(V::sub(V::load(chunk_scores(c, h, whole)), max_b[h]));
            if constexpr (!decltype(whole)::value) e[h] = V::select_first(n - c * W, e[h], 0.0f);
            sum_v[h] = sum_v[h] + e[h];
        }
    };
    float inv_sum[Heads];
    auto finish_sums = [&]() {
        CTATTN_UNROLL for (std::size_t h = 0; h < Heads; ++h) {
            const float sum = V::reduce_add(sum_v[h]);  // >= 1: the max contributes 2^0 = 1
            if (sum != sum) return false;               // a NaN score slipped past the max
            inv_sum[h] = 1.0f / sum;
        }
        return true;
    };
#if defined(CTATTN_HAS_XSIMD) && defined(__AVX512F__)
    if constexpr (W == 16 && HeadDim == 8 && KvStride == 8) {
        // Two value rows per vector (keys 2t, 2t + 1: 16 contiguous floats), each weighted by its
        // key's weight spread over its half (one permute of the weight vector); Chains partial sums
        // per head keep the FMAs independent; the halves are added at the end.
        constexpr std::size_t Chains = 4;
        __m512 acc[Heads][Chains];
        CTATTN_UNROLL for (std::size_t h = 0; h < Heads; ++h)
            CTATTN_UNROLL for (std::size_t ch = 0; ch < Chains; ++ch) acc[h][ch] = _mm512_setzero_ps();
        __m512i pair_index[8];
        CTATTN_UNROLL for (int t = 0; t < 8; ++t)
            pair_index[t] = _mm512_mask_set1_epi32(_mm512_set1_epi32(2 * t), __mmask16(0xFF00), 2 * t + 1);
        for_each_chunk([&](std::size_t c, auto whole) {
            const std::size_t count = decltype(whole)::value ? W : n - c * W;
            vec e[Heads];
            weights(c, whole, e);
            const float* value = v + (begin + c * W) * KvStride;
            CTATTN_UNROLL for (std::size_t t = 0; t < 8; ++t) {
                __m512 rows;
                if constexpr (decltype(whole)::value) {
                    rows = _mm512_loadu_ps(value + 16 * t);
                } else {
                    if (2 * t >= count) break;
                    const std::size_t floats = count * 8 - 16 * t;  // > 0
                    rows = floats >= 16 ? _mm512_loadu_ps(value + 16 * t)
                                        : _mm512_maskz_loadu_ps(__mmask16((1u << floats) - 1u), value + 16 * t);
                }
                CTATTN_UNROLL for (std::size_t h = 0; h < Heads; ++h)
                    acc[h][t % Chains] = _mm512_fmadd_ps(_mm512_permutexvar_ps(pair_index[t], e[h]), rows, acc[h][t % Chains]);
            }
        });
        if (!finish_sums()) return false;
        CTATTN_UNROLL for (std::size_t h = 0; h < Heads; ++h) {
            const __m512 total = _mm512_add_ps(_mm512_add_ps(acc[h][0], acc[h][1]), _mm512_add_ps(acc[h][2], acc[h][3]));
            const __m256 halves = _mm256_add_ps(_mm512_castps512_ps256(total), _mm512_extractf32x8_ps(total, 1));
            _mm256_storeu_ps(out + h * QStride, _mm256_mul_ps(halves, _mm256_set1_ps(inv_sum[h])));
        }
        return true;
    }
#endif
    // Each value row is a few vectors of the widest arch no wider than head_dim (one 8-float
    // vector for head_dim 8) and a scalar tail, loaded once and weighted for every head;
    // consecutive keys go to separate partial sums (Chains) so the FMAs do not wait on each other.
    using HeadArch = simd::arch_for_width<Arch, HeadDim>;
    using H = simd::ops<HeadArch>;
    constexpr std::size_t HW = H::width, vectors = HeadDim / HW, tail = HeadDim - vectors * HW;
    constexpr std::size_t Chains = vectors <= 1 ? 4 : (vectors <= 2 ? 2 : 1);
    typename H::vec acc[Chains][Heads][vectors > 0 ? vectors : 1];
    float acc_tail[Heads][tail > 0 ? tail : 1];
    CTATTN_UNROLL for (std::size_t ch = 0; ch < Chains; ++ch)
        CTATTN_UNROLL for (std::size_t h = 0; h < Heads; ++h)
            CTATTN_UNROLL for (std::size_t i = 0; i < vectors; ++i) acc[ch][h][i] = H::zero();
    CTATTN_UNROLL for (std::size_t h = 0; h < Heads; ++h)
        CTATTN_UNROLL for (std::size_t i = 0; i < tail; ++i) acc_tail[h][i] = 0.0f;
    alignas(64) float p[Heads][W];
    for_each_chunk([&](std::size_t c, auto whole) {
        // A run-time count in both cases: GCC 12 misreads the tail loop below, dead for a constant
        // W, as overflowing (-Waggressive-loop-optimizations).
        const std::size_t count = n - c * W < W ? n - c * W : W;
        vec e[Heads];
        weights(c, whole, e);
        CTATTN_UNROLL for (std::size_t h = 0; h < Heads; ++h) V::store(p[h], e[h]);
        const float* value = v + (begin + c * W) * KvStride;
        std::size_t t = 0;
        for (; t + Chains <= count; t += Chains)
            CTATTN_UNROLL for (std::size_t ch = 0; ch < Chains; ++ch) {
                const float* row = value + (t + ch) * KvStride;
                CTATTN_UNROLL for (std::size_t i = 0; i < vectors; ++i) {
                    const typename H::vec vi = H::load(row + i * HW);
                    CTATTN_UNROLL for (std::size_t h = 0; h < Heads; ++h)
                        acc[ch][h][i] = H::fma(H::broadcast(p[h][t + ch]), vi, acc[ch][h][i]);
                }
                CTATTN_UNROLL for (std::size_t i = 0; i < tail; ++i)
                    CTATTN_UNROLL for (std::size_t h = 0; h < Heads; ++h)
                        acc_tail[h][i] += p[h][t + ch] * row[vectors * HW + i];
            }
        for (; t < count; ++t) {
            const float* row = value + t * KvStride;
            CTATTN_UNROLL for (std::size_t i = 0; i < vectors; ++i) {
                const typename H::vec vi = H::load(row + i * HW);
                CTATTN_UNROLL for (std::size_t h = 0; h < Heads; ++h)
                    acc[0][h][i] = H::fma(H::broadcast(p[h][t]), vi, acc[0][h][i]);
            }
            CTATTN_UNROLL for (std::size_t i = 0; i < tail; ++i)
                CTATTN_UNROLL for (std::size_t h = 0; h < Heads; ++h) acc_tail[h][i] += p[h][t] * row[vectors * HW + i];
        }
    });
    if (!finish_sums()) return false;
    CTATTN_UNROLL for (std::size_t h = 0; h < Heads; ++h) {
        CTATTN_UNROLL for (std::size_t i = 0; i < vectors; ++i) {
            typename H::vec total = acc[0][h][i];
            CTATTN_UNROLL for (std::size_t ch = 1; ch < Chains; ++ch) total = total + acc[ch][h][i];
            H::store(out + h * QStride + i * HW, H::mul(total, H::broadcast(inv_sum[h])));
        }
        CTATTN_UNROLL for (std::size_t i = 0; i < tail; ++i) out[h * QStride + vectors * HW + i] = acc_tail[h][i] * inv_sum[h];
    }
    return true;
}
}  // namespace detail

// Whether decode on Arch takes this kernel for head_dim HeadDim (chosen at compile time): where K
// transposes in registers (head_dim 8 on 8- and 16-lane vectors). Other shapes keep the one-row
// core, which vectorises along head_dim and suits wide heads.
template <std::size_t HeadDim, class Arch, std::size_t KvStride = HeadDim>
inline constexpr bool vector_decode_fits = simd::width<Arch> > 1 && detail::key_transpose<HeadDim, Arch, KvStride>::in_registers;

// One query row (all heads side by side, heads * head_dim floats) against the cached keys and
// values: KV head g's row j at k + g * KvHeadStride + j * KvStride (v the same). visible: the run of
// keys the query sees. scores: scratch of 2 * visible.end floats. context: heads * head_dim floats.
// Query heads sharing a KV head go two at a time. Returns false for an irregular row (see the
// header): the caller then runs the general one-row core (attend) for the whole row.
template <std::size_t Heads, std::size_t KvHeads, std::size_t HeadDim, std::size_t KvStride, std::size_t KvHeadStride,
          class Arch>
[[nodiscard]] inline bool vector_decode_attention(const float* q, const float* k, const float* v, key_range visible,
                                                  float score_scale, float* scores, float* context) noexcept {
    static_assert(Heads % KvHeads == 0, "ctattn: heads must be divisible by kv_heads");
    constexpr std::size_t group = Heads / KvHeads;
    for (std::size_t g = 0; g < KvHeads; ++g) {
        const float* k_head = k + g * KvHeadStride;
        const float* v_head = v + g * KvHeadStride;
        std::size_t h = g * group;
        for (; h + 2 <= (g + 1) * group; h += 2)
            if (!detail::decode_heads_vector<2, HeadDim, HeadDim, KvStride, Arch>(
                    q + h * HeadDim, k_head, v_head, visible, score_scale, scores, context + h * HeadDim))
                return false;
        if constexpr (group % 2 == 1)
            if (!detail::decode_heads_vector<1, HeadDim, HeadDim, KvStride, Arch>(
                    q + h * HeadDim, k_head, v_head, visible, score_scale, scores, context + h * HeadDim))
                return false;
    }
    return true;
}

}  // namespace ctattn::kernels
