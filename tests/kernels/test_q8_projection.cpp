// SPDX-License-Identifier: Apache-2.0
// The Q8 (w8a8) projection kernel (kernels/q8_projection.hpp) at awkward shapes: widths 1, 3, 5, 13,
// groups that do not divide the row (padded rows: 13 in groups of 4, 172 in groups of 32), one
// group per row, several rows, with and without bias, a zero row and a row of tiny values.
// Three independent checks per shape:
//   1. quantization: codes and scales equal a plain re-statement of the rule (s = max|v| / 127,
//      q = round half away from zero of v / s, padding codes 0), weights and activations alike;
//   2. arithmetic: y equals a double-precision evaluation of the same quantized product,
//      sum_g sw sx sum_i qw qx (+ b), within the float rounding of the kernel's sums. The int32
//      sums are exact, but a vector body converts and scales each lane's part of a group (4 or
//      more products) on its own, and the lanes of a group may cancel, so the terms summed in float
//      are bounded by sum_g |sw sx| sum_i |qw qx|, not by sum_g |sw sx acc_g|. Each of those terms
//      passes through at most: the scale product (1 rounding), one multiply-add per group (groups),
//      joining two accumulators (1), a 16-lane horizontal sum (4) and the bias (1), so
//      |err| <= gamma(groups + 8) * (sum_g |sw sx| sum_i |qw qx| + |b|), gamma(n) = n u / (1 - n u),
//      u = 2^-24;
//   3. quantization error: y is within the quantization step of the unquantized double product,
//      |w x - (sw qw)(sx qx)| <= |w| sx / 2 + |sx qx| sw / 2 per element (each rounding moves a code
//      at most half a step), plus the rounding bound of check 2.
#include <catch2/catch.hpp>

#include <ctattn/kernels/q8_projection.hpp>

#include <cmath>
#include <cstdint>
#include <cstdio>
#include <memory>
#include <random>
#include <vector>

