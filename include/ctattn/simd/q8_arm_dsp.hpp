// SPDX-License-Identifier: Apache-2.0
// Arm DSP-extension body (Cortex-M4/M7/M33/M55) of simd/q8.hpp's group-scaled int8 row
// dot, y = sum_g (sw_g * sx_g) * sum_{i in g} w_i q_i, the way CMSIS-NN does it: one 32-bit load
// brings 4 codes, SXTB16 (and SXTB16 of the word rotated by 8) unpacks them into two pairs of
// int16, and SMLAD multiplies both pairs and adds them to the group's int32 sum: 4 multiply-adds in
// 2 loads, 4 unpacks and 2 SMLADs, against 8 byte loads and 4 MLAs for the scalar body.
// The projections' path (simd/q8.hpp's q8_quantize_input and q8_input_rows_dot, where
// q8_paired_input holds) unpacks the activations once per input vector instead, into the int16
// pairs SXTB16 makes (quantize_paired), and walks a matrix 4 rows at a time in assembly
// (paired_rows_dot): per 8 codes and row one LDRD, 4 unpacks and 4 SMLADs, the activation words
// loaded once per 4 rows, the per-group float step in VFP registers.
// Declared on every target, defined only where simd/target.hpp says the DSP extension is there.
#pragma once

#include "target.hpp"

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <utility>

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

/// simd/q8.hpp's quantize (the same codes and scales bit for bit) of Count floats, padded with
/// zeros to whole groups, into the layout paired_rows_dot reads: per 4 codes q0..q3 two words,
/// (q0, q2) and (q1, q3) as int16 halves (low, high), the pairs SXTB16 and SXTB16 ROR 8 make of 4
/// weight bytes. G must be a multiple of 8; xq holds Count / G (rounded up) * G / 2 words, x must
/// be float-aligned.
template <std::size_t G, std::size_t Count>
void quantize_paired(const float* x, std::uint32_t* xq, float* xs) noexcept;
/// R rows of simd/q8.hpp's row dot against activations from quantize_paired: out[r] equals
/// row_dot<G> of row r (codes at w + r * RowStride, scales at ws + r * RowStride / G, as in a Q8
/// matrix) bit for bit.
/// Any R: the rows go 4 at a time (each activation word loaded once per 4 rows), the last R % 4
/// one by one; a projection hands all its rows to one call.
/// Only the first Codes codes of a row are read (groups: Codes / G rounded up); the activations'
/// codes past them, up to the last group's end, must be zero (a padded row's tail).
template <std::size_t G, std::size_t R, std::size_t Codes, std::size_t RowStride>
void paired_rows_dot(const std::int8_t* w, const float* ws, const std::uint32_t* xq, const float* xs,
                     float* out) noexcept;

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
        // Whole words of the group, unrolled: the loop's increment, compare and taken branch (5
        // cycles on a Cortex-M4) would otherwise be paid per 4 codes of R rows.
        constexpr std::size_t words_end = G / 4 * 4;
        CTATTN_UNROLL for (std::size_t i = 0; i < words_end; i += 4) {
            const std::uint32_t x = detail::load_4(xg + i);
            const std::int32_t x_even = __sxtb16(static_cast<std::int32_t>(x));
            const std::int32_t x_odd = detail::sxtb16_ror8(x);
            CTATTN_UNROLL for (std::size_t r = 0; r < R; ++r) {
                const std::uint32_t wr = detail::load_4(wg + r * row_stride_bytes + i);
                acc[r] = __smlad(__sxtb16(static_cast<std::int32_t>(wr)), x_even, acc[r]);
                acc[r] = __smlad(detail::sxtb16_ror8(wr), x_odd, acc[r]);
            }
        }
        for (std::size_t i = words_end; i < G; ++i)
            CTATTN_UNROLL for (std::size_t r = 0; r < R; ++r) acc[r] += std::int32_t(wg[r * row_stride_bytes + i]) * std::int32_t(xg[i]);
        CTATTN_UNROLL for (std::size_t r = 0; r < R; ++r) sum[r] += (ws[r * ws_stride + g] * xs[g]) * static_cast<float>(acc[r]);
    }
    CTATTN_UNROLL for (std::size_t r = 0; r < R; ++r) out[r] = sum[r];
}

