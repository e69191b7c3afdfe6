// SPDX-License-Identifier: Apache-2.0
// Tracing (layers/trace.hpp): a traced pass computes exactly what the untraced one does (outputs compared
// bit for bit), and the observer sees the pass's own numbers: Q, K, V and the head outputs equal
// the workspace's, the weights equal the layer's readout and a double reference, the residual
// stream links up from block to block, and decode steps show the same weights as the full pass.
//
// Tolerances: traced weights are recomputed from the pass's float Q and K with double sums, the
// cores sum in float: both are within ~20 u (u = 6e-8) of the exact softmax of the float Q, K for
// these sizes (scores <= ~3 in magnitude, head_dim <= 8), so 2e-6 between them. Decode steps and
// the full pass differ by float summation order in the projections, up to ~1e-6 relative in Q, K:
// 1e-5 on weights.
#include <catch2/catch.hpp>

#include <ctattn/ctattn.hpp>
#include <ctattn/model/decoder.hpp>
#include <ctattn/layers/trace.hpp>

#include <cmath>
#include <cstring>
#include <memory>
#include <vector>

#include "../support/model_support.hpp"

namespace {

using namespace ctattn;

// Keeps copies of everything shown (hooks read live buffers).
struct recording_observer {
    struct attention_record {
        std::size_t layer, rows, pos0, n_keys;
        std::vector<float> q, k, v, context, weights, raw;  // weights, raw: (heads, rows, n_keys)
    };
    std::vector<attention_record> attention;
    std::vector<residual_trace> residual_points;
    std::vector<std::vector<float>> residual_rows;

