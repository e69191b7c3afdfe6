// SPDX-License-Identifier: Apache-2.0
// KV-cache decoding against the full-sequence forward pass: for every position policy, for
// grouped- and multi-query attention, for a stack whose layers differ (per-layer sliding windows,
// heads, d_ff, norm placement), and for chunked prefill, the logits of token-by-token decoding
// equal the full forward's row by row. Plus the decoder's error contract: cache_full and
// invalid_token leave the cache, the position and the logits exactly as they were.
//
// Tolerance: decode and forward run the same kernels in the same per-element order; they differ
// only where the compiler contracts a*b+c into one fused multiply-add in one inlined copy and not
// in the other (one rounding, <= 6e-8 relative, per term), over at most ~layers * (d_model + d_ff
// + seq) ~ 500 terms: |decode - forward| <= 3e-5 * max|logits| covers that with margin (measured
// <= 4e-6 * max|logits| on stories260K, see test_stories260k.cpp).
#include <catch2/catch.hpp>

#include <ctattn/model/decoder.hpp>

#include <cstring>
#include <string>
#include <vector>

#include "../support/model_support.hpp"

namespace {

constexpr double decode_tolerance = 3e-5;

using namespace ctattn;

template <class Config>
std::vector<float> full_forward(const model_weights<Config>& w, const std::vector<token_id>& tokens) {
    using model = language_model<Config>;
    auto ws = std::make_unique<typename model::workspace_type>();
    std::vector<float> logits(tokens.size() * Config::vocab);
    REQUIRE(model::forward(w, tokens.data(), tokens.size(), logits.data(), *ws) == status::ok);
    return logits;
}

void require_same_logits(const std::vector<float>& got, const std::vector<float>& want, const char* what) {
    REQUIRE(got.size() == want.size());
    double max_want = 0.0, max_err = 0.0;
    for (std::size_t i = 0; i < want.size(); ++i) max_want = std::max(max_want, double(std::abs(want[i])));
    for (std::size_t i = 0; i < want.size(); ++i) max_err = std::max(max_err, double(std::abs(got[i] - want[i])));
    INFO(what << ": largest |decode - forward| " << max_err << " with max |logit| " << max_want);
    REQUIRE(max_err <= decode_tolerance * max_want);
}

// Decoding one token at a time, prefill + decode, and chunked prefill all match the forward pass.
template <class Config>
void check_decode_matches_forward(unsigned seed) {
    constexpr std::size_t S = Config::seq_capacity, V = Config::vocab;
    const auto w = ctattn_test::random_model<Config>(seed);
    const std::vector<token_id> tokens = ctattn_test::random_tokens(S, V, seed + 1);
    const std::vector<float> forward = full_forward(*w, tokens);

    // One token at a time, through the free-function API the generation loop uses.
    auto dec = std::make_unique<decoder<Config>>(*w);
    std::vector<float> stepped(S * V);
    for (std::size_t p = 0; p < S; ++p) {
        REQUIRE(dec->position() == p);
        REQUIRE(decode_step(*dec, tokens[p], stepped.data() + p * V) == status::ok);
    }
    REQUIRE(dec->position() == S);
    require_same_logits(stepped, forward, "decode_step");

    // Shorter prefixes: the forward pass over the first n tokens gives the same last row.
    for (std::size_t n : {std::size_t(1), S / 2 + 1}) {
        const std::vector<token_id> prefix(tokens.begin(), tokens.begin() + std::ptrdiff_t(n));
        const std::vector<float> prefix_logits = full_forward(*w, prefix);
        const std::vector<float> want(prefix_logits.end() - std::ptrdiff_t(V), prefix_logits.end());
        std::vector<float> got(V);
        dec->reset();
        REQUIRE(prefill(*dec, prefix.data(), n, got.data()) == status::ok);
        require_same_logits(got, want, "prefill of a prefix");
    }

    // Prefill in chunks of 4 rows, in two calls, then decode the rest.
    auto chunked = std::make_unique<decoder<Config, owned_weights, simd::default_arch, 4>>(*w);
    const std::size_t first = S / 3 + 1, second = S / 3;
    std::vector<float> got(V);
    REQUIRE(chunked->prefill(tokens.data(), first, nullptr) == status::ok);
    REQUIRE(chunked->prefill(tokens.data() + first, second, got.data()) == status::ok);
    require_same_logits(got, std::vector<float>(forward.begin() + std::ptrdiff_t((first + second - 1) * V),
                                                forward.begin() + std::ptrdiff_t((first + second) * V)),
                        "chunked prefill");
    for (std::size_t p = first + second; p < S; ++p) {
        REQUIRE(chunked->decode_step(tokens[p], got.data()) == status::ok);
        require_same_logits(got, std::vector<float>(forward.begin() + std::ptrdiff_t(p * V),
                                                    forward.begin() + std::ptrdiff_t((p + 1) * V)),
                            "decode after chunked prefill");
    }
}

// Awkward widths throughout: d_model 13 and 20, head_dim 13, 5 and 4, vocabularies 37, 29, 11, 50.
using plain_block = block_config<attention_config<13, 1, 1, 13, with_bias, causal_mask>, ffn_config<13, dense_ffn<relu>>,
                                 layer_norm<eps_1e_minus<5>>, post_norm>;
using no_position_model = stacked_model_config<37, 2, plain_block, no_positions, no_norm, untied_head<true>>;

using tanh_block = block_config<attention_config<20, 4, 4, 17, with_bias, causal_mask>, ffn_config<20, dense_ffn<gelu_tanh>>,
                                layer_norm<eps_1e_minus<5>>, pre_norm>;
using sinusoidal_model = stacked_model_config<29, 2, tanh_block, sinusoidal_positions, layer_norm<eps_1e_minus<5>>, untied_head<>>;

using learned_block = block_config<attention_config<16, 2, 2, 9, no_bias, causal_mask>,
                                   ffn_config<16, dense_ffn<gelu_erf, false>, 24>, rms_norm<eps_1e_minus<6>>, pre_norm>;
using learned_model = stacked_model_config<11, 3, learned_block, learned_positions, rms_norm<eps_1e_minus<6>>, tied_head>;

using gqa_block = block_config<attention_config<24, 6, 2, 16, no_bias, causal_mask>, ffn_config<24, swiglu, 40>,
                               rms_norm<eps_1e_minus<5>>, pre_norm>;
using rope_gqa_model = stacked_model_config<50, 2, gqa_block, rotary_positions<10000>, rms_norm<eps_1e_minus<5>>, untied_head<>>;

using mqa_block = block_config<attention_config<24, 3, 1, 7, no_bias, causal_mask>, ffn_config<24, swiglu, 13>,
                               rms_norm<eps_1e_minus<5>>, pre_norm>;
using rope_mqa_model = stacked_model_config<19, 1, mqa_block, rotary_positions<500>, rms_norm<eps_1e_minus<5>>, tied_head>;

// Layers that differ: the Hana tuple holds three different block types.
using window3_block = block_config<attention_config<16, 4, 2, 15, no_bias, sliding_window_mask<3>>,
                                   ffn_config<16, swiglu, 24>, rms_norm<eps_1e_minus<5>>, pre_norm>;
using wide_causal_block = block_config<attention_config<16, 2, 2, 15, with_bias, causal_mask>,
                                       ffn_config<16, dense_ffn<silu>, 72>, layer_norm<eps_1e_minus<5>>, post_norm>;
using window6_block = block_config<attention_config<16, 8, 1, 15, no_bias, sliding_window_mask<6>>,
                                   ffn_config<16, gated_ffn<gelu_erf, true>, 20>, layer_norm<eps_1e_minus<5>>, pre_norm>;
using mixed_model = model_config<23, rotary_positions<10000>, layer_norm<eps_1e_minus<5>>, untied_head<true>, window3_block,
                                 wide_causal_block, window6_block>;

}  // namespace

