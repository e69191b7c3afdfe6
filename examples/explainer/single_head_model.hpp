// SPDX-License-Identifier: Apache-2.0
// The seed-000 toy model ("GPT has no idea what words mean"): no positions, no W_O, no residual,
// no norm, one causal head, the prediction read at the last position:
//   x = E[tokens];  q, k, v = x Wq, x Wk, x Wv;  P = softmax(causal(q k^T / sqrt(d)));  o = P v
//   logits = o[n-1] W_out;  loss = -log softmax(logits)[target]
// Backward (the same kernels as the full model's):
//   dlogits = p - onehot;  do[n-1] = dlogits W_out^T, dW_out = o[n-1]^T dlogits
//   dq, dk, dv = attention_backward(do);  dx = dq Wq^T + dk Wk^T + dv Wv^T;  dE[tokens] += dx
#pragma once

#include <ctattn/base/language_check.hpp>  // first: under an older -std the first error names C++20

#include <cmath>
#include <cstddef>

#include <ctattn/layers/attention.hpp>
#include <ctattn/base/attention_config.hpp>
#include <ctattn/kernels/projection.hpp>
#include <ctattn/model/language_model.hpp>
#include <ctattn/base/status.hpp>
#include <ctattn/base/storage.hpp>
#include <ctattn/train/attention_backward.hpp>
#include <ctattn/train/cross_entropy.hpp>
#include <ctattn/train/embedding_backward.hpp>
#include <ctattn/train/parameters.hpp>
#include <ctattn/train/projection_backward.hpp>

namespace ctattn::train {

template <std::size_t Vocab, std::size_t DModel>
struct single_head_weights {
    matrix<Vocab, DModel> embedding;  // (vocab, d_model)
    matrix<DModel, DModel> wq;        // (d_model, d_model)
    matrix<DModel, DModel> wk;        // (d_model, d_model)
    matrix<DModel, DModel> wv;        // (d_model, d_model)
    matrix<DModel, Vocab> w_out;      // (d_model, vocab)
};

template <std::size_t Vocab, std::size_t DModel, class F, class... Rest>
inline void for_each_parameter(F&& f, single_head_weights<Vocab, DModel>& a, Rest&... rest) {
    detail::visit_tensor(f, "embedding", -1, true, a.embedding, rest.embedding...);
    detail::visit_tensor(f, "wq", 0, true, a.wq, rest.wq...);
    detail::visit_tensor(f, "wk", 0, true, a.wk, rest.wk...);
    detail::visit_tensor(f, "wv", 0, true, a.wv, rest.wv...);
    detail::visit_tensor(f, "w_out", -1, true, a.w_out, rest.w_out...);
}

// Context: the longest sequence.
template <std::size_t Vocab, std::size_t DModel, std::size_t Context>
struct single_head_workspace {
    matrix<Context, DModel> x, q, k, v, context;  // (context, d_model) each
    matrix<Context, Context> attention;           // (context, context): P, row i = query i
    row_vector<Vocab> logits;                     // (vocab): at the last position
    row_vector<Vocab> probs;                      // (vocab)
    matrix<Context, DModel> d_context, dq, dk, dv, dx;  // (context, d_model) each
    row_vector<Context> p_row, dp_row, scores;          // (context) each
};

template <std::size_t Vocab, std::size_t DModel, std::size_t Context, class Arch = simd::default_arch>
struct single_head_model {
    using attention = attention_config<DModel, 1, 1, Context, no_bias, causal_mask>;
    using weights_type = single_head_weights<Vocab, DModel>;
    using workspace_type = single_head_workspace<Vocab, DModel, Context>;
    static constexpr std::size_t vocab = Vocab, d_model = DModel, context = Context;

