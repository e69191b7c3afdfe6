// SPDX-License-Identifier: Apache-2.0
// One transformer block: attention and feed-forward sublayers, each wrapped in a residual
// connection and a norm. Where the norm sits is a policy:
//   post_norm (seed 003, the 2017 paper, PyTorch default):  x = N1(x + Attn(x));   x = N2(x + FFN(x))
//   pre_norm  (GPT-2, llama):                               x = x + Attn(N1(x));   x = x + FFN(N2(x))
// The block runs `rows` new tokens at absolute positions pos0.. against K/V rows that live in a
// caller buffer (the KV cache, or the full-sequence workspace), laid out (kv_heads, seq_capacity,
// head_dim): their new K/V rows are written at pos0.. and attention reads rows 0 .. pos0+rows-1.
// Full-sequence forward is pos0 = 0, rows = n; one decode step is rows = 1.
#pragma once

#include <cstddef>
#include <type_traits>

#include "attention.hpp"
#include "attention_core_selector.hpp"
#include "../base/attention_config.hpp"
#include "ffn.hpp"
#include "../kernels/decode/attention.hpp"
#include "norm.hpp"
#include "../kernels/projection.hpp"
#include "../kernels/q8_projection.hpp"
#include "../base/weight_storage.hpp"
#include "../base/kv_storage.hpp"
#include "../kernels/decode/kv_rows.hpp"
#include "position.hpp"
#include "../simd/ops.hpp"
#include "../base/storage.hpp"
#include "trace.hpp"

namespace ctattn {

/// Norm after each residual add: x = N(x + sublayer(x)) (the 2017 paper).
struct post_norm {
    static constexpr const char* name = "post_norm";  ///< the policy's name as text
    static constexpr bool norm_first = false;  ///< false: N after each residual add
};
/// Norm before each sublayer: x = x + sublayer(N(x)) (GPT-2, llama).
struct pre_norm {
    static constexpr const char* name = "pre_norm";  ///< the policy's name as text
    static constexpr bool norm_first = true;  ///< true: N on each sublayer's input
};

/// Where the norm sits: post_norm or pre_norm.
template <class P>
concept norm_placement = std::same_as<P, post_norm> || std::same_as<P, pre_norm>;

/// Attention:  an attention_config (d_model, heads, kv_heads, capacity, bias, mask).
/// Ffn:        an ffn_config with the same d_model (d_ff, dense/gated, activation, bias).
/// Norm:       layer_norm<Eps> or rms_norm<Eps>.
/// Placement:  post_norm or pre_norm.
template <attention_configuration Attention, ffn_configuration Ffn, class Norm = layer_norm<>,
          class Placement = post_norm>
struct block_config {
    static_assert(Ffn::d_model == Attention::d_model,
                  "ctattn: the block's FFN must have the attention's d_model (they share the residual stream)");
    static_assert(norm_policy<Norm>, "ctattn: Norm must be a norm policy: layer_norm<Eps>, rms_norm<Eps> or no_norm");
    static_assert(norm_placement<Placement>, "ctattn: Placement must be post_norm or pre_norm");
    using attention = Attention;  ///< the attention_config
    using ffn = Ffn;  ///< the ffn_config
    using norm = Norm;  ///< the norm policy (N1 and N2)
    using placement = Placement;  ///< post_norm or pre_norm
    using mask = typename Attention::mask;  ///< the attention's mask policy
    static constexpr std::size_t d_model = Attention::d_model;  ///< width of the residual stream
    static constexpr std::size_t d_ff = Ffn::d_ff;  ///< the FFN's hidden width
    static constexpr std::size_t kv_dim = Attention::kv_dim;  ///< kv_heads * head_dim: floats per K or V row
    static constexpr std::size_t seq_capacity = Attention::seq_capacity;  ///< positions a KV cache holds
};

/// What transformer_block needs of its configuration; block_config provides it.
template <class B>
concept block_configuration = requires {
    typename B::attention;
    typename B::ffn;
    typename B::norm;
    typename B::placement;
    B::d_model; B::d_ff; B::kv_dim; B::seq_capacity;
};

/// Owned (Storage = owned_weights) or a view into constant storage (viewed_weights): the block
/// code below runs on either.
template <block_configuration Block, weight_storage Storage = owned_weights>
struct block_weights {
    using storage = Storage;  ///< owned_weights or viewed_weights
    /// The parameters of one norm (N1 or N2).
    using norm_weights = typename Block::norm::template weights<Block::d_model, Storage>;
    attention_weights<typename Block::attention, row_major_layout, Storage> attention;  ///< wq wk wv wo (+ biases)
    norm_weights attention_norm;         ///< N1: before attention (pre) or after its residual (post)
    ffn_weights<typename Block::ffn, Storage> ffn;  ///< w1 w2 (w3) (+ biases)
    norm_weights ffn_norm;               ///< N2
};

/// Scratch rows for a block, owned by the caller (model workspace or decoder). Each points to at
/// least rows x width floats for the widths named; `scores` holds one row of seq_capacity.
struct block_buffers {
    float* normed;    ///< rows x d_model: N(x) for pre-norm
    float* q;         ///< rows x d_model: queries, all heads
    float* context;   ///< rows x d_model: concat of the heads' outputs
    float* sublayer;  ///< rows x d_model: a sublayer's output before the residual add
    float* hidden;    ///< rows x d_ff
    float* up;        ///< rows x d_ff (gated FFN only)
    float* scores;    ///< decode_heads_per_pass x seq_capacity
    /// Optional, for the blocked attention core on vector arches (nullptr: one query row at a time):
    float* keys_transposed;  ///< max head_dim x blocked_key_stride<seq_capacity>
    float* score_block;      ///< blocked_tile_rows_max x blocked_key_stride<seq_capacity>
};

/// One block over `rows` new tokens against the layer's K/V rows (a prefill chunk or a decode step).
template <block_configuration Block, position_policy Position, class Arch = simd::default_arch>
struct transformer_block {
    using config = Block;  ///< the block_config
    using attention_config = typename Block::attention;  ///< the block's attention_config
    using weights_type = block_weights<Block>;  ///< owned weights (run also takes views)
    using mask_params = typename Block::mask::params;  ///< the mask's run-time parameters
    static constexpr std::size_t d_model = Block::d_model;  ///< width of the residual stream
    static constexpr std::size_t kv_dim = Block::kv_dim;  ///< kv_heads * head_dim: floats per K or V row

