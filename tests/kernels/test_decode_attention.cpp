// SPDX-License-Identifier: Apache-2.0
// The scalar decode path's pieces against double references: exp2_approx / exp_approx over their
// whole domain (every float exponent, -inf, NaN, denormal results), and decode_attention over
// awkward shapes (head_dim 3, 5, 8, 13; lone and paired heads per KV head; runs of 1 to 200 keys,
// starting past 0 as a sliding window's do) and the numeric contract.
#include <catch2/catch.hpp>

#include <algorithm>
#include <cfloat>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>
#include <random>
#include <vector>

#include <ctattn/kernels/decode/attention.hpp>
#include <ctattn/simd/math.hpp>

namespace {
float from_bits(std::uint32_t b) {
    float x;
    std::memcpy(&x, &b, sizeof x);
    return x;
}
// |y - ref| in units of the float ulp at ref (for normal results).
double ulps(float y, double ref) { return std::abs(double(y) - ref) / std::ldexp(1.0, std::ilogb(ref) - 23); }
constexpr double smallest_denormal = 1.4012984643248171e-45;  // 2^-149
}  // namespace

TEST_CASE("exp2_approx is within 2.5 ulp of 2^x over its whole domain, exact at 0, 0 at -inf, NaN at NaN") {
    using ctattn::simd::exp2_approx;
    double worst_normal = 0.0, worst_denormal = 0.0;
    std::size_t checked = 0;
    auto check = [&](float x) {
        const double ref = std::exp2(double(x));
        const float y = exp2_approx(x);
        if (ref >= double(std::numeric_limits<float>::min())) {
            worst_normal = std::max(worst_normal, ulps(y, ref));
        } else {  // denormal or zero results: absolute error in units of the smallest denormal
            worst_denormal = std::max(worst_denormal, std::abs(double(y) - ref) / smallest_denormal);
        }
        ++checked;
    };
    // Every float x <= 27 down to -2^128 in steps of 997 bit patterns (~3.4 million values: every
    // exponent, both signs of the reduced argument), then every float in [-152, -125] (the
    // denormal results) and in [-1, 1] at a finer stride.
    for (std::uint64_t b = 0; b <= 0xFFFFFFFFu; b += 997) {
        const float x = from_bits(std::uint32_t(b));
        if (std::isnan(x) || x > 27.0f) continue;
        check(x);
    }
    for (float x = -152.0f; x <= -125.0f; x = std::nextafter(x, 0.0f))
        if (std::uint32_t bits; std::memcpy(&bits, &x, 4), bits % 61 == 0) check(x);
    for (float x = -1.0f; x <= 1.0f; x += 1.0f / 65536) check(x);
    INFO("values checked " << checked << ", worst normal " << worst_normal << " ulp, worst denormal "
                           << worst_denormal << " x 2^-149");
    CHECK(checked > 3000000);
    // Measured 2.04 ulp (at x = -0.49999: the polynomial's error and its five roundings), and 1.5
    // x 2^-149 for denormal results (one rounding of p * 2^n, with p's error on top).
    CHECK(worst_normal <= 2.5);
    CHECK(worst_denormal <= 2.0);
    CHECK(exp2_approx(0.0f) == 1.0f);
    CHECK(exp2_approx(-std::numeric_limits<float>::infinity()) == 0.0f);
    CHECK(exp2_approx(-151.0f) == 0.0f);
    CHECK(exp2_approx(-1e30f) == 0.0f);
    CHECK(exp2_approx(-149.0f) == float(smallest_denormal));
    CHECK(std::isnan(exp2_approx(std::numeric_limits<float>::quiet_NaN())));
    for (int n = -126; n <= 27; ++n) CHECK(exp2_approx(float(n)) == std::ldexp(1.0f, n));
}

TEST_CASE("exp_approx is within 2.5 ulp plus the rounding of x log2 e of e^x") {
    using ctattn::simd::exp_approx;
    double worst = 0.0;
    for (float x = -87.0f; x <= 18.0f; x += 1.0f / 1024) {
        const double ref = std::exp(double(x));
        // y = x log2 e is rounded to float (half an ulp of y: |y| 2^-24 at most) and log2 e itself
        // is 0.22 x 2^-24 off; each moves e^x by |y| 2^-24 ln 2 = |x| 2^-24 relative, which is up
        // to |x| ulp of the result (an ulp is 2^-24 to 2^-23 of a float). So 2.5 + 1.25 |x| ulp.
        const double allowed = 2.5 + 1.25 * std::abs(double(x));
        worst = std::max(worst, ulps(exp_approx(x), ref) / allowed);
    }
    INFO("worst error / allowance " << worst);
    CHECK(worst <= 1.0);
    CHECK(exp_approx(0.0f) == 1.0f);
    CHECK(exp_approx(-std::numeric_limits<float>::infinity()) == 0.0f);
}

