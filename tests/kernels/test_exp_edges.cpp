// SPDX-License-Identifier: Apache-2.0
// The exp family (simd/math.hpp) at the ends of float's range, against double: simd::exp on every
// vector arch compiled in (xsimd's AVX2 / SSE exp stops early at both ends: +inf at 88.7, 0 at
// -103.97, where e^x is finite or denormal) and on one float; exp2_approx / exp_approx above the
// polynomial's range (no negative results, +inf past float's top); the scalar path's polynomial
// e^x and RoPE's polynomial cos/sin against double over their ranges.
// Tolerances: normal results within 4 ulp (2^-21 relative: xsimd's own <= 1-2 ulp, doubled by the
// square of e^(x/2) on the edge lanes); denormal results within half a denormal ulp of e^x plus that
// relative error, so a result that should round up to the smallest denormal cannot be 0.
#include <catch2/catch.hpp>

#include <ctattn/simd/math.hpp>
#include <ctattn/simd/ops.hpp>

#include <cfloat>
#include <cmath>
#include <cstring>
#include <limits>
#include <vector>

namespace {

constexpr double denormal_ulp = 0x1p-149;
constexpr float inf = std::numeric_limits<float>::infinity();

// The points: both edges of xsimd's range and of float's, and ordinary values beside them.
const std::vector<float> edge_points = {88.0f,   88.3f,   88.38f,  88.5f,    88.7f,   88.72f,  88.7228f, 88.73f,
                                        89.0f,   100.0f,  -87.0f,  -87.33f,  -87.34f, -87.5f,  -90.0f,   -100.0f,
                                        -103.0f, -103.2f, -103.27f, -103.97f, -104.0f, -110.0f, -200.0f,  0.0f,
                                        1.0f,    -1.0f,   20.5f,   -20.5f,   inf,     -inf};

void check_exp(float x, float got, double relative) {
    INFO("x " << x << " got " << got);
    const double exact = std::exp(double(x));
    if (std::isinf(x)) {
        CHECK(got == (x > 0 ? inf : 0.0f));
    } else if (exact > double(FLT_MAX)) {
        CHECK(got == inf);
    } else if (exact >= double(FLT_MIN)) {
        REQUIRE(std::isfinite(got));
        CHECK(std::fabs(double(got) - exact) <= relative * exact);
    } else {
        CHECK(got >= 0.0f);
        CHECK(std::fabs(double(got) - exact) <= 0.5 * denormal_ulp + relative * exact);
    }
}

#if defined(CTATTN_HAS_XSIMD)
// Every point in every lane, and the points side by side (edge lanes among ordinary ones).
template <class Arch>
void check_vector_exp() {
    using batch = xsimd::batch<float, Arch>;
    constexpr std::size_t W = batch::size;
    INFO("arch " << Arch::name() << " width " << W);
    for (float x : edge_points) {
        alignas(64) float out[W];
        ctattn::simd::exp(batch(x)).store_unaligned(out);
        for (std::size_t l = 0; l < W; ++l) check_exp(x, out[l], 0x1p-21);
    }
    std::vector<float> points = edge_points;
    while (points.size() % W != 0) points.push_back(0.5f);
    for (std::size_t i = 0; i < points.size(); i += W) {
        alignas(64) float out[W];
        ctattn::simd::exp(batch::load_unaligned(points.data() + i)).store_unaligned(out);
        for (std::size_t l = 0; l < W; ++l) check_exp(points[i + l], out[l], 0x1p-21);
    }
    alignas(64) float out[W];
    ctattn::simd::exp(batch(std::numeric_limits<float>::quiet_NaN())).store_unaligned(out);
    CHECK(std::isnan(out[0]));
}
#endif

}  // namespace

