// SPDX-License-Identifier: Apache-2.0
// Kernels against the double-precision reference (tests/reference/forward_double.hpp): projection, scores, the
// four mask policies, softmax and value aggregation, on shapes that include 1, 3, 5, 7, 13, 17, 64
// and widths that are not a multiple of the SIMD width; then the xsimd path against the scalar
// path on identical inputs. In the scalar build default_arch *is* scalar_arch, so the cross-path
// test there compares the scalar path with itself and the xsimd path is covered by the auto build.
//
// Error bounds: inputs are floats, so the double reference is exact to ~1e-16 and all the error
// is the kernel's float rounding. A float sum of n products has |error| <= gamma_n * sum|terms|,
// gamma_n ~= n * u with u = 2^-24, whatever the order of summation or use of FMA; the checks use
// that bound (with n rounded up by a couple of terms) rather than a hand-picked epsilon.
#include <catch2/catch.hpp>

#include <ctattn/ctattn.hpp>

#include <cmath>
#include <cstddef>
#include <limits>
#include <random>
#include <type_traits>
#include <vector>

#include "../reference/forward_double.hpp"

namespace {

namespace ref = ctattn_test::ref;
using ctattn::key_range;
using ctattn::simd::default_arch;
using ctattn::simd::scalar_arch;

constexpr double unit_roundoff = 0x1p-24;  // u for float
constexpr float minus_inf = -std::numeric_limits<float>::infinity();
const float not_a_number = std::numeric_limits<float>::quiet_NaN();

std::vector<float> random_floats(std::size_t n, unsigned seed, float lo = -1.0f, float hi = 1.0f) {
    std::mt19937 rng(seed);
    std::uniform_real_distribution<float> dist(lo, hi);
    std::vector<float> out(n);
    for (float& v : out) v = dist(rng);
    return out;
}

ref::vec to_double(const std::vector<float>& v) { return ref::vec(v.begin(), v.end()); }

// Every visible run [begin, end) of a row of n keys that matters: all of them for short rows.
std::vector<key_range> all_runs(std::size_t n) {
    std::vector<key_range> runs;
    for (std::size_t b = 0; b <= n; ++b)
        for (std::size_t e = b; e <= n; ++e) runs.push_back({b, e});
    return runs;
}

constexpr std::size_t key_counts[] = {1, 3, 5, 7, 13, 17};

// ---- projection -------------------------------------------------------------------------------

// Worst |y - y_ref| / bound over all outputs for rows x Din @ Din x Dout (+ b); <= 1 passes.
// Also checks that the padding between strided output rows is never written.
template <std::size_t Din, std::size_t Dout, class Arch, std::size_t XStride = Din, std::size_t YStride = Dout>
double projection_error_ratio(std::size_t rows, bool with_bias, unsigned seed) {
    const auto x = random_floats(rows * XStride, seed);
    const auto w = random_floats(Din * Dout, seed + 1);
    const auto b = random_floats(Dout, seed + 2);
    constexpr float sentinel = 12345.0f;
    std::vector<float> y(rows * YStride, sentinel);
    ctattn::kernels::project<Din, Dout, Arch, XStride, YStride>(rows, x.data(), w.data(), with_bias ? b.data() : nullptr,
                                                                y.data());
    ref::vec xd(rows * Din);
    for (std::size_t r = 0; r < rows; ++r)
        for (std::size_t k = 0; k < Din; ++k) xd[r * Din + k] = x[r * XStride + k];
    const ref::vec wd = to_double(w), bd = to_double(b);
    const ref::vec want = ref::matmul(xd, wd, with_bias ? &bd : nullptr, rows, Din, Dout);
    const ref::vec scale = ref::matmul_abs(xd, wd, with_bias ? &bd : nullptr, rows, Din, Dout);
    double worst = 0.0;
    for (std::size_t r = 0; r < rows; ++r) {
        for (std::size_t c = 0; c < Dout; ++c) {
            const double bound = double(Din + 2) * unit_roundoff * scale[r * Dout + c] + 1e-30;
            const double ratio = std::abs(y[r * YStride + c] - want[r * Dout + c]) / bound;
            worst = ratio > worst || std::isnan(ratio) ? ratio : worst;
        }
        for (std::size_t c = Dout; c < YStride; ++c)
            if (y[r * YStride + c] != sentinel) return std::numeric_limits<double>::infinity();
    }
    return worst;
}

template <std::size_t Din, std::size_t Dout, class Arch, std::size_t XStride = Din, std::size_t YStride = Dout>
void check_projection() {
    for (std::size_t rows : {std::size_t(1), std::size_t(3), std::size_t(5), std::size_t(7), std::size_t(13),
                             std::size_t(17)}) {
        for (bool with_bias : {true, false}) {
            INFO("Din " << Din << " Dout " << Dout << " strides " << XStride << "/" << YStride << " rows " << rows
                        << " bias " << with_bias << " arch " << ctattn::simd::arch_name<Arch>());
            const double ratio = projection_error_ratio<Din, Dout, Arch, XStride, YStride>(
                rows, with_bias, unsigned(Din * 1000 + Dout * 10 + rows));
            CHECK(ratio <= 1.0);
        }
    }
}

template <class Arch>
void check_projection_shapes() {
    check_projection<1, 1, Arch>();
    check_projection<3, 5, Arch>();
    check_projection<5, 3, Arch>();
    check_projection<7, 7, Arch>();
    check_projection<13, 17, Arch>();
    check_projection<17, 13, Arch>();
    check_projection<7, 40, Arch>();  // several full tiles, a single vector and no tail on AVX2
    check_projection<64, 64, Arch>();
    check_projection<64, 3, Arch>();
    check_projection<13, 17, Arch, 16, 19>();  // strided rows: reads stay in row, padding untouched
}

// ---- scores -----------------------------------------------------------------------------------

// score_row for every visible run of every key count; keys outside the run are NaN so a kernel
// that read them would poison its output.
template <std::size_t HeadDim, class Arch, std::size_t KStride = HeadDim>
void check_score_row() {
    const float scale = 1.0f / std::sqrt(float(HeadDim));
    const auto q = random_floats(HeadDim, unsigned(HeadDim));
    for (std::size_t n_keys : key_counts) {
        const auto keys = random_floats(n_keys * KStride, unsigned(HeadDim * 100 + n_keys));
        double worst = 0.0;
        bool masked_ok = true;
        for (const key_range run : all_runs(n_keys)) {
            std::vector<float> k = keys;
            for (std::size_t j = 0; j < n_keys; ++j)
                if (j < run.begin || j >= run.end)
                    for (std::size_t d = 0; d < HeadDim; ++d) k[j * KStride + d] = not_a_number;
            std::vector<float> scores(n_keys, 7.0f);
            ctattn::kernels::score_row<HeadDim, Arch, KStride>(q.data(), k.data(), n_keys, run, scale, scores.data());
            for (std::size_t j = 0; j < n_keys; ++j) {
                if (j < run.begin || j >= run.end) {
                    masked_ok = masked_ok && scores[j] == minus_inf;
                    continue;
                }
                double want = 0.0, abs_sum = 0.0;
                for (std::size_t d = 0; d < HeadDim; ++d) {
                    want += double(q[d]) * k[j * KStride + d];
                    abs_sum += std::abs(double(q[d]) * k[j * KStride + d]);
                }
                // HeadDim products summed, then one more rounding for the scale.
                const double bound = double(HeadDim + 3) * unit_roundoff * abs_sum * scale + 1e-30;
                const double ratio = std::abs(scores[j] - want * scale) / bound;
                worst = ratio > worst || std::isnan(ratio) ? ratio : worst;
            }
        }
        INFO("head_dim " << HeadDim << " k stride " << KStride << " keys " << n_keys << " arch "
                         << ctattn::simd::arch_name<Arch>());
        CHECK(masked_ok);
        CHECK(worst <= 1.0);
    }
}

template <class Arch>
void check_score_shapes() {
    check_score_row<1, Arch>();
    check_score_row<3, Arch>();
    check_score_row<5, Arch>();
    check_score_row<7, Arch>();
    check_score_row<8, Arch>();   // narrower than AVX-512's vector: runs on 8-wide vectors of keys
    check_score_row<13, Arch>();
    check_score_row<16, Arch>();
    check_score_row<17, Arch>();
    check_score_row<64, Arch>();
    check_score_row<13, Arch, 20>();
}

// attention_scores (the matrix form) under a mask policy against ref::visible, which defines each
// mask from its formula independently of the policies' visible_keys.
template <class Mask, class Arch>
void check_masked_score_matrix(ref::mask_kind kind, const typename Mask::params& params, std::size_t mask_param,
                               std::size_t n_queries, std::size_t query_pos0, std::size_t n_keys) {
    constexpr std::size_t head_dim = 5;
    const float scale = 0.5f;
    const auto q = random_floats(n_queries * head_dim, unsigned(n_queries * 31 + query_pos0));
    const auto k = random_floats(n_keys * head_dim, unsigned(n_keys * 17 + 3));
    const std::size_t stride = n_keys + 2;
    std::vector<float> scores(n_queries * stride, 99.0f);
    ctattn::kernels::attention_scores<head_dim, Mask, Arch>(n_queries, q.data(), query_pos0, n_keys, k.data(), params,
                                                            scale, scores.data(), stride);
    INFO("mask " << Mask::name << " param " << mask_param << " queries " << n_queries << " from " << query_pos0
                 << " keys " << n_keys << " arch " << ctattn::simd::arch_name<Arch>());
    for (std::size_t i = 0; i < n_queries; ++i) {
        for (std::size_t j = 0; j < n_keys; ++j) {
            const float got = scores[i * stride + j];
            if (!ref::visible(kind, query_pos0 + i, j, mask_param)) {
                REQUIRE(got == minus_inf);
                continue;
            }
            double want = 0.0, abs_sum = 0.0;
            for (std::size_t d = 0; d < head_dim; ++d) {
                want += double(q[i * head_dim + d]) * k[j * head_dim + d];
                abs_sum += std::abs(double(q[i * head_dim + d]) * k[j * head_dim + d]);
            }
            REQUIRE(std::abs(got - want * scale) <= double(head_dim + 3) * unit_roundoff * abs_sum * scale + 1e-30);
        }
        for (std::size_t j = n_keys; j < stride; ++j) REQUIRE(scores[i * stride + j] == 99.0f);
    }
}

template <class Arch>
void check_every_mask() {
    using namespace ctattn;
    for (std::size_t n_keys : key_counts) {
        for (std::size_t pos0 : {std::size_t(0), n_keys / 2}) {
            const std::size_t n_queries = n_keys - pos0;  // prefill (pos0 0) and a later chunk
            check_masked_score_matrix<no_mask, Arch>(ref::mask_kind::none, {}, 0, n_queries, pos0, n_keys);
            check_masked_score_matrix<causal_mask, Arch>(ref::mask_kind::causal, {}, 0, n_queries, pos0, n_keys);
            check_masked_score_matrix<sliding_window_mask<1>, Arch>(ref::mask_kind::window, {}, 1, n_queries, pos0,
                                                                    n_keys);
            check_masked_score_matrix<sliding_window_mask<3>, Arch>(ref::mask_kind::window, {}, 3, n_queries, pos0,
                                                                    n_keys);
            for (std::size_t valid = 1; valid <= n_keys; ++valid)
                check_masked_score_matrix<key_padding_mask, Arch>(ref::mask_kind::padding, {valid}, valid, n_queries,
                                                                  pos0, n_keys);
        }
    }
}

// ---- softmax ----------------------------------------------------------------------------------

// softmax_row over `run` of a row of n scores in [-8, 8] (a few of them -inf) against ref::softmax.
// Bound: each weight is exp(s - max) / sum. s - max is one float rounding (|s - max| <= 16, so an
// absolute error <= 16u, i.e. a relative error of 16u after exp), exp itself is within a few ulp
// (xsimd and libm both; 8u allowed), the sum adds n terms (n u) and the division and final
// multiply two more: relative error <= (26 + 2n) u, with the n doubled for slack in the sum.
template <class Arch>
double softmax_error_ratio(std::size_t n, key_range run, unsigned seed, bool with_minus_inf) {
    auto row = random_floats(n, seed, -8.0f, 8.0f);
    if (with_minus_inf)
        for (std::size_t j = seed % 3; j < n; j += 4) row[j] = minus_inf;
    ref::vec masked(n, -std::numeric_limits<double>::infinity());
    for (std::size_t j = run.begin; j < run.end; ++j) masked[j] = row[j];
    const ref::vec want = ref::softmax(masked);
    ctattn::kernels::softmax_row<Arch>(row.data(), n, run);
    double worst = 0.0;
    for (std::size_t j = 0; j < n; ++j) {
        if (want[j] == 0.0) {
            if (row[j] != 0.0f) return std::numeric_limits<double>::infinity();
            continue;
        }
        const double bound = double(26 + 2 * n) * unit_roundoff * want[j];
        const double ratio = std::abs(row[j] - want[j]) / bound;
        worst = ratio > worst || std::isnan(ratio) ? ratio : worst;
    }
    return worst;
}

template <class Arch>
void check_softmax() {
    for (std::size_t n : {1, 2, 3, 5, 7, 8, 9, 13, 16, 17, 31, 64, 65}) {
        const std::vector<key_range> runs = {{0, n}, {0, 1}, {n / 3, n}, {n / 3, n - n / 4}, {n - 1, n}};
        for (const key_range run : runs) {
            for (bool with_minus_inf : {false, true}) {
                INFO("n " << n << " run [" << run.begin << ", " << run.end << ") -inf entries " << with_minus_inf
                          << " arch " << ctattn::simd::arch_name<Arch>());
                CHECK(softmax_error_ratio<Arch>(n, run, unsigned(n * 7 + run.begin), with_minus_inf) <= 1.0);
            }
        }
    }
}

template <class Arch>
void check_softmax_edge_cases() {
    const char* arch = ctattn::simd::arch_name<Arch>();
    INFO("arch " << arch);
    constexpr std::size_t n = 19;  // two AVX2 vectors and a tail of 3: every code path sees an edge value

    SECTION("a fully masked row (empty visible run) gives all zeros, no NaN") {
        for (std::size_t at : {std::size_t(0), std::size_t(7), n}) {
            auto row = random_floats(n, 5);
            ctattn::kernels::softmax_row<Arch>(row.data(), n, key_range{at, at});
            for (float p : row) REQUIRE(p == 0.0f);
        }
    }
    SECTION("a row whose visible scores are all -inf gives all zeros, no NaN") {
        std::vector<float> row(n, minus_inf);
        row[2] = 3.0f;  // outside the run below
        ctattn::kernels::softmax_row<Arch>(row.data(), n, key_range{4, n});
        for (float p : row) REQUIRE(p == 0.0f);
        std::vector<float> all(n, minus_inf);
        ctattn::kernels::softmax_row<Arch>(all.data(), n);
        for (float p : all) REQUIRE(p == 0.0f);
    }
    SECTION("-inf entries inside the visible run get weight exactly 0 and the rest renormalise") {
        std::vector<float> row(n, minus_inf);
        row[1] = 0.5f;    // vector part
        row[17] = 0.5f;   // tail
        row[18] = -0.5f;  // tail
        ctattn::kernels::softmax_row<Arch>(row.data(), n);
        const double e = std::exp(-1.0), sum = 2.0 + e;
        for (std::size_t j = 0; j < n; ++j) {
            if (j == 1 || j == 17)
                REQUIRE(std::abs(row[j] - 1.0 / sum) <= 1e-6);  // a few u on values ~0.42
            else if (j == 18)
                REQUIRE(std::abs(row[j] - e / sum) <= 1e-6);
            else
                REQUIRE(row[j] == 0.0f);
        }
    }
    SECTION("scores of +-1e30 stay finite: the largest share the weight, the rest get 0") {
        std::vector<float> row(n, 0.0f);
        row[0] = 1e30f;
        row[3] = -1e30f;
        row[9] = 1e30f;
        row[18] = 1e30f;   // in the tail
        row[16] = -1e30f;  // in the tail
        ctattn::kernels::softmax_row<Arch>(row.data(), n);
        for (std::size_t j = 0; j < n; ++j) {
            REQUIRE(std::isfinite(row[j]));
            if (j == 0 || j == 9 || j == 18)
                REQUIRE(std::abs(row[j] - 1.0 / 3.0) <= 1e-6);  // exp(0) / 3, a few u
            else
                REQUIRE(row[j] == 0.0f);  // exp(-1e30) and exp(-2e30) underflow to exactly 0
        }
    }
    SECTION("scores all equal to -1e30 give a uniform row, not zeros or NaN") {
        std::vector<float> row(n, -1e30f);
        ctattn::kernels::softmax_row<Arch>(row.data(), n);
        for (float p : row) REQUIRE(std::abs(p - 1.0 / n) <= 1e-7);  // 1/19 to a few u
    }
    SECTION("a single visible key gets weight exactly 1") {
        auto row = random_floats(n, 9, -1e30f, 1e30f);
        ctattn::kernels::softmax_row<Arch>(row.data(), n, key_range{11, 12});
        for (std::size_t j = 0; j < n; ++j) REQUIRE(row[j] == (j == 11 ? 1.0f : 0.0f));
    }
}

// ---- aggregation ------------------------------------------------------------------------------

// aggregate_row for every visible run of every key count. Weights and value rows outside the run
// are NaN: a kernel that touched them would return NaN. Bound: n products of p (>= 0) and v, so
// |error| <= (n + 2) u * sum_j p_j |v_jd|.
template <std::size_t HeadDim, class Arch, std::size_t VStride = HeadDim>
void check_aggregate_row() {
    for (std::size_t n_keys : key_counts) {
        const auto values = random_floats(n_keys * VStride, unsigned(HeadDim * 7 + n_keys));
        const auto weights = random_floats(n_keys, unsigned(n_keys + 11), 0.0f, 1.0f);
        double worst = 0.0;
        bool empty_ok = true;
        for (const key_range run : all_runs(n_keys)) {
            std::vector<float> p = weights, v = values;
            for (std::size_t j = 0; j < n_keys; ++j) {
                if (j >= run.begin && j < run.end) continue;
                p[j] = not_a_number;
                for (std::size_t d = 0; d < HeadDim; ++d) v[j * VStride + d] = not_a_number;
            }
            std::vector<float> out(HeadDim + 1, 5.0f);
            ctattn::kernels::aggregate_row<HeadDim, Arch, VStride>(p.data(), v.data(), run, out.data());
            empty_ok = empty_ok && out[HeadDim] == 5.0f;  // one past the row: never written
            for (std::size_t d = 0; d < HeadDim; ++d) {
                double want = 0.0, abs_sum = 0.0;
                for (std::size_t j = run.begin; j < run.end; ++j) {
                    want += double(p[j]) * v[j * VStride + d];
                    abs_sum += std::abs(double(p[j]) * v[j * VStride + d]);
                }
                if (run.empty()) {
                    empty_ok = empty_ok && out[d] == 0.0f;
                    continue;
                }
                const double bound = double(run.size() + 2) * unit_roundoff * abs_sum + 1e-30;
                const double ratio = std::abs(out[d] - want) / bound;
                worst = ratio > worst || std::isnan(ratio) ? ratio : worst;
            }
        }
        INFO("head_dim " << HeadDim << " v stride " << VStride << " keys " << n_keys << " arch "
                         << ctattn::simd::arch_name<Arch>());
        CHECK(empty_ok);
        CHECK(worst <= 1.0);
    }
}

template <class Arch>
void check_aggregate_shapes() {
    check_aggregate_row<1, Arch>();
    check_aggregate_row<3, Arch>();
    check_aggregate_row<5, Arch>();
    check_aggregate_row<7, Arch>();
    check_aggregate_row<8, Arch>();   // one AVX2 vector under AVX-512, not 8 scalar columns
    check_aggregate_row<13, Arch>();
    check_aggregate_row<24, Arch>();  // 16 + 8 under AVX-512
    check_aggregate_row<17, Arch>();
    check_aggregate_row<40, Arch>();  // one 4-vector block plus one vector on AVX2
    check_aggregate_row<64, Arch>();
    check_aggregate_row<13, Arch, 24>();
}

// ---- the two paths on identical inputs ---------------------------------------------------------

// Both paths are within the reference bound, so they are within twice of it of each other; this
// compares them directly so a divergence names the kernel.
template <std::size_t Din, std::size_t Dout>
void compare_paths_projection(std::size_t rows) {
    const auto x = random_floats(rows * Din, 41), w = random_floats(Din * Dout, 42), b = random_floats(Dout, 43);
    std::vector<float> y_simd(rows * Dout), y_scalar(rows * Dout);
    ctattn::kernels::project<Din, Dout, default_arch>(rows, x.data(), w.data(), b.data(), y_simd.data());
    ctattn::kernels::project<Din, Dout, scalar_arch>(rows, x.data(), w.data(), b.data(), y_scalar.data());
    const ref::vec scale = ref::matmul_abs(to_double(x), to_double(w), nullptr, rows, Din, Dout);
    for (std::size_t i = 0; i < y_simd.size(); ++i)
        REQUIRE(std::abs(y_simd[i] - y_scalar[i]) <= 2.0 * (Din + 2) * unit_roundoff * (scale[i] + std::abs(b[i % Dout])));
}

}  // namespace