    template <class Config>
    void on_attention(const attention_trace<Config>& t) {
        constexpr std::size_t H = Config::heads, D = Config::d_model, hd = Config::head_dim;
        attention_record r{t.layer, t.rows, t.pos0, t.n_keys, {}, {}, {}, {}, {}, {}};
        r.q.assign(t.q, t.q + t.rows * D);
        r.context.assign(t.context, t.context + t.rows * D);
        for (std::size_t h = 0; h < H; ++h)
            for (std::size_t j = 0; j < t.n_keys; ++j) {
                r.k.insert(r.k.end(), t.key(h, j), t.key(h, j) + hd);
                r.v.insert(r.v.end(), t.value(h, j), t.value(h, j) + hd);
            }
        r.weights.resize(H * t.rows * t.n_keys);
        r.raw.resize(H * t.rows * t.n_keys);
        for (std::size_t h = 0; h < H; ++h)
            for (std::size_t i = 0; i < t.rows; ++i) {
                t.weights(h, i, r.weights.data() + (h * t.rows + i) * t.n_keys);
                t.raw_scores(h, i, r.raw.data() + (h * t.rows + i) * t.n_keys);
            }
        attention.push_back(std::move(r));
    }
    void on_residual(const residual_trace& r) {
        residual_points.push_back(r);
        residual_rows.emplace_back(r.x, r.x + r.rows * r.d_model);
    }
};

// Only one hook: the other is looked for with `requires` and skipped.
struct residual_only_observer {
    std::size_t calls = 0;
    void on_residual(const residual_trace&) { ++calls; }
};

template <std::size_t R, std::size_t C>
void fill(matrix<R, C>& m, std::uint32_t& state, float scale) {
    for (std::size_t i = 0; i < R * C; ++i) {
        state = state * 1664525u + 1013904223u;
        m[i] = scale * (float(state >> 8) / float(1u << 24) - 0.5f);
    }
}

template <class Layer>
void check_traced_layer(std::size_t n, const typename Layer::mask_params& mask) {
    using config = typename Layer::config;
    constexpr std::size_t S = config::seq_capacity, D = config::d_model, H = config::heads, hd = config::head_dim;
    auto w = std::make_unique<typename Layer::weights_type>();
    auto ws = std::make_unique<typename Layer::workspace_type>();
    auto x = std::make_unique<matrix<S, D>>();
    auto plain = std::make_unique<matrix<S, D>>();
    auto traced_y = std::make_unique<matrix<S, D>>();
    auto readout = std::make_unique<typename Layer::readout_type>();
    std::uint32_t state = 7u + std::uint32_t(n);
    fill(w->wq, state, 1.2f);
    fill(w->wk, state, 1.2f);
    fill(w->wv, state, 1.2f);
    fill(w->wo, state, 1.2f);
    if constexpr (config::bias) {
        fill(w->bq, state, 0.5f);
        fill(w->bk, state, 0.5f);
        fill(w->bv, state, 0.5f);
        fill(w->bo, state, 0.5f);
    }
    fill(*x, state, 2.0f);

    REQUIRE(Layer::forward(*w, *x, n, *plain, *ws, mask, readout.get()) == status::ok);
    recording_observer observer;
    REQUIRE(Layer::forward(*w, x->data(), n, traced_y->data(), *ws, mask, nullptr, &observer) == status::ok);
    CHECK(std::memcmp(plain->data(), traced_y->data(), n * D * sizeof(float)) == 0);

    REQUIRE(observer.attention.size() == 1);
    const auto& r = observer.attention[0];
    CHECK(r.layer == 0);
    CHECK(r.rows == n);
    CHECK(r.pos0 == 0);
    CHECK(r.n_keys == n);
    CHECK(std::memcmp(r.q.data(), ws->q.data(), n * D * sizeof(float)) == 0);
    CHECK(std::memcmp(r.context.data(), ws->context.data(), n * D * sizeof(float)) == 0);
    for (std::size_t h = 0; h < H; ++h)
        for (std::size_t i = 0; i < n; ++i) {
            // Raw scores: q_i . k_j / sqrt(head_dim) in double, from the recorded Q and K.
            for (std::size_t j = 0; j < n; ++j) {
                double dot = 0.0;
                for (std::size_t d = 0; d < hd; ++d)
                    dot += double(r.q[i * D + h * hd + d]) * double(r.k[(h * n + j) * hd + d]);
                CHECK(std::fabs(r.raw[(h * n + i) * n + j] - dot / std::sqrt(double(hd))) < 1e-6);
                CHECK(std::fabs(r.weights[(h * n + i) * n + j] - (*readout)(h * S + i, j)) < 2e-6);
                if (!is_visible<typename config::mask>(mask, i, j, n)) CHECK(r.weights[(h * n + i) * n + j] == 0.0f);
            }
            // Head output O_h = P_h V_h from the recorded weights and values.
            for (std::size_t d = 0; d < hd; ++d) {
                double o = 0.0;
                for (std::size_t j = 0; j < n; ++j) o += double(r.weights[(h * n + i) * n + j]) * r.v[(h * n + j) * hd + d];
                CHECK(std::fabs(r.context[i * D + h * hd + d] - o) < 1e-5);
            }
        }
}

// Two different layers, like tiny_lm's: a sliding window below a causal layer, GQA, RoPE.
using local_block = block_config<attention_config<16, 4, 2, 13, no_bias, sliding_window_mask<3>>,
                                 ffn_config<16, swiglu, 24>, rms_norm<eps_1e_minus<5>>, pre_norm>;
using global_block = block_config<attention_config<16, 2, 1, 13, with_bias, causal_mask>, ffn_config<16, dense_ffn<gelu_tanh>, 32>,
                                  layer_norm<eps_1e_minus<5>>, post_norm>;
// Every score overflows float: x's entries are +-1e20 .. 3e20 and the projections are identities,
// so q = k = v = x and each product q_d k_d is at least 1e40 > FLT_MAX: the cores' float softmax
// hands every row to the double path, whose weights are finite.
template <class Layer>
void check_trace_of_overflowing_scores(std::size_t n) {
    using config = typename Layer::config;
    constexpr std::size_t S = config::seq_capacity, D = config::d_model, H = config::heads;
    static_assert(config::kv_dim == D, "identity projections need kv_dim == d_model");
    auto w = std::make_unique<typename Layer::weights_type>();
    auto ws = std::make_unique<typename Layer::workspace_type>();
    auto x = std::make_unique<matrix<S, D>>();
    auto y = std::make_unique<matrix<S, D>>();
    auto readout = std::make_unique<typename Layer::readout_type>();
    for (std::size_t i = 0; i < D; ++i) {
        w->wq(i, i) = 1.0f;
        w->wk(i, i) = 1.0f;
        w->wv(i, i) = 1.0f;
        w->wo(i, i) = 1.0f;
    }
    std::uint32_t state = 99u + std::uint32_t(n);
    for (std::size_t i = 0; i < S * D; ++i) {
        state = state * 1664525u + 1013904223u;
        (*x)[i] = float(1 + (state >> 30)) * ((state >> 8) & 1 ? 1e20f : -1e20f);
    }
    REQUIRE(Layer::forward(*w, *x, n, *y, *ws, {}, readout.get()) == status::ok);
    recording_observer recomputed, handed_over;
    REQUIRE(Layer::forward(*w, x->data(), n, y->data(), *ws, {}, nullptr, &recomputed) == status::ok);
    REQUIRE(Layer::forward(*w, x->data(), n, y->data(), *ws, {}, readout.get(), &handed_over) == status::ok);
    for (std::size_t h = 0; h < H; ++h)
        for (std::size_t i = 0; i < n; ++i) {
            double sum = 0.0;
            for (std::size_t j = 0; j < n; ++j) {
                const float core = (*readout)(h * S + i, j);
                INFO("n " << n << " head " << h << " row " << i << " key " << j);
                REQUIRE(std::isfinite(core));
                sum += core;
                // Bit for bit: the recomputation is the cores' own double path; with a readout the
                // trace shows the core's numbers themselves.
                CHECK(std::memcmp(&recomputed.attention[0].weights[(h * n + i) * n + j], &core, sizeof core) == 0);
                CHECK(std::memcmp(&handed_over.attention[0].weights[(h * n + i) * n + j], &core, sizeof core) == 0);
            }
            CHECK(std::fabs(sum - 1.0) <= 1e-6 * double(n));  // n float roundings of weights <= 1
        }
}

using two_layer_config = model_config<11, rotary_positions<10000>, rms_norm<eps_1e_minus<5>>, untied_head<>,
                                      local_block, global_block>;

}  // namespace

