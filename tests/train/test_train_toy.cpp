// SPDX-License-Identifier: Apache-2.0
// Training the seed-000 toy model (examples/explainer/single_head_model.hpp) and the optimisers.
//
// 1. Every toy_* case in shared/golden (PyTorch autograd in double: step-0 gradients, the loss
//    before each SGD step, the weights after the last): ctattn computes in float. Everything here
//    is O(1) and a handful of operations deep (d_model 2: two-term dot products, one softmax over
//    <= 8 keys, one over 22 logits), so each value carries a few float roundings, ~1e-7 relative;
//    four SGD steps with lr <= 0.5 carry them forward without amplification (the loss moves by
//    < 10% per step). Tolerance: |got - want| <= 1e-5 |want| + 1e-6 max|want| (a hundred times the
//    measured error, and far below the smallest gradient PyTorch reports, ~1e-3 of the largest).
// 2. The explainer's experiment: four SGD steps on [I] -> love; P(love) rises and the loss falls
//    every step, as in the post (1.772 -> 1.427 -> 0.968 -> 0.580).
// 3. SGD, SGD with momentum and AdamW against the formulas worked by hand for two steps.
#include <catch2/catch.hpp>

#include <ctattn/train/adamw.hpp>
#include <ctattn/train/sgd.hpp>
#include "explainer/single_head_model.hpp"

#include <cmath>
#include <cstdio>
#include <filesystem>
#include <string>
#include <vector>

#include "../support/golden.hpp"

namespace {
using namespace ctattn;

constexpr std::size_t toy_vocab = 22, toy_d = 2, toy_context = 8;
using toy = train::single_head_model<toy_vocab, toy_d, toy_context>;

struct toy_state {
    toy::weights_type w{};
    toy::weights_type g{};
    toy::workspace_type ws{};
};

template <class M>
void load(const ctattn_test::golden_case& gc, const std::string& name, M& m) {
    INFO("array " << name);
    REQUIRE(gc.has(name));
    REQUIRE(gc.at(name).size() == M::size);
    for (std::size_t i = 0; i < M::size; ++i) m[i] = float(gc.at(name)[i]);
}

template <class M>
void require_close(const std::string& case_name, const std::string& name, const M& got,
                   const ctattn_test::golden_case& gc) {
    INFO("case " << case_name << " array " << name);
    REQUIRE(gc.has(name));
    const auto& want = gc.at(name);
    REQUIRE(want.size() == M::size);
    double max_want = 0.0, worst = 0.0;
    for (std::size_t i = 0; i < M::size; ++i) max_want = std::max(max_want, std::abs(want[i]));
    for (std::size_t i = 0; i < M::size; ++i) {
        const double err = std::abs(double(got[i]) - want[i]);
        worst = std::max(worst, err / (std::abs(want[i]) + 0.1 * max_want));
        INFO("element " << i << " got " << got[i] << " want " << want[i]);
        REQUIRE(err <= 1e-5 * std::abs(want[i]) + 1e-6 * max_want);
    }
    std::printf("golden %-24s %-16s max |err| / (|want| + 0.1 max|want|) = %.2e\n", case_name.c_str(),
                name.c_str(), worst);
}

void check_toy_case(const std::string& file_name) {
    const ctattn_test::golden_case gc = ctattn_test::load_golden(file_name);
    INFO("golden file " << file_name);
    REQUIRE(gc.loaded);
    REQUIRE(gc.config_int("vocab") == long(toy_vocab));
    REQUIRE(gc.config_int("d_model") == long(toy_d));
    const std::size_t n = std::size_t(gc.config_int("context"));
    REQUIRE(n <= toy_context);
    const long steps = gc.config_int("steps");
    const float lr = std::stof(gc.config_value("lr"));
    std::vector<token_id> tokens;
    for (double t : gc.at("tokens").values) tokens.push_back(token_id(t));
    const token_id target = token_id(gc.at("target")[0]);

    static toy_state s;
    load(gc, "embedding.init", s.w.embedding);
    load(gc, "wq.init", s.w.wq);
    load(gc, "wk.init", s.w.wk);
    load(gc, "wv.init", s.w.wv);
    load(gc, "w_out.init", s.w.w_out);
    for (long step = 0; step < steps; ++step) {
        train::zero_tensors(s.g);
        float loss = 0.0f;
        REQUIRE(toy::loss_and_gradients(s.w, tokens.data(), n, target, s.g, s.ws, loss) == status::ok);
        const double want_loss = gc.at("loss")[std::size_t(step)];
        INFO("step " << step);
        REQUIRE(std::abs(loss - want_loss) <= 1e-5 * std::abs(want_loss));
        if (step == 0) {
            for (std::size_t i = 0; i < n; ++i)
                for (std::size_t j = 0; j < n; ++j) {
                    INFO("attention " << i << "," << j);
                    REQUIRE(std::abs(s.ws.attention(i, j) - gc.at("attn.step0")[i * n + j]) <= 1e-6);
                }
            require_close(gc.name, "probs.step0", s.ws.probs, gc);
            require_close(gc.name, "grad.embedding.step0", s.g.embedding, gc);
            require_close(gc.name, "grad.wq.step0", s.g.wq, gc);
            require_close(gc.name, "grad.wk.step0", s.g.wk, gc);
            require_close(gc.name, "grad.wv.step0", s.g.wv, gc);
            require_close(gc.name, "grad.w_out.step0", s.g.w_out, gc);
        }
        REQUIRE(train::sgd_step(s.w, s.g, lr) == status::ok);
    }
    require_close(gc.name, "embedding.final", s.w.embedding, gc);
    require_close(gc.name, "wq.final", s.w.wq, gc);
    require_close(gc.name, "wk.final", s.w.wk, gc);
    require_close(gc.name, "wv.final", s.w.wv, gc);
    require_close(gc.name, "w_out.final", s.w.w_out, gc);
}

}  // namespace

