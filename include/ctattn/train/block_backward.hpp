// SPDX-License-Identifier: Apache-2.0
// One transformer block (layers/block.hpp) for training: a forward pass over a whole sequence that keeps
// each sublayer's inputs on a tape, and the backward pass through it. With A = attention and
// N1, N2 the block's norms:
//   post_norm:  m = N1(x + A(x));        y = N2(m + FFN(m))
//   pre_norm:   m = x + A(N1(x));        y = m + FFN(N2(m))
// A residual connection passes its gradient through unchanged and adds the sublayer's, so
// backward runs:  dy -> [N2'] -> FFN' (+ residual) -> [N1'] -> A' (+ residual) -> dx.
// Attention backward: dO = d_out Wo^T, then attention_backward.hpp, then RoPE rotated back, then
// d_in = dQ Wq^T + dK Wk^T + dV Wv^T. The forward calls transformer_block::self_attention itself.
#pragma once

#include "../base/language_check.hpp"  // first: under an older -std the first error names C++20

#include <cstddef>
#include <type_traits>

#include "../layers/block.hpp"
#include "../base/storage.hpp"
#include "attention_backward.hpp"
#include "ffn_backward.hpp"
#include "norm_backward.hpp"
#include "projection_backward.hpp"
#include "rope_backward.hpp"

namespace ctattn::train {

/// What the backward pass of one block needs from its forward pass, for up to seq_capacity tokens.
/// Buffers a placement does not use are 1 x 1.
template <block_configuration Block>
struct block_tape {
    /// \var D
    /// Model width (d_model).

    /// \var KV
    /// Width of the keys and of the values (kv_dim).

    /// \var F
    /// Hidden width of the FFN (d_ff).

    /// Sequence capacity (seq_capacity): rows of every used buffer.
    static constexpr std::size_t S = Block::seq_capacity, D = Block::d_model, KV = Block::kv_dim, F = Block::d_ff;
    static constexpr bool pre = Block::placement::norm_first;  ///< pre-norm placement (norm before each sublayer)
    static constexpr bool gated = Block::ffn::gated;  ///< the FFN is gated (keeps u)
    matrix<S, D> x_in;                          ///< (seq, d_model): block input
    matrix<pre ? S : 1, pre ? D : 1> attn_in;   ///< (seq, d_model): N1(x), pre-norm only
    matrix<S, D> q;                             ///< (seq, d_model): queries after RoPE
    matrix<S, KV> k;                            ///< (kv_heads, seq, head_dim), as the KV cache: keys after RoPE
    matrix<S, KV> v;                            ///< (kv_heads, seq, head_dim)
    matrix<S, D> context;                       ///< (seq, d_model): concat of the heads' outputs
    matrix<pre ? 1 : S, pre ? 1 : D> sum1;      ///< (seq, d_model): x + A(x), N1's input, post-norm only
    matrix<S, D> mid;                           ///< (seq, d_model): residual stream between the sublayers
    matrix<pre ? S : 1, pre ? D : 1> ffn_in;    ///< (seq, d_model): N2(m), pre-norm only
    matrix<S, F> z;                             ///< (seq, d_ff): x W1 + b1
    matrix<gated ? S : 1, gated ? F : 1> u;     ///< (seq, d_ff): x W3 + b3, gated only
    matrix<S, F> h;                             ///< (seq, d_ff): input of W2
    matrix<pre ? 1 : S, pre ? 1 : D> sum2;      ///< (seq, d_model): m + FFN(m), N2's input, post-norm only
};

/// Scratch for the backward pass, shared by all layers (sized by the widest): rows x width each.
struct block_gradient_buffers {
    float* d_tmp;    ///< seq x d_model: a sublayer's input gradient
    float* dq;       ///< seq x d_model
    float* dk;       ///< seq x kv_dim
    float* dv;       ///< seq x kv_dim
    float* dz;       ///< seq x d_ff
    float* du;       ///< seq x d_ff (gated)
    float* p_row;    ///< seq
    float* dp_row;   ///< seq
    float* scores;   ///< seq: forward scratch
    float* sublayer; ///< seq x d_model: forward scratch
};

/// One block of configuration `Block` for training: forward fills a tape, backward turns dy into dx and
/// adds the weight gradients.
template <block_configuration Block, position_policy Position, class Arch = simd::default_arch>
struct block_training {
    using weights_type = block_weights<Block>;  ///< the block's weights, and its gradients
    using tape_type = block_tape<Block>;        ///< what forward keeps for backward
    using A = typename Block::attention;        ///< the attention configuration
    using Norm = typename Block::norm;          ///< the norm policy of both norms
    using NormBackward = norm_backward<Norm>;   ///< its backward
    using ffn = ffn_training<typename Block::ffn, Arch>;  ///< the FFN's forward and backward
    /// Model width (d_model).
    static constexpr std::size_t D = Block::d_model, KV = Block::kv_dim;  ///< KV: key/value width (kv_dim)
    static constexpr bool pre = Block::placement::norm_first;  ///< pre-norm placement

