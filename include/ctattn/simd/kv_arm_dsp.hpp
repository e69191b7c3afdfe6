// SPDX-License-Identifier: Apache-2.0
// Cortex-M (FPU + DSP extension: M4F, M7, M55) bodies of the decode passes over
// int8 KV rows (base/kv_storage.hpp: x_d = s e_d, e_d in [-127, 127]) for two heads of head_dim 8.
// The exact passes (default) run the float passes' arithmetic, bit for bit the C loop's (so a
// Cortex-M's logits are the host scalar build's): a row of 8 codes is one LDRD, 8 SXTB16 (each code
// sign-extended into the low half of a word), 4 VMOV and 8 VCVT from 16-bit fixed point (exact);
// the key's 16-bit scale is read in the score loop. With CTATTN_KV_INT8_INTEGER_DOTS the kernel
// takes instead (fewer instructions, ids that part from the host's at near-ties):
//   scores: q . e = sum_d q_d e_d in integers: the pair's pre-scaled queries quantized once per
//           step to int16 with one shared scale (q_d ~ q_scale Q_d, |Q_d| <= 32767), then per key
//           4 SXTB16 unpack the row's 8 codes into int16 pairs and 8 SMLAD (2 multiply-adds each)
//           give both heads' sums: |sum| <= 8 * 32767 * 127 < 2^25, exact in int32;
//   values: each code as the half 1152 + e (LDRD, 4 SXTAB16 onto 0x6480, VCVTB/VCVTT), and
//           sum_j w_j e_j[d] as sum_j w_j (1152 + e_j[d]) - 1152 sum_j w_j, corrected once per pass.
// Declared on every target, defined where simd/target.hpp has both the VFP assembly and the DSP
// extension (kv_arm_dsp::available); the decode kernel (kernels/decode/scalar_heads.hpp) chooses.
#pragma once

#include "target.hpp"

#include <cstddef>
#include <cstdint>

