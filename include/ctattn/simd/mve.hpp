// SPDX-License-Identifier: Apache-2.0
// Helium (M-profile Vector Extension, MVE) with floating point: Cortex-M55, M85. ops<mve_arch> is
// the vector vocabulary on 4-float q registers (q0..q7), and the bodies the generic kernels leave to
// the ISA: e^x and 2^x (x <= 0) by the polynomials of simd/math.hpp, keys across lanes by gathers
// (decode attention, head_dim 8) and the one-token projection in strips of 4-float columns
// (vfma by a scalar: one activation load serves the strip's accumulators).
// Declared on every target; defined where simd/target.hpp sets CTATTN_HAS_MVE_FLOAT. (The int8
// bodies are in simd/q8_mve.hpp.)
#pragma once

#include "target.hpp"

#include <bit>
#include <cmath>
#include <cstddef>
#include <cstdint>

#if defined(CTATTN_HAS_MVE_INT)
// ctattn calls the __arm_-prefixed names. (GCC 12's arm_mve.h does not compile with
// __ARM_MVE_PRESERVE_USER_NAMESPACE: some of its bodies call the short names that macro removes.)
#include <arm_mve.h>
#endif

namespace ctattn::simd {

/// The arch tag of Helium with floating point (4 floats per vector); simd::default_arch where the
/// target has it (simd/target.hpp), unless CTATTN_SIMD_SCALAR asks for the scalar path.
struct mve_arch {
    /// The name benchmarks and test reports print.
    static constexpr const char* name() noexcept { return "mve"; }
};

template <class Arch>
struct ops;

namespace mve {
// Keys j0 .. j0 + count - 1 (count <= 4; rows of HeadDim floats at stride KvStride, from k)
// transposed by gathers: kt[d] lane t = k_t[d], lanes t >= count 0 (their rows are not read).
template <std::size_t HeadDim, std::size_t KvStride, class Vec>
void gather_keys(const float* k, std::size_t count, Vec* kt) noexcept;
// y[0 .. Cols) = bias (or 0) + sum over k < Din, in order, of x[k] * w[k * WStride + ..] (one row).
template <std::size_t Din, std::size_t Cols, std::size_t WStride>
void project_row(const float* x, const float* w, const float* bias, float* y) noexcept;
// Decode attention of Heads (1 or 2) query heads of head_dim 8 sharing one KV head, over keys
// begin .. end - 1 (begin < end): kernels/decode/vector_heads.hpp's contract and arguments (q
// scaled by q_scale = score_scale log2 e, scores in base 2; scratch of Heads x end floats); 2^x by
// Poly (simd/math.hpp's exp2_minimax).
template <class Poly, std::size_t Heads, std::size_t QStride, std::size_t KvStride>
bool attend_heads_8(const float* q, const float* k, const float* v, std::size_t begin, std::size_t end, float q_scale,
                    float* scores, float* out) noexcept;
}  // namespace mve

#if defined(CTATTN_HAS_MVE_FLOAT)
namespace mve {

using vec = float32x4_t;

[[gnu::always_inline]] inline vec splat(float x) noexcept { return __arm_vdupq_n_f32(x); }

// The clamps test `x > bound` and `bound > x`: GT is false for an unordered (NaN) lane, which
// keeps its NaN, where Arm's LT and LE conditions are true for it (and VMAXNM/VMINNM would drop
// it). Each is a VPT block (compare, then a predicated VDUP of the bound): written as VCMP, VPSEL
// and a predicate, GCC 12 moves the predicate through a core register and back (VMRS, SXTH, VMSR).
[[gnu::always_inline]] inline vec clamp_above(vec x, float highest) noexcept {
    asm("vpt.f32 gt, %q[x], %[bound]\n\t"
        "vdupt.32 %q[x], %[bound]"
        : [x] "+w"(x)
        : [bound] "r"(highest));
    return x;
}
[[gnu::always_inline]] inline vec clamp_below(vec x, float lowest) noexcept {
    const vec bound = splat(lowest);
    asm("vpt.f32 gt, %q[bound], %q[x]\n\t"
        "vmovt %q[x], %q[bound]"
        : [x] "+w"(x)
        : [bound] "w"(bound));
    return x;
}

// 2^n for integer-valued n in [-151, 128], applied to m as (m * 2^(n/2)) * 2^(n - n/2): both
// factors are normal floats, the first product is exact for m in [1/2, 2], so the result is one
// rounding of m 2^n, denormals and the overflow to +inf included (the scalar body's trick with
// 2^-100 would need a larger exponent field at the top).
[[gnu::always_inline]] inline vec scale_by_power_of_two(vec m, vec n) noexcept {
    const int32x4_t ni = __arm_vcvtq_s32_f32(n);
    const int32x4_t half = __arm_vshrq_n_s32(ni, 1);
    const int32x4_t rest = __arm_vsubq_s32(ni, half);
    const vec s1 = __arm_vreinterpretq_f32_s32(__arm_vshlq_n_s32(__arm_vaddq_n_s32(half, 127), 23));
    const vec s2 = __arm_vreinterpretq_f32_s32(__arm_vshlq_n_s32(__arm_vaddq_n_s32(rest, 127), 23));
    return __arm_vmulq_f32(__arm_vmulq_f32(m, s1), s2);
}

// e^x for 4 floats: simd/x86.hpp's exp_16 (Cephes' polynomial after a Cody-Waite reduction,
// <= 2 ulp for normal results) with the scaling above. x is clamped to [-104, 89] (e^x is 0 and +inf
// beyond), NaN kept.
inline vec exp_4(vec x) noexcept {
    x = clamp_above(x, 89.0f);
    x = clamp_below(x, -104.0f);
    const vec n = __arm_vrndnq_f32(__arm_vmulq_n_f32(x, 1.44269504088896341f));
    vec r = __arm_vfmaq_n_f32(x, n, -0.693359375f);
    r = __arm_vfmaq_n_f32(r, n, 2.12194440e-4f);
    vec p = __arm_vfmaq_n_f32(splat(1.3981999507e-3f), r, 1.9875691500e-4f);
    // Horner steps p r + c by VFMAS (the same fused operation as c + p r): the coefficients stay
    // in core registers, not in q registers the callers' loops then spill and reload.
    p = __arm_vfmasq_n_f32(p, r, 8.3334519073e-3f);
    p = __arm_vfmasq_n_f32(p, r, 4.1665795894e-2f);
    p = __arm_vfmasq_n_f32(p, r, 1.6666665459e-1f);
    p = __arm_vfmasq_n_f32(p, r, 5.0000001201e-1f);
    const vec e_r = __arm_vaddq_n_f32(__arm_vfmaq_f32(r, p, __arm_vmulq_f32(r, r)), 1.0f);
    return scale_by_power_of_two(e_r, n);
}

// 2^x for 4 floats x <= 0: x = n + f (n = round(x), |f| <= 1/2), 2^f by Poly's degree-5
// polynomial (simd/math.hpp: exactly 1 at 0), 2^n by the scaling above; x below Poly::lowest
// (-inf too) gives 0, NaN gives NaN.
template <class Poly>
inline vec exp2_4(vec x) noexcept {
    const vec clamped = clamp_below(x, Poly::lowest);
    const vec n = __arm_vrndnq_f32(clamped);
    const vec f = __arm_vsubq_f32(clamped, n);
    // Horner steps p f + c by VFMAS (vector times vector plus scalar): the coefficients stay in
    // core registers, not in four of the eight q registers.
    vec p = __arm_vaddq_n_f32(__arm_vmulq_n_f32(f, Poly::c5), Poly::c4);
    p = __arm_vfmasq_n_f32(p, f, Poly::c3);
    p = __arm_vfmasq_n_f32(p, f, Poly::c2);
    p = __arm_vfmasq_n_f32(p, f, Poly::c1);
    p = __arm_vfmasq_n_f32(p, f, 1.0f);
    return scale_by_power_of_two(p, n);
}

// 2^x for 4 floats x in [Poly::lowest, 0] (decode's weights, clamped by the caller with VMAXNM; it
// finds NaN on its own): simd/math.hpp's exp2_clamped on 4 lanes, the same roundings. Adding
// 1.5 x 2^23 rounds x to n in the low mantissa bits of t; p(f) with coefficients times 2^-100;
// then one multiply by 2^(n + 100), built from t's bits, rounds denormal results once.
template <class Poly>
[[gnu::always_inline]] inline vec exp2_clamped_4(vec x) noexcept {
    constexpr float round_magic = 12582912.0f;
    const vec t = __arm_vaddq_n_f32(x, round_magic);
    const vec f = __arm_vsubq_f32(x, __arm_vsubq_n_f32(t, round_magic));
    vec p = __arm_vaddq_n_f32(__arm_vmulq_n_f32(f, Poly::c5 * 0x1p-100f), Poly::c4 * 0x1p-100f);
    p = __arm_vfmasq_n_f32(p, f, Poly::c3 * 0x1p-100f);
    p = __arm_vfmasq_n_f32(p, f, Poly::c2 * 0x1p-100f);
    p = __arm_vfmasq_n_f32(p, f, Poly::c1 * 0x1p-100f);
    p = __arm_vfmasq_n_f32(p, f, 0x1p-100f);
    const int32x4_t scale = __arm_vaddq_n_s32(__arm_vshlq_n_s32(__arm_vreinterpretq_s32_f32(t), 23), (127 + 100) << 23);
    return __arm_vmulq_f32(p, __arm_vreinterpretq_f32_s32(scale));
}

// A function of one float on each lane (erf, tanh: GELU's rare forms, not worth a polynomial here).
inline vec map_lanes(vec x, float (*f)(float)) noexcept {
    alignas(16) float lanes[4];
    __arm_vst1q_f32(lanes, x);
    for (float& lane : lanes) lane = f(lane);
    return __arm_vld1q_f32(lanes);
}

template <std::size_t HeadDim, std::size_t KvStride, class Vec>
inline void gather_keys(const float* k, std::size_t count, Vec* kt) noexcept {
    const uint32x4_t offsets = {0, KvStride, 2 * KvStride, 3 * KvStride};
    if (count >= 4) {
        CTATTN_UNROLL for (std::size_t d = 0; d < HeadDim; ++d)
            kt[d] = __arm_vldrwq_gather_shifted_offset_f32(k + d, offsets);
    } else {
        const mve_pred16_t present = __arm_vctp32q(std::uint32_t(count));
        CTATTN_UNROLL for (std::size_t d = 0; d < HeadDim; ++d)
            kt[d] = __arm_vldrwq_gather_shifted_offset_z_f32(k + d, offsets, present);
    }
}

// One strip of Vecs whole vectors of columns (Vecs accumulators in q registers): per step of k one
// scalar x[k] in a core register feeds Vecs VFMAs by scalar, whose weights are one VLDRW each.
// Tail lanes past Cols (Cols % 4 != 0) go through the predicated form below.
template <std::size_t Vecs, std::size_t Din, std::size_t WStride>
[[gnu::always_inline]] inline void project_strip(const float* x, const float* w, const float* bias, float* y) noexcept {
    vec acc[Vecs];
    CTATTN_UNROLL for (std::size_t n = 0; n < Vecs; ++n) acc[n] = bias ? __arm_vld1q_f32(bias + 4 * n) : splat(0.0f);
    for (std::size_t k = 0; k < Din; ++k) {
        const float xk = x[k];
        const float* row = w + k * WStride;
        CTATTN_UNROLL for (std::size_t n = 0; n < Vecs; ++n)
            acc[n] = __arm_vfmaq_n_f32(acc[n], __arm_vld1q_f32(row + 4 * n), xk);
    }
    CTATTN_UNROLL for (std::size_t n = 0; n < Vecs; ++n) __arm_vst1q_f32(y + 4 * n, acc[n]);
}

// The 16-column strip in assembly: GCC 12 spends 12 instructions per step of k on project_strip<4>
// (a register copy for a post-increment it then does not use), this loop 10 per step: per two
// steps one LDRD of x[k], x[k + 1], 8 VLDRW of weights at immediate offsets, 2 row steps, 8 VFMA
// by scalar, and LE (the low-overhead loop's branch). Same sums, same order as project_strip:
// bit-identical outputs. Din >= 2.
template <std::size_t Din, std::size_t WStride>
inline void project_strip16(const float* x, const float* w, const float* init, float* y) noexcept {
    static_assert(Din >= 2, "ctattn: the assembly strip runs k in pairs");
    const std::size_t step = WStride * sizeof(float);
    const std::size_t pairs = Din / 2;
    std::uint32_t x0, x1;
#define CTATTN_MVE_ROW(X)                                                                                  \
    "vldrw.u32 q4, [%[w]]\n vldrw.u32 q5, [%[w], #16]\n vldrw.u32 q6, [%[w], #32]\n vldrw.u32 q7, [%[w], #48]\n" \
    "add %[w], %[w], %[step]\n"                                                                             \
    "vfma.f32 q0, q4, " X "\n vfma.f32 q1, q5, " X "\n vfma.f32 q2, q6, " X "\n vfma.f32 q3, q7, " X "\n"
#define CTATTN_MVE_STRIP16(ODD_STEP)                                                                       \
    "vldrw.u32 q0, [%[init]]\n vldrw.u32 q1, [%[init], #16]\n vldrw.u32 q2, [%[init], #32]\n"              \
    "vldrw.u32 q3, [%[init], #48]\n"                                                                       \
    "dls lr, %[pairs]\n"                                                                                   \
    "1:\n"                                                                                                 \
    "ldrd %[x0], %[x1], [%[x]], #8\n" CTATTN_MVE_ROW("%[x0]") CTATTN_MVE_ROW("%[x1]")                      \
    "le lr, 1b\n" ODD_STEP                                                                                 \
    "vstrw.32 q0, [%[y]]\n vstrw.32 q1, [%[y], #16]\n vstrw.32 q2, [%[y], #32]\n vstrw.32 q3, [%[y], #48]\n" \
    : [x] "+r"(x), [w] "+r"(w), [x0] "=&r"(x0), [x1] "=&r"(x1)                                             \
    : [init] "r"(init), [step] "r"(step), [pairs] "r"(pairs), [y] "r"(y)                                   \
    : "memory", "lr", "d0", "d1", "d2", "d3", "d4", "d5", "d6", "d7", "d8", "d9", "d10", "d11", "d12", "d13",  \
      "d14", "d15"
    if constexpr (Din % 2 == 1)
        asm volatile(CTATTN_MVE_STRIP16("ldr %[x0], [%[x]]\n" CTATTN_MVE_ROW("%[x0]")));
    else
        asm volatile(CTATTN_MVE_STRIP16(""));
#undef CTATTN_MVE_STRIP16
#undef CTATTN_MVE_ROW
}

// The 24-column strip: six accumulators in q0-q5, the weights through q6 and q7 in turn; per two
// steps of k 28 instructions for 48 multiply-adds (the 16-column strip: 20 for 32). Same sums, same
// order. Din >= 2.
template <std::size_t Din, std::size_t WStride>
inline void project_strip24(const float* x, const float* w, const float* init, float* y) noexcept {
    static_assert(Din >= 2, "ctattn: the assembly strip runs k in pairs");
    const std::size_t step = WStride * sizeof(float);
    const std::size_t pairs = Din / 2;
    std::uint32_t x0, x1;
#define CTATTN_MVE_ROW(X)                                                                                \
    "vldrw.u32 q6, [%[w]]\n vldrw.u32 q7, [%[w], #16]\n"                                                  \
    "vfma.f32 q0, q6, " X "\n vldrw.u32 q6, [%[w], #32]\n vfma.f32 q1, q7, " X "\n vldrw.u32 q7, [%[w], #48]\n" \
    "vfma.f32 q2, q6, " X "\n vldrw.u32 q6, [%[w], #64]\n vfma.f32 q3, q7, " X "\n vldrw.u32 q7, [%[w], #80]\n" \
    "vfma.f32 q4, q6, " X "\n vfma.f32 q5, q7, " X "\n"                                                     \
    "add %[w], %[w], %[step]\n"
#define CTATTN_MVE_STRIP24(ODD_STEP)                                                                       \
    "vldrw.u32 q0, [%[init]]\n vldrw.u32 q1, [%[init], #16]\n vldrw.u32 q2, [%[init], #32]\n"              \
    "vldrw.u32 q3, [%[init], #48]\n vldrw.u32 q4, [%[init], #64]\n vldrw.u32 q5, [%[init], #80]\n"         \
    "dls lr, %[pairs]\n"                                                                                   \
    "1:\n"                                                                                                 \
    "ldrd %[x0], %[x1], [%[x]], #8\n" CTATTN_MVE_ROW("%[x0]") CTATTN_MVE_ROW("%[x1]")                      \
    "le lr, 1b\n" ODD_STEP                                                                                 \
    "vstrw.32 q0, [%[y]]\n vstrw.32 q1, [%[y], #16]\n vstrw.32 q2, [%[y], #32]\n vstrw.32 q3, [%[y], #48]\n" \
    "vstrw.32 q4, [%[y], #64]\n vstrw.32 q5, [%[y], #80]\n"                                                \
    : [x] "+r"(x), [w] "+r"(w), [x0] "=&r"(x0), [x1] "=&r"(x1)                                             \
    : [init] "r"(init), [step] "r"(step), [pairs] "r"(pairs), [y] "r"(y)                                   \
    : "memory", "lr", "d0", "d1", "d2", "d3", "d4", "d5", "d6", "d7", "d8", "d9", "d10", "d11", "d12", "d13",  \
      "d14", "d15"
    if constexpr (Din % 2 == 1)
        asm volatile(CTATTN_MVE_STRIP24("ldr %[x0], [%[x]]\n" CTATTN_MVE_ROW("%[x0]")));
    else
        asm volatile(CTATTN_MVE_STRIP24(""));
#undef CTATTN_MVE_STRIP24
#undef CTATTN_MVE_ROW
}

// The last Lanes (< 4) columns: one vector, loaded and stored under the tail predicate VCTP.
template <std::size_t Lanes, std::size_t Din, std::size_t WStride>
inline void project_tail(const float* x, const float* w, const float* bias, float* y) noexcept {
    const mve_pred16_t lanes = __arm_vctp32q(std::uint32_t(Lanes));
    vec acc = bias ? __arm_vldrwq_z_f32(bias, lanes) : splat(0.0f);
    for (std::size_t k = 0; k < Din; ++k) acc = __arm_vfmaq_n_f32(acc, __arm_vldrwq_z_f32(w + k * WStride, lanes), x[k]);
    __arm_vstrwq_p_f32(y, acc, lanes);
}

template <std::size_t Din, std::size_t Cols, std::size_t WStride>
inline void project_row(const float* x, const float* w, const float* bias, float* y) noexcept {
    // Strips of 24 columns (6 accumulators), then of 16 (4), then one of the leftover whole
    // vectors, then the last lanes: 64 = 24 + 24 + 16, 172 = 7 x 24 + 4, 512 = 21 x 24 + 8; except
    // that 8 left after 24s are taken as 16 + 16 (32 = 16 + 16, not 24 + 8: a 2-vector strip costs
    // more per column than the 16-column one).
    constexpr std::size_t wide = Cols % 24 == 8 && Cols >= 32 ? Cols / 24 - 1 : Cols / 24;
    constexpr std::size_t wide_end = wide * 24;
    constexpr std::size_t strips_end = wide_end + (Cols - wide_end) / 16 * 16;
    constexpr std::size_t vectors_end = Cols / 4 * 4;
    alignas(16) static constexpr float zeros[24] = {};
    if constexpr (Din >= 2) {
        for (std::size_t c = 0; c < wide_end; c += 24)
            project_strip24<Din, WStride>(x, w + c, bias ? bias + c : zeros, y + c);
        for (std::size_t c = wide_end; c < strips_end; c += 16)
            project_strip16<Din, WStride>(x, w + c, bias ? bias + c : zeros, y + c);
    } else {
        for (std::size_t c = 0; c < strips_end; c += 4)
            project_strip<1, Din, WStride>(x, w + c, bias ? bias + c : nullptr, y + c);
    }
    if constexpr (vectors_end > strips_end)
        project_strip<(vectors_end - strips_end) / 4, Din, WStride>(x, w + strips_end,
                                                                   bias ? bias + strips_end : nullptr, y + strips_end);
    if constexpr (Cols > vectors_end)
        project_tail<Cols - vectors_end, Din, WStride>(x, w + vectors_end, bias ? bias + vectors_end : nullptr,
                                                       y + vectors_end);
}

// Pass 1 for one head over one chunk of 4 keys (Whole: all 4 present, else `count`): the keys'
// 8 elements gathered across lanes by VLDRW with a vector of the 4 rows' addresses as base (the
// first gather steps it on to the chunk by write-back, the others take immediate offsets: no
// address arithmetic), dotted with the head's query elements by VFMA by scalar, then the running
// min (lanes past the run score 0: no mask needed) and max, and the scores stored (the partial
// chunk's lanes past the run neither scored for the max nor stored).
template <bool Whole, std::size_t KvStride>
[[gnu::always_inline]] inline void score_chunk(uint32x4_t& rows, const float* qh, std::uint32_t count, vec& max_v,
                                               vec& min_v, float* out) noexcept {
    constexpr int chunk_bytes = int(4 * KvStride * sizeof(float));
    vec s;
    if constexpr (Whole) {
        s = __arm_vmulq_n_f32(__arm_vldrwq_gather_base_wb_f32(&rows, chunk_bytes), qh[0]);
        CTATTN_UNROLL for (int d = 1; d < 8; ++d) s = __arm_vfmaq_n_f32(s, __arm_vldrwq_gather_base_f32(rows, 4 * d), qh[d]);
        min_v = __arm_vminnmq_f32(min_v, s);
        max_v = __arm_vmaxnmq_f32(max_v, s);
        __arm_vst1q_f32(out, s);
    } else {
        const mve_pred16_t present = __arm_vctp32q(count);
        s = __arm_vmulq_n_f32(__arm_vldrwq_gather_base_wb_z_f32(&rows, chunk_bytes, present), qh[0]);
        CTATTN_UNROLL for (int d = 1; d < 8; ++d)
            s = __arm_vfmaq_n_f32(s, __arm_vldrwq_gather_base_z_f32(rows, 4 * d, present), qh[d]);
        min_v = __arm_vminnmq_f32(min_v, s);
        max_v = __arm_vmaxnmq_f32(max_v, __arm_vpselq_f32(s, splat(-__builtin_inff()), present));
        __arm_vstrwq_p_f32(out, s, present);
    }
}

// Pass 1 for two heads over the whole chunks, in assembly, so that each gathered key vector feeds
// both heads: per chunk two LDMs bring 8 of the 16 scaled query elements into r4-r6, r8-r12 (four
// dimensions of each head), 8 vector-base gathers, 16 VFMA by scalar, the running maxima (one per
// head) and min (both heads: any -inf is irregular), two stores, LE: 33 instructions for 4 keys and
// 2 heads, where score_chunk per head takes 44. io (32 words): [0, 8) dimensions 0-3 of heads 0 and 1,
// [8, 16) dimensions 4-7, [16, 20) the rows' addresses (advanced on return), [20, 24) head 0's
// max, [24, 28) head 1's, [28, 32) the min, each in and out.
inline void score_chunks_2x8(std::uint32_t* io, float* scores0, float* scores1, std::size_t chunks) noexcept {
    std::uint32_t* const dims_4_7 = io + 8;
    asm volatile(
        "vldrw.u32 q7, [%[io], #32]\n vldrw.u32 q2, [%[io], #48]\n vldrw.u32 q3, [%[io], #64]\n"
        "vldrw.u32 q4, [%[io], #80]\n"
        "wls lr, %[chunks], 2f\n"
        "1:\n"
        "ldmdb %[io], {r4, r5, r6, r8, r9, r10, r11, r12}\n"
        "vldrw.u32 q5, [q7, #128]!\n vmul.f32 q0, q5, r4\n vmul.f32 q1, q5, r9\n"
        "vldrw.u32 q6, [q7, #4]\n vfma.f32 q0, q6, r5\n vfma.f32 q1, q6, r10\n"
        "vldrw.u32 q5, [q7, #8]\n vfma.f32 q0, q5, r6\n vfma.f32 q1, q5, r11\n"
        "vldrw.u32 q6, [q7, #12]\n vfma.f32 q0, q6, r8\n vfma.f32 q1, q6, r12\n"
        "ldm %[io], {r4, r5, r6, r8, r9, r10, r11, r12}\n"
        "vldrw.u32 q5, [q7, #16]\n vfma.f32 q0, q5, r4\n vfma.f32 q1, q5, r9\n"
        "vldrw.u32 q6, [q7, #20]\n vfma.f32 q0, q6, r5\n vfma.f32 q1, q6, r10\n"
        "vldrw.u32 q5, [q7, #24]\n vfma.f32 q0, q5, r6\n vfma.f32 q1, q5, r11\n"
        "vldrw.u32 q6, [q7, #28]\n vfma.f32 q0, q6, r8\n vfma.f32 q1, q6, r12\n"
        "vminnm.f32 q4, q4, q0\n vminnm.f32 q4, q4, q1\n vmaxnm.f32 q2, q2, q0\n vmaxnm.f32 q3, q3, q1\n"
        "vstrw.32 q0, [%[s0]], #16\n vstrw.32 q1, [%[s1]], #16\n"
        "le lr, 1b\n"
        "2:\n"
        "vstrw.32 q7, [%[io], #32]\n vstrw.32 q2, [%[io], #48]\n vstrw.32 q3, [%[io], #64]\n"
        "vstrw.32 q4, [%[io], #80]\n"
        : [s0] "+r"(scores0), [s1] "+r"(scores1)
        : [io] "r"(dims_4_7), [chunks] "r"(chunks)
        : "memory", "lr", "r4", "r5", "r6", "r8", "r9", "r10", "r11", "r12", "d0", "d1", "d2", "d3", "d4", "d5", "d6",
          "d7", "d8", "d9", "d10", "d11", "d12", "d13", "d14", "d15");
}

// Pass 3 for two heads over contiguous value rows of 8 floats, in assembly: both heads' 8
// accumulators in q0-q3, per two keys one LDRD of each head's two weights, four VLDRW of the two
// value rows (the first steps the pointer on), eight VFMA by scalar and LE: 7.5 instructions per
// key where GCC 12 gives 11. out_h[d] = inv_sum[h] sum_j p_h[j] v_j[d], j in order. n >= 1.
inline void weighted_sum_2x8(const float* p0, const float* p1, const float* v, std::size_t n, const float* inv_sum,
                             float* out0, float* out1) noexcept {
    alignas(16) float acc[16];
    const std::size_t pairs = n / 2;
    std::uint32_t w00, w01, w10, w11;
    asm volatile(
        "vmov.i32 q0, #0\n vmov.i32 q1, #0\n vmov.i32 q2, #0\n vmov.i32 q3, #0\n"
        "wls lr, %[pairs], 2f\n"
        "1:\n"
        "ldrd %[w00], %[w01], [%[p0]], #8\n"
        "ldrd %[w10], %[w11], [%[p1]], #8\n"
        "vldrw.u32 q4, [%[v]], #64\n vldrw.u32 q5, [%[v], #-48]\n"
        "vldrw.u32 q6, [%[v], #-32]\n vldrw.u32 q7, [%[v], #-16]\n"
        "vfma.f32 q0, q4, %[w00]\n vfma.f32 q1, q5, %[w00]\n vfma.f32 q2, q4, %[w10]\n vfma.f32 q3, q5, %[w10]\n"
        "vfma.f32 q0, q6, %[w01]\n vfma.f32 q1, q7, %[w01]\n vfma.f32 q2, q6, %[w11]\n vfma.f32 q3, q7, %[w11]\n"
        "le lr, 1b\n"
        "2:\n"
        "tst %[n], #1\n"
        "beq 3f\n"
        "ldr %[w00], [%[p0]]\n ldr %[w10], [%[p1]]\n"
        "vldrw.u32 q4, [%[v]]\n vldrw.u32 q5, [%[v], #16]\n"
        "vfma.f32 q0, q4, %[w00]\n vfma.f32 q1, q5, %[w00]\n vfma.f32 q2, q4, %[w10]\n vfma.f32 q3, q5, %[w10]\n"
        "3:\n"
        "vstrw.32 q0, [%[acc]]\n vstrw.32 q1, [%[acc], #16]\n vstrw.32 q2, [%[acc], #32]\n vstrw.32 q3, [%[acc], #48]\n"
        : [p0] "+r"(p0), [p1] "+r"(p1), [v] "+r"(v), [w00] "=&r"(w00), [w01] "=&r"(w01), [w10] "=&r"(w10),
          [w11] "=&r"(w11)
        : [pairs] "r"(pairs), [n] "r"(n), [acc] "r"(acc)
        : "cc", "memory", "lr", "d0", "d1", "d2", "d3", "d4", "d5", "d6", "d7", "d8", "d9", "d10", "d11", "d12",
          "d13", "d14", "d15");
    __arm_vst1q_f32(out0, __arm_vmulq_n_f32(__arm_vld1q_f32(acc), inv_sum[0]));
    __arm_vst1q_f32(out0 + 4, __arm_vmulq_n_f32(__arm_vld1q_f32(acc + 4), inv_sum[0]));
    __arm_vst1q_f32(out1, __arm_vmulq_n_f32(__arm_vld1q_f32(acc + 8), inv_sum[1]));
    __arm_vst1q_f32(out1 + 4, __arm_vmulq_n_f32(__arm_vld1q_f32(acc + 12), inv_sum[1]));
}

// Three passes, each sized to the 8 q registers:
//   1. per head: scores of 4 keys at a time (score_chunk), head h's at scores[h n ..], the max;
//   2. per head: weights 2^(s - m) in place, 4 at a time (exp2_clamped_4), and their sum;
//   3. P V, both heads at once: each value row (two vectors) is loaded once, weighted by each
//      head's weight (VFMA by scalar) into 2 x 2 accumulators, divided by the sum at the end.
// Irregular heads (false, out untouched): a max that is not finite, a score of -inf (the running
// min), or a NaN score (the sum of the exponents' arguments, below).
template <class Poly, std::size_t Heads, std::size_t QStride, std::size_t KvStride>
inline bool attend_heads_8(const float* q, const float* k, const float* v, std::size_t begin, std::size_t end,
                           float q_scale, float* scores, float* out) noexcept {
    const std::size_t n = end - begin, whole = n / 4;
    const std::uint32_t last = std::uint32_t(n % 4);
    static_assert(KvStride * 4 * sizeof(float) <= 508, "ctattn: VLDRW's write-back step is at most 508 bytes");
    // Addresses of keys begin - 4 .. begin - 1 (never read: each chunk's first gather adds 4 rows first).
    const std::uint32_t first = std::uint32_t(reinterpret_cast<std::uintptr_t>(k + begin * KvStride)) -
                                std::uint32_t(4 * KvStride * sizeof(float));
    constexpr std::uint32_t row_bytes = KvStride * sizeof(float);
    const uint32x4_t rows_before = {first, first + row_bytes, first + 2 * row_bytes, first + 3 * row_bytes};
    float max[Heads];
    if constexpr (Heads == 2 && KvStride == 8) {
        alignas(16) std::uint32_t io[32];
        alignas(16) float qh[2][8];
        CTATTN_UNROLL for (std::size_t h = 0; h < 2; ++h)
            CTATTN_UNROLL for (std::size_t d = 0; d < 8; ++d) {
                qh[h][d] = q[h * QStride + d] * q_scale;
                io[(d / 4) * 8 + h * 4 + d % 4] = std::bit_cast<std::uint32_t>(qh[h][d]);
            }
        __arm_vst1q_u32(io + 16, rows_before);
        __arm_vst1q_f32(reinterpret_cast<float*>(io + 20), splat(-__builtin_inff()));
        __arm_vst1q_f32(reinterpret_cast<float*>(io + 24), splat(-__builtin_inff()));
        __arm_vst1q_f32(reinterpret_cast<float*>(io + 28), splat(__builtin_inff()));
        score_chunks_2x8(io, scores, scores + n, whole);
        uint32x4_t rows = __arm_vld1q_u32(io + 16);
        vec max_v[2] = {__arm_vld1q_f32(reinterpret_cast<const float*>(io + 20)),
                        __arm_vld1q_f32(reinterpret_cast<const float*>(io + 24))};
        vec min_v = __arm_vld1q_f32(reinterpret_cast<const float*>(io + 28));
        if (last != 0) {
            uint32x4_t rows_again = rows;
            score_chunk<false, KvStride>(rows, qh[0], last, max_v[0], min_v, scores + 4 * whole);
            score_chunk<false, KvStride>(rows_again, qh[1], last, max_v[1], min_v, scores + n + 4 * whole);
        }
        if (__arm_vcmpeqq_n_f32(min_v, -__builtin_inff()) != 0) return false;
        CTATTN_UNROLL for (std::size_t h = 0; h < 2; ++h) {
            max[h] = __arm_vmaxnmvq_f32(-__builtin_inff(), max_v[h]);
            if (!(max[h] - max[h] == 0.0f)) return false;
        }
    } else {
        CTATTN_UNROLL for (std::size_t h = 0; h < Heads; ++h) {
            float qh[8];
            CTATTN_UNROLL for (std::size_t d = 0; d < 8; ++d) qh[d] = q[h * QStride + d] * q_scale;
            vec max_v = splat(-__builtin_inff()), min_v = splat(__builtin_inff());
            float* head_scores = scores + h * n;
            uint32x4_t rows = rows_before;
            for (std::size_t c = 0; c < whole; ++c)
                score_chunk<true, KvStride>(rows, qh, 4, max_v, min_v, head_scores + 4 * c);
            if (last != 0) score_chunk<false, KvStride>(rows, qh, last, max_v, min_v, head_scores + 4 * whole);
            max[h] = __arm_vmaxnmvq_f32(-__builtin_inff(), max_v);
            if (!(max[h] - max[h] == 0.0f)) return false;
            if (__arm_vcmpeqq_n_f32(min_v, -__builtin_inff()) != 0) return false;
        }
    }
    // The arguments' sum is the NaN probe (as in kernels/decode/scalar_heads.hpp): VMAXNM's clamp
    // turns a NaN into a weight of 0, so a NaN score shows as a NaN sum of x = s - m (x <= 0), as
    // does a sum past -FLT_MAX (scores spread by ~1e38), which the general core then handles.
    float inv_sum[Heads];
    CTATTN_UNROLL for (std::size_t h = 0; h < Heads; ++h) {
        float* head_scores = scores + h * n;
        vec sum_v = splat(0.0f), probe_v = splat(0.0f);
        for (std::size_t c = 0; c < whole; ++c) {
            const vec x = __arm_vsubq_n_f32(__arm_vld1q_f32(head_scores + 4 * c), max[h]);
            probe_v = __arm_vaddq_f32(probe_v, x);
            const vec e = exp2_clamped_4<Poly>(__arm_vmaxnmq_f32(x, splat(Poly::lowest)));
            __arm_vst1q_f32(head_scores + 4 * c, e);
            sum_v = __arm_vaddq_f32(sum_v, e);
        }
        if (last != 0) {
            const mve_pred16_t present = __arm_vctp32q(last);
            const vec x = __arm_vsubq_n_f32(__arm_vldrwq_z_f32(head_scores + 4 * whole, present), max[h]);
            probe_v = __arm_vaddq_f32(probe_v, __arm_vpselq_f32(x, splat(0.0f), present));
            const vec e = __arm_vpselq_f32(exp2_clamped_4<Poly>(__arm_vmaxnmq_f32(x, splat(Poly::lowest))), splat(0.0f),
                                           present);
            __arm_vstrwq_p_f32(head_scores + 4 * whole, e, present);
            sum_v = __arm_vaddq_f32(sum_v, e);
        }
        const float probe = (__arm_vgetq_lane_f32(probe_v, 0) + __arm_vgetq_lane_f32(probe_v, 1)) +
                            (__arm_vgetq_lane_f32(probe_v, 2) + __arm_vgetq_lane_f32(probe_v, 3));
        if (!(probe - probe == 0.0f)) return false;
        const float sum = (__arm_vgetq_lane_f32(sum_v, 0) + __arm_vgetq_lane_f32(sum_v, 1)) +
                          (__arm_vgetq_lane_f32(sum_v, 2) + __arm_vgetq_lane_f32(sum_v, 3));
        inv_sum[h] = 1.0f / sum;  // >= 1: the max contributes 2^0 = 1 exactly
    }
    if constexpr (Heads == 2 && KvStride == 8) {
        weighted_sum_2x8(scores, scores + n, v + begin * KvStride, n, inv_sum, out, out + QStride);
        return true;
    }
    vec acc[Heads][2];
    CTATTN_UNROLL for (std::size_t h = 0; h < Heads; ++h) acc[h][0] = acc[h][1] = splat(0.0f);
    const float* row = v + begin * KvStride;
    for (std::size_t j = 0; j < n; ++j, row += KvStride) {
        const vec low = __arm_vld1q_f32(row), high = __arm_vld1q_f32(row + 4);
        CTATTN_UNROLL for (std::size_t h = 0; h < Heads; ++h) {
            const float p = scores[h * n + j];
            acc[h][0] = __arm_vfmaq_n_f32(acc[h][0], low, p);
            acc[h][1] = __arm_vfmaq_n_f32(acc[h][1], high, p);
        }
    }
    CTATTN_UNROLL for (std::size_t h = 0; h < Heads; ++h) {
        __arm_vst1q_f32(out + h * QStride, __arm_vmulq_n_f32(acc[h][0], inv_sum[h]));
        __arm_vst1q_f32(out + h * QStride + 4, __arm_vmulq_n_f32(acc[h][1], inv_sum[h]));
    }
    return true;
}

}  // namespace mve

template <>
struct ops<mve_arch> {
    using vec = float32x4_t;
    static constexpr std::size_t width = 4;
    static constexpr std::size_t registers = 8;  // q0..q7

