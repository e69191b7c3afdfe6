// SPDX-License-Identifier: Apache-2.0
// Sampling: the PRNG against PCG's published check vector, greedy against a plain argmax,
// temperature sampling against softmax(logits / T) computed in double here, and the top-k /
// top-p sets against a double-precision reconstruction of each set.
#include <algorithm>
#include <catch2/catch.hpp>
#include <cmath>
#include <cstdint>
#include <limits>
#include <numeric>
#include <vector>

#include <ctattn/base/random.hpp>
#include <ctattn/text/sample.hpp>

#include "../support/heap_counter.hpp"

using ctattn::sampling_params;
using ctattn::status;
using ctattn::token_id;

namespace {

constexpr float minus_inf = -std::numeric_limits<float>::infinity();

// softmax(logits / T) in double, -inf entries 0.
std::vector<double> reference_probabilities(const std::vector<float>& logits, double temperature) {
    double max = -std::numeric_limits<double>::infinity();
    for (float l : logits) max = std::max(max, double(l));
    std::vector<double> p(logits.size());
    double sum = 0.0;
    for (std::size_t i = 0; i < logits.size(); ++i) sum += p[i] = std::exp((double(logits[i]) - max) / temperature);
    for (double& v : p) v /= sum;
    return p;
}

// Ids by falling logit, equal logits by lower id: the order top-k and top-p are defined on.
std::vector<token_id> reference_order(const std::vector<float>& logits) {
    std::vector<token_id> ids(logits.size());
    std::iota(ids.begin(), ids.end(), token_id{0});
    std::stable_sort(ids.begin(), ids.end(), [&](token_id a, token_id b) { return logits[a] > logits[b]; });
    return ids;
}

// The kept set for (top_k, top_p) at temperature T, built in double. `margin` receives how far
// the nucleus's cumulative mass is from the threshold on either side, so a test can assert its
// crafted case is not decided by rounding.
std::vector<bool> reference_kept_set(const std::vector<float>& logits, double temperature, std::size_t top_k,
                                     double top_p, double* margin = nullptr) {
    const std::vector<double> p = reference_probabilities(logits, temperature);
    std::vector<token_id> order = reference_order(logits);
    std::size_t n = 0;
    while (n < order.size() && p[order[n]] > 0.0) ++n;
    if (top_k > 0 && top_k < n) n = top_k;
    double mass = 0.0;
    for (std::size_t c = 0; c < n; ++c) mass += p[order[c]];
    if (top_p < 1.0) {
        double cumulative = 0.0;
        std::size_t prefix = 0;
        while (prefix < n) {
            cumulative += p[order[prefix++]];
            if (cumulative >= top_p * mass) break;
        }
        if (margin) {
            // Above: how far the kept mass passes the threshold; below: how far the mass without
            // the last kept token falls short of it (irrelevant when one token is kept: p > 0
            // always needs at least one).
            const double before = cumulative - p[order[prefix - 1]];
            *margin = cumulative - top_p * mass;
            if (prefix > 1) *margin = std::min(*margin, top_p * mass - before);
        }
        n = prefix;
    }
    std::vector<bool> kept(logits.size(), false);
    for (std::size_t c = 0; c < n; ++c) kept[order[c]] = true;
    return kept;
}

// Draws `draws` tokens and counts them; fails the test on any non-ok status.
template <std::size_t V>
std::vector<std::size_t> draw_counts(const std::vector<float>& logits, const sampling_params& params,
                                     std::uint64_t seed, std::size_t draws) {
    REQUIRE(logits.size() == V);
    ctattn::sampler<V> s(params, seed);
    std::vector<std::size_t> counts(V, 0);
    std::size_t failures = 0;
    for (std::size_t d = 0; d < draws; ++d) {
        token_id t = 0;
        if (s.sample(logits.data(), t) != status::ok || t >= V)
            ++failures;
        else
            ++counts[t];
    }
    REQUIRE(failures == 0);
    return counts;
}

// Chi-square critical value at significance 1e-6 by the Wilson-Hilferty approximation
// (chi2_df ~ df * (1 - 2/(9 df) + z sqrt(2/(9 df)))^3, z = 4.7534 the one-sided normal 1e-6
// quantile), accurate to a few percent for df >= 2, far inside the slack such a small alpha gives.
double chi_square_critical_1e6(std::size_t df) {
    const double k = double(df), z = 4.7534;
    const double c = 1.0 - 2.0 / (9.0 * k) + z * std::sqrt(2.0 / (9.0 * k));
    return k * c * c * c;
}

// Frequencies against expected probabilities: a chi-square test over all cells with expected
// count >= 5 (merging the rest into one cell), and per token a binomial 5-sigma bound
// |count - N p| <= 5 sqrt(N p (1 - p)) + 1. For a correct sampler each holds with probability
// > 1 - 1e-5 for any seed; the seeds are fixed, so the test is also deterministic.
void check_frequencies(const std::vector<std::size_t>& counts, const std::vector<double>& expected, std::size_t draws) {
    double chi2 = 0.0, rest_expected = 0.0, rest_observed = 0.0;
    std::size_t cells = 0;
    for (std::size_t i = 0; i < counts.size(); ++i) {
        const double e = expected[i] * double(draws);
        INFO("token " << i << " count " << counts[i] << " expected " << e);
        CHECK(std::abs(double(counts[i]) - e) <= 5.0 * std::sqrt(e * (1.0 - expected[i])) + 1.0);
        if (expected[i] == 0.0) {
            CHECK(counts[i] == 0);
            continue;
        }
        if (e >= 5.0) {
            chi2 += (double(counts[i]) - e) * (double(counts[i]) - e) / e;
            ++cells;
        } else {
            rest_expected += e;
            rest_observed += double(counts[i]);
        }
    }
    if (rest_expected >= 5.0) {
        chi2 += (rest_observed - rest_expected) * (rest_observed - rest_expected) / rest_expected;
        ++cells;
    }
    if (cells >= 3) {
        INFO("chi2 " << chi2 << " over " << cells << " cells");
        CHECK(chi2 <= chi_square_critical_1e6(cells - 1));
    }
}

// Crafted logits with ties: ids 1, 2, 4, 7 share the maximum 3.0; 9 is masked.
std::vector<float> tied_logits_13() {
    return {1.0f, 3.0f, 3.0f, 2.0f, 3.0f, 0.0f, -1.0f, 3.0f, 2.5f, minus_inf, 0.5f, 2.0f, -2.0f};
}

}  // namespace