    /// x: n x d_model, updated in place to the block's output; the tape is filled.
    static void forward(const weights_type& w, std::size_t n, float* x, tape_type& t,
                        const block_gradient_buffers& buf) noexcept {
        for (std::size_t i = 0; i < n * D; ++i) t.x_in[i] = x[i];
        const float* attn_in = t.x_in.data();
        if constexpr (pre) {
            for (std::size_t r = 0; r < n; ++r)
                Norm::template apply<D, Arch>(w.attention_norm, t.x_in.row(r), t.attn_in.row(r));
            attn_in = t.attn_in.data();
        }
        // One query row at a time (no blocked scratch): the same core the backward pass recomputes P with.
        const block_buffers fwd{nullptr, t.q.data(), t.context.data(), buf.sublayer, nullptr, nullptr,
                                buf.scores, nullptr, nullptr};
        transformer_block<Block, Position, Arch>::self_attention(w.attention, n, 0, attn_in, t.k.data(), t.v.data(),
                                                                 fwd, typename Block::mask::params{}, buf.sublayer);
        for (std::size_t i = 0; i < n * D; ++i) x[i] += buf.sublayer[i];
        if constexpr (!pre) {
            for (std::size_t i = 0; i < n * D; ++i) t.sum1[i] = x[i];
            for (std::size_t r = 0; r < n; ++r) Norm::template apply<D, Arch>(w.attention_norm, x + r * D, x + r * D);
        }
        for (std::size_t i = 0; i < n * D; ++i) t.mid[i] = x[i];
        const float* ffn_in = t.mid.data();
        if constexpr (pre) {
            for (std::size_t r = 0; r < n; ++r) Norm::template apply<D, Arch>(w.ffn_norm, t.mid.row(r), t.ffn_in.row(r));
            ffn_in = t.ffn_in.data();
        }
        ffn::forward(w.ffn, n, ffn_in, buf.sublayer, t.z.data(), t.u.data(), t.h.data());
        for (std::size_t i = 0; i < n * D; ++i) x[i] += buf.sublayer[i];
        if constexpr (!pre) {
            for (std::size_t i = 0; i < n * D; ++i) t.sum2[i] = x[i];
            for (std::size_t r = 0; r < n; ++r) Norm::template apply<D, Arch>(w.ffn_norm, x + r * D, x + r * D);
        }
    }

