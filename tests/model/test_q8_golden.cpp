// SPDX-License-Identifier: Apache-2.0
// A whole model in the Q8 format against PyTorch's float logits (shared/golden llama_* case: RoPE,
// GQA, SwiGLU, untied head): the golden float weights are quantized by quantize_weights, the model
// runs forward and through the KV-cache decoder, and the logits must sit within what int8 rounding
// allows. Tolerance, from the quantization step: a Q8 product moves each weight by at most half its
// group's step (max|w| / 254) and each activation by half of its own (max|x| / 254), so to first
// order each quantized product's output moves by at most 2/254 = 1/127 of sum |w||x| <= its scale;
// the logits are reached through 7 quantized products per layer (Wq, Wk, Wv, Wo, W1, W3, W2) plus
// the head, and first-order errors add: tolerance (7 L + 1) / 127 of the largest logit. A wrong
// scale, group or transposition moves logits by their own size and fails.
#include <catch2/catch.hpp>

#include <ctattn/model/decoder.hpp>
#include <ctattn/model/quantize.hpp>
#include <ctattn/model/weights_image.hpp>

#include <cmath>
#include <memory>
#include <vector>

#include "../support/model_support.hpp"

namespace {
using namespace ctattn;
using image_block = block_config<attention_config<32, 4, 2, 10, no_bias, causal_mask>, ffn_config<32, swiglu, 88>,
                                 rms_norm<eps_1e_minus<5>>, pre_norm>;
using image_config = with_weight_format<stacked_model_config<64, 2, image_block, rotary_positions<10000>,
                                                             rms_norm<eps_1e_minus<5>>, untied_head<false>>,
                                        q8_weights<q8_group_rule<32, 32>>>;
// Hand count of the two images (G 32; hidden 88 padded to 96): floats are the norms (2 x 2 + 1 rows
// of 32, 16-float aligned) and the scales; codes are rows x row_codes, each tensor 64-byte aligned.
//   scales: embedding 64 x 1, per layer wq 32, wk 16, wv 16, wo 32, w1 88, w3 88, w2 32 x 3 = 96,
//           head 64 x 1 -> padded to 16: 64 + 2 x (32 + 16 + 16 + 32 + 96 + 96 + 96) + 64 = 896
//   norms:  5 x 32 = 160                                   -> 1056 floats
//   codes:  embedding 64 x 32 = 2048, per layer 1024 + 512 + 512 + 1024 + 2816 + 2816 + 3072 = 11776,
//           head 64 x 32 = 2048                            -> 2048 + 23552 + 2048 = 27648 codes
static_assert(weights_image_floats<image_config> == 1056);
static_assert(weights_image_codes<image_config> == 27648);
constexpr float zero_floats[weights_image_floats<image_config>]{};
constexpr std::int8_t zero_codes[weights_image_codes<image_config>]{};
constexpr model_weights_view<image_config> constant_view = make_weights_view<image_config>(zero_floats, zero_codes);
static_assert(constant_view.head.w_out.codes + 2048 == zero_codes + weights_image_codes<image_config>,
              "the head's codes end the code image");
}  // namespace