namespace detail {

// max |x| over N finite floats (x float-aligned), bit for bit the scalar body's (a > amax ? a :
// amax from 0). With VMAXNM (FPv5: M7, M55): VLDM of 8, then VABS and VMAXNM per value (2.1
// instructions per value). Otherwise as integers, since the bits of non-negative floats order
// like the floats and 2|x|'s bits are x's shifted left once: per value CMP with the shifted
// operand, IT, LSL (3.5 with the LDRDs, against 6 for VLDR, VABS, VCMP, VMRS, IT and VMOV).
template <std::size_t N>
[[gnu::always_inline]] inline float group_amax(const float* x) noexcept {
    if constexpr (target::vfp_vmaxnm && N % 8 == 0) {
        float amax = 0.0f;
        CTATTN_UNROLL for (std::size_t i = 0; i < N; i += 8)
            __asm__("vldmia %[x]!, {s0-s7}\n"
                    "vabs.f32 s0, s0\n vabs.f32 s1, s1\n vabs.f32 s2, s2\n vabs.f32 s3, s3\n"
                    "vabs.f32 s4, s4\n vabs.f32 s5, s5\n vabs.f32 s6, s6\n vabs.f32 s7, s7\n"
                    "vmaxnm.f32 %[m], %[m], s0\n vmaxnm.f32 %[m], %[m], s1\n vmaxnm.f32 %[m], %[m], s2\n"
                    "vmaxnm.f32 %[m], %[m], s3\n vmaxnm.f32 %[m], %[m], s4\n vmaxnm.f32 %[m], %[m], s5\n"
                    "vmaxnm.f32 %[m], %[m], s6\n vmaxnm.f32 %[m], %[m], s7\n"
                    : [m] "+t"(amax), [x] "+r"(x)
                    :
                    : "s0", "s1", "s2", "s3", "s4", "s5", "s6", "s7", "memory");
        return amax;
    } else if constexpr (N % 4 == 0) {
        std::uint32_t twice = 0, b0, b1, b2, b3;
        for (std::size_t i = 0; i < N; i += 4, x += 4)
            __asm__("ldrd %[b0], %[b1], [%[x]]\n ldrd %[b2], %[b3], [%[x], #8]\n"
                    "cmp %[m], %[b0], lsl #1\n it lo\n lsllo %[m], %[b0], #1\n"
                    "cmp %[m], %[b1], lsl #1\n it lo\n lsllo %[m], %[b1], #1\n"
                    "cmp %[m], %[b2], lsl #1\n it lo\n lsllo %[m], %[b2], #1\n"
                    "cmp %[m], %[b3], lsl #1\n it lo\n lsllo %[m], %[b3], #1\n"
                    : [m] "+r"(twice), [b0] "=&r"(b0), [b1] "=&r"(b1), [b2] "=&r"(b2), [b3] "=&r"(b3)
                    : [x] "r"(x)
                    : "cc", "memory");
        twice >>= 1;
        float amax;
        std::memcpy(&amax, &twice, 4);
        return amax;
    } else {
        float amax = 0.0f;
        for (std::size_t i = 0; i < N; ++i) {
            const float a = __builtin_fabsf(x[i]);
            amax = a > amax ? a : amax;
        }
        return amax;
    }
}

// The scalar body's codes of 4 floats at a positive scale, as the paired words (c0, c2) and
// (c1, c3): c = (int)(v +- 0.5) with v = x / scale, clamped to [-127, 127]. Float rounding is
// symmetric, so v - 0.5 = -(|v| + 0.5) and c is v's sign times (int)(|v| + 0.5), clamped by one
// USAT to [0, 127] (a scale that underflowed to a subnormal can make |v| exceed 127); v's sign is
// x's (scale > 0; -0 gives 0 either way), applied as (m ^ s) - s with s = x's bits >> 31, whose
// bits come in by LDRD and go to the FPU two at a time: 37 instructions for 4 codes.
[[gnu::always_inline]] inline void quad_codes(const float* x, float scale, float half, std::uint32_t* out) noexcept {
    std::uint32_t b0, b1, b2, b3, m0, m1, m2, m3;
    // Volatile: its outputs are scratch, the store is what counts.
    __asm__ __volatile__("ldrd %[b0], %[b1], [%[x]]\n ldrd %[b2], %[b3], [%[x], #8]\n"
            "vmov s0, s1, %[b0], %[b1]\n vmov s2, s3, %[b2], %[b3]\n"
            "vdiv.f32 s0, s0, %[scale]\n vdiv.f32 s1, s1, %[scale]\n vdiv.f32 s2, s2, %[scale]\n vdiv.f32 s3, s3, %[scale]\n"
            "vabs.f32 s0, s0\n vabs.f32 s1, s1\n vabs.f32 s2, s2\n vabs.f32 s3, s3\n"
            "vadd.f32 s0, s0, %[half]\n vadd.f32 s1, s1, %[half]\n vadd.f32 s2, s2, %[half]\n vadd.f32 s3, s3, %[half]\n"
            "vcvt.s32.f32 s0, s0\n vcvt.s32.f32 s1, s1\n vcvt.s32.f32 s2, s2\n vcvt.s32.f32 s3, s3\n"
            "vmov %[m0], %[m1], s0, s1\n vmov %[m2], %[m3], s2, s3\n"
            "usat %[m0], #7, %[m0]\n usat %[m1], #7, %[m1]\n usat %[m2], #7, %[m2]\n usat %[m3], #7, %[m3]\n"
            "eor %[m0], %[m0], %[b0], asr #31\n sub %[m0], %[m0], %[b0], asr #31\n"
            "eor %[m1], %[m1], %[b1], asr #31\n sub %[m1], %[m1], %[b1], asr #31\n"
            "eor %[m2], %[m2], %[b2], asr #31\n sub %[m2], %[m2], %[b2], asr #31\n"
            "eor %[m3], %[m3], %[b3], asr #31\n sub %[m3], %[m3], %[b3], asr #31\n"
            "pkhbt %[m0], %[m0], %[m2], lsl #16\n pkhbt %[m1], %[m1], %[m3], lsl #16\n"
            "strd %[m0], %[m1], [%[out]]\n"
            : [b0] "=&r"(b0), [b1] "=&r"(b1), [b2] "=&r"(b2), [b3] "=&r"(b3), [m0] "=&r"(m0), [m1] "=&r"(m1),
              [m2] "=&r"(m2), [m3] "=&r"(m3)
            : [x] "r"(x), [out] "r"(out), [scale] "t"(scale), [half] "t"(half)
            : "s0", "s1", "s2", "s3", "memory");
}

// One group of N <= G real values (then zeros up to G): the scale from the real values (zeros
// change no maximum), their codes, zero words for the rest.
template <std::size_t G, std::size_t N>
[[gnu::always_inline]] inline void quantize_group(const float* x, std::uint32_t* q, float* s) noexcept {
    const float scale = group_amax<N>(x) / 127.0f;
    *s = scale;
    constexpr std::size_t whole_quads = N / 4;
    std::size_t words = 0;
    if (scale != 0.0f) {
        for (std::size_t i = 0; i < whole_quads; ++i) quad_codes(x + 4 * i, scale, 0.5f, q + 2 * i);
        words = 2 * whole_quads;
        if constexpr (N % 4 != 0) {
            float last[4] = {0.0f, 0.0f, 0.0f, 0.0f};
            for (std::size_t i = 0; i < N % 4; ++i) last[i] = x[4 * whole_quads + i];
            quad_codes(last, scale, 0.5f, q + words);
            words += 2;
        }
    }
    for (; words < G / 2; ++words) q[words] = 0;
}

// paired_rows_dot's loops are assembly where they count. Given the same as intrinsics, GCC
// reloads the activation words for every row rather than keep them in registers (too few for its
// liking), splits LDRD into two LDRs and spills the scale pointers. The blocks read the weights,
// activations and scales through their pointers, hence "memory" (operands for the memory they read
// would take registers there are none left of).
//
// The 8-code step: per row the 8 weight codes (two words: LDRD where they are word-aligned, else
// two LDRs), per word SXTB16 (bytes 0 and 2) and SXTB16 ROR 8 (bytes 1 and 3), each pair of pairs
// multiplied with its activation pair and added by SMLAD (SMUAD for a group's first word: no
// zeroing of the sums): 9 instructions for 8 multiply-adds, plus 2 LDRDs for the 4 activation
// words, shared by the 4 rows of a block.
#define CTATTN_Q8_DSP_WORD(acc, word, x_even, x_odd, first)                                                   \
    "sxtb16 %[even], " word "\n sxtb16 " word ", " word ", ror #8\n" first                                    \
    " smlad " acc ", " word ", " x_odd ", " acc "\n"
#define CTATTN_Q8_DSP_SMLAD(acc, x_even) "smlad " acc ", %[even], " x_even ", " acc "\n"
#define CTATTN_Q8_DSP_SMUAD(acc, x_even) "smuad " acc ", %[even], " x_even "\n"
#define CTATTN_Q8_DSP_ROW(acc, load, first)                                                                    \
    load CTATTN_Q8_DSP_WORD(acc, "%[w0]", "%[x0]", "%[x1]", first(acc, "%[x0]"))                               \
        CTATTN_Q8_DSP_WORD(acc, "%[w1]", "%[x2]", "%[x3]", CTATTN_Q8_DSP_SMLAD(acc, "%[x2]"))
#define CTATTN_Q8_DSP_LDRD(offset) "ldrd %[w0], %[w1], [%[w], #%c[" offset "]]\n"
#define CTATTN_Q8_DSP_LDR2(offset) "ldr %[w0], [%[w], #%c[" offset "]]\n ldr %[w1], [%[w], #%c[" offset "]+4]\n"
#define CTATTN_Q8_DSP_LOAD_X "ldrd %[x0], %[x1], [%[x], #%c[x_offset]]\n ldrd %[x2], %[x3], [%[x], #%c[x_offset]+8]\n"
#define CTATTN_Q8_DSP_4_ROWS(first)                                                                            \
    CTATTN_Q8_DSP_LOAD_X                                                                                       \
    CTATTN_Q8_DSP_ROW("%[a0]", CTATTN_Q8_DSP_LDRD("o0"), first) CTATTN_Q8_DSP_ROW("%[a1]", CTATTN_Q8_DSP_LDRD("o1"), first) \
    CTATTN_Q8_DSP_ROW("%[a2]", CTATTN_Q8_DSP_LDRD("o2"), first) CTATTN_Q8_DSP_ROW("%[a3]", CTATTN_Q8_DSP_LDRD("o3"), first)
#define CTATTN_Q8_DSP_4_ROWS_OPERANDS                                                                          \
    [x0] "=&r"(x0), [x1] "=&r"(x1), [x2] "=&r"(x2), [x3] "=&r"(x3), [w0] "=&r"(w0), [w1] "=&r"(w1),             \
        [even] "=&r"(even)                                                                                     \
        : [w] "r"(wg), [x] "r"(xg), [x_offset] "i"(16 * K), [o0] "i"(8 * K), [o1] "i"(RowStride + 8 * K),      \
          [o2] "i"(2 * RowStride + 8 * K), [o3] "i"(3 * RowStride + 8 * K)                                     \
        : "memory"

// Step K (codes 8K..8K+7 of the group at wg, activations at xg) for 4 word-aligned rows
// RowStride apart, within LDRD's reach of wg: 13 registers (4 sums, 2 pointers, 4 activation
// words, 2 weight words, 1 unpacked pair). Step 0 starts the group's sums.
template <std::size_t K, std::size_t RowStride>
[[gnu::always_inline]] inline void step_4_rows(const std::int8_t* wg, const std::uint32_t* xg, std::int32_t (&acc)[4]) noexcept {
    std::uint32_t x0, x1, x2, x3, w0, w1, even;
    if constexpr (K == 0)
        __asm__(CTATTN_Q8_DSP_4_ROWS(CTATTN_Q8_DSP_SMUAD)
                : [a0] "=&r"(acc[0]), [a1] "=&r"(acc[1]), [a2] "=&r"(acc[2]), [a3] "=&r"(acc[3]),
                  CTATTN_Q8_DSP_4_ROWS_OPERANDS);
    else
        __asm__(CTATTN_Q8_DSP_4_ROWS(CTATTN_Q8_DSP_SMLAD)
                : [a0] "+r"(acc[0]), [a1] "+r"(acc[1]), [a2] "+r"(acc[2]), [a3] "+r"(acc[3]),
                  CTATTN_Q8_DSP_4_ROWS_OPERANDS);
}

// Step K for one row at wr (any offset: the row's own pointer; two LDRs where not word-aligned).
template <std::size_t K, bool WordAligned>
[[gnu::always_inline]] inline void step_1_row(const std::int8_t* wr, const std::uint32_t* xg, std::int32_t& acc) noexcept {
    std::uint32_t x0, x1, x2, x3, w0, w1, even;
    if constexpr (WordAligned)
        __asm__(CTATTN_Q8_DSP_LOAD_X CTATTN_Q8_DSP_ROW("%[a0]", CTATTN_Q8_DSP_LDRD("o0"), CTATTN_Q8_DSP_SMLAD)
                : [a0] "+r"(acc), [x0] "=&r"(x0), [x1] "=&r"(x1), [x2] "=&r"(x2), [x3] "=&r"(x3), [w0] "=&r"(w0),
                  [w1] "=&r"(w1), [even] "=&r"(even)
                : [w] "r"(wr), [x] "r"(xg), [x_offset] "i"(16 * K), [o0] "i"(8 * K)
                : "memory");
    else
        __asm__(CTATTN_Q8_DSP_LOAD_X CTATTN_Q8_DSP_ROW("%[a0]", CTATTN_Q8_DSP_LDR2("o0"), CTATTN_Q8_DSP_SMLAD)
                : [a0] "+r"(acc), [x0] "=&r"(x0), [x1] "=&r"(x1), [x2] "=&r"(x2), [x3] "=&r"(x3), [w0] "=&r"(w0),
                  [w1] "=&r"(w1), [even] "=&r"(even)
                : [w] "r"(wr), [x] "r"(xg), [x_offset] "i"(16 * K), [o0] "i"(8 * K)
                : "memory");
}
#undef CTATTN_Q8_DSP_WORD
#undef CTATTN_Q8_DSP_SMLAD
#undef CTATTN_Q8_DSP_SMUAD
#undef CTATTN_Q8_DSP_ROW
#undef CTATTN_Q8_DSP_LDRD
#undef CTATTN_Q8_DSP_LDR2
#undef CTATTN_Q8_DSP_LOAD_X
#undef CTATTN_Q8_DSP_4_ROWS
#undef CTATTN_Q8_DSP_4_ROWS_OPERANDS

// Group g's float step for 4 rows, sum_r += (ws_r[g] * xs[g]) * float(acc_r), as the scalar body
// compiles it (the product, then one VFMA: GCC contracts the C expression by default, and
// tests/embedded/q8_fw.cpp checks the outputs equal bit for bit): 2 VMOVs bring the 4 sums over,
// 4 VCVTs, 5 VLDRs for the scales, 4 VMULs, 4 VFMAs. Row r's scales are at ws + r * ScaleStride.
template <std::size_t Group, std::size_t ScaleStride>
[[gnu::always_inline]] inline void scale_add_4(const std::int32_t (&acc)[4], const float* ws, const float* xs,
                                               float (&sum)[4]) noexcept {
    __asm__("vmov s0, s1, %[a0], %[a1]\n vmov s2, s3, %[a2], %[a3]\n"
            "vldr s4, [%[xs], #%c[xo]]\n"
            "vldr s5, [%[ws], #%c[w0]]\n vldr s6, [%[ws], #%c[w1]]\n vldr s7, [%[ws], #%c[w2]]\n vldr s8, [%[ws], #%c[w3]]\n"
            "vcvt.f32.s32 s0, s0\n vcvt.f32.s32 s1, s1\n vcvt.f32.s32 s2, s2\n vcvt.f32.s32 s3, s3\n"
            "vmul.f32 s5, s5, s4\n vmul.f32 s6, s6, s4\n vmul.f32 s7, s7, s4\n vmul.f32 s8, s8, s4\n"
            "vfma.f32 %[s0], s5, s0\n vfma.f32 %[s1], s6, s1\n vfma.f32 %[s2], s7, s2\n vfma.f32 %[s3], s8, s3\n"
            : [s0] "+t"(sum[0]), [s1] "+t"(sum[1]), [s2] "+t"(sum[2]), [s3] "+t"(sum[3])
            : [a0] "r"(acc[0]), [a1] "r"(acc[1]), [a2] "r"(acc[2]), [a3] "r"(acc[3]), [xs] "r"(xs), [ws] "r"(ws),
              [xo] "i"(4 * Group), [w0] "i"(4 * Group), [w1] "i"(4 * (ScaleStride + Group)),
              [w2] "i"(4 * (2 * ScaleStride + Group)), [w3] "i"(4 * (3 * ScaleStride + Group))
            : "s0", "s1", "s2", "s3", "s4", "s5", "s6", "s7", "s8", "memory");
}

// Codes per row the steps read: the last group's codes past Codes are zero in the activations, so
// only whole 8-code steps holding real codes run (a padded FFN row of 172 in groups of 32 reads
// 176 codes, not 192).
template <std::size_t G, std::size_t Codes>
inline constexpr std::size_t last_group_used = (Codes - (Codes - 1) / G * G + 7) / 8 * 8;

// Whether the 4-row blocks reach every row of a block from its first: LDRD's and VLDR's offsets
// end at 1020 bytes.
template <std::size_t G, std::size_t Codes, std::size_t RowStride>
inline constexpr bool blocks_in_reach = 3 * RowStride + G <= 1020 && 4 * (3 * (RowStride / G) + (Codes - 1) / G) <= 1020;

// One group (index Group) of a 4-row block.
template <std::size_t G, std::size_t Codes, std::size_t RowStride, std::size_t Group, std::size_t... K>
[[gnu::always_inline]] inline void block_group(const std::int8_t* w, const float* ws, const std::uint32_t* xq,
                                               const float* xs, float (&sum)[4], std::index_sequence<K...>) noexcept {
    std::int32_t acc[4];
    (step_4_rows<K, RowStride>(w + Group * G, xq + Group * (G / 2), acc), ...);
    scale_add_4<Group, RowStride / G>(acc, ws, xs, sum);
}

// Blocks of rows of two groups (d_model 64 at G 32: stories260K's Q, K, V, O, W1, W3 and head),
// the float work in fixed registers: the block's 8 scales by one VLDM (s8-s15: row r, group g in
// s[8 + 2r + g]), the two activation scales held for the whole call (s20, s21), the 4 sums in
// s16-s19, cleared by two VMOVs from a zero core register (a VLDM of zeros would read flash: 5
// wait-state accesses per block) and stored by one VSTM. Per group: 2 VMOVs, 4 VCVTs, 4 VMULs,
// 4 VFMAs. The registers are named on local variables, which GCC places there at each statement
// that uses them.
template <std::size_t G, std::size_t Codes, std::size_t... K>
[[gnu::always_inline]] inline void two_group_sums(const std::int8_t* wg, const std::uint32_t* xg, std::int32_t (&acc)[4],
                                                  std::index_sequence<K...>) noexcept {
    (step_4_rows<K, 2 * G>(wg, xg, acc), ...);
}
template <std::size_t G, std::size_t Codes>
[[gnu::always_inline]] inline void two_group_blocks(const std::int8_t* w, const float* ws, const std::uint32_t* xq,
                                                    const float* xs, float* out, std::size_t blocks) noexcept {
    register float xs0 __asm__("s20"), xs1 __asm__("s21");
    __asm__("vldmia %[xs], {s20-s21}\n" : "=t"(xs0), "=t"(xs1) : [xs] "r"(xs) : "memory");
    for (; blocks != 0; --blocks, w += 8 * G) {
        register float sum0 __asm__("s16"), sum1 __asm__("s17"), sum2 __asm__("s18"), sum3 __asm__("s19");
        register float w00 __asm__("s8"), w01 __asm__("s9"), w10 __asm__("s10"), w11 __asm__("s11");
        register float w20 __asm__("s12"), w21 __asm__("s13"), w30 __asm__("s14"), w31 __asm__("s15");
        __asm__("vmov s16, s17, %[zero], %[zero]\n vmov s18, s19, %[zero], %[zero]\n vldmia %[ws]!, {s8-s15}\n"
                : "=t"(sum0), "=t"(sum1), "=t"(sum2), "=t"(sum3), "=t"(w00), "=t"(w01), "=t"(w10), "=t"(w11),
                  "=t"(w20), "=t"(w21), "=t"(w30), "=t"(w31), [ws] "+r"(ws)
                : [zero] "r"(0u)
                : "memory");
        std::int32_t acc[4];
        two_group_sums<G, Codes>(w, xq, acc, std::make_index_sequence<G / 8>{});
#define CTATTN_Q8_DSP_SCALE_ADD                                                                               \
    "vmov s0, s1, %[a0], %[a1]\n vmov s2, s3, %[a2], %[a3]\n"                                              \
    "vcvt.f32.s32 s0, s0\n vcvt.f32.s32 s1, s1\n vcvt.f32.s32 s2, s2\n vcvt.f32.s32 s3, s3\n"            \
    "vmul.f32 s4, %[w0], %[x]\n vmul.f32 s5, %[w1], %[x]\n vmul.f32 s6, %[w2], %[x]\n vmul.f32 s7, %[w3], %[x]\n" \
    "vfma.f32 %[s0], s4, s0\n vfma.f32 %[s1], s5, s1\n vfma.f32 %[s2], s6, s2\n vfma.f32 %[s3], s7, s3\n"
        __asm__(CTATTN_Q8_DSP_SCALE_ADD
                : [s0] "+t"(sum0), [s1] "+t"(sum1), [s2] "+t"(sum2), [s3] "+t"(sum3)
                : [a0] "r"(acc[0]), [a1] "r"(acc[1]), [a2] "r"(acc[2]), [a3] "r"(acc[3]), [w0] "t"(w00), [w1] "t"(w10),
                  [w2] "t"(w20), [w3] "t"(w30), [x] "t"(xs0)
                : "s0", "s1", "s2", "s3", "s4", "s5", "s6", "s7");
        two_group_sums<G, Codes>(w + G, xq + G / 2, acc, std::make_index_sequence<last_group_used<G, Codes> / 8>{});
        __asm__(CTATTN_Q8_DSP_SCALE_ADD
                : [s0] "+t"(sum0), [s1] "+t"(sum1), [s2] "+t"(sum2), [s3] "+t"(sum3)
                : [a0] "r"(acc[0]), [a1] "r"(acc[1]), [a2] "r"(acc[2]), [a3] "r"(acc[3]), [w0] "t"(w01), [w1] "t"(w11),
                  [w2] "t"(w21), [w3] "t"(w31), [x] "t"(xs1)
                : "s0", "s1", "s2", "s3", "s4", "s5", "s6", "s7");
#undef CTATTN_Q8_DSP_SCALE_ADD
        __asm__ __volatile__("vstmia %[out]!, {s16-s19}\n" : [out] "+r"(out) : "t"(sum0), "t"(sum1), "t"(sum2), "t"(sum3) : "memory");
    }
}

// `blocks` blocks of 4 word-aligned rows: every group unrolled, one loop over the blocks. Out of
// line: one copy per matrix shape, not per call site.
template <std::size_t G, std::size_t Codes, std::size_t RowStride, std::size_t... Group>
[[gnu::noinline]] void aligned_blocks(const std::int8_t* w, const float* ws, const std::uint32_t* xq, const float* xs,
                                      float* out, std::size_t blocks, std::index_sequence<Group...>) noexcept {
    constexpr std::size_t groups = sizeof...(Group);
    if constexpr (groups == 2 && RowStride == 2 * G) {
        two_group_blocks<G, Codes>(w, ws, xq, xs, out, blocks);
        return;
    }
    for (; blocks != 0; --blocks, w += 4 * RowStride, ws += 4 * (RowStride / G), out += 4) {
        float sum[4] = {0.0f, 0.0f, 0.0f, 0.0f};
        (block_group<G, Codes, RowStride, Group>(
             w, ws, xq, xs, sum, std::make_index_sequence<(Group + 1 < groups ? G : last_group_used<G, Codes>) / 8>{}),
         ...);
        CTATTN_UNROLL for (std::size_t r = 0; r < 4; ++r) out[r] = sum[r];
    }
}

// Any rows one at a time (a matrix's last rows % 4, rows not word-aligned or beyond the blocks'
// reach): the steps of one row, groups in a loop, the float step in C (the same operations).
template <std::size_t G, std::size_t Codes, std::size_t RowStride, bool WordAligned, std::size_t... K>
[[gnu::always_inline]] inline std::int32_t row_group_sum(const std::int8_t* wg, const std::uint32_t* xg,
                                                         std::index_sequence<K...>) noexcept {
    std::int32_t acc = 0;
    (step_1_row<K, WordAligned>(wg, xg, acc), ...);
    return acc;
}
template <std::size_t G, std::size_t Codes, std::size_t RowStride, bool WordAligned>
[[gnu::noinline]] void single_rows(const std::int8_t* w, const float* ws, const std::uint32_t* xq, const float* xs,
                                   float* out, std::size_t rows) noexcept {
    constexpr std::size_t groups = (Codes + G - 1) / G, g_last = groups - 1;
    for (; rows != 0; --rows, w += RowStride, ws += RowStride / G, ++out) {
        float sum = 0.0f;
        for (std::size_t g = 0; g < g_last; ++g)
            sum += (ws[g] * xs[g]) * static_cast<float>(row_group_sum<G, Codes, RowStride, WordAligned>(
                                         w + g * G, xq + g * (G / 2), std::make_index_sequence<G / 8>{}));
        sum += (ws[g_last] * xs[g_last]) *
               static_cast<float>(row_group_sum<G, Codes, RowStride, WordAligned>(
                   w + g_last * G, xq + g_last * (G / 2), std::make_index_sequence<last_group_used<G, Codes> / 8>{}));
        *out = sum;
    }
}

}  // namespace detail

