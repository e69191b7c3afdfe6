// SPDX-License-Identifier: Apache-2.0
// The block's pieces against double-precision references written out plainly here: LayerNorm and
// RMSNorm, the four activations (and the gated form), dense and gated FFNs, sinusoidal positions
// and RoPE. Widths are awkward on purpose (1, 3, 5, 13, 37, and others that are no multiple of any
// SIMD width), and every check runs on the default architecture and on simd::scalar_arch.
#include <catch2/catch.hpp>

#include <ctattn/layers/ffn.hpp>
#include <ctattn/kernels/activation.hpp>
#include <ctattn/layers/norm.hpp>
#include <ctattn/layers/position.hpp>

#include <algorithm>
#include <cfloat>
#include <cmath>
#include <random>
#include <string_view>
#include <vector>

namespace {

using ctattn::simd::default_arch;
using ctattn::simd::scalar_arch;

std::vector<float> random_row(std::size_t n, float centre, float spread, unsigned seed) {
    std::mt19937 rng(seed);
    std::uniform_real_distribution<float> dist(centre - spread, centre + spread);
    std::vector<float> v(n);
    for (auto& x : v) x = dist(rng);
    return v;
}

// ---- norms ----
template <std::size_t N, class Arch>
void check_layer_norm(float centre) {
    const auto x = random_row(N, centre, 2.0f, unsigned(N) + 1), gain = random_row(N, 1.0f, 0.5f, unsigned(N) + 2),
               bias = random_row(N, 0.0f, 0.5f, unsigned(N) + 3);
    std::vector<float> y(N), in_place = x;
    constexpr float eps = 1e-5f;
    ctattn::kernels::layer_norm_row<N, Arch>(x.data(), gain.data(), bias.data(), eps, y.data());
    ctattn::kernels::layer_norm_row<N, Arch>(in_place.data(), gain.data(), bias.data(), eps, in_place.data());
    double mean = 0.0, var = 0.0;
    for (float v : x) mean += v;
    mean /= double(N);
    for (float v : x) var += (v - mean) * (v - mean);
    var /= double(N);
    for (std::size_t i = 0; i < N; ++i) {
        const double want = (x[i] - mean) / std::sqrt(var + eps) * gain[i] + bias[i];
        // Normalised values are O(1) (|.| <= sqrt(N)); float sums of N terms and one rsqrt give a
        // few ulps times N of the row's scale. The offset `centre` (up to 100 here, with spread 2)
        // costs log2(50) more bits through the subtraction of the mean: 2e-6 * N covers both.
        INFO("N " << N << " i " << i << " centre " << centre);
        REQUIRE(std::abs(y[i] - want) <= 2e-6 * double(N) + 1e-6);
        REQUIRE(in_place[i] == y[i]);
    }
}

template <std::size_t N, class Arch>
void check_rms_norm() {
    const auto x = random_row(N, 0.3f, 3.0f, unsigned(N) + 7), gain = random_row(N, 1.0f, 0.5f, unsigned(N) + 8);
    std::vector<float> y(N);
    constexpr float eps = 1e-5f;
    ctattn::kernels::rms_norm_row<N, Arch>(x.data(), gain.data(), eps, y.data());
    double mean_square = 0.0;
    for (float v : x) mean_square += double(v) * v;
    mean_square /= double(N);
    for (std::size_t i = 0; i < N; ++i) {
        const double want = x[i] / std::sqrt(mean_square + eps) * gain[i];
        INFO("N " << N << " i " << i);
        REQUIRE(std::abs(y[i] - want) <= 1e-6 * double(N) + 1e-6);  // as above, no mean to subtract
    }
}

template <class Arch>
void check_norms() {
    check_layer_norm<1, Arch>(0.0f);
    check_layer_norm<3, Arch>(0.0f);
    check_layer_norm<5, Arch>(5.0f);
    check_layer_norm<13, Arch>(0.0f);
    check_layer_norm<37, Arch>(100.0f);
    check_layer_norm<64, Arch>(-3.0f);
    check_rms_norm<1, Arch>();
    check_rms_norm<3, Arch>();
    check_rms_norm<13, Arch>();
    check_rms_norm<37, Arch>();
    check_rms_norm<172, Arch>();
}

// ---- norms at extreme magnitudes ----
// Rows whose plain float sums overflow (squares of 1e20, a sum of FLT_MAX/2) or underflow
// (squares of 1e-30), against double, where none of these sums leaves the range.
std::vector<std::vector<float>> extreme_rows(std::size_t n, unsigned seed) {
    std::mt19937 rng(seed);
    std::uniform_real_distribution<float> unit(-1.0f, 1.0f);
    std::uniform_real_distribution<double> decade(-30.0, 38.53);  // 10^38.53 = FLT_MAX
    std::vector<std::vector<float>> rows;
    const float scales[] = {1e-30f, 1e-20f, 1e-3f, 1.0f, 1e19f, 1e20f, 1e30f, 1e38f, FLT_MAX / 2, FLT_MAX};
    for (float s : scales) {
        std::vector<float> uniform(n), offset(n), one_big(n, 0.0f), mixed(n);
        for (std::size_t i = 0; i < n; ++i) {
            uniform[i] = s * unit(rng);
            offset[i] = s * (0.75f + 0.25f * unit(rng));  // |mean| >> std: the mean's own overflow
            mixed[i] = std::min(float(std::pow(10.0, decade(rng))), FLT_MAX) * (unit(rng) < 0 ? -1.0f : 1.0f);
        }
        one_big[n / 2] = s;
        rows.push_back(uniform);
        rows.push_back(offset);
        rows.push_back(one_big);
        rows.push_back(mixed);
        // Constant rows are checked in the next test case at width 16, where the float mean is
        // exact: at other widths the mean's own rounding (1 ulp of s) is the whole deviation, and
        // LayerNorm without eps's help amplifies it to O(1), which is conditioning, not overflow.
    }
    std::vector<float> extremes(n);  // +-FLT_MAX and the tiniest, side by side
    for (std::size_t i = 0; i < n; ++i) extremes[i] = i % 3 == 0 ? FLT_MAX : i % 3 == 1 ? -FLT_MAX : 1e-30f;
    rows.push_back(extremes);
    return rows;
}

template <std::size_t N, class Arch>
void check_norms_at_extremes(float eps) {
    const auto gain = random_row(N, 1.0f, 0.5f, unsigned(N) + 21), bias = random_row(N, 0.0f, 0.5f, unsigned(N) + 22);
    for (const auto& x : extreme_rows(N, unsigned(N) + 23)) {
        double m = 0.0;
        for (float v : x) m = std::max(m, std::abs(double(v)));
        double mean = 0.0, var = 0.0, mean_square = 0.0;
        for (float v : x) mean += v;
        mean /= double(N);
        // Squares in units of m: 1e-30^2 underflows double's exponent range only below 1e-308, but
        // FLT_MAX^2 * 172 is close to double's top, so the reference too works in units of m.
        for (float v : x) var += (v / m - mean / m) * (v / m - mean / m);
        for (float v : x) mean_square += (v / m) * (v / m);
        var /= double(N);
        mean_square /= double(N);
        const double eps_units = double(eps) / m / m;
        std::vector<float> y(N);
        // Normalised values are at most sqrt(N) (times gain); the float sums of N terms give a few
        // ulps times N of that, as in check_layer_norm: 2e-6 * N (+ the float output's own ulp).
        const double tolerance = 2e-6 * double(N) + 1e-6;
        if (N > 1 && (eps > 0.0f || var > 0.0)) {  // LayerNorm of a constant row with eps 0 is 0/0
            ctattn::kernels::layer_norm_row<N, Arch>(x.data(), gain.data(), bias.data(), eps, y.data());
            for (std::size_t i = 0; i < N; ++i) {
                const double want = (x[i] / m - mean / m) / std::sqrt(var + eps_units) * gain[i] + bias[i];
                INFO("LayerNorm N " << N << " i " << i << " x[i] " << x[i] << " x[0] " << x[0] << " eps " << eps);
                REQUIRE(std::abs(y[i] - want) <= tolerance);
            }
        }
        ctattn::kernels::rms_norm_row<N, Arch>(x.data(), gain.data(), eps, y.data());
        for (std::size_t i = 0; i < N; ++i) {
            const double want = x[i] / m / std::sqrt(mean_square + eps_units) * gain[i];
            INFO("RMSNorm N " << N << " i " << i << " x[i] " << x[i] << " x[0] " << x[0] << " eps " << eps);
            REQUIRE(std::abs(y[i] - want) <= tolerance);
        }
    }
}

template <class Arch>
void check_norms_at_extremes_widths(float eps) {
    check_norms_at_extremes<1, Arch>(eps);
    check_norms_at_extremes<3, Arch>(eps);
    check_norms_at_extremes<5, Arch>(eps);
    check_norms_at_extremes<13, Arch>(eps);
    check_norms_at_extremes<64, Arch>(eps);
    check_norms_at_extremes<172, Arch>(eps);
}

// ---- activations ----
double reference_activation(const char* name, double x) {
    const std::string n = name;
    if (n == "relu") return x > 0.0 ? x : 0.0;
    if (n == "gelu") return 0.5 * x * (1.0 + std::erf(x / std::sqrt(2.0)));
    if (n == "gelu_tanh") return 0.5 * x * (1.0 + std::tanh(std::sqrt(2.0 / M_PI) * (x + 0.044715 * x * x * x)));
    return x / (1.0 + std::exp(-x));  // silu
}

template <class Act, std::size_t N, class Arch>
void check_activation() {
    auto x = random_row(N, 0.0f, 6.0f, unsigned(N) * 3);
    if (N > 4) {  // the far tails: saturation without NaN
        x[0] = -90.0f;
        x[1] = 90.0f;
        x[2] = -0.0f;
    }
    std::vector<float> y = x, gate = x;
    const auto up = random_row(N, 0.0f, 2.0f, unsigned(N) * 5);
    ctattn::kernels::activate_row<Act, N, Arch>(y.data());
    ctattn::kernels::activate_gated_row<Act, N, Arch>(gate.data(), up.data());
    for (std::size_t i = 0; i < N; ++i) {
        const double want = reference_activation(Act::name, x[i]);
        // xsimd's exp/erf/tanh are within a few ulps; float evaluation of the formula adds a few
        // more: 1e-6 relative plus 1e-7 absolute (near the zero of the function).
        // The GELUs compute x/2 * (1 + f) with f = erf(x/sqrt 2) or tanh(...) in [-1, 1]. For
        // x < 0, f is near -1 and 1 + f is exact (Sterbenz), so f's own error reaches y
        // unreduced. With f good to 4 ulps of a value in [0.5, 1), i.e. 4 * 2^-24 (glibc's
        // manual lists 1-2 ulps for erff/tanhf on x86-64; xsimd's polynomial erf/tanh are of
        // the same order), y is off by up to |x|/2 * 2^-22 absolute: 5.0e-7 at x = -4.21, where
        // y is only -5.7e-5, far above 1e-6 relative. That term is added; -O1, clang and the
        // sanitizers move f by an ulp or two inside it (the old bound passed at -O3 by 1e-10).
        const bool gelu = std::string_view(Act::name).substr(0, 4) == "gelu";
        const double cancellation = gelu ? std::abs(double(x[i])) / 2 * std::ldexp(1.0, -22) : 0.0;
        INFO(Act::name << " N " << N << " x " << x[i]);
        REQUIRE(std::isfinite(y[i]));
        REQUIRE(std::abs(y[i] - want) <= 1e-6 * std::abs(want) + 1e-7 + cancellation);
        REQUIRE(std::abs(gate[i] - want * up[i]) <= 2e-6 * std::abs(want * up[i]) + 1e-7 + cancellation * std::abs(up[i]));
    }
}

template <class Act, class Arch>
void check_activation_widths() {
    check_activation<Act, 1, Arch>();
    check_activation<Act, 5, Arch>();
    check_activation<Act, 13, Arch>();
    check_activation<Act, 37, Arch>();
}

// ---- feed-forward ----
template <class Config, class Arch>
void check_ffn(std::size_t rows) {
    constexpr std::size_t D = Config::d_model, F = Config::d_ff;
    auto w = std::make_unique<ctattn::ffn_weights<Config>>();
    auto fill = [](float* p, std::size_t n, float a, unsigned seed) {
        const auto v = random_row(n, 0.0f, a, seed);
        std::copy(v.begin(), v.end(), p);
    };
    fill(w->w1.data(), D * F, std::sqrt(3.0f / D), 1);
    fill(w->w2.data(), F * D, std::sqrt(3.0f / F), 2);
    if constexpr (Config::gated) fill(w->w3.data(), D * F, std::sqrt(3.0f / D), 3);
    if constexpr (Config::bias) {
        fill(w->b1.data(), F, 0.2f, 4);
        fill(w->b2.data(), D, 0.2f, 5);
        if constexpr (Config::gated) fill(w->b3.data(), F, 0.2f, 6);
    }
    const auto x = random_row(rows * D, 0.0f, 1.5f, 7);
    std::vector<float> y(rows * D), hidden(rows * F), up(rows * F);
    ctattn::feed_forward<Config, Arch>::forward(*w, rows, x.data(), y.data(), hidden.data(), up.data());

    for (std::size_t r = 0; r < rows; ++r) {
        std::vector<double> h(F);
        for (std::size_t f = 0; f < F; ++f) {
            double a = w->b1_data() ? w->b1_data()[f] : 0.0, b = 0.0;
            for (std::size_t k = 0; k < D; ++k) a += double(x[r * D + k]) * w->w1(k, f);
            a = reference_activation(Config::activation::name, a);
            if constexpr (Config::gated) {
                b = w->b3_data() ? w->b3_data()[f] : 0.0;
                for (std::size_t k = 0; k < D; ++k) b += double(x[r * D + k]) * w->w3(k, f);
                a *= b;
            }
            h[f] = a;
        }
        for (std::size_t d = 0; d < D; ++d) {
            double want = w->b2_data() ? w->b2_data()[d] : 0.0;
            for (std::size_t f = 0; f < F; ++f) want += h[f] * w->w2(f, d);
            // Two float matmuls of D and F terms of O(1) values: ~(D + F) ulps of the O(1) result.
            INFO("row " << r << " column " << d);
            REQUIRE(std::abs(y[r * D + d] - want) <= 2e-7 * double(D + F) + 1e-6);
        }
    }
}

}  // namespace