    /// x:       rows x d_model, the residual stream of tokens at positions pos0 .. pos0+rows-1; updated in place.
    /// k_cache, v_cache: (kv_heads, seq_capacity, head_dim) for this layer; rows pos0.. of every
    /// head are written, 0 .. pos0+rows-1 read. float* (float32 rows), or kv_rows of a decoder's
    /// float16 or int8 cache (base/kv_storage.hpp).
    /// The caller has checked 1 <= rows and pos0 + rows <= seq_capacity, and the mask parameters.
    /// observed: optional, an observed_layer (layers/trace.hpp): an observer shown this block at work.
    template <class Storage, class KvRows, class... Observed>
    static void run(const block_weights<Block, Storage>& w, std::size_t rows, std::size_t pos0, float* x,
                    KvRows k_cache, KvRows v_cache, const block_buffers& buf, const mask_params& mask,
                    const Observed&... observed) noexcept {
        using Norm = typename Block::norm;
        constexpr bool norm_first = Block::placement::norm_first;
        show(residual_point::block_input, rows, pos0, x, observed...);

        // ---- attention sublayer
        const float* attention_in = x;
        if constexpr (norm_first) {
            for (std::size_t r = 0; r < rows; ++r)
                Norm::template apply<d_model, Arch>(w.attention_norm, x + r * d_model, buf.normed + r * d_model);
            attention_in = buf.normed;
        }
        if constexpr (std::is_pointer_v<KvRows>)
            self_attention(w.attention, rows, pos0, attention_in, k_cache, v_cache, buf, mask, buf.sublayer,
                           observed...);
        else
            self_attention_typed(w.attention, rows, pos0, attention_in, k_cache, v_cache, buf, mask, buf.sublayer,
                                 observed...);
        residual_add(rows, x, buf.sublayer);
        if constexpr (!norm_first)
            for (std::size_t r = 0; r < rows; ++r)
                Norm::template apply<d_model, Arch>(w.attention_norm, x + r * d_model, x + r * d_model);
        show(residual_point::after_attention, rows, pos0, x, observed...);

        // ---- feed-forward sublayer
        const float* ffn_in = x;
        if constexpr (norm_first) {
            for (std::size_t r = 0; r < rows; ++r)
                Norm::template apply<d_model, Arch>(w.ffn_norm, x + r * d_model, buf.normed + r * d_model);
            ffn_in = buf.normed;
        }
        feed_forward<typename Block::ffn, Arch>::forward(w.ffn, rows, ffn_in, buf.sublayer, buf.hidden, buf.up);
        residual_add(rows, x, buf.sublayer);
        if constexpr (!norm_first)
            for (std::size_t r = 0; r < rows; ++r)
                Norm::template apply<d_model, Arch>(w.ffn_norm, x + r * d_model, x + r * d_model);
        show(residual_point::block_output, rows, pos0, x, observed...);
    }

