// SPDX-License-Identifier: Apache-2.0
// A decoder-style language model stamped out at compile time:
//   x = embedding[tokens] (+ positions)            (rows of d_model: the residual stream)
//   for each block l:  x = block_l(x)               (attention + FFN, norms per block_config)
//   logits = head(final_norm(x))                   (untied x @ W_out (+ b), or tied x @ embedding^T)
//   probabilities = softmax(logits) over the vocabulary
// The layer stack is a Boost.Hana tuple of block types, so layers may differ (per-layer sliding
// windows, heads, d_ff, norm placement) and each layer's kernels are instantiated for its own
// constants; iteration is unrolled at compile time, nothing is dispatched at run time.
// The configuration (model_config, heads, per-layer mask parameters) is model/config.hpp;
// incremental decoding with a KV cache is model/decoder.hpp, which shares `run_layers` with forward.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <limits>
#include <type_traits>
#include <utility>

#if defined(__has_include)
#if !__has_include(<boost/hana/tuple.hpp>)
// The hint must not send a cross compiler to /usr/include: that folder's libc and arch headers
// are the build machine's. Only the folder holding boost/ goes on the include path.
#error "ctattn: model/language_model.hpp needs Boost.Hana (header-only, Boost >= 1.74). Native: apt install libboost-dev. Cross: add -isystem DIR where DIR holds boost/ only (e.g. a link DIR/boost -> /usr/include/boost); never -I/usr/include"
#endif
#endif
#include <boost/hana/at.hpp>
#include <boost/hana/for_each.hpp>
#include <boost/hana/range.hpp>
#include <boost/hana/tuple.hpp>
#include <boost/hana/type.hpp>

#include "config.hpp"
#include "../layers/block.hpp"
#include "../layers/norm.hpp"
#include "../kernels/q8_projection.hpp"
#include "../kernels/scores.hpp"
#include "../base/weight_storage.hpp"
#include "../layers/position.hpp"
#include "../simd/ops.hpp"
#include "../base/status.hpp"
#include "../base/storage.hpp"
#include "../base/token.hpp"

namespace ctattn {

namespace hana = boost::hana;

// ---- weights and scratch ----------------------------------------------------------------

/// One weights type family, parameterised by who holds the numbers (base/weight_storage.hpp):
///   model_weights<Config>       owns them (RAM, or a constexpr object): llama2c::load fills one
///   model_weights_view<Config>  points at them: constant arrays in flash, a validated blob; built by
///                               make_weights_view (model/weights_image.hpp), constexpr when the
///                               arrays are, so the view itself is constant-initialised in .rodata
/// language_model, decoder and transformer_block take either and run the same code.
template <model_configuration Config, weight_storage Storage = owned_weights>
struct model_weights {
    /// The configuration's d_model.
    static constexpr std::size_t D = Config::d_model, V = Config::vocab, S = Config::seq_capacity;
    ///< S: the configuration's seq_capacity.
    /** \var V
        The configuration's vocabulary size. */
    using storage = Storage;  ///< who holds the numbers (owned_weights or viewed_weights)
    using format = weight_format_of<Config>;  ///< how projections and the embedding are stored
    /// The storage policy of every tensor: Storage in the configuration's format.
    using tensor_storage = typename format::template storage<Storage>;
    /// One block's weights, held the same way.
    template <class Block>
    using layer_weights = block_weights<Block, tensor_storage>;
    embedding_matrix<tensor_storage, V, D> embedding;                                 ///< (vocab, d_model)
    typename Config::position::template weights<D, S, tensor_storage> positions;      ///< learned: (seq_capacity, d_model)
    typename Config::template per_layer<layer_weights> layers;                        ///< hana::tuple of block_weights
    typename Config::final_norm::template weights<D, tensor_storage> final_norm;      ///< (d_model) gain (+ bias)
    typename Config::head::template weights<D, V, tensor_storage> head;               ///< untied: (d_model, vocab) (+ bias)

