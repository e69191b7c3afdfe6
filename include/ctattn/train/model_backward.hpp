// SPDX-License-Identifier: Apache-2.0
// Loss and gradients of a whole language model (model/language_model.hpp) on one sequence:
//   forward:  x = embedding[tokens] (+ positions); x = block_l(x) for each layer (taped);
//             logits = head(final_norm(x))
//   loss = mean over scored positions p of -log softmax(logits_p)[target_p]
//   backward: dlogits = (p - onehot) / count -> head' -> final_norm' -> block_l' in reverse
//             -> learned positions' -> embedding' (dE[token] += dx; a tied head adds its share too)
// Everything lives in training_workspace<Config> (the tape and the backward scratch) and in the
// caller's gradient weights, sized by the configuration: a training step takes no heap.
#pragma once

#include "../base/language_check.hpp"  // first: under an older -std the first error names C++20

#include <cmath>
#include <cstddef>
#include <cstdint>

#include "../model/language_model.hpp"
#include "../base/status.hpp"
#include "../base/storage.hpp"
#include "block_backward.hpp"
#include "cross_entropy.hpp"
#include "embedding_backward.hpp"
#include "norm_backward.hpp"
#include "projection_backward.hpp"

namespace ctattn::train {

/// A target that is not scored (e.g. positions whose next token is unknown).
inline constexpr token_id ignore_target = ~token_id(0);

/// The tape and the backward scratch of model_training for configuration `Config`: static storage, no heap.
template <model_configuration Config>
struct training_workspace {
    /// \var D
    /// Model width (d_model).

    /// Sequence capacity (seq_capacity).
    static constexpr std::size_t S = Config::seq_capacity, D = Config::d_model, V = Config::vocab;  ///< V: vocab size
    /// Widest key/value width over the layers (max_kv_dim).
    static constexpr std::size_t KV = Config::max_kv_dim, F = Config::max_d_ff;  ///< F: widest d_ff (max_d_ff)
    typename Config::template per_layer<block_tape> tapes;    ///< hana::tuple of block_tape, one per layer
    matrix<S, D> x;        ///< (seq, d_model): residual stream, then its gradient
    matrix<S, D> x_final;  ///< (seq, d_model): final norm's input
    matrix<S, D> normed;   ///< (seq, d_model): head input
    matrix<S, V> logits;   ///< (seq, vocab): logits after a forward, their gradient after a backward
    matrix<S, D> d_tmp;    ///< (seq, d_model)
    matrix<S, D> dq;       ///< (seq, d_model)
    matrix<S, KV> dk;      ///< (seq, max kv_dim)
    matrix<S, KV> dv;      ///< (seq, max kv_dim)
    matrix<S, F> dz;       ///< (seq, max d_ff)
    matrix<Config::any_gated_ffn ? S : 1, Config::any_gated_ffn ? F : 1> du;  ///< (seq, max d_ff) if gated
    matrix<S, D> sublayer;    ///< (seq, d_model)
    row_vector<S> p_row;   ///< (seq)
    row_vector<S> dp_row;  ///< (seq)
    row_vector<S> scores;  ///< (seq)

    /// Pointers to the backward scratch (d_tmp .. sublayer), as block_training takes them.
    block_gradient_buffers buffers() noexcept {
        return {d_tmp.data(), dq.data(),       dk.data(),     dv.data(),     dz.data(),
                du.data(),    p_row.data(),    dp_row.data(), scores.data(), sublayer.data()};
    }
};

/// Loss and gradients of language_model<Config, Arch> on one sequence: a taped forward, then backward
/// from the cross-entropy through head, final norm, blocks (last first), positions and embedding.
template <model_configuration Config, class Arch = simd::default_arch>
struct model_training {
    using config = Config;                              ///< the model configuration
    using model = language_model<Config, Arch>;         ///< the inference model whose forward this repeats
    using weights_type = model_weights<Config>;         ///< the model's weights
    using gradients_type = model_weights<Config>;       ///< one float per weight, same layout
    using workspace_type = training_workspace<Config>;  ///< tape and scratch
    using position = typename Config::position;         ///< the position policy
    using final_norm = typename Config::final_norm;     ///< the norm policy before the head
    /// \var V
    /// Vocabulary size (vocab).

    /// Model width (d_model).
    static constexpr std::size_t D = Config::d_model, V = Config::vocab, S = Config::seq_capacity;  ///< S: seq_capacity

