// SPDX-License-Identifier: Apache-2.0
// examples/walkthrough.cpp's numbers, checked: the file is included as it is (without its main),
// each explainer is computed by the same functions the program prints from, and the results are
// compared with exact decimal arithmetic, a double-precision reference written here, and the
// posts' printed values where those follow from the inputs.
//
// Tolerances. Inputs are 1- or 2-decimal numbers rounded to float (relative error u = 6e-8).
// Projections sum at most 4 products of magnitude <= 1 (cat, pizza): error <= 10 u * 1.2 < 1e-6.
// Scores sum 2-4 products of those: < 3e-6. Softmax passes a score error e on as <= 2e plus ~10 u;
// outputs mix weights <= 1 with values <= 1: 3e-6 covers every cat, pizza and kv value below
// (the kv logits sum 4 products of values <= 2.5: 2e-5 there). The creature's scores are exact
// small integers times powers of two (0, 32, 64), so its weights carry only softmax's rounding:
// 1e-6. Where a post prints a rounded value, the check is that ours rounds to it.
#include <catch2/catch.hpp>

#define CTATTN_WALKTHROUGH_NO_MAIN
#include "walkthrough.cpp"

#include <cmath>
#include <vector>

namespace {

using vec = std::vector<double>;
namespace wt = walkthrough;

// Row-vector times matrix in double: x (n x din) @ w (din x dout).
vec matmul(const vec& x, const vec& w, std::size_t n, std::size_t din, std::size_t dout) {
    vec y(n * dout, 0.0);
    for (std::size_t r = 0; r < n; ++r)
        for (std::size_t c = 0; c < dout; ++c)
            for (std::size_t k = 0; k < din; ++k) y[r * dout + c] += x[r * din + k] * w[k * dout + c];
    return y;
}

// One attention head in double: P = softmax(mask(scale Q K^T)), O = P V.
struct head_reference {
    vec weights;  // n x n, 0 where masked
    vec outputs;  // n x dh
};
head_reference attend(const vec& q, const vec& k, const vec& v, std::size_t n, std::size_t dh, double scale,
                      bool causal) {
    head_reference r{vec(n * n, 0.0), vec(n * dh, 0.0)};
    for (std::size_t i = 0; i < n; ++i) {
        const std::size_t visible = causal ? i + 1 : n;
        double max = -1e300, sum = 0.0;
        vec s(visible);
        for (std::size_t j = 0; j < visible; ++j) {
            for (std::size_t d = 0; d < dh; ++d) s[j] += q[i * dh + d] * k[j * dh + d];
            s[j] *= scale;
            max = s[j] > max ? s[j] : max;
        }
        for (std::size_t j = 0; j < visible; ++j) sum += (s[j] = std::exp(s[j] - max));
        for (std::size_t j = 0; j < visible; ++j) {
            r.weights[i * n + j] = s[j] / sum;
            for (std::size_t d = 0; d < dh; ++d) r.outputs[i * dh + d] += r.weights[i * n + j] * v[j * dh + d];
        }
    }
    return r;
}

template <std::size_t R, std::size_t C>
vec to_vec(const float (&m)[R][C]) {
    vec out;
    for (std::size_t r = 0; r < R; ++r)
        for (std::size_t c = 0; c < C; ++c) out.push_back(double(m[r][c]));
    return out;
}

wt::cat::result cat_result;
wt::pizza::result pizza_result;
wt::creature::result creature_result;
wt::kv::result kv_result;

}  // namespace