    /// Layer I's weights (0 = bottom).
    template <std::size_t I>
    constexpr auto& layer() noexcept { return hana::at_c<I>(layers); }
    /// Layer I's weights, read-only.
    template <std::size_t I>
    constexpr const auto& layer() const noexcept { return hana::at_c<I>(layers); }
};

/// Weights read in place from constant storage (model/weights_image.hpp).
template <model_configuration Config>
using model_weights_view = model_weights<Config, viewed_weights>;

/// Activations for up to Rows tokens at once: Rows = seq_capacity for a full forward, a small
/// chunk for the decoder. Widths are the widest layer's.
template <model_configuration Config, std::size_t Rows>
struct activation_scratch {
    /// The configuration's d_model.
    static constexpr std::size_t D = Config::d_model, F = Config::max_d_ff;
    ///< F: the widest layer's d_ff.
    static constexpr std::size_t rows = Rows;  ///< tokens held at once
    matrix<Rows, D> x;         ///< (rows, d_model): the residual stream
    matrix<Rows, D> normed;    ///< (rows, d_model)
    matrix<Rows, D> q;         ///< (rows, d_model)
    matrix<Rows, D> context;   ///< (rows, d_model)
    matrix<Rows, D> sublayer;  ///< (rows, d_model)
    matrix<Rows, F> hidden;    ///< (rows, max d_ff)
    matrix<Config::any_gated_ffn ? Rows : 1, Config::any_gated_ffn ? F : 1> up;  ///< (rows, max d_ff): gated
    matrix<kernels::decode_heads_per_pass, Config::seq_capacity> scores;       ///< (2, seq_capacity): decode's head pair
    /// The blocked attention core's scratch, for several rows at once on a vector arch; absent (an
    /// empty member taking no bytes) for one row and on scalar builds: Cortex-M RAM goes to
    /// nothing it does not use.
    static constexpr bool blocked = Rows > 1 && uses_blocked_attention<simd::default_arch>;
    /// Row stride of the blocked core's key panels.
    static constexpr std::size_t key_stride = blocked_key_stride<Config::seq_capacity>;
    /// Stands in for a blocked scratch matrix that is not needed.
    struct absent {
        /// No storage.
        static constexpr float* data() noexcept { return nullptr; }
    };
    /// matrix<R, C> when the blocked core is used, else absent.
    template <std::size_t R, std::size_t C>
    using blocked_matrix = std::conditional_t<blocked, matrix<R, C>, absent>;
    [[no_unique_address]] blocked_matrix<Config::max_head_dim, key_stride> keys_transposed;  ///< (head_dim, seq)
    [[no_unique_address]] blocked_matrix<blocked_tile_rows_max, key_stride> score_block;    ///< (tile rows, seq)

    /// The scratch as the buffers a transformer block runs on.
    block_buffers buffers() noexcept {
        return {normed.data(),
                q.data(),
                context.data(),
                sublayer.data(),
                hidden.data(),
                up.data(),
                scores.data(),
                keys_transposed.data(),
                score_block.data()};
    }
};

/// Everything one full-sequence forward needs besides the weights: activations for every position
/// and one layer's K/V rows (layers run in turn, so one K/V buffer serves them all).
template <model_configuration Config>
struct model_workspace {
    activation_scratch<Config, Config::seq_capacity> activations;  ///< rows for every position
    matrix<Config::seq_capacity, Config::max_kv_dim> k;  ///< the current layer's (kv_heads, seq_capacity, head_dim)
    matrix<Config::seq_capacity, Config::max_kv_dim> v;  ///< the current layer's (kv_heads, seq_capacity, head_dim)
};

// ---- the model --------------------------------------------------------------------------

/// The forward pass of a configuration, and the steps the KV-cache decoder shares with it.
template <model_configuration Config, class Arch = simd::default_arch>
struct language_model {
    using config = Config;  ///< the model configuration
    using arch = Arch;  ///< the SIMD target tag
    using weights_type = model_weights<Config>;            ///< owned weights (entry points also take a view)
    using view_type = model_weights_view<Config>;          ///< a view (or any Storage) of the same shapes
    using workspace_type = model_workspace<Config>;  ///< scratch for one forward
    using position = typename Config::position;  ///< the position policy
    static constexpr std::size_t vocab_size = Config::vocab;  ///< logits per position
    static constexpr std::size_t d_model = Config::d_model;  ///< width of the residual stream
    static constexpr std::size_t seq_capacity = Config::seq_capacity;  ///< maximum sequence length
    static constexpr std::size_t layers = Config::layers;  ///< number of blocks
    static constexpr std::size_t weight_bytes = sizeof(weights_type);  ///< bytes of owned weights
    static constexpr std::size_t workspace_bytes = sizeof(workspace_type);  ///< bytes of one workspace