TEST_CASE("LayerNorm and RMSNorm match the double reference on awkward widths", "[model][kernels][norm]") {
    check_norms<default_arch>();
    check_norms<scalar_arch>();
}

TEST_CASE("LayerNorm and RMSNorm of any finite row match the double reference, from 1e-30 to FLT_MAX",
          "[model][kernels][norm]") {
    for (float eps : {1e-5f, 0.0f}) {
        check_norms_at_extremes_widths<default_arch>(eps);
        check_norms_at_extremes_widths<scalar_arch>(eps);
    }
}

TEST_CASE("rows whose plain sums overflow are normalised, not zeroed or NaN", "[model][kernels][norm]") {
    float gain[16], bias[16], y[16];
    for (std::size_t i = 0; i < 16; ++i) gain[i] = 1.0f, bias[i] = 0.0f;
    // The mean of FLT_MAX / 2 or 1e38 overflows as a float sum: a constant row gives the bias.
    for (float c : {FLT_MAX / 2, 1e38f, -FLT_MAX}) {
        float row[16];
        for (float& v : row) v = c;
        ctattn::kernels::layer_norm_row<16, default_arch>(row, gain, bias, 1e-5f, y);
        for (float v : y) REQUIRE(v == 0.0f);
        ctattn::kernels::layer_norm_row<16, scalar_arch>(row, gain, bias, 1e-5f, y);
        for (float v : y) REQUIRE(v == 0.0f);
        ctattn::kernels::rms_norm_row<16, default_arch>(row, gain, 1e-5f, y);
        for (float v : y) REQUIRE(std::abs(v - (c > 0 ? 1.0 : -1.0)) <= 1e-6);
    }
    // Squares of 1e19 sum to 1.6e39 > FLT_MAX: RMSNorm of a constant row is 1.
    float same[15];
    for (float& v : same) v = 1e19f;
    ctattn::kernels::rms_norm_row<15, default_arch>(same, gain, 1e-5f, y);
    for (std::size_t i = 0; i < 15; ++i) REQUIRE(std::abs(y[i] - 1.0) <= 1e-6);
    ctattn::kernels::rms_norm_row<15, scalar_arch>(same, gain, 1e-5f, y);
    for (std::size_t i = 0; i < 15; ++i) REQUIRE(std::abs(y[i] - 1.0) <= 1e-6);
    // One 1e20 among zeros, width 16: RMSNorm gives sqrt(16) = 4 there; LayerNorm gives
    // (15/16) / sqrt(15/256) = sqrt(15) = 3.873 there and -1/sqrt(15) elsewhere.
    float one_big[16] = {};
    one_big[0] = 1e20f;
    ctattn::kernels::rms_norm_row<16, default_arch>(one_big, gain, 1e-5f, y);
    REQUIRE(std::abs(y[0] - 4.0) <= 4e-6);
    REQUIRE(y[1] == 0.0f);
    ctattn::kernels::layer_norm_row<16, default_arch>(one_big, gain, bias, 1e-5f, y);
    REQUIRE(std::abs(y[0] - std::sqrt(15.0)) <= 4e-6);
    REQUIRE(std::abs(y[1] + 1.0 / std::sqrt(15.0)) <= 1e-6);
    ctattn::kernels::layer_norm_row<16, scalar_arch>(one_big, gain, bias, 1e-5f, y);
    REQUIRE(std::abs(y[0] - std::sqrt(15.0)) <= 4e-6);
}