    /// Forward over tokens[0..n), filling the tape and ws.logits (n x vocab, as model::forward).
    [[nodiscard]] static status forward(const weights_type& w, const token_id* tokens, std::size_t n,
                                        workspace_type& ws) noexcept {
        if (tokens == nullptr) return status::invalid_argument;
        if (n == 0 || n > S) return status::invalid_length;
        if (const status s = model::check_tokens(tokens, n); s != status::ok) return s;
        if (const status s = Config::validate_masks(n); s != status::ok) return s;
        model::embed(w, tokens, n, 0, ws.x.data());
        const block_gradient_buffers buf = ws.buffers();
        for_each_layer([&](auto i) {
            using block = typename Config::template block<decltype(i)::value>;
            block_training<block, position, Arch>::forward(hana::at(w.layers, i), n, ws.x.data(),
                                                           hana::at(ws.tapes, i), buf);
        });
        for (std::size_t i = 0; i < n * D; ++i) ws.x_final[i] = ws.x[i];
        for (std::size_t r = 0; r < n; ++r)
            final_norm::template apply<D, Arch>(w.final_norm, ws.x_final.row(r), ws.normed.row(r));
        model::head_rows(w, n, ws.normed.data(), ws.logits.data());
        return status::ok;
    }

    /// Mean cross-entropy of targets[p] (the token after position p; ignore_target skips p) and
    /// its gradient, times `weight`, added to grads (zero them first: zero_tensors). loss receives
    /// the mean; invalid_argument when no position is scored, invalid_token for a target >= vocab,
    /// invalid_parameter for a non-finite weight, non_finite when the logits are not all finite
    /// (the loss would be NaN): then grads and loss are untouched.
    [[nodiscard]] static status loss_and_gradients(const weights_type& w, const token_id* tokens,
                                                   const token_id* targets, std::size_t n, gradients_type& grads,
                                                   workspace_type& ws, float& loss, float weight = 1.0f) noexcept {
        if (targets == nullptr || tokens == nullptr) return status::invalid_argument;
        if (n == 0 || n > S) return status::invalid_length;
        std::size_t scored = 0;
        for (std::size_t p = 0; p < n; ++p) {
            if (targets[p] == ignore_target) continue;
            if (targets[p] >= V) return status::invalid_token;
            ++scored;
        }
        if (const status s = forward(w, tokens, n, ws); s != status::ok) return s;
        if (scored == 0) return status::invalid_argument;

        // ---- loss and dlogits (in the workspace: grads and loss are untouched until all are finite)
        if (!std::isfinite(weight)) return status::invalid_parameter;
        double total = 0.0;
        for (std::size_t p = 0; p < n; ++p) {
            float* row = ws.logits.row(p);
            if (targets[p] == ignore_target) {
                for (std::size_t t = 0; t < V; ++t) row[t] = 0.0f;
                continue;
            }
            float row_loss = 0.0f;
            if (const status s = cross_entropy_row<V>(row, targets[p], weight / float(scored), row, row_loss);
                s != status::ok)
                return s;  // non_finite: the forward pass overflowed (weights or inputs out of range)
            total += double(row_loss);
        }
        if (!std::isfinite(total)) return status::non_finite;
        loss = float(total / double(scored));

        // ---- head and final norm
        float* d_normed = ws.d_tmp.data();
        if constexpr (Config::head::tied) {
            for (std::size_t i = 0; i < n * D; ++i) d_normed[i] = 0.0f;
            for (std::size_t p = 0; p < n; ++p) {
                const float* dl = ws.logits.row(p);
                const float* xn = ws.normed.row(p);
                for (std::size_t t = 0; t < V; ++t) {
                    const float g = dl[t];
                    if (g == 0.0f) continue;
                    const float* e = w.embedding.row(t);
                    float* de = grads.embedding.row(t);
                    for (std::size_t i = 0; i < D; ++i) {
                        d_normed[p * D + i] += g * e[i];
                        de[i] += g * xn[i];
                    }
                }
            }
        } else {
            float* db = nullptr;
            if constexpr (Config::head::bias) db = grads.head.b_out.data();
            projection_input_gradient<D, V, Arch>(n, ws.logits.data(), w.head.w_out.data(), d_normed, false);
            projection_weight_gradient<D, V>(n, ws.normed.data(), ws.logits.data(), grads.head.w_out.data(), db);
        }
        float* dx = ws.x.data();
        for (std::size_t r = 0; r < n; ++r)
            norm_backward<final_norm>::template row<D>(w.final_norm, ws.x_final.row(r), d_normed + r * D, dx + r * D,
                                                        grads.final_norm, false);

        // ---- blocks, last first
        const block_gradient_buffers buf = ws.buffers();
        for_each_layer([&](auto forward_index) {
            constexpr std::size_t l = Config::layers - 1 - decltype(forward_index)::value;
            using block = typename Config::template block<l>;
            block_training<block, position, Arch>::backward(hana::at_c<l>(w.layers), n, hana::at_c<l>(ws.tapes), dx,
                                                            hana::at_c<l>(grads.layers), buf);
        });

        // ---- positions and embedding
        if constexpr (requires { grads.positions.table; })
            for (std::size_t r = 0; r < n; ++r)
                for (std::size_t i = 0; i < D; ++i) grads.positions.table(r, i) += dx[r * D + i];
        embedding_gradient<D>(n, tokens, dx, grads.embedding.data());
        return status::ok;
    }

private:
    template <class F>
    static void for_each_layer(F&& f) noexcept {
        hana::for_each(hana::make_range(hana::size_c<0>, hana::size_c<Config::layers>), f);
    }
};

}  // namespace ctattn::train
