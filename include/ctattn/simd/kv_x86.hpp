// SPDX-License-Identifier: Apache-2.0
// x86 bodies for decode over a typed KV cache (base/kv_storage.hpp): float16 and int8 rows widened
// to floats in registers, x_d = half(e_d) by F16C's VCVTPH2PS and x_d = float(e_d) by AVX2's
// VPMOVSXBD + VCVTDQ2PS (both exact), instead of element by element through a buffer; keys then
// go through simd/x86.hpp's register transposes, and an int8 chunk's key scales s_j multiply the
// transposed vectors lane by lane (kt[d] lane j = e_j[d] s_j: the product the buffer held).
// Every function is declared on every target and defined only where simd/target.hpp says the ISA is.
#pragma once

#include "target.hpp"
#include "x86.hpp"

#include <cstddef>
#include <cstdint>

namespace ctattn::simd::kv_x86 {

// ---- declarations: every target ------------------------------------------------------------
// Keys 0 .. count-1 (count <= lanes; rows of 8 elements, contiguous) converted and transposed:
// kt[d] lane t = x_t[d] (times s_t for int8, s_t the stored scale bits scales[t]), lanes t >= count
// zero (their rows and scales are not read). 8 keys (AVX2 + F16C) or 16 keys (AVX-512).
template <class Vec>
void half_keys_8x8(const std::uint16_t* k, std::size_t count, Vec* kt) noexcept;
template <class Vec>
void int8_keys_8x8(const std::int8_t* k, const std::uint16_t* scales, std::size_t count, Vec* kt) noexcept;
template <class Vec>
void half_keys_16x8(const std::uint16_t* k, std::size_t count, Vec* kt) noexcept;
template <class Vec>
void int8_keys_16x8(const std::int8_t* k, const std::uint16_t* scales, std::size_t count, Vec* kt) noexcept;
// The first count (<= Vec's width: 8 or 16) int8 row scales from their stored bits, 0 past count
// (not read).
template <class Vec>
Vec row_scales(const std::uint16_t* scales, std::size_t count) noexcept;
// Vec's width (4, 8 or 16) of consecutive elements at p as floats (exact, unscaled).
template <class Vec>
Vec half_row(const std::uint16_t* p) noexcept;
template <class Vec>
Vec int8_row(const std::int8_t* p) noexcept;
// Whether the functions above are defined for Vec's width of keys (the transposes) or of row
// elements (half_row, int8_row).
template <std::size_t Width>
inline constexpr bool half_keys = (Width == 8 && target::avx && target::f16c) || (Width == 16 && target::avx512f);
template <std::size_t Width>
inline constexpr bool int8_keys = (Width == 8 && target::avx2) || (Width == 16 && target::avx512f);
template <std::size_t Width>
inline constexpr bool scale_rows = (Width == 8 && target::avx2) || (Width == 16 && target::avx512f);
template <std::size_t Width>
inline constexpr bool half_rows = (Width == 4 || Width == 8) ? target::f16c : (Width == 16 && target::avx512f);
template <std::size_t Width>
inline constexpr bool int8_rows = (Width == 4 || Width == 8) ? target::avx2 : (Width == 16 && target::avx512f);

#if defined(CTATTN_HAS_XSIMD)
CTATTN_SILENCE_INTRINSIC_WARNINGS
#endif

#if defined(CTATTN_HAS_F16C)
template <class Vec>
inline void half_keys_8x8(const std::uint16_t* k, std::size_t count, Vec* kt) noexcept {
    __m256 r[8];
    CTATTN_UNROLL for (std::size_t t = 0; t < 8; ++t)
        r[t] = t < count ? _mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i*>(k + 8 * t)))
                         : _mm256_setzero_ps();
    x86::transpose_rows_8x8(r, kt);
}
#endif

#if defined(CTATTN_HAS_AVX2)
// The stored scale bits b as floats: b << 15 is the float's bit pattern (base/kv_storage.hpp).
inline __m256 scales_8(const std::uint16_t* scales) noexcept {
    const __m256i bits = _mm256_cvtepu16_epi32(_mm_loadu_si128(reinterpret_cast<const __m128i*>(scales)));
    return _mm256_castsi256_ps(_mm256_slli_epi32(bits, 15));
}
template <class Vec>
inline Vec row_scales(const std::uint16_t* scales, std::size_t count) noexcept {
    constexpr std::size_t width = Vec::size;  // an xsimd batch
    alignas(32) std::uint16_t present[16] = {};
    const std::uint16_t* bits = scales;
    if (count < width) {
        for (std::size_t t = 0; t < count; ++t) present[t] = scales[t];
        bits = present;
    }
    if constexpr (width == 8) {
        return Vec(scales_8(bits));
    } else {
#if defined(CTATTN_HAS_AVX512F)
        const __m256i b = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(bits));
        return Vec(_mm512_castsi512_ps(_mm512_slli_epi32(_mm512_cvtepu16_epi32(b), 15)));
#endif
    }
}
inline __m256 codes_8(const std::int8_t* p) noexcept {
    return _mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(_mm_loadl_epi64(reinterpret_cast<const __m128i*>(p))));
}