TEST_CASE("norm policies apply their eps, gain and bias", "[model][kernels][norm]") {
    // A constant row has zero variance: LayerNorm gives bias exactly (0 * 1/sqrt(eps) * gain + bias).
    ctattn::layer_norm<ctattn::eps_1e_minus<3>>::weights<5> ln{};
    ctattn::rms_norm<ctattn::eps_1e_minus<3>>::weights<5> rms{};
    for (std::size_t i = 0; i < 5; ++i) {
        ln.gain[i] = 2.0f;
        ln.bias[i] = float(i);
        rms.gain[i] = 1.0f;
    }
    const float constant[5] = {4, 4, 4, 4, 4}, tiny[5] = {0, 0, 0, 0, 0.01f};
    float y[5];
    ctattn::layer_norm<ctattn::eps_1e_minus<3>>::apply<5, default_arch>(ln, constant, y);
    for (std::size_t i = 0; i < 5; ++i) REQUIRE(y[i] == float(i));
    // RMSNorm of a tiny row: mean square 2e-5 is swamped by eps 1e-3, so y = x / sqrt(1.02e-3).
    ctattn::rms_norm<ctattn::eps_1e_minus<3>>::apply<5, default_arch>(rms, tiny, y);
    REQUIRE(std::abs(y[4] - 0.01 / std::sqrt(1e-3 + 2e-5)) <= 1e-6);
    STATIC_REQUIRE(ctattn::layer_norm<>::eps == 1e-5f);
}

