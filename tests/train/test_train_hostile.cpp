// SPDX-License-Identifier: Apache-2.0
// Training under hostile input: every entry point returns a status and leaves its outputs as they
// were when it fails, instead of writing NaN weights or reading past a buffer.
// - cross_entropy_row: a target equal to the vocabulary size would read past the row
//   (invalid_token); a NaN or infinite logit would make a NaN loss (non_finite).
// - loss_and_gradients (the language model and the toy model): non-finite logits from non-finite
//   weights are non_finite, and the gradients are untouched.
// - SGD, SGD with momentum, AdamW: a NaN, infinite or negative learning rate, beta1 = 1 (bias
//   correction divides by 1 - 1^t = 0), eps = 0 (divides by sqrt(v) = 0 where the gradient is 0),
//   momentum >= 1 are invalid_parameter; a NaN gradient is non_finite; weights, moments and the
//   step count are then bit-for-bit unchanged.
// - word_corpus::build: null text is invalid_argument; an over-capacity text fails without
//   touching the corpus built before.
#include <catch2/catch.hpp>

#include <ctattn/train/adamw.hpp>
#include <ctattn/train/cross_entropy.hpp>
#include <ctattn/train/model_backward.hpp>
#include <ctattn/train/sgd.hpp>
#include "explainer/single_head_model.hpp"
#include "explainer/word_corpus.hpp"

#include <cmath>
#include <cstring>
#include <limits>

namespace {
using namespace ctattn;

constexpr float nan_value = std::numeric_limits<float>::quiet_NaN();
constexpr float infinity = std::numeric_limits<float>::infinity();

using tiny = train::single_head_weights<1, 1>;
void set_all(tiny& t, float value) {
    t.embedding[0] = value;
    t.wq[0] = value;
    t.wk[0] = value;
    t.wv[0] = value;
    t.w_out[0] = value;
}
template <class T>
bool same_bytes(const T& a, const T& b) {
    return std::memcmp(&a, &b, sizeof(T)) == 0;
}

using block = block_config<attention_config<16, 4, 2, 9, no_bias, causal_mask>, ffn_config<16, swiglu, 24>,
                           rms_norm<eps_1e_minus<5>>, pre_norm>;
using config = stacked_model_config<19, 2, block, rotary_positions<10000>, rms_norm<eps_1e_minus<5>>, tied_head>;
using trainer = train::model_training<config>;
using toy = train::single_head_model<22, 2, 8>;
}  // namespace

TEST_CASE("cross_entropy_row rejects a target past the vocabulary and non-finite logits, touching nothing",
          "[train][hostile]") {
    float logits[5] = {0.5f, -1.0f, 2.0f, 0.0f, 1.0f};
    float grad[5] = {7, 7, 7, 7, 7};
    float loss = 42.0f;
    REQUIRE(train::cross_entropy_row<5>(logits, 5, 1.0f, grad, loss) == status::invalid_token);
    REQUIRE(train::cross_entropy_row<5>(logits, 0xffffffffu, 1.0f, grad, loss) == status::invalid_token);
    REQUIRE(train::cross_entropy_row<5>(logits, 1, nan_value, grad, loss) == status::invalid_parameter);
    for (const float bad : {nan_value, infinity, -infinity}) {
        logits[3] = bad;
        REQUIRE(train::cross_entropy_row<5>(logits, 1, 1.0f, grad, loss) == status::non_finite);
    }
    REQUIRE(loss == 42.0f);
    for (const float g : grad) REQUIRE(g == 7.0f);
    // Finite extremes stay finite: the row is max-subtracted, -log p = 2e30 exactly in double.
    float extreme[3] = {1e30f, -1e30f, 0.0f};
    REQUIRE(train::cross_entropy_row<3>(extreme, 1, 1.0f, grad, loss) == status::ok);
    REQUIRE(std::isfinite(loss));
    REQUIRE(loss == Approx(2e30f).epsilon(1e-6));
}

TEST_CASE("loss_and_gradients reports non-finite logits and leaves the gradients untouched", "[train][hostile]") {
    static model_weights<config> weights, gradients, before;
    static trainer::workspace_type workspace;
    const token_id tokens[3] = {1, 4, 7}, targets[3] = {4, 7, 2};
    float loss = 42.0f;
    weights.embedding(4, 3) = nan_value;
    train::for_each_parameter([](const train::tensor_info& t, float* g) {
        for (std::size_t i = 0; i < t.size; ++i) g[i] = 0.25f;
    }, gradients);
    before = gradients;
    REQUIRE(trainer::loss_and_gradients(weights, tokens, targets, 3, gradients, workspace, loss) == status::non_finite);
    REQUIRE(loss == 42.0f);
    REQUIRE(same_bytes(gradients, before));
    weights.embedding(4, 3) = 0.0f;
    REQUIRE(trainer::loss_and_gradients(weights, tokens, targets, 3, gradients, workspace, loss, nan_value) ==
            status::invalid_parameter);
    REQUIRE(trainer::loss_and_gradients(weights, tokens, targets, 3, gradients, workspace, loss) == status::ok);
    REQUIRE(std::isfinite(loss));

    static toy::weights_type toy_weights, toy_gradients, toy_before;
    static toy::workspace_type toy_workspace;
    toy_weights.w_out[0] = infinity;
    toy_before = toy_gradients;
    REQUIRE(toy::loss_and_gradients(toy_weights, tokens, 2, 3, toy_gradients, toy_workspace, loss) ==
            status::non_finite);
    REQUIRE(same_bytes(toy_gradients, toy_before));
}

