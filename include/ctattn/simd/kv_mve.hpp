// SPDX-License-Identifier: Apache-2.0
// Helium (MVE with float lanes: Cortex-M55, M85) decode attention over a float16 or int8 KV cache
// (base/kv_storage.hpp), two query heads of head_dim 8 sharing a KV head (or one):
//     s_j = (q_h log2(e) / sqrt(head_dim)) . k_j                                  scores in base 2
//     O_h = sum_j 2^(s_j - m) v_j / sum_j 2^(s_j - m),   m = max_j s_j
// with the arithmetic of kernels/decode/scalar_heads.hpp bit for bit, so a Helium core decodes what
// the host's scalar build decodes (tests/embedded/stories_small_ram_fw.cpp). float16 rows, the C
// loops' float arithmetic:
//   1. scores, 4 keys per vector (assembly): each key row read where it is stored by vector-base
//      word gathers (4 words a row) and widened in registers (VCVTB/VCVTT), each lane the C loop's
//      chain q_0 k_0, then fma(q_d, k_d, s) for d = 1 .. 7; the last n % 4 keys by the C loop itself;
//   2. weights 2^(s - m) 4 at a time by simd/math.hpp's exp2_clamped with its fused steps, summed
//      lane by lane in key order in the FPU (the C loop's sum);
//   3. P V (assembly): each value row one VLDRW, its even and odd elements widened by VCVTB/VCVTT
//      into two accumulators per head (lanes = dimensions, keys in order, one fused multiply-add
//      each), interleaved back by VST2 after the division by the sum.
// int8 rows (codes e, row scale s), the scalar kernel's integer passes (see its header): int16
// queries Q_h, r_h; pass 1 (Q_h . e_j) exact in int32 by VMLADAV.S16 on the row widened by one
// VLDRB.S16, times (s_j r_h) 4 keys at a time; pass 2 as for float16 rows, then W = round(w s_j U /
// S) 4 at a time; pass 3 sum_j W_j e_j exact in int32 (VLDRB.S32, VMLA.S32 by W). Whole chunks of
// 4 keys (pass 3: pairs) in assembly (pass 2 head by head, passes 1 and 3 for two heads), the last
// keys and a lone head's passes 1 and 3 by intrinsics.
// Never a row converted into RAM. The one difference from the FPU: Helium's float lanes flush
// denormal results to 0, so a weight below 2^-126 (a score 126 below the max, in base 2) is 0
// here and a denormal there, beside the max key's weight of 1 (int8: W rounds to 0 either way, and
// the sum, >= 1 once the max key is in, does not see it; only a score s_j r_h or an output below
// 2^-126 would differ). Declared on every target, defined
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
/// at most 127 words apart (4 float16 rows are one gather's write-back step, <= 508 bytes; int8:
/// kept to the float16 passes' 127 bytes for two rows).
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

// One word of 4 keys (lanes) in q5 (two float16 elements) times the query elements in
// the named core registers (head 0's, head 1's), into q0 (head 0) and q1 (head 1): FIRST starts the
// chains with VMUL. The word's elements in order, as the C loop's d. q4 and q6 are scratch.
#define CTATTN_KV_MVE_FMA(OP, Q, A, B) OP ".f32 q0, " Q ", " A "\n " OP ".f32 q1, " Q ", " B "\n"
#define CTATTN_KV_MVE_HALF_WORD(OP0, A0, B0, A1, B1) \
    CTATTN_KV_MVE_VCVTB(6, 5) CTATTN_KV_MVE_FMA(OP0, "q6", A0, B0) CTATTN_KV_MVE_VCVTT(6, 5) CTATTN_KV_MVE_FMA("vfma", "q6", A1, B1)