namespace {
// Double reference of one query row of attention over the visible run [begin, end).
std::vector<double> reference(const std::vector<float>& q, const std::vector<float>& k, const std::vector<float>& v,
                              std::size_t heads, std::size_t kv_heads, std::size_t head_dim, std::size_t kv_stride,
                              std::size_t begin, std::size_t end) {
    std::vector<double> out(heads * head_dim, 0.0);
    const double scale = 1.0 / std::sqrt(double(head_dim));
    for (std::size_t h = 0; h < heads; ++h) {
        const std::size_t g = h / (heads / kv_heads);
        std::vector<double> s(end, 0.0);
        double max = -INFINITY, sum = 0.0;
        for (std::size_t j = begin; j < end; ++j) {
            double dot = 0.0;
            for (std::size_t d = 0; d < head_dim; ++d)
                dot += double(q[h * head_dim + d]) * k[j * kv_stride + g * head_dim + d];
            s[j] = dot * scale;
            max = std::max(max, s[j]);
        }
        for (std::size_t j = begin; j < end; ++j) sum += (s[j] = std::exp(s[j] - max));
        for (std::size_t j = begin; j < end; ++j)
            for (std::size_t d = 0; d < head_dim; ++d)
                out[h * head_dim + d] += s[j] / sum * v[j * kv_stride + g * head_dim + d];
    }
    return out;
}

template <std::size_t Heads, std::size_t KvHeads, std::size_t HeadDim>
void check_shape(std::size_t n_keys, std::size_t begin, float spread) {
    constexpr std::size_t kv_dim = KvHeads * HeadDim;
    std::mt19937 rng(unsigned(Heads * 1000 + HeadDim * 10 + n_keys));
    std::uniform_real_distribution<float> uniform(-1.0f, 1.0f);
    std::vector<float> q(Heads * HeadDim), k(n_keys * kv_dim), v(n_keys * kv_dim);
    for (float& x : q) x = spread * uniform(rng);
    for (float& x : k) x = uniform(rng);
    for (float& x : v) x = uniform(rng);
    // Keys outside the visible run hold NaN: they must never be read.
    for (std::size_t j = 0; j < begin; ++j)
        for (std::size_t c = 0; c < kv_dim; ++c) k[j * kv_dim + c] = v[j * kv_dim + c] = NAN;
    std::vector<float> scores(ctattn::kernels::decode_heads_per_pass * n_keys), context(Heads * HeadDim);
    REQUIRE(ctattn::kernels::decode_attention<Heads, KvHeads, HeadDim, kv_dim>(
        q.data(), k.data(), v.data(), ctattn::key_range{begin, n_keys}, float(1.0 / std::sqrt(double(HeadDim))),
        scores.data(), context.data()));
    const auto ref = reference(q, k, v, Heads, KvHeads, HeadDim, kv_dim, begin, n_keys);
    // Each weight carries the exp's 2.5 ulp, the roundings of its score (|s| <= spread *
    // sqrt(head_dim), relative 2^-24 each through head_dim fmas and the base-2 scaling) and of
    // the sum; the output is a convex mix of |v| <= 1, so 2e-6 * (1 + |s|max) bounds the error
    // with a margin of about 4 over what float arithmetic can reach here.
    const double tolerance = 2e-6 * (1.0 + spread * std::sqrt(double(HeadDim)));
    for (std::size_t i = 0; i < ref.size(); ++i) {
        INFO("heads " << Heads << " kv_heads " << KvHeads << " head_dim " << HeadDim << " keys " << begin << ".."
                      << n_keys << " spread " << spread << " element " << i);
        REQUIRE(std::isfinite(context[i]));
        REQUIRE(std::abs(context[i] - ref[i]) <= tolerance);
    }
}
}  // namespace

TEST_CASE("decode_attention matches the double reference for lone and paired heads and awkward sizes") {
    for (const std::size_t n : {1u, 3u, 5u, 13u, 200u})
        for (const float spread : {0.5f, 4.0f, 40.0f}) {
            check_shape<1, 1, 3>(n, 0, spread);
            check_shape<3, 1, 5>(n, 0, spread);    // a pair and a lone head on one KV head
            check_shape<8, 4, 8>(n, 0, spread);    // stories260K's shape: pairs (assembly on Cortex-M)
            check_shape<6, 3, 13>(n, 0, spread);
            check_shape<4, 4, 8>(n, n / 2, spread);  // a run that starts past 0 (sliding window)
        }
}

