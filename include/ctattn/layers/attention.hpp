// SPDX-License-Identifier: Apache-2.0
// Multi-head attention, as the seeds walk through it:
//   Q = X Wq + bq, K = X Wk + bk, V = X Wv + bv                 (per token projections)
//   for each head h:  P_h = softmax(mask(Q_h K_g^T / sqrt(head_dim)))   g = h / (heads / kv_heads)
//                     O_h = P_h V_g
//   Y = concat_h(O_h) Wo + bo
// With kv_heads < heads, consecutive query heads share one K/V head (grouped-query attention;
// kv_heads = 1 is multi-query). `attend` is the core shared with the KV-cache decoder: it reads K
// and V from wherever they live, so a cache is just a longer K/V buffer.
#pragma once

#include <cstddef>
#include <type_traits>

#include "../base/attention_config.hpp"
#include "../kernels/aggregate.hpp"
#include "../base/mask.hpp"
#include "../kernels/packed_projection.hpp"
#include "../kernels/projection.hpp"
#include "../kernels/row_dispatch.hpp"
#include "../kernels/scores.hpp"
#include "../kernels/softmax.hpp"
#include "../base/weight_format.hpp"
#include "../base/weight_storage.hpp"
#include "../simd/ops.hpp"
#include "../base/status.hpp"
#include "../base/storage.hpp"
#include "attention_core_selector.hpp"
#include "trace.hpp"

