// SPDX-License-Identifier: Apache-2.0
// Firmware test: the numeric contract (docs/design.md, "Numeric contract") on a Cortex-M core, the
// scalar path with the core's own float unit (FPv4/FPv5 with a fused multiply-add, or soft float
// on the M3) and its own libm. The host's tests/contract/test_numeric_contract.cpp checks the same points on every vector
// arch; this is the firmware's share:
//   softmax_row   a NaN at any index of a 21-key row makes the row NaN; +inf entries share the
//                 weight, -inf gets 0; scale 0.35 near +-FLT_MAX and raw scores of 1e11..1e13
//                 give finite weights summing to 1; random rows of ordinary, huge and tiny
//                 scores against the double softmax
//   attend        one query row at a time and the decode path (keys 0..i), random q, k, v with
//                 huge entries (scores past FLT_MAX) against a double reference; a token holding
//                 NaN, inf or 1e30 leaves every earlier output bit for bit
//   the layer     input row 4 all 1e30: every output finite
//   overflow      scores that overflow from finite q and k (a sign flip, partial sums with a finite
//                 exact score; tests/contract/overflowing_scores.hpp), head_dim 8 and 32: the
//                 one-row core, the decode kernel for one head and for a pair (head_dim 8: the VFP
//                 assembly), the layer, and a model's forward, prefill and decode_step, vs double
// firmware_main() returns the number of failures; startup.cpp turns it into QEMU's exit status.
#include <cfloat>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <limits>

#include <ctattn/kernels/decode/attention.hpp>
#include <ctattn/layers/attention.hpp>
#include <ctattn/model/decoder.hpp>
#include <ctattn/model/language_model.hpp>

#include "../contract/overflowing_scores.hpp"

#include "check.hpp"
#include "print.hpp"
#include "stack.hpp"