    static vec zero() noexcept { return __arm_vdupq_n_f32(0.0f); }
    static vec broadcast(float x) noexcept { return __arm_vdupq_n_f32(x); }
    static vec load(const float* p) noexcept { return __arm_vld1q_f32(p); }
    static void store(float* p, vec v) noexcept { __arm_vst1q_f32(p, v); }
    static vec fma(vec a, vec b, vec c) noexcept { return __arm_vfmaq_f32(c, a, b); }
    static vec mul(vec a, vec b) noexcept { return __arm_vmulq_f32(a, b); }
    static vec sub(vec a, vec b) noexcept { return __arm_vsubq_f32(a, b); }
    // VMAXNM/VMINNM: a NaN lane loses to a number (MVE has no other float max); the kernels find
    // NaN through their sums, as on the other arches where a NaN lane may or may not survive.
    static vec max(vec a, vec b) noexcept { return __arm_vmaxnmq_f32(a, b); }
    static vec min(vec a, vec b) noexcept { return __arm_vminnmq_f32(a, b); }
    static vec exp(vec x) noexcept { return mve::exp_4(x); }
    // a / b lane by lane, correctly rounded: MVE has no vector divide, so four VDIVs on the q
    // registers' single-precision halves (s0..s3 / s4..s7 are q0 / q1), pinned there because GCC
    // otherwise moves every lane out through a core register and back (4 instructions, not 16).
    [[gnu::always_inline]] static vec div(vec a, vec b) noexcept {
        register vec quotient asm("q0") = a;
        register vec divisor asm("q1") = b;
        asm("vdiv.f32 s0, s0, s4\n\t"
            "vdiv.f32 s1, s1, s5\n\t"
            "vdiv.f32 s2, s2, s6\n\t"
            "vdiv.f32 s3, s3, s7"
            : "+w"(quotient)
            : "w"(divisor));
        return quotient;
    }
    // Lanes 0..count-1 of v, `fill` in the others: the tail predicate VCTP makes the lane mask.
    static vec select_first(std::size_t count, vec v, float fill) noexcept {
        return __arm_vpselq_f32(v, __arm_vdupq_n_f32(fill), __arm_vctp32q(std::uint32_t(count)));
    }
    // MVE has no float add across a vector (VADDV is integer only): pairs, then the two sums.
    static float reduce_add(vec v) noexcept {
        return (__arm_vgetq_lane_f32(v, 0) + __arm_vgetq_lane_f32(v, 1)) +
               (__arm_vgetq_lane_f32(v, 2) + __arm_vgetq_lane_f32(v, 3));
    }
    static float reduce_max(vec v) noexcept { return __arm_vmaxnmvq_f32(-__builtin_inff(), v); }
    static bool any_equal(vec v, float x) noexcept { return __arm_vcmpeqq_n_f32(v, x) != 0; }
    // Lane i = sum of rows[i]'s lanes: VST4 stores the four rows interleaved (float 4 j + i =
    // rows[i][j]), so the buffer's vector j holds element j of every row, and three adds of the
    // four vectors finish. Always inlined, with the rows taken by value: the caller's accumulators
    // then stay in registers (out of line, GCC 12 stores them on every step of their loop).
    [[gnu::always_inline]] static vec reduce_add_each(const vec* rows) noexcept {
        alignas(16) float buffer[16];
        const float32x4x4_t interleaved = {{rows[0], rows[1], rows[2], rows[3]}};
        __arm_vst4q_f32(buffer, interleaved);
        return __arm_vaddq_f32(__arm_vaddq_f32(__arm_vld1q_f32(buffer), __arm_vld1q_f32(buffer + 4)),
                               __arm_vaddq_f32(__arm_vld1q_f32(buffer + 8), __arm_vld1q_f32(buffer + 12)));
    }
};
#endif  // CTATTN_HAS_MVE_FLOAT

}  // namespace ctattn::simd