TEST_CASE("pcg32 reproduces PCG's published check vector for seed 42, stream 54", "[sample][random]") {
    // pcg32-demo (pcg-random.org, "Using the Minimal C Implementation"), round 1.
    ctattn::pcg32 rng(42u, 54u);
    const std::uint32_t expected[6] = {0xa15c02b7u, 0x7b47f409u, 0xba1d3330u, 0x83d2f293u, 0xbfa4784bu, 0xcbed606eu};
    for (std::uint32_t e : expected) CHECK(rng.next_u32() == e);
}

TEST_CASE("pcg32 floats lie in [0, 1) and have mean 1/2", "[sample][random]") {
    ctattn::pcg32 rng(7u);
    double sum = 0.0;
    constexpr int n = 100000;
    bool in_range = true;
    for (int i = 0; i < n; ++i) {
        const float u = rng.next_float();
        in_range = in_range && u >= 0.0f && u < 1.0f;
        sum += u;
    }
    CHECK(in_range);
    // Uniform variance 1/12: the mean of 1e5 draws has sd 0.00091; 5 sd = 0.0046.
    CHECK(std::abs(sum / n - 0.5) < 0.0046);
}

TEST_CASE("sampling is reproducible for a fixed seed and differs across seeds", "[sample]") {
    std::vector<float> logits(13);
    for (std::size_t i = 0; i < logits.size(); ++i) logits[i] = 0.3f * float(i % 5) - 0.1f * float(i);
    const sampling_params settings[] = {{1.0f, 0, 1.0f}, {0.7f, 5, 1.0f}, {1.3f, 0, 0.8f}, {1.0f, 6, 0.9f}};
    for (const sampling_params& params : settings) {
        ctattn::sampler<13> a(params, 1234), b(params, 1234), c(params, 1235);
        std::vector<token_id> first, second, third;
        for (int step = 0; step < 500; ++step) {
            token_id x = 0, y = 0, z = 0;
            REQUIRE(a.sample(logits.data(), x) == status::ok);
            REQUIRE(b.sample(logits.data(), y) == status::ok);
            REQUIRE(c.sample(logits.data(), z) == status::ok);
            first.push_back(x);
            second.push_back(y);
            third.push_back(z);
        }
        CHECK(first == second);
        CHECK(first != third);  // 500 draws from >= 5 tokens: equal by chance with p < 0.8^500
        a.reseed(1234);
        bool same_after_reseed = true;
        for (int step = 0; step < 500; ++step) {
            token_id x = 0;
            REQUIRE(a.sample(logits.data(), x) == status::ok);
            same_after_reseed = same_after_reseed && x == first[std::size_t(step)];
        }
        CHECK(same_after_reseed);
    }
}

