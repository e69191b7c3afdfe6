// SPDX-License-Identifier: Apache-2.0
// tools/ctattn_gen.py beyond llama: the C API it generates (at build time, from
// tests/c_api/every_tensor.json) for a model with every optional tensor and policy (learned
// positions, LayerNorm with biases, post- and pre-norm layers that differ, a sliding window, dense
// and gated FFNs with biases, an untied head with a bias) over random weights given as an image
// (_init_with_weights), against language_model<config>::forward over the owned weights the image
// was written from. Compiling ctattn_every_tensor.cpp already checked the generator's image size
// and state size against the C++ types (static_asserts); this checks the numbers. Tolerance:
// separate translation units may contract a*b+c differently (test_decode.cpp): 3e-5 * max|logit|.
#include <catch2/catch.hpp>

#include <ctattn/model/decoder.hpp>
#include <ctattn/model/weights_image.hpp>
#include <ctattn_every_tensor.h>
#include <ctattn_every_tensor_config.hpp>

#include <algorithm>
#include <cstdint>
#include <cmath>
#include <memory>
#include <vector>

#include "../support/model_support.hpp"

namespace {
using config = ctattn_gen::every_tensor::config;
constexpr std::size_t V = CTATTN_EVERY_TENSOR_VOCAB, S = CTATTN_EVERY_TENSOR_SEQ_CAPACITY;
ctattn_every_tensor_state state;
}  // namespace

TEST_CASE("a generated C API for every optional tensor computes what the C++ model computes", "[c_api]") {
    static_assert(std::is_same_v<config::position, ctattn::learned_positions>);
    static_assert(std::is_same_v<config::block<1>::mask, ctattn::sliding_window_mask<4>>);
    const auto owned = ctattn_test::random_model<config>(77);
    std::vector<float> image(CTATTN_EVERY_TENSOR_WEIGHTS_FLOATS);
    ctattn::write_weights_image(*owned, image.data());
    REQUIRE(ctattn_every_tensor_init_with_weights(&state, image.data(), image.size()) == CTATTN_EVERY_TENSOR_OK);

    const std::vector<ctattn::token_id> tokens = ctattn_test::random_tokens(S, V, 78);
    std::vector<float> got(S * V, -1.0f);
    REQUIRE(ctattn_every_tensor_forward(&state, tokens.data(), S, got.data()) == CTATTN_EVERY_TENSOR_OK);

    using model = ctattn::language_model<config>;
    auto ws = std::make_unique<model::workspace_type>();
    std::vector<float> want(S * V);
    REQUIRE(model::forward(*owned, tokens.data(), S, want.data(), *ws) == ctattn::status::ok);
    double max_want = 0.0, max_err = 0.0;
    for (std::size_t i = 0; i < want.size(); ++i) {
        max_want = std::max(max_want, double(std::abs(want[i])));
        max_err = std::max(max_err, double(std::abs(got[i] - want[i])));
    }
    INFO("largest |C API - C++ forward| " << max_err << ", max |logit| " << max_want);
    CHECK(max_want > 0.0);
    CHECK(max_err <= 3e-5 * max_want);
    // No built-in weights without a checkpoint: init says so by name and the state stays unusable.
    static ctattn_every_tensor_state no_weights;
    CHECK(ctattn_every_tensor_has_builtin_weights() == 0);
    CHECK(ctattn_every_tensor_init(&no_weights) == CTATTN_EVERY_TENSOR_NO_BUILTIN_WEIGHTS);
    CHECK(ctattn_every_tensor_decode_step(&no_weights, 0, got.data()) == CTATTN_EVERY_TENSOR_NOT_INITIALISED);
}

// This test and the library are built with -fsanitize=alignment where the toolchain has it
// (tests/c_api/meson.build): a load through a misaligned state pointer aborts the test.
TEST_CASE("a misaligned state is refused by name without reading through it", "[c_api]") {
    alignas(64) static unsigned char raw[sizeof(ctattn_every_tensor_state) + 64];
    std::vector<float> image(CTATTN_EVERY_TENSOR_WEIGHTS_FLOATS, 0.0f);
    std::vector<float> logits(V, 5.0f);
    for (const std::size_t offset : {std::size_t(4), std::size_t(8), std::size_t(32)}) {
        INFO("state at 64-byte boundary + " << offset);
        auto* misaligned = reinterpret_cast<ctattn_every_tensor_state*>(raw + offset);
        CHECK(ctattn_every_tensor_init(misaligned) == CTATTN_EVERY_TENSOR_MISALIGNED);
        CHECK(ctattn_every_tensor_init_with_weights(misaligned, image.data(), image.size()) ==
              CTATTN_EVERY_TENSOR_MISALIGNED);
        CHECK(ctattn_every_tensor_decode_step(misaligned, 0, logits.data()) == CTATTN_EVERY_TENSOR_MISALIGNED);
        const std::uint32_t token = 0;
        CHECK(ctattn_every_tensor_prefill(misaligned, &token, 1, logits.data()) == CTATTN_EVERY_TENSOR_MISALIGNED);
        CHECK(ctattn_every_tensor_forward(misaligned, &token, 1, logits.data()) == CTATTN_EVERY_TENSOR_MISALIGNED);
        CHECK(ctattn_every_tensor_reset(misaligned) == CTATTN_EVERY_TENSOR_MISALIGNED);
        CHECK(ctattn_every_tensor_position(misaligned) == 0);
    }
    CHECK(logits == std::vector<float>(V, 5.0f));
}