TEST_CASE("a traced attention layer gives the untraced output bit for bit and shows its Q, K, V, weights and outputs") {
    check_traced_layer<multi_head_attention<attention_config<12, 4, 2, 16, with_bias, causal_mask>>>(13, {});
    check_traced_layer<multi_head_attention<attention_config<12, 4, 2, 16, with_bias, causal_mask>>>(1, {});
    check_traced_layer<multi_head_attention<attention_config<10, 2, 2, 8, no_bias, sliding_window_mask<2>>>>(5, {});
    check_traced_layer<multi_head_attention<attention_config<9, 3, 1, 5, no_bias, no_mask>>>(3, {});
    check_traced_layer<multi_head_attention<attention_config<8, 2, 1, 8, no_bias, key_padding_mask>>>(7, {4});
}

TEST_CASE("traced weights are the core's own, bit for bit, on rows whose scores overflow float") {
    using layer = multi_head_attention<attention_config<8, 2, 2, 8, no_bias, causal_mask>>;
    check_trace_of_overflowing_scores<layer>(7);  // the blocked core on vector arches
    check_trace_of_overflowing_scores<layer>(1);  // the one-row core
    check_trace_of_overflowing_scores<multi_head_attention<attention_config<8, 2, 2, 8, no_bias, causal_mask>,
                                                           simd::scalar_arch>>(5);
}