TEST_CASE("greedy picks the argmax, the lowest id among ties, and consumes no randomness", "[sample]") {
    const std::vector<float> tied = tied_logits_13();
    token_id t = 99;
    REQUIRE(ctattn::greedy_token<13>(tied.data(), t) == status::ok);
    CHECK(t == 1);

    const float single[1] = {-5.0f};
    REQUIRE(ctattn::greedy_token<1>(single, t) == status::ok);
    CHECK(t == 0);

    const float last_wins[5] = {-3.0f, minus_inf, 0.25f, 0.2f, 0.2500001f};
    REQUIRE(ctattn::greedy_token<5>(last_wins, t) == status::ok);
    CHECK(t == 4);

    // Temperature 0 through the sampler is greedy and leaves the random stream where it was.
    ctattn::sampler<13> greedy({0.0f, 0, 1.0f}, 5), fresh({1.0f, 0, 1.0f}, 5);
    for (int i = 0; i < 10; ++i) {
        REQUIRE(greedy.sample(tied.data(), t) == status::ok);
        CHECK(t == 1);
    }
    REQUIRE(greedy.set_params({1.0f, 0, 1.0f}) == status::ok);
    for (int i = 0; i < 50; ++i) {
        token_id x = 0, y = 0;
        REQUIRE(greedy.sample(tied.data(), x) == status::ok);
        REQUIRE(fresh.sample(tied.data(), y) == status::ok);
        CHECK(x == y);
    }
}

TEST_CASE("temperature sampling frequencies match softmax(logits / T)", "[sample]") {
    constexpr std::size_t draws = 200000;
    std::vector<float> logits13(13);
    for (std::size_t i = 0; i < 13; ++i) logits13[i] = 1.5f * std::sin(float(i) * 1.7f);
    logits13[6] = minus_inf;  // a masked token must never appear
    for (double temperature : {0.5, 1.0, 2.0}) {
        INFO("T = " << temperature);
        const auto counts = draw_counts<13>(logits13, {float(temperature), 0, 1.0f}, 99, draws);
        check_frequencies(counts, reference_probabilities(logits13, temperature), draws);
    }
    const std::vector<float> logits5 = {0.0f, 1.0f, -1.0f, 0.5f, 2.0f};
    const auto counts5 = draw_counts<5>(logits5, {1.0f, 0, 1.0f}, 3, draws);
    check_frequencies(counts5, reference_probabilities(logits5, 1.0), draws);

    const std::vector<float> one = {4.0f};
    const auto counts1 = draw_counts<1>(one, {1.0f, 0, 1.0f}, 3, 1000);
    CHECK(counts1[0] == 1000);
}

