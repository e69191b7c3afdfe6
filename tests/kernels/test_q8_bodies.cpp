// SPDX-License-Identifier: Apache-2.0
// Every Q8 row-dot body compiled for this target (scalar, the one simd/q8.hpp dispatches to, and
// each per-ISA body the -march flags allow) against an independent reference: 64-bit integer group
// sums and a double sum over groups. Awkward group sizes (vector bodies have whole-vector, packed,
// masked and byte tails), 1..33 groups, codes at the int8 edges, and poison bytes after each row
// (a body that read past its row and used the bytes would be wrong).
#include <ctattn/simd/q8.hpp>

#include <catch2/catch.hpp>

#include <algorithm>
#include <array>
#include <cfloat>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <utility>
#include <vector>

namespace {

using namespace ctattn;

using row_dot_fn = float (*)(const std::int8_t*, const float*, const std::int8_t*, const float*, std::size_t);

struct body {
    const char* name;
    row_dot_fn fn;
};

// Every body this build compiled, for group size G.
template <std::size_t G>
std::vector<body> bodies() {
    // soft_float: the no-FPU cores' body (group scales in integers), portable C: tested everywhere.
    std::vector<body> list{{"scalar", &simd::scalar_q8::row_dot<G>}, {"dispatched", &simd::q8_row_dot<G>},
                           {"soft_float", &simd::q8_soft_float::row_dot<G>}};
#if defined(CTATTN_Q8_AVX2)
    list.push_back({"avx2", &simd::q8_x86::row_dot_avx2<G>});
#endif
#if defined(CTATTN_Q8_AVX_VNNI)
    list.push_back({"avx_vnni", &simd::q8_x86::row_dot_avx_vnni<G>});
#endif
#if defined(CTATTN_Q8_AVX512_VNNI)
    list.push_back({"avx512_vnni", &simd::q8_x86::row_dot_avx512_vnni<G>});
#endif
#if defined(CTATTN_Q8_NEON)
    list.push_back({"neon", &simd::q8_neon::row_dot<G>});
#endif
#if defined(CTATTN_Q8_ARM_DSP)
    list.push_back({"arm_dsp", &simd::q8_arm_dsp::row_dot<G>});
#endif
#if defined(CTATTN_HAS_MVE_INT)
    list.push_back({"helium", &simd::q8_mve::row_dot<G>});
#endif
    return list;
}

struct splitmix {
    std::uint64_t state;
    std::uint64_t next() {
        std::uint64_t z = (state += 0x9E3779B97F4A7C15ull);
        z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
        z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
        return z ^ (z >> 31);
    }
    int code(int lo, int hi) { return lo + static_cast<int>(next() % static_cast<std::uint64_t>(hi - lo + 1)); }
    float unit() { return static_cast<float>(next() >> 40) / static_cast<float>(1 << 24); }
};

enum class codes { random, weights_min_acts_max, weights_min_acts_min, weights_max_acts_min, alternating };

// Rows of `groups` groups of G codes, then 64 poison bytes (127) that no body may use.
template <std::size_t G>
void check_shape(std::size_t groups, codes kind, bool unit_scales, std::uint64_t seed) {
    constexpr std::size_t poison = 64;
    const std::size_t n = groups * G;
    std::vector<std::int8_t> w(n + poison, 127), xq(n + poison, 127);
    std::vector<float> ws(groups + 16, 1e30f), xs(groups + 16, 1e30f);
    splitmix rng{seed};
    for (std::size_t i = 0; i < n; ++i) {
        int wi = 0, xi = 0;
        switch (kind) {
        case codes::random: wi = rng.code(-128, 127); xi = rng.code(-127, 127); break;
        case codes::weights_min_acts_max: wi = -128; xi = 127; break;
        case codes::weights_min_acts_min: wi = -128; xi = -127; break;
        case codes::weights_max_acts_min: wi = 127; xi = -127; break;
        case codes::alternating: wi = (i % 2) ? -128 : 127; xi = (i % 3) ? -127 : 127; break;
        }
        w[i] = static_cast<std::int8_t>(wi);
        xq[i] = static_cast<std::int8_t>(xi);
    }
    for (std::size_t g = 0; g < groups; ++g) {
        // Scales as a quantizer makes them (>= 0, zero for an all-zero group), over several octaves.
        ws[g] = unit_scales ? 1.0f : (g == 1 ? 0.0f : std::ldexp(0.5f + rng.unit(), rng.code(-12, 4)));
        xs[g] = unit_scales ? 1.0f : std::ldexp(0.5f + rng.unit(), rng.code(-12, 4));
    }
    // Reference: exact 64-bit group sums, double products and sum.
    double reference = 0.0, magnitude = 0.0;
    for (std::size_t g = 0; g < groups; ++g) {
        std::int64_t acc = 0, acc_abs = 0;
        for (std::size_t i = 0; i < G; ++i) {
            const std::int64_t product = std::int64_t(w[g * G + i]) * std::int64_t(xq[g * G + i]);
            acc += product;
            acc_abs += product < 0 ? -product : product;
        }
        reference += double(ws[g]) * double(xs[g]) * double(acc);
        magnitude += double(ws[g]) * double(xs[g]) * double(acc_abs);
    }
    // Unit scales: every lane, group and partial sum is an integer below 2^24 (|sum| <= 128 * 127 *
    // G * groups <= 2^24 for the shapes here), so every body must be exact. Otherwise: one rounding
    // of each scale product, at most `groups` float additions into one accumulator lane, and at most
    // 8 more to merge accumulators and lanes, each within FLT_EPSILON of the magnitude sum. A vector
    // body scales each lane's part of a group (not the group's exact sum), so the magnitude is that
    // of the products, sum_g s_g sum_i |w_i q_i|, as for any float dot product.
    const double bound = unit_scales ? 0.0 : double(groups + 9) * double(FLT_EPSILON) * magnitude;
    if (unit_scales) REQUIRE(magnitude <= double(1 << 24));
    for (const body& b : bodies<G>()) {
        const float y = b.fn(w.data(), ws.data(), xq.data(), xs.data(), groups);
        INFO(b.name << ": G " << G << ", groups " << groups << ", codes " << int(kind) << ", unit scales "
                    << unit_scales << ", y " << y << ", reference " << reference << ", bound " << bound);
        CHECK(std::fabs(double(y) - reference) <= bound);
    }
}

template <std::size_t G>
void check_group_size() {
    std::uint64_t seed = G * 1000;
    for (std::size_t groups : {1, 2, 3, 5, 9, 17, 33}) {
        for (codes kind : {codes::random, codes::weights_min_acts_max, codes::weights_min_acts_min,
                           codes::weights_max_acts_min, codes::alternating}) {
            // The edge codes with G * groups large would pass 2^24 with unit scales: random scales then.
            const bool exact_fits = 128.0 * 127.0 * double(G * groups) <= double(1 << 24);
            if (exact_fits) check_shape<G>(groups, kind, true, ++seed);
            check_shape<G>(groups, kind, false, ++seed);
        }
    }
}

}  // namespace

