// SPDX-License-Identifier: Apache-2.0
// libFuzzer target: multi_head_attention::forward (layers/attention.hpp) on extreme finite inputs,
// against a double reference. The input picks a configuration (head_dim 8 with grouped-query
// heads, bias and a causal mask; head_dim 32 with a key-padding mask), the sequence length, the
// mask parameter, and every float: x's entries and the diagonal projections' entries and biases
// range from denormals to +-FLT_MAX (the projections are diagonal so that Q, K and V are the
// input's extremes one product away, not sums of them). Checked besides memory safety, for every
// call whose Q, K and V came out finite (a projection that overflows is outside the core's
// contract):
//   - the weights (the readout) are finite, in [0, 1], 0 exactly on masked keys, and sum to 1
//     within n float roundings;
//   - they are the softmax of the exact scores within what float scores can be: a score carries
//     up to (head_dim + 2) u sum_d |q_d k_d| scale of rounding (u = 2^-24), which moves a weight
//     by at most a factor e^(2 delta), delta the row's largest such bound;
//   - each head output is the weights times V, within (n + 2) ulps of sum_j p_j |v_j| (and
//     n denormal ulps for underflowing products): masked keys contribute nothing; finite unless
//     sum_j p_j |v_j| is within rounding of FLT_MAX (a known gap: see the check);
//   - the layer's output is finite wherever its exact value is well inside float's range.
// Scores whose float sums overflow are included (the cores' rule sends such a row to the double
// path; the weight bound above is then loose, and tests/contract checks those rows exactly). A
// 40 s run with them found nothing beyond the gap noted at the head-output check.
#include <fuzzer/FuzzedDataProvider.h>

#include <cfloat>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <vector>

#include <ctattn/ctattn.hpp>