TEST_CASE("top-k never picks outside the k largest logits and keeps their relative odds", "[sample]") {
    const std::vector<float> logits = tied_logits_13();
    constexpr std::size_t draws = 100000;
    // k = 1 and k = 2 cut inside the four-way tie at 3.0 (kept: the lowest ids); k = 5 takes the
    // whole tie plus 8 (2.5); k = 12 is every unmasked token; k = 13 = vocab and k = 0 are "off".
    for (std::size_t k : {std::size_t(1), std::size_t(2), std::size_t(5), std::size_t(12), std::size_t(13),
                          std::size_t(0)}) {
        for (double temperature : {1.0, 4.0}) {
            INFO("k = " << k << ", T = " << temperature);
            const std::vector<bool> kept = reference_kept_set(logits, temperature, k, 1.0);
            const auto counts = draw_counts<13>(logits, {float(temperature), k, 1.0f}, 11 + k, draws);
            std::vector<double> expected = reference_probabilities(logits, temperature);
            double kept_mass = 0.0;
            for (std::size_t i = 0; i < 13; ++i) kept_mass += kept[i] ? expected[i] : 0.0;
            for (std::size_t i = 0; i < 13; ++i) expected[i] = kept[i] ? expected[i] / kept_mass : 0.0;
            std::size_t outside = 0;
            for (std::size_t i = 0; i < 13; ++i) outside += kept[i] ? 0 : counts[i];
            CHECK(outside == 0);
            check_frequencies(counts, expected, draws);
        }
    }
    // The two lowest tied ids with k = 2: exactly ids 1 and 2.
    const std::vector<bool> kept2 = reference_kept_set(logits, 1.0, 2, 1.0);
    CHECK(kept2[1]);
    CHECK(kept2[2]);
    CHECK(std::count(kept2.begin(), kept2.end(), true) == 2);
}

TEST_CASE("top-p never picks outside the nucleus", "[sample]") {
    // probabilities 0.4, 0.25, 0.15, 0.1, 0.05, 0.03, 0.02 (as log-probabilities), shuffled ids.
    const std::vector<float> logits = {std::log(0.1f),  std::log(0.4f),  std::log(0.02f), std::log(0.15f),
                                       std::log(0.05f), std::log(0.25f), std::log(0.03f)};
    constexpr std::size_t draws = 100000;
    struct nucleus_case {
        double top_p;
        std::size_t top_k;
        std::size_t expected_size;
    };
    const nucleus_case cases[] = {
        {1e-6, 0, 1},  // p tiny: the top token only
        {0.5, 0, 2},   // 0.4 < 0.5 <= 0.65
        {0.7, 0, 3},   // 0.65 < 0.7 <= 0.8
        {0.97, 0, 6},  // 0.95 < 0.97 <= 0.98
        {1.0, 0, 7},   // p = 1: everything
        {0.7, 2, 2},   // top-k 2 first (mass 0.65), then 0.7 of it = 0.455 needs both
        {0.6, 3, 2},   // top-k 3 (mass 0.8), then 0.6 of it = 0.48: 0.4 < 0.48 <= 0.65
    };
    for (const nucleus_case& c : cases) {
        INFO("top_p = " << c.top_p << ", top_k = " << c.top_k);
        double margin = 1.0;
        const std::vector<bool> kept = reference_kept_set(logits, 1.0, c.top_k, c.top_p, &margin);
        if (c.top_p < 1.0) CHECK(margin > 1e-3);  // the crafted threshold is not decided by float rounding
        CHECK(std::size_t(std::count(kept.begin(), kept.end(), true)) == c.expected_size);
        const auto counts = draw_counts<7>(logits, {1.0f, c.top_k, float(c.top_p)}, 77, draws);
        std::size_t outside = 0;
        for (std::size_t i = 0; i < 7; ++i) outside += kept[i] ? 0 : counts[i];
        CHECK(outside == 0);
        std::vector<double> expected = reference_probabilities(logits, 1.0);
        double mass = 0.0;
        for (std::size_t i = 0; i < 7; ++i) mass += kept[i] ? expected[i] : 0.0;
        for (std::size_t i = 0; i < 7; ++i) expected[i] = kept[i] ? expected[i] / mass : 0.0;
        check_frequencies(counts, expected, draws);
    }

    // Uniform logits with p below 1/vocab: the pre-sort cutoff (1 - p) / (vocab - 1) exceeds every
    // probability, and the nucleus is still the first token in id order.
    const std::vector<float> flat(5, 0.5f);
    const auto flat_counts = draw_counts<5>(flat, {1.0f, 0, 0.1f}, 8, 1000);
    CHECK(flat_counts[0] == 1000);

    // Ties at the nucleus edge: ids 1, 2, 4, 7 tie; p just above one tied token's share keeps two.
    const std::vector<float> tied = tied_logits_13();
    for (double p : {0.05, 0.3, 0.6, 0.9}) {
        INFO("tied, p = " << p);
        const std::vector<bool> kept = reference_kept_set(tied, 1.0, 0, p);
        const auto counts = draw_counts<13>(tied, {1.0f, 0, float(p)}, 5, 20000);
        std::size_t outside = 0;
        for (std::size_t i = 0; i < 13; ++i) outside += kept[i] ? 0 : counts[i];
        CHECK(outside == 0);
    }
}

