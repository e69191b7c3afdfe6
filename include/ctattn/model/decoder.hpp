// SPDX-License-Identifier: Apache-2.0
// KV cache and incremental decoding. Each layer keeps the K and V rows of every position seen so
// far in static storage, (seq_capacity x kv_dim) per layer, sized by the configuration. A decode
// step embeds one token, and in every layer projects only that token's q/k/v, appends k/v to the
// cache and attends over the cached rows: O(n) work at position n instead of the O(n^2) of
// re-running the whole prefix, with bit-for-bit the same kernels as the full forward.
//
//   static ctattn::decoder<cfg> dec;        // cache + scratch, zero heap (put it in static storage)
//   dec.attach(weights);                   // model_weights<cfg> it reads (not copies)
//   // weights in flash: ctattn::flash_decoder<cfg> (= decoder<cfg, viewed_weights>) reads a
//   // model_weights_view<cfg> (model/weights_image.hpp), constant arrays read in place
//   dec.prefill(prompt, n, logits);          // logits of the position after the prompt
//   dec.decode_step(next, logits);           // one token in, next-token logits out
#pragma once

#include <cstddef>
#include <type_traits>
#include <utility>

#include "language_model.hpp"
#include "../simd/ops.hpp"
#include "../base/status.hpp"
#include "../base/storage.hpp"
#include "../base/kv_storage.hpp"

namespace ctattn {

/// One layer's cached rows, head by head: each KV head's keys are one contiguous run that decode
/// streams front to back (and its values another). RoPE has already been applied to the keys.
/// KvStorage (base/kv_storage.hpp): float32 rows as below; float16 and int8 in layer_kv_typed.
template <block_configuration Block, kv_storage KvStorage = kv_float32>
struct layer_kv {
    /// The block's KV heads.
    static constexpr std::size_t kv_heads = Block::attention::kv_heads, head_dim = Block::attention::head_dim;
    ///< head_dim: the width of one head.
    matrix<kv_heads * Block::seq_capacity, head_dim> k;  ///< (kv_heads, seq_capacity, head_dim)
    matrix<kv_heads * Block::seq_capacity, head_dim> v;  ///< (kv_heads, seq_capacity, head_dim)
};

/// One layer's rows of a float16 or int8 cache: the same layout, elements of the storage type and
/// (int8) one scale per row and KV head, (kv_heads, seq_capacity).
template <block_configuration Block, kv_storage KvStorage>
    requires(!std::is_same_v<KvStorage, kv_float32>)
struct layer_kv<Block, KvStorage> {
    /// The block's KV heads.
    static constexpr std::size_t kv_heads = Block::attention::kv_heads, head_dim = Block::attention::head_dim;
    ///< head_dim: the width of one head.
    kv_rows_storage<KvStorage, kv_heads * Block::seq_capacity, head_dim> k;  ///< (kv_heads, seq_capacity, head_dim)
    kv_rows_storage<KvStorage, kv_heads * Block::seq_capacity, head_dim> v;  ///< (kv_heads, seq_capacity, head_dim)
};

namespace detail {
template <kv_storage KvStorage>
struct layer_kv_of {
    template <class Block>
    using type = layer_kv<Block, KvStorage>;
};
}  // namespace detail

/// Every layer's cached K and V rows and how many positions they hold, stored as KvStorage.
template <model_configuration Config, kv_storage KvStorage = kv_float32>
struct kv_cache {
    using storage = KvStorage;  ///< kv_float32, kv_float16 or kv_int8
    static constexpr std::size_t capacity = Config::seq_capacity;  ///< positions the cache can hold (seq_capacity)
    /// hana::tuple of layer_kv, one per block
    typename Config::template per_layer<detail::layer_kv_of<KvStorage>::template type> layers;
    std::size_t length = 0;                                ///< positions held: 0 .. capacity