TEST_CASE("the cat walkthrough matches exact arithmetic and shows where the post's numbers differ") {
    using namespace wt::cat;
    compute(cat_result);
    const result& r = cat_result;
    const vec x = to_vec(embeddings), wq = to_vec(w_q), wk = to_vec(w_k), wv = to_vec(w_v);
    const vec q = matmul(x, wq, n_tokens, d_embed, d_head), k = matmul(x, wk, n_tokens, d_embed, d_head),
              v = matmul(x, wv, n_tokens, d_embed, d_head);
    for (std::size_t i = 0; i < n_tokens * d_head; ++i) {
        CHECK(std::fabs(r.q[i] - q[i]) < 1e-6);
        CHECK(std::fabs(r.k[i] - k[i]) < 1e-6);
        CHECK(std::fabs(r.v[i] - v[i]) < 1e-6);
    }
    // The post's way: unscaled, unmasked.
    const head_reference post = attend(q, k, v, n_tokens, d_head, 1.0, false);
    for (std::size_t i = 0; i < n_tokens * n_tokens; ++i) CHECK(std::fabs(r.post_weights[i] - post.weights[i]) < 3e-6);
    for (std::size_t i = 0; i < n_tokens * d_head; ++i) CHECK(std::fabs(r.post_outputs[i] - post.outputs[i]) < 3e-6);
    // Hand arithmetic for "mat" (docs/design.md): scores [0.6299, 0.5855, 0.7386, 0.8023, 0.6299, 0.6840].
    const double mat_scores[n_tokens] = {0.6299, 0.5855, 0.7386, 0.8023, 0.6299, 0.6840};
    for (std::size_t j = 0; j < n_tokens; ++j) CHECK(std::fabs(r.raw_scores(5, j) - mat_scores[j]) < 3e-6);
    // Where the post is wrong it must be flagged: its Q_cat's last two entries and its output for "mat".
    CHECK(std::fabs(r.q(1, 1) - printed_q[1][1]) > 0.1);
    CHECK(std::fabs(r.post_outputs(5, 2) - printed_output_mat[2]) > 0.05);
    // ...and where it is right it must agree: K_cat[0] = 0.46.
    CHECK(std::fabs(r.k(1, 0) - printed_k[1][0]) < 1e-6);

    // Four causal heads: head h uses the post's matrices with input rows rotated by h.
    REQUIRE(r.four_head_status == ctattn::status::ok);
    constexpr std::size_t H = four_head_config::heads, S = four_head_config::seq_capacity;
    for (std::size_t h = 0; h < H; ++h) {
        vec wq_h(d_embed * d_head), wk_h(d_embed * d_head), wv_h(d_embed * d_head);
        for (std::size_t row = 0; row < d_embed; ++row)
            for (std::size_t c = 0; c < d_head; ++c) {
                const std::size_t src = (row + h) % d_embed;
                wq_h[row * d_head + c] = w_q[src][c];
                wk_h[row * d_head + c] = w_k[src][c];
                wv_h[row * d_head + c] = w_v[src][c];
            }
        const head_reference causal =
            attend(matmul(x, wq_h, n_tokens, d_embed, d_head), matmul(x, wk_h, n_tokens, d_embed, d_head),
                   matmul(x, wv_h, n_tokens, d_embed, d_head), n_tokens, d_head, 1.0 / std::sqrt(3.0), true);
        for (std::size_t i = 0; i < n_tokens; ++i) {
            for (std::size_t j = 0; j < n_tokens; ++j)
                CHECK(std::fabs(r.causal_weights(h * S + i, j) - causal.weights[i * n_tokens + j]) < 3e-6);
            for (std::size_t d = 0; d < d_head; ++d)
                CHECK(std::fabs(r.causal_outputs(i, h * d_head + d) - causal.outputs[i * d_head + d]) < 3e-6);
        }
    }
}

