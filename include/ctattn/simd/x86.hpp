// SPDX-License-Identifier: Apache-2.0
// x86 bodies (AVX, FMA3, AVX-512) of the operations whose generic form sits in simd/ops.hpp,
// simd/math.hpp or a kernel: horizontal reductions, the exp family's vector bodies, in-register
// transposes of K, the masked one-row projection and decode's paired value rows.
// Every function is declared on every target (so kernels can name it in an `if constexpr` branch
// that simd::target rules out) and defined only where simd/target.hpp says the ISA is there.
#pragma once

#include "target.hpp"

#include <cstddef>

namespace ctattn::simd::x86 {

// ---- declarations: every target ------------------------------------------------------------
// Lane t of the result = the sum of rows[t]'s 16 lanes (AVX-512).
template <class Vec>
Vec transpose_add_16(const Vec* rows) noexcept;
// kt[d][j] = k_j[d] for a 16 x 16 block (AVX-512) of K (rows: keys, stride KStride) into kt (rows:
// head dimensions, stride KtStride); keys < 16: the rows past them are zeros, each column is stored
// as `lanes` floats.
template <std::size_t KStride, std::size_t KtStride>
void transpose_block_16(const float* k, float* kt, unsigned keys = 16, unsigned lanes = 16) noexcept;
// The same for an 8 x 8 block (AVX).
template <std::size_t KStride, std::size_t KtStride>
void transpose_block_8(const float* k, float* kt) noexcept;
// y = bias + x . W for one row when Dout is not a multiple of 16 (AVX-512, masked last vector).
template <std::size_t Din, std::size_t Dout, std::size_t WStride>
void project_row_masked(const float* x, const float* w, const float* bias, float* y) noexcept;
// Keys 0 .. count-1 (count <= lanes; rows of 8 contiguous floats) transposed: kt[d] lane t =
// k_t[d], lanes t >= count zero: 8 keys (AVX) or 16 keys (AVX-512).
template <class Vec>
void transpose_keys_8x8(const float* k, std::size_t count, Vec* kt) noexcept;
template <class Vec>
void transpose_keys_16x8(const float* k, std::size_t count, Vec* kt) noexcept;
// Decode's P V for head_dim 8 on AVX-512 (defined below).
template <std::size_t Heads>
struct value_pairs_16x8;
// F16C: out[0..8) = the 8 halves at p as floats (exact); one half as a float; one float as a half
// (round to nearest even).
inline void halves_to_floats_8(const unsigned short* p, float* out) noexcept;
inline float half_to_float(unsigned short h) noexcept;
inline unsigned short float_to_half(float x) noexcept;

#if defined(CTATTN_HAS_XSIMD)
CTATTN_SILENCE_INTRINSIC_WARNINGS
#endif

#if defined(CTATTN_HAS_F16C)
inline void halves_to_floats_8(const unsigned short* p, float* out) noexcept {
    _mm256_storeu_ps(out, _mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i*>(p))));
}
inline float half_to_float(unsigned short h) noexcept { return _mm_cvtss_f32(_mm_cvtph_ps(_mm_cvtsi32_si128(h))); }
inline unsigned short float_to_half(float x) noexcept {
    const __m128i h = _mm_cvtps_ph(_mm_set_ss(x), _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
    return static_cast<unsigned short>(_mm_extract_epi16(h, 0));
}
#endif

#if defined(CTATTN_HAS_X86_FMA)
inline __m256 fma_8(__m256 a, __m256 b, __m256 c) noexcept { return _mm256_fmadd_ps(a, b, c); }
inline __m128 fma_4(__m128 a, __m128 b, __m128 c) noexcept { return _mm_fmadd_ps(a, b, c); }
#endif

#if defined(CTATTN_HAS_AVX)
// Halves, then pairs, then neighbours: three max steps.
inline float reduce_max_8(__m256 v) noexcept {
    const __m128 m4 = _mm_max_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    const __m128 m2 = _mm_max_ps(m4, _mm_movehl_ps(m4, m4));
    return _mm_cvtss_f32(_mm_max_ss(m2, _mm_shuffle_ps(m2, m2, 1)));
}

// In-register transposes: element by element, a transpose is a load and a store per float, about
// a third of the scores' time at head_dim 512 (as many floats move as there are FMAs per query
// row); in registers it is 64 shuffles per 256 floats (16 x 16, AVX-512) or 24 per 64 (8 x 8,
// AVX): interleave pairs of rows, then pairs of pairs, then 128-bit lanes.
template <std::size_t KStride, std::size_t KtStride>
inline void transpose_block_8(const float* k, float* kt) noexcept {
    __m256 r[8], t[8];
    for (std::size_t i = 0; i < 8; ++i) r[i] = _mm256_loadu_ps(k + i * KStride);
    for (int i = 0; i < 8; i += 2) {
        t[i] = _mm256_unpacklo_ps(r[i], r[i + 1]);
        t[i + 1] = _mm256_unpackhi_ps(r[i], r[i + 1]);
    }
    for (int g = 0; g < 8; g += 4) {
        r[g] = _mm256_shuffle_ps(t[g], t[g + 2], 0x44);
        r[g + 1] = _mm256_shuffle_ps(t[g], t[g + 2], 0xEE);
        r[g + 2] = _mm256_shuffle_ps(t[g + 1], t[g + 3], 0x44);
        r[g + 3] = _mm256_shuffle_ps(t[g + 1], t[g + 3], 0xEE);
    }
    for (std::size_t c = 0; c < 4; ++c) {
        _mm256_storeu_ps(kt + c * KtStride, _mm256_permute2f128_ps(r[c], r[4 + c], 0x20));
        _mm256_storeu_ps(kt + (c + 4) * KtStride, _mm256_permute2f128_ps(r[c], r[4 + c], 0x31));
    }
}

// 8 keys x 8 floats in registers (r[t] = key t's row) transposed: kt[d] lane t = r[t][d]. The
// classic 8x8 transpose, 24 shuffles; typed KV rows (simd/kv_x86.hpp) convert into r first.
template <class Vec>
[[gnu::always_inline]] inline void transpose_rows_8x8(const __m256* r, Vec* kt) noexcept {
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
        kt[d] = Vec(_mm256_permute2f128_ps(b[d], b[d + 4], 0x20));
        kt[d + 4] = Vec(_mm256_permute2f128_ps(b[d], b[d + 4], 0x31));
    }
}

