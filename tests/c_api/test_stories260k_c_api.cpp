// SPDX-License-Identifier: Apache-2.0
// generated/stories260k's C API against the C++ library it wraps:
//   the weights image tools/ctattn_gen.py wrote (Python: read the llama2.c file, transpose,
//   pad) equals, float for float, the image C++ writes from llama2c::load's owned weights
//   (write_weights_image): an independent implementation of the same layout;
//   the C functions' logits equal a C++ decoder's over the owned weights (same kernels, but the
//   library is its own translation unit, built with its own flags: tolerance 3e-5 * max|logit| as
//   in test_decode.cpp, and the greedy argmax must agree);
//   _forward equals _prefill + _decode_step bit for bit; _init_with_weights over a caller's image
//   equals the built-in weights bit for bit;
//   every error returns its status and changes nothing (position, logits).
#include <catch2/catch.hpp>

#include <ctattn/model/decoder.hpp>
#include <ctattn/io/llama2c.hpp>
#include <ctattn/model/weights_image.hpp>
#include <ctattn_stories260k.h>
#include <ctattn_stories260k_config.hpp>
#include <ctattn_stories260k_weights.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <fstream>
#include <iterator>
#include <limits>
#include <memory>
#include <vector>

#ifndef CTATTN_STORIES260K
#define CTATTN_STORIES260K "../shared/models/stories260K.bin"
#endif

