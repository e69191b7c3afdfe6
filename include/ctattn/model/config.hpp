// SPDX-License-Identifier: Apache-2.0
// A language model's configuration, all at compile time: the vocabulary, the position policy,
// the final norm, the LM head (untied x @ W_out (+ b), or tied x @ embedding^T) and the layer
// stack, a Boost.Hana list of block_config types (layers/block.hpp) bottom first, which may differ
// per layer. Also each layer's run-time mask parameters as one tuple, and (with_weight_format) the
// format its projections and embedding are stored in. The forward pass that runs a configuration
// is model/language_model.hpp.
#pragma once

#include <algorithm>
#include <concepts>
#include <cstddef>
#include <type_traits>
#include <utility>

#if defined(__has_include)
#if !__has_include(<boost/hana/tuple.hpp>)
#error "ctattn: the model headers need Boost.Hana (header-only, Boost >= 1.74: apt install libboost-dev, or add its include folder)"
#endif
#endif
#include <boost/hana/at.hpp>
#include <boost/hana/tuple.hpp>
#include <boost/hana/type.hpp>

#include "../base/status.hpp"
#include "../base/weight_format.hpp"
#include "../base/weight_storage.hpp"
#include "../layers/block.hpp"
#include "../layers/norm.hpp"
#include "../layers/position.hpp"

namespace ctattn {

namespace hana = boost::hana;

// ---- language-model heads ---------------------------------------------------------------

namespace detail {
template <std::size_t D, std::size_t Vocab, bool Bias, class Storage>
struct untied_head_weights {
    projection_matrix<Storage, D, Vocab> w_out;         // (d_model, vocab)
    typename Storage::template matrix<1, Vocab> b_out;  // (vocab)
};
template <std::size_t D, std::size_t Vocab, class Storage>
struct untied_head_weights<D, Vocab, false, Storage> {
    projection_matrix<Storage, D, Vocab> w_out;  // (d_model, vocab)
};
}  // namespace detail

/// Untied: logits = x @ W_out (+ b_out), W_out is (d_model, vocab).
template <bool Bias = false>
struct untied_head {
    static constexpr const char* name = "untied";  ///< "untied", for diagnostics and tools
    static constexpr bool tied = false;  ///< false: the head has its own matrix
    static constexpr bool bias = Bias;  ///< whether logits get a bias b_out
    /// The head's weights: W_out (d_model, vocab) (+ b_out (vocab)).
    template <std::size_t D, std::size_t Vocab, weight_storage Storage = owned_weights>
    using weights = detail::untied_head_weights<D, Vocab, Bias, Storage>;
};

/// Tied: the output matrix is the token embedding itself, logits[t] = x . embedding[t]
/// (llama2.c checkpoints with a positive vocab_size, GPT-2). Nothing extra is stored.
struct tied_head {
    static constexpr const char* name = "tied";  ///< "tied", for diagnostics and tools
    static constexpr bool tied = true;  ///< true: the head reuses the token embedding
    static constexpr bool bias = false;  ///< a tied head has no bias
    /// Nothing to store: the embedding is the output matrix.
    template <std::size_t D, std::size_t Vocab, weight_storage Storage = owned_weights>
    struct weights {};
};

/// What a head policy provides: tied, bias and a weights<D, Vocab> template.
template <class H>
concept head_policy = requires {
    { H::tied } -> std::convertible_to<bool>;
    { H::bias } -> std::convertible_to<bool>;
    typename H::template weights<1, 1>;
};

// ---- run-time mask parameters per layer ---------------------------------------------------

namespace detail {
// A mask's default parameters, with valid_len set where the policy has one (key padding).
template <class Params>
constexpr Params with_valid_len(std::size_t valid_len) noexcept {
    Params p{};
    if constexpr (requires { p.valid_len = valid_len; }) p.valid_len = valid_len;
    return p;
}
// Layer I's mask validated with element I of the tuple, bottom layer first; the first failure wins.
template <class... Masks, class Tuple, std::size_t... I>
constexpr status validate_each_mask(const Tuple& masks, std::size_t n_keys, std::index_sequence<I...>) noexcept {
    status result = status::ok;
    ((result = result == status::ok ? Masks::validate(hana::at_c<I>(masks), n_keys) : result), ...);
    return result;
}
}  // namespace detail

// ---- configuration ----------------------------------------------------------------------

/// Vocab:     vocabulary size.
/// Position:  no_positions, sinusoidal_positions, learned_positions or rotary_positions<Theta>.
/// FinalNorm: no_norm, layer_norm<Eps> or rms_norm<Eps>, applied before the head.
/// Head:      untied_head<Bias> or tied_head.
/// Blocks:    one block_config per layer, bottom first; all share d_model and seq_capacity.
template <std::size_t Vocab, class Position, class FinalNorm, class Head, class... Blocks>
struct model_config {
    static_assert(Vocab > 0, "ctattn: the vocabulary needs at least one token");
    static_assert(sizeof...(Blocks) > 0, "ctattn: a model needs at least one block (layer)");
    static_assert((block_configuration<Blocks> && ...), "ctattn: every layer must be a block_config<...>");
    static_assert(position_policy<Position>,
                  "ctattn: Position must be no_positions, sinusoidal_positions, learned_positions or rotary_positions<>");
    static_assert(norm_policy<FinalNorm>, "ctattn: FinalNorm must be no_norm, layer_norm<Eps> or rms_norm<Eps>");
    static_assert(head_policy<Head>, "ctattn: Head must be untied_head<Bias> or tied_head");