namespace {

using namespace ctattn;

constexpr double unit_roundoff = 0x1p-24;
double gamma(std::size_t n) { return double(n) * unit_roundoff / (1.0 - double(n) * unit_roundoff); }

// The rule restated: one group of n values (n <= G, the rest of the group is zero padding).
void reference_quantize(const float* v, std::size_t n, std::size_t G, std::int8_t* q, float& s) {
    float amax = 0.0f;
    for (std::size_t i = 0; i < n; ++i) amax = std::max(amax, std::fabs(v[i]));
    s = amax / 127.0f;
    for (std::size_t i = 0; i < G; ++i) {
        if (i >= n || s == 0.0f) {
            q[i] = 0;
            continue;
        }
        const float r = v[i] / s;
        const long code = std::lround(r);  // half away from zero
        q[i] = static_cast<std::int8_t>(std::clamp(code, -127L, 127L));
    }
}

template <std::size_t Din, std::size_t Dout, std::size_t G>
void check_shape(std::size_t rows, bool with_bias, std::uint32_t seed) {
    using M = q8_matrix<Din, Dout, G>;
    constexpr std::size_t P = M::row_codes, groups = M::groups;
    INFO("Din " << Din << " Dout " << Dout << " G " << G << " (row " << P << " codes, " << groups
                << " groups) rows " << rows << (with_bias ? " with bias" : ""));
    std::mt19937 rng(seed);
    std::uniform_real_distribution<float> dist(-1.0f, 1.0f);

    // Weights as trained: Din x Dout floats, x @ W. Column o becomes Q8 row o. One output column
    // is all zeros (scale 0) when there is more than one.
    std::vector<float> w(Din * Dout);
    for (float& v : w) v = dist(rng);
    if (Dout > 1)
        for (std::size_t i = 0; i < Din; ++i) w[i * Dout + Dout - 1] = 0.0f;
    auto q = std::make_unique<M>();
    for (std::size_t o = 0; o < Dout; ++o) {
        std::vector<float> column(Din);
        for (std::size_t i = 0; i < Din; ++i) column[i] = w[i * Dout + o];
        kernels::q8_quantize_row<M>(column.data(), q->code_row(o), q->scale_row(o));
        for (std::size_t g = 0; g < groups; ++g) {
            std::int8_t want[G];
            float want_scale = 0.0f;
            const std::size_t n = std::min(G, Din - std::min(Din, g * G));
            reference_quantize(column.data() + g * G, n, G, want, want_scale);
            REQUIRE(q->scale_row(o)[g] == want_scale);
            for (std::size_t i = 0; i < G; ++i) REQUIRE(int(q->code_row(o)[g * G + i]) == int(want[i]));
        }
        // Dequantizing gives the codes times their scales (the embedding lookup).
        std::vector<float> row(Din);
        kernels::q8_dequantize_row(*q, o, row.data());
        for (std::size_t i = 0; i < Din; ++i) REQUIRE(row[i] == q->scale_row(o)[i / G] * float(q->code_row(o)[i]));
    }

    // Activations: random rows, then (when there are several) a zero row and a row of tiny values.
    std::vector<float> x(rows * Din), bias(Dout);
    for (float& v : x) v = dist(rng) * 3.0f;
    if (rows > 1)
        for (std::size_t i = 0; i < Din; ++i) x[Din + i] = 0.0f;
    if (rows > 2)
        for (std::size_t i = 0; i < Din; ++i) x[2 * Din + i] = dist(rng) * 1e-30f;
    for (float& b : bias) b = dist(rng);
    std::vector<float> y(rows * Dout, NAN);
    kernels::project_q8(rows, x.data(), *q, with_bias ? bias.data() : nullptr, y.data());

    for (std::size_t r = 0; r < rows; ++r) {
        std::vector<std::int8_t> xq(P);
        std::vector<float> xs(groups);
        for (std::size_t g = 0; g < groups; ++g)
            reference_quantize(x.data() + r * Din + g * G, std::min(G, Din - std::min(Din, g * G)), G,
                               xq.data() + g * G, xs[g]);
        for (std::size_t o = 0; o < Dout; ++o) {
            double quantized = 0.0, magnitude = 0.0, exact = 0.0, step = 0.0;
            for (std::size_t g = 0; g < groups; ++g) {
                long acc = 0, acc_magnitude = 0;
                for (std::size_t i = g * G; i < g * G + G; ++i) {
                    acc += long(q->code_row(o)[i]) * long(xq[i]);
                    acc_magnitude += std::labs(long(q->code_row(o)[i]) * long(xq[i]));
                }
                const double scale = double(q->scale_row(o)[g]) * double(xs[g]);
                quantized += scale * double(acc);
                magnitude += std::fabs(scale) * double(acc_magnitude);
            }
            for (std::size_t i = 0; i < Din; ++i) {
                const double wi = w[i * Dout + o], xi = x[r * Din + i];
                exact += wi * xi;
                step += std::fabs(wi) * double(xs[i / G]) / 2.0 +
                        std::fabs(double(xs[i / G]) * xq[i]) * double(q->scale_row(o)[i / G]) / 2.0;
            }
            const double b = with_bias ? double(bias[o]) : 0.0;
            const double rounding = gamma(groups + 8) * (magnitude + std::fabs(b));
            const double got = y[r * Dout + o];
            INFO("row " << r << " output " << o << ": got " << got << " quantized reference " << quantized + b
                        << " exact " << exact + b);
            REQUIRE(std::fabs(got - (quantized + b)) <= rounding);
            REQUIRE(std::fabs(got - (exact + b)) <= step + rounding + 1e-300);
        }
    }
}

}  // namespace