TEST_CASE("projection matches the double reference on awkward shapes, strides and with or without bias",
          "[kernels][projection]") {
    check_projection_shapes<default_arch>();
    check_projection_shapes<scalar_arch>();
}

TEST_CASE("score_row matches the double reference for every visible run and never reads masked keys",
          "[kernels][scores]") {
    check_score_shapes<default_arch>();
    check_score_shapes<scalar_arch>();
}

TEST_CASE("every mask policy agrees with the mask's formula in the score matrix", "[kernels][scores][mask]") {
    check_every_mask<default_arch>();
    check_every_mask<scalar_arch>();
}

TEST_CASE("mask policies' visible runs match the masks' definitions for every query, key and length",
          "[kernels][mask]") {
    using namespace ctattn;
    for (std::size_t n = 1; n <= 20; ++n)
        for (std::size_t i = 0; i < n + 3; ++i)  // queries past the keys happen when decoding from a cache
            for (std::size_t j = 0; j < n; ++j) {
                INFO("n " << n << " query " << i << " key " << j);
                REQUIRE(is_visible<no_mask>({}, i, j, n) == ref::visible(ref::mask_kind::none, i, j, 0));
                REQUIRE(is_visible<causal_mask>({}, i, j, n) == ref::visible(ref::mask_kind::causal, i, j, 0));
                REQUIRE(is_visible<sliding_window_mask<1>>({}, i, j, n) ==
                        ref::visible(ref::mask_kind::window, i, j, 1));
                REQUIRE(is_visible<sliding_window_mask<4>>({}, i, j, n) ==
                        ref::visible(ref::mask_kind::window, i, j, 4));
                REQUIRE(is_visible<sliding_window_mask<64>>({}, i, j, n) ==
                        ref::visible(ref::mask_kind::window, i, j, 64));
                for (std::size_t valid = 1; valid <= n; ++valid)
                    REQUIRE(is_visible<key_padding_mask>({valid}, i, j, n) ==
                            ref::visible(ref::mask_kind::padding, i, j, valid));
            }
    CHECK(key_padding_mask::validate({0}, 5) == status::invalid_mask);
    CHECK(key_padding_mask::validate({6}, 5) == status::invalid_mask);
    CHECK(key_padding_mask::validate({1}, 5) == status::ok);
    CHECK(key_padding_mask::validate({5}, 5) == status::ok);
}

