// SPDX-License-Identifier: Apache-2.0
// Compile-time memory bounds. Every buffer ctattn touches is sized by the configuration type, so
// what a layer or a model needs is known before the program exists:
//   flash = weights                         (constant: may live in flash / .rodata)
//   RAM   = activations + KV + scratch      (layer: input/output rows, K/V rows, Q rows, context, scores;
//                                            model: token ids and a logits row, KV cache, decoder scratch)
// A model's weights count in flash only when they are constant: a constexpr model_weights, or a
// model_weights_view of constant arrays (model/weights_image.hpp). Weights loaded into RAM at
// start-up (llama2c::load into a model_weights) add ram_bytes_loaded_weights instead.
// and `static_assert(ctattn::fits<Config>(ram_bytes, flash_bytes))` stops a build that cannot fit.
// The layer bounds, fits and budget_check are in layer_footprint.hpp (no Boost); this adds models.
#pragma once

#include <cstddef>

#include "../base/attention_config.hpp"
#include "decoder.hpp"
#include "../layers/footprint.hpp"  // footprint<attention_config>, fits, budget_check
#include "language_model.hpp"
#include "weights_image.hpp"
#include "../base/storage.hpp"

namespace ctattn {

/// A language model decoding token by token (`decoder<Config>`: prefill, then decode_step), the
/// way a device runs one, its KV cache storing KvStorage rows (kv_float32 by default; footprint<
/// Config, kv_int8> for kv_decoder<Config, kv_int8>). A full-sequence `language_model::forward`
/// needs forward_bytes instead.
template <model_configuration Config, kv_storage KvStorage>
struct footprint<Config, KvStorage> {
    using config = Config;  ///< the model configuration measured
    using kv_storage_type = KvStorage;  ///< how the KV cache stores its rows

    /// Flash: embedding, every layer's attention/FFN/norm weights, final norm, classifier: as one
    /// owned (constexpr) object, or as a contiguous image plus the view that points into it.
    static constexpr std::size_t weight_bytes = sizeof(model_weights<Config>);
    /// Flash, the other way: a contiguous weights image (and a quantized format's int8 code image)
    /// plus the view that points into it.
    static constexpr std::size_t weights_image_bytes = weights_image_floats<Config> * sizeof(float) +
                                                       weights_image_codes<Config> +
                                                       sizeof(model_weights_view<Config>);

    /// RAM, activations: the token ids of a full context and one row of logits.
    static constexpr std::size_t activation_bytes =
        Config::seq_capacity * sizeof(token_id) + sizeof(row_vector<Config::vocab>);
    /// RAM, the KV cache: K and V rows of every layer for every position (int8: and their scales),
    /// plus its length.
    static constexpr std::size_t kv_bytes = sizeof(kv_cache<Config, KvStorage>);
    /// RAM, the rest of the decoder: scratch for its prefill chunk (default_prefill_rows: one token
    /// on scalar_arch, 48 on vector arches: residual, normed, q, context, FFN hidden rows, and the
    /// blocked attention core's scratch for more than one), one score row, its weights pointer and
    /// alignment padding.
    static constexpr std::size_t scratch_bytes =
        sizeof(decoder<Config, owned_weights, simd::default_arch, default_prefill_rows<Config, simd::default_arch>,
                       KvStorage>) -
        kv_bytes;
    static constexpr std::size_t readout_bytes = 0;  ///< RAM for a trace: none without one

    /// Weights in flash (constant): RAM is the KV cache, activations and the decoder's scratch only.
    static constexpr std::size_t ram_bytes = activation_bytes + kv_bytes + scratch_bytes;
    /// Flash: the larger of the two weight layouts, so either fits.
    static constexpr std::size_t flash_bytes = weight_bytes > weights_image_bytes ? weight_bytes : weights_image_bytes;
    /// Weights copied into RAM at start-up instead (llama2c::load into a model_weights).
    static constexpr std::size_t ram_bytes_loaded_weights = ram_bytes + weight_bytes;

    /// A full-sequence forward instead: its workspace and the (seq_capacity, vocab) logits.
    static constexpr std::size_t forward_bytes =
        sizeof(model_workspace<Config>) + sizeof(matrix<Config::seq_capacity, Config::vocab>);
};

}  // namespace ctattn