    /// Tracing hook: nothing at all without an observer.
    template <class... Observed>
    static void show([[maybe_unused]] residual_point point, [[maybe_unused]] std::size_t rows,
                     [[maybe_unused]] std::size_t pos0, [[maybe_unused]] const float* x,
                     const Observed&... observed) noexcept {
        (detail::notify(observed.observer, residual_trace{observed.layer, point, rows, pos0, d_model, x}), ...);
    }

    /// Q/K/V projections, RoPE if the policy says so, the new K/V rows into the cache, the
    /// attention core over the cached keys, the output projection into `out` (rows x d_model).
    /// K/V buffers are laid out head by head, (kv_heads, seq_capacity, head_dim): each KV head's
    /// keys are one contiguous run, as are its values, so the attention cores stream them. The
    /// new rows are projected into the context and sublayer scratch (free until attention writes
    /// them) and copied into place.
    template <class Storage, class... Observed>
    static void self_attention(const attention_weights<attention_config, row_major_layout, Storage>& w,
                               std::size_t rows, std::size_t pos0,
                               const float* in, float* k_cache, float* v_cache, const block_buffers& buf,
                               const mask_params& mask, float* out, const Observed&... observed) noexcept {
        using A = attention_config;
        // The cache's strides, for the observers' attention_trace only (unused without observers).
        [[maybe_unused]] constexpr std::size_t head_dim = A::head_dim, head_stride = A::seq_capacity * head_dim;
        float* k_new = buf.context;   // rows x kv_dim
        float* v_new = buf.sublayer;  // rows x kv_dim
        project_qkv(w, rows, pos0, in, buf.q, k_new, v_new);
        append_to_cache(rows, pos0, k_new, v_new, k_cache, v_cache);
        attend_to_cache(rows, pos0, k_cache, v_cache, buf, mask);
        // The cache laid out head by head.
        (detail::notify(observed.observer, attention_trace<A>{observed.layer, rows, pos0, pos0 + rows, buf.q, k_cache,
                                                              v_cache, head_dim, head_stride, buf.context, mask}),
         ...);
        kernels::project_weights<d_model, d_model, Arch>(rows, buf.context, w.wo, w.o_bias(), out);
    }

    /// q = in Wq + bq, k = in Wk + bk, v = in Wv + bv (rows x d_model, rows x kv_dim, rows x kv_dim),
    /// then q and k rotated by their positions pos0.. when the position policy is rotary.
    template <class Storage>
    static void project_qkv(const attention_weights<attention_config, row_major_layout, Storage>& w,
                            std::size_t rows, std::size_t pos0, const float* in, float* q, float* k,
                            float* v) noexcept {
        using A = attention_config;
        // One input: Q8 weights quantize it once for the three.
        kernels::project_weights_shared<d_model, Arch>(rows, in, kernels::project_to<d_model>(w.wq, w.q_bias(), q),
                                                       kernels::project_to<kv_dim>(w.wk, w.k_bias(), k),
                                                       kernels::project_to<kv_dim>(w.wv, w.v_bias(), v));
        if constexpr (Position::rotary) {
            // Vector arches rotate q and k with one cos/sin per pair; the scalar path (Cortex-M, whose
            // instruction counts are measured) keeps its two calls. The same values either way.
            for (std::size_t r = 0; r < rows; ++r) {
                if constexpr (uses_blocked_attention<Arch>) {
                    Position::template rotate<A::head_dim, A::heads, A::kv_heads>(q + r * d_model, k + r * kv_dim,
                                                                                  pos0 + r);
                } else {
                    Position::template rotate<A::head_dim, A::heads>(q + r * d_model, pos0 + r);
                    Position::template rotate<A::head_dim, A::kv_heads>(k + r * kv_dim, pos0 + r);
                }
            }
        }
    }