template <class Vec>
inline void int8_keys_8x8(const std::int8_t* k, const std::uint16_t* scales, std::size_t count, Vec* kt) noexcept {
    __m256 r[8];
    CTATTN_UNROLL for (std::size_t t = 0; t < 8; ++t) r[t] = t < count ? codes_8(k + 8 * t) : _mm256_setzero_ps();
    const __m256 s = row_scales<Vec>(scales, count);  // 0 past count: 0 x 0 = 0
    Vec unscaled[8];
    x86::transpose_rows_8x8(r, unscaled);
    CTATTN_UNROLL for (std::size_t d = 0; d < 8; ++d) kt[d] = Vec(_mm256_mul_ps(unscaled[d], s));
}
#endif

#if defined(CTATTN_HAS_AVX512F)
// Vector i holds keys 2i and 2i + 1 (16 elements); in a partial chunk a lone key 2i reads its 8
// elements only, the upper half zero.
template <class Vec>
inline void half_keys_16x8(const std::uint16_t* k, std::size_t count, Vec* kt) noexcept {
    __m512 r[8];
    CTATTN_UNROLL for (std::size_t i = 0; i < 8; ++i) {
        const __m128i* p = reinterpret_cast<const __m128i*>(k + 16 * i);
        if (2 * i + 1 < count)
            r[i] = _mm512_cvtph_ps(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(p)));
        else if (2 * i < count)
            r[i] = _mm512_cvtph_ps(_mm256_set_m128i(_mm_setzero_si128(), _mm_loadu_si128(p)));
        else
            r[i] = _mm512_setzero_ps();
    }
    x86::transpose_rows_16x8(r, kt);
}

template <class Vec>
inline void int8_keys_16x8(const std::int8_t* k, const std::uint16_t* scales, std::size_t count, Vec* kt) noexcept {
    __m512 r[8];
    CTATTN_UNROLL for (std::size_t i = 0; i < 8; ++i) {
        const __m128i* p = reinterpret_cast<const __m128i*>(k + 16 * i);
        if (2 * i + 1 < count)
            r[i] = _mm512_cvtepi32_ps(_mm512_cvtepi8_epi32(_mm_loadu_si128(p)));
        else if (2 * i < count)
            r[i] = _mm512_cvtepi32_ps(_mm512_cvtepi8_epi32(_mm_loadl_epi64(p)));
        else
            r[i] = _mm512_setzero_ps();
    }
    const __m512 s = row_scales<Vec>(scales, count);  // 0 past count: 0 x 0 = 0
    Vec unscaled[8];
    x86::transpose_rows_16x8(r, unscaled);
    CTATTN_UNROLL for (std::size_t d = 0; d < 8; ++d) kt[d] = Vec(_mm512_mul_ps(unscaled[d], s));
}
#endif

#if defined(CTATTN_HAS_F16C)
template <class Vec>
inline Vec half_row(const std::uint16_t* p) noexcept {
    constexpr std::size_t width = Vec::size;  // an xsimd batch
    if constexpr (width == 4) {
        return Vec(_mm_cvtph_ps(_mm_loadl_epi64(reinterpret_cast<const __m128i*>(p))));
    } else if constexpr (width == 8) {
        return Vec(_mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i*>(p))));
    } else {
#if defined(CTATTN_HAS_AVX512F)
        return Vec(_mm512_cvtph_ps(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(p))));
#endif
    }
}
#endif

#if defined(CTATTN_HAS_AVX2)
template <class Vec>
inline Vec int8_row(const std::int8_t* p) noexcept {
    constexpr std::size_t width = Vec::size;  // an xsimd batch
    if constexpr (width == 4) {
        int word;  // 4 codes, any alignment
        __builtin_memcpy(&word, p, 4);
        return Vec(_mm_cvtepi32_ps(_mm_cvtepi8_epi32(_mm_cvtsi32_si128(word))));
    } else if constexpr (width == 8) {
        return Vec(codes_8(p));
    } else {
#if defined(CTATTN_HAS_AVX512F)
        return Vec(_mm512_cvtepi32_ps(_mm512_cvtepi8_epi32(_mm_loadu_si128(reinterpret_cast<const __m128i*>(p)))));
#endif
    }
}
#endif

#if defined(CTATTN_HAS_XSIMD)
CTATTN_RESTORE_WARNINGS
#endif

}  // namespace ctattn::simd::kv_x86