    /// Rows past `length` are never read before they are rewritten, so forgetting is O(1).
    void reset() noexcept { length = 0; }
    /// Positions held.
    std::size_t size() const noexcept { return length; }
    /// True when no further position fits.
    bool full() const noexcept { return length >= capacity; }
};

namespace detail {
// Decoding reads the cache as the past: a query at position p must not see keys after p.
template <class Mask>
inline constexpr bool causal_for_decoding = Mask::visible_keys(typename Mask::params{}, 0, 2).end <= 1;
template <class LayerList>
struct all_layers_causal;
template <class... Blocks>
struct all_layers_causal<hana::tuple<Blocks...>> {
    static constexpr bool value = (causal_for_decoding<typename Blocks::mask> && ...);
};
}  // namespace detail

/// Tokens a decoder's prefill runs at once unless told otherwise, fixed at compile time from the arch.
/// Vector arches: 8 projection tiles' rows (48), at most the context: every weight is read once per
/// chunk instead of once per token, and the chunk's attention runs the blocked core. The RAM it
/// costs is the activation scratch of that many rows, (5 d_model + 2 max d_ff) floats per row, plus
/// the blocked core's (max head_dim + 6) x seq_capacity floats: over a one-token decoder, 150 KiB
/// for stories260K (153,408 bytes; 2.6 KiB per row) and 600 KiB for stories15M (614,720 bytes;
/// 11.6 KiB per row). footprint<Config>::scratch_bytes counts it.
/// scalar_arch and mve_arch (Cortex-M firmware): 1, one token's rows, so a device's RAM holds nothing
/// it does not need (stories260K's 150 KiB would not fit the M55's 512 KiB DTCM beside its KV cache);
/// a user who wants chunks there picks PrefillRows.
template <model_configuration Config, class Arch>
inline constexpr std::size_t default_prefill_rows =
    !uses_blocked_attention<Arch> || std::is_same_v<Arch, simd::mve_arch> ? 1
    : Config::seq_capacity < 8 * kernels::projection_tile_shape<Arch>::rows
        ? Config::seq_capacity
        : 8 * kernels::projection_tile_shape<Arch>::rows;

/// The decoding state: a KV cache, row scratch for PrefillRows tokens at a time (by default
/// default_prefill_rows, above), and the weights it reads: owned (model_weights) or a view of
/// constant storage (Storage = viewed_weights: model_weights_view; flash_decoder<Config> below),
/// attached by address, never copied. Every call validates first and changes nothing (cache,
/// logits) when it fails. Storage comes first: it is what users choose; Arch and PrefillRows have
/// defaults fixed by the build's target. KvStorage (base/kv_storage.hpp) is how the cache stores its
/// rows: kv_float32 (default), kv_float16 or kv_int8 (kv_decoder<Config, KvStorage> below names it
/// first); the attention kernels read it row by row, and observers (layers/trace.hpp), which read
/// the cache as floats, need kv_float32.
template <model_configuration Config, weight_storage Storage = owned_weights, class Arch = simd::default_arch,
          std::size_t PrefillRows = default_prefill_rows<Config, Arch>, kv_storage KvStorage = kv_float32>
class decoder {
    static_assert(PrefillRows >= 1, "ctattn: the decoder needs PrefillRows >= 1 (tokens per prefill chunk)");
    static_assert(detail::all_layers_causal<typename Config::template per_layer<std::type_identity_t>>::value,
                  "ctattn: incremental decoding needs causal masks (causal_mask or sliding_window_mask) in every "
                  "layer: a cached prefix cannot attend to tokens that have not arrived");

  public:
    using config = Config;  ///< the model configuration
    using model_type = language_model<Config, Arch>;  ///< the forward-pass steps it shares
    using weights_type = model_weights<Config, Storage>;  ///< the weights it reads (owned or a view)
    using cache_type = kv_cache<Config, KvStorage>;  ///< the KV cache
    using kv_storage_type = KvStorage;  ///< how the cache stores its rows
    using scratch_type = activation_scratch<Config, PrefillRows>;  ///< row scratch for PrefillRows tokens
    static constexpr std::size_t vocab_size = Config::vocab;  ///< logits per position
    static constexpr std::size_t capacity = Config::seq_capacity;  ///< positions the cache holds
    static constexpr std::size_t prefill_rows = PrefillRows;  ///< tokens a prefill chunk runs at once

