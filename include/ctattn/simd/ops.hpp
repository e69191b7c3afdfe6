// SPDX-License-Identifier: Apache-2.0
// The one place that chooses how kernels vectorise. Kernels are written once over
// `simd::ops<Arch>`: for an xsimd architecture tag the vector is `xsimd::batch<float, Arch>`, for
// `scalar_arch` it is a single float, so the same loop nest compiles to plain C++ on cores without
// SIMD (Cortex-M) and to SSE/AVX/AVX-512/NEON elsewhere. `default_arch` is the widest architecture
// the compiler targets (-march/-mcpu/-mfpu decide), or `scalar_arch` when built with
// CTATTN_SIMD_SCALAR defined (the override), without xsimd, or for a target xsimd has no arch for.
#pragma once

#include "../base/language_check.hpp"

#include <cmath>
#include <cstddef>
#include <type_traits>

// xsimd is used only where it has an architecture for the target. Its configuration header reads
// nothing but the compiler's target macros, so it is asked first: on Cortex-M (no NEON; MVE is not
// an xsimd arch), RISC-V without V and x86 without SSE2 the kernels take the scalar path, and
// xsimd.hpp, which does not even compile against newlib (posix_memalign), is never included.
#if !defined(CTATTN_SIMD_SCALAR) && defined(__has_include)
#if __has_include(<xsimd/config/xsimd_config.hpp>)
#include <xsimd/config/xsimd_config.hpp>
#if XSIMD_WITH_SSE2 || XSIMD_WITH_NEON || XSIMD_WITH_NEON64 || (defined(XSIMD_WITH_SVE) && XSIMD_WITH_SVE) || \
    (defined(XSIMD_WITH_RVV) && XSIMD_WITH_RVV) || (defined(XSIMD_WITH_WASM) && XSIMD_WITH_WASM)
#define CTATTN_XSIMD_TARGETS_THIS_ARCH 1
#endif
#endif
#endif

#if defined(CTATTN_XSIMD_TARGETS_THIS_ARCH)
// GCC 12.2 (Debian 12) misreports its own AVX-512 intrinsics once they are inlined into a kernel:
// `__m512 __Y = __Y;` in _mm512_undefined_ps as an uninitialised read (GCC PR 105593), and the
// vector loads of a loop that cannot run for a row shorter than one vector (13 floats, 16 lanes)
// as out of bounds. Both break -Werror builds for -march targets with AVX-512. They are silenced
// for the intrinsic headers and for ctattn's wrappers below (the warnings are reported at the
// intrinsic's line), so diagnostics in user code stay as they are.
#if defined(__GNUC__) && !defined(__clang__)
#define CTATTN_SILENCE_INTRINSIC_WARNINGS                                \
    _Pragma("GCC diagnostic push")                                      \
    _Pragma("GCC diagnostic ignored \"-Wuninitialized\"")               \
    _Pragma("GCC diagnostic ignored \"-Wmaybe-uninitialized\"")         \
    _Pragma("GCC diagnostic ignored \"-Warray-bounds\"")
#define CTATTN_RESTORE_WARNINGS _Pragma("GCC diagnostic pop")
#else
#define CTATTN_SILENCE_INTRINSIC_WARNINGS
#define CTATTN_RESTORE_WARNINGS
#endif
// Bare-metal Cortex-A with NEON (arm-none-eabi, newlib): newlib declares posix_memalign only in
// POSIX modes (-std=gnu++20), yet xsimd's aligned allocator names it under -std=c++20 too. ctattn
// never allocates; the same declaration as newlib's just lets xsimd.hpp compile.
#include <cstdlib>
#if defined(_NEWLIB_VERSION)
extern "C" int posix_memalign(void**, std::size_t, std::size_t);
#endif
CTATTN_SILENCE_INTRINSIC_WARNINGS
#include <xsimd/xsimd.hpp>
CTATTN_RESTORE_WARNINGS
#define CTATTN_HAS_XSIMD 1
#endif

#if defined(CTATTN_HAS_XSIMD) && XSIMD_VERSION_MAJOR < 8
#error "ctattn needs xsimd >= 8 (Debian 12 ships 8.1); build with -Dsimd=scalar to do without it"
#endif