TEST_CASE("the Q8 projection matches a double evaluation of the same quantized product at awkward shapes",
          "[kernels][q8]") {
    check_shape<1, 1, 1>(1, false, 1);
    check_shape<1, 3, 1>(3, true, 2);
    check_shape<3, 5, 3>(2, false, 3);
    check_shape<5, 3, 5>(3, true, 4);
    check_shape<5, 13, 2>(3, true, 5);      // 5 codes padded to 6: groups of 2
    check_shape<13, 5, 4>(4, false, 6);     // 13 padded to 16: the last group holds one input
    check_shape<13, 1, 13>(1, true, 7);     // one group per row
    check_shape<64, 13, 32>(3, true, 8);    // two groups per row
    check_shape<172, 5, 32>(3, false, 9);   // stories260K's W2 rows: 172 padded to 192
    check_shape<172, 3, 4>(2, true, 10);    // 172 = 43 groups of 4, no padding
    check_shape<64, 172, 32>(1, false, 11); // stories260K's W1/W3 shape, decode
}

namespace {

// project_q8 walks the outputs several rows at a time (simd::q8_input_rows_dot: q8_rows_per_call,
// or all of them where the body blocks them itself) and the rest one by one: each output must
// equal the one-row dot of its weight row against the same quantized activations, plus the bias,
// bit for bit, whatever Dout % q8_rows_per_call is.
template <std::size_t Din, std::size_t Dout, std::size_t G>
void check_rows_match_row_dot(std::size_t rows, std::uint32_t seed) {
    using M = q8_matrix<Din, Dout, G>;
    INFO("Din " << Din << " Dout " << Dout << " G " << G << " rows " << rows);
    std::mt19937 rng(seed);
    std::uniform_real_distribution<float> dist(-1.0f, 1.0f);
    auto q = std::make_unique<M>();
    for (std::size_t o = 0; o < Dout; ++o) {
        float column[Din];
        for (float& v : column) v = dist(rng) * float(1 + o % 3);
        kernels::q8_quantize_row<M>(column, q->code_row(o), q->scale_row(o));
    }
    std::vector<float> x(rows * Din), bias(Dout), y(rows * Dout, NAN), y_bias(rows * Dout, NAN);
    for (float& v : x) v = dist(rng) * 2.0f;
    for (float& b : bias) b = dist(rng);
    kernels::project_q8(rows, x.data(), *q, nullptr, y.data());
    kernels::project_q8(rows, x.data(), *q, bias.data(), y_bias.data());
    for (std::size_t r = 0; r < rows; ++r) {
        std::int8_t xq[M::row_codes];
        float xs[M::groups];
        kernels::q8_quantize_row<M>(x.data() + r * Din, xq, xs);
        for (std::size_t o = 0; o < Dout; ++o) {
            const float one = simd::q8_row_dot<G>(q->code_row(o), q->scale_row(o), xq, xs, M::groups);
            INFO("row " << r << " output " << o);
            REQUIRE(y[r * Dout + o] == one);
            REQUIRE(y_bias[r * Dout + o] == bias[o] + one);
        }
    }
}

}  // namespace

TEST_CASE("the Q8 projection's outputs equal the one-row dot bit for bit at every output count", "[kernels][q8]") {
    // The counts straddle multiples of q8_rows_per_call (4; 2 under Helium) and of the Arm DSP
    // body's blocks of 4.
    INFO("q8_rows_per_call " << kernels::q8_rows_per_call);
    check_rows_match_row_dot<13, 1, 4>(2, 21);     // fewer outputs than one call: all by the row dot
    check_rows_match_row_dot<13, 3, 4>(1, 22);
    check_rows_match_row_dot<64, 4, 32>(3, 23);    // exactly one call
    check_rows_match_row_dot<64, 5, 32>(3, 24);    // one call and one row
    check_rows_match_row_dot<172, 13, 32>(2, 25);  // three calls and one row, padded rows
    check_rows_match_row_dot<288, 13, 32>(1, 26);  // stories15M's width, 9 groups
    check_rows_match_row_dot<96, 7, 64>(2, 27);    // G 64 over a padded row: 3 remainder rows
    check_rows_match_row_dot<5, 13, 5>(3, 28);     // G neither a multiple of 4 nor of 32
}