    /// Default-constructed decoders are all zeros (static storage goes to .bss); attach weights
    /// before use. Calls on a decoder without weights return status::invalid_argument.
    decoder() = default;
    /// A decoder reading w (attached by address, not copied).
    explicit decoder(const weights_type& w) noexcept : weights_(&w) {}

    using mask_params = typename Config::mask_params;  ///< each layer's run-time mask parameters

    /// Reads w from now on (by address) and empties the cache.
    void attach(const weights_type& w) noexcept {
        weights_ = &w;
        reset();
    }
    /// Reads w from now on (by address), keeping the cache and the mask parameters: for a decoder
    /// whose bytes were copied together with the weights view it read (a C API state the caller
    /// copied), so that the copy reads its own view.
    void repoint(const weights_type& w) noexcept { weights_ = &w; }
    /// Empties the cache; the mask parameters go back to their defaults.
    void reset() noexcept {
        cache_.reset();
        if constexpr (stores_masks) masks_ = mask_params{};
    }
    /// Positions fed so far, i.e. the position of the next token.
    std::size_t position() const noexcept { return cache_.length; }
    /// The KV cache, read-only.
    const cache_type& cache() const noexcept { return cache_; }

    /// Feeds n tokens at positions position() .. position()+n-1. last_logits (vocab floats, or null)
    /// receives the logits after the last of them. Errors, checked before anything changes:
    /// invalid_argument (no weights, null tokens), invalid_length (n == 0), cache_full (the tokens do
    /// not fit), invalid_token (an id >= vocab), a layer's mask status.
    /// observer (here and in decode_step): optional, an observer (layers/trace.hpp) shown every layer.
    template <class... Observer>
    [[nodiscard]] status prefill(const token_id* tokens, std::size_t n, float* last_logits,
                                 Observer*... observer) noexcept {
        return prefill(tokens, n, last_logits, masks(), observer...);
    }
    /// The same with the sequence's mask parameters per layer (only causal policies decode, so they
    /// are those of user-defined causal masks, e.g. one that hides a left-padded prompt's padding):
    /// kept for the following prefill and decode_step calls until reset().
    template <class... Observer>
    [[nodiscard]] status prefill(const token_id* tokens, std::size_t n, float* last_logits,
                                 const mask_params& masks, Observer*... observer) noexcept {
        static_assert(sizeof...(Observer) <= 1, "ctattn: prefill takes at most one observer");
        if (weights_ == nullptr || tokens == nullptr) return status::invalid_argument;
        if (n == 0) return status::invalid_length;
        if (n > capacity - cache_.length) return status::cache_full;
        if (const status s = model_type::check_tokens(tokens, n); s != status::ok) return s;
        if (const status s = Config::validate_masks(masks, cache_.length + n); s != status::ok) return s;
        if constexpr (stores_masks) masks_ = masks;
        run(tokens, n, last_logits, observer...);
        return status::ok;
    }

    /// One token in, the next position's logits (vocab floats) out. cache_full when position()
    /// == capacity, invalid_token for id >= vocab, invalid_argument for null logits or no weights.
    template <class... Observer>
    [[nodiscard]] status decode_step(token_id token, float* logits, Observer*... observer) noexcept {
        static_assert(sizeof...(Observer) <= 1, "ctattn: decode_step takes at most one observer");
        if (weights_ == nullptr || logits == nullptr) return status::invalid_argument;
        if (cache_.full()) return status::cache_full;
        if (token >= vocab_size) return status::invalid_token;
        if (const status s = Config::validate_masks(masks(), cache_.length + 1); s != status::ok) return s;
        run(&token, 1, logits, observer...);
        return status::ok;
    }