    /// The new rows (rows x kv_dim, heads side by side) into the cache at positions pos0.., head by head.
    static void append_to_cache(std::size_t rows, std::size_t pos0, const float* k_new, const float* v_new,
                                float* k_cache, float* v_cache) noexcept {
        constexpr std::size_t head_dim = attention_config::head_dim;
        constexpr std::size_t head_stride = attention_config::seq_capacity * head_dim;
        for (std::size_t r = 0; r < rows; ++r)
            for (std::size_t g = 0; g < attention_config::kv_heads; ++g)
                for (std::size_t d = 0; d < head_dim; ++d) {
                    k_cache[g * head_stride + (pos0 + r) * head_dim + d] = k_new[r * kv_dim + g * head_dim + d];
                    v_cache[g * head_stride + (pos0 + r) * head_dim + d] = v_new[r * kv_dim + g * head_dim + d];
                }
    }

    /// buf.context = concat_h(O_h) for the queries buf.q at positions pos0.. against cached keys
    /// 0 .. pos0+rows-1, by the core choose_attention_core (layers/attention_core_selector.hpp) picks.
    /// The if constexpr guards only keep cores an arch never runs from being instantiated.
    static void attend_to_cache(std::size_t rows, std::size_t pos0, const float* k_cache, const float* v_cache,
                                const block_buffers& buf, const mask_params& mask) noexcept {
        using A = attention_config;
        constexpr std::size_t head_dim = A::head_dim, S = A::seq_capacity, head_stride = S * head_dim;
        const attention_core core = choose_attention_core<Arch, head_dim, typename A::mask>(
            kv_source::kv_cache, rows, buf.score_block != nullptr);
        bool context_done = false;  // false after a decode kernel handed back an irregular row
        if constexpr (!uses_blocked_attention<Arch>) {
            // Heads paired per KV head, exp by polynomial (kernels/decode/attention.hpp).
            if (core == attention_core::scalar_decode)
                context_done = kernels::decode_attention<A::heads, A::kv_heads, head_dim, head_dim, head_stride>(
                    buf.q, k_cache, v_cache, A::mask::visible_keys(mask, pos0, pos0 + 1), A::score_scale, buf.scores,
                    buf.context);
        } else {
            // Narrow heads: vectorised across keys, heads paired per KV head (kernels/decode/vector_heads.hpp).
            if constexpr (kernels::vector_decode_fits<head_dim, Arch>)
                if (core == attention_core::vector_decode)
                    context_done = kernels::vector_decode_attention<A::heads, A::kv_heads, head_dim, head_dim,
                                                                    head_stride, Arch>(
                        buf.q, k_cache, v_cache, A::mask::visible_keys(mask, pos0, pos0 + 1), A::score_scale,
                        buf.scores, buf.context);
            if (core == attention_core::blocked) {
                attend_blocked<A, Arch, head_dim, blocked_key_stride<S>, head_stride>(
                    rows, buf.q, pos0, pos0 + rows, k_cache, v_cache, mask, buf.context, buf.keys_transposed,
                    buf.score_block);
                context_done = true;
            }
        }
        if (!context_done)  // the one-row core
            attend<A, Arch, head_dim, head_stride>(rows, buf.q, pos0, pos0 + rows, k_cache, v_cache, mask, buf.context,
                                                   buf.scores);
    }

    // ---- a float16 or int8 KV cache (base/kv_storage.hpp): the same steps, rows converted as they
    // are written (once, per row and KV head) and as they are read (kernels/decode/kv_rows.hpp)

    /// self_attention over a typed cache: the new K/V rows are stored as the cache's type, then
    /// every query row of the call attends through a decode kernel reading that type directly (the
    /// float cores read float rows; a prefill chunk here is its query rows one by one).
    template <class Storage, kv_storage S, class... Observed>
    static void self_attention_typed(const attention_weights<attention_config, row_major_layout, Storage>& w,
                                     std::size_t rows, std::size_t pos0, const float* in, kv_rows<S> k_cache,
                                     kv_rows<S> v_cache, const block_buffers& buf, const mask_params& mask,
                                     float* out, const Observed&...) noexcept {
        static_assert(sizeof...(Observed) == 0,
                      "ctattn: observers read the KV cache as floats: trace with a kv_float32 decoder");
        float* k_new = buf.context;   // rows x kv_dim
        float* v_new = buf.sublayer;  // rows x kv_dim
        project_qkv(w, rows, pos0, in, buf.q, k_new, v_new);
        append_to_typed_cache(rows, pos0, k_new, v_new, k_cache, v_cache);
        attend_to_typed_cache(rows, pos0, k_cache, v_cache, buf, mask);
        kernels::project_weights<d_model, d_model, Arch>(rows, buf.context, w.wo, w.o_bias(), out);
    }

