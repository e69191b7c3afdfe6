// SPDX-License-Identifier: Apache-2.0
// language_model against PyTorch (shared/golden lm_* and llama_*): whole models from token ids
// to logits (and next-token probabilities for lm_*). A missing file fails, and so does a golden
// file of these families that no test here names. Each case prints its largest errors.
//
// lm_*: embedding + sinusoidal positions -> 2 or 3 nn.TransformerEncoderLayer (post- or
// pre-norm) -> x @ w_out + b_out. llama_*: llama2.c semantics (RMSNorm, RoPE, GQA, SwiGLU, final
// RMSNorm, untied classifier, no biases).
//
// Tolerance: each layer adds at most the ~5e-5 relative float error of an encoder block (see
// test_golden_encoder.cpp; measured ~3e-7); norms keep it from compounding beyond the sum over
// L <= 3 layers plus the head's d_model-term dot products, and sinusoidal angles are formed in
// float (|error| <= pos * 1e-7 rad), so for logits
//   |got - want| <= 2e-4 * |want| + 2e-4 * max|want|,
// and for probabilities 2e-4 absolute (a softmax output moves by at most the largest change of
// its logits, and logits here are O(1)).
#include <catch2/catch.hpp>

#include <ctattn/model/language_model.hpp>

#include <cstdio>
#include <filesystem>
#include <set>
#include <string>
#include <vector>

#include "../support/model_support.hpp"

namespace {

constexpr double relative_tolerance = 2e-4;
constexpr double scale_tolerance = 2e-4;
constexpr double probability_tolerance = 2e-4;

const std::set<std::string> covered_cases = {
    "enc_s8_e16_h4_relu_post.txt",  "enc_s11_e24_h3_gelu_pre.txt",      // test_golden_encoder.cpp
    "lm_v22_s6_e8_h2_l2_relu_post.txt", "lm_v50_s12_e32_h4_l3_gelu_pre.txt", "llama_v64_s10_e32_h4_kv2_l2.txt",
};

void require_close(const std::string& case_name, const std::string& array, const std::vector<float>& got,
                   const ctattn_test::golden_array& want) {
    REQUIRE(got.size() == want.size());
    const auto errors = ctattn_test::summarise(got.data(), want, want.size());
    ctattn_test::print_errors(case_name, array, errors);
    double max_want = 0.0;
    for (std::size_t i = 0; i < want.size(); ++i) max_want = std::max(max_want, std::abs(want[i]));
    for (std::size_t i = 0; i < want.size(); ++i) {
        INFO(array << " element " << i);
        REQUIRE(std::abs(got[i] - want[i]) <= relative_tolerance * std::abs(want[i]) + scale_tolerance * max_want);
    }
}

template <class Config>
void check_lm_case(const std::string& file_name) {
    using namespace ctattn;
    using model = language_model<Config>;
    constexpr std::size_t V = Config::vocab, S = Config::seq_capacity;
    const ctattn_test::golden_case gc = ctattn_test::load_golden(file_name);
    INFO("golden file " << file_name << " in " << CTATTN_GOLDEN_DIR);
    REQUIRE(gc.loaded);
    REQUIRE(gc.config_int("vocab") == long(V));
    REQUIRE(gc.config_int("seq") == long(S));
    REQUIRE(gc.config_int("d_model") == long(Config::d_model));
    REQUIRE(gc.config_int("layers") == long(Config::layers));
    REQUIRE(gc.config_value("positions") == "sinusoidal");
    REQUIRE(gc.config_int("final_norm") == 0);

    auto w = std::make_unique<model_weights<Config>>();
    copy_array(gc, "embedding", w->embedding);
    hana::for_each(hana::make_range(hana::size_c<0>, hana::size_c<Config::layers>), [&](auto l) {
        char prefix[16];
        std::snprintf(prefix, sizeof prefix, "l%zu.", std::size_t(decltype(l)::value));
        ctattn_test::load_encoder_block(gc, prefix, hana::at(w->layers, l));
    });
    copy_array(gc, "w_out", w->head.w_out);
    copy_array(gc, "b_out", w->head.b_out);

    const std::vector<token_id> tokens = ctattn_test::golden_tokens(gc);
    REQUIRE(tokens.size() == S);
    auto ws = std::make_unique<typename model::workspace_type>();
    std::vector<float> logits(S * V), probs(S * V);
    REQUIRE(model::forward(*w, tokens.data(), S, logits.data(), *ws) == status::ok);
    for (std::size_t p = 0; p < S; ++p)
        REQUIRE(model::probabilities(logits.data() + p * V, probs.data() + p * V) == status::ok);

    require_close(gc.name, "logits", logits, gc.at("logits"));
    const auto errors = ctattn_test::summarise(probs.data(), gc.at("probs"), probs.size());
    ctattn_test::print_errors(gc.name, "probs", errors);
    REQUIRE(errors.max_abs <= probability_tolerance);
}

}  // namespace

