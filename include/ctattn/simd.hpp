// The one place that chooses how kernels vectorise. Kernels are written once over
// `simd::ops<Arch>`: for an xsimd architecture tag the vector is `xsimd::batch<float, Arch>`, for
// `scalar_arch` it is a single float, so the same loop nest compiles to plain C++ on cores without
// SIMD (Cortex-M) and to SSE/AVX/AVX-512/NEON elsewhere. `default_arch` is the widest architecture
// the compiler targets, or `scalar_arch` when built with CTATTN_SIMD_SCALAR or without xsimd.
#pragma once

#include <cmath>
#include <cstddef>
#include <type_traits>

#if !defined(CTATTN_SIMD_SCALAR) && defined(__has_include)
#if __has_include(<xsimd/xsimd.hpp>)
#include <xsimd/xsimd.hpp>
#define CTATTN_HAS_XSIMD 1
#endif
#endif

#if defined(CTATTN_HAS_XSIMD) && XSIMD_VERSION_MAJOR < 8
#error "ctattn needs xsimd >= 8 (Debian 12 ships 8.1); build with -Dsimd=scalar to do without it"
#endif

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
    // Registers available for accumulators: enough for a 4x4 projection tile in s0..s31 on
    // Cortex-M4F/M7; soft-float cores spill, which costs little next to the float emulation.
    static constexpr std::size_t registers = 16;

    static vec zero() noexcept { return 0.0f; }
    static vec broadcast(float x) noexcept { return x; }
    static vec load(const float* p) noexcept { return *p; }
    static void store(float* p, vec v) noexcept { *p = v; }
    // a*b+c rather than std::fma: on soft-float cores fmaf is a slow library call, and
    // where the FPU has a fused multiply-add the compiler contracts this itself.
    static vec fma(vec a, vec b, vec c) noexcept { return a * b + c; }
    static vec mul(vec a, vec b) noexcept { return a * b; }
    static vec sub(vec a, vec b) noexcept { return a - b; }
    static vec max(vec a, vec b) noexcept { return a > b ? a : b; }
    static vec exp(vec x) noexcept { return std::exp(x); }
    static float reduce_add(vec v) noexcept { return v; }
    static float reduce_max(vec v) noexcept { return v; }
    static vec reduce_add_each(const vec* rows) noexcept { return rows[0]; }
};

#if defined(CTATTN_HAS_XSIMD)
template <class Arch>
struct ops {
    using vec = xsimd::batch<float, Arch>;
    static constexpr std::size_t width = vec::size;
    static constexpr std::size_t registers = (width >= 16) ? 32 : 16;  // AVX-512 has zmm0..31

    static vec zero() noexcept { return vec(0.0f); }
    static vec broadcast(float x) noexcept { return vec(x); }
    static vec load(const float* p) noexcept { return vec::load_unaligned(p); }
    static void store(float* p, vec v) noexcept { v.store_unaligned(p); }
    static vec fma(vec a, vec b, vec c) noexcept { return xsimd::fma(a, b, c); }
    static vec mul(vec a, vec b) noexcept { return a * b; }
    static vec sub(vec a, vec b) noexcept { return a - b; }
    static vec max(vec a, vec b) noexcept { return xsimd::max(a, b); }
    static vec exp(vec x) noexcept { return xsimd::exp(x); }
    static float reduce_add(vec v) noexcept { return xsimd::hadd(v); }  // 8.1 has no reduce_add
    // Lane i = sum of rows[i]'s lanes, for `width` rows at once: one transpose-and-add network
    // instead of `width` separate horizontal sums (scores for a vector of keys in one go).
    static vec reduce_add_each(const vec* rows) noexcept { return xsimd::haddp(rows); }
    static float reduce_max(vec v) noexcept {
        alignas(64) float lanes[width];
        v.store_unaligned(lanes);
        float m = lanes[0];
        for (std::size_t i = 1; i < width; ++i) m = lanes[i] > m ? lanes[i] : m;
        return m;
    }
};

using default_arch = std::conditional_t<std::is_same_v<xsimd::default_arch, xsimd::unavailable>,
                                        scalar_arch, xsimd::default_arch>;
#else
using default_arch = scalar_arch;
#endif

template <class Arch>
inline constexpr std::size_t width = ops<Arch>::width;

template <class Arch>
constexpr const char* arch_name() noexcept {
    return Arch::name();
}

}  // namespace ctattn::simd