namespace ctattn {

/// Biases exist only when the configuration asks for them: no storage, no reads otherwise.
/// Storage: owned_weights (values held here) or viewed_weights (pointers into constant storage).
template <attention_configuration Config, bool = Config::bias, class Storage = owned_weights>
struct attention_bias {
    typename Storage::template matrix<1, Config::d_model> bq;  ///< (d_model)
    typename Storage::template matrix<1, Config::kv_dim> bk;   ///< (kv_dim)
    typename Storage::template matrix<1, Config::kv_dim> bv;   ///< (kv_dim)
    typename Storage::template matrix<1, Config::d_model> bo;  ///< (d_model)
    constexpr const float* q_bias() const noexcept { return bq.data(); }  ///< bq for the projection kernels
    constexpr const float* k_bias() const noexcept { return bk.data(); }  ///< bk for the projection kernels
    constexpr const float* v_bias() const noexcept { return bv.data(); }  ///< bv for the projection kernels
    constexpr const float* o_bias() const noexcept { return bo.data(); }  ///< bo for the projection kernels
};

/// Without biases: no members, and the accessors return nullptr, which the projection kernels skip.
template <attention_configuration Config, class Storage>
struct attention_bias<Config, false, Storage> {
    static constexpr const float* q_bias() noexcept { return nullptr; }  ///< nullptr: no bias to add
    static constexpr const float* k_bias() noexcept { return nullptr; }  ///< nullptr: no bias to add
    static constexpr const float* v_bias() noexcept { return nullptr; }  ///< nullptr: no bias to add
    static constexpr const float* o_bias() noexcept { return nullptr; }  ///< nullptr: no bias to add
};

/// How projection weights are stored: row-major (what checkpoints hold), or packed into column
/// panels for one arch's projection tile (kernels/packed_projection.hpp), which the projections
/// stream contiguously. Both give bit-identical outputs.
struct row_major_layout {
    /// Rows x Cols floats, row-major.
    template <std::size_t Rows, std::size_t Cols>
    using matrix_type = matrix<Rows, Cols>;
};
/// Projection weights packed into column panels for Arch's projection tile (see row_major_layout).
template <class Arch = simd::default_arch>
struct packed_layout {
    /// Rows x Cols floats in Arch's column panels.
    template <std::size_t Rows, std::size_t Cols>
    using matrix_type = kernels::packed_matrix<Rows, Cols, Arch>;
};

/// Weights in the `x @ W` convention (a projection from Din to Dout is Din x Dout). Storage applies
/// to the row-major layout (a model's weights in flash); packed weights are always owned.
template <attention_configuration Config, class Layout = row_major_layout, weight_storage Storage = owned_weights>
struct attention_weights : attention_bias<Config, Config::bias, Storage> {
    static_assert(Storage::owning || std::is_same_v<Layout, row_major_layout>,
                  "ctattn: only row-major attention weights can be a view (packed weights are packed in place)");
    /// Row-major in Storage (or Storage's quantized projection, base/weight_format.hpp), or Layout's
    /// packed matrix.
    template <std::size_t Rows, std::size_t Cols>
    using matrix_type = std::conditional_t<std::is_same_v<Layout, row_major_layout>,
                                           projection_matrix<Storage, Rows, Cols>,
                                           typename Layout::template matrix_type<Rows, Cols>>;
    matrix_type<Config::d_model, Config::d_model> wq;  ///< (d_model, heads * head_dim)
    matrix_type<Config::d_model, Config::kv_dim> wk;   ///< (d_model, kv_heads * head_dim)
    matrix_type<Config::d_model, Config::kv_dim> wv;   ///< (d_model, kv_heads * head_dim)
    matrix_type<Config::d_model, Config::d_model> wo;  ///< (heads * head_dim, d_model)
};

/// Packs row-major weights once (at load time) for the packed layout; biases are copied as they are.
template <attention_configuration Config, class Arch>
inline void pack(const attention_weights<Config>& dense, attention_weights<Config, packed_layout<Arch>>& packed) noexcept {
    static_cast<attention_bias<Config>&>(packed) = static_cast<const attention_bias<Config>&>(dense);
    packed.wq.pack(dense.wq);
    packed.wk.pack(dense.wk);
    packed.wv.pack(dense.wv);
    packed.wo.pack(dense.wo);
}

/// Scratch of the blocked attention core (attend_blocked): one KV head's K transposed, and the
/// scores, then weights, of one block of query rows. Rows are padded to whole vectors.
/// Sizes that serve every vector arch (a model's scratch is laid out before an arch is chosen):
/// query blocks of at most 6 rows (the projection tile), rows padded to 16 floats (widths 4, 8, 16).
inline constexpr std::size_t blocked_tile_rows_max = 6;
/// Row stride of the blocked scratch: seq_capacity rounded up to whole 16-float vectors.
template <std::size_t SeqCapacity>
inline constexpr std::size_t blocked_key_stride = (SeqCapacity + 15) / 16 * 16;

/// Scratch of attend_blocked for one layer on a vector Arch (sizes: see blocked_tile_rows_max).
template <attention_configuration Config, class Arch>
struct blocked_attention_scratch {
    /// Query rows per block: Arch's projection tile.
    static constexpr std::size_t tile_rows = kernels::projection_tile_shape<Arch>::rows;
    /// Floats per scratch row: seq_capacity padded to whole vectors.
    static constexpr std::size_t key_stride = blocked_key_stride<Config::seq_capacity>;
    matrix<Config::head_dim, key_stride> keys_transposed;  ///< (head_dim, seq): K_g^T
    matrix<tile_rows, key_stride> score_block;              ///< (tile_rows, seq): raw scores, then P
};
/// Stands in for blocked_attention_scratch on the scalar path: no bytes.
struct no_blocked_scratch {};

/// Scratch for one full-sequence forward pass; caller-owned, sized by the configuration.
template <attention_configuration Config, class Arch = simd::default_arch>
struct attention_workspace {
    matrix<Config::seq_capacity, Config::d_model> q;        ///< (seq, heads * head_dim)
    matrix<Config::seq_capacity, Config::kv_dim> k;         ///< (seq, kv_heads * head_dim)
    matrix<Config::seq_capacity, Config::kv_dim> v;         ///< (seq, kv_heads * head_dim)
    matrix<Config::seq_capacity, Config::d_model> context;  ///< (seq, heads * head_dim): concat of O_h
    row_vector<Config::seq_capacity> scores;                ///< (seq): one query row of one head
    /// The blocked core's scratch on vector arches; no bytes on the scalar path.
    [[no_unique_address]] std::conditional_t<uses_blocked_attention<Arch>, blocked_attention_scratch<Config, Arch>,
                                             no_blocked_scratch>
        blocked;
};

/// Optional readout of the attention weights P, [heads x seq_capacity x seq_capacity]: element
/// (h * seq_capacity + i, j) is how much query i of head h attends to key j (0 where masked).
template <attention_configuration Config>
using attention_readout = matrix<Config::heads * Config::seq_capacity, Config::seq_capacity>;

/// The attention core for all heads. Queries sit at absolute positions query_pos0 .. +n_queries-1;
/// keys and values at 0 .. n_keys-1: KV head g's row j at k + g * KvHeadStride + j * KvStride (the
/// defaults: rows of kv_dim floats with the heads side by side; a KV cache laid out head by head
/// passes KvStride = head_dim, KvHeadStride = seq_capacity * head_dim).
/// Numeric contract (docs/design.md): finite q, k, v give finite outputs (a row whose float scores
/// overflow is recomputed in double), and a query's output reads only the keys and values it sees.
///   q:        n_queries x d_model (row stride d_model), all heads side by side
///   context:  n_queries x d_model, receives concat_h(O_h)
///   scores:   scratch of at least n_keys floats
///   readout:  nullptr, or where P goes: element (h, i, j) at h*readout_head_stride + i*readout_row_stride + j
template <attention_configuration Config, class Arch = simd::default_arch, std::size_t KvStride = Config::kv_dim,
          std::size_t KvHeadStride = Config::head_dim>
inline void attend(std::size_t n_queries, const float* q, std::size_t query_pos0, std::size_t n_keys, const float* k,
                   const float* v, const typename Config::mask::params& mask, float* context, float* scores,
                   float* readout = nullptr, std::size_t readout_row_stride = 0,
                   std::size_t readout_head_stride = 0) noexcept {
    using Mask = typename Config::mask;
    using HeadArch = simd::arch_for_width<Arch, Config::head_dim>;  // kernels along head_dim
    constexpr std::size_t head_dim = Config::head_dim;
    for (std::size_t h = 0; h < Config::heads; ++h) {
        const std::size_t kv_head = h / Config::group_size;
        const float* k_head = k + kv_head * KvHeadStride;
        const float* v_head = v + kv_head * KvHeadStride;
        for (std::size_t i = 0; i < n_queries; ++i) {
            const key_range visible = Mask::visible_keys(mask, query_pos0 + i, n_keys);
            const float* q_row = q + i * Config::d_model + h * head_dim;
            kernels::score_row<head_dim, HeadArch, KvStride>(q_row, k_head, n_keys, visible, Config::score_scale,
                                                             scores);
            if (!kernels::softmax_row<Arch>(scores, n_keys, visible))  // a score overflowed, or NaN/inf input
                kernels::softmax_row_in_double<head_dim, KvStride>(q_row, k_head, n_keys, visible, double(Config::score_scale),
                                                                   scores);
            if (readout) {
                float* out = readout + h * readout_head_stride + i * readout_row_stride;
                for (std::size_t j = 0; j < n_keys; ++j) out[j] = scores[j];
            }
            kernels::aggregate_row<head_dim, HeadArch, KvStride>(scores, v_head, visible,
                                                                 context + i * Config::d_model + h * head_dim);
        }
    }
}

/// The same result as attend (up to rounding: sums run in another order), for many queries at
/// once, as small GEMMs: for each KV head, K_g is transposed once into scratch; then for each of
/// its query heads and each block of tile_rows queries, the raw scores of the whole block come
/// from one register tile (Q rows times K_g^T columns, only the keys some row of the block can see),
/// each row goes through the scaled, masked softmax in place, and P V is a second register tile
/// in which every loaded V vector serves all rows of the block. n_keys <= Config::seq_capacity.
/// Numeric contract (docs/design.md), as attend: a row's output reads only its own visible keys
/// (the score tile computes some masked scores; they are never read, and P V skips masked keys),
/// and a row whose float scores overflowed gets its weights from softmax_row_in_double.
/// Scratch as two buffers: kt of head_dim x KeyStride floats, block of tile rows x KeyStride
/// (blocked_attention_scratch, or a model's scratch sized for its widest layer).
template <attention_configuration Config, class Arch = simd::default_arch, std::size_t KvStride = Config::kv_dim,
          std::size_t KeyStride = blocked_key_stride<Config::seq_capacity>, std::size_t KvHeadStride = Config::head_dim>
inline void attend_blocked(std::size_t n_queries, const float* q, std::size_t query_pos0, std::size_t n_keys,
                           const float* k, const float* v, const typename Config::mask::params& mask, float* context,
                           float* kt, float* block, float* readout = nullptr, std::size_t readout_row_stride = 0,
                           std::size_t readout_head_stride = 0) noexcept {
    using Mask = typename Config::mask;
    constexpr std::size_t head_dim = Config::head_dim, D = Config::d_model, key_stride = KeyStride;
    constexpr std::size_t tile_rows = kernels::projection_tile_shape<Arch>::rows;
    static_assert(tile_rows <= blocked_tile_rows_max && key_stride % simd::width<Arch> == 0,
                  "ctattn: the blocked attention scratch does not fit this arch's tiles");
    for (std::size_t g = 0; g < Config::kv_heads; ++g) {
        kernels::transpose_keys<head_dim, KvStride, key_stride, simd::width<Arch>>(n_keys, k + g * KvHeadStride, kt);
        for (std::size_t h = g * Config::group_size; h < (g + 1) * Config::group_size; ++h)
            for (std::size_t i0 = 0; i0 < n_queries; i0 += tile_rows) {
                const std::size_t block_rows = n_queries - i0 < tile_rows ? n_queries - i0 : tile_rows;
                kernels::with_row_count<tile_rows>(block_rows, [&](auto rows_constant) {
                    constexpr std::size_t rows = decltype(rows_constant)::value;
                    key_range visible[rows];
                    key_range any{n_keys, 0};  // the keys at least one row of the block sees
                    for (std::size_t r = 0; r < rows; ++r) {
                        visible[r] = Mask::visible_keys(mask, query_pos0 + i0 + r, n_keys);
                        if (visible[r].empty()) continue;
                        any.begin = visible[r].begin < any.begin ? visible[r].begin : any.begin;
                        any.end = visible[r].end > any.end ? visible[r].end : any.end;
                    }
                    const float* q_rows = q + i0 * D + h * head_dim;
                    float* out_rows = context + i0 * D + h * head_dim;
                    if (any.empty()) {  // every row fully masked: weights 0, output 0
                        any = {0, 0};
                    } else {
                        kernels::score_rows_transposed<head_dim, rows, Arch, D, key_stride, key_stride>(
                            any.begin, any.end, q_rows, kt, block);
                    }
                    // Weights are written (0 outside a row's run) up to whole vectors past any.end,
                    // where softmax's tail may load and store a whole vector; the readout wants every key.
                    constexpr std::size_t W = simd::width<Arch>;
                    const std::size_t any_end_vectors = (any.end + W - 1) / W * W;
                    const std::size_t written = readout || any_end_vectors > n_keys ? n_keys : any_end_vectors;
                    bool regular[rows];  // the block's rows in lockstep: their latency chains overlap
                    kernels::softmax_rows<Arch, rows>(block, key_stride, written, visible, Config::score_scale, regular);
                    for (std::size_t r = 0; r < rows; ++r) {
                        float* p = block + r * key_stride;
                        if (!regular[r])
                            kernels::softmax_row_in_double<head_dim, KvStride>(
                                q_rows + r * D, k + g * KvHeadStride, written, visible[r], double(Config::score_scale), p);
                        if (readout) {
                            float* out = readout + h * readout_head_stride + (i0 + r) * readout_row_stride;
                            for (std::size_t j = 0; j < n_keys; ++j) out[j] = p[j];
                        }
                    }
                    // Each row over its own run only: masked keys are skipped, not weighted by 0.
                    kernels::aggregate_rows<head_dim, rows, simd::arch_for_width<Arch, head_dim>, key_stride,
                                            KvStride, D>(visible, block, v + g * KvHeadStride, out_rows);
                });
            }
    }
}

/// attend_blocked with its scratch in one struct (a layer's workspace).
template <attention_configuration Config, class Arch, std::size_t KvStride = Config::kv_dim>
inline void attend_blocked(std::size_t n_queries, const float* q, std::size_t query_pos0, std::size_t n_keys,
                           const float* k, const float* v, const typename Config::mask::params& mask, float* context,
                           blocked_attention_scratch<Config, Arch>& scratch, float* readout = nullptr,
                           std::size_t readout_row_stride = 0, std::size_t readout_head_stride = 0) noexcept {
    attend_blocked<Config, Arch, KvStride>(n_queries, q, query_pos0, n_keys, k, v, mask, context,
                                           scratch.keys_transposed.data(), scratch.score_block.data(), readout,
                                           readout_row_stride, readout_head_stride);
}

/// One multi-head attention layer: forward computes Y = concat_h(O_h) Wo + bo for up to seq_capacity rows.
template <attention_configuration Config, class Arch = simd::default_arch>
struct multi_head_attention {
    using config = Config;  ///< the attention_config
    using arch = Arch;  ///< the SIMD arch the kernels are compiled for
    using weights_type = attention_weights<Config>;                             ///< row-major
    using packed_weights_type = attention_weights<Config, packed_layout<Arch>>;  ///< see pack()
    using workspace_type = attention_workspace<Config, Arch>;  ///< scratch, with the blocked core's for Arch
    using readout_type = attention_readout<Config>;  ///< the attention weights P, when asked for
    using mask_params = typename Config::mask::params;  ///< the mask's run-time parameters (e.g. a key-padding length)

