// Next-token sampling from a row of vocabulary logits, in fixed workspace sized by the vocabulary:
//   p_i = exp((l_i - max_j l_j) / T) / sum_j exp((l_j - max_j l_j) / T)      (T = temperature)
// T = 0 is greedy (argmax, ties to the lowest id). Top-k keeps the k largest logits (ties to the
// lower id); top-p keeps the shortest prefix of that order whose probability reaches p (the
// "nucleus"); the token is then drawn in proportion to p_i inside the kept set.
#pragma once

#include <cmath>
#include <cstddef>
#include <cstdint>
#include <limits>

#include "random.hpp"
#include "status.hpp"

namespace ctattn {

using token_id = std::uint32_t;  // the same alias as model.hpp's

// SentencePiece / llama2.c conventions: 0 <unk>, 1 <s> (BOS, also what llama2.c's stories emit
// between stories), 2 </s> (EOS).
inline constexpr token_id bos_token = 1;
inline constexpr token_id eos_token = 2;

struct sampling_params {
    float temperature = 1.0f;  // 0: greedy; otherwise > 0 (below 1 sharpens, above 1 flattens)
    std::size_t top_k = 0;     // 0 (or >= vocabulary): no top-k cut
    float top_p = 1.0f;        // in (0, 1]; 1: no nucleus cut
};

[[nodiscard]] constexpr bool valid_sampling_params(const sampling_params& params) noexcept {
    // Written so that NaN fails every comparison and so is rejected.
    return params.temperature >= 0.0f && params.temperature <= std::numeric_limits<float>::max() &&
           params.top_p > 0.0f && params.top_p <= 1.0f;
}

namespace detail {

// Logits must be finite or -inf (a token masked out); NaN or +inf would make every probability
// undefined, and a row with nothing but -inf has no token to pick.
template <std::size_t Vocab>
[[nodiscard]] inline status check_logits(const float* logits, float& max_logit) noexcept {
    constexpr float minus_inf = -std::numeric_limits<float>::infinity();
    float max = minus_inf;
    for (std::size_t i = 0; i < Vocab; ++i) {
        const float l = logits[i];
        if (!(l < std::numeric_limits<float>::infinity())) return status::invalid_argument;  // NaN or +inf
        max = l > max ? l : max;
    }
    if (!(max > minus_inf)) return status::invalid_argument;
    max_logit = max;
    return status::ok;
}

// The order every cut uses: larger logit first, equal logits by lower id, so top-k and top-p
// sets are defined by the logits alone (not by rounding in the probabilities) and are the same
// on every platform.
struct logit_order {
    const float* logits;
    bool operator()(token_id a, token_id b) const noexcept {
        return logits[a] > logits[b] || (logits[a] == logits[b] && a < b);
    }
};

// Binary heap over ids whose root is the candidate that comes LAST in `order` (the weakest), so
// top-k can replace its weakest member in O(log k) and heap sort leaves the best first. Written
// out rather than std::partial_sort/std::sort: a few lines, obviously allocation-free, and GCC 12
// at -O3 reports false -Warray-bounds errors when the std versions inline into small fixed arrays.
inline void sift_down(token_id* heap, std::size_t n, std::size_t at, logit_order order) noexcept {
    for (;;) {
        const std::size_t left = 2 * at + 1;
        if (left >= n) return;
        const std::size_t right = left + 1;
        // the weaker child (later in order) rises
        const std::size_t weaker = (right < n && order(heap[left], heap[right])) ? right : left;
        if (!order(heap[at], heap[weaker])) return;
        const token_id held = heap[at];
        heap[at] = heap[weaker];
        heap[weaker] = held;
        at = weaker;
    }
}

inline void make_heap(token_id* heap, std::size_t n, logit_order order) noexcept {
    for (std::size_t at = n / 2; at-- > 0;) sift_down(heap, n, at, order);
}

// Sorts a heap into `order` (best first) by moving the weakest to the back n - 1 times.
inline void sort_heap(token_id* heap, std::size_t n, logit_order order) noexcept {
    for (std::size_t end = n; end > 1; --end) {
        const token_id weakest = heap[0];
        heap[0] = heap[end - 1];
        heap[end - 1] = weakest;
        sift_down(heap, end - 1, 0, order);
    }
}

// Reorders ids[0, n) so that ids[0, k) are the k best in `order`, sorted: O(n log k).
inline void best_k_sorted(token_id* ids, std::size_t n, std::size_t k, logit_order order) noexcept {
    if (k > n) k = n;
    make_heap(ids, k, order);
    for (std::size_t i = k; i < n; ++i)
        if (order(ids[i], ids[0])) {  // better than the weakest kept: swap it in
            const token_id dropped = ids[0];
            ids[0] = ids[i];
            ids[i] = dropped;
            sift_down(ids, k, 0, order);
        }
    sort_heap(ids, k, order);
}

}  // namespace detail

// Argmax of logits[0, Vocab); the lowest id wins ties. `token` is written only on success.
template <std::size_t Vocab>
[[nodiscard]] inline status greedy_token(const float* logits, token_id& token) noexcept {
    static_assert(Vocab > 0, "ctattn: the vocabulary needs at least one token");
    if (logits == nullptr) return status::invalid_argument;
    float max = 0.0f;
    if (const status s = detail::check_logits<Vocab>(logits, max); s != status::ok) return s;
    for (std::size_t i = 0; i < Vocab; ++i)
        if (logits[i] == max) {
            token = static_cast<token_id>(i);
            return status::ok;
        }
    return status::invalid_argument;  // unreachable: max is one of the logits
}

// probabilities[i] = softmax(logits / temperature)[i] for temperature > 0. Scalar on purpose:
// sampling costs O(vocab) next to a forward pass of O(parameters), and std::exp gives the same
// probabilities (hence the same sampled tokens for a seed) with and without SIMD.
// Subtracting the max first keeps every exponent <= 0, so logits near +-FLT_MAX stay finite.
template <std::size_t Vocab>
[[nodiscard]] inline status probabilities_from_logits(const float* logits, float temperature,
                                                      float* probabilities) noexcept {
    static_assert(Vocab > 0, "ctattn: the vocabulary needs at least one token");
    if (logits == nullptr || probabilities == nullptr) return status::invalid_argument;
    if (!(temperature > 0.0f) || !(temperature <= std::numeric_limits<float>::max()))
        return status::invalid_argument;
    float max = 0.0f;
    if (const status s = detail::check_logits<Vocab>(logits, max); s != status::ok) return s;
    float sum = 0.0f;
    for (std::size_t i = 0; i < Vocab; ++i) {
        // (l - max) / T, not l / T - max / T: the latter overflows for huge logits and small T.
        // Division rather than a reciprocal multiply: 1/T is +inf for denormal T, and 0 * inf is NaN.
        const float e = std::exp((logits[i] - max) / temperature);
        probabilities[i] = e;
        sum += e;
    }
    // sum >= 1: the max logit contributes exp(0) = 1.
    const float inv_sum = 1.0f / sum;
    for (std::size_t i = 0; i < Vocab; ++i) probabilities[i] *= inv_sum;
    return status::ok;
}

// Scratch for one draw: 8 bytes per vocabulary entry, so keep it static (or inside a static
// `sampler`) for large vocabularies.
template <std::size_t Vocab>
struct sampler_workspace {
    float probabilities[Vocab];  // (vocab) softmax(logits / T)
    token_id candidates[Vocab];  // (vocab) ids with p > 0; the first n sorted by detail::logit_order
};

// One draw with explicit state. Consumes exactly one rng.next_float() unless the draw is greedy
// (temperature 0). `token` is written only when the result is status::ok.
template <std::size_t Vocab>
[[nodiscard]] inline status sample_token(const float* logits, const sampling_params& params, pcg32& rng,
                                         sampler_workspace<Vocab>& ws, token_id& token) noexcept {
    static_assert(Vocab > 0, "ctattn: the vocabulary needs at least one token");
    static_assert(Vocab - 1 <= std::numeric_limits<token_id>::max(), "ctattn: vocabulary too large for token_id");
    if (logits == nullptr) return status::invalid_argument;
    if (!valid_sampling_params(params)) return status::invalid_argument;
    if (params.temperature == 0.0f) return greedy_token<Vocab>(logits, token);

    float* const probs = ws.probabilities;
    if (const status s = probabilities_from_logits<Vocab>(logits, params.temperature, probs); s != status::ok)
        return s;

    const bool cut_k = params.top_k > 0 && params.top_k < Vocab;
    const bool cut_p = params.top_p < 1.0f;
    const float u = rng.next_float();  // [0, 1)

    if (!cut_k && !cut_p) {
        // Inverse CDF in id order: O(vocab), no sort. target < total because u < 1; the strict
        // comparison means a token with p = 0 is never chosen.
        float total = 0.0f;
        for (std::size_t i = 0; i < Vocab; ++i) total += probs[i];
        const float target = u * total;
        float cumulative = 0.0f;
        std::size_t last_nonzero = 0;
        for (std::size_t i = 0; i < Vocab; ++i) {
            if (probs[i] > 0.0f) last_nonzero = i;
            cumulative += probs[i];
            if (cumulative > target) {
                token = static_cast<token_id>(i);
                return status::ok;
            }
        }
        token = static_cast<token_id>(last_nonzero);  // u * total rounded up to total
        return status::ok;
    }

    // Candidates: every token with p > 0. For a pure nucleus cut, tokens with
    // p < (1 - top_p) / (Vocab - 1) can be dropped before sorting: if at most Vocab - 1 of them
    // exist they hold less than 1 - top_p together, so the nucleus lies among the others.
    float min_probability = 0.0f;
    if (cut_p && !cut_k && Vocab > 1) min_probability = (1.0f - params.top_p) / static_cast<float>(Vocab - 1);
    std::size_t candidates = 0;
    for (std::size_t i = 0; i < Vocab; ++i)
        if (probs[i] > 0.0f && probs[i] >= min_probability) ws.candidates[candidates++] = static_cast<token_id>(i);
    if (candidates == 0) {  // every token below the cutoff (only when top_p < 1 / Vocab): keep them all
        for (std::size_t i = 0; i < Vocab; ++i)
            if (probs[i] > 0.0f) ws.candidates[candidates++] = static_cast<token_id>(i);
    }
    std::size_t n = candidates;

    token_id* const first = ws.candidates;
    const detail::logit_order order{logits};
    if (cut_k && params.top_k < n) n = params.top_k;
    detail::best_k_sorted(first, candidates, n, order);

    float kept_mass = 0.0f;
    for (std::size_t c = 0; c < n; ++c) kept_mass += probs[first[c]];
    if (cut_p) {
        // Shortest prefix reaching top_p of the distribution it cuts: the whole vocabulary
        // (mass ~ 1, not the mass left after the cutoff above), or after a top-k cut the
        // renormalised top-k distribution.
        float base_mass = kept_mass;
        if (!cut_k) {
            base_mass = 0.0f;
            for (std::size_t i = 0; i < Vocab; ++i) base_mass += probs[i];
        }
        const float needed = params.top_p * base_mass;
        float cumulative = 0.0f;
        std::size_t prefix = 0;
        while (prefix < n) {
            cumulative += probs[first[prefix++]];
            if (cumulative >= needed) break;
        }
        n = prefix;
        kept_mass = cumulative;
    }

    const float target = u * kept_mass;
    float cumulative = 0.0f;
    for (std::size_t c = 0; c < n; ++c) {
        cumulative += probs[first[c]];
        if (cumulative > target) {
            token = first[c];
            return status::ok;
        }
    }
    token = first[n - 1];  // u * kept_mass rounded up to kept_mass; every candidate has p > 0
    return status::ok;
}

// A sampler with its parameters, its random stream and its workspace in one object
// (sizeof ~ 8 * Vocab bytes: make it static for large vocabularies).
template <std::size_t Vocab>
class sampler {
public:
    static constexpr std::size_t vocab_size = Vocab;

    constexpr sampler(const sampling_params& params, std::uint64_t seed) noexcept : params_(params), rng_(seed) {}

    // status::invalid_argument for a null row, NaN/+inf logits, all logits -inf, or invalid
    // parameters (temperature < 0, top_p outside (0, 1]); `token` is then untouched.
    [[nodiscard]] status sample(const float* logits, token_id& token) noexcept {
        return sample_token<Vocab>(logits, params_, rng_, workspace_, token);
    }

    [[nodiscard]] status set_params(const sampling_params& params) noexcept {
        if (!valid_sampling_params(params)) return status::invalid_argument;
        params_ = params;
        return status::ok;
    }
    [[nodiscard]] const sampling_params& params() const noexcept { return params_; }
    void reseed(std::uint64_t seed) noexcept { rng_ = pcg32(seed); }

    // The probabilities behind the most recent non-greedy draw, softmax(logits / T) (vocab).
    [[nodiscard]] const float* last_probabilities() const noexcept { return workspace_.probabilities; }

private:
    sampling_params params_;
    pcg32 rng_;
    sampler_workspace<Vocab> workspace_{};
};

}  // namespace ctattn
