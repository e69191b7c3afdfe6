// SPDX-License-Identifier: Apache-2.0
// The generation loop driving the real KV-cache decoder on the stories260K checkpoint, checked
// against an independent path: at every step the whole prefix is re-run through the full-sequence
// forward pass (no cache) and the next token is taken from its last row.
#include <catch2/catch.hpp>
#include <cmath>
#include <cstdio>
#include <fstream>
#include <iterator>
#include <vector>

#include <ctattn/text/generate.hpp>
#include <ctattn/model/decoder.hpp>
#include <ctattn/io/llama2c.hpp>

#include "../support/heap_counter.hpp"

using ctattn::status;
using ctattn::token_id;

namespace {

// stories260K (README of ../shared/models): dim 64, hidden 172, 5 layers, 8 heads, 4 KV heads,
// vocab 512, tied head, RMSNorm eps 1e-5, RoPE theta 10000, SwiGLU. Capacity 64 (the file's 512
// is an upper bound; a shorter cache is enough here and keeps the test light).
using attn = ctattn::attention_config<64, 8, 4, 64, ctattn::no_bias, ctattn::causal_mask>;
using ffn = ctattn::ffn_config<64, ctattn::swiglu, 172>;
using rms = ctattn::rms_norm<ctattn::eps_1e_minus<5>>;
using block = ctattn::block_config<attn, ffn, rms, ctattn::pre_norm>;
using cfg = ctattn::stacked_model_config<512, 5, block, ctattn::rotary_positions<10000>, rms, ctattn::tied_head>;
using lm = ctattn::language_model<cfg>;
constexpr std::size_t vocab = cfg::vocab;

const ctattn::model_weights<cfg>& stories_weights() {
    static ctattn::model_weights<cfg> weights;
    static const bool loaded = [] {
        std::ifstream file(CTATTN_STORIES260K, std::ios::binary);
        REQUIRE(file.good());
        const std::vector<unsigned char> bytes((std::istreambuf_iterator<char>(file)), std::istreambuf_iterator<char>());
        REQUIRE(ctattn::llama2c::load<cfg>(bytes.data(), bytes.size(), weights) == status::ok);
        return true;
    }();
    (void)loaded;
    return weights;
}

// Last-row logits of the full forward pass over `tokens`.
std::vector<float> forward_last_row(const std::vector<token_id>& tokens) {
    static lm::workspace_type ws;
    static float logits[cfg::seq_capacity * vocab];
    REQUIRE(lm::forward(stories_weights(), tokens.data(), tokens.size(), logits, ws) == status::ok);
    const float* last = logits + (tokens.size() - 1) * vocab;
    return std::vector<float>(last, last + vocab);
}

}  // namespace