TEST_CASE("every Q8 row-dot body gives exact group sums at unit scales and stays within the rounding bound otherwise",
          "[q8]") {
    check_group_size<1>();
    check_group_size<3>();
    check_group_size<4>();
    check_group_size<8>();
    check_group_size<12>();
    check_group_size<16>();
    check_group_size<32>();
    check_group_size<36>();
    check_group_size<43>();
    check_group_size<64>();
    check_group_size<96>();
    check_group_size<172>();
}

TEST_CASE("q8_quantize codes are within [-127, 127] and round-trip within half a step of a double reference",
          "[q8]") {
    constexpr std::size_t G = 43, groups = 5;
    std::array<float, G * groups> x{};
    splitmix rng{7};
    for (std::size_t i = 0; i < x.size(); ++i) x[i] = std::ldexp(rng.unit() * 2.0f - 1.0f, int(i / G) * 3 - 6);
    for (std::size_t i = G; i < 2 * G; ++i) x[i] = 0.0f;  // an all-zero group: scale 0, codes 0
    x[3 * G] = -100.0f;  // the group's extreme (the others are below 8): code exactly -127
    std::array<std::int8_t, G * groups> q{};
    std::array<float, groups> s{};
    simd::q8_quantize<G>(x.data(), groups, q.data(), s.data());
    // The no-FPU cores' integer codes (simd/q8_soft_float.hpp): the same scales, and the same codes
    // but where x / s is within 2^-22 of a half-integer (none here).
    std::array<std::int8_t, G * groups> q_soft{};
    std::array<float, groups> s_soft{};
    simd::q8_soft_float::quantize<G>(x.data(), groups, q_soft.data(), s_soft.data());
    CHECK(s_soft == s);
    CHECK(q_soft == q);
    for (std::size_t g = 0; g < groups; ++g) {
        double amax = 0.0;
        // (Written as a comparison: std::fmax here crashes aarch64 GCC 12's vectoriser at -O3.)
        for (std::size_t i = 0; i < G; ++i)
            if (std::fabs(double(x[g * G + i])) > amax) amax = std::fabs(double(x[g * G + i]));
        // s = amax / 127 rounded once to float.
        CHECK(std::fabs(double(s[g]) - amax / 127.0) <= amax / 127.0 * double(FLT_EPSILON));
        for (std::size_t i = 0; i < G; ++i) {
            const int code = q[g * G + i];
            CHECK(code >= -127);
            CHECK(code <= 127);
            // Half a step, plus the float rounding of x / s (one ulp of |code| <= 127).
            CHECK(std::fabs(double(x[g * G + i]) - double(code) * double(s[g])) <=
                  double(s[g]) * (0.5 + 128.0 * double(FLT_EPSILON)));
        }
    }
    CHECK(q[3 * G] == -127);
    CHECK(s[1] == 0.0f);
}