TEST_CASE("project_weights runs the Q8 kernel for Q8 matrices and the float kernel for float ones",
          "[kernels][q8]") {
    using M = q8_matrix<13, 5, 4>;
    auto q = std::make_unique<M>();
    auto f = std::make_unique<matrix<13, 5>>();
    std::mt19937 rng(12);
    std::uniform_real_distribution<float> dist(-1.0f, 1.0f);
    for (float& v : f->values) v = dist(rng);
    for (std::size_t o = 0; o < 5; ++o) {
        float column[13];
        for (std::size_t i = 0; i < 13; ++i) column[i] = (*f)(i, o);
        kernels::q8_quantize_row<M>(column, q->code_row(o), q->scale_row(o));
    }
    float x[2 * 13];
    for (float& v : x) v = dist(rng);
    float via_q8[10], direct_q8[10], via_float[10], direct_float[10];
    kernels::project_weights<13, 5>(2, x, *q, nullptr, via_q8);
    kernels::project_q8(2, x, *q, nullptr, direct_q8);
    kernels::project_weights<13, 5>(2, x, *f, nullptr, via_float);
    kernels::project<13, 5>(2, x, f->data(), nullptr, direct_float);
    for (int i = 0; i < 10; ++i) {
        REQUIRE(via_q8[i] == direct_q8[i]);          // the same kernel: bit-identical
        REQUIRE(via_float[i] == direct_float[i]);
    }
    // A view over the same codes and scales reads the same numbers.
    const q8_matrix_view<13, 5, 4> view{q->codes, q->scales};
    float via_view[10];
    kernels::project_q8(2, x, view, nullptr, via_view);
    for (int i = 0; i < 10; ++i) REQUIRE(via_view[i] == direct_q8[i]);
}

namespace {

// Random Q8 weights quantized from floats in [-1, 1) (column o scaled by 1 + o % 3).
template <class M>
std::unique_ptr<M> random_q8(std::mt19937& rng) {
    std::uniform_real_distribution<float> dist(-1.0f, 1.0f);
    auto q = std::make_unique<M>();
    for (std::size_t o = 0; o < M::out_features; ++o) {
        float column[M::in_features];
        for (float& v : column) v = dist(rng) * float(1 + o % 3);
        kernels::q8_quantize_row<M>(column, q->code_row(o), q->scale_row(o));
    }
    return q;
}

}  // namespace

TEST_CASE("projections sharing an input give each project_weights result bit for bit, Q8 at width 172 and float",
          "[kernels][q8]") {
    // Q8: stories260K's W2 width (172 padded to 192), output counts around multiples of 4, one
    // projection without bias; two rows (each quantized once for the three matrices).
    constexpr std::size_t Din = 172, rows = 2;
    std::mt19937 rng(31);
    std::uniform_real_distribution<float> dist(-1.0f, 1.0f);
    const auto a = random_q8<q8_matrix<Din, 13, 32>>(rng);
    const auto b = random_q8<q8_matrix<Din, 5, 32>>(rng);
    const auto c = random_q8<q8_matrix<Din, 8, 32>>(rng);
    std::vector<float> x(rows * Din), bias_a(13), bias_c(8);
    for (float& v : x) v = dist(rng) * 3.0f;
    for (float& v : bias_a) v = dist(rng);
    for (float& v : bias_c) v = dist(rng);
    std::vector<float> ya(rows * 13, NAN), yb(rows * 5, NAN), yc(rows * 8, NAN);
    std::vector<float> wa(rows * 13, NAN), wb(rows * 5, NAN), wc(rows * 8, NAN);
    kernels::project_weights_shared<Din>(rows, x.data(), kernels::project_to<13>(*a, bias_a.data(), ya.data()),
                                                kernels::project_to<5>(*b, nullptr, yb.data()),
                                                kernels::project_to<8>(*c, bias_c.data(), yc.data()));
    kernels::project_q8(rows, x.data(), *a, bias_a.data(), wa.data());
    kernels::project_q8(rows, x.data(), *b, nullptr, wb.data());
    kernels::project_q8(rows, x.data(), *c, bias_c.data(), wc.data());
    for (std::size_t i = 0; i < ya.size(); ++i) REQUIRE(ya[i] == wa[i]);
    for (std::size_t i = 0; i < yb.size(); ++i) REQUIRE(yb[i] == wb[i]);
    for (std::size_t i = 0; i < yc.size(); ++i) REQUIRE(yc[i] == wc[i]);

    // Float matrices: each through project_weights (the float kernel), unchanged.
    auto f = std::make_unique<matrix<13, 5>>();
    auto g = std::make_unique<matrix<13, 3>>();
    for (float& v : f->values) v = dist(rng);
    for (float& v : g->values) v = dist(rng);
    float xf[rows * 13];
    for (float& v : xf) v = dist(rng);
    float yf[rows * 5], yg[rows * 3], wf[rows * 5], wg[rows * 3];
    kernels::project_weights_shared<13>(rows, xf, kernels::project_to<5>(*f, nullptr, yf),
                                               kernels::project_to<3>(*g, nullptr, yg));
    kernels::project<13, 5>(rows, xf, f->data(), nullptr, wf);
    kernels::project<13, 3>(rows, xf, g->data(), nullptr, wg);
    for (std::size_t i = 0; i < rows * 5; ++i) REQUIRE(yf[i] == wf[i]);
    for (std::size_t i = 0; i < rows * 3; ++i) REQUIRE(yg[i] == wg[i]);
}