namespace {

using arch = ctattn::simd::default_arch;  // scalar_arch on Cortex-M, mve_arch with Helium (Cortex-M55)
using ctattn::key_range;
constexpr double u = 1.0 / 16777216.0;  // 2^-24
constexpr float inf = std::numeric_limits<float>::infinity();

// xorshift32: deterministic, no <random> (code size), no heap.
struct rng32 {
    std::uint32_t state;
    std::uint32_t next() {
        state ^= state << 13;
        state ^= state >> 17;
        state ^= state << 5;
        return state;
    }
    double unit() { return double(next() >> 8) / 16777216.0; }  // [0, 1)
    float uniform(float lo, float hi) { return lo + float(unit()) * (hi - lo); }
    float sign() { return next() & 1 ? 1.0f : -1.0f; }
};

// ---- softmax_row -------------------------------------------------------------------------------

// Largest |p - p_ref| / bound for a row of finite scores against the double softmax; bound as in
// tests/contract/test_numeric_contract.cpp (exponent errors 3 u |a| + 2 u (|t| + |t_max|), then exp, sum and division
// (2n + 16) u), or a NaN ratio when a weight is not finite or the weights do not sum to 1.
double softmax_error_ratio(const float* scores, std::size_t n, float scale, double& worst_err) {
    static float row[64];
    for (std::size_t j = 0; j < n; ++j) row[j] = scores[j];
    ctattn::kernels::softmax_row<arch>(row, n, key_range{0, n}, scale);
    double max = -INFINITY, sum = 0.0, delta = 0.0, got_sum = 0.0;
    for (std::size_t j = 0; j < n; ++j) max = double(scale) * scores[j] > max ? double(scale) * scores[j] : max;
    for (std::size_t j = 0; j < n; ++j) sum += std::exp(double(scale) * scores[j] - max);
    for (std::size_t j = 0; j < n; ++j) {
        const double a = double(scale) * scores[j] - max, t = std::fabs(double(scale) * scores[j]);
        const double d = 3.0 * u * std::fabs(a) + 2.0 * u * (t + std::fabs(max));
        if (a > -200.0 && d > delta) delta = d;
    }
    const double rel = std::expm1(2.0 * delta) + double(2 * n + 16) * u;
    double worst = 0.0;
    for (std::size_t j = 0; j < n; ++j) {
        if (!(row[j] >= 0.0f && row[j] <= 1.0f)) return NAN;
        got_sum += row[j];
        const double want = std::exp(double(scale) * scores[j] - max) / sum;
        const double bound = rel >= 1.0 ? 1.0 : rel * want + 0x1p-125;
        const double ratio = std::fabs(row[j] - want) / bound;
        if (ratio > worst) worst = ratio, worst_err = std::fabs(row[j] - want);
    }
    return std::fabs(got_sum - 1.0) <= double(2 * n + 8) * u ? worst : NAN;
}

void check_softmax(embedded::checker& check) {
    static float row[21];
    bool nan_rows = true;
    for (std::size_t at = 0; at < 21; ++at) {
        for (std::size_t j = 0; j < 21; ++j) row[j] = 0.1f * float(j);
        row[at] = NAN;
        ctattn::kernels::softmax_row<arch>(row, 21, key_range{0, 21});
        for (float p : row) nan_rows = nan_rows && std::isnan(p);
    }
    check.is_true("softmax_row: a NaN at any of 21 indices makes every weight NaN", nan_rows);

    for (std::size_t j = 0; j < 21; ++j) row[j] = float(j) - 30.0f;
    row[3] = inf;
    row[20] = inf;
    row[7] = -inf;
    row[12] = NAN;  // masked below: it must change nothing
    ctattn::kernels::softmax_row<arch>(row, 21, key_range{0, 12}, 0.35f);
    bool shared = true;
    for (std::size_t j = 0; j < 21; ++j) shared = shared && row[j] == (j == 3 ? 1.0f : 0.0f);
    for (std::size_t j = 0; j < 21; ++j) row[j] = j == 5 ? inf : j == 6 ? inf : -inf;
    ctattn::kernels::softmax_row<arch>(row, 21, key_range{0, 21});
    for (std::size_t j = 0; j < 21; ++j) shared = shared && row[j] == (j == 5 || j == 6 ? 0.5f : 0.0f);
    for (float& p : row) p = -inf;
    ctattn::kernels::softmax_row<arch>(row, 21, key_range{0, 21});
    for (float p : row) shared = shared && p == 0.0f;
    check.is_true("softmax_row: +inf entries share the weight, -inf and masked NaN get 0, all -inf gives 0", shared);

    static float scores[21];
    double worst = 0.0, worst_ratio = 0.0;
    auto take = [&](const float* s, std::size_t n, float scale) {
        double err = 0.0;
        const double ratio = softmax_error_ratio(s, n, scale, err);
        if (!(ratio <= worst_ratio)) worst_ratio = ratio, worst = err;
    };
    for (std::size_t j = 0; j < 21; ++j) scores[j] = (j % 2 ? -1.0f : 1.0f) * FLT_MAX * (1.0f - 0.01f * float(j));
    take(scores, 21, 0.35f);
    for (float base : {1e11f, 1e12f, 1e13f})
        for (std::size_t shift = 0; shift < 17; ++shift) {
            for (std::size_t j = 0; j < 21; ++j) scores[j] = base * (1.0f + 0.001f * float((j * 7 + shift) % 17));
            take(scores, 21, 0.35355339f);
        }
    check.bounded("softmax_row: scale 0.35 near +-FLT_MAX and raw scores 1e11..1e13 stay finite", worst, worst_ratio);

    rng32 rng{12345u};
    worst = worst_ratio = 0.0;
    for (std::size_t trial = 0; trial < 300; ++trial) {
        const std::size_t n = 1 + trial % 21;
        for (std::size_t j = 0; j < n; ++j) {
            const std::uint32_t kind = rng.next() % 4;
            scores[j] = kind == 0   ? rng.uniform(-8.0f, 8.0f)
                        : kind == 1 ? rng.sign() * float(std::exp(69.0 + rng.unit() * 19.6))   // 1e30..FLT_MAX
                        : kind == 2 ? rng.sign() * float(std::exp(-103.0 + rng.unit() * 34.0))  // ~1e-45..1e-30
                                    : 1e12f * (1.0f + float(rng.next() % 4) * 0x1p-23f);        // ties near 1e12
        }
        take(scores, n, trial % 2 ? 0.35355339f : 1.0f);
    }
    check.bounded("softmax_row: 300 random rows of ordinary, huge, tiny and 1e12 scores vs double", worst, worst_ratio);
}

// ---- attend: the scalar path's core and the decode path ----------------------------------------

using core_config = ctattn::attention_config<10, 2, 1, 13, ctattn::no_bias, ctattn::causal_mask>;  // head_dim 5, GQA
constexpr std::size_t core_n = core_config::seq_capacity, core_d = core_config::d_model, core_kv = core_config::kv_dim;

struct core_buffers {
    float q[core_n * core_d], k[core_n * core_kv], v[core_n * core_kv];
    float context[core_n * core_d], clean[core_n * core_d], scores[core_n];
};
constinit core_buffers core{};

void run_core(bool decode) {
    if (!decode) {
        ctattn::attend<core_config, arch>(core_n, core.q, 0, core_n, core.k, core.v, {}, core.context, core.scores);
        return;
    }
    for (std::size_t i = 0; i < core_n; ++i)
        ctattn::attend<core_config, arch>(1, core.q + i * core_d, i, i + 1, core.k, core.v, {},
                                          core.context + i * core_d, core.scores);
}

// Largest |o - o_ref| / bound over every (query, head, column), as tests/contract/test_numeric_contract.cpp: weights within
// expm1(2 delta) + (3n + 20) u relative, delta = (head_dim + 3) u sum|q k| scale + 3 u |a| + 2 u |t_max|;
// where that bound is useless, only finiteness and |o| <= max |v| (1 + (2n + 8) u). NaN ratio: a
// non-finite output or one outside the values' hull.
double core_error_ratio(double& worst_err) {
    constexpr std::size_t hd = core_config::head_dim;
    const double scale = core_config::score_scale;
    double worst_ratio = 0.0;
    for (std::size_t i = 0; i < core_n; ++i)
        for (std::size_t h = 0; h < core_config::heads; ++h) {
            const std::size_t g = h / core_config::group_size, n = i + 1;
            double t[core_n], mag[core_n], p[core_n], max = -INFINITY, sum = 0.0, delta = 0.0;
            for (std::size_t j = 0; j < n; ++j) {
                double dot = 0.0, abs_dot = 0.0;
                for (std::size_t d = 0; d < hd; ++d) {
                    const double prod = double(core.q[i * core_d + h * hd + d]) * double(core.k[j * core_kv + g * hd + d]);
                    dot += prod;
                    abs_dot += std::fabs(prod);
                }
                t[j] = scale * dot;
                mag[j] = scale * abs_dot;
                max = t[j] > max ? t[j] : max;
            }
            for (std::size_t j = 0; j < n; ++j) sum += (p[j] = std::exp(t[j] - max));
            for (std::size_t j = 0; j < n; ++j) {
                p[j] /= sum;
                const double d = double(hd + 3) * u * mag[j] + 3.0 * u * std::fabs(t[j] - max) + 2.0 * u * std::fabs(max);
                if (t[j] - max > -200.0 && d > delta) delta = d;
            }
            const double w = std::expm1(2.0 * delta) + double(3 * n + 20) * u;
            for (std::size_t d = 0; d < hd; ++d) {
                double o = 0.0, spread = 0.0, hull = 0.0;
                for (std::size_t j = 0; j < n; ++j) {
                    const double value = core.v[j * core_kv + g * hd + d];
                    o += p[j] * value;
                    spread += p[j] * std::fabs(value);
                    hull = std::fabs(value) > hull ? std::fabs(value) : hull;
                }
                const double got = core.context[i * core_d + h * hd + d];
                if (!std::isfinite(got) || std::fabs(got) > hull * (1.0 + double(2 * n + 8) * u)) return NAN;
                if (w >= 1.0) continue;
                const double err = std::fabs(got - o), ratio = err / (w * spread + 0x1p-125);
                if (ratio > worst_ratio) worst_ratio = ratio, worst_err = err;
            }
        }
    return worst_ratio;
}

void check_cores(embedded::checker& check) {
    for (int path = 0; path < 2; ++path) {
        rng32 rng{777u + unsigned(path)};
        double worst = 0.0, worst_ratio = 0.0;
        for (int style = 0; style < 3; ++style)
            for (int trial = 0; trial < 4; ++trial) {
                auto draw = [&](bool value) {
                    if (style == 0) return rng.uniform(-1.0f, 1.0f);
                    if (style == 1 && !value) return rng.sign() * rng.uniform(2e5f, 8e5f);  // raw scores ~1e12
                    const std::uint32_t r = rng.next() % 8;
                    return r == 0 ? rng.sign() * float(std::exp(44.0 + rng.unit() * 39.0))  // 1e19..1e36
                                  : rng.uniform(-2.0f, 2.0f);
                };
                for (float& e : core.q) e = draw(false);
                for (float& e : core.k) e = draw(false);
                for (float& e : core.v) e = draw(true);
                run_core(path == 1);
                double err = 0.0;
                const double ratio = core_error_ratio(err);
                if (!(ratio <= worst_ratio)) worst_ratio = ratio, worst = err;
            }
        check.bounded(path == 0 ? "attend, one row at a time: ordinary, 1e12-score and huge q, k, v vs double"
                                : "attend as the KV cache decodes (keys 0..i): the same inputs vs double",
                      worst, worst_ratio);
    }

    // A token holding NaN, +-inf, 1e30 or -FLT_MAX in q, k and v: earlier outputs bit for bit, later
    // ones NaN for NaN and finite for the finite values.
    const float poison[] = {NAN, inf, -inf, 1e30f, -FLT_MAX};
    for (int path = 0; path < 2; ++path) {
        bool earlier_unchanged = true, later_as_promised = true;
        rng32 rng{99u};
        static float q0[core_n * core_d], k0[core_n * core_kv], v0[core_n * core_kv];
        for (float& e : q0) e = rng.uniform(-1.0f, 1.0f);
        for (float& e : k0) e = rng.uniform(-1.0f, 1.0f);
        for (float& e : v0) e = rng.uniform(-1.0f, 1.0f);
        std::memcpy(core.q, q0, sizeof q0);
        std::memcpy(core.k, k0, sizeof k0);
        std::memcpy(core.v, v0, sizeof v0);
        run_core(path == 1);
        std::memcpy(core.clean, core.context, sizeof core.clean);
        for (float value : poison)
            for (std::size_t tok : {std::size_t(0), std::size_t(1), std::size_t(6), core_n - 1}) {
                std::memcpy(core.q, q0, sizeof q0);
                std::memcpy(core.k, k0, sizeof k0);
                std::memcpy(core.v, v0, sizeof v0);
                for (std::size_t d = 0; d < core_d; ++d) core.q[tok * core_d + d] = value;
                for (std::size_t d = 0; d < core_kv; ++d) core.k[tok * core_kv + d] = core.v[tok * core_kv + d] = value;
                run_core(path == 1);
                earlier_unchanged = earlier_unchanged && std::memcmp(core.context, core.clean, tok * core_d * sizeof(float)) == 0;
                for (std::size_t c = tok * core_d; c < core_n * core_d; ++c)
                    later_as_promised = later_as_promised && (std::isnan(value) ? std::isnan(core.context[c])
                                                              : std::isfinite(value) ? std::isfinite(core.context[c])
                                                                                     : true);
            }
        check.is_true(path == 0 ? "attend: NaN/inf/1e30 in token t leaves outputs before t bit for bit"
                                : "decode path: NaN/inf/1e30 in token t leaves outputs before t bit for bit",
                      earlier_unchanged);
        check.is_true(path == 0 ? "attend: outputs from t on are NaN for NaN, finite for 1e30 and -FLT_MAX"
                                : "decode path: outputs from t on are NaN for NaN, finite for 1e30 and -FLT_MAX",
                      later_as_promised);
    }
}

// ---- the layer ---------------------------------------------------------------------------------

using layer_config = ctattn::attention_config<16, 2, 2, 9, ctattn::no_bias, ctattn::causal_mask>;
using layer = ctattn::multi_head_attention<layer_config, arch>;
constinit layer::weights_type layer_weights{};
constinit layer::workspace_type layer_workspace{};
constinit float layer_x[layer_config::seq_capacity * layer_config::d_model]{};
constinit float layer_y[layer_config::seq_capacity * layer_config::d_model]{};

void check_layer(embedded::checker& check) {
    rng32 rng{4u};
    for (auto* m : {&layer_weights.wq, &layer_weights.wk, &layer_weights.wv, &layer_weights.wo})
        for (std::size_t i = 0; i < m->size; ++i) (*m)[i] = rng.uniform(-0.25f, 0.25f);
    for (float& e : layer_x) e = rng.uniform(-1.0f, 1.0f);
    for (std::size_t d = 0; d < layer_config::d_model; ++d) layer_x[4 * layer_config::d_model + d] = 1e30f;
    const ctattn::status s =
        layer::forward(layer_weights, layer_x, layer_config::seq_capacity, layer_y, layer_workspace);
    bool finite = s == ctattn::status::ok;
    for (float e : layer_y) finite = finite && std::isfinite(e);
    check.is_true("a layer whose input row 4 holds 1e30 returns finite outputs in every row", finite);
}

// ---- scores that overflow from finite q and k ---------------------------------------------------

// The worst error ratio over a case (<= 1 passes; NaN: an output not finite) of each path.
struct overflow_ratios {
    double core = 0.0, decode_one = 0.0, decode_pair = 0.0, layer = 0.0, forward = 0.0, prefill = 0.0, decode_step = 0.0;
};
void keep_worst(double& worst, double ratio) {
    if (!(ratio <= worst)) worst = ratio;  // a NaN ratio sticks
}

template <std::size_t Hd>
void run_overflow_case(ctattn_test::overflow::awkward c, overflow_ratios& worst) {
    namespace ov = ctattn_test::overflow;
    using config = ov::one_head<Hd>;
    using model_config = ov::paired_heads_model<Hd>;
    using model = ctattn::language_model<model_config, arch>;
    using mha = ctattn::multi_head_attention<config, arch>;
    constexpr std::size_t n = ov::tokens, V = model_config::vocab;
    static float x[n * Hd], k[n * Hd], out[n * V], scores[2 * config::seq_capacity];
    static double want[n * Hd], want_logits[n * V];
    ov::token_rows<Hd>(c, x);
    ov::keys_of<Hd>(x, k);
    ov::context_in_double<Hd>(x, want);
    ov::logits_in_double<Hd>(x, want_logits);

    ctattn::attend<config, arch>(n, x, 0, n, k, x, {}, out, scores);
    keep_worst(worst.core, ov::error_ratio(out, Hd, want, n, Hd));

    // Decode kernels: hand the row back (the one-row core above takes it) or write it right.
    for (std::size_t i = 0; i < n; ++i) {
        static float q2[2 * Hd];
        static double want_pair[2 * Hd];
        for (std::size_t d = 0; d < 2 * Hd; ++d) q2[d] = x[i * Hd + d % Hd], want_pair[d] = want[i * Hd + d % Hd];
        const key_range visible{0, i + 1};
        if (ctattn::kernels::decode_attention<1, 1, Hd, Hd>(q2, k, x, visible, config::score_scale, scores, out))
            keep_worst(worst.decode_one, ov::error_ratio(out, Hd, want + i * Hd, 1, Hd));
        if (ctattn::kernels::decode_attention<2, 1, Hd, Hd>(q2, k, x, visible, config::score_scale, scores, out))
            keep_worst(worst.decode_pair, ov::error_ratio(out, Hd, want_pair, 2, Hd));
    }

    static constinit typename mha::weights_type layer_w{};
    static constinit typename mha::workspace_type layer_ws{};
    ov::set_one_head_projections<Hd>(layer_w);
    keep_worst(worst.layer, mha::forward(layer_w, x, n, out, layer_ws) == ctattn::status::ok
                                ? ov::error_ratio(out, Hd, want, n, Hd) : NAN);

    static constinit ctattn::model_weights<model_config> model_w{};
    static constinit typename model::workspace_type model_ws{};
    static constinit ctattn::decoder<model_config, ctattn::owned_weights, arch> dec{};
    ov::fill_model<Hd>(model_w, x);
    const ctattn::token_id ids[n] = {0, 1, 2};
    keep_worst(worst.forward, model::forward(model_w, ids, n, out, model_ws) == ctattn::status::ok
                                  ? ov::error_ratio(out, V, want_logits, n, V) : NAN);
    dec.attach(model_w);
    bool ok = true;
    for (std::size_t p = 0; p < n; ++p) ok = ok && dec.decode_step(ids[p], out + p * V) == ctattn::status::ok;
    keep_worst(worst.decode_step, ok ? ov::error_ratio(out, V, want_logits, n, V) : NAN);
    for (std::size_t rows = 2; rows <= n; ++rows) {
        dec.reset();
        keep_worst(worst.prefill, dec.prefill(ids, rows, out) == ctattn::status::ok
                                      ? ov::error_ratio(out, V, want_logits + (rows - 1) * V, 1, V) : NAN);
    }
}

void check_overflowing_scores(embedded::checker& check) {
    overflow_ratios worst;
    for (auto c : ctattn_test::overflow::cases) {
        run_overflow_case<8>(c, worst);
        run_overflow_case<32>(c, worst);
    }
    // Ratios of 64 u of each row's largest |expected| (overflowing_scores.hpp), printed for both
    // figures (this check tracks only the ratio): <= 1 passes.
    check.bounded("overflowing q . k (sign flip, partial sums), head_dim 8 and 32: one-row core vs double", worst.core,
                  worst.core);
    check.bounded("overflowing q . k: decode kernel, one head (its C loop) vs double", worst.decode_one, worst.decode_one);
    check.bounded("overflowing q . k: decode kernel, a pair of heads (the VFP assembly at head_dim 8 on FPU cores) vs double",
                  worst.decode_pair, worst.decode_pair);
    check.bounded("overflowing q . k: multi_head_attention::forward vs double", worst.layer, worst.layer);
    check.bounded("overflowing q . k: language_model::forward vs double", worst.forward, worst.forward);
    check.bounded("overflowing q . k: prefill vs double", worst.prefill, worst.prefill);
    check.bounded("overflowing q . k: decode_step vs double", worst.decode_step, worst.decode_step);
}

// ---- the arch's own decode kernel (Helium: simd/mve.hpp) against double -------------------------

// One and two query heads of head_dim 8 on one KV head, ordinary inputs, every run length from 1 to
// 41 keys (whole chunks of 4 and each partial one) starting at keys 0 and 3, against the softmax
// and P V in double. Tolerance: scores of 8 products (|q| |k| <= 1, so |s| <= 8 log2 e / sqrt 8),
// weights within ~(hd + 8) u relative of the exact ones, sums of <= 41 products: 256 u of the
// largest |value| (1) covers the float roundings with margin; a wrong key weight is off by ~1/n.
void check_arch_decode_kernel(embedded::checker& check) {
    constexpr std::size_t hd = 8, keys = 44;
    if constexpr (ctattn::kernels::vector_decode_fits<hd, arch>) {
        static float q[2 * hd], k[keys * hd], v[keys * hd], scratch[2 * keys], out[2 * hd];
        rng32 rng{2024u};
        for (float& e : q) e = rng.uniform(-1.0f, 1.0f);
        for (float& e : k) e = rng.uniform(-1.0f, 1.0f);
        for (float& e : v) e = rng.uniform(-1.0f, 1.0f);
        const float scale = 0.35355339f;  // 1 / sqrt(8)
        double worst = 0.0;
        bool all_regular = true;
        for (std::size_t begin : {std::size_t(0), std::size_t(3)})
            for (std::size_t end = begin + 1; end <= begin + 41; ++end) {
                const key_range visible{begin, end};
                for (int heads = 1; heads <= 2; ++heads) {
                    const bool ok = heads == 1
                        ? ctattn::kernels::vector_decode_attention<1, 1, hd, hd, hd, arch>(q, k, v, visible, scale, scratch, out)
                        : ctattn::kernels::vector_decode_attention<2, 1, hd, hd, hd, arch>(q, k, v, visible, scale, scratch, out);
                    all_regular = all_regular && ok;
                    for (int h = 0; h < heads; ++h) {
                        double s[keys], max = -1e300, sum = 0.0;
                        for (std::size_t j = begin; j < end; ++j) {
                            double dot = 0.0;
                            for (std::size_t d = 0; d < hd; ++d) dot += double(q[h * hd + d]) * double(k[j * hd + d]);
                            s[j] = dot * double(scale);
                            max = s[j] > max ? s[j] : max;
                        }
                        for (std::size_t j = begin; j < end; ++j) sum += (s[j] = std::exp(s[j] - max));
                        for (std::size_t d = 0; d < hd; ++d) {
                            double o = 0.0;
                            for (std::size_t j = begin; j < end; ++j) o += s[j] / sum * double(v[j * hd + d]);
                            const double err = std::fabs(double(out[h * hd + d]) - o);
                            if (!(err <= worst)) worst = err;  // NaN sticks
                        }
                    }
                }
            }
        check.is_true("the arch's decode kernel takes every ordinary row (1 and 2 heads, 1 to 41 keys)", all_regular);
        check.bounded("the arch's decode kernel (1 and 2 heads of 8, 1 to 41 keys) vs double, bound 256 u", worst,
                      worst / (256.0 * u));
    }
}

int run() {
    embedded::checker check;
    embedded::print("numeric contract on arch ", ctattn::simd::arch_name<arch>(), "\n");
    check_softmax(check);
    check_cores(check);
    check_layer(check);
    check_overflowing_scores(check);
    check_arch_decode_kernel(check);
    return embedded::finish(check, "numeric_contract", 0, sizeof(core_buffers) + sizeof(layer_workspace), 0);
}

}  // namespace

int firmware_main() { return run(); }