    // tokens[0..n) -> ws.logits and ws.probs for the token after the last one; ws.attention holds P.
    [[nodiscard]] static status forward(const weights_type& w, const token_id* tokens, std::size_t n,
                                        workspace_type& ws) noexcept {
        if (tokens == nullptr) return status::invalid_argument;
        if (n == 0 || n > Context) return status::invalid_length;
        for (std::size_t r = 0; r < n; ++r)
            if (tokens[r] >= Vocab) return status::invalid_token;
        for (std::size_t r = 0; r < n; ++r)
            for (std::size_t i = 0; i < DModel; ++i) ws.x(r, i) = w.embedding(tokens[r], i);
        kernels::project<DModel, DModel, Arch>(n, ws.x.data(), w.wq.data(), nullptr, ws.q.data());
        kernels::project<DModel, DModel, Arch>(n, ws.x.data(), w.wk.data(), nullptr, ws.k.data());
        kernels::project<DModel, DModel, Arch>(n, ws.x.data(), w.wv.data(), nullptr, ws.v.data());
        attend<attention, Arch>(n, ws.q.data(), 0, n, ws.k.data(), ws.v.data(), {}, ws.context.data(),
                                ws.scores.data(), ws.attention.data(), Context, 0);
        kernels::project<DModel, Vocab, Arch>(1, ws.context.row(n - 1), w.w_out.data(), nullptr, ws.logits.data());
        softmax_probabilities(ws.logits.data(), ws.probs.data());
        return status::ok;
    }

    // Loss of predicting `target` after tokens[0..n), its gradient added to g (zero it first).
    [[nodiscard]] static status loss_and_gradients(const weights_type& w, const token_id* tokens, std::size_t n,
                                                   token_id target, weights_type& g, workspace_type& ws,
                                                   float& loss) noexcept {
        if (target >= Vocab) return status::invalid_token;
        if (const status s = forward(w, tokens, n, ws); s != status::ok) return s;
        row_vector<Vocab> d_logits;
        if (const status s = cross_entropy_row<Vocab>(ws.logits.data(), target, 1.0f, d_logits.data(), loss);
            s != status::ok)
            return s;
        for (std::size_t i = 0; i < n * DModel; ++i) ws.d_context[i] = 0.0f;
        projection_input_gradient<DModel, Vocab, Arch>(1, d_logits.data(), w.w_out.data(), ws.d_context.row(n - 1),
                                                       false);
        projection_weight_gradient<DModel, Vocab>(1, ws.context.row(n - 1), d_logits.data(), g.w_out.data(), nullptr);
        attention_gradient<attention, Arch>(n, ws.q.data(), ws.k.data(), ws.v.data(), {}, ws.d_context.data(),
                                            ws.dq.data(), ws.dk.data(), ws.dv.data(), ws.p_row.data(),
                                            ws.dp_row.data());
        projection_input_gradient<DModel, DModel, Arch>(n, ws.dq.data(), w.wq.data(), ws.dx.data(), false);
        projection_input_gradient<DModel, DModel, Arch>(n, ws.dk.data(), w.wk.data(), ws.dx.data(), true);
        projection_input_gradient<DModel, DModel, Arch>(n, ws.dv.data(), w.wv.data(), ws.dx.data(), true);
        projection_weight_gradient<DModel, DModel>(n, ws.x.data(), ws.dq.data(), g.wq.data(), nullptr);
        projection_weight_gradient<DModel, DModel>(n, ws.x.data(), ws.dk.data(), g.wk.data(), nullptr);
        projection_weight_gradient<DModel, DModel>(n, ws.x.data(), ws.dv.data(), g.wv.data(), nullptr);
        embedding_gradient<DModel>(n, tokens, ws.dx.data(), g.embedding.data());
        return status::ok;
    }

private:
    static void softmax_probabilities(const float* logits, float* probs) noexcept {
        float max = logits[0];
        for (std::size_t t = 1; t < Vocab; ++t) max = logits[t] > max ? logits[t] : max;
        float sum = 0.0f;
        for (std::size_t t = 0; t < Vocab; ++t) sum += (probs[t] = std::exp(logits[t] - max));
        for (std::size_t t = 0; t < Vocab; ++t) probs[t] /= sum;
    }
};

}  // namespace ctattn::train