TEST_CASE("optimisers reject out-of-range hyperparameters and non-finite gradients without changing state",
          "[train][hostile]") {
    static tiny w, g, w_before;
    set_all(w, 1.5f);
    set_all(g, 0.25f);
    w_before = w;

    SECTION("SGD") {
        for (const float lr : {nan_value, infinity, -0.1f}) REQUIRE(train::sgd_step(w, g, lr) == status::invalid_parameter);
        g.wk[0] = nan_value;
        REQUIRE(train::sgd_step(w, g, 0.1f) == status::non_finite);
        g.wk[0] = 0.25f;
        w.wv[0] = -3e38f;  // finite weight, finite gradient, the update overflows to -inf
        g.wv[0] = 1e38f;
        w_before = w;
        REQUIRE(train::sgd_step(w, g, 10.0f) == status::non_finite);
        REQUIRE(same_bytes(w, w_before));
    }
    SECTION("SGD with momentum") {
        static train::sgd_momentum<tiny> opt;
        opt.reset();
        opt.learning_rate = 0.1f;
        for (const float mu : {1.0f, 1.5f, -0.1f, nan_value}) {
            opt.momentum = mu;
            REQUIRE(opt.step(w, g) == status::invalid_parameter);
        }
        opt.momentum = 0.9f;
        g.embedding[0] = infinity;
        REQUIRE(opt.step(w, g) == status::non_finite);
        REQUIRE(opt.velocity.embedding[0] == 0.0f);
    }
    SECTION("AdamW") {
        static train::adamw<tiny> opt;
        opt.reset();
        const train::adamw<tiny> defaults = opt;
        const auto rejects = [&](auto change) {
            opt = defaults;
            change(opt);
            return opt.step(w, g) == status::invalid_parameter && opt.steps == 0;
        };
        REQUIRE(rejects([](auto& o) { o.learning_rate = nan_value; }));
        REQUIRE(rejects([](auto& o) { o.learning_rate = infinity; }));
        REQUIRE(rejects([](auto& o) { o.beta1 = 1.0f; }));
        REQUIRE(rejects([](auto& o) { o.beta2 = 1.0f; }));
        REQUIRE(rejects([](auto& o) { o.beta1 = -0.5f; }));
        REQUIRE(rejects([](auto& o) { o.eps = 0.0f; }));
        REQUIRE(rejects([](auto& o) { o.eps = nan_value; }));
        REQUIRE(rejects([](auto& o) { o.weight_decay = -1.0f; }));
        REQUIRE(rejects([](auto& o) { o.learning_rate = 2.0f; o.weight_decay = 1.0f; }));
        opt = defaults;
        g.w_out[0] = nan_value;
        REQUIRE(opt.step(w, g) == status::non_finite);
        REQUIRE(opt.steps == 0);
        REQUIRE(same_bytes(opt.m, defaults.m));
        REQUIRE(same_bytes(opt.v, defaults.v));
        g.w_out[0] = 0.25f;
        REQUIRE(opt.step(w, g) == status::ok);
        REQUIRE(opt.steps == 1);
        REQUIRE(std::isfinite(w.w_out[0]));
        return;
    }
    REQUIRE(same_bytes(w, w_before));
}

TEST_CASE("word_corpus rejects a null text and keeps its previous corpus when a build fails", "[train][hostile]") {
    using corpus_type = train::word_corpus<8, 4, 6>;  // 8 words, 4 distinct, 6 letters each
    static corpus_type corpus, before;
    REQUIRE(corpus.build("I love pizza. You love pizza.") == status::ok);
    REQUIRE(corpus.vocab == 4);
    REQUIRE(corpus.word_count == 6);
    REQUIRE(corpus.pair_count == 4);
    before = corpus;
    REQUIRE(corpus.build(nullptr) == status::invalid_argument);
    REQUIRE(corpus.build("I love pizza. You love it.") == status::invalid_length);    // 5 distinct words
    REQUIRE(corpus.build("a a a a a a a a a") == status::invalid_length);             // 9 words
    REQUIRE(corpus.build("I love spaghetti.") == status::invalid_length);             // 9 letters
    REQUIRE(same_bytes(corpus, before));
    REQUIRE(corpus.build("A b. B a. a A") == status::ok);  // case-insensitive: 2 distinct, 6 words
    REQUIRE(corpus.vocab == 2);
    REQUIRE(corpus.pair_count == 3);
}