    /// The new rows (rows x kv_dim, heads side by side) into a typed cache at pos0.., each row of
    /// each KV head converted (float16) or quantized with its own scale (int8).
    template <kv_storage S>
    static void append_to_typed_cache(std::size_t rows, std::size_t pos0, const float* k_new, const float* v_new,
                                      kv_rows<S> k_cache, kv_rows<S> v_cache) noexcept {
        constexpr std::size_t head_dim = attention_config::head_dim, S_cap = attention_config::seq_capacity;
        for (std::size_t r = 0; r < rows; ++r)
            for (std::size_t g = 0; g < attention_config::kv_heads; ++g) {
                const std::size_t row = g * S_cap + pos0 + r;  // (kv_heads, seq_capacity)
                kernels::kv_store_row<S, head_dim>(k_new + r * kv_dim + g * head_dim, k_cache.values + row * head_dim,
                                                   k_cache.scales + (S::scaled ? row : 0));
                kernels::kv_store_row<S, head_dim>(v_new + r * kv_dim + g * head_dim, v_cache.values + row * head_dim,
                                                   v_cache.scales + (S::scaled ? row : 0));
            }
    }

    /// buf.context for the queries buf.q at pos0.. against a typed cache's keys 0 .. pos0+rows-1:
    /// per query row, the vector decode kernel where one fits (head_dim 8 on AVX/AVX-512, and on
    /// Helium, which widens the typed rows in registers: simd/kv_mve.hpp), the row-widening one for
    /// heads of whole vectors on x86 and AArch64 (kernels/decode/row_heads.hpp), else the scalar one
    /// (any head_dim; the Cortex-M path); a row a kernel hands back (non-finite scores)
    /// is recomputed in double (kernels/decode/kv_rows.hpp).
    template <kv_storage S>
    static void attend_to_typed_cache(std::size_t rows, std::size_t pos0, kv_rows<S> k_cache, kv_rows<S> v_cache,
                                      const block_buffers& buf, const mask_params& mask) noexcept {
        using A = attention_config;
        constexpr std::size_t head_dim = A::head_dim, head_stride = A::seq_capacity * head_dim;
        for (std::size_t r = 0; r < rows; ++r) {
            const key_range visible = A::mask::visible_keys(mask, pos0 + r, pos0 + rows);
            const float* q = buf.q + r * d_model;
            float* context = buf.context + r * d_model;
            bool done;
            if constexpr (kernels::vector_decode_fits<head_dim, Arch>)
                done = kernels::vector_decode_attention<A::heads, A::kv_heads, head_dim, head_dim, head_stride, Arch>(
                    q, k_cache, v_cache, visible, A::score_scale, buf.scores, context);
            else if constexpr (kernels::row_decode_fits<head_dim, Arch, kv_rows<S>>)
                done = kernels::decode_attention<A::heads, A::kv_heads, head_dim, head_dim, head_stride,
                                                 kernels::detail::row_decode_heads<Arch>>(
                    q, k_cache, v_cache, visible, A::score_scale, buf.scores, context);
            else
                done = kernels::decode_attention<A::heads, A::kv_heads, head_dim, head_dim, head_stride>(
                    q, k_cache, v_cache, visible, A::score_scale, buf.scores, context);
            if (!done)
                kernels::decode_attention_in_double<A::heads, A::kv_heads, head_dim, head_dim, head_stride>(
                    q, k_cache, v_cache, visible, A::score_scale, context);
        }
    }

    /// x += delta over rows x d_model. Per row with constant bounds: GCC 12 mistakes a tail loop
    /// after a run-time-bounded vector loop for a wrapping one (-Waggressive-loop-optimizations).
    static void residual_add(std::size_t rows, float* x, const float* delta) noexcept {
        using V = simd::ops<Arch>;
        constexpr std::size_t W = V::width;
        constexpr std::size_t full = d_model / W * W;
        for (std::size_t r = 0; r < rows; ++r) {
            float* row = x + r * d_model;
            const float* add = delta + r * d_model;
            for (std::size_t i = 0; i < full; i += W) V::store(row + i, V::load(row + i) + V::load(add + i));
            for (std::size_t i = full; i < d_model; ++i) row[i] += add[i];
        }
    }
};

}  // namespace ctattn