TEST_CASE("a 2-layer post-norm ReLU language model matches PyTorch (lm_v22_s6_e8_h2_l2_relu_post)",
          "[model][golden][lm]") {
    using namespace ctattn;
    using block = block_config<attention_config<8, 2, 2, 6, with_bias, causal_mask>, ffn_config<8, dense_ffn<relu>, 32>,
                               layer_norm<eps_1e_minus<5>>, post_norm>;
    using config = stacked_model_config<22, 2, block, sinusoidal_positions, no_norm, untied_head<true>>;
    check_lm_case<config>("lm_v22_s6_e8_h2_l2_relu_post.txt");
}

TEST_CASE("a 3-layer pre-norm GELU language model matches PyTorch (lm_v50_s12_e32_h4_l3_gelu_pre)",
          "[model][golden][lm]") {
    using namespace ctattn;
    using block = block_config<attention_config<32, 4, 4, 12, with_bias, causal_mask>,
                               ffn_config<32, dense_ffn<gelu_erf>, 128>, layer_norm<eps_1e_minus<5>>, pre_norm>;
    using config = stacked_model_config<50, 3, block, sinusoidal_positions, no_norm, untied_head<true>>;
    check_lm_case<config>("lm_v50_s12_e32_h4_l3_gelu_pre.txt");
}

TEST_CASE("a llama model with RoPE, GQA and SwiGLU matches PyTorch (llama_v64_s10_e32_h4_kv2_l2)",
          "[model][golden][llama]") {
    using namespace ctattn;
    using block = block_config<attention_config<32, 4, 2, 10, no_bias, causal_mask>, ffn_config<32, swiglu, 88>,
                               rms_norm<eps_1e_minus<5>>, pre_norm>;
    using config = stacked_model_config<64, 2, block, rotary_positions<10000>, rms_norm<eps_1e_minus<5>>, untied_head<false>>;
    using model = language_model<config>;
    const ctattn_test::golden_case gc = ctattn_test::load_golden("llama_v64_s10_e32_h4_kv2_l2.txt");
    INFO("golden file in " << CTATTN_GOLDEN_DIR);
    REQUIRE(gc.loaded);
    REQUIRE(gc.config_int("kv_heads") == 2);
    REQUIRE(gc.config_int("hidden") == 88);
    REQUIRE(gc.config_value("positions") == "rope");

    auto w = ctattn_test::load_llama_two_layers<config>(gc);

    const std::vector<token_id> tokens = ctattn_test::golden_tokens(gc);
    REQUIRE(tokens.size() == 10);
    auto ws = std::make_unique<model::workspace_type>();
    std::vector<float> logits(10 * 64);
    REQUIRE(model::forward(*w, tokens.data(), 10, logits.data(), *ws) == status::ok);
    require_close(gc.name, "logits", logits, gc.at("logits"));

    // The same case through the KV cache, one token at a time, must land on the same logits.
    auto dec = std::make_unique<decoder<config>>(*w);
    std::vector<float> step_logits(10 * 64);
    for (std::size_t p = 0; p < 10; ++p) REQUIRE(dec->decode_step(tokens[p], step_logits.data() + p * 64) == status::ok);
    require_close(gc.name, "decoded", step_logits, gc.at("logits"));
}

TEST_CASE("every enc_, lm_ and llama_ golden file is covered by a model test", "[model][golden]") {
    namespace fs = std::filesystem;
    const fs::path dir(CTATTN_GOLDEN_DIR);
    INFO("golden folder " << dir);
    REQUIRE(fs::is_directory(dir));
    std::size_t found = 0;
    for (const auto& entry : fs::directory_iterator(dir)) {
        const std::string name = entry.path().filename().string();
        const bool ours = name.rfind("enc_", 0) == 0 || name.rfind("lm_", 0) == 0 || name.rfind("llama_", 0) == 0;
        if (!ours || entry.path().extension() != ".txt") continue;
        ++found;
        INFO("golden file " << name << " has no model test");
        CHECK(covered_cases.count(name) == 1);
    }
    REQUIRE(found == covered_cases.size());
}
