// SPDX-License-Identifier: Apache-2.0
// Gradients of whole language models (train/model_backward.hpp) against central finite
// differences taken in double on the plainly written double-precision reference model
// (tests/reference/forward_double.hpp), for every weight of three small models with awkward shapes that between them use every piece
// the backward pass has: pre- and post-norm blocks, LayerNorm / RMSNorm / no final norm, dense
// ReLU, GELU (erf) and gated GELU (tanh) / SwiGLU FFNs with and without biases, GQA, RoPE, learned
// and sinusoidal positions, tied and untied (+bias) heads, causal, sliding-window and no masks,
// and sequences shorter than the capacity with one unscored position.
//
// Step h = 1e-4: the central difference's truncation error is h^2/6 |L'''| ~ 1e-9 and its
// rounding error ~1e-16 / h ~ 1e-12, both far below the float gradient's own error. The float
// gradient carries the rounding of the float forward and backward passes: ~1e-7 relative per
// operation over a few dozen dependent operations. Tolerance per element:
//   |g - fd| <= 1e-4 |fd| + 1e-5 max|fd|            (max over the whole model)
// The measured worst case is printed (1.4e-7 to 3.2e-7 of max|fd| on AVX-512), thirty times inside
// the bound; a sign error, a missing term or a wrong index gives errors of order |fd| and fails.
#include <catch2/catch.hpp>

#include <ctattn/train/model_backward.hpp>
#include <ctattn/train/parameters.hpp>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <memory>
#include <string>
#include <vector>

#include "../support/model_support.hpp"
#include "../reference/forward_double.hpp"

namespace {
using namespace ctattn;

// GQA (6 query heads on 2 KV heads, head_dim 2), RoPE, SwiGLU, pre-norm RMSNorm, tied head.
using llama_block = block_config<attention_config<12, 6, 2, 5, no_bias, causal_mask>, ffn_config<12, swiglu, 20>,
                                 rms_norm<eps_1e_minus<5>>, pre_norm>;
using llama_cfg = stacked_model_config<13, 2, llama_block, rotary_positions<10000>, rms_norm<eps_1e_minus<5>>, tied_head>;

// Two different layers: post-norm LayerNorm + ReLU with biases, then pre-norm LayerNorm + GELU
// with a sliding window and head_dim 2; learned positions; untied head with bias.
using post_block = block_config<attention_config<10, 2, 2, 7, with_bias, causal_mask>, ffn_config<10, dense_ffn<relu>, 24>,
                                layer_norm<eps_1e_minus<5>>, post_norm>;
using window_block = block_config<attention_config<10, 5, 5, 7, with_bias, sliding_window_mask<3>>,
                                  ffn_config<10, dense_ffn<gelu_erf>, 13>, layer_norm<eps_1e_minus<5>>, pre_norm>;
using mixed_cfg = model_config<11, learned_positions, layer_norm<eps_1e_minus<5>>, untied_head<true>, post_block,
                               window_block>;

// No mask, gated GELU (tanh) with biases, post-norm RMSNorm, sinusoidal positions, no final norm,
// untied head without bias; d_model 6, 3 heads of 2, d_ff 5, vocabulary 5.
using small_block = block_config<attention_config<6, 3, 3, 3, no_bias, no_mask>, ffn_config<6, gated_ffn<gelu_tanh, true>, 5>,
                                 rms_norm<eps_1e_minus<5>>, post_norm>;
using small_cfg = model_config<5, sinusoidal_positions, no_norm, untied_head<false>, small_block>;

template <class Config>
void check_gradients(const char* name, std::size_t n, unsigned seed) {
    using trainer = train::model_training<Config>;
    auto w = ctattn_test::random_model<Config>(seed);
    auto g = std::make_unique<typename trainer::gradients_type>();
    auto ws = std::make_unique<typename trainer::workspace_type>();
    const auto tokens = ctattn_test::random_tokens(n, Config::vocab, seed + 1);
    auto targets = ctattn_test::random_tokens(n, Config::vocab, seed + 2);
    targets[n / 2] = train::ignore_target;

    train::zero_tensors(*g);
    float loss = 0.0f;
    REQUIRE(trainer::loss_and_gradients(*w, tokens.data(), targets.data(), n, *g, *ws, loss) == status::ok);
    const double ref_loss = ctattn_test::ref::loss(*w, tokens, targets, train::ignore_target, {});
    INFO(name << ": float loss " << loss << ", double reference " << ref_loss);
    REQUIRE(std::abs(loss - ref_loss) <= 1e-5 * std::abs(ref_loss));

    // The training forward pass gives the inference forward pass's logits (same kernels; the
    // inference path may take the blocked attention core, which sums in another order).
    std::vector<float> logits(Config::seq_capacity * Config::vocab);
    auto infer_ws = std::make_unique<model_workspace<Config>>();
    REQUIRE(language_model<Config>::forward(*w, tokens.data(), n, logits.data(), *infer_ws) == status::ok);
    REQUIRE(train::model_training<Config>::forward(*w, tokens.data(), n, *ws) == status::ok);
    for (std::size_t i = 0; i < n * Config::vocab; ++i) REQUIRE(std::abs(ws->logits[i] - logits[i]) <= 1e-5f * (1.0f + std::abs(logits[i])));

    constexpr double h = 1e-4;
    struct entry {
        char tensor[40];
        std::size_t index;
        double analytic, numeric;
    };
    std::vector<entry> entries;
    train::for_each_parameter(
        [&](const train::tensor_info& t, float* wp, float* gp) {
            for (std::size_t i = 0; i < t.size; ++i) {
                entry e{};
                std::snprintf(e.tensor, sizeof e.tensor, "%s@%d", t.name, t.layer);
                const double up = ctattn_test::ref::loss(*w, tokens, targets, train::ignore_target, {wp + i, h});
                const double down = ctattn_test::ref::loss(*w, tokens, targets, train::ignore_target, {wp + i, -h});
                e.index = i;
                e.analytic = gp[i];
                e.numeric = (up - down) / (2.0 * h);
                entries.push_back(e);
            }
        },
        *w, *g);
    double max_fd = 0.0;
    for (const auto& e : entries) max_fd = std::max(max_fd, std::abs(e.numeric));
    double worst = 0.0;
    std::size_t nonzero = 0;
    for (const auto& e : entries) {
        const double err = std::abs(e.analytic - e.numeric);
        worst = std::max(worst, err / max_fd);
        if (std::abs(e.numeric) > 1e-3 * max_fd) ++nonzero;
        INFO(name << " " << e.tensor << "[" << e.index << "]: analytic " << e.analytic << ", finite difference "
                  << e.numeric);
        REQUIRE(err <= 1e-4 * std::abs(e.numeric) + 1e-5 * max_fd);
    }
    std::printf("gradient check %-6s %zu weights (%zu clearly nonzero), n = %zu, max|fd| %.3e, worst |g - fd| / max|fd| %.2e\n",
                name, entries.size(), nonzero, n, max_fd, worst);
    REQUIRE(nonzero > entries.size() / 2);  // the check is not vacuous
}

}  // namespace