TEST_CASE("the I love pizza walkthrough gives every number the post prints") {
    using namespace wt::pizza;
    compute(pizza_result);
    const result& r = pizza_result;
    REQUIRE(r.s == ctattn::status::ok);
    // The post's printed vectors for "love" and V_I, exact 2-decimal results of our 1-decimal inputs.
    CHECK(std::fabs(r.ws.q(1, 0) - 0.10) < 1e-6);
    CHECK(std::fabs(r.ws.q(1, 1) - 0.25) < 1e-6);
    CHECK(std::fabs(r.ws.k(1, 0) - 0.24) < 1e-6);
    CHECK(std::fabs(r.ws.k(1, 1) - 0.08) < 1e-6);
    CHECK(std::fabs(r.ws.v(1, 0) - 0.14) < 1e-6);
    CHECK(std::fabs(r.ws.v(1, 1) - 0.27) < 1e-6);
    CHECK(std::fabs(r.ws.v(0, 0) - 0.32) < 1e-6);
    CHECK(std::fabs(r.ws.v(0, 1) - 0.60) < 1e-6);
    CHECK(w_q[0][0] == 0.4f);  // the post: "Wq[0][0] drops from 0.400"

    const vec x = to_vec(embeddings);
    const head_reference ref = attend(matmul(x, to_vec(w_q), 3, 2, 2), matmul(x, to_vec(w_k), 3, 2, 2),
                                      matmul(x, to_vec(w_v), 3, 2, 2), 3, 2, 1.0 / std::sqrt(2.0), true);
    constexpr std::size_t S = config::seq_capacity;
    for (std::size_t i = 0; i < n_tokens; ++i)
        for (std::size_t j = 0; j < n_tokens; ++j) {
            CHECK(std::fabs(r.weights(i, j) - ref.weights[i * n_tokens + j]) < 3e-6);
            // The post's table, in whole percent.
            CHECK(std::round(100.0 * r.weights(i, j)) == std::round(100.0 * printed_table[i][j]));
        }
    for (std::size_t j = n_tokens; j < S; ++j) CHECK(r.weights(1, j) == 0.0f);
    // out(love): the reference, and the post's [0.232, 0.438] up to its 2-digit weights (0.51, 0.49
    // stand for 0.5148, 0.4852: 0.005 |V_I - V_love| <= 0.0017, plus its 3-digit rounding).
    for (std::size_t d = 0; d < d_model; ++d) {
        CHECK(std::fabs(r.y(1, d) - ref.outputs[1 * d_model + d]) < 3e-6);
        CHECK(std::fabs(r.y(1, d) - printed_out_love[d]) < 0.0025);
    }
    // "love" before attention is its embedding [0.10, 0.30].
    CHECK(r.x(1, 0) == 0.1f);
    CHECK(r.x(1, 1) == 0.3f);
}

TEST_CASE("in the creature walkthrough nouns attend to their preceding adjectives and absorb them") {
    using namespace wt::creature;
    compute(creature_result);
    const result& r = creature_result;
    REQUIRE(r.s == ctattn::status::ok);
    vec x(n_tokens * d_model), wq(d_model * d_model), wk(d_model * d_model), wv(d_model * d_model);
    for (std::size_t i = 0; i < x.size(); ++i) x[i] = r.x[i];
    for (std::size_t i = 0; i < wq.size(); ++i) {
        wq[i] = r.w.wq[i];
        wk[i] = r.w.wk[i];
        wv[i] = r.w.wv[i];
    }
    const vec q = matmul(x, wq, n_tokens, d_model, d_model), k = matmul(x, wk, n_tokens, d_model, d_model);
    const head_reference ref = attend(q, k, matmul(x, wv, n_tokens, d_model, d_model), n_tokens, d_model, 0.25, true);
    for (std::size_t i = 0; i < n_tokens; ++i) {
        for (std::size_t j = 0; j < n_tokens; ++j) {
            double s = 0.0;
            for (std::size_t d = 0; d < d_model; ++d) s += q[i * d_model + d] * k[j * d_model + d];
            CHECK(r.raw_scores(i, j) == float(s));  // 0, 32 or 64: exact
            CHECK(std::fabs(r.weights(i, j) - ref.weights[i * n_tokens + j]) < 1e-6);
        }
        for (std::size_t d = 0; d < d_model; ++d) {
            CHECK(std::fabs(r.delta(i, d) - ref.outputs[i * d_model + d]) < 1e-6);
            CHECK(r.refined(i, d) == r.x(i, d) + r.delta(i, d));
        }
    }
    // "creature" (3) splits its attention between "fluffy" and "blue": scores 16, 16 against 8 for
    // itself and 0 for "a", so each gets e^16 / (2 e^16 + e^8 + 1) = 0.49992.
    const double e = std::exp(8.0);
    const double half = e * e / (2 * e * e + e + 1);
    CHECK(std::fabs(r.weights(3, 1) - half) < 1e-6);
    CHECK(std::fabs(r.weights(3, 2) - half) < 1e-6);
    CHECK(std::fabs(r.delta(3, fluffy) - half) < 1e-6);
    CHECK(std::fabs(r.delta(3, blue) - half) < 1e-6);
    // "forest" (7): "verdant" scores 16, four words 8 ("fluffy", "blue", "the", itself),
    // three 0 ("a", "creature", "roamed").
    const double verdant = e * e / (e * e + 4 * e + 3);
    CHECK(std::fabs(r.weights(7, 6) - verdant) < 1e-6);
    CHECK(std::fabs(r.refined(7, green) - verdant) < 1e-6);
    CHECK(r.refined(7, forest_ness) == 1.0f);
    // Words that are not nouns change by less than 1e-3 in every meaning dimension.
    for (std::size_t t : {0, 1, 2, 4, 5, 6})
        for (std::size_t d = 0; d < position0; ++d) CHECK(std::fabs(r.delta(t, d)) < 1e-3);
}

