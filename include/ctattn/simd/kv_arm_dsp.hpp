// SPDX-License-Identifier: Apache-2.0
// Cortex-M (FPU + DSP extension: M4F, M7, M55) bodies of the int8 decode passes (base/kv_storage.hpp
// rows: x_d = s e_d, e_d in [-127, 127]) for two heads of head_dim 8, the integer arithmetic of
// kernels/decode/scalar_heads.hpp's int8 passes step for step (so a Cortex-M's logits are the host
// scalar build's, bit for bit):
//   1. scores: (Q_h . e_j) (s_j r_h), Q_h a head's query in int16: per key LDRD, 4 SXTB16 (the
//      row's 8 codes as int16 pairs) and 8 SMLAD for both heads, |Q . e| <= 8 x 32767 x 127 < 2^25;
//   2. weights: w = 2^(s' - m) by simd/math.hpp's exp2_clamped, and W = round(w s_v U / S), the
//      weight times its value row's scale in int16 units, two keys' W per word (SMLAD's operand);
//   3. values: sum_j W_j e_j[d] in int32 over pairs of keys: two rows' halfwords side by side
//      (PKHBT/PKHTB), SXTB16 and one SMLAD per element, pair and head.
// Declared on every target, defined where simd/target.hpp has both the VFP assembly and the DSP
// extension (kv_arm_dsp::available); the decode kernel chooses.
#pragma once

#include "target.hpp"
#include "math.hpp"

#include <cstddef>
#include <cstdint>

