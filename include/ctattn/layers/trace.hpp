// SPDX-License-Identifier: Apache-2.0
// Tracing: look inside a forward pass or a decode step without changing it. An observer is passed
// by address as the optional last argument of multi_head_attention::forward, language_model::forward
// or decoder::prefill / decode_step (transformer_block::run takes an observed_layer: the observer
// and the block's number); for every layer it is shown
//   - the attention of each head: Q, K, V, the raw scores s_ij = q_i . k_j / sqrt(head_dim), the
//     masked weights P_ij = softmax_j(mask(s_i)), and the head outputs O_h = P_h V (attention_trace);
//   - the residual stream before and after each sublayer (residual_trace).
// Without an observer the hooks are empty folds over an empty parameter pack: an untraced call has
// the parameters it had before tracing existed and compiles to the same instructions.
//
// An observer implements any of (each is looked for with `requires`, absent ones cost nothing):
//   template <class Config> void on_attention(const ctattn::attention_trace<Config>& t);
//   void on_residual(const ctattn::residual_trace& r);
// Hooks run after the step they show and read the pass's own buffers, so an observer must copy
// what it keeps. Q, K, V and O are the pass's own numbers. The weights are the core's own when the
// pass wrote them out (multi_head_attention::forward with a readout: core_weights); otherwise they
// are recomputed from that Q and K on demand by the cores' own double path
// (kernels::softmax_row_in_double: finite for every finite Q and K), which is bit for bit what a
// core used on a row whose float scores overflowed, and within float rounding of a core's float
// softmax elsewhere (tests/layers/test_trace.cpp allows 2e-6).
#pragma once

#include <cmath>
#include <cstddef>
#include <limits>
#include <type_traits>

#include "../base/attention_config.hpp"
#include "../base/mask.hpp"
#include "../kernels/softmax.hpp"

namespace ctattn {

/// Observers are passed as a trailing pointer that untraced calls simply leave out: the entry
/// points take `Observer*... observer` (none, or one), so an untraced instantiation has exactly the
/// parameters it had before tracing existed and compiles to the same code. no_observer names the
/// absence where a type is wanted.
struct no_observer {};

/// Whether Observer is a real observer rather than no_observer.
template <class Observer>
inline constexpr bool traced = !std::is_same_v<std::remove_cv_t<Observer>, no_observer>;

/// What a model hands each block it runs for an observer: the observer and the block's number.
template <class Observer>
struct observed_layer {
    Observer* observer;  ///< the observer (may be null: nothing is shown)
    std::size_t layer;   ///< block index in the model
};

/// One layer's attention over `rows` queries at positions pos0 .. pos0+rows-1 against keys at
/// 0 .. n_keys-1 (a full pass: pos0 = 0, rows = n_keys; a decode step: rows = 1).
template <attention_configuration Config>
struct attention_trace {
    using config = Config;  ///< the attention layer's configuration
    /// Config::heads: query heads.
    static constexpr std::size_t heads = Config::heads, kv_heads = Config::kv_heads, head_dim = Config::head_dim,
                                 d_model = Config::d_model, group_size = Config::group_size;
    /// \var kv_heads
    /// Config::kv_heads: key/value heads.
    /// \var head_dim
    /// Config::head_dim: floats per head.
    /// \var d_model
    /// Config::d_model: floats per row of q and context.
    /// \var group_size
    /// Config::group_size: query heads per KV head.

    std::size_t layer;   ///< block index in the model (0 for a lone attention layer)
    std::size_t rows;    ///< queries traced
    std::size_t pos0;    ///< absolute position of the first query
    std::size_t n_keys;  ///< keys (and values) at positions 0 .. n_keys-1
    const float* q;      ///< rows x d_model: every head's query, after RoPE if any
    const float* k;      ///< key j of KV head g at k + g * kv_head_stride + j * kv_row_stride
    const float* v;      ///< likewise for values
    std::size_t kv_row_stride;   ///< floats from key j to key j + 1 (and value j to j + 1)
    std::size_t kv_head_stride;  ///< floats from KV head g to g + 1
    const float* context;  ///< rows x d_model: concat_h(O_h), before the output projection
    typename Config::mask::params mask;  ///< the mask's parameters for this pass
    /// The core's own weights P when the pass wrote them out, else null: element (h, i, j) at
    /// core_weights + h * core_weights_head_stride + i * core_weights_row_stride + j.
    const float* core_weights = nullptr;
    std::size_t core_weights_row_stride = 0;   ///< floats from query row i to i + 1 in core_weights
    std::size_t core_weights_head_stride = 0;  ///< floats from head h to h + 1 in core_weights

    /// head_dim floats: query `row` of `head`.
    const float* query(std::size_t head, std::size_t row) const noexcept { return q + row * d_model + head * head_dim; }
    /// head_dim floats: the key at key_pos that `head` reads (its KV head's).
    const float* key(std::size_t head, std::size_t key_pos) const noexcept {
        return k + (head / group_size) * kv_head_stride + key_pos * kv_row_stride;
    }
    /// head_dim floats: the value at key_pos that `head` reads (its KV head's).
    const float* value(std::size_t head, std::size_t key_pos) const noexcept {
        return v + (head / group_size) * kv_head_stride + key_pos * kv_row_stride;
    }
    /// head_dim floats: O_h for query `row`, before the output projection.
    const float* head_output(std::size_t head, std::size_t row) const noexcept {
        return context + row * d_model + head * head_dim;
    }
    /// The keys query `row` may attend to under the mask.
    key_range visible(std::size_t row) const noexcept {
        return Config::mask::visible_keys(mask, pos0 + row, n_keys);
    }