    /// dx: n x d_model, the gradient of the block's output on entry and of its input on return.
    /// Weight gradients are added to g.
    static void backward(const weights_type& w, std::size_t n, const tape_type& t, float* dx, weights_type& g,
                         const block_gradient_buffers& buf) noexcept {
        // ---- feed-forward sublayer
        if constexpr (!pre)
            for (std::size_t r = 0; r < n; ++r)
                NormBackward::template row<D>(w.ffn_norm, t.sum2.row(r), dx + r * D, dx + r * D, g.ffn_norm, false);
        const float* ffn_in = pre ? t.ffn_in.data() : t.mid.data();
        ffn::backward(w.ffn, n, ffn_in, t.z.data(), t.u.data(), t.h.data(), dx, buf.d_tmp, g.ffn, buf.dz, buf.du);
        add_sublayer_gradient(w.ffn_norm, g.ffn_norm, n, t.mid.data(), dx, buf.d_tmp);

        // ---- attention sublayer
        if constexpr (!pre)
            for (std::size_t r = 0; r < n; ++r)
                NormBackward::template row<D>(w.attention_norm, t.sum1.row(r), dx + r * D, dx + r * D,
                                              g.attention_norm, false);
        float* d_context = buf.d_tmp;
        projection_input_gradient<D, D, Arch>(n, dx, w.attention.wo.data(), d_context, false);
        projection_weight_gradient<D, D>(n, t.context.data(), dx, g.attention.wo.data(), bias_of(g.attention, 3));
        // The tape's K/V are in the cache layout self_attention writes: head by head.
        attention_gradient<A, Arch, A::head_dim, A::seq_capacity * A::head_dim>(
            n, t.q.data(), t.k.data(), t.v.data(), typename Block::mask::params{}, d_context, buf.dq, buf.dk, buf.dv,
            buf.p_row, buf.dp_row);
        if constexpr (Position::rotary)
            for (std::size_t r = 0; r < n; ++r) {
                rope_row_gradient<A::head_dim, A::heads, Position>(buf.dq + r * D, r);
                rope_row_gradient<A::head_dim, A::kv_heads, Position>(buf.dk + r * KV, r);
            }
        const float* attn_in = pre ? t.attn_in.data() : t.x_in.data();
        float* d_in = buf.d_tmp;
        projection_input_gradient<D, D, Arch>(n, buf.dq, w.attention.wq.data(), d_in, false);
        projection_input_gradient<D, KV, Arch>(n, buf.dk, w.attention.wk.data(), d_in, true);
        projection_input_gradient<D, KV, Arch>(n, buf.dv, w.attention.wv.data(), d_in, true);
        projection_weight_gradient<D, D>(n, attn_in, buf.dq, g.attention.wq.data(), bias_of(g.attention, 0));
        projection_weight_gradient<D, KV>(n, attn_in, buf.dk, g.attention.wk.data(), bias_of(g.attention, 1));
        projection_weight_gradient<D, KV>(n, attn_in, buf.dv, g.attention.wv.data(), bias_of(g.attention, 2));
        add_sublayer_gradient(w.attention_norm, g.attention_norm, n, t.x_in.data(), dx, d_in);
    }

private:
    // The residual: dx += the sublayer input's gradient, through the norm first when it is pre-norm
    // (norm_input: the residual stream the norm read).
    template <class NormWeights>
    static void add_sublayer_gradient(const NormWeights& w, NormWeights& g, std::size_t n, const float* norm_input,
                                      float* dx, const float* d_sublayer_in) noexcept {
        if constexpr (pre) {
            for (std::size_t r = 0; r < n; ++r)
                NormBackward::template row<D>(w, norm_input + r * D, d_sublayer_in + r * D, dx + r * D, g, true);
        } else {
            (void)w;
            (void)g;
            (void)norm_input;
            for (std::size_t i = 0; i < n * D; ++i) dx[i] += d_sublayer_in[i];
        }
    }

    // The gradient of bias q, k, v or o (0..3), or null without biases.
    static float* bias_of(attention_weights<A>& g, int which) noexcept {
        if constexpr (A::bias) {
            float* biases[4] = {g.bq.data(), g.bk.data(), g.bv.data(), g.bo.data()};
            return biases[which];
        } else {
            (void)g;
            (void)which;
            return nullptr;
        }
    }
};

}  // namespace ctattn::train