namespace {

// R rows with padded strides (codes and scales), random codes with -128 weights mixed in: every
// output of q8_rows_dot equals q8_row_dot of its row bit for bit (the documented contract), so it
// inherits the row dot's reference checks above.
template <std::size_t G, std::size_t R>
void check_rows(std::size_t groups, std::uint64_t seed) {
    const std::size_t row_stride = groups * G + 5, ws_stride = groups + 2;
    std::vector<std::int8_t> w(R * row_stride + 64, 127), xq(groups * G + 64, 127);
    std::vector<float> ws(R * ws_stride + 16, 1e30f), xs(groups + 16, 1e30f);
    splitmix rng{seed};
    for (std::size_t r = 0; r < R; ++r)
        for (std::size_t i = 0; i < groups * G; ++i)
            w[r * row_stride + i] = static_cast<std::int8_t>(i % 7 == 0 ? -128 : rng.code(-128, 127));
    for (std::size_t i = 0; i < groups * G; ++i) xq[i] = static_cast<std::int8_t>(rng.code(-127, 127));
    for (std::size_t r = 0; r < R; ++r)
        for (std::size_t g = 0; g < groups; ++g) ws[r * ws_stride + g] = std::ldexp(0.5f + rng.unit(), rng.code(-12, 4));
    for (std::size_t g = 0; g < groups; ++g) xs[g] = std::ldexp(0.5f + rng.unit(), rng.code(-12, 4));
    std::array<float, R> out{};
    simd::q8_rows_dot<G, R>(w.data(), row_stride, ws.data(), ws_stride, xq.data(), xs.data(), groups, out.data());
    for (std::size_t r = 0; r < R; ++r) {
        const float one = simd::q8_row_dot<G>(w.data() + r * row_stride, ws.data() + r * ws_stride, xq.data(), xs.data(), groups);
        INFO("G " << G << ", R " << R << ", groups " << groups << ", row " << r);
        CHECK(out[r] == one);
    }
}

template <std::size_t G>
void check_rows_all(std::uint64_t seed) {
    for (std::size_t groups : {1, 2, 3, 5, 17}) {
        check_rows<G, 1>(groups, ++seed);
        check_rows<G, 3>(groups, ++seed);
        check_rows<G, 4>(groups, ++seed);
    }
}

}  // namespace

TEST_CASE("q8_rows_dot gives each row's q8_row_dot bit for bit, with padded row and scale strides", "[q8]") {
    check_rows_all<4>(100);
    check_rows_all<8>(200);
    check_rows_all<16>(300);
    check_rows_all<32>(400);
    check_rows_all<36>(500);
    check_rows_all<43>(600);
    check_rows_all<64>(700);
    check_rows_all<172>(800);
}