TEST_CASE("projections of one input through project_weights_shared equal each projection on its own, bit for bit",
          "[kernels][q8]") {
    // Q8 matrices of one input shape (Q, K and V; W1 and W3) share the quantized rows; float ones
    // (and any mix) run project_weights in turn.
    using Mq = q8_matrix<172, 9, 32>;
    using Mk = q8_matrix<172, 5, 32>;
    auto q = std::make_unique<Mq>();
    auto k = std::make_unique<Mk>();
    auto f = std::make_unique<matrix<172, 9>>();
    std::mt19937 rng(31);
    std::uniform_real_distribution<float> dist(-1.0f, 1.0f);
    for (float& v : f->values) v = dist(rng);
    for (std::size_t o = 0; o < 9; ++o) {
        float column[172];
        for (std::size_t i = 0; i < 172; ++i) column[i] = (*f)(i, o);
        kernels::q8_quantize_row<Mq>(column, q->code_row(o), q->scale_row(o));
        if (o < 5) kernels::q8_quantize_row<Mk>(column, k->code_row(o), k->scale_row(o));
    }
    std::vector<float> x(3 * 172), bias(9);
    for (float& v : x) v = dist(rng) * 3.0f;
    for (float& b : bias) b = dist(rng);
    std::vector<float> yq(3 * 9), yk(3 * 5), yf(3 * 9), want_q(3 * 9), want_k(3 * 5), want_f(3 * 9);
    kernels::project_weights_shared<172>(3, x.data(), kernels::project_to<9>(*q, bias.data(), yq.data()),
                                         kernels::project_to<5>(*k, nullptr, yk.data()));
    kernels::project_q8(3, x.data(), *q, bias.data(), want_q.data());
    kernels::project_q8(3, x.data(), *k, nullptr, want_k.data());
    for (std::size_t i = 0; i < yq.size(); ++i) REQUIRE(yq[i] == want_q[i]);
    for (std::size_t i = 0; i < yk.size(); ++i) REQUIRE(yk[i] == want_k[i]);
    // A float and a Q8 matrix: each its own kernel.
    kernels::project_weights_shared<172>(3, x.data(), kernels::project_to<9>(*f, nullptr, yf.data()),
                                         kernels::project_to<5>(*k, nullptr, yk.data()));
    kernels::project<172, 9>(3, x.data(), f->data(), nullptr, want_f.data());
    for (std::size_t i = 0; i < yf.size(); ++i) REQUIRE(yf[i] == want_f[i]);
    for (std::size_t i = 0; i < yk.size(); ++i) REQUIRE(yk[i] == want_k[i]);
}