TEST_CASE("probabilities from huge logits stay finite and sum to one", "[sample]") {
    constexpr float big = std::numeric_limits<float>::max();
    const float logits[6] = {big, -big, 1e30f, big, -1e38f, minus_inf};
    for (float temperature : {1e-3f, 1.0f, 1e3f, 1e30f}) {
        INFO("T = " << temperature);
        float p[6];
        REQUIRE(ctattn::probabilities_from_logits<6>(logits, temperature, p) == status::ok);
        double sum = 0.0;
        bool finite = true;
        for (float v : p) {
            finite = finite && std::isfinite(v) && v >= 0.0f;
            sum += v;
        }
        CHECK(finite);
        CHECK(std::abs(sum - 1.0) < 1e-6);  // 6 terms, each rounded once in float: < 6 * 2^-24
        CHECK(p[5] == 0.0f);                // masked
        CHECK(p[0] == p[3]);                // equal logits, equal probabilities
    }
    // Against the double reference at T = 1e3, where the huge gaps still leave two tokens.
    float p[6];
    REQUIRE(ctattn::probabilities_from_logits<6>(logits, 1e3f, p) == status::ok);
    const auto ref = reference_probabilities(std::vector<float>(logits, logits + 6), 1e3);
    for (std::size_t i = 0; i < 6; ++i) CHECK(std::abs(double(p[i]) - ref[i]) < 1e-6);

    token_id t = 0;
    ctattn::sampler<6> s({1.0f, 0, 1.0f}, 1);
    for (int i = 0; i < 100; ++i) {
        REQUIRE(s.sample(logits, t) == status::ok);
        CHECK((t == 0 || t == 3));
    }
}

