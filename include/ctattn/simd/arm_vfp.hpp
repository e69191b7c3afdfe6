// SPDX-License-Identifier: Apache-2.0
// Cortex-M single-precision FPU bodies (FPv4-SP-D16: M4F; FPv5-D16: M7; M55), in inline assembly
// because on these cores the loads are what counts: a row of 8 floats is one VLDM where C gets 8
// VLDRs, and accumulators pinned in s16-s31 never spill. Used by the one-token projection
// (kernels/projection.hpp) and the scalar decode attention (kernels/decode/scalar_heads.hpp).
// Declared on every target; defined where simd/target.hpp sets CTATTN_VFP_ROW_PROJECTION.
#pragma once

#include "target.hpp"

#include <cstddef>

namespace ctattn::simd::arm_vfp {

// y[0..16) = init[0..16) + sum over k < din of x[k] * w[k * w_stride + 0..16), w_stride in floats;
// init is the bias, or zeros. din >= 1.
inline void row_strip16(const float* x, const float* w, std::size_t w_stride, std::size_t din, const float* init,
                        float* y) noexcept;
// Decode pass 1 for two heads of head_dim 8: scores (interleaved) and the two maxima. q: the two
// pre-scaled query rows, 16 floats; k: key row `begin`, rows KvStride floats apart; n >= 1 keys.
template <std::size_t KvStride>
void scores_2x8(const float* q, const float* k, std::size_t n, float* scores, float* max) noexcept;
// Decode pass 3 for two heads of head_dim 8: out[h][d] = sum_j p[j][h] v_j[d] (p interleaved, from
// key `begin`; v: value row `begin`, rows KvStride floats apart); n >= 1 keys.
template <std::size_t KvStride>
void weighted_sum_2x8(const float* p, const float* v, std::size_t n, float* out) noexcept;
// The same two passes over float16 rows (IEEE half bit patterns, rows 4-byte aligned, KvStride in
// halves): a row of 8 halves is one VLDM of 4 words and 8 VCVTB/VCVTT into the registers the
// float rows' VLDM fills, so the arithmetic is the float passes' on the converted row, bit for bit.
template <std::size_t KvStride>
void scores_2x8(const float* q, const unsigned short* k, std::size_t n, float* scores, float* max) noexcept;
template <std::size_t KvStride>
void weighted_sum_2x8(const float* p, const unsigned short* v, std::size_t n, float* out) noexcept;
// max(x, floor) by one VMAXNM (a NaN x gives floor), where CTATTN_VFP_HAS_VMAXNM.
[[gnu::always_inline]] inline float max_nm(float x, float floor) noexcept;
// IEEE half <-> float by one VCVTB (FPv4-SP, FPv5 and the M55 all have it; GCC reaches it only
// under -mfp16-format=ieee, which firmware builds do not set): round to nearest even, as FPSCR's
// default rounding mode.
[[gnu::always_inline]] inline float half_to_float(unsigned short h) noexcept;
[[gnu::always_inline]] inline unsigned short float_to_half(float x) noexcept;
// Two halves at p (4-byte aligned) as floats: one VLDR of the pair, then VCVTB and VCVTT.
[[gnu::always_inline]] inline void halves_to_floats(const unsigned short* p, float& low, float& high) noexcept;

#if defined(CTATTN_VFP_ROW_PROJECTION)
[[gnu::always_inline]] inline float half_to_float(unsigned short h) noexcept {
    float x;
    __asm__("vmov %0, %1\n vcvtb.f32.f16 %0, %0" : "=t"(x) : "r"(static_cast<unsigned>(h)));
    return x;
}
[[gnu::always_inline]] inline void halves_to_floats(const unsigned short* p, float& low, float& high) noexcept {
    __asm__("vldr %1, [%2]\n vcvtb.f32.f16 %0, %1\n vcvtt.f32.f16 %1, %1"
            : "=t"(low), "=&t"(high)
            : "r"(p), "m"(*reinterpret_cast<const unsigned short(*)[2]>(p)));
}
[[gnu::always_inline]] inline unsigned short float_to_half(float x) noexcept {
    unsigned bits;
    float h;
    __asm__("vcvtb.f16.f32 %0, %1" : "=t"(h) : "t"(x));
    __asm__("vmov %0, %1" : "=r"(bits) : "t"(h));
    return static_cast<unsigned short>(bits & 0xffffu);
}
// Each step of k loads the strip's 16 weights of row k (contiguous in row-major W) with two VLDMs
// of 8 registers, which is 2 instructions where C gets 16 VLDRs from the compiler, and the 16
// accumulators stay in s16-s31 throughout: per two steps of k, 1 load of x, 4 VLDMs, 32 VFMAs and
// 4 pointer/loop instructions, ~1.28 instructions per multiply-add (the C tile needs ~2.5). Each
// output is still bias (or 0) + the sum over k in order of fma(x[k], w[k][c]), so results are
// bit-identical to the C tile's.
#define CTATTN_VFP_FMA8(x)                                                                                   \
    "vfma.f32 s16, " x ", s1\n vfma.f32 s17, " x ", s2\n vfma.f32 s18, " x ", s3\n vfma.f32 s19, " x ", s4\n" \
    "vfma.f32 s20, " x ", s5\n vfma.f32 s21, " x ", s6\n vfma.f32 s22, " x ", s7\n vfma.f32 s23, " x ", s8\n"
#define CTATTN_VFP_FMA8_HIGH(x)                                                                              \
    "vfma.f32 s24, " x ", s1\n vfma.f32 s25, " x ", s2\n vfma.f32 s26, " x ", s3\n vfma.f32 s27, " x ", s4\n" \
    "vfma.f32 s28, " x ", s5\n vfma.f32 s29, " x ", s6\n vfma.f32 s30, " x ", s7\n vfma.f32 s31, " x ", s8\n"
// One step of k with x[k] in register X: weights of row k, 16 fmas, w to row k + 1.
#define CTATTN_VFP_STEP(X)                                       \
    "vldmia %[w]!, {s1-s8}\n" CTATTN_VFP_FMA8(X)                 \
    "vldmia %[w], {s1-s8}\n" CTATTN_VFP_FMA8_HIGH(X)             \
    "add %[w], %[w], %[row_step]\n"

inline void row_strip16(const float* x, const float* w, std::size_t w_stride, std::size_t din, const float* init,
                        float* y) noexcept {
    const std::size_t row_step = w_stride * sizeof(float) - 32;  // after the first VLDM's write-back
    std::size_t pairs = din / 2;
    asm volatile(
        "vldmia %[init], {s16-s31}\n"
        "tst %[din], #1\n"
        "beq 1f\n"
        "vldmia %[x]!, {s9}\n" CTATTN_VFP_STEP("s9")
        "1:\n"
        "cmp %[pairs], #0\n"
        "beq 3f\n"
        "2:\n"
        "vldmia %[x]!, {s9-s10}\n" CTATTN_VFP_STEP("s9") CTATTN_VFP_STEP("s10")
        "subs %[pairs], %[pairs], #1\n"
        "bne 2b\n"
        "3:\n"
        "vstmia %[y], {s16-s31}\n"
        : [x] "+r"(x), [w] "+r"(w), [pairs] "+r"(pairs)
        : [init] "r"(init), [din] "r"(din), [row_step] "r"(row_step), [y] "r"(y)
        : "cc", "memory", "s1", "s2", "s3", "s4", "s5", "s6", "s7", "s8", "s9", "s10", "s16", "s17", "s18", "s19",
          "s20", "s21", "s22", "s23", "s24", "s25", "s26", "s27", "s28", "s29", "s30", "s31");
}
#undef CTATTN_VFP_STEP
#undef CTATTN_VFP_FMA8_HIGH
#undef CTATTN_VFP_FMA8

#if defined(CTATTN_VFP_HAS_VMAXNM)
#define CTATTN_VFP_MAX(m, s) "vmaxnm.f32 " m ", " m ", " s "\n"
#else  // NaN is unordered: the move is skipped, as VMAXNM ignores a NaN
#define CTATTN_VFP_MAX(m, s) "vcmpe.f32 " s ", " m "\n vmrs APSR_nzcv, fpscr\n it gt\n vmovgt.f32 " m ", " s "\n"
#endif
// A key or value row of 8 floats into s0-s7, and the pointer on to the next row: one VLDM with
// write-back when rows are contiguous (the head-by-head cache), else VLDM and an add.
#define CTATTN_VFP_ROW_CONTIGUOUS "vldmia %[k]!, {s0-s7}\n"
#define CTATTN_VFP_ROW_STRIDED "vldmia %[k], {s0-s7}\n add %[k], %[k], %[step]\n"
// A row of 8 halves: 4 words into s4-s7, then each half to its float in s0-s7, in an order that
// overwrites a word only after both of its halves are converted.
#define CTATTN_VFP_HALVES_TO_S0_S7                                                  \
    "vcvtb.f32.f16 s0, s4\n vcvtt.f32.f16 s1, s4\n vcvtb.f32.f16 s2, s5\n vcvtt.f32.f16 s3, s5\n" \
    "vcvtb.f32.f16 s4, s6\n vcvtt.f32.f16 s5, s6\n vcvtb.f32.f16 s6, s7\n vcvtt.f32.f16 s7, s7\n"
#define CTATTN_VFP_HALF_ROW_CONTIGUOUS "vldmia %[k]!, {s4-s7}\n" CTATTN_VFP_HALVES_TO_S0_S7
#define CTATTN_VFP_HALF_ROW_STRIDED "vldmia %[k], {s4-s7}\n add %[k], %[k], %[step]\n" CTATTN_VFP_HALVES_TO_S0_S7
// q of both heads stays in s16-s31 (each key row is read once for both dot products), the running
// maxima in s10-s11, key j's two scores stored side by side.
#define CTATTN_VFP_SCORES_2X8(LOAD_ROW)                                                                    \
    "vldmia %[q], {s16-s31}\n"                                                                            \
    "vldmia %[max], {s10-s11}\n"                                                                          \
    "1:\n" LOAD_ROW                                                                                        \
    "vmul.f32 s8, s16, s0\n vmul.f32 s9, s24, s0\n"                                                       \
    "vfma.f32 s8, s17, s1\n vfma.f32 s9, s25, s1\n"                                                       \
    "vfma.f32 s8, s18, s2\n vfma.f32 s9, s26, s2\n"                                                       \
    "vfma.f32 s8, s19, s3\n vfma.f32 s9, s27, s3\n"                                                       \
    "vfma.f32 s8, s20, s4\n vfma.f32 s9, s28, s4\n"                                                       \
    "vfma.f32 s8, s21, s5\n vfma.f32 s9, s29, s5\n"                                                       \
    "vfma.f32 s8, s22, s6\n vfma.f32 s9, s30, s6\n"                                                       \
    "vfma.f32 s8, s23, s7\n vfma.f32 s9, s31, s7\n"                                                       \
    "vstmia %[scores]!, {s8-s9}\n" CTATTN_VFP_MAX("s10", "s8") CTATTN_VFP_MAX("s11", "s9")                \
    "subs %[n], %[n], #1\n"                                                                               \
    "bne 1b\n"                                                                                            \
    "vstmia %[max], {s10-s11}\n"
#define CTATTN_VFP_SCORES_OPERANDS                                                                          \
    : [k] "+r"(k), [n] "+r"(n), [scores] "+r"(scores)                                                       \
    : [q] "r"(q), [max] "r"(max), [step] "r"(step)                                                          \
    : "cc", "memory", "s0", "s1", "s2", "s3", "s4", "s5", "s6", "s7", "s8", "s9", "s10", "s11", "s16", "s17", \
      "s18", "s19", "s20", "s21", "s22", "s23", "s24", "s25", "s26", "s27", "s28", "s29", "s30", "s31"

template <std::size_t KvStride>
inline void scores_2x8(const float* q, const float* k, std::size_t n, float* scores, float* max) noexcept {
    const std::size_t step = KvStride * sizeof(float);
    if constexpr (KvStride == 8)
        asm volatile(CTATTN_VFP_SCORES_2X8(CTATTN_VFP_ROW_CONTIGUOUS) CTATTN_VFP_SCORES_OPERANDS);
    else
        asm volatile(CTATTN_VFP_SCORES_2X8(CTATTN_VFP_ROW_STRIDED) CTATTN_VFP_SCORES_OPERANDS);
}
template <std::size_t KvStride>
inline void scores_2x8(const float* q, const unsigned short* k, std::size_t n, float* scores, float* max) noexcept {
    const std::size_t step = KvStride * sizeof(unsigned short);
    if constexpr (KvStride == 8)
        asm volatile(CTATTN_VFP_SCORES_2X8(CTATTN_VFP_HALF_ROW_CONTIGUOUS) CTATTN_VFP_SCORES_OPERANDS);
    else
        asm volatile(CTATTN_VFP_SCORES_2X8(CTATTN_VFP_HALF_ROW_STRIDED) CTATTN_VFP_SCORES_OPERANDS);
}
#undef CTATTN_VFP_SCORES_OPERANDS
#undef CTATTN_VFP_SCORES_2X8
#undef CTATTN_VFP_MAX

// Both heads' 8 accumulators stay in s16-s31 while the value rows stream by.
#define CTATTN_VFP_WEIGHTED_SUM_2X8(LOAD_ROW)                                                                \
    "vldmia %[zeros], {s16-s31}\n"                                                                        \
    "1:\n"                                                                                                 \
    "vldmia %[p]!, {s8-s9}\n" LOAD_ROW                                                                      \
    "vfma.f32 s16, s8, s0\n vfma.f32 s17, s8, s1\n vfma.f32 s18, s8, s2\n vfma.f32 s19, s8, s3\n"          \
    "vfma.f32 s20, s8, s4\n vfma.f32 s21, s8, s5\n vfma.f32 s22, s8, s6\n vfma.f32 s23, s8, s7\n"          \
    "vfma.f32 s24, s9, s0\n vfma.f32 s25, s9, s1\n vfma.f32 s26, s9, s2\n vfma.f32 s27, s9, s3\n"          \
    "vfma.f32 s28, s9, s4\n vfma.f32 s29, s9, s5\n vfma.f32 s30, s9, s6\n vfma.f32 s31, s9, s7\n"          \
    "subs %[n], %[n], #1\n"                                                                               \
    "bne 1b\n"                                                                                            \
    "vstmia %[out], {s16-s31}\n"
#define CTATTN_VFP_WEIGHTED_SUM_OPERANDS                                                                     \
    : [p] "+r"(p), [k] "+r"(v), [n] "+r"(n)                                                                 \
    : [zeros] "r"(zeros), [out] "r"(out), [step] "r"(step)                                                  \
    : "cc", "memory", "s0", "s1", "s2", "s3", "s4", "s5", "s6", "s7", "s8", "s9", "s16", "s17", "s18", "s19", \
      "s20", "s21", "s22", "s23", "s24", "s25", "s26", "s27", "s28", "s29", "s30", "s31"

template <std::size_t KvStride>
inline void weighted_sum_2x8(const float* p, const float* v, std::size_t n, float* out) noexcept {
    const std::size_t step = KvStride * sizeof(float);
    alignas(8) static constexpr float zeros[16] = {};
    if constexpr (KvStride == 8)
        asm volatile(CTATTN_VFP_WEIGHTED_SUM_2X8(CTATTN_VFP_ROW_CONTIGUOUS) CTATTN_VFP_WEIGHTED_SUM_OPERANDS);
    else
        asm volatile(CTATTN_VFP_WEIGHTED_SUM_2X8(CTATTN_VFP_ROW_STRIDED) CTATTN_VFP_WEIGHTED_SUM_OPERANDS);
}
template <std::size_t KvStride>
inline void weighted_sum_2x8(const float* p, const unsigned short* v, std::size_t n, float* out) noexcept {
    const std::size_t step = KvStride * sizeof(unsigned short);
    alignas(8) static constexpr float zeros[16] = {};
    if constexpr (KvStride == 8)
        asm volatile(CTATTN_VFP_WEIGHTED_SUM_2X8(CTATTN_VFP_HALF_ROW_CONTIGUOUS) CTATTN_VFP_WEIGHTED_SUM_OPERANDS);
    else
        asm volatile(CTATTN_VFP_WEIGHTED_SUM_2X8(CTATTN_VFP_HALF_ROW_STRIDED) CTATTN_VFP_WEIGHTED_SUM_OPERANDS);
}
#undef CTATTN_VFP_WEIGHTED_SUM_OPERANDS
#undef CTATTN_VFP_WEIGHTED_SUM_2X8
#undef CTATTN_VFP_HALF_ROW_STRIDED
#undef CTATTN_VFP_HALF_ROW_CONTIGUOUS
#undef CTATTN_VFP_HALVES_TO_S0_S7
#undef CTATTN_VFP_ROW_STRIDED
#undef CTATTN_VFP_ROW_CONTIGUOUS

#if defined(CTATTN_VFP_HAS_VMAXNM)
// An asm statement: with fmaxf GCC 12 at -O2 branches around the exp for the clamped case
// (folding the constant through it), which costs more than the VMAXNM.
[[gnu::always_inline]] inline float max_nm(float x, float floor) noexcept {
    float clamped;
    asm("vmaxnm.f32 %0, %1, %2" : "=t"(clamped) : "t"(x), "t"(floor));
    return clamped;
}
#endif
#endif  // CTATTN_VFP_ROW_PROJECTION

}  // namespace ctattn::simd::arm_vfp