    /// out[0 .. n_keys): s_j = q . k_j / sqrt(head_dim) for every key, masked or not.
    void raw_scores(std::size_t head, std::size_t row, float* out) const noexcept {
        const float* qh = query(head, row);
        for (std::size_t j = 0; j < n_keys; ++j) {
            const float* kj = key(head, j);
            double dot = 0.0;
            for (std::size_t d = 0; d < head_dim; ++d) dot += double(qh[d]) * double(kj[d]);
            out[j] = float(dot * double(Config::score_scale));
        }
    }

    /// out[0 .. n_keys): P_j, softmax over the visible keys, 0 for masked ones (all 0 if none is visible).
    void weights(std::size_t head, std::size_t row, float* out) const noexcept {
        if (core_weights != nullptr) {
            const float* p = core_weights + head * core_weights_head_stride + row * core_weights_row_stride;
            for (std::size_t j = 0; j < n_keys; ++j) out[j] = p[j];
            return;
        }
        // The stride is a template argument of the kernel: the two layouts the callers pass (a
        // layer's rows with the heads side by side, the cache head by head).
        const double scale = double(Config::score_scale);
        if (kv_row_stride == Config::kv_dim)
            kernels::softmax_row_in_double<head_dim, Config::kv_dim>(query(head, row), key(head, 0), n_keys,
                                                                     visible(row), scale, out);
        else if (kv_row_stride == head_dim)
            kernels::softmax_row_in_double<head_dim, head_dim>(query(head, row), key(head, 0), n_keys, visible(row),
                                                               scale, out);
        else
            weights_any_stride(head, row, out);
    }

private:
    // softmax_row_in_double's arithmetic, step for step, for a stride neither layout uses.
    void weights_any_stride(std::size_t head, std::size_t row, float* out) const noexcept {
        const key_range vis = visible(row);
        const std::size_t end = vis.end < n_keys ? vis.end : n_keys;
        const float* qh = query(head, row);
        auto score = [&](std::size_t j) {
            const float* kj = key(head, j);
            double dot = 0.0;
            for (std::size_t d = 0; d < head_dim; ++d) dot += double(qh[d]) * double(kj[d]);
            return double(Config::score_scale) * dot;
        };
        constexpr double plus_inf = std::numeric_limits<double>::infinity();
        double max = -plus_inf;
        bool has_nan = false;
        for (std::size_t j = vis.begin; j < end; ++j) {
            const double s = score(j);
            has_nan = has_nan || s != s;
            max = s > max ? s : max;
        }
        std::size_t infinite = 0;
        double sum = 0.0;
        for (std::size_t j = vis.begin; j < end; ++j) {
            const double s = score(j);
            if (max == plus_inf) {
                infinite += s == plus_inf ? 1 : 0;
                out[j] = s == plus_inf ? 1.0f : 0.0f;
            } else {
                const double e = max > -plus_inf ? std::exp(s - max) : 0.0;
                sum += e;
                out[j] = float(e);
            }
        }
        const double inv = has_nan ? std::numeric_limits<double>::quiet_NaN()
                           : max == plus_inf ? 1.0 / double(infinite)
                           : sum > 0.0       ? 1.0 / sum
                                             : 0.0;
        for (std::size_t j = vis.begin; j < end; ++j) out[j] = float(double(out[j]) * inv);
        for (std::size_t t = 0; t < vis.begin && t < n_keys; ++t) out[t] = 0.0f;
        for (std::size_t t = end; t < n_keys; ++t) out[t] = 0.0f;
    }
};

/// Where in a block the residual stream is shown.
enum class residual_point {
    block_input,      ///< x entering the block (the attention sublayer's residual input)
    after_attention,  ///< x after the attention sublayer's residual add (and its norm, post-norm)
    block_output,     ///< x after the FFN sublayer's residual add (and its norm, post-norm)
};

/// The enumerator's name, e.g. "block_input".
inline constexpr const char* to_string(residual_point p) noexcept {
    switch (p) {
        case residual_point::block_input: return "block_input";
        case residual_point::after_attention: return "after_attention";
        case residual_point::block_output: return "block_output";
    }
    return "unknown";
}

/// The residual stream of one block at one point, for `rows` tokens.
struct residual_trace {
    std::size_t layer;     ///< block index in the model
    residual_point point;  ///< where in the block
    std::size_t rows;      ///< tokens at positions pos0 .. pos0+rows-1
    std::size_t pos0;      ///< absolute position of the first token
    std::size_t d_model;   ///< floats per row
    const float* x;        ///< rows x d_model
};

namespace detail {
template <class Observer, class Config>
inline void notify(Observer* observer, const attention_trace<Config>& t) {
    if constexpr (requires { observer->on_attention(t); })
        if (observer != nullptr) observer->on_attention(t);
}
template <class Observer>
inline void notify(Observer* observer, const residual_trace& r) {
    if constexpr (requires { observer->on_residual(r); })
        if (observer != nullptr) observer->on_residual(r);
}
}  // namespace detail

}  // namespace ctattn