TEST_CASE("decoding without positions equals the full forward (post-norm, ReLU, biases)", "[model][decode]") {
    check_decode_matches_forward<no_position_model>(11);
}

TEST_CASE("decoding with sinusoidal positions equals the full forward (pre-norm, GELU-tanh)", "[model][decode]") {
    check_decode_matches_forward<sinusoidal_model>(22);
}

TEST_CASE("decoding with learned positions and a tied head equals the full forward", "[model][decode]") {
    check_decode_matches_forward<learned_model>(33);
}

TEST_CASE("decoding with RoPE and grouped-query attention equals the full forward", "[model][decode]") {
    check_decode_matches_forward<rope_gqa_model>(44);
}

TEST_CASE("decoding with RoPE and multi-query attention equals the full forward", "[model][decode]") {
    check_decode_matches_forward<rope_mqa_model>(55);
}

TEST_CASE("a stack of different layers (sliding windows 3 and 6, causal) decodes like its forward pass",
          "[model][decode]") {
    STATIC_REQUIRE(mixed_model::layers == 3);
    STATIC_REQUIRE(mixed_model::max_d_ff == 72);
    STATIC_REQUIRE(mixed_model::max_kv_dim == 16);
    check_decode_matches_forward<mixed_model>(66);
}

TEST_CASE("a full cache and a bad token return a status and leave the decoder exactly as it was",
          "[model][decode][errors]") {
    using config = rope_gqa_model;
    constexpr std::size_t S = config::seq_capacity, V = config::vocab;
    const auto w = ctattn_test::random_model<config>(77);
    const std::vector<token_id> tokens = ctattn_test::random_tokens(S, V, 78);
    const std::vector<float> forward = full_forward(*w, tokens);
    auto dec = std::make_unique<decoder<config>>(*w);
    std::vector<float> logits(V);

    auto cache_bytes = [&] {
        const auto* p = reinterpret_cast<const unsigned char*>(&dec->cache());
        return std::vector<unsigned char>(p, p + sizeof(dec->cache()));
    };
    constexpr float sentinel = -12345.0f;

    // Half-way: a bad token (== vocab, and a huge one) changes nothing, then decoding continues.
    const std::size_t half = S / 2;
    REQUIRE(dec->prefill(tokens.data(), half, logits.data()) == status::ok);
    const auto before = cache_bytes();
    for (token_id bad : {token_id(V), token_id(0xffffffffu)}) {
        std::fill(logits.begin(), logits.end(), sentinel);
        REQUIRE(dec->decode_step(bad, logits.data()) == status::invalid_token);
        REQUIRE(dec->position() == half);
        REQUIRE(cache_bytes() == before);
        for (float l : logits) REQUIRE(l == sentinel);
    }
    // A prompt with one bad token in it is rejected whole.
    std::vector<token_id> bad_prompt(tokens.begin() + std::ptrdiff_t(half), tokens.begin() + std::ptrdiff_t(half + 3));
    bad_prompt[2] = token_id(V + 1);
    REQUIRE(dec->prefill(bad_prompt.data(), bad_prompt.size(), logits.data()) == status::invalid_token);
    REQUIRE(dec->position() == half);
    REQUIRE(cache_bytes() == before);
    for (float l : logits) REQUIRE(l == sentinel);
    // Other argument errors.
    REQUIRE(dec->decode_step(tokens[half], nullptr) == status::invalid_argument);
    REQUIRE(dec->prefill(nullptr, 2, logits.data()) == status::invalid_argument);
    REQUIRE(dec->prefill(tokens.data(), 0, logits.data()) == status::invalid_length);
    REQUIRE(dec->prefill(tokens.data(), S - half + 1, logits.data()) == status::cache_full);
    REQUIRE(dec->position() == half);
    REQUIRE(cache_bytes() == before);

    // The state is intact: the rest of the sequence decodes to the forward pass's logits.
    std::vector<float> stepped(forward.begin(), forward.begin() + std::ptrdiff_t(half * V));
    stepped.resize(S * V);
    for (std::size_t p = half; p < S; ++p) REQUIRE(dec->decode_step(tokens[p], stepped.data() + p * V) == status::ok);
    require_same_logits(stepped, forward, "decoding after rejected calls");

    // Full: one more token is cache_full, nothing changes; reset makes room again.
    REQUIRE(dec->position() == S);
    const auto full = cache_bytes();
    std::fill(logits.begin(), logits.end(), sentinel);
    REQUIRE(dec->decode_step(tokens[0], logits.data()) == status::cache_full);
    REQUIRE(dec->prefill(tokens.data(), 1, logits.data()) == status::cache_full);
    REQUIRE(dec->position() == S);
    REQUIRE(cache_bytes() == full);
    for (float l : logits) REQUIRE(l == sentinel);

    reset(*dec);
    REQUIRE(dec->position() == 0);
    REQUIRE(dec->decode_step(tokens[0], logits.data()) == status::ok);
    require_same_logits(logits, std::vector<float>(forward.begin(), forward.begin() + std::ptrdiff_t(V)),
                        "first step after reset");

    // A decoder with no weights attached refuses politely.
    auto empty = std::make_unique<decoder<config>>();
    REQUIRE(empty->decode_step(0, logits.data()) == status::invalid_argument);
    REQUIRE(empty->prefill(tokens.data(), 1, logits.data()) == status::invalid_argument);
}