// Pass 1 for two heads over whole chunks of 4 float16 keys: per chunk the rows' words by
// vector-base gathers (the first steps the 4 addresses on by write-back), widened as above, the 16
// query elements brought into r4-r6, r8-r12 by two LDMs (dimensions 0-3, then 4-7, of both heads),
// the running maxima, two stores. io (28 words): [0, 8)
// dimensions 0-3 of heads 0 and 1, [8, 16) dimensions 4-7, [16, 20) the rows' addresses, [20, 24)
// head 0's max, [24, 28) head 1's, each in and out.
template <std::size_t KvStride>
inline void scores_2x8(std::uint32_t* io, float* scores0, float* scores1, std::size_t chunks) noexcept {
    constexpr int step = int(4 * KvStride * sizeof(std::uint16_t));
    std::uint32_t* const dims_4_7 = io + 8;
#define CTATTN_KV_MVE_SCORES(ROWS)                                                                        \
    "vldrw.u32 q7, [%[io], #32]\n vldrw.u32 q2, [%[io], #48]\n vldrw.u32 q3, [%[io], #64]\n"                \
    "wls lr, %[chunks], 2f\n"                                                                              \
    "1:\n"                                                                                                 \
    "ldmdb %[io], {r4, r5, r6, r8, r9, r10, r11, r12}\n" ROWS                                              \
    "vmaxnm.f32 q2, q2, q0\n vmaxnm.f32 q3, q3, q1\n"                                                      \
    "vstrw.32 q0, [%[s0]], #16\n vstrw.32 q1, [%[s1]], #16\n"                                              \
    "le lr, 1b\n"                                                                                          \
    "2:\n"                                                                                                 \
    "vstrw.32 q7, [%[io], #32]\n vstrw.32 q2, [%[io], #48]\n vstrw.32 q3, [%[io], #64]\n"                  \
    : [s0] "+r"(scores0), [s1] "+r"(scores1)                                                               \
    : [io] "r"(dims_4_7), [chunks] "r"(chunks), [step] "i"(step)                                           \
    : "memory", "lr", "r4", "r5", "r6", "r8", "r9", "r10", "r11", "r12", "d0", "d1", "d2", "d3", "d4", "d5", \
      "d6", "d7", "d8", "d9", "d10", "d11", "d12", "d13", "d14", "d15"
    asm volatile(CTATTN_KV_MVE_SCORES(
        "vldrw.u32 q5, [q7, #%c[step]]!\n" CTATTN_KV_MVE_HALF_WORD("vmul", "r4", "r9", "r5", "r10")
        "vldrw.u32 q5, [q7, #4]\n" CTATTN_KV_MVE_HALF_WORD("vfma", "r6", "r11", "r8", "r12")
        "ldm %[io], {r4, r5, r6, r8, r9, r10, r11, r12}\n"
        "vldrw.u32 q5, [q7, #8]\n" CTATTN_KV_MVE_HALF_WORD("vfma", "r4", "r9", "r5", "r10")
        "vldrw.u32 q5, [q7, #12]\n" CTATTN_KV_MVE_HALF_WORD("vfma", "r6", "r11", "r8", "r12")));
#undef CTATTN_KV_MVE_SCORES
}