TEST_CASE("model gradients match central finite differences of a double-precision reference", "[train][gradients]") {
    SECTION("llama: RoPE, GQA, SwiGLU, pre-norm RMSNorm, tied head") { check_gradients<llama_cfg>("llama", 4, 11); }
    SECTION("mixed: post- then pre-norm LayerNorm, ReLU, GELU, sliding window, learned positions, biases") {
        check_gradients<mixed_cfg>("mixed", 7, 23);
    }
    SECTION("small: no mask, gated GELU-tanh with biases, post-norm RMSNorm, sinusoidal, no final norm") {
        check_gradients<small_cfg>("small", 3, 37);
    }
}

TEST_CASE("bad training input returns a status and leaves gradients and loss untouched", "[train][errors]") {
    using trainer = train::model_training<small_cfg>;
    auto w = ctattn_test::random_model<small_cfg>(5);
    auto g = std::make_unique<trainer::gradients_type>();
    auto ws = std::make_unique<trainer::workspace_type>();
    train::zero_tensors(*g);
    const token_id tokens[3] = {1, 2, 3}, targets[3] = {2, 3, 4};
    const token_id bad_token[3] = {1, 5, 3}, bad_target[3] = {2, 9, 4};
    const token_id none_scored[3] = {train::ignore_target, train::ignore_target, train::ignore_target};
    float loss = -1.0f;
    CHECK(trainer::loss_and_gradients(*w, nullptr, targets, 3, *g, *ws, loss) == status::invalid_argument);
    CHECK(trainer::loss_and_gradients(*w, tokens, nullptr, 3, *g, *ws, loss) == status::invalid_argument);
    CHECK(trainer::loss_and_gradients(*w, tokens, targets, 0, *g, *ws, loss) == status::invalid_length);
    CHECK(trainer::loss_and_gradients(*w, tokens, targets, 4, *g, *ws, loss) == status::invalid_length);
    CHECK(trainer::loss_and_gradients(*w, bad_token, targets, 3, *g, *ws, loss) == status::invalid_token);
    CHECK(trainer::loss_and_gradients(*w, tokens, bad_target, 3, *g, *ws, loss) == status::invalid_token);
    CHECK(trainer::loss_and_gradients(*w, tokens, none_scored, 3, *g, *ws, loss) == status::invalid_argument);
    CHECK(loss == -1.0f);
    std::size_t nonzero = 0;
    train::for_each_parameter([&](const train::tensor_info& t, float* p) {
        for (std::size_t i = 0; i < t.size; ++i) nonzero += p[i] != 0.0f;
    }, *g);
    CHECK(nonzero == 0);

    // The gradient scales with `weight`, and calls add up: two calls at weight 0.5 give one call's gradient.
    REQUIRE(trainer::loss_and_gradients(*w, tokens, targets, 3, *g, *ws, loss) == status::ok);
    auto half = std::make_unique<trainer::gradients_type>();
    train::zero_tensors(*half);
    REQUIRE(trainer::loss_and_gradients(*w, tokens, targets, 3, *half, *ws, loss, 0.5f) == status::ok);
    REQUIRE(trainer::loss_and_gradients(*w, tokens, targets, 3, *half, *ws, loss, 0.5f) == status::ok);
    double worst = 0.0, largest = 0.0;
    train::for_each_parameter([&](const train::tensor_info& t, float* full, float* halves) {
        for (std::size_t i = 0; i < t.size; ++i) {
            worst = std::max(worst, double(std::abs(full[i] - halves[i])));
            largest = std::max(largest, double(std::abs(full[i])));
        }
    }, *g, *half);
    // x/2 + x/2 == x exactly; what differs is the order of additions into the accumulators (rows,
    // heads), a few float roundings of the largest terms: 1e-6 of the largest gradient.
    CHECK(worst <= 1e-6 * largest);
}