namespace {

using quantize_fn = void (*)(const float*, std::size_t, std::int8_t*, float*);

// Every quantize body against the scalar one, bit for bit: random values over several octaves,
// values on rounding ties (k + 1/2 steps of the group's scale), -0.0, and an all-zero group.
template <std::size_t G>
void check_quantize(std::size_t groups, std::uint64_t seed) {
    std::vector<float> x(groups * G);
    splitmix rng{seed};
    for (std::size_t g = 0; g < groups; ++g) {
        const int octave = rng.code(-20, 20);
        for (std::size_t i = 0; i < G; ++i) {
            float v = std::ldexp(rng.unit() * 2.0f - 1.0f, octave);
            if (i % 5 == 1) v = std::ldexp((static_cast<float>(rng.code(-127, 126)) + 0.5f) / 127.0f, octave);  // ties
            if (i % 11 == 3) v = -0.0f;
            x[g * G + i] = v;
        }
        x[g * G] = std::ldexp(1.0f, octave);  // the group's amax is a power of two: exact ties above
        if (g == 1)
            for (std::size_t i = 0; i < G; ++i) x[g * G + i] = 0.0f;
    }
    std::vector<std::int8_t> q_ref(groups * G + 16, 99), q(groups * G + 16, 99);
    std::vector<float> s_ref(groups + 4, 99.0f), s(groups + 4, 99.0f);
    simd::scalar_q8::quantize<G>(x.data(), groups, q_ref.data(), s_ref.data());
    std::vector<std::pair<const char*, quantize_fn>> list{{"dispatched", &simd::q8_quantize<G>}};
#if defined(CTATTN_Q8_AVX2)
    list.push_back({"avx2", &simd::q8_x86::quantize_avx2<G>});
#endif
#if defined(CTATTN_Q8_NEON)
    list.push_back({"neon", &simd::q8_neon::quantize<G>});
#endif
#if defined(CTATTN_HAS_MVE_FLOAT)
    list.push_back({"helium", &simd::q8_mve::quantize<G>});
#endif
    for (const auto& [name, fn] : list) {
        std::fill(q.begin(), q.end(), std::int8_t(99));
        std::fill(s.begin(), s.end(), 99.0f);
        fn(x.data(), groups, q.data(), s.data());
        INFO(name << ": G " << G << ", groups " << groups);
        CHECK(q == q_ref);  // includes the 16 bytes after the codes: untouched
        CHECK(s == s_ref);
    }
}

template <std::size_t G>
void check_quantize_all(std::uint64_t seed) {
    for (std::size_t groups : {1, 3, 5}) check_quantize<G>(groups, seed + groups);
}

}  // namespace

TEST_CASE("every q8_quantize body gives the scalar body's codes and scales bit for bit, ties included", "[q8]") {
    check_quantize_all<1>(10);
    check_quantize_all<4>(20);
    check_quantize_all<8>(30);
    check_quantize_all<12>(40);
    check_quantize_all<16>(50);
    check_quantize_all<36>(60);
    check_quantize_all<43>(70);
    check_quantize_all<64>(80);
    check_quantize_all<172>(90);
}

TEST_CASE("the no-FPU integer quantizer gives the float quantizer's scales and codes over every exponent",
          "[q8]") {
    // Groups of 32 at magnitudes 2^-140 .. 2^100 (subnormal scales included): the same scales bit for
    // bit, codes off by at most 1 and only where x / s lies within 2^-22 of a half-integer.
    constexpr std::size_t G = 32;
    splitmix rng{11};
    std::size_t differ = 0, values = 0;
    for (int e = -140; e <= 100; e += 3)
        for (int trial = 0; trial < 20; ++trial) {
            std::array<float, G> x{};
            for (float& v : x) v = std::ldexp(rng.unit() * 2.0f - 1.0f, e + rng.code(-6, 0));
            std::array<std::int8_t, G> q{}, q_soft{};
            float s = 0.0f, s_soft = 0.0f;
            simd::scalar_q8::quantize<G>(x.data(), 1, q.data(), &s);
            simd::q8_soft_float::quantize<G>(x.data(), 1, q_soft.data(), &s_soft);
            REQUIRE(s_soft == s);
            for (std::size_t i = 0; i < G; ++i, ++values) {
                INFO("x " << x[i] << " s " << s << " float code " << int(q[i]) << " integer code " << int(q_soft[i]));
                if (q[i] == q_soft[i]) continue;
                ++differ;
                CHECK(std::abs(int(q[i]) - int(q_soft[i])) == 1);
                const double ratio = std::fabs(double(x[i]) / double(s));
                CHECK(std::fabs(ratio - std::floor(ratio) - 0.5) <= 0x1p-22 * 128.0);
            }
        }
    INFO(differ << " of " << values << " codes differ");
    CHECK(differ * 1000 <= values);
}