// Pass 3 for two heads: acc[0, 4) head 0's even dimensions, [4, 8) its odd ones, [8, 16) head 1's
// the same; acc_h[d] = sum_j p_h[j] v_j[d], j in order, one fused multiply-add each. Per two keys
// one LDRD of each head's two weights, the two float16 rows (one VLDRW each), 4 VCVTB/VCVTT, 8
// VFMA by scalar, LE. n >= 1.
template <std::size_t KvStride>
inline void weighted_sum_2x8(const float* p0, const float* p1, const std::uint16_t* v, std::size_t n,
                             float* acc) noexcept {
    constexpr int row_bytes = int(KvStride * sizeof(std::uint16_t));
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
    asm volatile(CTATTN_KV_MVE_VALUES("vldrw.u32 q4, [%[v]], #%c[two_rows]\n vldrw.u32 q5, [%[v], #-%c[row]]\n",
                                      "vldrw.u32 q4, [%[v]]\n"));
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

// A float16 key's score for both heads by the C loop itself (the last keys past the whole chunks).
[[gnu::always_inline]] inline void score_key(const float (*qs)[8], const std::uint16_t* row, float* s) noexcept {
    float key[8];
    CTATTN_UNROLL for (std::size_t d = 0; d < 8; ++d) key[d] = arm_vfp::half_to_float(row[d]);
    CTATTN_UNROLL for (std::size_t h = 0; h < 2; ++h) {
        float dot = qs[h][0] * key[0];
        CTATTN_UNROLL for (std::size_t d = 1; d < 8; ++d) dot = __builtin_fmaf(qs[h][d], key[d], dot);
        s[h] = dot;
    }
}

// ---- int8 rows: kernels/decode/scalar_heads.hpp's integer passes ---------------------------------
// The same integers and float steps as int8_score_pass, int8_weigh and int8_attend there (whose
// header states the passes), so the same bits: the query coding (4 elements a vector, its steps);
// pass 1's dots Q_h . e_j exact in int32 (VLDRB.S16 widens a row to one q register, VMLADAV.S16
// gives each head's dot), then 4 keys at a time float(dot) (s_j r_h) and the running maxima; pass
// 2 4 keys at a time, the weights summed in key order in the FPU (add_lanes_in_order) and W =
// round(w (s_j U / S)) by the fused multiply-add onto 1.5 x 2^23; pass 3 exact in int32 (VLDRB.S32
// and VMLA.S32 by each head's W: integer sums in any order are the same). weight_units repeats
// scalar_heads.hpp's int8_weight_units (this level cannot include it): two lines, and
// tests/kernels/test_decode_typed_rows.cpp checks the bits (past 516 keys too).
namespace int8_rows {
inline constexpr float round_magic = 12582912.0f;  // 1.5 x 2^23: x + it holds round(x) in its low bits
// U: 32767, less past 516 keys (|sum_j W_j e_j| <= n U 127 < 2^31).
inline std::int32_t weight_units(std::size_t n) noexcept {
    return n <= 516 ? 32767 : static_cast<std::int32_t>(std::size_t{0x7fffffff} / (127 * n));
}
}  // namespace int8_rows

// Pass 1 over whole chunks of 4 int8 keys for two heads (assembly): per key its row by VLDRB.S16
// (8 codes widened to int16, one q register; the base must be r0-r7), each head's dot by
// VMLADAV.S16, both stored by one STRD; per chunk the 8 dots back as two q registers by VLD20/VLD21
// (deinterleaved: head 0's keys, head 1's), VCVT, the keys' scales by one VLDRH.U32 and a shift,
// times r_h (by scalar), the products, the running maxima, two stores. io: [0] r_0, [1] r_1 (float
// bits), [2] the chunks, [4, 8) head 0's codes, [8, 12) head 1's, [12, 16) head 0's maxima, [16,
// 20) head 1's (in and out), [20, 28) the dots.
template <std::size_t KvStride>
inline void int8_scores_2x8(std::uint32_t* io, const std::int8_t* k, const std::uint16_t* key_scales,
                            float* scores0, float* scores1) noexcept {
#define CTATTN_KV_MVE_INT8_DOTS(OFFSET)                                                                   \
    "vldrb.s16 q3, [%[k]], #%c[step]\n vmladav.s16 r4, q1, q3\n vmladav.s16 r6, q2, q3\n"                \
    "strd r4, r6, [%[io], #" OFFSET "]\n"
    asm volatile(
        "vldrw.u32 q1, [%[io], #16]\n vldrw.u32 q2, [%[io], #32]\n"
        "vldrw.u32 q0, [%[io], #48]\n vldrw.u32 q6, [%[io], #64]\n"
        "ldr r4, [%[io], #8]\n"
        "wls lr, r4, 2f\n"
        "1:\n"
        CTATTN_KV_MVE_INT8_DOTS("80") CTATTN_KV_MVE_INT8_DOTS("88") CTATTN_KV_MVE_INT8_DOTS("96")
        CTATTN_KV_MVE_INT8_DOTS("104")
        "add r4, %[io], #80\n"
        "vld20.32 {q4, q5}, [r4]\n vld21.32 {q4, q5}, [r4]\n"
        "vldrh.u32 q7, [%[ks]], #8\n vshl.i32 q7, q7, #15\n"
        "ldrd r4, r6, [%[io]]\n"
        "vcvt.f32.s32 q4, q4\n vcvt.f32.s32 q5, q5\n"
        "vmul.f32 q3, q7, r4\n vmul.f32 q4, q4, q3\n"
        "vmul.f32 q3, q7, r6\n vmul.f32 q5, q5, q3\n"
        "vmaxnm.f32 q0, q0, q4\n vmaxnm.f32 q6, q6, q5\n"
        "vstrw.32 q4, [%[s0]], #16\n vstrw.32 q5, [%[s1]], #16\n"
        "le lr, 1b\n"
        "2:\n"
        "vstrw.32 q0, [%[io], #48]\n vstrw.32 q6, [%[io], #64]\n"
        : [k] "+l"(k), [ks] "+l"(key_scales), [s0] "+r"(scores0), [s1] "+r"(scores1)
        : [io] "r"(io), [step] "i"(int(KvStride))
        : "memory", "lr", "r4", "r6", "d0", "d1", "d2", "d3", "d4", "d5", "d6", "d7", "d8", "d9", "d10", "d11",
          "d12", "d13", "d14", "d15");
#undef CTATTN_KV_MVE_INT8_DOTS
}

// Pass 2 over whole chunks of 4 int8 keys for one head (assembly), exp2_clamped_fused_4's and
// add_lanes_in_order's steps in their order: x = s - m into the probe (lane by lane), the clamp,
// 2^x (t = x + 1.5 x 2^23, f = x - (t - 1.5 x 2^23), Horner from c5 by VFMA/VFMAS, times 2^(n +
// 100) from t's bits), its 4 lanes into the sum in key order (FPU, s28), and over the scores W =
// bits(1.5 x 2^23 + w (s_v U / S)) - bits(1.5 x 2^23) (VFMA). The constants come back by one LDM
// per chunk (the core registers are too few for all of them and the pointers; the widening
// VLDRH's base must be r0-r7). io: [0] m, [1] 1.5 x 2^23, [2] c4, [3] c5, [4] c3, [5] c2, [6] c1,
// [7] c0, [8] (127 + 100) << 23, [9] U / S, [10] bits(1.5 x 2^23), [11] exp2_lowest, [12] the
// chunks, [13] the sum, [16, 20) the probe (the last two in and out).
inline void int8_weights_4(std::uint32_t* io, float* scores, const std::uint16_t* value_scales) noexcept {
    asm volatile(
        "vldrw.u32 q5, [%[io], #64]\n"
        "ldr r12, [%[io], #44]\n vdup.32 q6, r12\n"
        "vldr s28, [%[io], #52]\n"
        "ldr r12, [%[io], #48]\n"
        "wls lr, r12, 2f\n"
        "ldr r12, [%[io], #40]\n"
        "1:\n"
        "ldm %[io], {r2, r3, r4, r5, r8, r9, r10, r11}\n"
        "vldrw.u32 q0, [%[s]]\n vsub.f32 q0, q0, r2\n vadd.f32 q5, q5, q0\n vmaxnm.f32 q0, q0, q6\n"
        "vadd.f32 q1, q0, r3\n vsub.f32 q2, q1, r3\n vsub.f32 q2, q0, q2\n"
        "vdup.32 q3, r4\n vfma.f32 q3, q2, r5\n"
        "vfmas.f32 q3, q2, r8\n vfmas.f32 q3, q2, r9\n vfmas.f32 q3, q2, r10\n vfmas.f32 q3, q2, r11\n"
        "ldrd r4, r5, [%[io], #32]\n"
        "vshl.i32 q1, q1, #23\n vadd.i32 q1, q1, r4\n vmul.f32 q3, q3, q1\n"
        "vadd.f32 s28, s28, s12\n vadd.f32 s28, s28, s13\n vadd.f32 s28, s28, s14\n vadd.f32 s28, s28, s15\n"
        "vldrh.u32 q4, [%[vs]], #8\n vshl.i32 q4, q4, #15\n vmul.f32 q4, q4, r5\n"
        "vdup.32 q1, r3\n vfma.f32 q1, q3, q4\n vsub.i32 q1, q1, r12\n"
        "vstrw.32 q1, [%[s]], #16\n"
        "le lr, 1b\n"
        "2:\n"
        "vstr s28, [%[io], #52]\n vstrw.32 q5, [%[io], #64]\n"
        : [s] "+r"(scores), [vs] "+l"(value_scales)
        : [io] "r"(io)
        : "memory", "lr", "r2", "r3", "r4", "r5", "r8", "r9", "r10", "r11", "r12", "d0", "d1", "d2", "d3", "d4",
          "d5", "d6", "d7", "d8", "d9", "d10", "d11", "d12", "d13", "d14", "d15");
}

// Pass 3 for two heads over n >= 1 int8 value rows (assembly): acc[0, 8) head 0's sums, [8, 16)
// head 1's, acc_h[d] = sum_j W_h,j e_j[d] in int32 (w0, w1: each head's W, one word a key). Per two
// keys one LDRD of each head's two weights, 4 VLDRB.S32 (half a row each, base in r0-r7; the first
// steps two rows on, the others reach back), 8 VMLA.S32 by scalar, LE.
template <std::size_t KvStride>
inline void int8_weighted_sum_2x8(const std::int32_t* w0, const std::int32_t* w1, const std::int8_t* v,
                                  std::size_t n, std::int32_t* acc) noexcept {
    constexpr int row = int(KvStride);
    const std::size_t pairs = n / 2;
    std::int32_t w00, w01, w10, w11;
#define CTATTN_KV_MVE_INT8_ROW(LOW, HIGH, W0, W1)                                                          \
    "vldrb.s32 q4, " LOW "\n vldrb.s32 q5, " HIGH "\n"                                                     \
    "vmla.s32 q0, q4, " W0 "\n vmla.s32 q1, q5, " W0 "\n vmla.s32 q2, q4, " W1 "\n vmla.s32 q3, q5, " W1 "\n"
    asm volatile(
        "vmov.i32 q0, #0\n vmov.i32 q1, #0\n vmov.i32 q2, #0\n vmov.i32 q3, #0\n"
        "wls lr, %[pairs], 2f\n"
        "1:\n"
        "ldrd %[w00], %[w01], [%[w0]], #8\n"
        "ldrd %[w10], %[w11], [%[w1]], #8\n"
        CTATTN_KV_MVE_INT8_ROW("[%[v]], #%c[two_rows]", "[%[v], #%c[high0]]", "%[w00]", "%[w10]")
        CTATTN_KV_MVE_INT8_ROW("[%[v], #%c[low1]]", "[%[v], #%c[high1]]", "%[w01]", "%[w11]")
        "le lr, 1b\n"
        "2:\n"
        "tst %[n], #1\n"
        "beq 3f\n"
        "ldr %[w00], [%[w0]]\n ldr %[w10], [%[w1]]\n"
        CTATTN_KV_MVE_INT8_ROW("[%[v]]", "[%[v], #4]", "%[w00]", "%[w10]")
        "3:\n"
        "vstrw.32 q0, [%[acc]]\n vstrw.32 q1, [%[acc], #16]\n vstrw.32 q2, [%[acc], #32]\n vstrw.32 q3, [%[acc], #48]\n"
        : [w0] "+r"(w0), [w1] "+r"(w1), [v] "+l"(v), [w00] "=&r"(w00), [w01] "=&r"(w01), [w10] "=&r"(w10),
          [w11] "=&r"(w11)
        : [pairs] "r"(pairs), [n] "r"(n), [acc] "r"(acc), [two_rows] "i"(2 * row),
          [high0] "i"(4 - 2 * row), [low1] "i"(-row), [high1] "i"(4 - row)
        : "cc", "memory", "lr", "d0", "d1", "d2", "d3", "d4", "d5", "d6", "d7", "d8", "d9", "d10", "d11");
#undef CTATTN_KV_MVE_INT8_ROW
}


template <std::size_t Heads, std::size_t QStride, std::size_t KvStride>
inline bool attend_int8_heads_8(const float* q, const std::int8_t* k, const std::uint16_t* k_scales,
                                const std::int8_t* v, const std::uint16_t* v_scales, std::size_t begin,
                                std::size_t end, float q_scale, float* scores, float* out) noexcept {
    using int8_rows::round_magic;
    constexpr float minus_inf = -__builtin_inff(), float_max = __FLT_MAX__;
    const std::size_t n = end - begin, whole = n / 4;
    const std::uint32_t last = std::uint32_t(n % 4);

    // Each head's pre-scaled query as int16 codes Q = round(qs / r), r = max|qs| / 32767 (all zero
    // for a zero query); a query that is not finite (NaN or inf) goes to the caller's general core.
    // 4 elements a vector, int8_score_pass's steps (qs = q x q_scale, the fused multiply-add onto
    // 1.5 x 2^23, the clamp); max|qs| by VMAXNMAV, the same largest magnitude. (Helium flushes a
    // denormal qs to 0 where the FPU keeps it: its code is 0 either way unless every element of
    // the query is below ~2^-110.)
    alignas(16) std::int16_t codes[Heads][8];
    float unit[Heads];  // r_h
    CTATTN_UNROLL for (std::size_t h = 0; h < Heads; ++h) {
        const vec low = __arm_vmulq_n_f32(__arm_vld1q_f32(q + h * QStride), q_scale);
        const vec high = __arm_vmulq_n_f32(__arm_vld1q_f32(q + h * QStride + 4), q_scale);
        if ((__arm_vcmpneq_f32(low, low) | __arm_vcmpneq_f32(high, high)) != 0) return false;  // NaN
        const float max_abs = __arm_vmaxnmavq_f32(__arm_vmaxnmavq_f32(0.0f, low), high);
        if (!(max_abs <= float_max)) return false;
        const float to_int = max_abs > 0.0f ? 32767.0f / max_abs : 0.0f;
        auto code = [&](vec x) {
            const int32x4_t c = __arm_vsubq_n_s32(
                __arm_vreinterpretq_s32_f32(__arm_vfmaq_n_f32(__arm_vdupq_n_f32(round_magic), x, to_int)), 0x4b400000);
            return __arm_vmaxq_s32(__arm_vminq_s32(c, __arm_vdupq_n_s32(32767)), __arm_vdupq_n_s32(-32767));
        };
        __arm_vstrhq_s32(codes[h], code(low));
        __arm_vstrhq_s32(codes[h] + 4, code(high));
        unit[h] = max_abs / 32767.0f;
    }

    // Pass 1, 4 keys per chunk (two heads: whole chunks in assembly), scores[h n + j] = float(Q_h .
    // e_j) (s_j r_h) and the maxima lane by lane (VMAXNM skips NaN, as the C loop's compare does);
    // the last keys (a lone head: every key) with the dots through the stack (VMLADAV gives a core
    // register).
    float* const head_scores[2] = {scores, scores + (Heads == 2 ? n : 0)};
    alignas(16) std::uint32_t io[28];
    io[0] = __builtin_bit_cast(std::uint32_t, unit[0]), io[1] = __builtin_bit_cast(std::uint32_t, unit[Heads - 1]);
    __arm_vst1q_f32(reinterpret_cast<float*>(io + 12), __arm_vdupq_n_f32(minus_inf));
    __arm_vst1q_f32(reinterpret_cast<float*>(io + 16), __arm_vdupq_n_f32(minus_inf));
    std::size_t done = 0;  // chunks
    if constexpr (Heads == 2) {
        io[2] = std::uint32_t(whole);
        __builtin_memcpy(io + 4, codes, sizeof codes);
        int8_scores_2x8<KvStride>(io, k + begin * KvStride, k_scales + begin, scores, scores + n);
        done = whole;
    }
    const int16x8_t query0 = __arm_vldrhq_s16(codes[0]), query1 = __arm_vldrhq_s16(codes[Heads - 1]);
    vec max_v[2] = {__arm_vld1q_f32(reinterpret_cast<const float*>(io + 12)),
                    __arm_vld1q_f32(reinterpret_cast<const float*>(io + 16))};
    const std::int8_t* key = k + (begin + 4 * done) * KvStride;
    auto score_chunk = [&](std::size_t c, std::size_t count, mve_pred16_t present) {
        alignas(16) std::int32_t dots[2][4];
        for (std::size_t t = 0; t < count; ++t, key += KvStride) {
            const int16x8_t e = __arm_vldrbq_s16(key);
            dots[0][t] = __arm_vmladavq_s16(query0, e);
            if constexpr (Heads == 2) dots[1][t] = __arm_vmladavq_s16(query1, e);
        }
        const vec key_scales = row_scales(k_scales + begin + 4 * c, present);
        CTATTN_UNROLL for (std::size_t h = 0; h < Heads; ++h) {
            const vec s = __arm_vmulq_f32(__arm_vcvtq_f32_s32(__arm_vldrwq_s32(dots[h])),
                                          __arm_vmulq_n_f32(key_scales, unit[h]));
            __arm_vstrwq_p_f32(head_scores[h] + 4 * c, s, present);
            max_v[h] = __arm_vmaxnmq_m_f32(max_v[h], max_v[h], s, present);
        }
    };
    for (std::size_t c = done; c < whole; ++c) score_chunk(c, 4, mve_pred16_t(0xffff));
    if (last != 0) score_chunk(whole, last, __arm_vctp32q(last));
    float max[Heads];
    CTATTN_UNROLL for (std::size_t h = 0; h < Heads; ++h) {
        max[h] = __arm_vmaxnmvq_f32(minus_inf, max_v[h]);
        if (!(max[h] > minus_inf && max[h] < -minus_inf)) return false;
    }

    // Pass 2: S, the largest value scale (the largest bits: scales are >= 0), 8 at a time.
    std::uint16_t largest = 0;
    for (std::size_t i = 0; i < n; i += 8)
        largest = __arm_vmaxvq_u16(largest,
                                   __arm_vldrhq_z_u16(v_scales + begin + i, __arm_vctp16q(std::uint32_t(n - i))));
    const float value_max = kv_scale_value(largest);
    const float units = static_cast<float>(int8_rows::weight_units(n));
    const float to_weight = largest != 0 ? units / value_max : 0.0f;
    if (!(value_max <= float_max && to_weight <= float_max)) return false;
    // Then head by head, per chunk x = s - m into the probe (lane by lane, as the float16 passes: not
    // finite for a NaN or -inf score), w = 2^x into the sum in key order, and W over the scores:
    // whole chunks in assembly, the last keys here.
    float sum[Heads];
    alignas(16) std::uint32_t weigh_io[20] = {
        0, __builtin_bit_cast(std::uint32_t, round_magic), __builtin_bit_cast(std::uint32_t, detail::exp2_c4),
        __builtin_bit_cast(std::uint32_t, detail::exp2_c5), __builtin_bit_cast(std::uint32_t, detail::exp2_c3),
        __builtin_bit_cast(std::uint32_t, detail::exp2_c2), __builtin_bit_cast(std::uint32_t, detail::exp2_c1),
        __builtin_bit_cast(std::uint32_t, detail::exp2_c0), (127u + 100u) << 23, __builtin_bit_cast(std::uint32_t, to_weight),
        0x4b400000u, __builtin_bit_cast(std::uint32_t, exp2_lowest), std::uint32_t(whole), 0, 0, 0, 0, 0, 0, 0};
    CTATTN_UNROLL for (std::size_t h = 0; h < Heads; ++h) {
        weigh_io[0] = __builtin_bit_cast(std::uint32_t, max[h]);
        weigh_io[13] = 0;  // the sum: +0
        __arm_vst1q_u32(weigh_io + 16, __arm_vdupq_n_u32(0));
        int8_weights_4(weigh_io, head_scores[h], v_scales + begin);
        float head_sum = __builtin_bit_cast(float, weigh_io[13]);
        vec probe = __arm_vld1q_f32(reinterpret_cast<const float*>(weigh_io + 16));
        if (last != 0) {
            const mve_pred16_t present = __arm_vctp32q(last);
            float* const chunk = head_scores[h] + 4 * whole;
            const vec x = __arm_vpselq_f32(__arm_vsubq_n_f32(__arm_vldrwq_z_f32(chunk, present), max[h]),
                                           __arm_vdupq_n_f32(0.0f), present);
            probe = __arm_vaddq_f32(probe, x);
            // Lanes past the run weigh +0: adding them leaves the sum as it is.
            const vec w = __arm_vpselq_f32(exp2_clamped_fused_4(__arm_vmaxnmq_f32(x, __arm_vdupq_n_f32(exp2_lowest))),
                                           __arm_vdupq_n_f32(0.0f), present);
            head_sum = add_lanes_in_order(head_sum, w);
            const vec factor = __arm_vmulq_n_f32(row_scales(v_scales + begin + 4 * whole, present), to_weight);
            const int32x4_t weight = __arm_vsubq_n_s32(
                __arm_vreinterpretq_s32_f32(__arm_vfmaq_f32(__arm_vdupq_n_f32(round_magic), w, factor)),
                0x4b400000);  // w <= 1: W <= U
            __arm_vstrwq_p_s32(reinterpret_cast<std::int32_t*>(chunk), weight, present);
        }
        const float p = (__arm_vgetq_lane_f32(probe, 0) + __arm_vgetq_lane_f32(probe, 1)) +
                        (__arm_vgetq_lane_f32(probe, 2) + __arm_vgetq_lane_f32(probe, 3));
        if (!(p - p == 0.0f)) return false;  // NaN or -inf
        sum[h] = head_sum;
    }

    // Pass 3: acc_h[d] = sum_j W_h,j e_j[d], exact in int32 (two heads: assembly).
    const std::int32_t* const weights0 = reinterpret_cast<const std::int32_t*>(head_scores[0]);
    alignas(16) std::int32_t acc[2][8];
    if constexpr (Heads == 2) {
        int8_weighted_sum_2x8<KvStride>(weights0, reinterpret_cast<const std::int32_t*>(head_scores[1]),
                                        v + begin * KvStride, n, acc[0]);
    } else {
        int32x4_t low_sum = __arm_vdupq_n_s32(0), high_sum = __arm_vdupq_n_s32(0);
        const std::int8_t* value = v + begin * KvStride;
        for (std::size_t j = 0; j < n; ++j, value += KvStride) {
            low_sum = __arm_vmlaq_n_s32(low_sum, __arm_vldrbq_s32(value), weights0[j]);
            high_sum = __arm_vmlaq_n_s32(high_sum, __arm_vldrbq_s32(value + 4), weights0[j]);
        }
        __arm_vst1q_s32(acc[0], low_sum);
        __arm_vst1q_s32(acc[0] + 4, high_sum);
    }
    // O_h = float(acc_h) ((S / U) / sum_h).
    const float value_unit = value_max / units;
    CTATTN_UNROLL for (std::size_t h = 0; h < Heads; ++h) {
        const float out_unit = value_unit / sum[h];  // sum >= 1: the max contributes 2^0 = 1 exactly
        __arm_vst1q_f32(out + h * QStride, __arm_vmulq_n_f32(__arm_vcvtq_f32_s32(__arm_vld1q_s32(acc[h])), out_unit));
        __arm_vst1q_f32(out + h * QStride + 4,
                        __arm_vmulq_n_f32(__arm_vcvtq_f32_s32(__arm_vld1q_s32(acc[h] + 4)), out_unit));
    }
    return true;
}

// float16 rows: the three passes of the header.
template <std::size_t Heads, std::size_t QStride, std::size_t KvStride>
inline bool attend_half_heads_8(const std::uint16_t* k, const float* q, const std::uint16_t* v, std::size_t begin,
                                std::size_t end, float q_scale, float* scores, float* out) noexcept {
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
    constexpr std::uint32_t row_bytes = std::uint32_t(KvStride * sizeof(std::uint16_t));
    const std::uint32_t first = std::uint32_t(reinterpret_cast<std::uintptr_t>(k + begin * KvStride)) - 4 * row_bytes;
    const uint32x4_t rows = {first, first + row_bytes, first + 2 * row_bytes, first + 3 * row_bytes};
    __arm_vst1q_u32(io + 16, rows);
    __arm_vst1q_f32(reinterpret_cast<float*>(io + 20), __arm_vdupq_n_f32(minus_inf));
    __arm_vst1q_f32(reinterpret_cast<float*>(io + 24), __arm_vdupq_n_f32(minus_inf));
    float* const scores1 = scores + n;
    scores_2x8<KvStride>(io, scores, scores1, whole);
    float max[2] = {minus_inf, minus_inf};
    for (std::size_t j = 4 * whole; j < n; ++j) {
        float s[2];
        score_key(qs, k + (begin + j) * KvStride, s);
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
    weighted_sum_2x8<KvStride>(scores, Heads == 2 ? scores1 : scores, v + begin * KvStride, n, acc);
    CTATTN_UNROLL for (std::size_t h = 0; h < Heads; ++h) {
        const float32x4x2_t pair = {{__arm_vmulq_n_f32(__arm_vld1q_f32(acc + 8 * h), inv_sum[h]),
                                     __arm_vmulq_n_f32(__arm_vld1q_f32(acc + 8 * h + 4), inv_sum[h])}};
        __arm_vst2q_f32(out + h * QStride, pair);
    }
    return true;
}

template <kv_storage S, std::size_t Heads, std::size_t QStride, std::size_t KvStride>
inline bool attend_heads_8(const float* q, const typename S::element* k, const typename S::scale* k_scales,
                           const typename S::element* v, const typename S::scale* v_scales, std::size_t begin,
                           std::size_t end, float q_scale, float* scores, float* out) noexcept {
    static_assert(fits<S, Heads, 8, KvStride>, "ctattn: kv_mve::attend_heads_8 takes head_dim 8, 1 or 2 heads");
    if constexpr (std::is_same_v<S, kv_int8>)
        return attend_int8_heads_8<Heads, QStride, KvStride>(q, k, k_scales, v, v_scales, begin, end, q_scale, scores,
                                                             out);
    else
        return attend_half_heads_8<Heads, QStride, KvStride>(k, q, v, begin, end, q_scale, scores, out);
}

#undef CTATTN_KV_MVE_HALF_WORD
#undef CTATTN_KV_MVE_FMA
#undef CTATTN_KV_MVE_VCVTT
#undef CTATTN_KV_MVE_VCVTB

#endif  // CTATTN_HAS_MVE_FLOAT

}  // namespace ctattn::simd::kv_mve
