// SPDX-License-Identifier: Apache-2.0
// The fixed-point helpers of cores without an FPU (simd/fixed_point.hpp), on the host against
// double: the Q30 polynomial 2^-f at every 16-bit argument and a sweep of 31-bit ones (relative
// error <= 2^-22, exactly 2^30 at 0, monotone), the exponent-field power-of-two scaling across the
// normal / subnormal / overflow boundaries, and silu over every float exponent of both signs
// (relative error <= 2^-21 against double where the result is normal, exact float formula past 32).
#include <catch2/catch.hpp>

#include <cmath>
#include <cstdint>
#include <limits>

#include <ctattn/simd/fixed_point.hpp>

using namespace ctattn::simd;

TEST_CASE("the fixed-point 2^-f is within 2^-22 of double, exactly 1 at 0 and monotone", "[fixed_point]") {
    std::uint32_t previous = 0xffffffffu;
    double worst = 0.0;
    for (std::uint32_t f = 0; f < 65536; ++f) {
        const std::uint32_t y = fixed_point::exp2_negative_q31(f << 15);
        REQUIRE(y <= previous);
        previous = y;
        const double exact = std::ldexp(std::exp2(-double(f) / 65536.0), 30);
        worst = std::max(worst, std::abs(double(y) - exact) / exact);
    }
    for (std::uint32_t f = 0; f < 0x80000000u; f += 9973) {
        const double exact = std::ldexp(std::exp2(-std::ldexp(double(f), -31)), 30);
        worst = std::max(worst, std::abs(double(fixed_point::exp2_negative_q31(f)) - exact) / exact);
    }
    CHECK(fixed_point::exp2_negative_q31(0) == (1u << 30));
    CHECK(worst <= std::ldexp(1.0, -22));
}

TEST_CASE("times_power_of_two scales by 2^n exactly where float can, and rounds once into subnormals",
          "[fixed_point]") {
    for (float f : {1.0f, -1.5f, 3.0e-30f, 7.0e30f, 1.0e-40f, 0.0f, -0.0f})
        for (int n : {-300, -149, -126, -60, -1, 0, 1, 60, 127, 200}) {
            const double exact = std::ldexp(double(f), n);
            const float got = fixed_point::times_power_of_two(f, n);
            INFO(f << " * 2^" << n);
            if (std::abs(exact) > double(std::numeric_limits<float>::max()))
                CHECK(std::isinf(got));
            else
                CHECK(std::abs(double(got) - exact) <= std::max(std::abs(exact) * 0x1p-24, 0x1p-149));
        }
    CHECK(std::signbit(fixed_point::times_power_of_two(-0.0f, 5)));
}

TEST_CASE("the fixed-point silu is within 2^-21 of double over every exponent, the float formula past 32",
          "[fixed_point]") {
    double worst = 0.0;
    for (int e = -149; e <= 127; ++e)
        for (float m : {1.0f, 1.1f, 1.37f, 1.5f, 1.75f, 1.999f})
            for (float sign : {1.0f, -1.0f}) {
                const float x = sign * std::ldexp(m, e);
                if (!std::isfinite(x)) continue;
                const double exact = double(x) / (1.0 + std::exp(-double(x)));
                const float got = fixed_point::silu(x);
                INFO("x " << x << " got " << got << " exact " << exact);
                if (std::abs(x) >= 32.0f) {  // the float formula itself (e^-x may overflow to a -0 result)
                    CHECK(got == x / (1.0f + std::exp(-x)));
                } else if (std::abs(exact) < double(std::numeric_limits<float>::min())) {
                    CHECK(std::abs(double(got) - exact) <= 0x1p-149 + std::abs(exact) * 0x1p-21);
                } else {
                    const double relative = std::abs(double(got) - exact) / std::abs(exact);
                    worst = std::max(worst, relative);
                    CHECK(relative <= 0x1p-21);
                }
            }
    // A dense sweep of the range activations live in.
    for (float x = -40.0f; x <= 40.0f; x += 0.001953125f * 1.37f) {
        const double exact = double(x) / (1.0 + std::exp(-double(x)));
        if (std::abs(x) >= 32.0f || std::abs(exact) < double(std::numeric_limits<float>::min())) continue;
        const double relative = std::abs(double(fixed_point::silu(x)) - exact) / std::abs(exact);
        worst = std::max(worst, relative);
        CHECK(relative <= 0x1p-21);
    }
    CHECK(fixed_point::silu(std::numeric_limits<float>::infinity()) == std::numeric_limits<float>::infinity());
    CHECK(std::isnan(fixed_point::silu(std::numeric_limits<float>::quiet_NaN())));
    CHECK(fixed_point::silu(0.0f) == 0.0f);
    INFO("worst relative error " << worst);
    CHECK(worst > 0.0);
}