TEST_CASE("softmax_row matches the double reference on every length and visible run", "[kernels][softmax]") {
    check_softmax<default_arch>();
    check_softmax<scalar_arch>();
}

TEST_CASE("softmax_row handles masked rows, -inf and scores of +-1e30 on the xsimd path", "[kernels][softmax]") {
    check_softmax_edge_cases<default_arch>();
}

TEST_CASE("softmax_row handles masked rows, -inf and scores of +-1e30 on the scalar path", "[kernels][softmax]") {
    check_softmax_edge_cases<scalar_arch>();
}

TEST_CASE("aggregate_row matches the double reference and ignores keys outside the visible run",
          "[kernels][aggregate]") {
    check_aggregate_shapes<default_arch>();
    check_aggregate_shapes<scalar_arch>();
}

TEST_CASE("aggregate computes O = P V for a whole head with strided weights", "[kernels][aggregate]") {
    constexpr std::size_t head_dim = 7, n_queries = 5, n_keys = 13, p_stride = 16;
    const auto p = random_floats(n_queries * p_stride, 3, 0.0f, 1.0f);
    const auto v = random_floats(n_keys * head_dim, 4);
    std::vector<float> out(n_queries * head_dim);
    ctattn::kernels::aggregate<head_dim>(n_queries, p.data(), p_stride, n_keys, v.data(), out.data());
    for (std::size_t i = 0; i < n_queries; ++i)
        for (std::size_t d = 0; d < head_dim; ++d) {
            double want = 0.0, abs_sum = 0.0;
            for (std::size_t j = 0; j < n_keys; ++j) {
                want += double(p[i * p_stride + j]) * v[j * head_dim + d];
                abs_sum += std::abs(double(p[i * p_stride + j]) * v[j * head_dim + d]);
            }
            REQUIRE(std::abs(out[i * head_dim + d] - want) <= (n_keys + 2) * unit_roundoff * abs_sum);
        }
}