    using mask_params = typename Config::mask_params;  ///< each layer's run-time mask parameters

    /// tokens[n] -> logits[n x vocab]: row p holds the scores for the token after position p.
    /// masks: each layer's mask parameters (Config::sequence_mask_params(valid_len) for a padded
    /// sequence); without them every layer gets its defaults, which a key-padding layer rejects.
    /// invalid_argument for null pointers, invalid_length unless 1 <= n <= seq_capacity,
    /// invalid_token for an id >= vocab, or a layer's mask status; logits untouched on error.
    /// observer: optional, an observer (layers/trace.hpp) shown every layer.
    template <class Storage, class... Observer>
    [[nodiscard]] static status forward(const model_weights<Config, Storage>& w, const token_id* tokens,
                                        std::size_t n, float* logits, workspace_type& ws,
                                        Observer*... observer) noexcept {
        return forward(w, tokens, n, logits, ws, mask_params{}, observer...);
    }
    /// forward with each layer's mask parameters given (see the overload above).
    template <class Storage, class... Observer>
    [[nodiscard]] static status forward(const model_weights<Config, Storage>& w, const token_id* tokens,
                                        std::size_t n, float* logits, workspace_type& ws, const mask_params& masks,
                                        Observer*... observer) noexcept {
        static_assert(sizeof...(Observer) <= 1, "ctattn: forward takes at most one observer");
        if (tokens == nullptr || logits == nullptr) return status::invalid_argument;
        if (n == 0 || n > seq_capacity) return status::invalid_length;
        if (const status s = check_tokens(tokens, n); s != status::ok) return s;
        if (const status s = Config::validate_masks(masks, n); s != status::ok) return s;

        auto& act = ws.activations;
        embed(w, tokens, n, 0, act.x.data());
        run_layers(w, n, 0, act.x.data(), act.buffers(), masks,
                   [&](auto) { return std::pair<float*, float*>{ws.k.data(), ws.v.data()}; }, observer...);
        for (std::size_t r = 0; r < n; ++r)
            Config::final_norm::template apply<d_model, Arch>(w.final_norm, act.x.row(r), act.normed.row(r));
        head_rows(w, n, act.normed.data(), logits);
        return status::ok;
    }

    /// Next-token probabilities from one row of logits: p_t = exp(l_t - max) / sum exp(l_s - max)
    /// over the vocabulary (probs may be logits). Loops have constant bounds (vocab_size), which
    /// also keeps GCC 12's -Waggressive-loop-optimizations quiet for vocabularies divisible by W.
    /// status::non_finite (probs untouched) when a logit is NaN or +inf or every logit is -inf.
    static status probabilities(const float* logits, float* probs) noexcept {
        using V = simd::ops<Arch>;
        constexpr std::size_t W = V::width;
        constexpr std::size_t full = vocab_size / W * W;
        if (logits == nullptr || probs == nullptr) return status::invalid_argument;
        float max = logits[0];
        bool non_finite = !(logits[0] < std::numeric_limits<float>::infinity());  // NaN or +inf
        for (std::size_t t = 1; t < vocab_size; ++t) {
            non_finite |= !(logits[t] < std::numeric_limits<float>::infinity());
            max = logits[t] > max ? logits[t] : max;
        }
        if (non_finite || !(max > -std::numeric_limits<float>::infinity())) return status::non_finite;
        const typename V::vec max_v = V::broadcast(max);
        typename V::vec sum_v = V::zero();
        for (std::size_t t = 0; t < full; t += W) {
            const typename V::vec e = V::exp(V::sub(V::load(logits + t), max_v));
            V::store(probs + t, e);
            sum_v = sum_v + e;
        }
        float sum = V::reduce_add(sum_v);
        for (std::size_t t = full; t < vocab_size; ++t) sum += (probs[t] = std::exp(logits[t] - max));
        // sum >= 1: the largest logit contributes exp(0).
        const float inv_sum = 1.0f / sum;
        for (std::size_t t = 0; t < vocab_size; ++t) probs[t] *= inv_sum;
        return status::ok;
    }