TEST_CASE("e^x is right at both ends of float's range on every vector arch and on one float") {
    for (float x : edge_points) check_exp(x, ctattn::simd::exp(x), 0x1p-21);
    CHECK(std::isnan(ctattn::simd::exp(std::numeric_limits<float>::quiet_NaN())));
#if defined(CTATTN_HAS_XSIMD)
#if XSIMD_WITH_SSE2
    check_vector_exp<xsimd::sse2>();
#endif
#if XSIMD_WITH_AVX2
    check_vector_exp<xsimd::avx2>();
#endif
#if XSIMD_WITH_AVX512F
    check_vector_exp<xsimd::avx512f>();
#endif
    check_vector_exp<xsimd::default_arch>();
#endif
    // Sampling and SiLU see the same function through ops<Arch>::exp (Helium's own exp_4 on the
    // M55): every point in every lane, then NaN (it must stay NaN through the clamps). Helium's
    // exp_4 returns 0 where e^x is below FLT_MIN (x < -87.33; its float lanes flush subnormal
    // results), so there a subnormal result is only required to be in [0, FLT_MIN).
    using V = ctattn::simd::ops<ctattn::simd::default_arch>;
    for (float x : edge_points) {
        std::vector<float> in(V::width, x), out(V::width);
        V::store(out.data(), V::exp(V::load(in.data())));
        for (float got : out) {
            if (ctattn::simd::target::mve_float && std::isfinite(x) && std::exp(double(x)) < double(FLT_MIN)) {
                INFO("x " << x << " got " << got);
                CHECK(got >= 0.0f);
                CHECK(got < FLT_MIN);
            } else {
                check_exp(x, got, 0x1p-21);
            }
        }
    }
    std::vector<float> in(V::width, std::numeric_limits<float>::quiet_NaN()), out(V::width);
    V::store(out.data(), V::exp(V::load(in.data())));
    for (float got : out) CHECK(std::isnan(got));
}

TEST_CASE("exp2_approx and exp_approx are never negative above their polynomial's range") {
    using ctattn::simd::exp2_approx;
    using ctattn::simd::exp_approx;
    // 2^x for x in (27, 128): as exact as below 27 (2.5 ulp, test_decode_attention.cpp's bound),
    // +inf from 128 on; every 1/64 and the float neighbours of the boundaries.
    for (float x = 26.0f; x < 140.0f; x += 1.0f / 64) {
        const float got = exp2_approx(x);
        INFO("x " << x << " got " << got);
        REQUIRE(got > 0.0f);
        if (x < 128.0f)
            CHECK(std::fabs(double(got) - std::exp2(double(x))) <= 2.5 * 0x1p-23 * std::exp2(double(x)));
        else
            CHECK(got == inf);
    }
    for (float x : {std::nextafter(27.0f, 100.0f), std::nextafter(128.0f, 0.0f), 1e30f, FLT_MAX, inf}) {
        INFO("x " << x);
        CHECK(exp2_approx(x) > 0.0f);
        CHECK((x < 128.0f ? std::isfinite(exp2_approx(x)) : exp2_approx(x) == inf));
    }
    // e^x: log2 e as a float is within 2^-24 relative, and the product x log2 e rounds to half an
    // ulp of a number below 128 (2^-18 absolute): an error in the exponent of x log2 e 2^-24 + 2^-18,
    // ln 2 times that relative in the result, plus the 2.5 ulp (8e-6 at 88). Finite up to 88.72,
    // +inf past 88.73.
    for (float x = 18.0f; x < 100.0f; x += 1.0f / 16) {
        const float got = exp_approx(x);
        INFO("x " << x << " got " << got);
        REQUIRE(got > 0.0f);
        const double relative = (double(x) * 1.4426950408889634 * 0x1p-24 + 0x1p-18) * 0.6931471805599453 + 2.5 * 0x1p-23;
        if (x <= 88.72f) CHECK(std::fabs(double(got) - std::exp(double(x))) <= relative * std::exp(double(x)));
        if (x >= 88.73f) CHECK(got == inf);
    }
    CHECK(exp_approx(1e30f) == inf);
    CHECK(exp_approx(inf) == inf);
    CHECK(std::isnan(exp_approx(std::numeric_limits<float>::quiet_NaN())));
}