TEST_CASE("ReLU, exact GELU, tanh GELU and SiLU match the double reference", "[model][kernels][activation]") {
    check_activation_widths<ctattn::relu, default_arch>();
    check_activation_widths<ctattn::gelu_erf, default_arch>();
    check_activation_widths<ctattn::gelu_tanh, default_arch>();
    check_activation_widths<ctattn::silu, default_arch>();
    check_activation_widths<ctattn::relu, scalar_arch>();
    check_activation_widths<ctattn::gelu_erf, scalar_arch>();
    check_activation_widths<ctattn::gelu_tanh, scalar_arch>();
    check_activation_widths<ctattn::silu, scalar_arch>();
    // The two GELUs are different functions: at x = 2.5 they differ by 4.4e-4, far above the
    // 1e-6 relative agreement each has with its own formula.
    float a = 2.5f, b = 2.5f;
    ctattn::kernels::activate_row<ctattn::gelu_erf, 1>(&a);
    ctattn::kernels::activate_row<ctattn::gelu_tanh, 1>(&b);
    REQUIRE(std::abs(a - b) > 4e-4);
}

TEST_CASE("dense and gated feed-forward networks match the double reference", "[model][kernels][ffn]") {
    using namespace ctattn;
    STATIC_REQUIRE(ffn_config<13>::d_ff == 52);  // default d_ff = 4 x d_model
    check_ffn<ffn_config<13, dense_ffn<relu>>, default_arch>(5);
    check_ffn<ffn_config<5, dense_ffn<gelu_erf, false>, 3>, default_arch>(1);
    check_ffn<ffn_config<24, swiglu, 37>, default_arch>(3);
    check_ffn<ffn_config<16, gated_ffn<gelu_tanh, true>, 40>, default_arch>(7);
    check_ffn<ffn_config<13, dense_ffn<relu>>, scalar_arch>(5);
    check_ffn<ffn_config<24, swiglu, 37>, scalar_arch>(3);
}