namespace {

using config = ctattn_gen::stories260k::config;
constexpr std::size_t V = CTATTN_STORIES260K_VOCAB;

const ctattn::model_weights<config>& owned_weights() {
    static const auto weights = [] {
        std::ifstream in(CTATTN_STORIES260K, std::ios::binary);
        const std::vector<unsigned char> bytes{std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
        auto w = std::make_unique<ctattn::model_weights<config>>();
        REQUIRE(ctattn::llama2c::load<config>(bytes.data(), bytes.size(), *w) == ctattn::status::ok);
        return w;
    }();
    return *weights;
}

ctattn_stories260k_state state;  // 661 KB: static, as on a device
ctattn_stories260k_state other_state;

std::vector<ctattn::token_id> prompt() {
    std::vector<ctattn::token_id> tokens{1};
    for (std::uint32_t i = 1; i < 40; ++i) tokens.push_back((i * 97u + 13u) % V);
    return tokens;
}

}  // namespace

TEST_CASE("the generated weights array equals the image C++ writes from llama2c::load", "[c_api]") {
    std::vector<float> image(CTATTN_STORIES260K_WEIGHTS_FLOATS, -1.0f);
    ctattn::write_weights_image(owned_weights(), image.data());
    REQUIRE(sizeof(ctattn_stories260k_weights) == image.size() * sizeof(float));
    CHECK(std::memcmp(image.data(), ctattn_stories260k_weights, sizeof(ctattn_stories260k_weights)) == 0);
}

TEST_CASE("the C API decodes like the C++ decoder over owned weights", "[c_api]") {
    REQUIRE(ctattn_stories260k_init(&state) == CTATTN_STORIES260K_OK);
    REQUIRE(ctattn_stories260k_position(&state) == 0);
    const std::vector<ctattn::token_id> tokens = prompt();
    const std::size_t n = tokens.size();

    std::vector<float> c_logits(n * V, -1.0f);
    REQUIRE(ctattn_stories260k_forward(&state, tokens.data(), n, c_logits.data()) == CTATTN_STORIES260K_OK);
    REQUIRE(ctattn_stories260k_position(&state) == n);

    auto reference = std::make_unique<ctattn::decoder<config>>(owned_weights());
    std::vector<float> want(n * V);
    for (std::size_t p = 0; p < n; ++p)
        REQUIRE(reference->decode_step(tokens[p], want.data() + p * V) == ctattn::status::ok);
    double max_want = 0.0, max_err = 0.0;
    for (std::size_t i = 0; i < want.size(); ++i) {
        max_want = std::max(max_want, double(std::abs(want[i])));
        max_err = std::max(max_err, double(std::abs(c_logits[i] - want[i])));
    }
    INFO("largest |C API - C++ decoder| " << max_err << ", max |logit| " << max_want);
    CHECK(max_err <= 3e-5 * max_want);
    for (std::size_t p = 0; p < n; ++p) {
        const float* got = c_logits.data() + p * V;
        const float* ref = want.data() + p * V;
        CHECK(std::max_element(got, got + V) - got == std::max_element(ref, ref + V) - ref);
    }

    // prefill + decode_step give forward's rows bit for bit (the same library code).
    std::vector<float> stepped(n * V, -2.0f);
    REQUIRE(ctattn_stories260k_reset(&state) == CTATTN_STORIES260K_OK);
    REQUIRE(ctattn_stories260k_position(&state) == 0);
    REQUIRE(ctattn_stories260k_prefill(&state, tokens.data(), 1, stepped.data()) == CTATTN_STORIES260K_OK);
    for (std::size_t p = 1; p < n; ++p)
        REQUIRE(ctattn_stories260k_decode_step(&state, tokens[p], stepped.data() + p * V) == CTATTN_STORIES260K_OK);
    CHECK(std::memcmp(stepped.data(), c_logits.data(), stepped.size() * sizeof(float)) == 0);

    // A caller's image (here written by C++) read in place gives the built-in weights' logits.
    std::vector<float> image(CTATTN_STORIES260K_WEIGHTS_FLOATS);
    ctattn::write_weights_image(owned_weights(), image.data());
    REQUIRE(ctattn_stories260k_init_with_weights(&other_state, image.data(), image.size()) == CTATTN_STORIES260K_OK);
    std::vector<float> from_image(n * V, -3.0f);
    REQUIRE(ctattn_stories260k_forward(&other_state, tokens.data(), n, from_image.data()) == CTATTN_STORIES260K_OK);
    CHECK(std::memcmp(from_image.data(), c_logits.data(), c_logits.size() * sizeof(float)) == 0);
}

TEST_CASE("C API errors return their status and change nothing", "[c_api]") {
    std::vector<float> logits(V, 7.0f);
    const std::vector<float> untouched = logits;
    const std::uint32_t bos = CTATTN_STORIES260K_BOS_TOKEN;

    // No state, a state init never saw, a wrong image length: each its own status.
    static ctattn_stories260k_state zeroed;
    CHECK(ctattn_stories260k_init(nullptr) == CTATTN_STORIES260K_NULL_POINTER);
    CHECK(ctattn_stories260k_decode_step(nullptr, bos, logits.data()) == CTATTN_STORIES260K_NULL_POINTER);
    CHECK(ctattn_stories260k_decode_step(&zeroed, bos, logits.data()) == CTATTN_STORIES260K_NOT_INITIALISED);
    CHECK(ctattn_stories260k_prefill(&zeroed, &bos, 1, logits.data()) == CTATTN_STORIES260K_NOT_INITIALISED);
    CHECK(ctattn_stories260k_forward(&zeroed, &bos, 1, logits.data()) == CTATTN_STORIES260K_NOT_INITIALISED);
    CHECK(ctattn_stories260k_reset(&zeroed) == CTATTN_STORIES260K_NOT_INITIALISED);
    CHECK(ctattn_stories260k_position(&zeroed) == 0);
    constexpr std::size_t one_short = CTATTN_STORIES260K_WEIGHTS_FLOATS - 1;
    CHECK(ctattn_stories260k_init_with_weights(&zeroed, ctattn_stories260k_weights, one_short) ==
          CTATTN_STORIES260K_INVALID_LENGTH);
    CHECK(ctattn_stories260k_init_with_weights(&zeroed, nullptr, CTATTN_STORIES260K_WEIGHTS_FLOATS) ==
          CTATTN_STORIES260K_NULL_POINTER);
    CHECK(ctattn_stories260k_decode_step(&zeroed, bos, logits.data()) == CTATTN_STORIES260K_NOT_INITIALISED);
    // Six causes, six different strings.
    const ctattn_stories260k_status causes[] = {CTATTN_STORIES260K_NULL_POINTER, CTATTN_STORIES260K_NOT_INITIALISED,
                                                CTATTN_STORIES260K_MISALIGNED, CTATTN_STORIES260K_NO_BUILTIN_WEIGHTS,
                                                CTATTN_STORIES260K_CAPACITY_MISMATCH,
                                                CTATTN_STORIES260K_STATE_SIZE_MISMATCH};
    for (const auto a : causes)
        for (const auto b : causes)
            if (a != b)
                CHECK(std::strcmp(ctattn_stories260k_status_string(a), ctattn_stories260k_status_string(b)) != 0);

    REQUIRE(ctattn_stories260k_init(&state) == CTATTN_STORIES260K_OK);
    REQUIRE(ctattn_stories260k_prefill(&state, &bos, 1, nullptr) == CTATTN_STORIES260K_OK);
    CHECK(ctattn_stories260k_decode_step(&state, V, logits.data()) == CTATTN_STORIES260K_INVALID_TOKEN);
    CHECK(ctattn_stories260k_decode_step(&state, bos, nullptr) == CTATTN_STORIES260K_NULL_POINTER);
    CHECK(ctattn_stories260k_prefill(&state, &bos, 0, logits.data()) == CTATTN_STORIES260K_INVALID_LENGTH);
    const std::uint32_t tokens[2] = {bos, V + 5};
    CHECK(ctattn_stories260k_prefill(&state, tokens, 2, logits.data()) == CTATTN_STORIES260K_INVALID_TOKEN);
    CHECK(ctattn_stories260k_forward(&state, tokens, 0, logits.data()) == CTATTN_STORIES260K_INVALID_LENGTH);
    CHECK(ctattn_stories260k_forward(&state, tokens, 2, logits.data()) == CTATTN_STORIES260K_INVALID_TOKEN);
    CHECK(ctattn_stories260k_forward(&state, tokens, CTATTN_STORIES260K_SEQ_CAPACITY + 1, logits.data()) ==
          CTATTN_STORIES260K_INVALID_LENGTH);
    CHECK(ctattn_stories260k_position(&state) == 1);
    CHECK(logits == untouched);

    // A full cache refuses one more token.
    std::vector<std::uint32_t> fill(CTATTN_STORIES260K_SEQ_CAPACITY - 1, 5u);
    REQUIRE(ctattn_stories260k_prefill(&state, fill.data(), fill.size(), nullptr) == CTATTN_STORIES260K_OK);
    CHECK(ctattn_stories260k_position(&state) == CTATTN_STORIES260K_SEQ_CAPACITY);
    CHECK(ctattn_stories260k_decode_step(&state, bos, logits.data()) == CTATTN_STORIES260K_CACHE_FULL);
    CHECK(logits == untouched);

    CHECK(std::strcmp(ctattn_stories260k_status_string(CTATTN_STORIES260K_CACHE_FULL),
                      ctattn::to_string(ctattn::status::cache_full)) == 0);
    CHECK(std::strcmp(ctattn_stories260k_status_string(CTATTN_STORIES260K_OK), "ok") == 0);
}

namespace {
// Logits after `n` prompt tokens and one more, on a fresh state with the built-in weights.
std::vector<float> reference_next_logits(const std::vector<ctattn::token_id>& tokens, std::size_t n) {
    static ctattn_stories260k_state fresh;
    REQUIRE(ctattn_stories260k_init(&fresh) == CTATTN_STORIES260K_OK);
    REQUIRE(ctattn_stories260k_prefill(&fresh, tokens.data(), n, nullptr) == CTATTN_STORIES260K_OK);
    std::vector<float> logits(V);
    REQUIRE(ctattn_stories260k_decode_step(&fresh, tokens[n], logits.data()) == CTATTN_STORIES260K_OK);
    return logits;
}
std::vector<float> logits_after(ctattn_stories260k_state* s, ctattn::token_id token) {
    std::vector<float> logits(V, -9.0f);
    REQUIRE(ctattn_stories260k_decode_step(s, token, logits.data()) == CTATTN_STORIES260K_OK);
    return logits;
}
}  // namespace

TEST_CASE("a copied state decodes on its own after the original is re-initialised or wiped", "[c_api]") {
    const std::vector<ctattn::token_id> tokens = prompt();
    const std::vector<float> want = reference_next_logits(tokens, 6);
    static ctattn_stories260k_state original, copy;

    // Copy, then give the original other weights (an image of halved weights): the copy keeps the
    // built-in ones and its six cached positions.
    REQUIRE(ctattn_stories260k_init(&original) == CTATTN_STORIES260K_OK);
    REQUIRE(ctattn_stories260k_prefill(&original, tokens.data(), 6, nullptr) == CTATTN_STORIES260K_OK);
    copy = original;
    static std::vector<float> halved(ctattn_stories260k_weights, ctattn_stories260k_weights + CTATTN_STORIES260K_WEIGHTS_FLOATS);
    for (float& w : halved) w *= 0.5f;
    REQUIRE(ctattn_stories260k_init_with_weights(&original, halved.data(), halved.size()) == CTATTN_STORIES260K_OK);
    CHECK(ctattn_stories260k_position(&copy) == 6);
    CHECK(logits_after(&copy, tokens[6]) == want);

    // Copy, then wipe the original (as if its memory were freed and reused): the copy still works.
    REQUIRE(ctattn_stories260k_init(&original) == CTATTN_STORIES260K_OK);
    REQUIRE(ctattn_stories260k_prefill(&original, tokens.data(), 6, nullptr) == CTATTN_STORIES260K_OK);
    copy = original;
    std::memset(&original, 0, sizeof original);
    CHECK(logits_after(&copy, tokens[6]) == want);
    CHECK(ctattn_stories260k_decode_step(&original, tokens[6], std::vector<float>(V).data()) ==
          CTATTN_STORIES260K_NOT_INITIALISED);

    // And the original goes on unaffected by calls on its copy.
    REQUIRE(ctattn_stories260k_init(&original) == CTATTN_STORIES260K_OK);
    REQUIRE(ctattn_stories260k_prefill(&original, tokens.data(), 6, nullptr) == CTATTN_STORIES260K_OK);
    copy = original;
    REQUIRE(ctattn_stories260k_reset(&copy) == CTATTN_STORIES260K_OK);
    CHECK(ctattn_stories260k_position(&original) == 6);
    CHECK(logits_after(&original, tokens[6]) == want);
}

TEST_CASE("init refuses a caller compiled with another SEQ_CAPACITY or state size, by name", "[c_api]") {
    static ctattn_stories260k_state s;
    REQUIRE(ctattn_stories260k_init(&s) == CTATTN_STORIES260K_OK);
    const std::uint32_t bos = CTATTN_STORIES260K_BOS_TOKEN;
    REQUIRE(ctattn_stories260k_prefill(&s, &bos, 1, nullptr) == CTATTN_STORIES260K_OK);
    // What ctattn_stories260k_init(&s) passes from a caller built with -DCTATTN_STORIES260K_SEQ_CAPACITY=64u
    // (its state 64/512 the size): the library, built with 512, would write past it.
    CHECK(ctattn_stories260k_init_checked(&s, sizeof s / 8, 64) == CTATTN_STORIES260K_CAPACITY_MISMATCH);
    CHECK(ctattn_stories260k_init_checked(&s, sizeof s, CTATTN_STORIES260K_SEQ_CAPACITY + 1) ==
          CTATTN_STORIES260K_CAPACITY_MISMATCH);
    CHECK(ctattn_stories260k_init_checked(&s, sizeof s - 64, CTATTN_STORIES260K_SEQ_CAPACITY) ==
          CTATTN_STORIES260K_STATE_SIZE_MISMATCH);
    CHECK(ctattn_stories260k_init_with_weights_checked(&s, ctattn_stories260k_weights, CTATTN_STORIES260K_WEIGHTS_FLOATS,
                                                       sizeof s, 64) == CTATTN_STORIES260K_CAPACITY_MISMATCH);
    CHECK(ctattn_stories260k_init_with_blob_checked(&s, ctattn_stories260k_weights, 64, sizeof s + 64,
                                                    CTATTN_STORIES260K_SEQ_CAPACITY) ==
          CTATTN_STORIES260K_STATE_SIZE_MISMATCH);
    // Refused without a change: the state still holds its one position.
    CHECK(ctattn_stories260k_position(&s) == 1);
    CHECK(ctattn_stories260k_has_builtin_weights() == 1);
}

TEST_CASE("init_with_weights refuses a non-finite, misaligned or short image by name and changes nothing", "[c_api]") {
    static ctattn_stories260k_state s;
    REQUIRE(ctattn_stories260k_init(&s) == CTATTN_STORIES260K_OK);
    const std::uint32_t bos = CTATTN_STORIES260K_BOS_TOKEN;
    REQUIRE(ctattn_stories260k_prefill(&s, &bos, 1, nullptr) == CTATTN_STORIES260K_OK);

    std::vector<float> image(ctattn_stories260k_weights, ctattn_stories260k_weights + CTATTN_STORIES260K_WEIGHTS_FLOATS);
    for (const std::size_t at : {std::size_t(0), std::size_t(12345), image.size() - 1}) {
        for (const float bad : {std::numeric_limits<float>::quiet_NaN(), std::numeric_limits<float>::infinity(),
                                -std::numeric_limits<float>::infinity()}) {
            INFO("float " << at << " = " << bad);
            const float kept = image[at];
            image[at] = bad;
            CHECK(ctattn_stories260k_init_with_weights(&s, image.data(), image.size()) == CTATTN_STORIES260K_NON_FINITE);
            image[at] = kept;
        }
    }
    std::vector<float> all_nan(image.size(), std::numeric_limits<float>::quiet_NaN());
    CHECK(ctattn_stories260k_init_with_weights(&s, all_nan.data(), all_nan.size()) == CTATTN_STORIES260K_NON_FINITE);

    // The same image 2 bytes past a float boundary (the bytes copied, so only the alignment is wrong).
    std::vector<float> storage(image.size() + 1);
    auto* shifted_bytes = reinterpret_cast<unsigned char*>(storage.data()) + 2;
    std::memcpy(shifted_bytes, image.data(), image.size() * sizeof(float));
    CHECK(ctattn_stories260k_init_with_weights(&s, reinterpret_cast<const float*>(shifted_bytes), image.size()) ==
          CTATTN_STORIES260K_MISALIGNED);

    CHECK(ctattn_stories260k_position(&s) == 1);
    REQUIRE(ctattn_stories260k_init_with_weights(&s, image.data(), image.size()) == CTATTN_STORIES260K_OK);
    CHECK(ctattn_stories260k_position(&s) == 0);
}

#ifdef CTATTN_STORIES260K_BLOB
TEST_CASE("a blob is validated in place from C and decodes like the built-in weights", "[c_api]") {
    std::ifstream in(CTATTN_STORIES260K_BLOB, std::ios::binary);
    const std::vector<unsigned char> file{std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
    REQUIRE(file.size() > 64);
    // 64-byte aligned, as a firmware's buffer would be.
    static std::vector<unsigned char> storage;
    storage.assign(file.size() + 128, 0);
    unsigned char* aligned = storage.data() + (64 - reinterpret_cast<std::uintptr_t>(storage.data()) % 64) % 64;
    std::memcpy(aligned, file.data(), file.size());
    CHECK(ctattn_stories260k_validate_blob(aligned, file.size()) == CTATTN_STORIES260K_OK);
    CHECK(ctattn_stories260k_validate_blob(nullptr, file.size()) == CTATTN_STORIES260K_NULL_POINTER);
    CHECK(ctattn_stories260k_validate_blob(aligned, file.size() - 1) == CTATTN_STORIES260K_TRUNCATED);
    aligned[file.size() - 3] ^= 0x40u;  // a payload bit
    CHECK(ctattn_stories260k_validate_blob(aligned, file.size()) == CTATTN_STORIES260K_CHECKSUM_MISMATCH);
    aligned[file.size() - 3] ^= 0x40u;
    aligned[0] = 'X';
    CHECK(ctattn_stories260k_validate_blob(aligned, file.size()) == CTATTN_STORIES260K_BAD_MAGIC);
    aligned[0] = file[0];
    // The payload 1 byte past a float boundary.
    std::memmove(aligned + 1, file.data(), file.size());
    CHECK(ctattn_stories260k_validate_blob(aligned + 1, file.size()) == CTATTN_STORIES260K_MISALIGNED);
    std::memcpy(aligned, file.data(), file.size());

    static ctattn_stories260k_state s;
    REQUIRE(ctattn_stories260k_init_with_blob(&s, aligned, file.size()) == CTATTN_STORIES260K_OK);
    const std::vector<ctattn::token_id> tokens = prompt();
    REQUIRE(ctattn_stories260k_prefill(&s, tokens.data(), 6, nullptr) == CTATTN_STORIES260K_OK);
    CHECK(logits_after(&s, tokens[6]) == reference_next_logits(tokens, 6));
}
#endif