// Loops over a register tile's rows and vectors must be unrolled, or the accumulators cannot live
// in registers: at -Os (the usual firmware setting) GCC leaves such loops rolled and keeps acc[][]
// on the stack, a load and a store around every multiply-add. The tile loops say so explicitly.
#if defined(__GNUC__) && !defined(__clang__)
#define CTATTN_UNROLL _Pragma("GCC unroll 32")
#elif defined(__clang__)
#define CTATTN_UNROLL _Pragma("unroll")
#else
#define CTATTN_UNROLL
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
    // Fused where the target has a fused multiply-add (x86 FMA, AArch64, Cortex-M4F/M7/M55), so
    // every call rounds once whatever the compiler's contraction choices at each inlined site
    // (packed and row-major projections agree bit for bit); a*b+c on cores without one (Cortex-M3
    // soft float), where fmaf would be a slow library call.
    static vec fma(vec a, vec b, vec c) noexcept {
#if defined(__FMA__) || defined(__ARM_FEATURE_FMA)
        return __builtin_fmaf(a, b, c);
#else
        return a * b + c;
#endif
    }
    static vec mul(vec a, vec b) noexcept { return a * b; }
    static vec sub(vec a, vec b) noexcept { return a - b; }
    static vec max(vec a, vec b) noexcept { return a > b ? a : b; }
    static vec exp(vec x) noexcept { return std::exp(x); }
    static vec select_first(std::size_t count, vec v, float fill) noexcept { return count > 0 ? v : fill; }
    static float reduce_add(vec v) noexcept { return v; }
    static float reduce_max(vec v) noexcept { return v; }
    static vec reduce_add_each(const vec* rows) noexcept { return rows[0]; }
};

#if defined(CTATTN_HAS_XSIMD)
CTATTN_SILENCE_INTRINSIC_WARNINGS  // see the include of xsimd above
namespace detail {
alignas(64) inline constexpr float lane_numbers[16] = {0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15};
}  // namespace detail
#if defined(__AVX512F__)
namespace detail {
// Lane t of the result = the sum of rows[t]'s 16 lanes, in 15 steps of two 128-bit-lane shuffles
// and an add: each step halves the lanes a row occupies and packs two rows' halves into one
// vector. The network leaves slot s's sum in lane 4 * (s % 4) + s / 4, so slot s is fed row
// 4 * (s % 4) + s / 4 (that map is its own inverse) and lane t comes out holding row t.
template <class Vec>
inline Vec transpose_add_16(const Vec* rows) noexcept {
    auto slot = [rows](int s) -> __m512 { return rows[4 * (s % 4) + s / 4]; };
    __m512 pairs[8];  // 128-bit lanes 0-1: slot 2i folded to 8 lanes, 2-3: slot 2i + 1
    for (int i = 0; i < 8; ++i) {
        const __m512 a = slot(2 * i), b = slot(2 * i + 1);
        pairs[i] = _mm512_add_ps(_mm512_shuffle_f32x4(a, b, 0x44), _mm512_shuffle_f32x4(a, b, 0xEE));
    }
    __m512 quads[4];  // 128-bit lane L: slot 4j + L folded to 4 lanes
    for (int j = 0; j < 4; ++j) {
        const __m512 a = pairs[2 * j], b = pairs[2 * j + 1];
        quads[j] = _mm512_add_ps(_mm512_shuffle_f32x4(a, b, 0x88), _mm512_shuffle_f32x4(a, b, 0xDD));
    }
    __m512 octs[2];  // within 128-bit lane L: two lanes each of slots 8k + L and 8k + 4 + L
    for (int k = 0; k < 2; ++k) {
        const __m512 a = quads[2 * k], b = quads[2 * k + 1];
        octs[k] = _mm512_add_ps(_mm512_shuffle_ps(a, b, 0x44), _mm512_shuffle_ps(a, b, 0xEE));
    }
    return Vec(_mm512_add_ps(_mm512_shuffle_ps(octs[0], octs[1], 0x88), _mm512_shuffle_ps(octs[0], octs[1], 0xDD)));
}
// e^x for 16 floats, inlined (xsimd 8.1's exp is an out-of-line call under AVX-512, and every
// zmm register is caller-saved, so a softmax loop spills around each call). e^x = 2^n e^r with
// n = round(x log2 e) and r = x - n ln 2 in [-ln2/2, ln2/2] (ln 2 in two parts, Cody-Waite);
// e^r is Cephes' expf polynomial (degree 7; Cephes documents 1.7e-7 relative error on that
// interval); vscalefps multiplies by 2^n with one rounding, overflow to +inf and gradual
// underflow to 0 included. x is clamped to [-104, 89] first, which keeps r finite for +-inf
// (e^-104 and e^89 are already 0 and +inf in float) and lets NaN through (vmaxps/vminps return
// their second operand when one is NaN). Error against the double exp: <= 2 ulp where the result
// is a normal float (1.006 measured over 2^22 points), <= 2^-149 below (tests/test_kernels_blocked.cpp).
inline __m512 exp_16(__m512 x) noexcept {
    x = _mm512_min_ps(_mm512_set1_ps(89.0f), _mm512_max_ps(_mm512_set1_ps(-104.0f), x));
    const __m512 n = _mm512_roundscale_ps(_mm512_mul_ps(x, _mm512_set1_ps(1.44269504088896341f)),
                                          _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
    __m512 r = _mm512_fmadd_ps(n, _mm512_set1_ps(-0.693359375f), x);
    r = _mm512_fmadd_ps(n, _mm512_set1_ps(2.12194440e-4f), r);
    __m512 p = _mm512_set1_ps(1.9875691500e-4f);
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.3981999507e-3f));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(8.3334519073e-3f));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(4.1665795894e-2f));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.6666665459e-1f));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(5.0000001201e-1f));
    const __m512 e_r = _mm512_add_ps(_mm512_fmadd_ps(p, _mm512_mul_ps(r, r), r), _mm512_set1_ps(1.0f));
    return _mm512_scalef_ps(e_r, n);
}
}  // namespace detail
#endif
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
#if defined(__AVX512F__)
        if constexpr (width == 16) return vec(_mm512_fmadd_ps(a, b, c));