TEST_CASE("greedy generation with the KV cache equals greedy decoding by full forward passes", "[generate][model]") {
    static ctattn::decoder<cfg> dec;
    dec.attach(stories_weights());
    ctattn::sampler<vocab> greedy({0.0f, 0, 1.0f}, 1);
    float logits[vocab];
    const token_id prompt[1] = {ctattn::bos_token};
    std::vector<token_id> generated;
    double largest_logit_gap = 0.0;  // decoder logits vs. full forward, per step
    std::vector<token_id> prefix(prompt, prompt + 1);
    auto check_step = [&](std::size_t, token_id token, const float* step_logits) {
        const std::vector<float> reference = forward_last_row(prefix);
        for (std::size_t v = 0; v < vocab; ++v)
            largest_logit_gap = std::max(largest_logit_gap, std::abs(double(step_logits[v]) - double(reference[v])));
        generated.push_back(token);
        prefix.push_back(token);
    };
    ctattn::generation_report report;
    REQUIRE(ctattn::generate(dec, prompt, 1, greedy, {40, ctattn::no_stop_token}, logits, check_step, report) ==
            status::ok);
    REQUIRE(generated.size() == 40);

    // The reference chain, step by step, from full forwards only: argmax of each last row, ties to
    // the lowest id. A step whose top two logits are closer than 1e-3 could flip on rounding
    // between the two paths and would stop the comparison (none does for this checkpoint).
    std::vector<token_id> chain(prompt, prompt + 1);
    std::size_t compared = 0;
    for (std::size_t step = 0; step < generated.size(); ++step) {
        const std::vector<float> row = forward_last_row(chain);
        std::size_t best = 0;
        for (std::size_t v = 1; v < vocab; ++v)
            if (row[v] > row[best]) best = v;
        float runner_up = -INFINITY;
        for (std::size_t v = 0; v < vocab; ++v)
            if (v != best) runner_up = std::max(runner_up, row[v]);
        if (row[best] - runner_up < 1e-3f) break;
        CHECK(generated[step] == best);
        chain.push_back(token_id(best));
        ++compared;
    }
    CHECK(compared == generated.size());
    // Decode and full forward run the same kernels on the same rows; 1e-4 allows for different
    // summation orders in the projections (logits here are O(10)).
    std::printf("stories260K greedy: %zu tokens, largest |decoder - forward| logit gap %.3e\n", generated.size(),
                largest_logit_gap);
    CHECK(largest_logit_gap < 1e-4);
}

TEST_CASE("sampled generation with the KV cache reproduces the same draws from full forward passes",
          "[generate][model]") {
    static ctattn::decoder<cfg> dec;
    dec.attach(stories_weights());
    const ctattn::sampling_params params{0.8f, 0, 0.9f};
    ctattn::sampler<vocab> s(params, 42);
    float logits[vocab];
    const token_id prompt[1] = {ctattn::bos_token};
    std::vector<token_id> generated;
    auto collect = [&](std::size_t, token_id token, const float*) { generated.push_back(token); };
    ctattn::generation_report report;
    // llama2.c ends a story at the next BOS; stop there too (or after 48 tokens).
    REQUIRE(ctattn::generate(dec, prompt, 1, s, {48, ctattn::bos_token}, logits, collect, report) == status::ok);
    REQUIRE(!generated.empty());

    ctattn::sampler<vocab> again(params, 42);
    std::vector<token_id> chain(prompt, prompt + 1);
    std::vector<token_id> expected;
    for (std::size_t step = 0; step < 48; ++step) {
        const std::vector<float> row = forward_last_row(chain);
        token_id next = 0;
        REQUIRE(again.sample(row.data(), next) == status::ok);
        if (next == ctattn::bos_token) break;
        expected.push_back(next);
        chain.push_back(next);
    }
    CHECK(generated == expected);
    CHECK(report.stopped_on_token == (expected.size() < 48));
}

TEST_CASE("generation with the real decoder stops with cache_full at capacity and makes no heap allocation",
          "[generate][model][alloc]") {
    static ctattn::decoder<cfg> dec;
    dec.attach(stories_weights());
    static ctattn::sampler<vocab> s({1.0f, 40, 1.0f}, 3);
    static float logits[vocab];
    static const token_id prompt[3] = {ctattn::bos_token, 300, 17};
    std::size_t steps = 0;
    auto count = [&](std::size_t, token_id, const float*) { ++steps; };
    ctattn::generation_report report;
    const std::size_t before = ctattn_test::heap_allocations();
    const status result = ctattn::generate(dec, prompt, 3, s, {1000, ctattn::no_stop_token}, logits, count, report);
    const std::size_t after = ctattn_test::heap_allocations();
    // 3 prompt positions + 61 decode steps fill the 64-position cache; the 62nd sampled token's
    // decode_step finds it full.
    CHECK(result == status::cache_full);
    CHECK(report.generated == cfg::seq_capacity - 3 + 1);
    CHECK(steps == report.generated);
    CHECK(dec.position() == cfg::seq_capacity);
    if (ctattn_test::heap_counting_available()) CHECK(after == before);
}