  private:
    template <class... Observer>
    void run(const token_id* tokens, std::size_t n, float* last_logits, Observer*... observer) noexcept {
        const weights_type& w = *weights_;
        const block_buffers buffers = scratch_.buffers();
        std::size_t rows = 0;
        for (std::size_t done = 0; done < n; done += rows) {
            rows = n - done < PrefillRows ? n - done : PrefillRows;
            const std::size_t pos0 = cache_.length;
            model_type::embed(w, tokens + done, rows, pos0, scratch_.x.data());
            model_type::run_layers(w, rows, pos0, scratch_.x.data(), buffers, masks(), [&](auto layer_index) {
                auto& kv = hana::at(cache_.layers, layer_index);
                if constexpr (std::is_same_v<KvStorage, kv_float32>)
                    return std::pair<float*, float*>{kv.k.data(), kv.v.data()};
                else
                    return std::pair<kv_rows<KvStorage>, kv_rows<KvStorage>>{{kv.k.values, kv.k.scales},
                                                                             {kv.v.values, kv.v.scales}};
            }, observer...);
            cache_.length += rows;
        }
        if (last_logits != nullptr)
            model_type::head_logits(w, scratch_.x.row(rows - 1), scratch_.normed.row(0), last_logits);
    }

    const weights_type* weights_ = nullptr;
    // Value-initialised so a static decoder is constant-initialised: zeros in .bss, no static
    // constructor (members left indeterminate would make its initialisation dynamic).
    cache_type cache_{};
    scratch_type scratch_{};
    // The sequence's mask parameters, stored only when some layer's mask has any: a Hana tuple of
    // equal empty structs still takes a byte each, and the decoder's alignment would round that up.
    static constexpr bool stores_masks = !Config::mask_params_empty;
    struct no_stored_masks {};
    static constexpr mask_params default_masks{};
    [[no_unique_address]] std::conditional_t<stores_masks, mask_params, no_stored_masks> masks_{};
    const mask_params& masks() const noexcept {
        if constexpr (stores_masks)
            return masks_;
        else
            return default_masks;
    }
};

/// A decoder reading weights in place from constant storage (flash, a validated blob): attach a
/// model_weights_view<Config> (model/weights_image.hpp).
template <model_configuration Config, class Arch = simd::default_arch,
          std::size_t PrefillRows = default_prefill_rows<Config, Arch>, kv_storage KvStorage = kv_float32>
using flash_decoder = decoder<Config, viewed_weights, Arch, PrefillRows, KvStorage>;

/// A decoder whose cache stores KvStorage rows (kv_float16, kv_int8; base/kv_storage.hpp), the
/// storage type named first.
template <model_configuration Config, kv_storage KvStorage, weight_storage Storage = owned_weights,
          class Arch = simd::default_arch, std::size_t PrefillRows = default_prefill_rows<Config, Arch>>
using kv_decoder = decoder<Config, Storage, Arch, PrefillRows, KvStorage>;

/// Free-function forms: the shape the generation helper (text/sample.hpp) is written against.
template <model_configuration Config, class Storage, class Arch, std::size_t PrefillRows, class KvStorage>
[[nodiscard]] inline status decode_step(decoder<Config, Storage, Arch, PrefillRows, KvStorage>& state, token_id token,
                                        float* logits) noexcept {
    return state.decode_step(token, logits);
}
/// Free-function form of decoder::prefill.
template <model_configuration Config, class Storage, class Arch, std::size_t PrefillRows, class KvStorage>
[[nodiscard]] inline status prefill(decoder<Config, Storage, Arch, PrefillRows, KvStorage>& state, const token_id* tokens,
                                    std::size_t n, float* last_logits) noexcept {
    return state.prefill(tokens, n, last_logits);
}
/// Free-function form of decoder::reset.
template <model_configuration Config, class Storage, class Arch, std::size_t PrefillRows, class KvStorage>
inline void reset(decoder<Config, Storage, Arch, PrefillRows, KvStorage>& state) noexcept {
    state.reset();
}

}  // namespace ctattn
