// SPDX-License-Identifier: Apache-2.0
// The generation loop against a deterministic test double: a bigram table whose argmax successor
// of token t is (t + 3) mod 7, with a fixed capacity that reports cache_full like the KV cache.
// Expected sequences are traced by hand from that rule; sampled runs are compared with a loop
// written out here that calls the model and an identically seeded sampler directly.
#include <catch2/catch.hpp>
#include <cstddef>
#include <vector>

#include <ctattn/text/generate.hpp>

#include "../support/heap_counter.hpp"

using ctattn::status;
using ctattn::token_id;

namespace {

constexpr std::size_t vocab = 7;

constexpr token_id successor(token_id t) { return (t + 3) % vocab; }

// logits[t][v]: 2 for the successor, otherwise a spread in [-0.6, 0] so sampling has choices.
template <std::size_t Capacity, bool WithPrefill>
struct bigram_model {
    static constexpr std::size_t vocab_size = vocab;
    static constexpr std::size_t capacity = Capacity;

    token_id fed[Capacity] = {};  // every token the model has consumed, in order
    std::size_t position = 0;

    static void row(token_id t, float* logits) {
        for (token_id v = 0; v < vocab; ++v) logits[v] = v == successor(t) ? 2.0f : -0.1f * float((v + t) % vocab);
    }

    status decode_step(token_id token, float* logits) noexcept {
        if (logits == nullptr) return status::invalid_argument;
        if (position == Capacity) return status::cache_full;
        if (token >= vocab) return status::invalid_token;
        fed[position++] = token;
        row(token, logits);
        return status::ok;
    }

    status prefill(const token_id* tokens, std::size_t n, float* logits) noexcept
        requires WithPrefill
    {
        if (tokens == nullptr) return status::invalid_argument;
        if (n == 0) return status::invalid_length;
        if (n > Capacity - position) return status::cache_full;
        for (std::size_t i = 0; i < n; ++i)
            if (tokens[i] >= vocab) return status::invalid_token;
        for (std::size_t i = 0; i < n; ++i) fed[position++] = tokens[i];
        if (logits != nullptr) row(tokens[n - 1], logits);
        return status::ok;
    }
};

static_assert(ctattn::prefilling_model<bigram_model<8, true>>);
static_assert(ctattn::decoding_model<bigram_model<8, false>> && !ctattn::prefilling_model<bigram_model<8, false>>);

struct recorder {
    std::vector<token_id> tokens;
    std::vector<std::size_t> steps;
    bool logits_peak_at_token = true;  // greedy runs: the reported logits are the ones sampled from
    void operator()(std::size_t step, token_id token, const float* logits) {
        steps.push_back(step);
        tokens.push_back(token);
        logits_peak_at_token = logits_peak_at_token && logits[token] == 2.0f;
    }
};

const ctattn::sampling_params greedy{0.0f, 0, 1.0f};

}  // namespace

TEST_CASE("greedy generation follows the model's argmax chain and stops at the count", "[generate]") {
    bigram_model<16, true> model;
    ctattn::sampler<vocab> s(greedy, 1);
    float logits[vocab];
    const token_id prompt[2] = {5, 1};
    recorder seen;
    ctattn::generation_report report;
    REQUIRE(ctattn::generate(model, prompt, 2, s, {6, ctattn::no_stop_token}, logits, seen, report) == status::ok);
    // 1 -> 4 -> 0 -> 3 -> 6 -> 2 -> 5
    CHECK(seen.tokens == std::vector<token_id>{4, 0, 3, 6, 2, 5});
    CHECK(seen.steps == std::vector<std::size_t>{0, 1, 2, 3, 4, 5});
    CHECK(seen.logits_peak_at_token);
    CHECK(report.generated == 6);
    CHECK(!report.stopped_on_token);
    // The prompt and the first five tokens were fed; the last sampled token is not.
    CHECK(model.position == 7);
    CHECK(std::vector<token_id>(model.fed, model.fed + 7) == std::vector<token_id>{5, 1, 4, 0, 3, 6, 2});

    // A zero budget still consumes the prompt and samples nothing.
    bigram_model<16, true> fresh;
    recorder none;
    REQUIRE(ctattn::generate(fresh, prompt, 2, s, {0, ctattn::no_stop_token}, logits, none, report) == status::ok);
    CHECK(none.tokens.empty());
    CHECK(report.generated == 0);
    CHECK(fresh.position == 2);
}