TEST_CASE("the full forward rejects bad input and leaves the logits untouched", "[model][errors]") {
    using config = sinusoidal_model;
    using model = language_model<config>;
    constexpr std::size_t S = config::seq_capacity, V = config::vocab;
    const auto w = ctattn_test::random_model<config>(88);
    auto ws = std::make_unique<model::workspace_type>();
    std::vector<token_id> tokens = ctattn_test::random_tokens(S + 1, V, 89);
    constexpr float sentinel = 777.0f;
    std::vector<float> logits((S + 1) * V, sentinel);
    auto untouched = [&] {
        for (float l : logits)
            if (l != sentinel) return false;
        return true;
    };
    REQUIRE(model::forward(*w, tokens.data(), 0, logits.data(), *ws) == status::invalid_length);
    REQUIRE(model::forward(*w, tokens.data(), S + 1, logits.data(), *ws) == status::invalid_length);
    REQUIRE(model::forward(*w, nullptr, 3, logits.data(), *ws) == status::invalid_argument);
    REQUIRE(model::forward(*w, tokens.data(), 3, nullptr, *ws) == status::invalid_argument);
    tokens[4] = token_id(V);
    REQUIRE(model::forward(*w, tokens.data(), 5, logits.data(), *ws) == status::invalid_token);
    REQUIRE(untouched());
    REQUIRE(model::forward(*w, tokens.data(), 4, logits.data(), *ws) == status::ok);  // the bad id is not read
    REQUIRE_FALSE(untouched());
}

TEST_CASE("next-token probabilities are the softmax of the logits", "[model]") {
    using model = language_model<learned_model>;
    constexpr std::size_t V = learned_model::vocab;
    std::vector<float> logits(V), probs(V);
    for (std::size_t t = 0; t < V; ++t) logits[t] = 0.37f * float(t) - 1.5f;
    REQUIRE(model::probabilities(logits.data(), probs.data()) == status::ok);
    double sum = 0.0;
    for (std::size_t t = 0; t < V; ++t) sum += std::exp(double(logits[t]));
    // float softmax of 11 terms: a few ulps of each probability.
    for (std::size_t t = 0; t < V; ++t) REQUIRE(std::abs(probs[t] - std::exp(double(logits[t])) / sum) <= 1e-6);
}
