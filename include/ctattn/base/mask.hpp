// SPDX-License-Identifier: Apache-2.0
// Mask policies. A mask decides, for a query at absolute position `query_pos`, which keys it may
// see; everything else gets a score of -inf before softmax, i.e. weight exactly 0. All four
// policies here see one contiguous run of keys, so kernels ask for that run (`visible_keys`) and
// never compute a score that would be thrown away.
#pragma once

#include <concepts>
#include <cstddef>

#include "status.hpp"

namespace ctattn {

/// Half-open run of visible key positions [begin, end). Empty (begin == end) means fully masked.
struct key_range {
    std::size_t begin;  ///< first visible key position
    std::size_t end;    ///< one past the last visible key position
    /// Number of visible keys.
    constexpr std::size_t size() const noexcept { return end > begin ? end - begin : 0; }
    /// Whether no key is visible (the query is fully masked).
    constexpr bool empty() const noexcept { return end <= begin; }
};

/// No mask: every query sees every key (encoders, seed 002's walkthrough).
struct no_mask {
    struct params {};
    static constexpr const char* name = "none";  ///< the policy's name, for reports
    /// Always status::ok: there is no run-time parameter.
    static constexpr status validate(const params&, std::size_t) noexcept { return status::ok; }
    /// All n_keys keys.
    static constexpr key_range visible_keys(const params&, std::size_t, std::size_t n_keys) noexcept {
        return {0, n_keys};
    }
};

/// Causal: a query sees itself and the past, never the future (-inf above the diagonal).
struct causal_mask {
    struct params {};
    static constexpr const char* name = "causal";  ///< the policy's name, for reports
    /// Always status::ok: there is no run-time parameter.
    static constexpr status validate(const params&, std::size_t) noexcept { return status::ok; }
    /// Keys 0 .. query_pos (at most n_keys).
    static constexpr key_range visible_keys(const params&, std::size_t query_pos, std::size_t n_keys) noexcept {
        return {0, query_pos + 1 < n_keys ? query_pos + 1 : n_keys};
    }
};

/// Key padding: the sequence is padded after `valid_len` real tokens; every query ignores the
/// padding keys. valid_len is a run-time value and must lie in 1..n_keys.
struct key_padding_mask {
    /// The run-time parameter.
    struct params {
        std::size_t valid_len = 0;  ///< number of real (unpadded) tokens, 1..n_keys
    };
    static constexpr const char* name = "key_padding";  ///< the policy's name, for reports
    /// status::invalid_mask unless 1 <= valid_len <= n_keys.
    static constexpr status validate(const params& p, std::size_t n_keys) noexcept {
        return (p.valid_len >= 1 && p.valid_len <= n_keys) ? status::ok : status::invalid_mask;
    }
    /// Keys 0 .. valid_len - 1 (at most n_keys), whatever the query.
    static constexpr key_range visible_keys(const params& p, std::size_t, std::size_t n_keys) noexcept {
        return {0, p.valid_len < n_keys ? p.valid_len : n_keys};
    }
};

/// Sliding window (causal, Mistral-style): a query at p sees the Window keys p-Window+1 .. p,
/// itself included. Window is a compile-time width.
template <std::size_t Window>
struct sliding_window_mask {
    static_assert(Window >= 1, "ctattn: sliding_window_mask needs a window of at least 1 key");
    struct params {};
    static constexpr std::size_t window = Window;           ///< keys a query sees, itself included
    static constexpr const char* name = "sliding_window";  ///< the policy's name, for reports
    /// Always status::ok: there is no run-time parameter.
    static constexpr status validate(const params&, std::size_t) noexcept { return status::ok; }
    /// Keys query_pos - Window + 1 .. query_pos, clipped to 0 and n_keys.
    static constexpr key_range visible_keys(const params&, std::size_t query_pos, std::size_t n_keys) noexcept {
        const std::size_t end = query_pos + 1 < n_keys ? query_pos + 1 : n_keys;
        const std::size_t begin = query_pos + 1 > Window ? query_pos + 1 - Window : 0;
        return {begin < end ? begin : end, end};
    }
};

/// What a type must provide to be used as a mask policy.
template <class M>
concept mask_policy = requires(const typename M::params& p, std::size_t n) {
    { M::validate(p, n) } -> std::same_as<status>;
    { M::visible_keys(p, n, n) } -> std::same_as<key_range>;
};

/// Whether key `key_pos` is visible to query `query_pos` (for references, readouts and tests).
template <mask_policy Mask>
constexpr bool is_visible(const typename Mask::params& p, std::size_t query_pos, std::size_t key_pos,
                          std::size_t n_keys) noexcept {
    const key_range r = Mask::visible_keys(p, query_pos, n_keys);
    return key_pos >= r.begin && key_pos < r.end;
}

}  // namespace ctattn
