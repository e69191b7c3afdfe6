// SPDX-License-Identifier: Apache-2.0
// The kernels' speed paths, each against a double reference:
// projection tiles picked per row count, from row-major and from packed weights (1..2*tile_rows+1 rows, leftover-vector tiles, scalar
// column tails), dot products split over several partial sums, scores for a vector of keys at
// once (reduce_add_each, head_dim tails), and aggregation over interleaved partial sums.
#include <catch2/catch.hpp>

#include <ctattn/kernels/aggregate.hpp>
#include <ctattn/kernels/packed_projection.hpp>
#include <ctattn/kernels/projection.hpp>
#include <ctattn/kernels/scores.hpp>
#include <ctattn/kernels/softmax.hpp>
#include <ctattn/simd/ops.hpp>

#include <algorithm>
#include <cmath>
#include <limits>
#include <memory>
#include <random>
#include <utility>
#include <vector>

namespace {

using default_arch = ctattn::simd::default_arch;
using scalar_arch = ctattn::simd::scalar_arch;

// Float summation of n products, any order, errs by at most gamma_n * sum|terms| with
// gamma_n = n u / (1 - n u), u = 2^-24 (Higham, Accuracy and Stability, 3.1). Tests use 2x that.
double sum_bound(std::size_t n_terms, double abs_sum) {
    const double u = std::ldexp(1.0, -24), nu = double(n_terms) * u;
    return 2.0 * nu / (1.0 - nu) * abs_sum + 1e-30;
}

std::vector<float> random_vector(std::size_t n, unsigned seed) {
    std::mt19937 rng(seed);
    std::uniform_real_distribution<float> dist(-1.0f, 1.0f);
    std::vector<float> v(n);
    for (auto& x : v) x = dist(rng);
    return v;
}

template <std::size_t Din, std::size_t Dout, class Arch>
void check_projection_rows(std::size_t max_rows, bool with_bias) {
    const auto x = random_vector(max_rows * Din, unsigned(Din * 7 + Dout)), w = random_vector(Din * Dout, 3),
               b = random_vector(Dout, 5);
    for (std::size_t rows = 1; rows <= max_rows; ++rows) {
        std::vector<float> y(rows * Dout + 1, 0.0f);
        y[rows * Dout] = 77.0f;  // one past the output: must stay
        ctattn::kernels::project<Din, Dout, Arch>(rows, x.data(), w.data(), with_bias ? b.data() : nullptr, y.data());
        INFO("Din " << Din << " Dout " << Dout << " rows " << rows << " arch " << ctattn::simd::arch_name<Arch>());
        for (std::size_t r = 0; r < rows; ++r)
            for (std::size_t c = 0; c < Dout; ++c) {
                double want = with_bias ? b[c] : 0.0, abs_sum = with_bias ? std::fabs(b[c]) : 0.0;
                for (std::size_t k = 0; k < Din; ++k) {
                    want += double(x[r * Din + k]) * w[k * Dout + c];
                    abs_sum += std::fabs(double(x[r * Din + k]) * w[k * Dout + c]);
                }
                REQUIRE(std::fabs(y[r * Dout + c] - want) <= sum_bound(Din + 1, abs_sum));
            }
        REQUIRE(y[rows * Dout] == 77.0f);

        // The same weights packed into panels: the same tiles and summation order, the same bits.
        auto packed = std::make_unique<ctattn::kernels::packed_matrix<Din, Dout, Arch>>();
        packed->pack(w.data());
        for (std::size_t k = 0; k < Din; ++k)
            for (std::size_t c = 0; c < Dout; ++c) REQUIRE((*packed)(k, c) == w[k * Dout + c]);
        std::vector<float> y_packed(rows * Dout + 1, 0.0f);
        y_packed[rows * Dout] = 77.0f;
        ctattn::kernels::project(rows, x.data(), *packed, with_bias ? b.data() : nullptr, y_packed.data());
        for (std::size_t i = 0; i < rows * Dout; ++i) REQUIRE(y_packed[i] == y[i]);
        REQUIRE(y_packed[rows * Dout] == 77.0f);
    }
}

template <std::size_t N, class Arch>
void check_dot() {
    const auto a = random_vector(N, unsigned(N)), b = random_vector(N, unsigned(N + 1));
    double want = 0.0, abs_sum = 0.0;
    for (std::size_t i = 0; i < N; ++i) want += double(a[i]) * b[i], abs_sum += std::fabs(double(a[i]) * b[i]);
    INFO("N " << N << " arch " << ctattn::simd::arch_name<Arch>());
    REQUIRE(std::fabs(ctattn::kernels::dot<N, Arch>(a.data(), b.data()) - want) <= sum_bound(N, abs_sum));
}

// Every visible run [begin, end) of up to 21 keys, keys strided by KStride > HeadDim.
template <std::size_t HeadDim, class Arch>
void check_scores() {
    constexpr std::size_t n_keys = 21, k_stride = HeadDim + 3;
    const auto q = random_vector(HeadDim, 11), k = random_vector(n_keys * k_stride, 13);
    const float scale = 0.25f;
    for (std::size_t begin = 0; begin <= n_keys; ++begin)
        for (std::size_t end = begin; end <= n_keys; ++end) {
            std::vector<float> s(n_keys, 123.0f);
            ctattn::kernels::score_row<HeadDim, Arch, k_stride>(q.data(), k.data(), n_keys, {begin, end}, scale, s.data());
            INFO("head_dim " << HeadDim << " visible " << begin << ".." << end << " arch " << ctattn::simd::arch_name<Arch>());
            for (std::size_t j = 0; j < n_keys; ++j) {
                if (j < begin || j >= end) {
                    REQUIRE(s[j] == -std::numeric_limits<float>::infinity());
                    continue;
                }
                double want = 0.0, abs_sum = 0.0;
                for (std::size_t d = 0; d < HeadDim; ++d) {
                    want += double(q[d]) * k[j * k_stride + d];
                    abs_sum += std::fabs(double(q[d]) * k[j * k_stride + d]);
                }
                // One more rounding for the scale (a power of two here, so exact) and the store.
                REQUIRE(std::fabs(s[j] - scale * want) <= scale * sum_bound(HeadDim + 1, abs_sum));
            }
        }
}

template <std::size_t HeadDim, class Arch>
void check_aggregate() {
    constexpr std::size_t n_keys = 19, v_stride = HeadDim + 5;
    const auto p = random_vector(n_keys, 17), v = random_vector(n_keys * v_stride, 19);
    for (std::size_t begin = 0; begin <= n_keys; ++begin)
        for (std::size_t end = begin; end <= n_keys; ++end) {
            std::vector<float> out(HeadDim + 1, 9.0f);
            ctattn::kernels::aggregate_row<HeadDim, Arch, v_stride>(p.data(), v.data(), {begin, end}, out.data());
            INFO("head_dim " << HeadDim << " visible " << begin << ".." << end << " arch " << ctattn::simd::arch_name<Arch>());
            for (std::size_t d = 0; d < HeadDim; ++d) {
                double want = 0.0, abs_sum = 0.0;
                for (std::size_t j = begin; j < end; ++j) {
                    want += double(p[j]) * v[j * v_stride + d];
                    abs_sum += std::fabs(double(p[j]) * v[j * v_stride + d]);
                }
                REQUIRE(std::fabs(out[d] - want) <= sum_bound(n_keys, abs_sum));
            }
            REQUIRE(out[HeadDim] == 9.0f);
        }
}

// Softmax of every visible run of a 21-key row, with NaN in every masked slot (a blocked score
// tile leaves whatever it computed there): the tail vector is loaded whole or lane by lane, its
// padding lanes replaced, and the masked slots must come out exactly 0.
template <class Arch>
void check_softmax_runs(float scale) {
    constexpr std::size_t n = 21;
    const auto scores = random_vector(n, 23);
    for (std::size_t begin = 0; begin <= n; ++begin)
        for (std::size_t end = begin; end <= n; ++end) {
            std::vector<float> row(n, NAN);
            for (std::size_t j = begin; j < end; ++j) row[j] = 4.0f * scores[j];
            ctattn::kernels::softmax_row<Arch>(row.data(), n, {begin, end}, scale);
            INFO("visible " << begin << ".." << end << " scale " << scale << " arch " << ctattn::simd::arch_name<Arch>());
            double max = -INFINITY, sum = 0.0;
            for (std::size_t j = begin; j < end; ++j) max = std::max(max, double(scale) * 4.0 * scores[j]);
            for (std::size_t j = begin; j < end; ++j) sum += std::exp(double(scale) * 4.0 * scores[j] - max);
            for (std::size_t j = 0; j < n; ++j) {
                if (j < begin || j >= end) {
                    REQUIRE(row[j] == 0.0f);
                    continue;
                }
                // exp's own error (a few ulp) plus the scaled shift's rounding (|scale * s| <= 4):
                // 1e-6 relative is ~8 ulp, and a lane taken from the padding would be off by O(1).
                const double want = std::exp(double(scale) * 4.0 * scores[j] - max) / sum;
                REQUIRE(std::fabs(row[j] - want) <= 1e-6 * want + 1e-9);
            }
        }
}

// Blocked scores from transposed K (keys strided in a cache wider than head_dim), for a block of
// Rows queries over key runs [begin, end): every visible column against the double dot product.
template <std::size_t HeadDim, std::size_t Rows, class Arch>
void check_score_rows_transposed() {
    constexpr std::size_t n_keys = 37, k_stride = HeadDim + 3, q_stride = HeadDim + 5;
    constexpr std::size_t W = ctattn::simd::width<Arch>, kt_stride = (n_keys + W - 1) / W * W;
    const auto q = random_vector(Rows * q_stride, 29), k = random_vector(n_keys * k_stride, 31);
    std::vector<float> kt(HeadDim * kt_stride, NAN);
    ctattn::kernels::transpose_keys<HeadDim, k_stride, kt_stride, W>(n_keys, k.data(), kt.data());
    for (std::size_t d = 0; d < HeadDim; ++d)
        for (std::size_t j = 0; j < kt_stride; ++j) REQUIRE(kt[d * kt_stride + j] == (j < n_keys ? k[j * k_stride + d] : 0.0f));
    for (const auto& [begin, end] : {std::pair<std::size_t, std::size_t>{0, n_keys}, {0, 1}, {5, 22}, {17, 18}, {16, 37}}) {
        std::vector<float> s(Rows * kt_stride, 5.0f);
        ctattn::kernels::score_rows_transposed<HeadDim, Rows, Arch, q_stride, kt_stride, kt_stride>(begin, end, q.data(),
                                                                                                  kt.data(), s.data());
        INFO("head_dim " << HeadDim << " rows " << Rows << " keys " << begin << ".." << end << " arch "
                         << ctattn::simd::arch_name<Arch>());
        for (std::size_t r = 0; r < Rows; ++r)
            for (std::size_t j = begin; j < end; ++j) {
                double want = 0.0, abs_sum = 0.0;
                for (std::size_t d = 0; d < HeadDim; ++d) {
                    want += double(q[r * q_stride + d]) * k[j * k_stride + d];
                    abs_sum += std::fabs(double(q[r * q_stride + d]) * k[j * k_stride + d]);
                }
                REQUIRE(std::fabs(s[r * kt_stride + j] - want) <= sum_bound(HeadDim, abs_sum));
            }
    }
}

// P V for a block of Rows query rows over keys [begin, end), values strided in a wider cache.
template <std::size_t HeadDim, std::size_t Rows, class Arch>
void check_aggregate_rows() {
    constexpr std::size_t n_keys = 23, p_stride = n_keys + 1, v_stride = HeadDim + 5, o_stride = HeadDim + 2;
    const auto p = random_vector(Rows * p_stride, 37), v = random_vector(n_keys * v_stride, 41);
    for (const auto& [begin, end] : {std::pair<std::size_t, std::size_t>{0, n_keys}, {0, 0}, {3, 4}, {2, 19}}) {
        std::vector<float> out(Rows * o_stride, 9.0f);
        ctattn::kernels::aggregate_rows<HeadDim, Rows, Arch, p_stride, v_stride, o_stride>(begin, end, p.data(), v.data(),
                                                                                          out.data());
        INFO("head_dim " << HeadDim << " rows " << Rows << " keys " << begin << ".." << end << " arch "
                         << ctattn::simd::arch_name<Arch>());
        for (std::size_t r = 0; r < Rows; ++r) {
            for (std::size_t d = 0; d < HeadDim; ++d) {
                double want = 0.0, abs_sum = 0.0;
                for (std::size_t j = begin; j < end; ++j) {
                    want += double(p[r * p_stride + j]) * v[j * v_stride + d];
                    abs_sum += std::fabs(double(p[r * p_stride + j]) * v[j * v_stride + d]);
                }
                REQUIRE(std::fabs(out[r * o_stride + d] - want) <= sum_bound(n_keys, abs_sum));
            }
            for (std::size_t d = HeadDim; d < o_stride; ++d) REQUIRE(out[r * o_stride + d] == 9.0f);  // untouched
        }
    }
}

}  // namespace