    // ---- steps shared with the KV-cache decoder (model/decoder.hpp) ----

    /// status::invalid_token if any of the n ids is >= vocab, else status::ok.
    [[nodiscard]] static status check_tokens(const token_id* tokens, std::size_t n) noexcept {
        for (std::size_t i = 0; i < n; ++i)
            if (tokens[i] >= vocab_size) return status::invalid_token;
        return status::ok;
    }

    /// x rows = embedding[tokens] (+ position pos0 + r for additive position policies).
    template <class Storage>
    static void embed(const model_weights<Config, Storage>& w, const token_id* tokens, std::size_t rows,
                      std::size_t pos0, float* x) noexcept {
        for (std::size_t r = 0; r < rows; ++r) {
            float* row = x + r * d_model;
            if constexpr (q8_projection_matrix<decltype(w.embedding)>) {
                kernels::q8_dequantize_row(w.embedding, tokens[r], row);  // a Q8 row: codes x scales
            } else {
                const float* e = w.embedding.row(tokens[r]);
                for (std::size_t i = 0; i < d_model; ++i) row[i] = e[i];
            }
            if constexpr (position::additive) position::add(w.positions, pos0 + r, row);
        }
    }

    /// Every block in order over `rows` tokens at positions pos0..; kv_rows(hana::size_c<I>) gives
    /// layer I's (k, v) row buffers, (seq_capacity x kv_dim_I) each, as a std::pair of float* or of
    /// kv_rows (a decoder's float16 or int8 cache); layer I's mask gets masks[I].
    template <class Storage, class KvRows, class... Observer>
    static void run_layers(const model_weights<Config, Storage>& w, std::size_t rows, std::size_t pos0, float* x,
                           const block_buffers& buffers, const mask_params& masks, KvRows&& kv_rows,
                           Observer*... observer) noexcept {
        hana::for_each(hana::make_range(hana::size_c<0>, hana::size_c<layers>), [&](auto layer_index) {
            using block = typename Config::template block<decltype(layer_index)::value>;
            const auto kv = kv_rows(layer_index);  // (k, v): float* or kv_rows (base/kv_storage.hpp)
            transformer_block<block, position, Arch>::run(hana::at(w.layers, layer_index), rows, pos0, x, kv.first,
                                                          kv.second, buffers, hana::at(masks, layer_index),
                                                          observed_layer<Observer>{observer, decltype(layer_index)::value}...);
        });
    }

    /// One row of the residual stream -> vocab logits (normed: d_model scratch).
    template <class Storage>
    static void head_logits(const model_weights<Config, Storage>& w, const float* x, float* normed,
                            float* logits) noexcept {
        Config::final_norm::template apply<d_model, Arch>(w.final_norm, x, normed);
        head_rows(w, 1, normed, logits);
    }

    /// rows x d_model normed rows -> rows x vocab logits: one projection over all rows (untied), or
    /// a dot product with every embedding row (tied). The tied head is the attention score kernel
    /// with the vocabulary as keys: a vector's width of embedding rows per step share each loaded
    /// normed vector, and one transpose-and-add replaces that many horizontal sums. A Q8 embedding
    /// is a Q8 matrix of d_model inputs and vocab outputs: the tied head is its projection.
    template <class Storage>
    static void head_rows(const model_weights<Config, Storage>& w, std::size_t rows, const float* normed,
                          float* logits) noexcept {
        if constexpr (Config::head::tied && q8_projection_matrix<decltype(w.embedding)>) {
            kernels::project_q8(rows, normed, w.embedding, nullptr, logits);
        } else if constexpr (Config::head::tied) {
            for (std::size_t r = 0; r < rows; ++r)
                kernels::dot_rows<d_model, vocab_size, Arch>(normed + r * d_model, w.embedding.data(),
                                                             logits + r * vocab_size);
        } else if constexpr (Config::head::bias) {
            kernels::project_weights<d_model, vocab_size, Arch>(rows, normed, w.head.w_out, w.head.b_out.data(), logits);
        } else {
            kernels::project_weights<d_model, vocab_size, Arch>(rows, normed, w.head.w_out, nullptr, logits);
        }
    }
};

}  // namespace ctattn