TEST_CASE("sinusoidal positions and RoPE match their formulas", "[model][kernels][position]") {
    using namespace ctattn;
    // Sinusoidal, odd width 7: PE[p, 2i] = sin(p / 10000^(2i/7)), PE[p, 2i+1] = cos(same).
    for (std::size_t pos : {std::size_t(0), std::size_t(1), std::size_t(5), std::size_t(300)}) {
        float x[7] = {};
        sinusoidal_positions::add(sinusoidal_positions::weights<7, 512>{}, pos, x);
        for (std::size_t i = 0; i < 7; ++i) {
            const double angle = double(pos) / std::pow(10000.0, double(i / 2 * 2) / 7.0);
            const double want = i % 2 == 0 ? std::sin(angle) : std::cos(angle);
            // The angle is formed in float: |error| <= pos * 2^-23 rad on top of a few ulps.
            INFO("pos " << pos << " i " << i);
            REQUIRE(std::abs(x[i] - want) <= 1.2e-7 * double(pos) + 1e-6);
        }
    }
    // RoPE over 3 heads of 6: pair (2i, 2i+1) of each head rotated by pos / theta^(2i/6).
    const auto row = random_row(18, 0.0f, 1.0f, 99);
    for (std::size_t pos : {std::size_t(0), std::size_t(3), std::size_t(40)}) {
        std::vector<float> got = row;
        rotary_positions<10000>::rotate<6, 3>(got.data(), pos);
        for (std::size_t h = 0; h < 3; ++h)
            for (std::size_t i = 0; i < 6; i += 2) {
                const double angle = double(pos) / std::pow(10000.0, double(i) / 6.0);
                const double x0 = row[h * 6 + i], x1 = row[h * 6 + i + 1];
                INFO("pos " << pos << " head " << h << " pair " << i);
                REQUIRE(std::abs(got[h * 6 + i] - (x0 * std::cos(angle) - x1 * std::sin(angle))) <=
                        1.2e-7 * double(pos) + 1e-6);
                REQUIRE(std::abs(got[h * 6 + i + 1] - (x0 * std::sin(angle) + x1 * std::cos(angle))) <=
                        1.2e-7 * double(pos) + 1e-6);
            }
    }
    // q (3 heads) and k (2 heads) rotated together: exactly the values of rotating each alone.
    for (std::size_t pos : {std::size_t(0), std::size_t(7), std::size_t(511)}) {
        std::vector<float> q = row, k(row.begin(), row.begin() + 12), q_alone = q, k_alone = k;
        rotary_positions<10000>::rotate<6, 3, 2>(q.data(), k.data(), pos);
        rotary_positions<10000>::rotate<6, 3>(q_alone.data(), pos);
        rotary_positions<10000>::rotate<6, 2>(k_alone.data(), pos);
        INFO("pos " << pos);
        REQUIRE(q == q_alone);
        REQUIRE(k == k_alone);
    }
    // Learned positions add their table row.
    auto learned = std::make_unique<learned_positions::weights<4, 3>>();
    for (std::size_t i = 0; i < 12; ++i) learned->table[i] = float(i);
    float x[4] = {1, 1, 1, 1};
    learned_positions::add(*learned, 2, x);
    for (std::size_t i = 0; i < 4; ++i) REQUIRE(x[i] == 1.0f + float(8 + i));
}