TEST_CASE("generation stops on the stop token without emitting or feeding it", "[generate]") {
    bigram_model<16, true> model;
    ctattn::sampler<vocab> s(greedy, 1);
    float logits[vocab];
    const token_id prompt[2] = {5, 1};
    recorder seen;
    ctattn::generation_report report;
    REQUIRE(ctattn::generate(model, prompt, 2, s, {100, 6}, logits, seen, report) == status::ok);
    CHECK(seen.tokens == std::vector<token_id>{4, 0, 3});
    CHECK(report.generated == 3);
    CHECK(report.stopped_on_token);
    CHECK(model.position == 5);  // 5, 1, 4, 0, 3

    // The very first draw is the stop token: nothing is emitted, nothing decoded after the prompt.
    bigram_model<16, true> quiet;
    recorder none;
    REQUIRE(ctattn::generate(quiet, prompt, 2, s, {100, 4}, logits, none, report) == status::ok);
    CHECK(none.tokens.empty());
    CHECK(report.generated == 0);
    CHECK(report.stopped_on_token);
    CHECK(quiet.position == 2);
}

TEST_CASE("a callback returning false ends generation", "[generate]") {
    bigram_model<16, true> model;
    ctattn::sampler<vocab> s(greedy, 1);
    float logits[vocab];
    const token_id prompt[1] = {0};
    std::vector<token_id> seen;
    ctattn::generation_report report;
    auto until_three = [&](std::size_t step, token_id token, const float*) {
        seen.push_back(token);
        return step < 2;
    };
    REQUIRE(ctattn::generate(model, prompt, 1, s, {100, ctattn::no_stop_token}, logits, until_three, report) ==
            status::ok);
    CHECK(seen == std::vector<token_id>{3, 6, 2});
    CHECK(report.generated == 3);
    CHECK(report.stopped_by_callback);
}

TEST_CASE("the model's errors propagate out of the generation loop", "[generate]") {
    ctattn::sampler<vocab> s(greedy, 1);
    float logits[vocab];
    ctattn::generation_report report;

    SECTION("cache_full from decode_step once the capacity is used up") {
        bigram_model<8, true> model;
        const token_id prompt[2] = {5, 1};
        recorder seen;
        // Positions 2..7 take six decode steps; the seventh token's decode_step finds the cache full.
        CHECK(ctattn::generate(model, prompt, 2, s, {20, ctattn::no_stop_token}, logits, seen, report) ==
              status::cache_full);
        CHECK(seen.tokens == std::vector<token_id>{4, 0, 3, 6, 2, 5, 1});
        CHECK(report.generated == 7);
        CHECK(model.position == 8);
    }
    SECTION("cache_full from a prompt longer than the capacity") {
        bigram_model<3, true> model;
        const token_id prompt[4] = {1, 2, 3, 4};
        recorder seen;
        CHECK(ctattn::generate(model, prompt, 4, s, {5, ctattn::no_stop_token}, logits, seen, report) ==
              status::cache_full);
        CHECK(seen.tokens.empty());
        CHECK(model.position == 0);
    }
    SECTION("invalid_token from a prompt id outside the vocabulary, with or without prefill") {
        const token_id prompt[3] = {1, 9, 2};
        bigram_model<8, true> with_prefill;
        bigram_model<8, false> token_by_token;
        recorder seen;
        CHECK(ctattn::generate(with_prefill, prompt, 3, s, {5, ctattn::no_stop_token}, logits, seen, report) ==
              status::invalid_token);
        CHECK(ctattn::generate(token_by_token, prompt, 3, s, {5, ctattn::no_stop_token}, logits, seen, report) ==
              status::invalid_token);
        CHECK(seen.tokens.empty());
        CHECK(report.generated == 0);
    }
    SECTION("argument errors") {
        bigram_model<8, true> model;
        const token_id prompt[1] = {1};
        recorder seen;
        CHECK(ctattn::generate(model, prompt, 0, s, {5, ctattn::no_stop_token}, logits, seen, report) ==
              status::invalid_length);
        CHECK(ctattn::generate(model, nullptr, 1, s, {5, ctattn::no_stop_token}, logits, seen, report) ==
              status::invalid_argument);
        CHECK(ctattn::generate(model, prompt, 1, s, {5, ctattn::no_stop_token}, nullptr, seen, report) ==
              status::invalid_argument);
        CHECK(seen.tokens.empty());
    }
}