namespace {

using namespace ctattn;

[[noreturn]] void fail(const char* what, std::size_t h, std::size_t i, std::size_t j, double got, double want) {
    std::fprintf(stderr, "contract broken: %s (head %zu, row %zu, key/dim %zu): %.9g, want %.9g\n", what, h, i, j,
                 got, want);
    std::abort();
}

// A finite float from the input, most often at an extreme: +-FLT_MAX times a fraction, a power of
// two anywhere in the exponent range (denormals included), an ordinary value, or 0.
float extreme_float(FuzzedDataProvider& in) {
    const float sign = in.ConsumeBool() ? -1.0f : 1.0f;
    switch (in.ConsumeIntegralInRange<int>(0, 4)) {
        case 0: return sign * FLT_MAX * (0.5f + 0.5f * in.ConsumeProbability<float>());
        case 1: return sign * std::ldexp(1.0f + in.ConsumeProbability<float>(), in.ConsumeIntegralInRange<int>(-150, 126));
        case 2: return sign * (in.ConsumeProbability<float>() * 4.0f);
        case 3: return 0.0f;
        default: return sign * std::ldexp(1.0f, in.ConsumeIntegralInRange<int>(-20, 20));
    }
}

template <class Config>
int run(FuzzedDataProvider& in) {
    using layer = multi_head_attention<Config>;
    constexpr std::size_t S = Config::seq_capacity, D = Config::d_model, KvD = Config::kv_dim,
                          H = Config::heads, hd = Config::head_dim;
    static auto* w = new typename layer::weights_type;
    static auto* ws = new typename layer::workspace_type;
    static auto* readout = new typename layer::readout_type;
    static auto* x = new matrix<S, D>;
    static auto* y = new matrix<S, D>;
    *w = {};
    const std::size_t n = in.ConsumeIntegralInRange<std::size_t>(1, S);
    typename layer::mask_params mask{};
    if constexpr (std::is_same_v<typename Config::mask, key_padding_mask>)
        mask.valid_len = in.ConsumeIntegralInRange<std::size_t>(1, n);
    // Diagonal projections: an extreme entry, or 1 (half the time, so that x's extremes pass through).
    auto diagonal_entry = [&] { return in.ConsumeBool() ? 1.0f : extreme_float(in); };
    for (std::size_t d = 0; d < D; ++d) {
        w->wq(d, d) = diagonal_entry();
        w->wo(d, d) = diagonal_entry();
        if (d < KvD) {
            w->wk(d, d) = diagonal_entry();
            w->wv(d, d) = diagonal_entry();
        }
    }
    if constexpr (Config::bias) {
        for (std::size_t d = 0; d < D; ++d) w->bq[d] = in.ConsumeBool() ? 0.0f : extreme_float(in);
        for (std::size_t d = 0; d < KvD; ++d) w->bk[d] = in.ConsumeBool() ? 0.0f : extreme_float(in);
        for (std::size_t d = 0; d < KvD; ++d) w->bv[d] = in.ConsumeBool() ? 0.0f : extreme_float(in);
        for (std::size_t d = 0; d < D; ++d) w->bo[d] = in.ConsumeBool() ? 0.0f : extreme_float(in);
    }
    for (std::size_t i = 0; i < n * D; ++i) (*x)[i] = extreme_float(in);

    if (layer::forward(*w, x->data(), n, y->data(), *ws, mask, readout) != status::ok) std::abort();

    const float* q = ws->q.data();
    const float* k = ws->k.data();
    const float* v = ws->v.data();
    for (std::size_t i = 0; i < n * D; ++i)
        if (!std::isfinite(q[i])) return 0;  // the projection overflowed: not the core's input
    for (std::size_t i = 0; i < n * KvD; ++i)
        if (!std::isfinite(k[i]) || !std::isfinite(v[i])) return 0;
    const double scale = double(Config::score_scale);
    const double u = 0x1p-24;
    std::vector<double> exact(n);
    for (std::size_t h = 0; h < H; ++h) {
        const std::size_t g = h / Config::group_size;
        for (std::size_t i = 0; i < n; ++i) {
            const key_range vis = Config::mask::visible_keys(mask, i, n);
            const float* p = readout->data() + h * S * S + i * S;
            // Exact scores (float products are exact in double; sums of hd of them lose < 1e-13),
            // and the largest rounding a float score can carry.
            double max = -INFINITY, delta = 0.0, sum_p = 0.0;
            for (std::size_t j = vis.begin; j < vis.end; ++j) {
                double dot = 0.0, bound = 0.0;
                for (std::size_t d = 0; d < hd; ++d) {
                    const double prod = double(q[i * D + h * hd + d]) * double(k[j * KvD + g * hd + d]);
                    dot += prod;
                    bound += std::fabs(prod);
                }
                exact[j] = dot * scale;
                max = std::max(max, exact[j]);
                delta = std::max(delta, double(hd + 2) * u * bound * scale + 0x1p-149);
            }
            double sum = 0.0;
            for (std::size_t j = vis.begin; j < vis.end; ++j) sum += std::exp(exact[j] - max);
            for (std::size_t j = 0; j < n; ++j) {
                const bool visible = j >= vis.begin && j < vis.end;
                if (!visible) {
                    if (p[j] != 0.0f) fail("a masked key has weight", h, i, j, p[j], 0.0);
                    continue;
                }
                if (!(p[j] >= 0.0f && p[j] <= 1.0f)) fail("a weight outside [0, 1]", h, i, j, p[j], 0.0);
                sum_p += p[j];
                const double want = std::exp(exact[j] - max) / sum;
                // e^(2 delta) - 1 from the scores, 1e-5 for the float softmax itself (exp, n-term sum).
                if (std::fabs(p[j] - want) > std::expm1(2.0 * delta) + 1e-5) fail("weight", h, i, j, p[j], want);
            }
            if (vis.end > vis.begin && std::fabs(sum_p - 1.0) > 1e-6 * double(n) + 1e-6)
                fail("weights do not sum to 1", h, i, 0, sum_p, 1.0);
            // Head output: the weights the core used, times V, in double.
            for (std::size_t d = 0; d < hd; ++d) {
                double want = 0.0, magnitude = 0.0;
                for (std::size_t j = vis.begin; j < vis.end; ++j) {
                    want += double(p[j]) * double(v[j * KvD + g * hd + d]);
                    magnitude += std::fabs(double(p[j]) * double(v[j * KvD + g * hd + d]));
                }
                const float got = ws->context[i * D + h * hd + d];
                // Known, not yet fixed (kernels/aggregate.hpp): float weights may sum to a little
                // more than 1 (five keys of 0.2f sum to 1 + 4.5e-8), and then values at -FLT_MAX
                // combine to -inf. Tolerated only where sum_j p_j |v_j|, grown by the n + 2 roundings
                // of the float sum, reaches FLT_MAX.
                if (!std::isfinite(got) && magnitude * (1.0 + double(n + 2) * 2 * u) >= double(FLT_MAX)) continue;
                if (!std::isfinite(got)) fail("a head output is not finite", h, i, d, got, want);
                if (std::fabs(got - want) > double(n + 2) * 2 * u * magnitude + double(n + 1) * 0x1p-149)
                    fail("head output", h, i, d, got, want);
            }
        }
    }
    // The output projection (diagonal): y_d = context_d wo_dd + bo_d, finite when well inside the range.
    const float* bo = w->o_bias();  // null without bias
    for (std::size_t i = 0; i < n; ++i) {
        bool context_finite = true;  // see the known gap above
        for (std::size_t d = 0; d < D; ++d) context_finite = context_finite && std::isfinite(ws->context[i * D + d]);
        if (!context_finite) continue;
        for (std::size_t d = 0; d < D; ++d) {
            const double bias = bo != nullptr ? double(bo[d]) : 0.0;
            const double want = double(ws->context[i * D + d]) * double(w->wo(d, d)) + bias;
            const double magnitude = std::fabs(double(ws->context[i * D + d]) * double(w->wo(d, d))) + std::fabs(bias);
            if (magnitude < double(FLT_MAX) / 4 && !std::isfinite((*y)[i * D + d]))
                fail("the output is not finite", 0, i, d, (*y)[i * D + d], want);
        }
    }
    return 0;
}

using grouped_causal = attention_config<16, 2, 1, 6, with_bias, causal_mask>;    // head_dim 8
using wide_padded = attention_config<32, 1, 1, 4, no_bias, key_padding_mask>;    // head_dim 32

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    FuzzedDataProvider in(data, size);
    return in.ConsumeBool() ? run<grouped_causal>(in) : run<wide_padded>(in);
}