TEST_CASE("softmax over every visible run ignores what masked slots hold, with and without a folded scale",
          "[perf_kernels][softmax]") {
    check_softmax_runs<default_arch>(1.0f);
    check_softmax_runs<default_arch>(0.125f);
    check_softmax_runs<scalar_arch>(0.125f);
}

TEST_CASE("blocked scores from transposed keys match the double reference for every row count and key run",
          "[perf_kernels][scores]") {
    check_score_rows_transposed<3, 1, default_arch>();
    check_score_rows_transposed<13, 5, default_arch>();
    check_score_rows_transposed<32, 6, default_arch>();
    check_score_rows_transposed<8, 6, default_arch>();   // 8 x 8 register transposes (AVX)
    check_score_rows_transposed<40, 3, default_arch>();  // 16 x 16 ones, then 8 x 8 (AVX-512)
    check_score_rows_transposed<17, 4, scalar_arch>();
}

TEST_CASE("blocked aggregation of several query rows matches the double reference", "[perf_kernels][aggregate]") {
    check_aggregate_rows<1, 3, default_arch>();
    check_aggregate_rows<13, 6, default_arch>();   // one vector + scalar tail (AVX2), scalar only (AVX-512)
    check_aggregate_rows<32, 6, default_arch>();
    check_aggregate_rows<8, 6, default_arch>();    // head_dim 8: one 8-wide vector under AVX-512
    check_aggregate_rows<24, 5, default_arch>();   // 16 + 8 under AVX-512
    check_aggregate_rows<72, 2, default_arch>();   // a full tile block + leftover vectors
    check_aggregate_rows<13, 4, scalar_arch>();
}

