// SPDX-License-Identifier: Apache-2.0
// ops<Arch>, the vector vocabulary every kernel is written in, and the arch tags. Kernels are
// written once over `simd::ops<Arch>`: for an xsimd architecture tag the vector is `xsimd::batch<float, Arch>`, for
// `scalar_arch` it is a single float, so the same loop nest compiles to plain C++ on cores without
// SIMD (Cortex-M0..M7) and to SSE/AVX/AVX-512/NEON elsewhere; `mve_arch` (simd/mve.hpp) is Helium's
// 4-float vectors on Cortex-M55/M85. `default_arch` is the widest architecture
// the compiler targets (-march/-mcpu/-mfpu decide), or `scalar_arch` when built with
// CTATTN_SIMD_SCALAR defined (the override), without xsimd, or for a target xsimd has no arch for
// (simd/target.hpp decides; ISA-specific bodies are in simd/x86.hpp and simd/mve.hpp, exp in
// simd/math.hpp). Helium with floating point makes mve_arch the default.
#pragma once

#include "target.hpp"
#include "x86.hpp"
#include "mve.hpp"
#include "math.hpp"

#include <cmath>
#include <cstddef>
#include <type_traits>

namespace ctattn::simd {

// The peer of xsimd's architecture tags for targets without vector units.
struct scalar_arch {
    static constexpr const char* name() noexcept { return "scalar"; }
};

template <class Arch>
struct ops;

template <>
struct ops<scalar_arch> {
    using vec = float;
    static constexpr std::size_t width = 1;
    // Registers available for accumulators (simd/target.hpp): 16 plans a 4x2 prefill tile and
    // 8-column decode rows, which Cortex-M4F/M7 hold in s0..s31 beside the VFP assembly; 32 on
    // RV32F, 4x4 and 16 columns; soft-float cores spill, which costs little next to the float emulation.
    static constexpr std::size_t registers = target::scalar_float_registers;

    static vec zero() noexcept { return 0.0f; }
    static vec broadcast(float x) noexcept { return x; }
    static vec load(const float* p) noexcept { return *p; }
    static void store(float* p, vec v) noexcept { *p = v; }
    // Fused where the target has a fused multiply-add (x86 FMA, AArch64, Cortex-M4F/M7/M55, RV32F), so
    // every call rounds once whatever the compiler's contraction choices at each inlined site
    // (packed and row-major projections agree bit for bit); a*b+c on cores without one (Cortex-M3
    // soft float), where fmaf would be a slow library call.
    static vec fma(vec a, vec b, vec c) noexcept {
#if defined(CTATTN_HAS_SCALAR_FMA)
        return __builtin_fmaf(a, b, c);
#else
        return a * b + c;
#endif
    }
    static vec mul(vec a, vec b) noexcept { return a * b; }
    static vec sub(vec a, vec b) noexcept { return a - b; }
    static vec max(vec a, vec b) noexcept { return a > b ? a : b; }
    static vec min(vec a, vec b) noexcept { return a < b ? a : b; }
    static vec exp(vec x) noexcept { return simd::exp(x); }  // simd/math.hpp
    static vec select_first(std::size_t count, vec v, float fill) noexcept { return count > 0 ? v : fill; }
    static float reduce_add(vec v) noexcept { return v; }
    static float reduce_max(vec v) noexcept { return v; }
    static bool any_equal(vec v, float x) noexcept { return v == x; }
    static vec reduce_add_each(const vec* rows) noexcept { return rows[0]; }
};

#if defined(CTATTN_HAS_XSIMD)
CTATTN_SILENCE_INTRINSIC_WARNINGS  // see simd/target.hpp
namespace detail {
alignas(64) inline constexpr float lane_numbers[16] = {0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15};
}  // namespace detail
template <class Arch>
struct ops {
    using vec = xsimd::batch<float, Arch>;
    static constexpr std::size_t width = vec::size;
    static constexpr std::size_t registers = (width >= 16) ? 32 : 16;  // AVX-512 has zmm0..31