TEST_CASE("a Q8 llama model matches PyTorch's float logits within the int8 quantization step",
          "[model][golden][llama][q8]") {
    using namespace ctattn;
    using block = block_config<attention_config<32, 4, 2, 10, no_bias, causal_mask>, ffn_config<32, swiglu, 88>,
                               rms_norm<eps_1e_minus<5>>, pre_norm>;
    using float_config = stacked_model_config<64, 2, block, rotary_positions<10000>, rms_norm<eps_1e_minus<5>>,
                                              untied_head<false>>;
    // G: 32 for d_model 32, 8 for hidden 88 = 8 x 11 (q8_group_rule<32, 8>: a divisor, no padding);
    // the second configuration pads 88 to 96 in groups of 32 instead.
    using q8_config = with_weight_format<float_config, q8_weights<>>;
    using q8_padded_config = with_weight_format<float_config, q8_weights<q8_group_rule<32, 32>>>;
    static_assert(std::is_same_v<decltype(model_weights<q8_config>{}.layer<0>().ffn.w2), q8_matrix<88, 32, 8, 88>>);
    static_assert(std::is_same_v<decltype(model_weights<q8_padded_config>{}.layer<0>().ffn.w2), q8_matrix<88, 32, 32, 96>>);

    const ctattn_test::golden_case gc = ctattn_test::load_golden("llama_v64_s10_e32_h4_kv2_l2.txt");
    INFO("golden file in " << CTATTN_GOLDEN_DIR);
    REQUIRE(gc.loaded);
    auto w = ctattn_test::load_llama_two_layers<float_config>(gc);
    const std::vector<token_id> tokens = ctattn_test::golden_tokens(gc);
    REQUIRE(tokens.size() == 10);
    const auto& want = gc.at("logits");
    double max_want = 0.0;
    for (std::size_t i = 0; i < want.size(); ++i) max_want = std::max(max_want, std::abs(want[i]));
    const double tolerance = (7.0 * 2 + 1.0) / 127.0 * max_want;

    auto check = [&](auto config_tag, const char* label) {
        using config = typename decltype(config_tag)::type;
        using model = language_model<config>;
        auto q = std::make_unique<model_weights<config>>();
        quantize_weights(*w, *q);
        auto ws = std::make_unique<typename model::workspace_type>();
        std::vector<float> logits(10 * 64), decoded(10 * 64);
        REQUIRE(model::forward(*q, tokens.data(), 10, logits.data(), *ws) == status::ok);
        auto dec = std::make_unique<decoder<config>>(*q);
        for (std::size_t p = 0; p < 10; ++p) REQUIRE(dec->decode_step(tokens[p], decoded.data() + p * 64) == status::ok);
        const auto forward_errors = ctattn_test::summarise(logits.data(), want, want.size());
        const auto decode_errors = ctattn_test::summarise(decoded.data(), want, want.size());
        ctattn_test::print_errors(gc.name + label, "logits", forward_errors);
        ctattn_test::print_errors(gc.name + label, "decoded", decode_errors);
        INFO(label << ": tolerance " << tolerance << " (15/127 of the largest logit " << max_want << ")");
        CHECK(forward_errors.max_abs <= tolerance);
        CHECK(decode_errors.max_abs <= tolerance);
        // The same kernels per row either way; only the float attention's summation order differs.
        const auto paths = ctattn_test::summarise(decoded.data(), logits, logits.size());
        CHECK(paths.norm <= 1e-4);
    };
    check(boost::hana::type_c<q8_config>, " q8");

    // The same Q8 weights as two images (floats: norms and scales; int8: codes), read in place by a
    // view (what a flash build or a blob holds) must give bit-identical logits.
    auto q = std::make_unique<model_weights<q8_config>>();
    quantize_weights(*w, *q);
    std::vector<float> image(weights_image_floats<q8_config>, -7.0f);
    std::vector<std::int8_t> codes(weights_image_codes<q8_config>, std::int8_t(-7));
    write_weights_image(*q, image.data(), codes.data());
    const model_weights_view<q8_config> view = make_weights_view<q8_config>(image.data(), codes.data());
    auto owned_dec = std::make_unique<decoder<q8_config>>(*q);
    auto view_dec = std::make_unique<decoder<q8_config, viewed_weights>>(view);
    std::vector<float> owned_logits(64), view_logits(64);
    for (std::size_t p = 0; p < 10; ++p) {
        REQUIRE(owned_dec->decode_step(tokens[p], owned_logits.data()) == status::ok);
        REQUIRE(view_dec->decode_step(tokens[p], view_logits.data()) == status::ok);
        for (std::size_t t = 0; t < 64; ++t) REQUIRE(view_logits[t] == owned_logits[t]);
    }
    check(boost::hana::type_c<q8_padded_config>, " q8 padded");
}