    /// The Hana list of layer types: index it with `block<I>`, iterate it with hana::for_each.
    static constexpr auto block_types = hana::tuple_t<Blocks...>;
    /// Layer I's block_config type (0 = bottom).
    template <std::size_t I>
    using block = typename decltype(+hana::at_c<I>(hana::tuple_t<Blocks...>))::type;
    /// A Hana tuple holding F<Block> for every layer, e.g. each layer's weights or KV rows.
    template <template <class> class F>
    using per_layer = hana::tuple<F<Blocks>...>;

    static constexpr std::size_t vocab = Vocab;  ///< vocabulary size (tokens)
    static constexpr std::size_t layers = sizeof...(Blocks);  ///< number of blocks
    static constexpr std::size_t d_model = block<0>::d_model;  ///< width of the residual stream
    static constexpr std::size_t seq_capacity = block<0>::seq_capacity;  ///< maximum sequence length (positions)
    static_assert(((Blocks::d_model == d_model) && ...),
                  "ctattn: every layer must have the same d_model (they share the residual stream)");
    static_assert(((Blocks::seq_capacity == seq_capacity) && ...),
                  "ctattn: every layer must have the same seq_capacity (one position range for the whole model)");

    /// Scratch is sized by the widest layer, since layers run one after another.
    static constexpr std::size_t max_d_ff = std::max({Blocks::d_ff...});
    static constexpr std::size_t max_kv_dim = std::max({Blocks::kv_dim...});  ///< widest K/V row (kv_heads x head_dim)
    static constexpr std::size_t max_head_dim = std::max({Blocks::attention::head_dim...});  ///< widest attention head
    static constexpr bool any_gated_ffn = (Blocks::ffn::gated || ...);  ///< true when some layer's FFN is gated

    using position = Position;  ///< the position policy
    using final_norm = FinalNorm;  ///< the norm before the head
    using head = Head;  ///< the LM head policy

    /// Every layer's run-time mask parameters, bottom layer first: element I is `block<I>`'s
    /// mask::params (a key-padding layer's valid_len; empty for no mask, causal, sliding window).
    using mask_params = hana::tuple<typename Blocks::mask::params...>;
    /// True when no layer's mask takes a run-time parameter (no mask, causal, sliding window).
    static constexpr bool mask_params_empty = (std::is_empty_v<typename Blocks::mask::params> && ...);

    /// The parameters of one padded sequence: valid_len for every layer whose mask takes one (key
    /// padding), defaults for the others.
    static constexpr mask_params sequence_mask_params(std::size_t valid_len) noexcept {
        return mask_params{detail::with_valid_len<typename Blocks::mask::params>(valid_len)...};
    }

    /// Validates each layer's mask parameters (defaults when none are given) for n keys.
    static constexpr status validate_masks(const mask_params& masks, std::size_t n) noexcept {
        return detail::validate_each_mask<typename Blocks::mask...>(masks, n, std::index_sequence_for<Blocks...>{});
    }
    /// Validates each layer's default mask parameters for n keys.
    static constexpr status validate_masks(std::size_t n) noexcept { return validate_masks(mask_params{}, n); }
};

namespace detail {
template <std::size_t, class T>
using repeat_type = T;
template <std::size_t Vocab, class Position, class FinalNorm, class Head, class Block, class Indices>
struct stacked;
template <std::size_t Vocab, class Position, class FinalNorm, class Head, class Block, std::size_t... I>
struct stacked<Vocab, Position, FinalNorm, Head, Block, std::index_sequence<I...>> {
    using type = model_config<Vocab, Position, FinalNorm, Head, repeat_type<I, Block>...>;
};
}  // namespace detail

/// Layers copies of one block type: the common uniform stack.
template <std::size_t Vocab, std::size_t Layers, class Block, class Position, class FinalNorm, class Head>
using stacked_model_config =
    typename detail::stacked<Vocab, Position, FinalNorm, Head, Block, std::make_index_sequence<Layers>>::type;

// ---- weight format ------------------------------------------------------------------------

/// Config with its projections and embedding stored in Format (base/weight_format.hpp), e.g.
///   using stories_q8 = with_weight_format<stories_config, q8_weights<>>;
/// Everything else (shapes, layers, heads, masks) is Config's. A configuration without this
/// wrapper is float32_weights.
template <class Config, weight_format_policy Format>
struct with_weight_format : Config {
    using weight_format = Format;  ///< how projections and the embedding are stored
};

namespace detail {
template <class Config>
struct weight_format_of {
    using type = float32_weights;
};
template <class Config>
    requires requires { typename Config::weight_format; }
struct weight_format_of<Config> {
    using type = typename Config::weight_format;
};
}  // namespace detail

/// Config's weight format: Config::weight_format (with_weight_format), else float32_weights.
template <class Config>
using weight_format_of = typename detail::weight_format_of<Config>::type;

/// What a model configuration provides (model_config satisfies it).
template <class C>
concept model_configuration = requires {
    C::vocab; C::layers; C::d_model; C::seq_capacity; C::max_d_ff; C::max_kv_dim;
    typename C::position;
    typename C::final_norm;
    typename C::head;
};

}  // namespace ctattn