namespace ctattn::simd::kv_arm_dsp {

/// Whether the bodies below are defined (Cortex-M with the VFP assembly and the DSP extension).
inline constexpr bool available = target::vfp_asm && target::q8_arm_dsp;

/// The value the biased conversion adds to every code (weighted_sum_2x8's correction).
inline constexpr float code_bias = 1152.0f;

/// Which int8 passes the decode kernel takes: the exact ones (default: the float arithmetic of the
/// C loop, bit for bit, so a core's ids follow the host's as closely as float32's do), or with
/// CTATTN_KV_INT8_INTEGER_DOTS the integer scores and biased value sums above (fewer instructions,
/// the same accuracy against float32, but ids that part from the host's int8 run at more near-ties).
#if defined(CTATTN_KV_INT8_INTEGER_DOTS)
inline constexpr bool integer_dots = true;
#else
inline constexpr bool integer_dots = false;
#endif

/// Two heads' pre-scaled query rows (16 floats) as int16 pairs in SMLAD's order, per head
/// (Q0|Q2, Q1|Q3, Q4|Q6, Q5|Q7), with one scale for both: q_d ~ scale Q_d, |Q_d| <= 32767. Returns
/// the scale, or 0 when a query is not finite or all are 0 (the caller then keeps the float path).
inline float pack_query_pair(const float* q, std::uint32_t* packed) noexcept;
/// Pass 1 over n >= 1 int8 key rows from k (KvStride bytes apart, 4-byte aligned): scores[2j + h]
/// = (Q_h . e_j) f_j and max[h] = max(max[h], scores[2j + h]), where f_j (the key's scale times
/// the query's) is what scores[2j] holds on entry. packed: pack_query_pair's 8 words.
template <std::size_t KvStride>
void scores_2x8(const std::uint32_t* packed, const std::int8_t* k, std::size_t n, float* scores, float* max) noexcept;
/// The exact passes (the default): pass 1 with the float arithmetic of the C loop over converted
/// rows, bit for bit: scores[2j + h] = (sum_d q_h[d] e_j[d]) s_j (a product, then fused
/// multiply-adds in d order), s_j the key's scale from key_scales (16 bits, base/kv_storage.hpp);
/// maxima as above. q: the two pre-scaled query rows, 16 floats.
template <std::size_t KvStride>
void exact_scores_2x8(const float* q, const std::int8_t* k, const std::uint16_t* key_scales, std::size_t n,
                      float* scores, float* max) noexcept;
/// Pass 3, exact: out[h][d] = sum_j p[j][h] e_j[d] (fused multiply-adds in j order), each code
/// converted exactly (SXTB16, then VCVT from 16-bit fixed point). p: the weights times their rows' scales.
template <std::size_t KvStride>
void exact_weighted_sum_2x8(const float* p, const std::int8_t* v, std::size_t n, float* out) noexcept;
/// out[h][d] = sum_j (p[j][h]) (1152 + e_j[d]) over n >= 1 int8 value rows from v (KvStride bytes
/// apart, 4-byte aligned), p interleaved as the float pass's; weight_sums[h] = sum_j p[j][h].
template <std::size_t KvStride>
void weighted_sum_2x8(const float* p, const std::int8_t* v, std::size_t n, float* out, float* weight_sums) noexcept;

#if defined(CTATTN_VFP_ROW_PROJECTION) && defined(CTATTN_Q8_ARM_DSP)
inline float pack_query_pair(const float* q, std::uint32_t* packed) noexcept {
    float max_abs = 0.0f;
    for (std::size_t i = 0; i < 16; ++i) {
        const float a = q[i] < 0.0f ? -q[i] : q[i];
        if (!(a <= 3.0e38f)) return 0.0f;  // inf or NaN: the float path has the rules for it
        max_abs = a > max_abs ? a : max_abs;
    }
    if (max_abs == 0.0f) return 0.0f;
    const float to_int = 32767.0f / max_abs;
    std::int32_t code[16];
    for (std::size_t i = 0; i < 16; ++i) {
        const float t = q[i] * to_int;  // in [-32767, 32767] up to rounding
        std::int32_t c = static_cast<std::int32_t>(t < 0.0f ? t - 0.5f : t + 0.5f);
        code[i] = c > 32767 ? 32767 : (c < -32767 ? -32767 : c);
    }
    // SXTB16 of a word of codes gives (e0, e2), and with ROR #8 (e1, e3): the query pairs match.
    for (std::size_t h = 0; h < 2; ++h)
        for (std::size_t w = 0; w < 2; ++w) {
            const std::int32_t* c = code + h * 8 + w * 4;
            packed[h * 4 + w * 2] = (std::uint32_t(c[0]) & 0xffffu) | (std::uint32_t(c[2]) << 16);
            packed[h * 4 + w * 2 + 1] = (std::uint32_t(c[1]) & 0xffffu) | (std::uint32_t(c[3]) << 16);
        }
    return max_abs / 32767.0f;
}

#if defined(CTATTN_VFP_HAS_VMAXNM)
#define CTATTN_KV_INT8_MAX(m, s) "vmaxnm.f32 " m ", " m ", " s "\n"
#else  // NaN is unordered: the move is skipped, as VMAXNM ignores a NaN
#define CTATTN_KV_INT8_MAX(m, s) "vcmpe.f32 " s ", " m "\n vmrs APSR_nzcv, fpscr\n it gt\n vmovgt.f32 " m ", " s "\n"
#endif
// The packed queries stay in s16-s23 and come over to core registers a pair of words at a time
// (one VMOV each), so the loop needs 11 core registers; per key: LDRD, 4 SXTB16, 4 VMOV, 8 SMLAD,
// the two sums to s8-s9 (VMOV) and floats (VCVT), times f_j, stored over it, two maxima.
template <std::size_t KvStride>
inline void scores_2x8(const std::uint32_t* packed, const std::int8_t* k, std::size_t n, float* scores,
                       float* max) noexcept {
    static_assert(KvStride % 4 == 0 && KvStride <= 1020, "ctattn: int8 key rows 4-byte aligned, LDRD's offset");
    std::uint32_t lo, hi, t0, t1, x0, x1, a, b;
    asm volatile(
        "vldmia %[q], {s16-s23}\n"
        "vldmia %[max], {s10-s11}\n"
        "1:\n"
        "ldrd %[lo], %[hi], [%[k]], #%c[step]\n"
        "sxtb16 %[t0], %[lo]\n sxtb16 %[t1], %[lo], ror #8\n"
        "sxtb16 %[lo], %[hi]\n sxtb16 %[hi], %[hi], ror #8\n"
        "vmov %[x0], %[x1], s16, s17\n smuad %[a], %[t0], %[x0]\n smlad %[a], %[t1], %[x1], %[a]\n"
        "vmov %[x0], %[x1], s18, s19\n smlad %[a], %[lo], %[x0], %[a]\n smlad %[a], %[hi], %[x1], %[a]\n"
        "vmov %[x0], %[x1], s20, s21\n smuad %[b], %[t0], %[x0]\n smlad %[b], %[t1], %[x1], %[b]\n"
        "vmov %[x0], %[x1], s22, s23\n smlad %[b], %[lo], %[x0], %[b]\n smlad %[b], %[hi], %[x1], %[b]\n"
        "vmov s8, s9, %[a], %[b]\n"
        "vcvt.f32.s32 s8, s8\n vcvt.f32.s32 s9, s9\n"
        "vldr s12, [%[scores]]\n"
        "vmul.f32 s8, s8, s12\n vmul.f32 s9, s9, s12\n"
        "vstmia %[scores]!, {s8-s9}\n" CTATTN_KV_INT8_MAX("s10", "s8") CTATTN_KV_INT8_MAX("s11", "s9")
        "subs %[n], %[n], #1\n"
        "bne 1b\n"
        "vstmia %[max], {s10-s11}\n"
        : [k] "+r"(k), [n] "+r"(n), [scores] "+r"(scores), [lo] "=&r"(lo), [hi] "=&r"(hi), [t0] "=&r"(t0),
          [t1] "=&r"(t1), [x0] "=&r"(x0), [x1] "=&r"(x1), [a] "=&r"(a), [b] "=&r"(b)
        : [q] "r"(packed), [max] "r"(max), [step] "i"(KvStride)
        : "cc", "memory", "s8", "s9", "s10", "s11", "s12", "s16", "s17", "s18", "s19", "s20", "s21", "s22", "s23");
}
#undef CTATTN_KV_INT8_MAX

// One value row of 8 codes into s0-s7 as 1152 + e_d: one LDRD, four SXTAB16 onto 0x6480 | 0x6480
// << 16 (s4 = e0|e2, s5 = e1|e3, s6 = e4|e6, s7 = e5|e7 as biased halves), two VMOVs of register
// pairs, eight VCVTB/VCVTT in an order that overwrites a word only after both its halves are read.
#define CTATTN_KV_INT8_ROW(ADVANCE)                                                                        \
    "ldrd %[lo], %[hi], [%[k]]" ADVANCE "\n"                                                               \
    "sxtab16 %[t0], %[bias], %[lo]\n sxtab16 %[t1], %[bias], %[lo], ror #8\n"                              \
    "sxtab16 %[lo], %[bias], %[hi]\n sxtab16 %[hi], %[bias], %[hi], ror #8\n"                             \
    "vmov s4, s5, %[t0], %[t1]\n vmov s6, s7, %[lo], %[hi]\n"                                             \
    "vcvtb.f32.f16 s0, s4\n vcvtb.f32.f16 s1, s5\n vcvtt.f32.f16 s2, s4\n vcvtt.f32.f16 s3, s5\n"          \
    "vcvtb.f32.f16 s4, s6\n vcvtb.f32.f16 s5, s7\n vcvtt.f32.f16 s6, s6\n vcvtt.f32.f16 s7, s7\n"
// Both heads' 8 accumulators in s16-s31 and their weight sums in s10-s11 while the rows stream by.
#define CTATTN_KV_INT8_WEIGHTED_SUM(ROW)                                                                   \
    "vldmia %[zeros], {s16-s31}\n"                                                                        \
    "vldmia %[zeros], {s10-s11}\n"                                                                        \
    "1:\n"                                                                                                 \
    "vldmia %[p]!, {s8-s9}\n" ROW                                                                           \
    "vfma.f32 s16, s8, s0\n vfma.f32 s17, s8, s1\n vfma.f32 s18, s8, s2\n vfma.f32 s19, s8, s3\n"          \
    "vfma.f32 s20, s8, s4\n vfma.f32 s21, s8, s5\n vfma.f32 s22, s8, s6\n vfma.f32 s23, s8, s7\n"          \
    "vfma.f32 s24, s9, s0\n vfma.f32 s25, s9, s1\n vfma.f32 s26, s9, s2\n vfma.f32 s27, s9, s3\n"          \
    "vfma.f32 s28, s9, s4\n vfma.f32 s29, s9, s5\n vfma.f32 s30, s9, s6\n vfma.f32 s31, s9, s7\n"          \
    "vadd.f32 s10, s10, s8\n vadd.f32 s11, s11, s9\n"                                                     \
    "subs %[n], %[n], #1\n"                                                                               \
    "bne 1b\n"                                                                                            \
    "vstmia %[out], {s16-s31}\n"                                                                          \
    "vstmia %[sums], {s10-s11}\n"

template <std::size_t KvStride>
inline void weighted_sum_2x8(const float* p, const std::int8_t* v, std::size_t n, float* out,
                             float* weight_sums) noexcept {
    static_assert(KvStride % 4 == 0 && KvStride <= 1020, "ctattn: int8 value rows 4-byte aligned, LDRD's offset");
    alignas(8) static constexpr float zeros[16] = {};
    std::uint32_t lo, hi, t0, t1;
    const std::uint32_t bias = 0x64806480u;
    asm volatile(CTATTN_KV_INT8_WEIGHTED_SUM(CTATTN_KV_INT8_ROW(", #%c[step]"))
                 : [p] "+r"(p), [k] "+r"(v), [n] "+r"(n), [lo] "=&r"(lo), [hi] "=&r"(hi), [t0] "=&r"(t0),
                   [t1] "=&r"(t1)
                 : [zeros] "r"(zeros), [out] "r"(out), [sums] "r"(weight_sums), [bias] "r"(bias),
                   [step] "i"(KvStride)
                 : "cc", "memory", "s0", "s1", "s2", "s3", "s4", "s5", "s6", "s7", "s8", "s9", "s10", "s11", "s16",
                   "s17", "s18", "s19", "s20", "s21", "s22", "s23", "s24", "s25", "s26", "s27", "s28", "s29", "s30",
                   "s31");
}

// The exact row: each code sign-extended into the low half of a word by SXTB16 (rotated by 0, 8,
// 16 and 24 bits: bytes 0 and 2, 1 and 3, 2 and 0, 3 and 1), two words per VMOV into s0-s7 in
// element order, and converted by VCVT from 16-bit fixed point with 0 fraction bits, which reads
// the low half: float(e_d) exactly, 21 instructions a row (LDRD, 8 SXTB16, 4 VMOV, 8 VCVT).
#define CTATTN_KV_INT8_EXACT_ROW(ADVANCE)                                                                  \
    "ldrd %[lo], %[hi], [%[k]]" ADVANCE "\n"                                                               \
    "sxtb16 %[t0], %[lo]\n sxtb16 %[t1], %[lo], ror #8\n vmov s0, s1, %[t0], %[t1]\n"                      \
    "sxtb16 %[t0], %[lo], ror #16\n sxtb16 %[t1], %[lo], ror #24\n vmov s2, s3, %[t0], %[t1]\n"            \
    "sxtb16 %[t0], %[hi]\n sxtb16 %[t1], %[hi], ror #8\n vmov s4, s5, %[t0], %[t1]\n"                      \
    "sxtb16 %[t0], %[hi], ror #16\n sxtb16 %[t1], %[hi], ror #24\n vmov s6, s7, %[t0], %[t1]\n"            \
    "vcvt.f32.s16 s0, s0, #0\n vcvt.f32.s16 s1, s1, #0\n vcvt.f32.s16 s2, s2, #0\n vcvt.f32.s16 s3, s3, #0\n" \
    "vcvt.f32.s16 s4, s4, #0\n vcvt.f32.s16 s5, s5, #0\n vcvt.f32.s16 s6, s6, #0\n vcvt.f32.s16 s7, s7, #0\n"
#if defined(CTATTN_VFP_HAS_VMAXNM)
#define CTATTN_KV_INT8_MAX(m, s) "vmaxnm.f32 " m ", " m ", " s "\n"
#else
#define CTATTN_KV_INT8_MAX(m, s) "vcmpe.f32 " s ", " m "\n vmrs APSR_nzcv, fpscr\n it gt\n vmovgt.f32 " m ", " s "\n"
#endif

// The key's 16-bit scale is read here too (LDRH, and a shift makes it a float's bits).
template <std::size_t KvStride>
inline void exact_scores_2x8(const float* q, const std::int8_t* k, const std::uint16_t* key_scales, std::size_t n,
                             float* scores, float* max) noexcept {
    static_assert(KvStride % 4 == 0 && KvStride <= 1020, "ctattn: int8 key rows 4-byte aligned, LDRD's offset");
    std::uint32_t lo, hi, t0, t1;
    asm volatile(
        "vldmia %[q], {s16-s31}\n"
        "vldmia %[max], {s10-s11}\n"
        "1:\n"
        "ldrh %[lo], [%[ks]], #2\n"
        "lsls %[lo], %[lo], #15\n"
        "vmov s12, %[lo]\n" CTATTN_KV_INT8_EXACT_ROW(", #%c[step]")
        "vmul.f32 s8, s16, s0\n vmul.f32 s9, s24, s0\n"
        "vfma.f32 s8, s17, s1\n vfma.f32 s9, s25, s1\n"
        "vfma.f32 s8, s18, s2\n vfma.f32 s9, s26, s2\n"
        "vfma.f32 s8, s19, s3\n vfma.f32 s9, s27, s3\n"
        "vfma.f32 s8, s20, s4\n vfma.f32 s9, s28, s4\n"
        "vfma.f32 s8, s21, s5\n vfma.f32 s9, s29, s5\n"
        "vfma.f32 s8, s22, s6\n vfma.f32 s9, s30, s6\n"
        "vfma.f32 s8, s23, s7\n vfma.f32 s9, s31, s7\n"
        "vmul.f32 s8, s8, s12\n vmul.f32 s9, s9, s12\n"
        "vstmia %[scores]!, {s8-s9}\n" CTATTN_KV_INT8_MAX("s10", "s8") CTATTN_KV_INT8_MAX("s11", "s9")
        "subs %[n], %[n], #1\n"
        "bne 1b\n"
        "vstmia %[max], {s10-s11}\n"
        : [k] "+r"(k), [ks] "+r"(key_scales), [n] "+r"(n), [scores] "+r"(scores), [lo] "=&r"(lo), [hi] "=&r"(hi),
          [t0] "=&r"(t0), [t1] "=&r"(t1)
        : [q] "r"(q), [max] "r"(max), [step] "i"(KvStride)
        : "cc", "memory", "s0", "s1", "s2", "s3", "s4", "s5", "s6", "s7", "s8", "s9", "s10", "s11", "s12", "s16",
          "s17", "s18", "s19", "s20", "s21", "s22", "s23", "s24", "s25", "s26", "s27", "s28", "s29", "s30", "s31");
}
#undef CTATTN_KV_INT8_MAX

template <std::size_t KvStride>
inline void exact_weighted_sum_2x8(const float* p, const std::int8_t* v, std::size_t n, float* out) noexcept {
    static_assert(KvStride % 4 == 0 && KvStride <= 1020, "ctattn: int8 value rows 4-byte aligned, LDRD's offset");
    alignas(8) static constexpr float zeros[16] = {};
    std::uint32_t lo, hi, t0, t1;
    asm volatile(
        "vldmia %[zeros], {s16-s31}\n"
        "1:\n"
        "vldmia %[p]!, {s8-s9}\n" CTATTN_KV_INT8_EXACT_ROW(", #%c[step]")
        "vfma.f32 s16, s8, s0\n vfma.f32 s17, s8, s1\n vfma.f32 s18, s8, s2\n vfma.f32 s19, s8, s3\n"
        "vfma.f32 s20, s8, s4\n vfma.f32 s21, s8, s5\n vfma.f32 s22, s8, s6\n vfma.f32 s23, s8, s7\n"
        "vfma.f32 s24, s9, s0\n vfma.f32 s25, s9, s1\n vfma.f32 s26, s9, s2\n vfma.f32 s27, s9, s3\n"
        "vfma.f32 s28, s9, s4\n vfma.f32 s29, s9, s5\n vfma.f32 s30, s9, s6\n vfma.f32 s31, s9, s7\n"
        "subs %[n], %[n], #1\n"
        "bne 1b\n"
        "vstmia %[out], {s16-s31}\n"
        : [p] "+r"(p), [k] "+r"(v), [n] "+r"(n), [lo] "=&r"(lo), [hi] "=&r"(hi), [t0] "=&r"(t0), [t1] "=&r"(t1)
        : [zeros] "r"(zeros), [out] "r"(out), [step] "i"(KvStride)
        : "cc", "memory", "s0", "s1", "s2", "s3", "s4", "s5", "s6", "s7", "s8", "s9", "s16", "s17", "s18", "s19",
          "s20", "s21", "s22", "s23", "s24", "s25", "s26", "s27", "s28", "s29", "s30", "s31");
}
#undef CTATTN_KV_INT8_EXACT_ROW
#undef CTATTN_KV_INT8_WEIGHTED_SUM
#undef CTATTN_KV_INT8_ROW
#endif

}  // namespace ctattn::simd::kv_arm_dsp