    static vec zero() noexcept { return vec(0.0f); }
    static vec broadcast(float x) noexcept { return vec(x); }
    static vec load(const float* p) noexcept { return vec::load_unaligned(p); }
    static void store(float* p, vec v) noexcept { v.store_unaligned(p); }
    // Fused wherever the target has FMA, whatever the arch tag: xsimd 8.1's fma for avx512f and
    // sse4_2 is a*b+c, which the compiler may or may not contract at each inlined site, and
    // softmax_row needs two sites to round alike (docs/design.md, "Numeric contract").
    static vec fma(vec a, vec b, vec c) noexcept {
#if defined(CTATTN_HAS_AVX512F)
        if constexpr (width == 16) return vec(x86::fma_16(a, b, c));
#endif
#if defined(CTATTN_HAS_X86_FMA)
        if constexpr (width == 8) return vec(x86::fma_8(a, b, c));
        if constexpr (width == 4) return vec(x86::fma_4(a, b, c));
#endif
        return xsimd::fma(a, b, c);
    }
    static vec mul(vec a, vec b) noexcept { return a * b; }
    static vec sub(vec a, vec b) noexcept { return a - b; }
    static vec max(vec a, vec b) noexcept { return xsimd::max(a, b); }
    static vec min(vec a, vec b) noexcept { return xsimd::min(a, b); }
    static vec exp(vec x) noexcept { return simd::exp(x); }  // simd/math.hpp
    // Lanes 0..count-1 of v, `fill` in the others: a row's last partial vector, loaded whole.
    static vec select_first(std::size_t count, vec v, float fill) noexcept {
        return xsimd::select(vec::load_aligned(detail::lane_numbers) < vec(float(count)), v, vec(fill));
    }
    static float reduce_add(vec v) noexcept { return xsimd::hadd(v); }  // 8.1 has no reduce_add
    // Whether some lane equals x: one compare and a mask test (cheaper than a horizontal reduction).
    static bool any_equal(vec v, float x) noexcept { return xsimd::any(v == vec(x)); }
    // Lane i = sum of rows[i]'s lanes, for `width` rows at once: one transpose-and-add network
    // instead of `width` separate horizontal sums (scores for a vector of keys in one go).
    // xsimd 8.1's AVX-512 haddp returns wrong sums, so 16-lane vectors use ctattn's own network.
    static vec reduce_add_each(const vec* rows) noexcept {
#if defined(CTATTN_HAS_AVX512F)
        if constexpr (width == 16) return x86::transpose_add_16(rows);
#endif
        return xsimd::haddp(rows);
    }
    static float reduce_max(vec v) noexcept {
#if defined(CTATTN_HAS_AVX512F)
        if constexpr (width == 16) return x86::reduce_max_16(v);
#endif
#if defined(CTATTN_HAS_AVX)
        if constexpr (width == 8) return x86::reduce_max_8(v);
#endif
        alignas(64) float lanes[width];
        v.store_unaligned(lanes);
        float m = lanes[0];
        for (std::size_t i = 1; i < width; ++i) m = lanes[i] > m ? lanes[i] : m;
        return m;
    }
};
CTATTN_RESTORE_WARNINGS

using default_arch = std::conditional_t<std::is_same_v<xsimd::default_arch, xsimd::unavailable>,
                                        scalar_arch, xsimd::default_arch>;

// The next narrower vector arch the target has (with FMA where it has one): AVX-512 -> AVX2 ->
// SSE4.2; 128-bit vectors (SSE, NEON) -> scalar.
template <class Arch>
auto narrower_arch_of() {
    if constexpr (std::is_same_v<Arch, scalar_arch>) return scalar_arch{};
#if XSIMD_WITH_FMA3_AVX2
    else if constexpr (ops<Arch>::width == 16) return xsimd::fma3<xsimd::avx2>{};
#endif
#if XSIMD_WITH_FMA3_SSE
    else if constexpr (ops<Arch>::width == 8) return xsimd::fma3<xsimd::sse4_2>{};
#elif XSIMD_WITH_SSE4_2
    else if constexpr (ops<Arch>::width == 8) return xsimd::sse4_2{};
#endif
    else return scalar_arch{};
}
#else
// No xsimd arch: Helium (Cortex-M55/M85 with MVE floats) or the scalar path. MVE's 4-float
// vectors are the narrowest; the next narrower arch is scalar.
using default_arch = std::conditional_t<target::mve_float, mve_arch, scalar_arch>;
template <class Arch>
auto narrower_arch_of() {
    return scalar_arch{};
}
#endif

// The widest arch, from Arch down, whose vector holds at most MaxWidth floats. Kernels that
// vectorise along head_dim use it, so a head narrower than the default vector (head_dim 8 under
// AVX-512: stories260K) runs on 8-wide vectors instead of falling back to scalar.
template <class Arch, std::size_t MaxWidth>
auto arch_fitting_width() {
    if constexpr (std::is_same_v<Arch, scalar_arch> || ops<Arch>::width <= MaxWidth)
        return Arch{};
    else
        return arch_fitting_width<decltype(narrower_arch_of<Arch>()), MaxWidth>();
}
template <class Arch, std::size_t MaxWidth>
using arch_for_width = decltype(arch_fitting_width<Arch, MaxWidth>());

template <class Arch>
inline constexpr std::size_t width = ops<Arch>::width;

template <class Arch>
constexpr const char* arch_name() noexcept {
    return Arch::name();
}

}  // namespace ctattn::simd