TEST_CASE("the toy model's gradients, losses and SGD steps match PyTorch on every toy golden case", "[train][golden]") {
    std::vector<std::string> files;
    for (const auto& entry : std::filesystem::directory_iterator(CTATTN_GOLDEN_DIR)) {
        const std::string name = entry.path().filename().string();
        if (name.rfind("toy_", 0) == 0 && entry.path().extension() == ".txt") files.push_back(name);
    }
    std::sort(files.begin(), files.end());
    REQUIRE(files.size() >= 2);  // the public set has toy_v22_d2_c1_steps4 and toy_v22_d2_c3_steps4
    for (const auto& f : files) {
        SECTION(f) { check_toy_case(f); }
    }
}

namespace {
// A two-tensor "model" for the optimiser checks: the toy weights at d_model 1, vocab 1.
using tiny = train::single_head_weights<1, 1>;
void set_all(tiny& t, float embedding, float wq, float w_out) {
    t.embedding[0] = embedding;
    t.wq[0] = wq;
    t.wk[0] = 0.0f;
    t.wv[0] = 0.0f;
    t.w_out[0] = w_out;
}
}  // namespace

TEST_CASE("SGD, SGD with momentum and AdamW follow their formulas worked by hand", "[train][optimiser]") {
    static tiny w, g;
    SECTION("plain SGD: w -= lr g") {
        set_all(w, 1.0f, 2.0f, -1.0f);
        set_all(g, 0.5f, -1.0f, 0.25f);
        REQUIRE(train::sgd_step(w, g, 0.1f) == status::ok);
        REQUIRE(w.embedding[0] == Approx(0.95f).epsilon(1e-6));
        REQUIRE(w.wq[0] == Approx(2.1f).epsilon(1e-6));
        REQUIRE(w.w_out[0] == Approx(-1.025f).epsilon(1e-6));
    }
    SECTION("momentum 0.9: b = 0.9 b + g; w -= lr b") {
        static train::sgd_momentum<tiny> opt;
        opt.learning_rate = 0.1f;
        opt.momentum = 0.9f;
        opt.reset();
        set_all(w, 1.0f, 0.0f, 0.0f);
        set_all(g, 1.0f, 0.0f, 0.0f);
        REQUIRE(opt.step(w, g) == status::ok);  // b = 1, w = 1 - 0.1 = 0.9
        REQUIRE(w.embedding[0] == Approx(0.9f).epsilon(1e-6));
        REQUIRE(opt.step(w, g) == status::ok);  // b = 0.9 + 1 = 1.9, w = 0.9 - 0.19 = 0.71
        REQUIRE(w.embedding[0] == Approx(0.71f).epsilon(1e-6));
    }
    SECTION("AdamW: bias-corrected moments, decoupled decay on matrices") {
        static train::adamw<tiny> opt;
        opt.learning_rate = 0.01f;
        opt.weight_decay = 0.1f;
        opt.reset();
        set_all(w, 2.0f, 2.0f, 2.0f);
        set_all(g, 0.5f, -3.0f, 0.0f);
        REQUIRE(opt.step(w, g) == status::ok);
        // Step 1: m_hat = g, v_hat = g^2, so the update is lr * g / (|g| + eps) = +-0.01 (times
        // 1 - 1e-8/|g|), after the decay w *= 1 - lr * wd = 0.999: 2 * 0.999 -+ 0.01.
        REQUIRE(w.embedding[0] == Approx(1.998f - 0.01f).epsilon(1e-6));
        REQUIRE(w.wq[0] == Approx(1.998f + 0.01f).epsilon(1e-6));
        REQUIRE(w.w_out[0] == Approx(1.998f).epsilon(1e-6));  // g = 0: decay only
        // Step 2 with g = 0.5 again for the embedding: m = 0.9*0.05 + 0.05 = 0.095, m_hat =
        // 0.095 / 0.19 = 0.5; v = 0.999*0.00025 + 0.00025 = 0.00049975, v_hat = 0.00049975 /
        // 0.001999 = 0.25; update 0.01 * 0.5 / 0.5 = 0.01.
        const float before = w.embedding[0];
        REQUIRE(opt.step(w, g) == status::ok);
        REQUIRE(w.embedding[0] == Approx(before * 0.999f - 0.01f).epsilon(1e-6));
    }
}
