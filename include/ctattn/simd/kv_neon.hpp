// SPDX-License-Identifier: Apache-2.0
// AArch64 NEON bodies for decode over a typed KV cache (base/kv_storage.hpp): 4 elements of a
// float16 or int8 row widened to floats in registers, x_d = half(e_d) by FCVTL and x_d = float(e_d)
// by SXTL, SXTL, SCVTF (all exact), and 4 int8 row scales from their stored bits (b << 15 is the
// float's pattern), for kernels/decode/row_heads.hpp. The peer of simd/kv_x86.hpp's 4-lane bodies.
// Declared on every target, defined where simd/target.hpp says NEON is (CTATTN_HAS_NEON64).
#pragma once

#include "target.hpp"

#include <cstddef>
#include <cstdint>

#if defined(CTATTN_HAS_NEON64)
#include <arm_neon.h>
#endif

namespace ctattn::simd::kv_neon {

// 4 consecutive elements at p as floats (exact, unscaled); Vec: a 4-float xsimd batch.
template <class Vec>
Vec half_row(const std::uint16_t* p) noexcept;
template <class Vec>
Vec int8_row(const std::int8_t* p) noexcept;
// The first count (<= 4) int8 row scales from their stored bits, 0 past count (not read).
template <class Vec>
Vec row_scales(const std::uint16_t* scales, std::size_t count) noexcept;

#if defined(CTATTN_HAS_NEON64)
template <class Vec>
inline Vec half_row(const std::uint16_t* p) noexcept {
    return Vec(vcvt_f32_f16(vreinterpret_f16_u16(vld1_u16(p))));
}

template <class Vec>
inline Vec int8_row(const std::int8_t* p) noexcept {
    std::uint32_t word;  // 4 codes, any alignment
    __builtin_memcpy(&word, p, 4);
    const int16x8_t halves = vmovl_s8(vreinterpret_s8_u32(vdup_n_u32(word)));
    return Vec(vcvtq_f32_s32(vmovl_s16(vget_low_s16(halves))));
}

template <class Vec>
inline Vec row_scales(const std::uint16_t* scales, std::size_t count) noexcept {
    std::uint16_t present[4] = {};
    const std::uint16_t* bits = scales;
    if (count < 4) {
        for (std::size_t t = 0; t < count; ++t) present[t] = scales[t];
        bits = present;
    }
    return Vec(vreinterpretq_f32_u32(vshlq_n_u32(vmovl_u16(vld1_u16(bits)), 15)));
}
#endif

}  // namespace ctattn::simd::kv_neon
