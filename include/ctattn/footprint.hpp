// Compile-time memory bounds. Every buffer ctattn touches is sized by the configuration type, so
// what a layer or a model needs is known before the program exists:
//   flash = weights                         (constant: may live in flash / .rodata)
//   RAM   = activations + KV + scratch      (layer: input/output rows, K/V rows, Q rows, context, scores;
//                                            model: token ids and a logits row, KV cache, decoder scratch)
// and `static_assert(ctattn::fits<Config>(ram_bytes, flash_bytes))` stops a build that cannot fit.
// The layer bounds, fits and budget_check are in layer_footprint.hpp (no Boost); this adds models.
#pragma once

#include <cstddef>

#include "config.hpp"
#include "kv_cache.hpp"
#include "layer_footprint.hpp"  // footprint<attention_config>, fits, budget_check
#include "model.hpp"
#include "storage.hpp"

namespace ctattn {

// A language model decoding token by token (`decoder<Config>`: prefill, then decode_step), the
// way a device runs one. A full-sequence `language_model::forward` needs forward_bytes instead.
template <model_configuration Config>
struct footprint<Config> {
    using config = Config;

    // Flash: embedding, every layer's attention/FFN/norm weights, final norm, classifier.
    static constexpr std::size_t weight_bytes = sizeof(model_weights<Config>);

    // RAM, activations: the token ids of a full context and one row of logits.
    static constexpr std::size_t activation_bytes =
        Config::seq_capacity * sizeof(token_id) + sizeof(row_vector<Config::vocab>);
    // RAM, the KV cache: K and V rows of every layer for every position, plus its length.
    static constexpr std::size_t kv_bytes = sizeof(kv_cache<Config>);
    // RAM, the rest of the decoder: scratch for one token (residual, normed, q, context, FFN
    // hidden rows, one score row), its weights pointer and alignment padding.
    static constexpr std::size_t scratch_bytes = sizeof(decoder<Config>) - kv_bytes;
    static constexpr std::size_t readout_bytes = 0;

    static constexpr std::size_t ram_bytes = activation_bytes + kv_bytes + scratch_bytes;
    static constexpr std::size_t flash_bytes = weight_bytes;

    // A full-sequence forward instead: its workspace and the (seq_capacity, vocab) logits.
    static constexpr std::size_t forward_bytes =
        sizeof(model_workspace<Config>) + sizeof(matrix<Config::seq_capacity, Config::vocab>);
};

}  // namespace ctattn
