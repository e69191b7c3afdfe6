// SPDX-License-Identifier: Apache-2.0
// Helium (MVE with float lanes: Cortex-M55, M85) decode attention over a float16 or int8 KV cache
// (base/kv_storage.hpp), two query heads of head_dim 8 sharing a KV head (or one):
//     s_j = (q_h log2(e) / sqrt(head_dim)) . k_j (x the key's int8 scale)      scores in base 2
//     O_h = sum_j 2^(s_j - m) v_j / sum_j 2^(s_j - m),   m = max_j s_j
// with the arithmetic of kernels/decode/scalar_heads.hpp's C loops bit for bit, so a Helium core
// decodes what the host's scalar build decodes (tests/embedded/stories_small_ram_fw.cpp):
//   1. scores, 4 keys per vector (assembly): each key row read where it is stored by vector-base
//      word gathers (a float16 row is 4 words, an int8 row 2) and widened in registers (VCVTB/VCVTT
//      from halves; int8: VMOVLB/VMOVLT to int16, VCVT to exact halves, VCVTB/VCVTT), each lane the
//      C loop's chain q_0 k_0, then fma(q_d, k_d, s) for d = 1 .. 7, then (int8) times the key's
//      scale; the last n % 4 keys by the C loop itself;
//   2. weights 2^(s - m) 4 at a time by simd/math.hpp's exp2_clamped with its fused steps, summed
//      lane by lane in key order in the FPU (the C loop's sum); int8: stored times the value row's
//      scale, as scalar_heads.hpp's DSP pass does;
//   3. P V (assembly): each value row one load (float16: VLDRW; int8: VLDRB.S16 and VCVT to
//      halves), its even and odd elements widened by VCVTB/VCVTT into two accumulators per head
//      (lanes = dimensions, keys in order, one fused multiply-add each), interleaved back by VST2
//      after the division by the sum.
// Never a row converted into RAM. The one difference from the FPU: Helium's float lanes flush
// denormal results to 0, so a weight below 2^-126 (a score 126 below the max, in base 2) is 0
// here and a denormal there, beside the max key's weight of 1. Declared on every target, defined
// where simd/target.hpp sets CTATTN_HAS_MVE_FLOAT.
#pragma once

#include "target.hpp"
#include "math.hpp"
#include "arm_vfp.hpp"
#include "../base/kv_storage.hpp"

#include <cstddef>
#include <cstdint>
#include <type_traits>

#if defined(CTATTN_HAS_MVE_INT)
// ctattn calls the __arm_-prefixed names (see simd/mve.hpp).
#include <arm_mve.h>
#endif