TEST_CASE("decode_attention: empty run 0, huge finite scores finite, NaN or overflowing scores reported") {
    constexpr std::size_t H = 4, G = 2, D = 8, n = 7;
    std::vector<float> q(H * D, 0.25f), k(n * G * D, 0.5f), v(n * G * D, 1.0f), scores(2 * n), context(H * D, -1.0f);
    CHECK(ctattn::kernels::decode_attention<H, G, D, G * D>(q.data(), k.data(), v.data(), ctattn::key_range{3, 3},
                                                            0.35f, scores.data(), context.data()));
    for (float c : context) CHECK(c == 0.0f);

    // Scores ~1e30 apart: the largest gets weight 1 (2^0 exactly), the others 0: its value row.
    std::vector<float> k2(n * G * D, 0.0f), v2(n * G * D);
    for (std::size_t j = 0; j < n; ++j)
        for (std::size_t c = 0; c < G * D; ++c) {
            k2[j * G * D + c] = j == 5 ? 1e18f : -1e18f;
            v2[j * G * D + c] = float(j);
        }
    std::vector<float> q2(H * D, 1e12f);
    CHECK(ctattn::kernels::decode_attention<H, G, D, G * D>(q2.data(), k2.data(), v2.data(), ctattn::key_range{0, n},
                                                            0.35f, scores.data(), context.data()));
    for (float c : context) CHECK(c == 5.0f);

    // A NaN key element (NaN score), and q . k beyond FLT_MAX (+inf score): irregular rows, left
    // to the general core (block.hpp then runs attend, which applies the contract's rules).
    k[4 * G * D + 2] = NAN;
    CHECK_FALSE(ctattn::kernels::decode_attention<H, G, D, G * D>(q.data(), k.data(), v.data(),
                                                                  ctattn::key_range{0, n}, 0.35f, scores.data(),
                                                                  context.data()));
    std::vector<float> q3(H * D, 1e20f), k3(n * G * D, 1e20f);
    CHECK_FALSE(ctattn::kernels::decode_attention<H, G, D, G * D>(q3.data(), k3.data(), v.data(),
                                                                  ctattn::key_range{0, n}, 0.35f, scores.data(),
                                                                  context.data()));
    // The same NaN key outside the visible run is never read.
    CHECK(ctattn::kernels::decode_attention<H, G, D, G * D>(q.data(), k.data(), v.data(), ctattn::key_range{5, n},
                                                            0.35f, scores.data(), context.data()));
    for (float c : context) CHECK(c == Approx(1.0f).epsilon(1e-6));
}

TEST_CASE("decode_attention hands back a row whose context overflows from finite values (tied scores, values near FLT_MAX)",
          "[numeric]") {
    // q = 0: every score ties, every weight is 2^0 = 1 before the division by their sum, so n
    // values of FLT_MAX sum to inf in the kernels while the answer, their mean, is FLT_MAX. The
    // kernels report such a row (block.hpp then runs the general core, whose normalised weights
    // stay inside the values' hull: tests/contract/test_numeric_contract.cpp, style 3). Heads 3 per
    // KV head: a pair and a lone head, each checked.
    constexpr std::size_t H = 6, G = 2, D = 8;
    for (std::size_t n : {2, 3, 7, 13}) {
        std::vector<float> q(H * D, 0.0f), k(n * G * D, 0.5f), v(n * G * D, FLT_MAX), scores(2 * n), context(H * D);
        INFO("keys " << n);
        CHECK_FALSE(ctattn::kernels::decode_attention<H, G, D, G * D>(q.data(), k.data(), v.data(),
                                                                      ctattn::key_range{0, n}, 0.35f, scores.data(),
                                                                      context.data()));
        CHECK_FALSE(ctattn::kernels::vector_decode_attention<H, G, D, G * D, D, ctattn::simd::default_arch>(
            q.data(), k.data(), v.data(), ctattn::key_range{0, n}, 0.35f, scores.data(), context.data()));
        // Only the lone head's values overflow (KV head 1 feeds query heads 3..5: a pair, then one).
        for (std::size_t j = 0; j < n; ++j)
            for (std::size_t c = 0; c < G * D; ++c) v[j * G * D + c] = c < D ? 1.0f : FLT_MAX;
        CHECK_FALSE(ctattn::kernels::decode_attention<H, G, D, G * D>(q.data(), k.data(), v.data(),
                                                                      ctattn::key_range{0, n}, 0.35f, scores.data(),
                                                                      context.data()));
        // Values whose sum stays below FLT_MAX: a regular row, its mean exactly.
        const float value = FLT_MAX / 16;
        std::fill(v.begin(), v.end(), value);
        REQUIRE(ctattn::kernels::decode_attention<H, G, D, G * D>(q.data(), k.data(), v.data(),
                                                                  ctattn::key_range{0, n}, 0.35f, scores.data(),
                                                                  context.data()));
        for (float c : context) CHECK(c == Approx(value).epsilon(1e-6));
    }
}
