// SPDX-License-Identifier: Apache-2.0
// The int8 flash weights tools/ctattn_gen.py writes (configs/stories260k_q8.json, "weight_format":
// q8) against the library's own quantization of the same checkpoint (llama2c::load into the Q8
// configuration, then write_weights_image): the float image (norms, scales) and the int8 code
// image must be equal bit for bit, so the Python rounding is the C++ rounding; and a decoder reading
// the generated arrays in place must give the owned weights' logits exactly.
#include <catch2/catch.hpp>

#include <ctattn/io/llama2c.hpp>
#include <ctattn/model/decoder.hpp>
#include <ctattn/model/weights_image.hpp>

#include <cstring>
#include <fstream>
#include <iterator>
#include <memory>
#include <vector>

#include "ctattn_stories260k_q8_weights.h"

#ifndef CTATTN_STORIES260K
#define CTATTN_STORIES260K "../shared/models/stories260K.bin"
#endif

namespace {

using namespace ctattn;

using stories_attention = attention_config<64, 8, 4, 64, no_bias, causal_mask>;
using stories_block = block_config<stories_attention, ffn_config<64, swiglu, 172>, rms_norm<eps_1e_minus<5>>, pre_norm>;
using stories_q8 = with_weight_format<
    stacked_model_config<512, 5, stories_block, rotary_positions<10000>, rms_norm<eps_1e_minus<5>>, tied_head>,
    q8_weights<q8_group_rule<32, 8>>>;

static_assert(weights_image_floats<stories_q8> == CTATTN_STORIES260K_Q8_WEIGHTS_FLOATS,
              "the generator's float image has the library's size");
static_assert(weights_image_codes<stories_q8> == CTATTN_STORIES260K_Q8_WEIGHT_CODES,
              "the generator's code image has the library's size");
constexpr model_weights_view<stories_q8> flash_weights =
    make_weights_view<stories_q8>(ctattn_stories260k_q8_weights, ctattn_stories260k_q8_weight_codes);

}  // namespace

TEST_CASE("the Q8 weights header ctattn_gen.py writes equals llama2c::load's quantization bit for bit",
          "[q8][generated]") {
    std::ifstream file(CTATTN_STORIES260K, std::ios::binary);
    REQUIRE(file.good());
    const std::vector<unsigned char> bytes{std::istreambuf_iterator<char>(file), std::istreambuf_iterator<char>()};
    auto owned = std::make_unique<model_weights<stories_q8>>();
    REQUIRE(llama2c::load<stories_q8>(bytes.data(), bytes.size(), *owned) == status::ok);

    std::vector<float> floats(weights_image_floats<stories_q8>);
    std::vector<std::int8_t> codes(weights_image_codes<stories_q8>);
    write_weights_image(*owned, floats.data(), codes.data());
    std::size_t float_mismatches = 0, code_mismatches = 0;
    for (std::size_t i = 0; i < floats.size(); ++i)
        float_mismatches += std::memcmp(&floats[i], &ctattn_stories260k_q8_weights[i], sizeof(float)) != 0;
    for (std::size_t i = 0; i < codes.size(); ++i) code_mismatches += codes[i] != ctattn_stories260k_q8_weight_codes[i];
    CHECK(float_mismatches == 0);
    CHECK(code_mismatches == 0);

    auto from_flash = std::make_unique<decoder<stories_q8, viewed_weights>>(flash_weights);
    auto from_ram = std::make_unique<decoder<stories_q8>>(*owned);
    std::vector<float> flash_logits(512), ram_logits(512);
    token_id token = 1;
    for (int step = 0; step < 24; ++step) {
        REQUIRE(from_flash->decode_step(token, flash_logits.data()) == status::ok);
        REQUIRE(from_ram->decode_step(token, ram_logits.data()) == status::ok);
        REQUIRE(std::memcmp(flash_logits.data(), ram_logits.data(), 512 * sizeof(float)) == 0);
        std::size_t best = 0;
        for (std::size_t t = 1; t < 512; ++t) best = ram_logits[t] > ram_logits[best] ? t : best;
        token = token_id(best);
    }
}
