// SPDX-License-Identifier: Apache-2.0
// The int8 flash weights tools/ctattn_gen.py writes (configs/stories260k_q8.json, "weight_format":
// q8) against the library's own quantization of the same checkpoint (llama2c::load into the Q8
// configuration, then write_weights_image): the float image (norms, scales) and the int8 code
// image must be equal bit for bit, so the Python rounding is the C++ rounding; and a decoder reading
// the generated arrays in place must give the owned weights' logits exactly. The same model as a
// validated blob (format version 2, ctattn_gen.py --blob): views and loads to the same weights, and
// damaged scales are rejected by name; a version-1 (float) blob is still read.
#include <catch2/catch.hpp>

#include <ctattn/io/blob.hpp>
#include <ctattn/io/llama2c.hpp>
#include <ctattn/model/decoder.hpp>
#include <ctattn/model/weights_image.hpp>

#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>
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
using stories_float =
    stacked_model_config<512, 5, stories_block, rotary_positions<10000>, rms_norm<eps_1e_minus<5>>, tied_head>;
using stories_q8 = with_weight_format<stories_float, q8_weights<q8_group_rule<32, 8>>>;

std::vector<unsigned char> read_file(const char* path) {
    std::ifstream file(path, std::ios::binary);
    INFO("reading " << path);
    REQUIRE(file.good());
    return {std::istreambuf_iterator<char>(file), std::istreambuf_iterator<char>()};
}

void put_u32(std::vector<unsigned char>& b, std::size_t at, std::uint32_t v) {
    for (int i = 0; i < 4; ++i) b[at + std::size_t(i)] = static_cast<unsigned char>(v >> (8 * i));
}
void put_f32(std::vector<unsigned char>& b, std::size_t at, float f) {
    std::uint32_t u;
    std::memcpy(&u, &f, 4);
    put_u32(b, at, u);
}
// Recomputes the payload and header CRCs after an edit (docs/formats.md: header bytes 48 and 52).
void reseal(std::vector<unsigned char>& b) {
    const std::size_t table_end = blob::header_bytes + std::size_t(io::read_u32_le(&b[24])) * blob::entry_bytes;
    const std::size_t payload_offset = std::size_t(io::read_u64_le(&b[32]));
    const std::size_t payload_bytes = std::size_t(io::read_u64_le(&b[40]));
    put_u32(b, 48, blob::crc32(b.data() + payload_offset, payload_bytes));
    put_u32(b, 52, blob::crc32_update(blob::crc32(b.data(), 52), b.data() + 56, table_end - 56));
}

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

TEST_CASE("a Q8 blob (format version 2) views and loads to llama2c::load's weights, and bad scales are rejected by name",
          "[q8][blob]") {
    const std::vector<unsigned char> checkpoint = read_file(CTATTN_STORIES260K);
    auto owned = std::make_unique<model_weights<stories_q8>>();
    REQUIRE(llama2c::load<stories_q8>(checkpoint.data(), checkpoint.size(), *owned) == status::ok);

    const std::vector<unsigned char> good = read_file(CTATTN_STORIES260K_Q8_BLOB);
    REQUIRE(io::read_u32_le(&good[8]) == blob::format_version);
    auto loaded = std::make_unique<model_weights<stories_q8>>();
    REQUIRE(blob::load<stories_q8>(good.data(), good.size(), *loaded) == status::ok);
    CHECK(std::memcmp(loaded.get(), owned.get(), sizeof(model_weights<stories_q8>)) == 0);
    model_weights_view<stories_q8> viewed;
    REQUIRE(blob::view<stories_q8>(good.data(), good.size(), viewed) == status::ok);
    auto from_blob = std::make_unique<decoder<stories_q8, viewed_weights>>(viewed);
    auto from_ram = std::make_unique<decoder<stories_q8>>(*owned);
    std::vector<float> blob_logits(512), ram_logits(512);
    for (token_id token : {1u, 461u, 401u, 378u}) {
        REQUIRE(from_blob->decode_step(token, blob_logits.data()) == status::ok);
        REQUIRE(from_ram->decode_step(token, ram_logits.data()) == status::ok);
        REQUIRE(std::memcmp(blob_logits.data(), ram_logits.data(), 512 * sizeof(float)) == 0);
    }
    // The float configuration of the same model is another configuration.
    model_weights_view<stories_float> float_view;
    CHECK(blob::view<stories_float>(good.data(), good.size(), float_view) == status::config_mismatch);

    // Entry 0 is the embedding's scales (offset 0 in the payload), entry 1 its codes; group 0 of
    // row 0 is scale 0 and codes 0..31.
    const std::size_t payload = std::size_t(io::read_u64_le(&good[32]));
    const std::size_t codes = payload + std::size_t(io::read_u64_le(&good[64 + blob::entry_bytes + 8]));
    REQUIRE(io::read_u32_le(&good[64 + 24]) == blob::layout_q8_scales);
    REQUIRE(io::read_u32_le(&good[64 + blob::entry_bytes + 24]) == blob::layout_q8_codes);
    struct damage {
        const char* what;
        void (*apply)(std::vector<unsigned char>&, std::size_t payload, std::size_t codes);
        status expected;
    };
    const damage cases[] = {
        {"a NaN scale", [](auto& b, auto p, auto) { put_f32(b, p, std::numeric_limits<float>::quiet_NaN()); },
         status::non_finite},
        {"an infinite scale", [](auto& b, auto p, auto) { put_f32(b, p, INFINITY); }, status::non_finite},
        {"a negative scale", [](auto& b, auto p, auto) { put_f32(b, p, -0.01f); }, status::format_error},
        {"a zero scale over non-zero codes", [](auto& b, auto p, auto) { put_f32(b, p, 0.0f); }, status::format_error},
        {"a zero scale over zero codes (an all-zero group) is fine",
         [](auto& b, auto p, auto c) {
             put_f32(b, p, 0.0f);
             for (std::size_t i = 0; i < 32; ++i) b[c + i] = 0;
         },
         status::ok},
        {"a code byte changed without resealing", [](auto& b, auto, auto c) { b[c + 3] ^= 1; }, status::checksum_mismatch},
    };
    for (const damage& d : cases) {
        std::vector<unsigned char> v = good;
        d.apply(v, payload, codes);
        if (d.expected != status::checksum_mismatch) reseal(v);
        INFO(d.what);
        model_weights_view<stories_q8> w;
        CHECK(blob::view<stories_q8>(v.data(), v.size(), w) == d.expected);
    }

    // Version 1 blobs (float tensors only) are still read: the build's float stories260K blob as version 1.
    std::vector<unsigned char> float_blob = read_file(CTATTN_STORIES260K_BLOB);
    put_u32(float_blob, 8, 1);
    reseal(float_blob);
    CHECK(blob::view<stories_float>(float_blob.data(), float_blob.size(), float_view) == status::ok);
}