TEST_CASE("projection, row-major and packed, picks a correct tile for every row count, leftover vector and scalar column",
          "[perf_kernels][projection]") {
    // Dout 1, 7: only scalar columns; 17: one vector + a scalar tail (AVX2), 40: a main-tile panel
    // + leftover vectors; 172 (stories260K's hidden width): panels + leftover + 4 scalar columns.
    check_projection_rows<13, 1, default_arch>(13, true);
    check_projection_rows<5, 7, default_arch>(13, false);
    check_projection_rows<9, 17, default_arch>(13, true);
    check_projection_rows<16, 40, default_arch>(13, false);
    check_projection_rows<64, 172, default_arch>(13, true);
    check_projection_rows<9, 17, scalar_arch>(9, true);
    check_projection_rows<64, 172, scalar_arch>(5, false);
    check_projection_rows<256, 256, default_arch>(13, false);  // whole panels only (the MHA bench width)
}

TEST_CASE("dot over one, two and four partial sums matches the double reference", "[perf_kernels][dot]") {
    check_dot<1, default_arch>();
    check_dot<13, default_arch>();
    check_dot<64, default_arch>();
    check_dot<77, default_arch>();
    check_dot<288, default_arch>();
    check_dot<77, scalar_arch>();
    check_dot<288, scalar_arch>();
}