// 8 keys x 8 floats, rows contiguous.
template <class Vec>
inline void transpose_keys_8x8(const float* k, std::size_t count, Vec* kt) noexcept {
    __m256 r[8];
    CTATTN_UNROLL for (std::size_t t = 0; t < 8; ++t) r[t] = t < count ? _mm256_loadu_ps(k + 8 * t) : _mm256_setzero_ps();
    transpose_rows_8x8(r, kt);
}
#endif  // CTATTN_HAS_AVX

#if defined(CTATTN_HAS_AVX512F)
inline __m512 fma_16(__m512 a, __m512 b, __m512 c) noexcept { return _mm512_fmadd_ps(a, b, c); }
inline float reduce_max_16(__m512 v) noexcept { return _mm512_reduce_max_ps(v); }

// Lane t of the result = the sum of rows[t]'s 16 lanes, in 15 steps of two 128-bit-lane shuffles
// and an add: each step halves the lanes a row occupies and packs two rows' halves into one
// vector. The network leaves slot s's sum in lane 4 * (s % 4) + s / 4, so slot s is fed row
// 4 * (s % 4) + s / 4 (that map is its own inverse) and lane t comes out holding row t.
// (xsimd 8.1's AVX-512 haddp returns wrong sums.)
template <class Vec>
inline Vec transpose_add_16(const Vec* rows) noexcept {
    auto slot = [rows](int s) -> __m512 { return rows[4 * (s % 4) + s / 4]; };
    __m512 pairs[8];  // 128-bit lanes 0-1: slot 2i folded to 8 lanes, 2-3: slot 2i + 1
    for (int i = 0; i < 8; ++i) {
        const __m512 a = slot(2 * i), b = slot(2 * i + 1);
        pairs[i] = _mm512_add_ps(_mm512_shuffle_f32x4(a, b, 0x44), _mm512_shuffle_f32x4(a, b, 0xEE));
    }
    __m512 quads[4];  // 128-bit lane L: slot 4j + L folded to 4 lanes
    for (int j = 0; j < 4; ++j) {
        const __m512 a = pairs[2 * j], b = pairs[2 * j + 1];
        quads[j] = _mm512_add_ps(_mm512_shuffle_f32x4(a, b, 0x88), _mm512_shuffle_f32x4(a, b, 0xDD));
    }
    __m512 octs[2];  // within 128-bit lane L: two lanes each of slots 8k + L and 8k + 4 + L
    for (int k = 0; k < 2; ++k) {
        const __m512 a = quads[2 * k], b = quads[2 * k + 1];
        octs[k] = _mm512_add_ps(_mm512_shuffle_ps(a, b, 0x44), _mm512_shuffle_ps(a, b, 0xEE));
    }
    return Vec(_mm512_add_ps(_mm512_shuffle_ps(octs[0], octs[1], 0x88), _mm512_shuffle_ps(octs[0], octs[1], 0xDD)));
}