// The scalar path's own e^x and RoPE's cos/sin (simd/math.hpp): fixed float sequences, so that
// every core with an FMA computes the same bits as the host's scalar build (the small-RAM firmware
// test, tests/embedded/stories_small_ram_fw.cpp, relies on it); here, their accuracy.
TEST_CASE("the scalar path's polynomial e^x is within 2 ulp and is AVX-512's exp lane for lane") {
    // Normal results over [-87, 88.7], about 2 x 10^5 points spaced ~1e-4 relative: <= 2 ulp of the
    // double e^x (the Cephes bound; 0.96 measured). check_exp covers the ends and NaN above.
#if defined(CTATTN_TEST_UNDER_EMULATION)
    constexpr float spacing = 1e-3f;  // 10x fewer points under emulation (a cross folder)
#else
    constexpr float spacing = 1e-4f;
#endif
    for (float x = -87.0f; x < 88.7f; x = std::nextafter(x + spacing * std::fabs(x) + 1e-6f, 100.0f)) {
        const double exact = std::exp(double(x));
        int exponent;
        std::frexp(exact, &exponent);
        INFO("x " << x);
        REQUIRE(std::fabs(double(ctattn::simd::exp_polynomial(x)) - exact) <= 2.0 * std::ldexp(1.0, exponent - 24));
    }
    for (float x : edge_points) check_exp(x, ctattn::simd::exp_polynomial(x), 0x1p-21);
#if defined(CTATTN_HAS_AVX512F)
    // The same operations as x86::exp_16 (VSCALEFPS rounds a denormal once, as the two exact-then-
    // rounding products do): equal bits over [-110, 95], denormals and overflow included.
    for (float x = -110.0f; x < 95.0f; x += 0.0131f) {
        alignas(64) float in[16], out[16];
        for (int lane = 0; lane < 16; ++lane) in[lane] = x + float(lane) * 1e-4f;
        _mm512_store_ps(out, ctattn::simd::x86::exp_16(_mm512_load_ps(in)));
        for (int lane = 0; lane < 16; ++lane) {
            const float got = ctattn::simd::exp_polynomial(in[lane]);
            INFO("x " << in[lane]);
            REQUIRE(std::memcmp(&got, out + lane, sizeof got) == 0);
        }
    }
#endif
}

TEST_CASE("the polynomial cos and sin are within 2^-23 of the double ones up to 6400 radians") {
    // r = x - k pi/2 carries two roundings of at most 2^-25 (|r| <= pi/4) and the polynomials about
    // one ulp: 9.2e-8 measured over this sweep, bound 2^-23 (1.19e-7). A wrong quadrant or sign is
    // off by ~1. Every integer angle (RoPE's first pair turns by the position itself) and a sweep.
    auto check = [](float x) {
        float c, s;
        ctattn::simd::cos_sin_polynomial(x, c, s);
        INFO("x " << x << " cos " << c << " sin " << s);
        REQUIRE(std::fabs(double(c) - std::cos(double(x))) <= 0x1p-23);
        REQUIRE(std::fabs(double(s) - std::sin(double(x))) <= 0x1p-23);
    };
    for (float x = 0.0f; x <= 4096.0f; x += 1.0f) check(x), check(-x);
    // 934 k angles natively, 93 k under emulation (a cross folder: ~35 s of qemu-user otherwise).
#if defined(CTATTN_TEST_UNDER_EMULATION)
    constexpr float sweep_step = 0.137f;
#else
    constexpr float sweep_step = 0.0137f;
#endif
    for (float x = -6400.0f; x < 6400.0f; x += sweep_step) check(x);
    for (float x : {1e-30f, -1e-30f, 0.7853981f, 1.5707963f, 3.1415926f, 4.712389f, 6.2831853f}) check(x);
    float c, s;
    ctattn::simd::cos_sin_polynomial(0.0f, c, s);
    CHECK((c == 1.0f && s == 0.0f));  // position 0 leaves q and k as they are
    for (float x : {inf, -inf, std::numeric_limits<float>::quiet_NaN()}) {
        ctattn::simd::cos_sin_polynomial(x, c, s);
        CHECK((std::isnan(c) && std::isnan(s)));
    }
}