TEST_CASE("each KV-cache decode step equals the full forward pass's row and the cache grows by one") {
    using namespace wt::kv;
    compute(kv_result);
    const result& r = kv_result;
    REQUIRE(r.forward_status == ctattn::status::ok);
    REQUIRE(r.decode_status == ctattn::status::ok);
    // Double reference of the one-layer model: x = E[t] + head(E) W_O, logits = x E^T.
    vec x(n_tokens * d_model), wq(d_model * d_model, 0.0), wk(d_model * d_model, 0.0), wv(d_model * d_model, 0.0);
    for (std::size_t t = 0; t < n_tokens; ++t)
        for (std::size_t c = 0; c < d_model; ++c) x[t * d_model + c] = r.w.embedding(sentence[t], c);
    for (std::size_t row = 0; row < d_model; ++row)
        for (std::size_t c = 0; c < 3; ++c) {
            wq[row * d_model + c] = wt::cat::w_q[row][c];
            wk[row * d_model + c] = wt::cat::w_k[row][c];
            wv[row * d_model + c] = wt::cat::w_v[row][c];
        }
    const vec k = matmul(x, wk, n_tokens, d_model, d_model), v = matmul(x, wv, n_tokens, d_model, d_model);
    const head_reference head = attend(matmul(x, wq, n_tokens, d_model, d_model), k, v, n_tokens, d_model, 0.5, true);
    for (std::size_t t = 0; t < n_tokens; ++t) {
        CHECK(r.cache_length[t] == t + 1);
        for (std::size_t c = 0; c < 3; ++c) {
            CHECK(std::fabs(r.cached_k(t, c) - k[t * d_model + c]) < 1e-6);
            CHECK(std::fabs(r.cached_v(t, c) - v[t * d_model + c]) < 1e-6);
        }
        for (std::size_t word = 0; word < vocab; ++word) {
            double logit = 0.0;
            for (std::size_t c = 0; c < d_model; ++c)
                logit += (x[t * d_model + c] + (c < 3 ? head.outputs[t * d_model + c] : 0.0)) * r.w.embedding(word, c);
            CHECK(std::fabs(r.forward_logits(t, word) - logit) < 2e-5);
            CHECK(std::fabs(r.decode_logits(t, word) - logit) < 2e-5);
            // Decode and forward run the same kernels on the same numbers, apart from the order
            // in which the blocked core sums: a few float ulps of logits near 2.
            CHECK(std::fabs(r.decode_logits(t, word) - r.forward_logits(t, word)) < 1e-6);
        }
        CHECK(wt::kv::max_difference(r, t) < 1e-6f);
    }
}