// e^x for 16 floats, inlined (xsimd 8.1's exp is an out-of-line call under AVX-512, and every
// zmm register is caller-saved, so a softmax loop spills around each call). e^x = 2^n e^r with
// n = round(x log2 e) and r = x - n ln 2 in [-ln2/2, ln2/2] (ln 2 in two parts, Cody-Waite);
// e^r is Cephes' expf polynomial (degree 7; Cephes documents 1.7e-7 relative error on that
// interval); vscalefps multiplies by 2^n with one rounding, overflow to +inf and gradual
// underflow to 0 included. x is clamped to [-104, 89] first, which keeps r finite for +-inf
// (e^-104 and e^89 are already 0 and +inf in float) and lets NaN through (vmaxps/vminps return
// their second operand when one is NaN). Error against the double exp: <= 2 ulp where the result
// is a normal float (1.006 measured over 2^22 points), <= 2^-149 below (tests/kernels/test_kernels_blocked.cpp).
inline __m512 exp_16(__m512 x) noexcept {
    x = _mm512_min_ps(_mm512_set1_ps(89.0f), _mm512_max_ps(_mm512_set1_ps(-104.0f), x));
    const __m512 n = _mm512_roundscale_ps(_mm512_mul_ps(x, _mm512_set1_ps(1.44269504088896341f)),
                                          _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
    __m512 r = _mm512_fmadd_ps(n, _mm512_set1_ps(-0.693359375f), x);
    r = _mm512_fmadd_ps(n, _mm512_set1_ps(2.12194440e-4f), r);
    __m512 p = _mm512_set1_ps(1.9875691500e-4f);
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.3981999507e-3f));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(8.3334519073e-3f));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(4.1665795894e-2f));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.6666665459e-1f));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(5.0000001201e-1f));
    const __m512 e_r = _mm512_add_ps(_mm512_fmadd_ps(p, _mm512_mul_ps(r, r), r), _mm512_set1_ps(1.0f));
    return _mm512_scalef_ps(e_r, n);
}