TEST_CASE("the xsimd path agrees with the scalar path on identical inputs", "[kernels][simd]") {
    INFO("default arch " << ctattn::simd::arch_name<default_arch>() << ", width " << ctattn::simd::width<default_arch>);
    for (std::size_t rows : {1, 5, 13}) {
        compare_paths_projection<13, 17>(rows);
        compare_paths_projection<64, 64>(rows);
    }

    constexpr std::size_t head_dim = 17, n_keys = 13;
    const auto q = random_floats(head_dim, 51), k = random_floats(n_keys * head_dim, 52);
    const auto v = random_floats(n_keys * head_dim, 53);
    for (const key_range run : all_runs(n_keys)) {
        INFO("run [" << run.begin << ", " << run.end << ")");
        std::vector<float> s_simd(n_keys), s_scalar(n_keys);
        ctattn::kernels::score_row<head_dim, default_arch>(q.data(), k.data(), n_keys, run, 0.25f, s_simd.data());
        ctattn::kernels::score_row<head_dim, scalar_arch>(q.data(), k.data(), n_keys, run, 0.25f, s_scalar.data());
        for (std::size_t j = 0; j < n_keys; ++j) {
            if (s_scalar[j] == minus_inf) {
                REQUIRE(s_simd[j] == minus_inf);
                continue;
            }
            // |q|,|k| <= 1: sum|q k| <= head_dim; both within (head_dim + 3) u * 0.25 * head_dim.
            REQUIRE(std::abs(s_simd[j] - s_scalar[j]) <= 2.0 * (head_dim + 3) * unit_roundoff * 0.25 * head_dim);
        }
        ctattn::kernels::softmax_row<default_arch>(s_simd.data(), n_keys, run);
        ctattn::kernels::softmax_row<scalar_arch>(s_scalar.data(), n_keys, run);
        for (std::size_t j = 0; j < n_keys; ++j)
            REQUIRE(std::abs(s_simd[j] - s_scalar[j]) <= 2.0 * (26 + 2 * n_keys) * unit_roundoff * s_scalar[j]);
        std::vector<float> o_simd(head_dim), o_scalar(head_dim);
        ctattn::kernels::aggregate_row<head_dim, default_arch>(s_simd.data(), v.data(), run, o_simd.data());
        ctattn::kernels::aggregate_row<head_dim, scalar_arch>(s_scalar.data(), v.data(), run, o_scalar.data());
        // The inputs' scores differ by < 1e-6, so the weights (sum 1) differ by < 7e-6 relative
        // (softmax bound above, twice, plus the score difference); |v| <= 1 adds n u: 1e-5 covers it.
        for (std::size_t d = 0; d < head_dim; ++d) REQUIRE(std::abs(o_simd[d] - o_scalar[d]) <= 1e-5);
    }
}

TEST_CASE("the auto build really uses a vector arch (xsimd, or Helium on Cortex-M), so the cross-path test compares two different paths", "[kernels][simd]") {
#if defined(CTATTN_SIMD_SCALAR)
    CHECK(std::is_same_v<default_arch, scalar_arch>);  // -Dsimd=scalar: the plain C++ path only
#elif defined(CTATTN_HAS_MVE_FLOAT)
    // Cortex-M55/M85 (tests/embedded/catch): xsimd has no arch there; Helium's 4 float lanes are it.
    CHECK(std::is_same_v<default_arch, ctattn::simd::mve_arch>);
    CHECK(ctattn::simd::width<default_arch> == 4);
#else
#if !defined(CTATTN_HAS_XSIMD)
    FAIL("built with simd=auto but <xsimd/xsimd.hpp> was not found: default_arch fell back to scalar");
#endif
#if defined(__SSE2__) || defined(__ARM_NEON)
    // Every x86-64 and AArch64 target has 128-bit vectors at least.
    CHECK(ctattn::simd::width<default_arch> >= 4);
#endif
#endif
}