namespace ctattn::simd::kv_arm_dsp {

/// Whether the bodies below are defined: Cortex-M with the VFP assembly and the DSP extension, in an
/// optimized build (pass 3's assembly needs all of r4-r11, where GCC keeps r7 as the frame pointer
/// at -O0; there the C loops run, which compute the same numbers).
#if defined(CTATTN_VFP_ROW_PROJECTION) && defined(CTATTN_Q8_ARM_DSP) && defined(__OPTIMIZE__)
#define CTATTN_KV_INT8_ARM_DSP 1
inline constexpr bool available = true;
#else
inline constexpr bool available = false;
#endif

/// Pass 1's query pair: both heads' int16 codes in SMLAD's order per head (Q0|Q2, Q1|Q3, Q4|Q6,
/// Q5|Q7: SXTB16 of a word of codes gives e0|e2, with ROR #8 e1|e3), each head's scale r_h, and
/// the running maxima (in and out).
struct query_pair {
    std::uint32_t packed[8];  ///< head 0's four words, then head 1's
    float scale[2];           ///< r_h: q_h[d] ~ r_h Q_h[d]
    float max[2];             ///< each head's largest score so far
};

/// Pass 2's state: the maxima (in), the weights' sums and the NaN probes (in and out), and
/// U / S, the factor that turns w s_v into int16 units (in).
struct weight_state {
    float max[2];       ///< each head's largest score
    float sum[2];       ///< sum_j w_j per head
    float probe[2];     ///< sum_j (s'_j - m) per head: not finite iff a score was NaN or -inf
    float to_weight;    ///< U / S
    float unused;       ///< (the assembly's per-key factor slot)
};

/// The word that ends pass 3's weights (no W is negative, so no pair of weights is this word).
inline constexpr std::uint32_t weights_end = 0x80008000u;

/// Two heads' query codes (16 int16 values, head 0's 8 then head 1's) into q.packed.
inline void pack_query_pair(const std::int32_t* codes, query_pair& q) noexcept {
    for (std::size_t h = 0; h < 2; ++h)
        for (std::size_t w = 0; w < 2; ++w) {
            const std::int32_t* c = codes + h * 8 + w * 4;
            q.packed[h * 4 + w * 2] = (std::uint32_t(c[0]) & 0xffffu) | (std::uint32_t(c[2]) << 16);
            q.packed[h * 4 + w * 2 + 1] = (std::uint32_t(c[1]) & 0xffffu) | (std::uint32_t(c[3]) << 16);
        }
}

/// Pass 1 over n >= 1 int8 key rows from k (KvStride bytes apart, 4-byte aligned): scores[2j + h]
/// = float(Q_h . e_j) (s_j r_h), s_j from key_scales (16 bits, base/kv_storage.hpp), and q.max[h]
/// = max(q.max[h], scores[2j + h]).
template <std::size_t KvStride>
void scores_2x8(query_pair& q, const std::int8_t* k, const std::uint16_t* key_scales, std::size_t n,
                float* scores) noexcept;
/// The largest of n >= 1 16-bit scales (their bits: scales are >= 0, so the largest bits are the
/// largest scale).
inline std::uint32_t largest_scale(const std::uint16_t* scales, std::size_t n) noexcept;
/// Pass 2 over `pairs` >= 1 pairs of keys: from scores (2 per key) and value_scales (1 per key),
/// each head's w = exp2_clamped(max(s' - m, -151)), its sum and probe in st, and into words (2
/// per pair, may lie behind scores: each pair's words are written after its scores are read)
/// (W_h,j | W_h,j+1 << 16), W = round(w (s_v U / S)) (one fused multiply-add onto 1.5 x 2^23).
inline void weights_2x8(const float* scores, const std::uint16_t* value_scales, std::uint32_t* words,
                        std::size_t pairs, weight_state& st) noexcept;
/// Pass 3: out[h][d] = sum_j W_h,j e_j[d] in int32 over the pairs of value rows from v (KvStride
/// bytes apart, 4-byte aligned) whose weights are in words (weights_2x8's), up to weights_end.
template <std::size_t KvStride>
void weighted_sum_2x8(const std::uint32_t* words, const std::int8_t* v, std::int32_t* out) noexcept;

#if defined(CTATTN_KV_INT8_ARM_DSP)
#if defined(CTATTN_VFP_HAS_VMAXNM)
#define CTATTN_KV_INT8_MAX(m, s) "vmaxnm.f32 " m ", " m ", " s "\n"
#define CTATTN_KV_INT8_CLAMP(x, low) "vmaxnm.f32 " x ", " x ", " low "\n"
#else  // NaN is unordered: the max skips it (as VMAXNM), the clamp takes the bound (as VMAXNM)
#define CTATTN_KV_INT8_MAX(m, s) "vcmpe.f32 " s ", " m "\n vmrs APSR_nzcv, fpscr\n it gt\n vmovgt.f32 " m ", " s "\n"
#define CTATTN_KV_INT8_CLAMP(x, low) "vcmpe.f32 " x ", " low "\n vmrs APSR_nzcv, fpscr\n it lt\n vmovlt.f32 " x ", " low "\n"
#endif

// The packed queries stay in s16-s23 and come over to core registers a pair of words at a time
// (one VMOV each), so the loop needs 12 core registers; per key: LDRH of its scale (a shift makes
// it a float) and its two factors, LDRD, 4 SXTB16, 4 VMOV, 8 SMLAD, the two sums to s8-s9 (VMOV)
// and floats (VCVT), times the factors, stored, two maxima.
template <std::size_t KvStride>
inline void scores_2x8(query_pair& q, const std::int8_t* k, const std::uint16_t* key_scales, std::size_t n,
                       float* scores) noexcept {
    static_assert(KvStride % 4 == 0 && KvStride <= 1020, "ctattn: int8 key rows 4-byte aligned, LDRD's offset");
    static_assert(offsetof(query_pair, scale) == 32 && offsetof(query_pair, max) == 40, "ctattn: query_pair's layout");
    std::uint32_t lo, hi, t0, t1, x0, x1, a, b;
    asm volatile(
        "vldmia %[q], {s16-s23}\n"
        "vldr s14, [%[q], #32]\n vldr s15, [%[q], #36]\n"
        "vldr s10, [%[q], #40]\n vldr s11, [%[q], #44]\n"
        "1:\n"
        "ldrh %[x0], [%[ks]], #2\n"
        "lsls %[x0], %[x0], #15\n"
        "vmov s12, %[x0]\n"
        "vmul.f32 s13, s12, s15\n vmul.f32 s12, s12, s14\n"
        "ldrd %[lo], %[hi], [%[k]], #%c[step]\n"
        "sxtb16 %[t0], %[lo]\n sxtb16 %[t1], %[lo], ror #8\n"
        "sxtb16 %[lo], %[hi]\n sxtb16 %[hi], %[hi], ror #8\n"
        "vmov %[x0], %[x1], s16, s17\n smuad %[a], %[t0], %[x0]\n smlad %[a], %[t1], %[x1], %[a]\n"
        "vmov %[x0], %[x1], s18, s19\n smlad %[a], %[lo], %[x0], %[a]\n smlad %[a], %[hi], %[x1], %[a]\n"
        "vmov %[x0], %[x1], s20, s21\n smuad %[b], %[t0], %[x0]\n smlad %[b], %[t1], %[x1], %[b]\n"
        "vmov %[x0], %[x1], s22, s23\n smlad %[b], %[lo], %[x0], %[b]\n smlad %[b], %[hi], %[x1], %[b]\n"
        "vmov s8, s9, %[a], %[b]\n"
        "vcvt.f32.s32 s8, s8\n vcvt.f32.s32 s9, s9\n"
        "vmul.f32 s8, s8, s12\n vmul.f32 s9, s9, s13\n"
        "vstmia %[scores]!, {s8-s9}\n" CTATTN_KV_INT8_MAX("s10", "s8") CTATTN_KV_INT8_MAX("s11", "s9")
        "subs %[n], %[n], #1\n"
        "bne 1b\n"
        "vstr s10, [%[q], #40]\n vstr s11, [%[q], #44]\n"
        : [k] "+r"(k), [ks] "+r"(key_scales), [n] "+r"(n), [scores] "+r"(scores), [lo] "=&r"(lo), [hi] "=&r"(hi),
          [t0] "=&r"(t0), [t1] "=&r"(t1), [x0] "=&r"(x0), [x1] "=&r"(x1), [a] "=&r"(a), [b] "=&r"(b)
        : [q] "r"(&q), [step] "i"(KvStride)
        : "cc", "memory", "s8", "s9", "s10", "s11", "s12", "s13", "s14", "s15", "s16", "s17", "s18", "s19", "s20",
          "s21", "s22", "s23");
}

// Four scales per LDRD; USUB16 sets each halfword's GE flag where the new scale is not below the
// running one, SEL takes it there: two running maxima (one per halfword), joined at the end.
inline std::uint32_t largest_scale(const std::uint16_t* scales, std::size_t n) noexcept {
    std::uint32_t largest = 0;
    std::size_t i = 0;
    for (; i < n && (reinterpret_cast<std::uintptr_t>(scales + i) & 3u) != 0; ++i)  // LDRD: 4-byte aligned
        largest = scales[i] > largest ? scales[i] : largest;
    const std::size_t quads = (n - i) / 4;
    if (quads > 0) {
        const std::uint16_t* p = scales + i;
        std::uint32_t pair_max = 0;
        std::size_t count = quads;
        std::uint32_t lo, hi, t;
        asm volatile(
            "1:\n"
            "ldrd %[lo], %[hi], [%[p]], #8\n"
            "usub16 %[t], %[lo], %[m]\n sel %[m], %[lo], %[m]\n"
            "usub16 %[t], %[hi], %[m]\n sel %[m], %[hi], %[m]\n"
            "subs %[count], %[count], #1\n"
            "bne 1b\n"
            : [p] "+r"(p), [count] "+r"(count), [m] "+r"(pair_max), [lo] "=&r"(lo), [hi] "=&r"(hi), [t] "=&r"(t)
            :
            : "cc", "memory");
        pair_max = (pair_max >> 16) > (pair_max & 0xffffu) ? pair_max >> 16 : pair_max & 0xffffu;
        largest = pair_max > largest ? pair_max : largest;
        i += 4 * quads;
    }
    for (; i < n; ++i) largest = scales[i] > largest ? scales[i] : largest;
    return largest;
}

/// Pass 2's constants: the addends of both heads' Horner steps (c4, c3, c2, c1, c0 each: VFMA
/// accumulates into its addend, so each key needs fresh copies) and of W's rounding (1.5 x 2^23
/// twice), reloaded into s6-s17 by one VLDM per key; then c5, 1.5 x 2^23 and the clamp (s18-s20).
alignas(8) inline constexpr float weight_constants[15] = {
    simd::detail::exp2_c4, simd::detail::exp2_c3, simd::detail::exp2_c2, simd::detail::exp2_c1, simd::detail::exp2_c0,
    simd::detail::exp2_c4, simd::detail::exp2_c3, simd::detail::exp2_c2, simd::detail::exp2_c1, simd::detail::exp2_c0,
    12582912.0f, 12582912.0f, simd::detail::exp2_c5, 12582912.0f, simd::exp2_lowest};

// One key, both heads (s0-s17 scratch): its two scores from [s], its value scale from [vs]
// (LDRH, a shift to a float's bits, times U / S in s30 = the factor in s31); x = s' - m into the
// probes; exp2_clamped step for step (t = x + 1.5 x 2^23, n = t - 1.5 x 2^23, f = x - n, Horner
// from c5, 2^(n + 100) from t's bits); w into the sums; W = w f + 1.5 x 2^23 fused, whose low
// halfword is round(w f), into core registers W0, W1.
#define CTATTN_KV_INT8_WEIGH(W0, W1)                                                                      \
    "vldmia %[s]!, {s0-s1}\n"                                                                             \
    "ldrh %[t0], [%[vs]], #2\n lsls %[t0], %[t0], #15\n vmov s31, %[t0]\n vmul.f32 s31, s31, s30\n"      \
    "vldmia %[c], {s6-s17}\n"                                                                             \
    "vsub.f32 s0, s0, s24\n vsub.f32 s1, s1, s25\n"                                                       \
    "vadd.f32 s28, s28, s0\n vadd.f32 s29, s29, s1\n" CTATTN_KV_INT8_CLAMP("s0", "s20")                   \
    CTATTN_KV_INT8_CLAMP("s1", "s20")                                                                     \
    "vadd.f32 s2, s0, s19\n vadd.f32 s3, s1, s19\n"                                                       \
    "vsub.f32 s4, s2, s19\n vsub.f32 s5, s3, s19\n"                                                       \
    "vsub.f32 s0, s0, s4\n vsub.f32 s1, s1, s5\n"                                                         \
    "vfma.f32 s6, s18, s0\n vfma.f32 s11, s18, s1\n"                                                      \
    "vfma.f32 s7, s6, s0\n vfma.f32 s12, s11, s1\n"                                                       \
    "vfma.f32 s8, s7, s0\n vfma.f32 s13, s12, s1\n"                                                       \
    "vfma.f32 s9, s8, s0\n vfma.f32 s14, s13, s1\n"                                                       \
    "vfma.f32 s10, s9, s0\n vfma.f32 s15, s14, s1\n"                                                      \
    "vmov %[t0], %[t1], s2, s3\n"                                                                         \
    "lsls %[t0], %[t0], #23\n lsls %[t1], %[t1], #23\n"                                                   \
    "add %[t0], %[t0], #0x71800000\n add %[t1], %[t1], #0x71800000\n"                                     \
    "vmov s2, s3, %[t0], %[t1]\n"                                                                         \
    "vmul.f32 s10, s10, s2\n vmul.f32 s15, s15, s3\n"                                                     \
    "vadd.f32 s26, s26, s10\n vadd.f32 s27, s27, s15\n"                                                   \
    "vfma.f32 s16, s10, s31\n vfma.f32 s17, s15, s31\n"                                                   \
    "vmov " W0 ", " W1 ", s16, s17\n"

inline void weights_2x8(const float* scores, const std::uint16_t* value_scales, std::uint32_t* words,
                        std::size_t pairs, weight_state& st) noexcept {
    static_assert(sizeof(weight_state) == 32, "ctattn: weight_state's layout (s24-s31)");
    // The constants are read once per key: from a copy on the stack (RAM, no wait states), not
    // from .rodata in flash (Cortex-M4F at 5 wait states: 205 kB of flash reads per token).
    alignas(8) float constants[15];
    for (std::size_t i = 0; i < 15; ++i) constants[i] = weight_constants[i];
    std::uint32_t t0, t1, a0, a1;
    asm volatile(
        "vldr s18, [%[c], #48]\n vldr s19, [%[c], #52]\n vldr s20, [%[c], #56]\n"
        "vldmia %[st], {s24-s31}\n"
        "1:\n" CTATTN_KV_INT8_WEIGH("%[a0]", "%[a1]") CTATTN_KV_INT8_WEIGH("%[t0]", "%[t1]")
        "pkhbt %[a0], %[a0], %[t0], lsl #16\n"
        "pkhbt %[a1], %[a1], %[t1], lsl #16\n"
        "strd %[a0], %[a1], [%[w]], #8\n"
        "subs %[pairs], %[pairs], #1\n"
        "bne 1b\n"
        "vstmia %[st], {s24-s31}\n"
        : [s] "+r"(scores), [vs] "+r"(value_scales), [w] "+r"(words), [pairs] "+r"(pairs), [t0] "=&r"(t0),
          [t1] "=&r"(t1), [a0] "=&r"(a0), [a1] "=&r"(a1)
        : [c] "r"(constants), [st] "r"(&st)
        : "cc", "memory", "s0", "s1", "s2", "s3", "s4", "s5", "s6", "s7", "s8", "s9", "s10", "s11", "s12", "s13",
          "s14", "s15", "s16", "s17", "s18", "s19", "s20", "s24", "s25", "s26", "s27", "s28", "s29", "s30", "s31");
}
#undef CTATTN_KV_INT8_WEIGH
#undef CTATTN_KV_INT8_CLAMP
#undef CTATTN_KV_INT8_MAX

// One half row (4 elements) of every pair until weights_end. The 8 sums live in r4-r11 (head 0's
// 4 elements, then head 1's), the weight word in lr, so the loop's other 5 registers (row and
// weight pointers, three words) fit the rest: no count register, the end is the marker word.
// Per pair: two LDR (rows t and t + 1), PKHBT (t's elements 0-1 beside t+1's), PKHTB (2-3),
// SXTB16 pairs and SMLADs, W_1 and W_0 again (lr is the only free register), the next pair's W_0
// and the test for the marker.
#define CTATTN_KV_INT8_PV_HALF(START)                                                                      \
    "ldr %[vp], %[v0]\n" START "ldr %[wp], %[w0]\n"                                                        \
    "mov r4, #0\n mov r5, #0\n mov r6, #0\n mov r7, #0\n"                                                  \
    "mov r8, #0\n mov r9, #0\n mov r10, #0\n mov r11, #0\n"                                                \
    "ldr lr, [%[wp]], #8\n"                                                                                \
    "cmp lr, #0x80008000\n"                                                                                \
    "beq 2f\n"                                                                                             \
    "1:\n"                                                                                                 \
    "ldr %[b], [%[vp], #%c[step]]\n"                                                                       \
    "ldr %[a], [%[vp]], #%c[pair_step]\n"                                                                  \
    "pkhbt %[t], %[a], %[b], lsl #16\n"                                                                    \
    "pkhtb %[b], %[b], %[a], asr #16\n"                                                                    \
    "sxtb16 %[a], %[t]\n sxtb16 %[t], %[t], ror #8\n"                                                      \
    "smlad r4, %[a], lr, r4\n smlad r5, %[t], lr, r5\n"                                                    \
    "ldr lr, [%[wp], #-4]\n"                                                                               \
    "smlad r8, %[a], lr, r8\n smlad r9, %[t], lr, r9\n"                                                    \
    "sxtb16 %[a], %[b]\n sxtb16 %[b], %[b], ror #8\n"                                                      \
    "smlad r10, %[a], lr, r10\n smlad r11, %[b], lr, r11\n"                                                \
    "ldr lr, [%[wp], #-8]\n"                                                                               \
    "smlad r6, %[a], lr, r6\n smlad r7, %[b], lr, r7\n"                                                    \
    "ldr lr, [%[wp]], #8\n"                                                                                \
    "cmp lr, #0x80008000\n"                                                                                \
    "bne 1b\n"                                                                                             \
    "2:\n"

template <std::size_t KvStride>
inline void weighted_sum_2x8(const std::uint32_t* words, const std::int8_t* v, std::int32_t* out) noexcept {
    static_assert(KvStride % 4 == 0 && 2 * KvStride <= 252, "ctattn: int8 value rows 4-byte aligned, LDR's offsets");
    const std::int8_t* const v0 = v;
    const std::uint32_t* const w0 = words;
    std::int32_t* const out0 = out;
    const std::int8_t* vp;
    const std::uint32_t* wp;
    std::uint32_t a, b, t;
    asm volatile(
        CTATTN_KV_INT8_PV_HALF("")
        "ldr %[vp], %[out]\n"
        "stmia %[vp], {r4-r7}\n"
        "adds %[vp], %[vp], #32\n"
        "stmia %[vp], {r8-r11}\n"
        CTATTN_KV_INT8_PV_HALF("adds %[vp], %[vp], #4\n")
        "ldr %[vp], %[out]\n"
        "adds %[vp], %[vp], #16\n"
        "stmia %[vp], {r4-r7}\n"
        "adds %[vp], %[vp], #32\n"
        "stmia %[vp], {r8-r11}\n"
        : [vp] "=&r"(vp), [wp] "=&r"(wp), [a] "=&r"(a), [b] "=&r"(b), [t] "=&r"(t)
        : [v0] "m"(v0), [w0] "m"(w0), [out] "m"(out0), [step] "i"(KvStride), [pair_step] "i"(2 * KvStride)
        : "cc", "memory", "r4", "r5", "r6", "r7", "r8", "r9", "r10", "r11", "lr");
}
#undef CTATTN_KV_INT8_PV_HALF
#endif
#undef CTATTN_KV_INT8_ARM_DSP

}  // namespace ctattn::simd::kv_arm_dsp