// 2^x for 16 floats x <= 0: x = n + f (n = round(x), |f| <= 1/2), 2^f by Poly's degree-5
// polynomial (simd/math.hpp's minimax fit: Poly::c1 .. c5, Poly::lowest), times 2^n by one
// VSCALEFPS, which rounds underflowing results to denormals and 0 as 2^x would; 8 instructions.
// max(lowest, x) keeps a NaN x (the second operand).
template <class Poly>
inline __m512 exp2_16(__m512 x) noexcept {
    const __m512 clamped = _mm512_max_ps(_mm512_set1_ps(Poly::lowest), x);
    const __m512 n = _mm512_roundscale_ps(clamped, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
    const __m512 f = _mm512_sub_ps(clamped, n);
    __m512 p = _mm512_fmadd_ps(_mm512_set1_ps(Poly::c5), f, _mm512_set1_ps(Poly::c4));
    p = _mm512_fmadd_ps(p, f, _mm512_set1_ps(Poly::c3));
    p = _mm512_fmadd_ps(p, f, _mm512_set1_ps(Poly::c2));
    p = _mm512_fmadd_ps(p, f, _mm512_set1_ps(Poly::c1));
    p = _mm512_fmadd_ps(p, f, _mm512_set1_ps(1.0f));
    return _mm512_scalef_ps(p, n);
}

template <std::size_t KStride, std::size_t KtStride>
inline void transpose_block_16(const float* k, float* kt, unsigned keys, unsigned lanes) noexcept {
    __m512 r[16], t[16];
    for (unsigned i = 0; i < 16; ++i) r[i] = i < keys ? _mm512_loadu_ps(k + i * KStride) : _mm512_setzero_ps();
    for (int i = 0; i < 16; i += 2) {  // per 128-bit lane: a0 b0 a1 b1, a2 b2 a3 b3
        t[i] = _mm512_unpacklo_ps(r[i], r[i + 1]);
        t[i + 1] = _mm512_unpackhi_ps(r[i], r[i + 1]);
    }
    for (int g = 0; g < 16; g += 4) {  // rows g..g+3: r[g + c] holds column c, c+4, c+8, c+12
        auto lo = [](__m512 a, __m512 b) { return _mm512_castpd_ps(_mm512_unpacklo_pd(_mm512_castps_pd(a), _mm512_castps_pd(b))); };
        auto hi = [](__m512 a, __m512 b) { return _mm512_castpd_ps(_mm512_unpackhi_pd(_mm512_castps_pd(a), _mm512_castps_pd(b))); };
        r[g] = lo(t[g], t[g + 2]);
        r[g + 1] = hi(t[g], t[g + 2]);
        r[g + 2] = lo(t[g + 1], t[g + 3]);
        r[g + 3] = hi(t[g + 1], t[g + 3]);
    }
    for (int c = 0; c < 4; ++c) {  // 128-bit lanes: columns c and c+8 (0x88), c+4 and c+12 (0xDD)
        t[c] = _mm512_shuffle_f32x4(r[c], r[4 + c], 0x88);
        t[4 + c] = _mm512_shuffle_f32x4(r[c], r[4 + c], 0xDD);
        t[8 + c] = _mm512_shuffle_f32x4(r[8 + c], r[12 + c], 0x88);
        t[12 + c] = _mm512_shuffle_f32x4(r[8 + c], r[12 + c], 0xDD);
    }
    const __mmask16 store = __mmask16((1u << lanes) - 1u);  // lanes <= 16: 1 << 16 fits an unsigned
    for (std::size_t c = 0; c < 8; ++c) {
        _mm512_mask_storeu_ps(kt + c * KtStride, store, _mm512_shuffle_f32x4(t[c], t[8 + c], 0x88));
        _mm512_mask_storeu_ps(kt + (c + 8) * KtStride, store, _mm512_shuffle_f32x4(t[c], t[8 + c], 0xDD));
    }
}

// Every column in one pass over k, the last vector loaded with a mask (its lanes past Dout read
// nothing), instead of the whole-vector panel plus narrower tiles for the leftover columns, each
// of which streams W's rows again (stories260K's 64 x 172 FFN matrices: 10 vectors and a 12-lane
// one). Same sums, same order as the tiles: bit-identical outputs.
template <std::size_t Din, std::size_t Dout, std::size_t WStride>
inline void project_row_masked(const float* x, const float* w, const float* bias, float* y) noexcept {
    constexpr std::size_t vecs = Dout / 16;
    constexpr __mmask16 last = __mmask16((1u << (Dout % 16)) - 1u);
    __m512 acc[vecs + 1];
    CTATTN_UNROLL for (std::size_t n = 0; n < vecs; ++n) acc[n] = bias ? _mm512_loadu_ps(bias + 16 * n) : _mm512_setzero_ps();
    acc[vecs] = bias ? _mm512_maskz_loadu_ps(last, bias + 16 * vecs) : _mm512_setzero_ps();
    for (std::size_t k = 0; k < Din; ++k) {
        const __m512 xb = _mm512_set1_ps(x[k]);
        const float* row = w + k * WStride;
        CTATTN_UNROLL for (std::size_t n = 0; n < vecs; ++n) acc[n] = _mm512_fmadd_ps(xb, _mm512_loadu_ps(row + 16 * n), acc[n]);
        acc[vecs] = _mm512_fmadd_ps(xb, _mm512_maskz_loadu_ps(last, row + 16 * vecs), acc[vecs]);
    }
    CTATTN_UNROLL for (std::size_t n = 0; n < vecs; ++n) _mm512_storeu_ps(y + 16 * n, acc[n]);
    _mm512_mask_storeu_ps(y + 16 * vecs, last, acc[vecs]);
}

// 16 keys x 8 floats (rows contiguous: 128 floats, 8 vectors of two keys each) in three rounds of
// 8 two-source permutes. Float e = 8 key + d sits in vector e / 16, lane e % 16: vector bits
// (k3 k2 k1), lane bits (k0 d2 d1 d0). Round r swaps vector bit r with a d bit of the lane, so
// after three rounds vector = d and lane = key: (k3 k2 d0 | k0 d2 d1 k1), (k3 d1 d0 | k0 d2 k2
// k1), (d2 d1 d0 | k3 k2 k1 k0). Index tables: lane L of the new vector whose swapped bit is b
// takes lane idx(L, b) of the pair (+16: the pair's second vector).
struct key_transpose_16x8_tables {
    alignas(64) int idx[3][2][16];
    static constexpr key_transpose_16x8_tables make() noexcept {
        key_transpose_16x8_tables t{};
        for (int bit = 0; bit < 2; ++bit)
            for (int L = 0; L < 16; ++L) {
                t.idx[0][bit][L] = (L & 1) * 16 + (L & ~1) + bit;
                t.idx[1][bit][L] = ((L >> 1) & 1) * 16 + (L & ~2) + 2 * bit;
                t.idx[2][bit][L] = (L >> 3) * 16 + (L & 1) * 8 + 4 * bit + ((L >> 2) & 1) * 2 + ((L >> 1) & 1);
            }
        return t;
    }
};
inline constexpr key_transpose_16x8_tables key_transpose_16x8 = key_transpose_16x8_tables::make();

// r[i] = keys 2i and 2i + 1's rows (16 floats) in, kt[d] lane t = k_t[d] out (r is overwritten);
// typed KV rows (simd/kv_x86.hpp) convert into r first.
template <class Vec>
[[gnu::always_inline]] inline void transpose_rows_16x8(__m512* r, Vec* kt) noexcept {
    CTATTN_UNROLL for (int round = 0; round < 3; ++round) {
        const __m512i lo = _mm512_load_si512(key_transpose_16x8.idx[round][0]);
        const __m512i hi = _mm512_load_si512(key_transpose_16x8.idx[round][1]);
        const int stride = 1 << round;  // the pair differs in vector bit `round`
        __m512 next[8];
        CTATTN_UNROLL for (int i = 0; i < 8; ++i) {
            if (i & stride) continue;
            next[i] = _mm512_permutex2var_ps(r[i], lo, r[i + stride]);
            next[i + stride] = _mm512_permutex2var_ps(r[i], hi, r[i + stride]);
        }
        CTATTN_UNROLL for (int i = 0; i < 8; ++i) r[i] = next[i];
    }
    CTATTN_UNROLL for (std::size_t d = 0; d < 8; ++d) kt[d] = Vec(r[d]);
}

template <class Vec>
inline void transpose_keys_16x8(const float* k, std::size_t count, Vec* kt) noexcept {
    __m512 r[8];
    CTATTN_UNROLL for (std::size_t i = 0; i < 8; ++i) {
        const std::size_t floats = count * 8 > 16 * i ? count * 8 - 16 * i : 0;
        r[i] = floats >= 16 ? _mm512_loadu_ps(k + 16 * i)
                            : _mm512_maskz_loadu_ps(__mmask16((1u << floats) - 1u), k + 16 * i);
    }
    transpose_rows_16x8(r, kt);
}

// Decode's P V for head_dim 8 with rows contiguous: two value rows per vector (keys 2t, 2t + 1: 16
// contiguous floats), each weighted by its key's weight spread over its half (one permute of the
// weight vector); Chains partial sums per head keep the FMAs independent; the halves are added at
// the end. add(): one chunk of 16 keys (count of them present, rows from `value`), weights e[h].
template <std::size_t Heads>
struct value_pairs_16x8 {
    static constexpr std::size_t Chains = 4;
    __m512 acc[Heads][Chains];
    __m512i pair_index[8];

    value_pairs_16x8() noexcept {
        CTATTN_UNROLL for (std::size_t h = 0; h < Heads; ++h)
            CTATTN_UNROLL for (std::size_t ch = 0; ch < Chains; ++ch) acc[h][ch] = _mm512_setzero_ps();
        CTATTN_UNROLL for (int t = 0; t < 8; ++t)
            pair_index[t] = _mm512_mask_set1_epi32(_mm512_set1_epi32(2 * t), __mmask16(0xFF00), 2 * t + 1);
    }
    template <bool Whole, class Vec>
    [[gnu::always_inline]] void add(const float* value, std::size_t count, const Vec* e) noexcept {
        CTATTN_UNROLL for (std::size_t t = 0; t < 8; ++t) {
            __m512 rows;
            if constexpr (Whole) {
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
    }
    // out[h * QStride + d] = (sum of head h's partial sums)[d] * inv_sum[h].
    template <std::size_t QStride>
    [[gnu::always_inline]] void store(float* out, const float* inv_sum) const noexcept {
        CTATTN_UNROLL for (std::size_t h = 0; h < Heads; ++h) {
            const __m512 total = _mm512_add_ps(_mm512_add_ps(acc[h][0], acc[h][1]), _mm512_add_ps(acc[h][2], acc[h][3]));
            const __m256 halves = _mm256_add_ps(_mm512_castps512_ps256(total), _mm512_extractf32x8_ps(total, 1));
            _mm256_storeu_ps(out + h * QStride, _mm256_mul_ps(halves, _mm256_set1_ps(inv_sum[h])));
        }
    }
};
#endif  // CTATTN_HAS_AVX512F

#if defined(CTATTN_HAS_XSIMD)
CTATTN_RESTORE_WARNINGS
#endif

}  // namespace ctattn::simd::x86