TEST_CASE("bad logits and bad parameters are rejected and leave the token untouched", "[sample]") {
    float logits[5] = {0.0f, 1.0f, 2.0f, 3.0f, 4.0f};
    ctattn::sampler<5> s({1.0f, 0, 1.0f}, 1);
    token_id t = 77;
    CHECK(s.sample(nullptr, t) == status::invalid_argument);
    // Non-finite logits are non_finite, not a null pointer, on every sampling path.
    logits[2] = std::numeric_limits<float>::quiet_NaN();
    CHECK(s.sample(logits, t) == status::non_finite);
    CHECK(ctattn::greedy_token<5>(logits, t) == status::non_finite);
    float probs[5];
    CHECK(ctattn::probabilities_from_logits<5>(logits, 1.0f, probs) == status::non_finite);
    logits[2] = std::numeric_limits<float>::infinity();
    CHECK(s.sample(logits, t) == status::non_finite);
    const float masked[5] = {minus_inf, minus_inf, minus_inf, minus_inf, minus_inf};
    CHECK(s.sample(masked, t) == status::non_finite);
    CHECK(t == 77);

    const float fine[5] = {0.0f, 1.0f, 2.0f, 3.0f, 4.0f};
    const float nan = std::numeric_limits<float>::quiet_NaN();
    for (const sampling_params& bad : {sampling_params{-1.0f, 0, 1.0f}, sampling_params{nan, 0, 1.0f},
                                       sampling_params{1.0f, 0, 0.0f}, sampling_params{1.0f, 0, 1.5f},
                                       sampling_params{1.0f, 0, nan},
                                       sampling_params{std::numeric_limits<float>::infinity(), 0, 1.0f}}) {
        ctattn::pcg32 rng(1);
        ctattn::sampler_workspace<5> ws;
        CHECK(ctattn::sample_token<5>(fine, bad, rng, ws, t) == status::invalid_parameter);
        CHECK(s.set_params(bad) == status::invalid_parameter);
    }
    CHECK(t == 77);
    REQUIRE(s.sample(fine, t) == status::ok);  // the sampler kept its valid parameters
}

TEST_CASE("sampling makes no heap allocation", "[sample][alloc]") {
    if (!ctattn_test::heap_counting_available()) {
        WARN("allocation counting is off under valgrind (its allocator replaces the counting one)");
        return;
    }
    constexpr std::size_t vocab = 1000;  // not a multiple of any SIMD width
    static float logits[vocab];
    for (std::size_t i = 0; i < vocab; ++i) logits[i] = std::sin(float(i) * 0.37f) * 3.0f;
    static ctattn::sampler<vocab> s({0.9f, 0, 1.0f}, 42);
    const sampling_params settings[] = {{0.0f, 0, 1.0f}, {0.9f, 0, 1.0f}, {0.9f, 40, 1.0f},
                                        {0.9f, 0, 0.9f}, {0.9f, 40, 0.9f}, {1.0f, 1, 1.0f}};
    token_id sink = 0, t = 0;
    int failures = 0;
    const std::size_t before = ctattn_test::heap_allocations();
    for (const sampling_params& params : settings) {
        failures += s.set_params(params) != status::ok;
        for (int step = 0; step < 20; ++step) {
            failures += s.sample(logits, t) != status::ok;
            sink += t;
        }
    }
    float probabilities[vocab];
    failures += ctattn::probabilities_from_logits<vocab>(logits, 0.5f, probabilities) != status::ok;
    const std::size_t after = ctattn_test::heap_allocations();
    CHECK(failures == 0);
    CHECK(after == before);
    CHECK(sink > 0);

    // The counter itself works: every replaced allocation function, called through a volatile
    // function pointer (a std::vector here would be an allocation clang may elide).
    const ctattn_test::heap_self_check counter = ctattn_test::check_heap_counting();
    CHECK(counter.ok());
}