TEST_CASE("sampled generation equals a hand-written loop with the same seed, prefill or not", "[generate]") {
    const ctattn::sampling_params params{1.0f, 4, 0.95f};
    const token_id prompt[3] = {2, 6, 0};
    constexpr std::size_t budget = 40;

    // The loop written out: feed the prompt, then sample / feed.
    bigram_model<64, true> manual_model;
    ctattn::sampler<vocab> manual_sampler(params, 2024);
    float logits[vocab];
    std::vector<token_id> expected;
    REQUIRE(manual_model.prefill(prompt, 3, logits) == status::ok);
    for (std::size_t i = 0; i < budget; ++i) {
        token_id t = 0;
        REQUIRE(manual_sampler.sample(logits, t) == status::ok);
        expected.push_back(t);
        REQUIRE(manual_model.decode_step(t, logits) == status::ok);
    }

    bigram_model<64, true> with_prefill;
    bigram_model<64, false> token_by_token;
    for (int variant = 0; variant < 2; ++variant) {
        ctattn::sampler<vocab> s(params, 2024);
        std::vector<token_id> seen;
        ctattn::generation_report report;
        auto collect = [&](std::size_t, token_id t, const float*) { seen.push_back(t); };
        const status result =
            variant == 0 ? ctattn::generate(with_prefill, prompt, 3, s, {budget, ctattn::no_stop_token}, logits,
                                            collect, report)
                         : ctattn::generate(token_by_token, prompt, 3, s, {budget, ctattn::no_stop_token}, logits,
                                            collect, report);
        REQUIRE(result == status::ok);
        CHECK(seen == expected);
    }
    // Not just the argmax chain: with top-k 4 at T = 1 some draws leave it.
    std::size_t off_chain = 0;
    token_id last = prompt[2];
    for (token_id t : expected) {
        off_chain += t != successor(last);
        last = t;
    }
    CHECK(off_chain > 0);
}

TEST_CASE("the generation loop makes no heap allocation", "[generate][alloc]") {
    if (!ctattn_test::heap_counting_available()) {
        WARN("allocation counting is off under valgrind (its allocator replaces the counting one)");
        return;
    }
    static bigram_model<64, true> model;
    static ctattn::sampler<vocab> s({0.8f, 3, 0.9f}, 7);
    float logits[vocab];
    const token_id prompt[2] = {3, 4};
    token_id checksum = 0;
    ctattn::generation_report report;
    auto sum = [&](std::size_t, token_id t, const float*) { checksum += t; };
    const std::size_t before = ctattn_test::heap_allocations();
    const status result = ctattn::generate(model, prompt, 2, s, {50, ctattn::no_stop_token}, logits, sum, report);
    const std::size_t after = ctattn_test::heap_allocations();
    CHECK(result == status::ok);
    CHECK(report.generated == 50);
    CHECK(after == before);
    CHECK(checksum > 0);
}