template <std::size_t G, std::size_t Count>
[[gnu::noinline]] inline void quantize_paired(const float* x, std::uint32_t* xq, float* xs) noexcept {
    static_assert(G % 8 == 0, "ctattn: the paired Q8 layout takes groups of a multiple of 8 codes");
    constexpr std::size_t full_groups = Count / G;
    for (std::size_t g = 0; g < full_groups; ++g) detail::quantize_group<G, G>(x + g * G, xq + g * (G / 2), xs + g);
    if constexpr (Count % G != 0)
        detail::quantize_group<G, Count % G>(x + full_groups * G, xq + full_groups * (G / 2), xs + full_groups);
}

template <std::size_t G, std::size_t R, std::size_t Codes, std::size_t RowStride>
inline void paired_rows_dot(const std::int8_t* w, const float* ws, const std::uint32_t* xq, const float* xs,
                            float* out) noexcept {
    static_assert(G % 8 == 0, "ctattn: the paired Q8 layout takes groups of a multiple of 8 codes");
    static_assert(R >= 1 && Codes >= 1 && RowStride >= Codes && RowStride % G == 0,
                  "ctattn: paired_rows_dot reads R rows of Codes codes, each a whole number of groups apart");
    // LDRD needs word-aligned addresses (unaligned ones fault even where LDR allows them): matrices
    // in flash and q8_matrix are aligned; a view into an arbitrary blob takes the two-LDR rows.
    if (RowStride % 4 != 0 || (reinterpret_cast<std::uintptr_t>(w) & 3u) != 0) {
        detail::single_rows<G, Codes, RowStride, false>(w, ws, xq, xs, out, R);
        return;
    }
    constexpr std::size_t blocked = detail::blocks_in_reach<G, Codes, RowStride> ? R / 4 * 4 : 0;
    if constexpr (blocked > 0)
        detail::aligned_blocks<G, Codes, RowStride>(w, ws, xq, xs, out, blocked / 4,
                                                    std::make_index_sequence<(Codes + G - 1) / G>{});
    if constexpr (blocked < R)
        detail::single_rows<G, Codes, RowStride, true>(w + blocked * RowStride, ws + blocked * (RowStride / G), xq, xs,
                                                       out + blocked, R - blocked);
}
#endif  // CTATTN_Q8_ARM_DSP

}  // namespace ctattn::simd::q8_arm_dsp