namespace ctattn::simd::kv_mve {

/// Whether attend_heads_8 takes Heads query heads of HeadDim over rows of storage S at stride
/// KvStride (elements): Helium with float lanes, head_dim 8, 1 or 2 heads, rows 4-byte aligned and
/// at most 127 words apart (4 rows are one gather's write-back step, <= 508 bytes; int8: two rows
/// one VLDRB post-increment, <= 127 bytes).
template <kv_storage S, std::size_t Heads, std::size_t HeadDim, std::size_t KvStride>
inline constexpr bool fits = target::mve_float && !std::is_same_v<S, kv_float32> && HeadDim == 8 &&
                             (Heads == 1 || Heads == 2) && (KvStride * sizeof(typename S::element)) % 4 == 0 &&
                             4 * KvStride * sizeof(typename S::element) <= 508 &&
                             (std::is_same_v<S, kv_float16> || 2 * KvStride <= 127);

// Decode attention of Heads query heads (rows of 8 at stride QStride in q) over one KV head's rows
// begin .. end - 1 (begin < end) of storage S: k and v the elements (row j at j * KvStride),
// k_scales and v_scales the int8 rows' scales (unused for float16). q_scale = score_scale log2(e);
// scores: scratch of 2 x (end - begin) floats (a lone head runs as a pair with itself); out: Heads
// rows of 8 at stride QStride. False
// (out untouched) for an irregular head, as scalar_heads.hpp: a max that is not finite, or a NaN or
// -inf score (the sum of the exponents' arguments is not finite).
template <kv_storage S, std::size_t Heads, std::size_t QStride, std::size_t KvStride>
bool attend_heads_8(const float* q, const typename S::element* k, const typename S::scale* k_scales,
                    const typename S::element* v, const typename S::scale* v_scales, std::size_t begin,
                    std::size_t end, float q_scale, float* scores, float* out) noexcept;

#if defined(CTATTN_HAS_MVE_FLOAT)

using vec = float32x4_t;

// VCVTB/VCVTT.F32.F16 Qd, Qm (a float from the bottom or top half of each word) by their encoding:
// binutils 2.40 (Debian 12's arm-none-eabi) encodes the q-register forms with the register numbers
// doubled (vcvtb.f32.f16 q1, q2 assembles as q2, q4; from q4 on, into undefined encodings that
// fault), so neither the mnemonic nor GCC's intrinsics (vcvtbq_f32_f16) give working code there.
#define CTATTN_KV_MVE_VCVTB(QD, QM) ".inst.w 0xfe3f0e01 + (" #QD " << 13) + (" #QM " << 1)\n"
#define CTATTN_KV_MVE_VCVTT(QD, QM) ".inst.w 0xfe3f1e01 + (" #QD " << 13) + (" #QM " << 1)\n"

// One word of 4 keys (lanes) in q5 (float16: two elements; int8: four) times the query elements in
// the named core registers (head 0's, head 1's), into q0 (head 0) and q1 (head 1): FIRST starts the
// chains with VMUL. The word's elements in order, as the C loop's d. q4 and q6 are scratch.
#define CTATTN_KV_MVE_FMA(OP, Q, A, B) OP ".f32 q0, " Q ", " A "\n " OP ".f32 q1, " Q ", " B "\n"
#define CTATTN_KV_MVE_HALF_WORD(OP0, A0, B0, A1, B1) \
    CTATTN_KV_MVE_VCVTB(6, 5) CTATTN_KV_MVE_FMA(OP0, "q6", A0, B0) CTATTN_KV_MVE_VCVTT(6, 5) CTATTN_KV_MVE_FMA("vfma", "q6", A1, B1)
// int8: VMOVLB takes codes 0 and 2 of each word to int16 (q4), VMOVLT codes 1 and 3 (q6), VCVT
// makes them halves (exact), then the halves' floats in order c0 (q4 bottom), c1 (q6 bottom), c2, c3.
#define CTATTN_KV_MVE_CODE_WORD(OP0, A0, B0, A1, B1, A2, B2, A3, B3)                                    \
    "vmovlb.s8 q4, q5\n vmovlt.s8 q6, q5\n vcvt.f16.s16 q4, q4\n vcvt.f16.s16 q6, q6\n"                  \
    CTATTN_KV_MVE_VCVTB(5, 4) CTATTN_KV_MVE_FMA(OP0, "q5", A0, B0) CTATTN_KV_MVE_VCVTB(5, 6)              \
    CTATTN_KV_MVE_FMA("vfma", "q5", A1, B1) CTATTN_KV_MVE_VCVTT(5, 4) CTATTN_KV_MVE_FMA("vfma", "q5", A2, B2) \
    CTATTN_KV_MVE_VCVTT(5, 6) CTATTN_KV_MVE_FMA("vfma", "q5", A3, B3)

// Pass 1 for two heads over whole chunks of 4 keys: per chunk the rows' words by vector-base gathers
// (the first steps the 4 addresses on by write-back), widened as above, the 16 query elements
// brought into r4-r6, r8-r12 by two LDMs (dimensions 0-3, then 4-7, of both heads), the int8 keys'
// scales by one VLDRH.U32 and a shift, the running maxima, two stores. io (28 words): [0, 8)
// dimensions 0-3 of heads 0 and 1, [8, 16) dimensions 4-7, [16, 20) the rows' addresses, [20, 24)
// head 0's max, [24, 28) head 1's, each in and out.
template <kv_storage S, std::size_t KvStride>
inline void scores_2x8(std::uint32_t* io, const std::uint16_t* key_scales, float* scores0, float* scores1,
                       std::size_t chunks) noexcept {
    constexpr int step = int(4 * KvStride * sizeof(typename S::element));
    std::uint32_t* const dims_4_7 = io + 8;
#define CTATTN_KV_MVE_SCORES(ROWS, SCALE)                                                                  \
    "vldrw.u32 q7, [%[io], #32]\n vldrw.u32 q2, [%[io], #48]\n vldrw.u32 q3, [%[io], #64]\n"                \
    "wls lr, %[chunks], 2f\n"                                                                              \
    "1:\n"                                                                                                 \
    "ldmdb %[io], {r4, r5, r6, r8, r9, r10, r11, r12}\n" ROWS SCALE                                        \
    "vmaxnm.f32 q2, q2, q0\n vmaxnm.f32 q3, q3, q1\n"                                                      \
    "vstrw.32 q0, [%[s0]], #16\n vstrw.32 q1, [%[s1]], #16\n"                                              \
    "le lr, 1b\n"                                                                                          \
    "2:\n"                                                                                                 \
    "vstrw.32 q7, [%[io], #32]\n vstrw.32 q2, [%[io], #48]\n vstrw.32 q3, [%[io], #64]\n"                  \
    : [s0] "+r"(scores0), [s1] "+r"(scores1), [scales] "+r"(key_scales)                                    \
    : [io] "r"(dims_4_7), [chunks] "r"(chunks), [step] "i"(step)                                           \
    : "memory", "lr", "r4", "r5", "r6", "r8", "r9", "r10", "r11", "r12", "d0", "d1", "d2", "d3", "d4", "d5", \
      "d6", "d7", "d8", "d9", "d10", "d11", "d12", "d13", "d14", "d15"
    if constexpr (std::is_same_v<S, kv_float16>) {
        asm volatile(CTATTN_KV_MVE_SCORES(
            "vldrw.u32 q5, [q7, #%c[step]]!\n" CTATTN_KV_MVE_HALF_WORD("vmul", "r4", "r9", "r5", "r10")
            "vldrw.u32 q5, [q7, #4]\n" CTATTN_KV_MVE_HALF_WORD("vfma", "r6", "r11", "r8", "r12")
            "ldm %[io], {r4, r5, r6, r8, r9, r10, r11, r12}\n"
            "vldrw.u32 q5, [q7, #8]\n" CTATTN_KV_MVE_HALF_WORD("vfma", "r4", "r9", "r5", "r10")
            "vldrw.u32 q5, [q7, #12]\n" CTATTN_KV_MVE_HALF_WORD("vfma", "r6", "r11", "r8", "r12"),
            ""));
    } else {
        asm volatile(CTATTN_KV_MVE_SCORES(
            "vldrw.u32 q5, [q7, #%c[step]]!\n"
            CTATTN_KV_MVE_CODE_WORD("vmul", "r4", "r9", "r5", "r10", "r6", "r11", "r8", "r12")
            "ldm %[io], {r4, r5, r6, r8, r9, r10, r11, r12}\n"
            "vldrw.u32 q5, [q7, #4]\n"
            CTATTN_KV_MVE_CODE_WORD("vfma", "r4", "r9", "r5", "r10", "r6", "r11", "r8", "r12"),
            // The keys' scales: kv_scale_value, the 16 bits shifted up 15, then s *= scale.
            "vldrh.u32 q4, [%[scales]], #8\n vshl.i32 q4, q4, #15\n vmul.f32 q0, q0, q4\n vmul.f32 q1, q1, q4\n"));
    }
#undef CTATTN_KV_MVE_SCORES
}

// Pass 3 for two heads: acc[0, 4) head 0's even dimensions, [4, 8) its odd ones, [8, 16) head 1's
// the same; acc_h[d] = sum_j p_h[j] v_j[d], j in order, one fused multiply-add each. Per two keys
// one LDRD of each head's two weights, the two rows (float16: one VLDRW each; int8: VLDRB.S16 and
// VCVT to halves), 4 VCVTB/VCVTT, 8 VFMA by scalar, LE. n >= 1.
template <kv_storage S, std::size_t KvStride>
inline void weighted_sum_2x8(const float* p0, const float* p1, const typename S::element* v, std::size_t n,
                             float* acc) noexcept {
    constexpr int row_bytes = int(KvStride * sizeof(typename S::element));
    const std::size_t pairs = n / 2;
    std::uint32_t w00, w01, w10, w11;
#define CTATTN_KV_MVE_ROW_FMAS(Q, W0, W1)                                                                  \
    CTATTN_KV_MVE_VCVTB(6, Q) CTATTN_KV_MVE_VCVTT(7, Q)                                                     \
    "vfma.f32 q0, q6, " W0 "\n vfma.f32 q1, q7, " W0 "\n vfma.f32 q2, q6, " W1 "\n vfma.f32 q3, q7, " W1 "\n"
#define CTATTN_KV_MVE_VALUES(LOAD_PAIR, LOAD_LAST)                                                         \
    "vmov.i32 q0, #0\n vmov.i32 q1, #0\n vmov.i32 q2, #0\n vmov.i32 q3, #0\n"                              \
    "wls lr, %[pairs], 2f\n"                                                                               \
    "1:\n"                                                                                                 \
    "ldrd %[w00], %[w01], [%[p0]], #8\n"                                                                   \
    "ldrd %[w10], %[w11], [%[p1]], #8\n" LOAD_PAIR                                                         \
    CTATTN_KV_MVE_ROW_FMAS(4, "%[w00]", "%[w10]") CTATTN_KV_MVE_ROW_FMAS(5, "%[w01]", "%[w11]")           \
    "le lr, 1b\n"                                                                                          \
    "2:\n"                                                                                                 \
    "tst %[n], #1\n"                                                                                       \
    "beq 3f\n"                                                                                             \
    "ldr %[w00], [%[p0]]\n ldr %[w10], [%[p1]]\n" LOAD_LAST CTATTN_KV_MVE_ROW_FMAS(4, "%[w00]", "%[w10]")  \
    "3:\n"                                                                                                 \
    "vstrw.32 q0, [%[acc]]\n vstrw.32 q1, [%[acc], #16]\n vstrw.32 q2, [%[acc], #32]\n vstrw.32 q3, [%[acc], #48]\n" \
    : [p0] "+r"(p0), [p1] "+r"(p1), [v] "+r"(v), [w00] "=&r"(w00), [w01] "=&r"(w01), [w10] "=&r"(w10),    \
      [w11] "=&r"(w11)                                                                                     \
    : [pairs] "r"(pairs), [n] "r"(n), [acc] "r"(acc), [two_rows] "i"(2 * row_bytes), [row] "i"(row_bytes)  \
    : "cc", "memory", "lr", "d0", "d1", "d2", "d3", "d4", "d5", "d6", "d7", "d8", "d9", "d10", "d11", "d12", \
      "d13", "d14", "d15"
    if constexpr (std::is_same_v<S, kv_float16>) {
        asm volatile(CTATTN_KV_MVE_VALUES("vldrw.u32 q4, [%[v]], #%c[two_rows]\n vldrw.u32 q5, [%[v], #-%c[row]]\n",
                                          "vldrw.u32 q4, [%[v]]\n"));
    } else {
        asm volatile(CTATTN_KV_MVE_VALUES("vldrb.s16 q4, [%[v]], #%c[two_rows]\n vldrb.s16 q5, [%[v], #-%c[row]]\n"
                                          "vcvt.f16.s16 q4, q4\n vcvt.f16.s16 q5, q5\n",
                                          "vldrb.s16 q4, [%[v]]\n vcvt.f16.s16 q4, q4\n"));
    }
#undef CTATTN_KV_MVE_VALUES
#undef CTATTN_KV_MVE_ROW_FMAS
}

// 4 int8 rows' scales (kv_scale_value: the 16 bits shifted up 15) from 4 consecutive ones.
[[gnu::always_inline]] inline vec row_scales(const std::uint16_t* scales) noexcept {
    return __arm_vreinterpretq_f32_u32(__arm_vshlq_n_u32(__arm_vldrhq_u32(scales), 15));
}
[[gnu::always_inline]] inline vec row_scales(const std::uint16_t* scales, mve_pred16_t present) noexcept {
    return __arm_vreinterpretq_f32_u32(__arm_vshlq_n_u32(__arm_vldrhq_z_u32(scales, present), 15));
}

// 2^x for 4 x in [-151, 0]: simd/math.hpp's exp2_clamped lane by lane, the same fused steps (the
// first one too, where mve.hpp's exp2_clamped_4 multiplies and adds), so the same weights.
[[gnu::always_inline]] inline vec exp2_clamped_fused_4(vec x) noexcept {
    constexpr float round_magic = 12582912.0f;
    const vec t = __arm_vaddq_n_f32(x, round_magic);
    const vec f = __arm_vsubq_f32(x, __arm_vsubq_n_f32(t, round_magic));
    vec p = __arm_vfmaq_n_f32(__arm_vdupq_n_f32(detail::exp2_c4), f, detail::exp2_c5);
    p = __arm_vfmasq_n_f32(p, f, detail::exp2_c3);
    p = __arm_vfmasq_n_f32(p, f, detail::exp2_c2);
    p = __arm_vfmasq_n_f32(p, f, detail::exp2_c1);
    p = __arm_vfmasq_n_f32(p, f, detail::exp2_c0);
    const int32x4_t scale = __arm_vaddq_n_s32(__arm_vshlq_n_s32(__arm_vreinterpretq_s32_f32(t), 23), (127 + 100) << 23);
    return __arm_vmulq_f32(p, __arm_vreinterpretq_f32_s32(scale));
}

// sum + e[0] + e[1] + e[2] + e[3], added in that order in the FPU (the C loop's running sum over
// keys): e in q0, whose lanes are s0 .. s3 (GCC would move each lane through a core register).
[[gnu::always_inline]] inline float add_lanes_in_order(float sum, vec e) noexcept {
    register vec lanes asm("q0") = e;
    asm("vadd.f32 %[sum], %[sum], s0\n\t"
        "vadd.f32 %[sum], %[sum], s1\n\t"
        "vadd.f32 %[sum], %[sum], s2\n\t"
        "vadd.f32 %[sum], %[sum], s3"
        : [sum] "+t"(sum)
        : "w"(lanes));
    return sum;
}

// Key j's score for both heads by the C loop itself (the last keys past the whole chunks).
template <kv_storage S, std::size_t KvStride>
[[gnu::always_inline]] inline void score_key(const float (*qs)[8], const typename S::element* row, float scale,
                                             float* s) noexcept {
    float key[8];
    CTATTN_UNROLL for (std::size_t d = 0; d < 8; ++d) {
        if constexpr (std::is_same_v<S, kv_float16>)
            key[d] = arm_vfp::half_to_float(row[d]);
        else
            key[d] = float(row[d]);
    }
    CTATTN_UNROLL for (std::size_t h = 0; h < 2; ++h) {
        float dot = qs[h][0] * key[0];
        CTATTN_UNROLL for (std::size_t d = 1; d < 8; ++d) dot = __builtin_fmaf(qs[h][d], key[d], dot);
        s[h] = S::scaled ? dot * scale : dot;
    }
}

template <kv_storage S, std::size_t Heads, std::size_t QStride, std::size_t KvStride>
inline bool attend_heads_8(const float* q, const typename S::element* k, const typename S::scale* k_scales,
                           const typename S::element* v, const typename S::scale* v_scales, std::size_t begin,
                           std::size_t end, float q_scale, float* scores, float* out) noexcept {
    static_assert(fits<S, Heads, 8, KvStride>, "ctattn: kv_mve::attend_heads_8 takes head_dim 8, 1 or 2 heads");
    constexpr bool scaled = S::scaled;
    constexpr float minus_inf = -__builtin_inff();
    const std::size_t n = end - begin, whole = n / 4;
    const std::uint32_t last = std::uint32_t(n % 4);
    // A lone head runs as a pair with itself (its copy's scores and sums are never read).
    alignas(16) float qs[2][8];
    alignas(16) std::uint32_t io[28];
    CTATTN_UNROLL for (std::size_t h = 0; h < 2; ++h)
        CTATTN_UNROLL for (std::size_t d = 0; d < 8; ++d) {
            qs[h][d] = q[(Heads == 2 ? h : 0) * QStride + d] * q_scale;
            io[(d / 4) * 8 + h * 4 + d % 4] = __builtin_bit_cast(std::uint32_t, qs[h][d]);
        }

    // Pass 1. Row addresses of keys begin - 4 .. begin - 1 (never read: each chunk's first gather
    // steps 4 rows on first).
    constexpr std::uint32_t row_bytes = std::uint32_t(KvStride * sizeof(typename S::element));
    const std::uint32_t first = std::uint32_t(reinterpret_cast<std::uintptr_t>(k + begin * KvStride)) - 4 * row_bytes;
    const uint32x4_t rows = {first, first + row_bytes, first + 2 * row_bytes, first + 3 * row_bytes};
    __arm_vst1q_u32(io + 16, rows);
    __arm_vst1q_f32(reinterpret_cast<float*>(io + 20), __arm_vdupq_n_f32(minus_inf));
    __arm_vst1q_f32(reinterpret_cast<float*>(io + 24), __arm_vdupq_n_f32(minus_inf));
    const std::uint16_t* key_scales = nullptr;
    if constexpr (scaled) key_scales = k_scales + begin;
    float* const scores1 = scores + n;
    scores_2x8<S, KvStride>(io, key_scales, scores, scores1, whole);
    float max[2] = {minus_inf, minus_inf};
    for (std::size_t j = 4 * whole; j < n; ++j) {
        float s[2];
        score_key<S, KvStride>(qs, k + (begin + j) * KvStride, scaled ? kv_scale_value(k_scales[begin + j]) : 1.0f, s);
        CTATTN_UNROLL for (std::size_t h = 0; h < 2; ++h) {
            scores[h * n + j] = s[h];
            max[h] = s[h] > max[h] ? s[h] : max[h];  // NaN never wins, as in the C loop
        }
    }
    CTATTN_UNROLL for (std::size_t h = 0; h < Heads; ++h) {
        // VMAXNM drops a NaN score (the C loop's compare does too): the arguments' sum finds it.
        max[h] = __arm_vmaxnmvq_f32(max[h], __arm_vld1q_f32(reinterpret_cast<const float*>(io + 20 + 4 * h)));
        if (!(max[h] > minus_inf && max[h] < -minus_inf)) return false;
    }

    // Pass 2, head by head: weights in place; their sum in key order. The arguments' sum x = s - m
    // (x <= 0) is the probe, as in scalar_heads.hpp: not finite for a NaN or -inf score, or
    // arguments spread past -FLT_MAX together (then the caller's careful path is right too).
    float inv_sum[Heads];
    CTATTN_UNROLL for (std::size_t h = 0; h < Heads; ++h) {
        float* head_scores = scores + h * n;
        float sum = 0.0f;
        vec probe_v = __arm_vdupq_n_f32(0.0f);
        auto weigh_chunk = [&](std::size_t c, auto whole_chunk) {
            constexpr bool is_whole = decltype(whole_chunk)::value;
            const mve_pred16_t present = is_whole ? mve_pred16_t(0xffff) : __arm_vctp32q(last);
            vec x = __arm_vsubq_n_f32(is_whole ? __arm_vld1q_f32(head_scores + 4 * c)
                                               : __arm_vldrwq_z_f32(head_scores + 4 * c, present),
                                      max[h]);
            if constexpr (!is_whole) x = __arm_vpselq_f32(x, __arm_vdupq_n_f32(0.0f), present);
            probe_v = __arm_vaddq_f32(probe_v, x);
            vec e = exp2_clamped_fused_4(__arm_vmaxnmq_f32(x, __arm_vdupq_n_f32(exp2_lowest)));
            // Lanes past the run weigh +0: adding them leaves the sum as it is.
            if constexpr (!is_whole) e = __arm_vpselq_f32(e, __arm_vdupq_n_f32(0.0f), present);
            sum = add_lanes_in_order(sum, e);
            if constexpr (scaled)
                e = __arm_vmulq_f32(e, is_whole ? row_scales(v_scales + begin + 4 * c)
                                                : row_scales(v_scales + begin + 4 * c, present));
            if constexpr (is_whole)
                __arm_vst1q_f32(head_scores + 4 * c, e);
            else
                __arm_vstrwq_p_f32(head_scores + 4 * c, e, present);
        };
        for (std::size_t c = 0; c < whole; ++c) weigh_chunk(c, std::true_type{});
        if (last != 0) weigh_chunk(whole, std::false_type{});
        const float probe = (__arm_vgetq_lane_f32(probe_v, 0) + __arm_vgetq_lane_f32(probe_v, 1)) +
                            (__arm_vgetq_lane_f32(probe_v, 2) + __arm_vgetq_lane_f32(probe_v, 3));
        if (!(probe - probe == 0.0f)) return false;
        inv_sum[h] = 1.0f / sum;  // >= 1: the max contributes 2^0 = 1 exactly
    }

    // Pass 3, then the even and odd dimensions interleaved back by VST2 (a lone head's copy goes
    // to the stack).
    alignas(16) float acc[16];
    weighted_sum_2x8<S, KvStride>(scores, Heads == 2 ? scores1 : scores, v + begin * KvStride, n, acc);
    CTATTN_UNROLL for (std::size_t h = 0; h < Heads; ++h) {
        const float32x4x2_t pair = {{__arm_vmulq_n_f32(__arm_vld1q_f32(acc + 8 * h), inv_sum[h]),
                                     __arm_vmulq_n_f32(__arm_vld1q_f32(acc + 8 * h + 4), inv_sum[h])}};
        __arm_vst2q_f32(out + h * QStride, pair);
    }
    return true;
}

#undef CTATTN_KV_MVE_CODE_WORD
#undef CTATTN_KV_MVE_HALF_WORD
#undef CTATTN_KV_MVE_FMA
#undef CTATTN_KV_MVE_VCVTT
#undef CTATTN_KV_MVE_VCVTB

#endif  // CTATTN_HAS_MVE_FLOAT

}  // namespace ctattn::simd::kv_mve
