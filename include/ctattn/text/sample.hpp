// SPDX-License-Identifier: Apache-2.0
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

#include "../base/random.hpp"
#include "../base/status.hpp"
#include "../base/token.hpp"

namespace ctattn {

/// How the next token is drawn from logits: temperature, then the top-k and top-p (nucleus) cuts.
struct sampling_params {
    float temperature = 1.0f;  ///< 0: greedy; otherwise > 0 (below 1 sharpens, above 1 flattens)
    std::size_t top_k = 0;     ///< 0 (or >= vocabulary): no top-k cut
    float top_p = 1.0f;        ///< in (0, 1]; 1: no nucleus cut
};

/// Whether temperature >= 0 and top_p is in (0, 1], both finite (what sample_token checks first).
[[nodiscard]] constexpr bool valid_sampling_params(const sampling_params& params) noexcept {
    // Written so that NaN fails every comparison and so is rejected.
    return params.temperature >= 0.0f && params.temperature <= std::numeric_limits<float>::max() &&
           params.top_p > 0.0f && params.top_p <= 1.0f;
}

namespace detail {

/// Logits must be finite or -inf (a token masked out); NaN or +inf would make every probability
/// undefined, and a row with nothing but -inf has no token to pick.
template <std::size_t Vocab>
[[nodiscard]] inline status check_logits(const float* logits, float& max_logit) noexcept {
    constexpr float minus_inf = -std::numeric_limits<float>::infinity();
    float max = minus_inf;
    for (std::size_t i = 0; i < Vocab; ++i) {
        const float l = logits[i];
        if (!(l < std::numeric_limits<float>::infinity())) return status::non_finite;  // NaN or +inf
        max = l > max ? l : max;
    }
    if (!(max > minus_inf)) return status::non_finite;  // every logit -inf
    max_logit = max;
    return status::ok;
}

/// The order every cut uses: larger logit first, equal logits by lower id, so top-k and top-p
/// sets are defined by the logits alone (not by rounding in the probabilities) and are the same
/// on every platform.
struct logit_order {
    const float* logits;
    bool operator()(token_id a, token_id b) const noexcept {
        return logits[a] > logits[b] || (logits[a] == logits[b] && a < b);
    }
};

// Selection without sorting. Top-k and top-p only need the kept SET (the draw inside it may walk
// it in any fixed order), so both are found by quickselect-style partitioning in expected O(n),
// not by sorting the vocabulary (O(n log n): ~4 ms for top-p over 32000 flat logits). Small or
// stubborn ranges finish with a heap sort. Everything is written out rather than taken from
// <algorithm>: obviously allocation-free, and GCC 12 at -O3 reports false -Warray-bounds errors
// when std::sort/std::partial_sort inline into small fixed arrays.

/// Binary heap over ids whose root is the candidate that comes LAST in `order` (the weakest), so
/// top-k can replace its weakest member in O(log k) and heap sort leaves the best first. `order`
/// is any strict total order on ids (the tokenizer sorts its pieces with these too).
template <class Order>
inline void sift_down(token_id* heap, std::size_t n, std::size_t at, Order order) noexcept {
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

template <class Order>
inline void make_heap(token_id* heap, std::size_t n, Order order) noexcept {
    for (std::size_t at = n / 2; at-- > 0;) sift_down(heap, n, at, order);
}

/// Sorts a heap into `order` (best first) by moving the weakest to the back n - 1 times.
template <class Order>
inline void sort_heap(token_id* heap, std::size_t n, Order order) noexcept {
    for (std::size_t end = n; end > 1; --end) {
        const token_id weakest = heap[0];
        heap[0] = heap[end - 1];
        heap[end - 1] = weakest;
        sift_down(heap, end - 1, 0, order);
    }
}

/// Heap sort of ids[0, n) into `order`: O(n log n), in place, no recursion.
template <class Order>
inline void sort_ids(token_id* ids, std::size_t n, Order order) noexcept {
    make_heap(ids, n, order);
    sort_heap(ids, n, order);
}

/// Reorders ids[0, n) so that ids[0, k) are the k best in `order`, sorted: O(n log k).
template <class Order>
inline void best_k_sorted(token_id* ids, std::size_t n, std::size_t k, Order order) noexcept {
    if (k > n) k = n;
    if (k == 0) return;
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

inline void swap_ids(token_id& a, token_id& b) noexcept {
    const token_id held = a;
    a = b;
    b = held;
}

/// Partitions ids[lo, hi) (hi - lo >= 3) around the median of its first, middle and last entries:
/// returns p with ids[lo, p) before the pivot in `order`, the pivot at p, ids(p, hi) after it.
/// `order` is strict and total (ties in logits fall back to ids), so equal logits cannot pile up.
inline std::size_t partition_ids(token_id* ids, std::size_t lo, std::size_t hi, logit_order order) noexcept {
    const std::size_t mid = lo + (hi - lo) / 2, last = hi - 1;
    const token_id a = ids[lo], b = ids[mid], c = ids[last];
    std::size_t median = mid;
    if (order(a, b)) {
        if (!order(b, c)) median = order(a, c) ? last : lo;
    } else {
        median = order(a, c) ? lo : (order(b, c) ? last : mid);
    }
    swap_ids(ids[median], ids[last]);
    const token_id pivot = ids[last];
    std::size_t store = lo;
    for (std::size_t i = lo; i < last; ++i)
        if (order(ids[i], pivot)) swap_ids(ids[i], ids[store++]);
    swap_ids(ids[store], ids[last]);
    return store;
}

inline constexpr std::size_t heap_sort_range = 16;  ///< ranges this small are finished by heap sort

/// Partitions allowed before falling back to the O(n log n) heap: 2 log2(n) + 8, so a pivot
/// sequence that keeps splitting badly cannot make selection quadratic.
inline std::size_t partition_budget(std::size_t n) noexcept {
    std::size_t budget = 8;
    for (; n > 1; n >>= 1u) budget += 2;
    return budget;
}

/// Reorders ids[0, n) so that ids[0, k) are the k best in `order` (not sorted among themselves).
/// Invariant: everything in [0, lo) beats everything from lo on; everything from hi on loses to
/// everything before hi; lo <= k <= hi.
inline void select_best_k(token_id* ids, std::size_t n, std::size_t k, logit_order order) noexcept {
    std::size_t lo = 0, hi = n, budget = partition_budget(n);
    while (hi - lo > heap_sort_range && budget-- > 0) {
        const std::size_t p = partition_ids(ids, lo, hi, order);
        if (p == k || p + 1 == k) return;
        if (p > k)
            hi = p;
        else
            lo = p + 1;
    }
    best_k_sorted(ids + lo, hi - lo, k - lo, order);
}

/// Reorders ids[0, n) so that ids[0, m) is the shortest prefix of `order` whose probability
/// reaches `needed`, and returns m (n when rounding keeps the whole set short of it).
/// Invariant: ids[0, lo) all belong to the prefix (their probability is `known`), and the prefix
/// ends inside [lo, hi].
inline std::size_t select_nucleus(token_id* ids, std::size_t n, const float* probs, float needed,
                                  logit_order order) noexcept {
    std::size_t lo = 0, hi = n, budget = partition_budget(n);
    float known = 0.0f;
    while (hi - lo > heap_sort_range && budget-- > 0) {
        const std::size_t p = partition_ids(ids, lo, hi, order);
        float better = 0.0f;  // probability of ids[lo, p), the entries that beat the pivot
        for (std::size_t i = lo; i < p; ++i) better += probs[ids[i]];
        if (known + better >= needed) {
            hi = p;  // reached before the pivot
        } else if (known + better + probs[ids[p]] >= needed) {
            return p + 1;  // the pivot is the last member
        } else {
            known += better + probs[ids[p]];
            lo = p + 1;
        }
    }
    best_k_sorted(ids + lo, hi - lo, hi - lo, order);  // sorts what is left
    for (std::size_t i = lo; i < hi; ++i) {
        known += probs[ids[i]];
        if (known >= needed) return i + 1;
    }
    return hi;
}

}  // namespace detail

/// Argmax of logits[0, Vocab); the lowest id wins ties. `token` is written only on success.
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
    return status::non_finite;  // unreachable: max is one of the logits
}

/// The k largest logits' ids, best first (equal logits: lower id first), into ids[0, count) with
/// count = min(k, Vocab): for printing a step's top candidates. A k-entry heap in `ids` itself,
/// O(Vocab log k), no other scratch. Same errors as greedy_token; `ids` untouched on error.
template <std::size_t Vocab>
[[nodiscard]] inline status top_tokens(const float* logits, std::size_t k, token_id* ids, std::size_t& count) noexcept {
    static_assert(Vocab > 0, "ctattn: the vocabulary needs at least one token");
    if (logits == nullptr || (ids == nullptr && k > 0)) return status::invalid_argument;
    float max = 0.0f;
    if (const status s = detail::check_logits<Vocab>(logits, max); s != status::ok) return s;
    if (k > Vocab) k = Vocab;
    const detail::logit_order order{logits};
    for (std::size_t i = 0; i < k; ++i) ids[i] = static_cast<token_id>(i);
    detail::make_heap(ids, k, order);
    for (std::size_t i = k; i < Vocab && k > 0; ++i)
        if (order(static_cast<token_id>(i), ids[0])) {
            ids[0] = static_cast<token_id>(i);
            detail::sift_down(ids, k, 0, order);
        }
    detail::sort_heap(ids, k, order);
    count = k;
    return status::ok;
}

/// probabilities[i] = softmax(logits / temperature)[i] for temperature > 0. Scalar on purpose:
/// sampling costs O(vocab) next to a forward pass of O(parameters), and std::exp gives the same
/// probabilities (hence the same sampled tokens for a seed) with and without SIMD.
/// Subtracting the max first keeps every exponent <= 0, so logits near +-FLT_MAX stay finite.
template <std::size_t Vocab>
[[nodiscard]] inline status probabilities_from_logits(const float* logits, float temperature,
                                                      float* probabilities) noexcept {
    static_assert(Vocab > 0, "ctattn: the vocabulary needs at least one token");
    if (logits == nullptr || probabilities == nullptr) return status::invalid_argument;
    if (!(temperature > 0.0f) || !(temperature <= std::numeric_limits<float>::max()))
        return status::invalid_parameter;
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

/// Scratch for one draw: 8 bytes per vocabulary entry, so keep it static (or inside a static
/// `sampler`) for large vocabularies.
template <std::size_t Vocab>
struct sampler_workspace {
    float probabilities[Vocab];  ///< (vocab) softmax(logits / T)
    token_id candidates[Vocab];  ///< (vocab) ids with p > 0; the kept set is moved to the front
};

/// ---- the steps of sample_token ----
namespace detail {

/// Inverse CDF over the whole vocabulary in id order: O(vocab), no sort. target < total because
/// u < 1; the strict comparison means a token with p = 0 is never chosen.
template <std::size_t Vocab>
[[nodiscard]] inline token_id draw_from_vocabulary(const float* probs, float u) noexcept {
    float total = 0.0f;
    for (std::size_t i = 0; i < Vocab; ++i) total += probs[i];
    const float target = u * total;
    float cumulative = 0.0f;
    std::size_t last_nonzero = 0;
    for (std::size_t i = 0; i < Vocab; ++i) {
        if (probs[i] > 0.0f) last_nonzero = i;
        cumulative += probs[i];
        if (cumulative > target) return static_cast<token_id>(i);
    }
    return static_cast<token_id>(last_nonzero);  // u * total rounded up to total
}

/// Candidates: every token with p > 0, into candidates[0, returned count). For a pure nucleus
/// cut, tokens with p < (1 - top_p) / (Vocab - 1) can be dropped before selection: if at most
/// Vocab - 1 of them exist they hold less than 1 - top_p together, so the nucleus lies among the
/// others.
template <std::size_t Vocab>
[[nodiscard]] inline std::size_t gather_candidates(const float* probs, const sampling_params& params, bool cut_k,
                                                   bool cut_p, token_id* candidates) noexcept {
    float min_probability = 0.0f;
    if (cut_p && !cut_k && Vocab > 1) min_probability = (1.0f - params.top_p) / static_cast<float>(Vocab - 1);
    std::size_t count = 0;
    for (std::size_t i = 0; i < Vocab; ++i)
        if (probs[i] > 0.0f && probs[i] >= min_probability) candidates[count++] = static_cast<token_id>(i);
    if (count == 0) {  // every token below the cutoff (only when top_p < 1 / Vocab): keep them all
        for (std::size_t i = 0; i < Vocab; ++i)
            if (probs[i] > 0.0f) candidates[count++] = static_cast<token_id>(i);
    }
    return count;
}

/// Moves the top_k best of candidates[0, n) to the front (top_k < n) and returns top_k. A small k
/// (the usual 40 of 32000) is fastest with a k-entry heap that rejects most candidates with one
/// comparison; a large k with partitioning.
[[nodiscard]] inline std::size_t cut_top_k(token_id* candidates, std::size_t n, std::size_t top_k,
                                           logit_order order) noexcept {
    if (top_k * 16 <= n)
        best_k_sorted(candidates, n, top_k, order);
    else
        select_best_k(candidates, n, top_k, order);
    return top_k;
}

/// Moves the nucleus of candidates[0, n) to the front and returns its size. The nucleus is top_p
/// of the distribution it cuts: the whole vocabulary (mass ~ 1, not what is left after
/// gather_candidates' cutoff), or after a top-k cut the renormalised top-k set.
template <std::size_t Vocab>
[[nodiscard]] inline std::size_t cut_top_p(token_id* candidates, std::size_t n, const float* probs, float top_p,
                                           bool after_top_k, logit_order order) noexcept {
    float base_mass = 0.0f;
    if (after_top_k) {
        for (std::size_t c = 0; c < n; ++c) base_mass += probs[candidates[c]];
    } else {
        for (std::size_t i = 0; i < Vocab; ++i) base_mass += probs[i];
    }
    return select_nucleus(candidates, n, probs, top_p * base_mass, order);
}

/// Inverse CDF over the kept set kept[0, n) in its (deterministic) array order.
[[nodiscard]] inline token_id draw_from_kept(const token_id* kept, std::size_t n, const float* probs,
                                             float u) noexcept {
    float kept_mass = 0.0f;
    for (std::size_t c = 0; c < n; ++c) kept_mass += probs[kept[c]];
    const float target = u * kept_mass;
    float cumulative = 0.0f;
    for (std::size_t c = 0; c < n; ++c) {
        cumulative += probs[kept[c]];
        if (cumulative > target) return kept[c];
    }
    return kept[n - 1];  // u * kept_mass rounded up to kept_mass; every candidate has p > 0
}

}  // namespace detail

/// One draw with explicit state. Consumes exactly one rng.next_float() unless the draw is greedy
/// (temperature 0). `token` is written only when the result is status::ok.
template <std::size_t Vocab>
[[nodiscard]] inline status sample_token(const float* logits, const sampling_params& params, pcg32& rng,
                                         sampler_workspace<Vocab>& ws, token_id& token) noexcept {
    static_assert(Vocab > 0, "ctattn: the vocabulary needs at least one token");
    static_assert(Vocab - 1 <= std::numeric_limits<token_id>::max(), "ctattn: vocabulary too large for token_id");
    if (logits == nullptr) return status::invalid_argument;
    if (!valid_sampling_params(params)) return status::invalid_parameter;
    if (params.temperature == 0.0f) return greedy_token<Vocab>(logits, token);

    float* const probs = ws.probabilities;
    if (const status s = probabilities_from_logits<Vocab>(logits, params.temperature, probs); s != status::ok)
        return s;

    const bool cut_k = params.top_k > 0 && params.top_k < Vocab;
    const bool cut_p = params.top_p < 1.0f;
    const float u = rng.next_float();  // [0, 1)
    if (!cut_k && !cut_p) {
        token = detail::draw_from_vocabulary<Vocab>(probs, u);
        return status::ok;
    }

    token_id* const kept = ws.candidates;
    const detail::logit_order order{logits};
    std::size_t n = detail::gather_candidates<Vocab>(probs, params, cut_k, cut_p, kept);
    if (cut_k && params.top_k < n) n = detail::cut_top_k(kept, n, params.top_k, order);
    if (cut_p) n = detail::cut_top_p<Vocab>(kept, n, probs, params.top_p, cut_k, order);
    token = detail::draw_from_kept(kept, n, probs, u);
    return status::ok;
}

/// A sampler with its parameters, its random stream and its workspace in one object
/// (sizeof ~ 8 * Vocab bytes: make it static for large vocabularies).
template <std::size_t Vocab>
class sampler {
public:
    static constexpr std::size_t vocab_size = Vocab;  ///< logits per draw

    /// `seed` starts the random stream (pcg32); the same seed gives the same tokens.
    constexpr sampler(const sampling_params& params, std::uint64_t seed) noexcept : params_(params), rng_(seed) {}

    /// status::invalid_argument for a null row, non_finite for NaN/+inf logits or all logits -inf,
    /// invalid_parameter for temperature < 0 or top_p outside (0, 1]; `token` is then untouched.
    [[nodiscard]] status sample(const float* logits, token_id& token) noexcept {
        return sample_token<Vocab>(logits, params_, rng_, workspace_, token);
    }

    /// New parameters for the next draws; status::invalid_parameter (and no change) when invalid.
    [[nodiscard]] status set_params(const sampling_params& params) noexcept {
        if (!valid_sampling_params(params)) return status::invalid_parameter;
        params_ = params;
        return status::ok;
    }
    /// The parameters in use.
    [[nodiscard]] const sampling_params& params() const noexcept { return params_; }
    /// Restarts the random stream as a new sampler with `seed` would.
    void reseed(std::uint64_t seed) noexcept { rng_ = pcg32(seed); }

    /// The probabilities behind the most recent non-greedy draw, softmax(logits / T) (vocab).
    [[nodiscard]] const float* last_probabilities() const noexcept { return workspace_.probabilities; }

private:
    sampling_params params_;
    pcg32 rng_;
    sampler_workspace<Vocab> workspace_{};
};

}  // namespace ctattn