    static constexpr std::size_t weight_bytes = sizeof(weights_type);  ///< bytes of the row-major weights
    static constexpr std::size_t workspace_bytes = sizeof(workspace_type);  ///< bytes of the caller's workspace

    /// x: seq_len x d_model input rows; y: seq_len x d_model output rows (y may be x).
    /// w: row-major (weights_type) or packed (packed_weights_type) weights, the same result.
    /// ws: workspace_type runs the blocked attention core on vector arches; a workspace made for
    /// another arch (attention_workspace<Config> in a scalar_arch layer) runs the one-row core.
    /// Returns invalid_argument for null pointers, invalid_length unless 1 <= seq_len <= seq_capacity,
    /// invalid_mask for a mask parameter out of range; y and readout are untouched on error.
    /// observer: optional, an observer (layers/trace.hpp) shown Q, K, V, the weights and the head outputs.
    template <class Layout, class WorkspaceArch, class... Observer>
    [[nodiscard]] static status forward(const attention_weights<Config, Layout>& w, const float* x, std::size_t seq_len,
                                        float* y, attention_workspace<Config, WorkspaceArch>& ws,
                                        const mask_params& mask = {}, readout_type* readout = nullptr,
                                        Observer*... observer) noexcept {
        static_assert(sizeof...(Observer) <= 1, "ctattn: forward takes at most one observer");
        if (x == nullptr || y == nullptr) return status::invalid_argument;
        if (seq_len == 0 || seq_len > Config::seq_capacity) return status::invalid_length;
        if (const status s = Config::mask::validate(mask, seq_len); s != status::ok) return s;

        constexpr std::size_t D = Config::d_model, KvD = Config::kv_dim, S = Config::seq_capacity;
        kernels::project<D, D, Arch>(seq_len, x, w.wq, w.q_bias(), ws.q.data());
        kernels::project<D, KvD, Arch>(seq_len, x, w.wk, w.k_bias(), ws.k.data());
        kernels::project<D, KvD, Arch>(seq_len, x, w.wv, w.v_bias(), ws.v.data());
        float* weights_out = readout ? readout->data() : nullptr;
        constexpr bool has_blocked_scratch = uses_blocked_attention<Arch> && std::is_same_v<WorkspaceArch, Arch>;
        const attention_core core = choose_attention_core<Arch, Config::head_dim, typename Config::mask>(
            kv_source::projected_rows, seq_len, has_blocked_scratch);
        if constexpr (has_blocked_scratch) {
            if (core == attention_core::blocked)
                attend_blocked<Config, Arch>(seq_len, ws.q.data(), 0, seq_len, ws.k.data(), ws.v.data(), mask,
                                             ws.context.data(), ws.blocked, weights_out, S, S * S);
        }
        if (core != attention_core::blocked)
            attend<Config, Arch>(seq_len, ws.q.data(), 0, seq_len, ws.k.data(), ws.v.data(), mask, ws.context.data(),
                                 ws.scores.data(), weights_out, S, S * S);
        // K, V rows of kv_dim floats, the heads side by side.
        (detail::notify(observer, attention_trace<Config>{0, seq_len, 0, seq_len, ws.q.data(), ws.k.data(), ws.v.data(),
                                                          KvD, Config::head_dim, ws.context.data(), mask,
                                                          weights_out, S, S * S}),
         ...);
        kernels::project<D, D, Arch>(seq_len, ws.context.data(), w.wo, w.o_bias(), y);
        return status::ok;
    }

    /// Typed overload: whole matrices sized by the configuration.
    template <class Layout, class WorkspaceArch, class... Observer>
    [[nodiscard]] static status forward(const attention_weights<Config, Layout>& w,
                                        const matrix<Config::seq_capacity, Config::d_model>& x,
                                        std::size_t seq_len, matrix<Config::seq_capacity, Config::d_model>& y,
                                        attention_workspace<Config, WorkspaceArch>& ws, const mask_params& mask = {},
                                        readout_type* readout = nullptr, Observer*... observer) noexcept {
        return forward(w, x.data(), seq_len, y.data(), ws, mask, readout, observer...);
    }
};

}  // namespace ctattn