#endif
#if defined(__FMA__)
        if constexpr (width == 8) return vec(_mm256_fmadd_ps(a, b, c));
        if constexpr (width == 4) return vec(_mm_fmadd_ps(a, b, c));
#endif
        return xsimd::fma(a, b, c);
    }
    static vec mul(vec a, vec b) noexcept { return a * b; }
    static vec sub(vec a, vec b) noexcept { return a - b; }
    static vec max(vec a, vec b) noexcept { return xsimd::max(a, b); }
    static vec exp(vec x) noexcept {
#if defined(__AVX512F__)
        if constexpr (width == 16) return vec(detail::exp_16(x));
#endif
        return xsimd::exp(x);
    }
    // Lanes 0..count-1 of v, `fill` in the others: a row's last partial vector, loaded whole.
    static vec select_first(std::size_t count, vec v, float fill) noexcept {
        return xsimd::select(vec::load_aligned(detail::lane_numbers) < vec(float(count)), v, vec(fill));
    }
    static float reduce_add(vec v) noexcept { return xsimd::hadd(v); }  // 8.1 has no reduce_add
    // Lane i = sum of rows[i]'s lanes, for `width` rows at once: one transpose-and-add network
    // instead of `width` separate horizontal sums (scores for a vector of keys in one go).
    // xsimd 8.1's AVX-512 haddp returns wrong sums, so 16-lane vectors use ctattn's own network.
    static vec reduce_add_each(const vec* rows) noexcept {
#if defined(__AVX512F__)
        if constexpr (width == 16) return detail::transpose_add_16(rows);
#endif
        return xsimd::haddp(rows);
    }
    static float reduce_max(vec v) noexcept {
#if defined(__AVX512F__)
        if constexpr (width == 16) return _mm512_reduce_max_ps(v);
#endif
#if defined(__AVX__)
        if constexpr (width == 8) {  // halves, then pairs, then neighbours: three max steps
            const __m128 m4 = _mm_max_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
            const __m128 m2 = _mm_max_ps(m4, _mm_movehl_ps(m4, m4));
            return _mm_cvtss_f32(_mm_max_ss(m2, _mm_shuffle_ps(m2, m2, 1)));
        }
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
using default_arch = scalar_arch;
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
