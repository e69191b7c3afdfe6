// SPDX-License-Identifier: Apache-2.0
// Arm DSP-extension body (Cortex-M4/M7/M33/M55) of simd/q8.hpp's group-scaled int8 row
// dot, y = sum_g (sw_g * sx_g) * sum_{i in g} w_i q_i, the way CMSIS-NN does it: one 32-bit load
// brings 4 codes, SXTB16 (and SXTB16 of the word rotated by 8) unpacks them into two pairs of
// int16, and SMLAD multiplies both pairs and adds them to the group's int32 sum: 4 multiply-adds in
// 2 loads, 4 unpacks and 2 SMLADs, against 8 byte loads and 4 MLAs for the scalar body.
// Declared on every target, defined only where simd/target.hpp says the DSP extension is there.
#pragma once

#include "target.hpp"

#include <cstddef>
#include <cstdint>
#include <cstring>

#if defined(CTATTN_Q8_ARM_DSP)
#include <arm_acle.h>
#endif

namespace ctattn::simd::q8_arm_dsp {

/// The row dot of simd/q8.hpp (same arguments, same preconditions).
template <std::size_t G>
float row_dot(const std::int8_t* w, const float* ws, const std::int8_t* xq, const float* xs,
              std::size_t groups) noexcept;
/// R rows at once (simd/q8.hpp's q8_rows_dot): each word of activations is loaded and unpacked
/// once for all R rows (per 4 codes and row: one load, two SXTB16, two SMLAD, instead of two
/// loads, four SXTB16 and two SMLAD); out[r] equals row_dot<G> of row r bit for bit.
template <std::size_t G, std::size_t R>
void rows_dot(const std::int8_t* w, std::size_t row_stride_bytes, const float* ws, std::size_t ws_stride,
              const std::int8_t* xq, const float* xs, std::size_t groups, float* out) noexcept;

#if defined(CTATTN_Q8_ARM_DSP)
namespace detail {

// The helpers are always inlined: at -Os (the usual firmware setting) GCC calls them otherwise,
// a call and a push/pop around every 4 codes.

// Four codes from any address: ARMv7E-M and v8-M loads allow unaligned words (groups of G not a
// multiple of 4 start anywhere), and memcpy of 4 bytes compiles to one LDR.
[[gnu::always_inline]] inline std::uint32_t load_4(const std::int8_t* p) noexcept {
    std::uint32_t v;
    std::memcpy(&v, p, 4);
    return v;
}

// SXTB16 of the word rotated right by 8 (bytes 1 and 3), one instruction: GCC 12's arm_acle.h has
// neither __ror nor __sxtb16_ror, and given the rotate as C it emits a separate ROR first.
[[gnu::always_inline]] inline std::int32_t sxtb16_ror8(std::uint32_t v) noexcept {
    std::int32_t r;
    __asm__("sxtb16 %0, %1, ror #8" : "=r"(r) : "r"(v));
    return r;
}

// acc + w0 q0 + w1 q1 + w2 q2 + w3 q3: bytes 0 and 2 by SXTB16, bytes 1 and 3 by SXTB16 ROR #8,
// each pair of pairs by one SMLAD. Each product is at most 2^14, so SMLAD's sums stay far from
// int32's range for any group q8.hpp accepts; -128 is exact on both sides.
[[gnu::always_inline]] inline std::int32_t step_4(std::int32_t acc, std::uint32_t w, std::uint32_t q) noexcept {
    acc = __smlad(__sxtb16(static_cast<std::int32_t>(w)), __sxtb16(static_cast<std::int32_t>(q)), acc);
    return __smlad(sxtb16_ror8(w), sxtb16_ror8(q), acc);
}

}  // namespace detail

template <std::size_t G>
inline float row_dot(const std::int8_t* w, const float* ws, const std::int8_t* xq, const float* xs,
                     std::size_t groups) noexcept {
    float sum = 0.0f;
    for (std::size_t g = 0; g < groups; ++g) {
        const std::int8_t* wg = w + g * G;
        const std::int8_t* xg = xq + g * G;
        std::int32_t acc = 0;
        std::size_t i = 0;
        // Four words per step, so the loop's own branch and increment are paid per 16 codes.
        for (; i + 16 <= G; i += 16) {
            acc = detail::step_4(acc, detail::load_4(wg + i), detail::load_4(xg + i));
            acc = detail::step_4(acc, detail::load_4(wg + i + 4), detail::load_4(xg + i + 4));
            acc = detail::step_4(acc, detail::load_4(wg + i + 8), detail::load_4(xg + i + 8));
            acc = detail::step_4(acc, detail::load_4(wg + i + 12), detail::load_4(xg + i + 12));
        }
        if constexpr (G % 16 >= 8) {
            acc = detail::step_4(acc, detail::load_4(wg + i), detail::load_4(xg + i));
            acc = detail::step_4(acc, detail::load_4(wg + i + 4), detail::load_4(xg + i + 4));
            i += 8;
        }
        if constexpr (G % 8 >= 4) {
            acc = detail::step_4(acc, detail::load_4(wg + i), detail::load_4(xg + i));
            i += 4;
        }
        for (; i < G; ++i) acc += std::int32_t(wg[i]) * std::int32_t(xg[i]);
        sum += (ws[g] * xs[g]) * static_cast<float>(acc);
    }
    return sum;
}
template <std::size_t G, std::size_t R>
inline void rows_dot(const std::int8_t* w, std::size_t row_stride_bytes, const float* ws, std::size_t ws_stride,
                     const std::int8_t* xq, const float* xs, std::size_t groups, float* out) noexcept {
    static_assert(R >= 1, "ctattn: q8_rows_dot computes at least one row");
    float sum[R];
    CTATTN_UNROLL for (std::size_t r = 0; r < R; ++r) sum[r] = 0.0f;
    for (std::size_t g = 0; g < groups; ++g) {
        const std::int8_t* wg = w + g * G;
        const std::int8_t* xg = xq + g * G;
        std::int32_t acc[R];
        CTATTN_UNROLL for (std::size_t r = 0; r < R; ++r) acc[r] = 0;
        std::size_t i = 0;
        for (; i + 4 <= G; i += 4) {
            const std::uint32_t x = detail::load_4(xg + i);
            const std::int32_t x_even = __sxtb16(static_cast<std::int32_t>(x));
            const std::int32_t x_odd = detail::sxtb16_ror8(x);
            CTATTN_UNROLL for (std::size_t r = 0; r < R; ++r) {
                const std::uint32_t wr = detail::load_4(wg + r * row_stride_bytes + i);
                acc[r] = __smlad(__sxtb16(static_cast<std::int32_t>(wr)), x_even, acc[r]);
                acc[r] = __smlad(detail::sxtb16_ror8(wr), x_odd, acc[r]);
            }
        }
        for (; i < G; ++i)
            CTATTN_UNROLL for (std::size_t r = 0; r < R; ++r) acc[r] += std::int32_t(wg[r * row_stride_bytes + i]) * std::int32_t(xg[i]);
        CTATTN_UNROLL for (std::size_t r = 0; r < R; ++r) sum[r] += (ws[r * ws_stride + g] * xs[g]) * static_cast<float>(acc[r]);
    }
    CTATTN_UNROLL for (std::size_t r = 0; r < R; ++r) out[r] = sum[r];
}
#endif  // CTATTN_Q8_ARM_DSP

}  // namespace ctattn::simd::q8_arm_dsp