TEST_CASE("the top-k and nucleus selections equal the sorted definitions", "[sample]") {
    // Small integer logits (many ties) and probabilities (logit + 1) / 1024: every sum is exact in
    // float, so the selected sets must equal the sort-based reference exactly, at every size
    // (above and below the heap-sort cutoff of 16) and every threshold.
    std::vector<std::uint32_t> sizes = {1, 2, 3, 5, 13, 16, 17, 31, 64, 100, 257, 1000, 2000};
    std::uint64_t state = 12345;
    auto next = [&] {  // a small LCG: test data only
        state = state * 6364136223846793005ULL + 1442695040888963407ULL;
        return std::uint32_t(state >> 33u);
    };
    std::size_t mismatches = 0, cases = 0;
    for (std::uint32_t n : sizes) {
        for (int trial = 0; trial < 20; ++trial) {
            std::vector<float> logits(n), probs(n);
            const std::uint32_t levels = 1 + next() % 8;
            for (std::size_t i = 0; i < n; ++i) {
                logits[i] = float(next() % levels);
                probs[i] = (logits[i] + 1.0f) / 1024.0f;
            }
            const std::vector<token_id> order = reference_order(logits);
            const ctattn::detail::logit_order by_logit{logits.data()};

            const std::size_t k = 1 + next() % n;
            std::vector<token_id> ids(n);
            std::iota(ids.begin(), ids.end(), token_id{0});
            ctattn::detail::select_best_k(ids.data(), n, k, by_logit);
            std::vector<bool> want(n, false), got(n, false);
            for (std::size_t c = 0; c < k; ++c) want[order[c]] = true;
            for (std::size_t c = 0; c < k; ++c) got[ids[c]] = true;
            mismatches += want != got;
            // The heap variant (used for k <= n / 16) returns the same k, sorted into `order`.
            std::iota(ids.begin(), ids.end(), token_id{0});
            ctattn::detail::best_k_sorted(ids.data(), n, k, by_logit);
            mismatches += !std::equal(order.begin(), order.begin() + std::ptrdiff_t(k), ids.begin());

            float total = 0.0f;
            for (float p : probs) total += p;
            const float needed = float(next() % 1025) / 1024.0f * total;
            std::iota(ids.begin(), ids.end(), token_id{0});
            const std::size_t m = ctattn::detail::select_nucleus(ids.data(), n, probs.data(), needed, by_logit);
            float cumulative = 0.0f;
            std::size_t prefix = 0;
            while (prefix < n) {
                cumulative += probs[order[prefix++]];
                if (cumulative >= needed) break;
            }
            std::fill(want.begin(), want.end(), false);
            std::fill(got.begin(), got.end(), false);
            for (std::size_t c = 0; c < prefix; ++c) want[order[c]] = true;
            for (std::size_t c = 0; c < m; ++c) got[ids[c]] = true;
            mismatches += m != prefix || want != got;
            // Both selections only permute: every id is still present once.
            std::vector<token_id> sorted_ids = ids;
            std::sort(sorted_ids.begin(), sorted_ids.end());
            for (std::size_t i = 0; i < n; ++i) mismatches += sorted_ids[i] != i;
            cases += 2;
        }
    }
    CHECK(cases == 2 * 20 * sizes.size());
    CHECK(mismatches == 0);
}

TEST_CASE("top_tokens lists the k largest logits best first, ties to the lower id", "[sample]") {
    const std::vector<float> logits = tied_logits_13();
    const std::vector<token_id> order = reference_order(logits);
    for (std::size_t k : {std::size_t(0), std::size_t(1), std::size_t(3), std::size_t(4), std::size_t(5),
                          std::size_t(13), std::size_t(20)}) {
        INFO("k = " << k);
        token_id ids[20];
        std::size_t count = 99;
        REQUIRE(ctattn::top_tokens<13>(logits.data(), k, ids, count) == status::ok);
        REQUIRE(count == std::min<std::size_t>(k, 13));
        CHECK(std::equal(ids, ids + count, order.begin()));
    }
    const float nan_row[3] = {0.0f, std::numeric_limits<float>::quiet_NaN(), 1.0f};
    token_id ids[3] = {7, 7, 7};
    std::size_t count = 99;
    CHECK(ctattn::top_tokens<3>(nan_row, 2, ids, count) == status::non_finite);
    CHECK(count == 99);
    CHECK(ids[0] == 7);
}
