// SPDX-License-Identifier: Apache-2.0
// transformer_block against PyTorch's nn.TransformerEncoderLayer (shared/golden enc_*: dropout 0,
// d_ff = 4 d_model, LayerNorm eps 1e-5, causal mask, post-norm and pre-norm, ReLU and exact GELU).
// A missing file fails. Each case prints its largest errors for the release notes.
//
// Tolerance: inputs are rounded to float (6e-8 relative), then about eight chained float stages
// (Q/K/V projection, scores, softmax, aggregation, output projection, LayerNorm, two FFN
// projections of up to 4 d_model = 96 terms, LayerNorm) each add a few ulps times their length:
// ~8 * 100 * 6e-8 = 5e-5 of the magnitudes involved (a worst case; random rounding grows like
// sqrt(terms), and the measured errors are ~3e-7 of max|y|), so:
//   |y - y_gold| <= 1e-4 * |y_gold| + 5e-5 * max|y_gold|.
#include <catch2/catch.hpp>

#include <ctattn/layers/block.hpp>

#include <string>
#include <vector>

#include "../support/model_support.hpp"

namespace {

constexpr double relative_tolerance = 1e-4;
constexpr double scale_tolerance = 5e-5;

template <class Block>
void check_encoder_case(const std::string& file_name) {
    using namespace ctattn;
    using A = typename Block::attention;
    constexpr std::size_t D = Block::d_model, F = Block::d_ff, S = A::seq_capacity;
    const ctattn_test::golden_case gc = ctattn_test::load_golden(file_name);
    INFO("golden file " << file_name << " in " << CTATTN_GOLDEN_DIR);
    REQUIRE(gc.loaded);
    REQUIRE(gc.config_int("seq") == long(S));
    REQUIRE(gc.config_int("d_model") == long(D));
    REQUIRE(gc.config_int("heads") == long(A::heads));
    REQUIRE(gc.config_int("d_ff") == long(F));
    REQUIRE(gc.config_value("norm") == (Block::placement::norm_first ? "pre" : "post"));
    REQUIRE(gc.config_value("activation") == Block::ffn::activation::name);
    REQUIRE(gc.config_value("mask") == "causal");

    auto w = std::make_unique<block_weights<Block>>();
    ctattn_test::load_encoder_block(gc, "", *w);
    const auto& y = gc.at("y");
    double max_y = 0.0;
    for (std::size_t i = 0; i < y.size(); ++i) max_y = std::max(max_y, std::abs(y[i]));

    // Both attention cores: one query row at a time, and blocks of query rows (given its scratch;
    // it runs on vector arches, the scalar path keeps the one-row core).
    for (const bool with_blocked_scratch : {false, true}) {
        INFO("blocked attention scratch " << with_blocked_scratch);
        std::vector<float> x = gc.at("x").as_float();
        REQUIRE(x.size() == S * D);
        constexpr std::size_t key_stride = blocked_key_stride<S>;
        std::vector<float> k(S * A::kv_dim), v(S * A::kv_dim), normed(S * D), q(S * D), context(S * D),
            sublayer(S * D), hidden(S * F), scores(S), kt(A::head_dim * key_stride),
            block(blocked_tile_rows_max * key_stride);
        const block_buffers buffers{normed.data(),
                                    q.data(),
                                    context.data(),
                                    sublayer.data(),
                                    hidden.data(),
                                    nullptr,
                                    scores.data(),
                                    with_blocked_scratch ? kt.data() : nullptr,
                                    with_blocked_scratch ? block.data() : nullptr};
        transformer_block<Block, no_positions>::run(*w, S, 0, x.data(), k.data(), v.data(), buffers, {});

        const auto errors = ctattn_test::summarise(x.data(), y, y.size());
        ctattn_test::print_errors(gc.name, "y", errors);
        for (std::size_t i = 0; i < y.size(); ++i) {
            INFO("element " << i);
            REQUIRE(std::abs(x[i] - y[i]) <= relative_tolerance * std::abs(y[i]) + scale_tolerance * max_y);
        }
    }
}

}  // namespace

TEST_CASE("a post-norm ReLU encoder block matches PyTorch (enc_s8_e16_h4_relu_post)", "[model][golden][block]") {
    using namespace ctattn;
    using block = block_config<attention_config<16, 4, 4, 8, with_bias, causal_mask>, ffn_config<16, dense_ffn<relu>, 64>,
                               layer_norm<eps_1e_minus<5>>, post_norm>;
    check_encoder_case<block>("enc_s8_e16_h4_relu_post.txt");
}

TEST_CASE("a pre-norm GELU encoder block matches PyTorch (enc_s11_e24_h3_gelu_pre)", "[model][golden][block]") {
    using namespace ctattn;
    using block = block_config<attention_config<24, 3, 3, 11, with_bias, causal_mask>,
                               ffn_config<24, dense_ffn<gelu_erf>, 96>, layer_norm<eps_1e_minus<5>>, pre_norm>;
    check_encoder_case<block>("enc_s11_e24_h3_gelu_pre.txt");
}