TEST_CASE("scores for a vector of keys at once match the double reference for every visible run",
          "[perf_kernels][scores]") {
    check_scores<3, default_arch>();   // narrower than a vector: the four-key path only
    check_scores<8, default_arch>();
    check_scores<13, default_arch>();  // head_dim tail after whole vectors
    check_scores<32, default_arch>();
    check_scores<13, scalar_arch>();
}

TEST_CASE("reduce_add_each puts each row's sum in its own lane", "[perf_kernels][simd]") {
    using V = ctattn::simd::ops<default_arch>;
    constexpr std::size_t W = V::width;
    float values[W][W];
    typename V::vec rows[W];
    for (std::size_t r = 0; r < W; ++r) {
        for (std::size_t l = 0; l < W; ++l) values[r][l] = float(r * 100 + l);  // integers: sums are exact
        rows[r] = V::load(values[r]);
    }
    float sums[W];
    V::store(sums, V::reduce_add_each(rows));
    for (std::size_t r = 0; r < W; ++r) {
        float want = 0.0f;
        for (std::size_t l = 0; l < W; ++l) want += values[r][l];
        REQUIRE(sums[r] == want);
    }
}

// The largest lane wherever it sits, on the default arch and on each narrower one the kernels use
// (a wrong max would hide inside softmax, which is shift-invariant).
template <class Arch>
void check_reduce_max() {
    using V = ctattn::simd::ops<Arch>;
    constexpr std::size_t W = V::width;
    for (std::size_t hot = 0; hot < W; ++hot) {
        alignas(64) float lanes[W];
        for (std::size_t l = 0; l < W; ++l) lanes[l] = -float(l) - 2.0f;
        lanes[hot] = 1.5f;
        INFO("arch " << ctattn::simd::arch_name<Arch>() << " largest lane " << hot);
        REQUIRE(V::reduce_max(V::load(lanes)) == 1.5f);
    }
}

TEST_CASE("reduce_max finds the largest lane on every arch width", "[perf_kernels][simd]") {
    check_reduce_max<default_arch>();
    check_reduce_max<ctattn::simd::arch_for_width<default_arch, 8>>();
    check_reduce_max<ctattn::simd::arch_for_width<default_arch, 4>>();
    check_reduce_max<scalar_arch>();
    STATIC_REQUIRE(ctattn::simd::width<ctattn::simd::arch_for_width<default_arch, 8>> <= 8);
    STATIC_REQUIRE(ctattn::simd::width<ctattn::simd::arch_for_width<default_arch, 3>> == 1);
}

TEST_CASE("aggregation over interleaved partial sums matches the double reference for every visible run",
          "[perf_kernels][aggregate]") {
    check_aggregate<1, default_arch>();
    check_aggregate<8, default_arch>();    // one vector: four partial sums (AVX2)
    check_aggregate<13, default_arch>();   // one vector + scalar tail
    check_aggregate<32, default_arch>();   // four vectors: two partial sums (AVX2)
    check_aggregate<72, default_arch>();   // a block of four + one more vector
    check_aggregate<13, scalar_arch>();
}