TEST_CASE("a traced model forward and traced decode steps give the untraced logits bit for bit") {
    using config = two_layer_config;
    using model = language_model<config>;
    constexpr std::size_t S = config::seq_capacity, V = config::vocab, D = config::d_model;
    const auto w = ctattn_test::random_model<config>(11);
    const std::vector<token_id> tokens = ctattn_test::random_tokens(S, V, 12);
    auto ws = std::make_unique<model::workspace_type>();
    std::vector<float> plain(S * V), traced_logits(S * V);
    REQUIRE(model::forward(*w, tokens.data(), S, plain.data(), *ws) == status::ok);
    recording_observer forward_obs;
    REQUIRE(model::forward(*w, tokens.data(), S, traced_logits.data(), *ws, &forward_obs) == status::ok);
    CHECK(std::memcmp(plain.data(), traced_logits.data(), plain.size() * sizeof(float)) == 0);

    // Residual stream: per layer block_input, after_attention, block_output, in order; layer 1's
    // input is layer 0's output; layer 0's input is the embedding rows (RoPE adds nothing to x).
    REQUIRE(forward_obs.residual_points.size() == 6);
    for (std::size_t i = 0; i < 6; ++i) {
        CHECK(forward_obs.residual_points[i].layer == i / 3);
        CHECK(forward_obs.residual_points[i].point == residual_point(i % 3));
        CHECK(forward_obs.residual_points[i].rows == S);
    }
    CHECK(forward_obs.residual_rows[2] == forward_obs.residual_rows[3]);
    for (std::size_t p = 0; p < S; ++p)
        for (std::size_t c = 0; c < D; ++c) CHECK(forward_obs.residual_rows[0][p * D + c] == w->embedding(tokens[p], c));
    REQUIRE(forward_obs.attention.size() == 2);

    // Decode steps, traced and untraced, from two decoders over the same weights.
    auto plain_dec = std::make_unique<decoder<config>>(*w);
    auto traced_dec = std::make_unique<decoder<config>>(*w);
    recording_observer decode_obs;
    std::vector<float> a(V), b(V);
    for (std::size_t p = 0; p < S; ++p) {
        REQUIRE(plain_dec->decode_step(tokens[p], a.data()) == status::ok);
        REQUIRE(traced_dec->decode_step(tokens[p], b.data(), &decode_obs) == status::ok);
        CHECK(std::memcmp(a.data(), b.data(), V * sizeof(float)) == 0);
    }
    REQUIRE(decode_obs.attention.size() == 2 * S);
    REQUIRE(decode_obs.residual_points.size() == 6 * S);
    // Step p, layer l shows one query at position p over p + 1 keys, with the full pass's row p.
    for (std::size_t p = 0; p < S; ++p)
        for (std::size_t l = 0; l < 2; ++l) {
            const auto& step = decode_obs.attention[2 * p + l];
            const auto& full = forward_obs.attention[l];
            CHECK(step.layer == l);
            CHECK(step.rows == 1);
            CHECK(step.pos0 == p);
            CHECK(step.n_keys == p + 1);
            const std::size_t heads = l == 0 ? 4 : 2;
            for (std::size_t h = 0; h < heads; ++h)
                for (std::size_t j = 0; j <= p; ++j)
                    CHECK(std::fabs(step.weights[h * (p + 1) + j] - full.weights[(h * S + p) * S + j]) < 1e-5);
        }

    // An observer with only on_residual compiles and is called three times per layer.
    residual_only_observer counter;
    auto dec = std::make_unique<decoder<config, owned_weights, simd::default_arch, 1>>(*w);  // one-row prefill chunks
    REQUIRE(dec->prefill(tokens.data(), 5, a.data(), &counter) == status::ok);
    CHECK(counter.calls == 5 * 2 * 3);  // one-row prefill chunks: 5 steps x 2 layers x 3 points
}
