// SPDX-License-Identifier: Apache-2.0
// Weight formats: how a model's projection matrices and token embedding are stored. A format turns
// a storage policy (base/weight_storage.hpp: who holds the numbers) into one whose projections are
// of the format's type, leaving every other tensor (norm gains, biases, learned positions) float:
//   float32_weights   W as Din x Dout floats (x @ W), as trained: the default
//   q8_weights<Rule>  W as int8 codes with one float scale per group of G along the input dimension,
//                     W[i][o] ~= s[o][i / G] * q[o][i]; activations are quantized per group at run
//                     time (w8a8, llama2.c runq.c / llama.cpp Q8_0); G per matrix from the Rule.
// A model configuration names its format with model/config.hpp's with_weight_format.
#pragma once

#include <concepts>
#include <cstddef>
#include <type_traits>

#include "weight_storage.hpp"

namespace ctattn {

/// The format of trained weights: projections and the embedding are floats (Storage unchanged).
struct float32_weights {
    static constexpr const char* name = "float32";  ///< as configurations and tools spell it
    static constexpr bool quantized = false;        ///< projections are floats
    /// The storage policy of a model in this format: Storage itself.
    template <class Storage>
    using storage = Storage;
};

/// How a Q8 format picks the group G of a Din-input matrix, at compile time:
///   Din <= MaxGroup:  one group of Din (no padding);
///   otherwise the largest power of two <= MaxGroup that divides Din, if it is >= MinGroup;
///   otherwise G = MaxGroup and each row is padded with zero codes to a multiple of MaxGroup.
/// stories260K (MaxGroup 32, MinGroup 8): d_model 64 -> G 32; hidden 172 = 4 x 43 -> G 32 over
/// rows padded to 192 rather than G 4 (one scale per 4 codes would double W2's bytes) or G 43
/// (odd groups fit no vector width). See docs/quantization.md.
template <std::size_t MaxGroup = 32, std::size_t MinGroup = 8>
struct q8_group_rule {
    static_assert(MaxGroup >= 1 && MaxGroup <= 65536, "ctattn: a Q8 group holds 1..65536 codes");
    static_assert(MinGroup >= 1 && MinGroup <= MaxGroup, "ctattn: q8_group_rule needs 1 <= MinGroup <= MaxGroup");
    static constexpr std::size_t max_group = MaxGroup;  ///< the largest group
    static constexpr std::size_t min_group = MinGroup;  ///< below this a divisor loses to padding
    /// G for a matrix with Din inputs.
    template <std::size_t Din>
    static constexpr std::size_t group = [] {
        if (Din <= MaxGroup) return Din;
        std::size_t g = 1;
        while (g * 2 <= MaxGroup && Din % (g * 2) == 0) g *= 2;
        return g >= MinGroup ? g : MaxGroup;
    }();
    /// Codes per stored row: Din rounded up to a multiple of group<Din>.
    template <std::size_t Din>
    static constexpr std::size_t row_codes = (Din + group<Din> - 1) / group<Din> * group<Din>;
};

/// The storage policy of a Q8 model: Storage's float matrices for norms, biases and positions; Q8
/// matrices (owned when Storage owns, else views) for projections and the embedding.
template <class Storage, class Rule>
struct q8_storage {
    static constexpr bool owning = Storage::owning;  ///< as Storage
    /// Float tensors (norm gains, biases, learned positions) as Storage holds them.
    template <std::size_t Rows, std::size_t Cols>
    using matrix = typename Storage::template matrix<Rows, Cols>;
    /// A Din -> Dout projection: Dout rows of Din codes, G from the Rule.
    template <std::size_t Din, std::size_t Dout>
    using projection =
        std::conditional_t<owning, q8_matrix<Din, Dout, Rule::template group<Din>, Rule::template row_codes<Din>>,
                           q8_matrix_view<Din, Dout, Rule::template group<Din>, Rule::template row_codes<Din>>>;
    /// The token embedding (vocab rows of d_model codes), which is also the tied head's matrix.
    template <std::size_t Vocab, std::size_t D>
    using embedding = projection<D, Vocab>;
};

/// int8 weights, per-group float scales, activations quantized per group at run time (w8a8).
template <class Rule = q8_group_rule<>>
struct q8_weights {
    static constexpr const char* name = "q8";  ///< as configurations and tools spell it
    static constexpr bool quantized = true;    ///< projections and the embedding are Q8
    using rule = Rule;                         ///< picks G per matrix
    /// The storage policy of a model in this format.
    template <class Storage>
    using storage = q8_storage<Storage, Rule>;
};

/// A weight format: float32_weights, q8_weights<Rule>, or a type with the same members.
template <class F>
concept weight_format_policy = requires {
    { F::quantized } -> std::convertible_to<bool>;
    typename F::template storage<owned_weights>;
};

namespace detail {
template <class Storage, std::size_t Din, std::size_t Dout>
struct projection_matrix_of {
    using type = typename Storage::template matrix<Din, Dout>;
};
template <class Storage, std::size_t Din, std::size_t Dout>
    requires requires { typename Storage::template projection<Din, Dout>; }
struct projection_matrix_of<Storage, Din, Dout> {
    using type = typename Storage::template projection<Din, Dout>;
};
template <class Storage, std::size_t Vocab, std::size_t D>
struct embedding_matrix_of {
    using type = typename Storage::template matrix<Vocab, D>;
};
template <class Storage, std::size_t Vocab, std::size_t D>
    requires requires { typename Storage::template embedding<Vocab, D>; }
struct embedding_matrix_of<Storage, Vocab, D> {
    using type = typename Storage::template embedding<Vocab, D>;
};
}  // namespace detail

/// The type of a Din -> Dout projection under Storage: Storage::projection when it has one (a
/// quantized format), else the float Din x Dout matrix.
template <class Storage, std::size_t Din, std::size_t Dout>
using projection_matrix = typename detail::projection_matrix_of<Storage, Din, Dout>::type;

/// The type of the token embedding (Vocab x D) under Storage (see projection_matrix).
template <class Storage, std::size_t Vocab, std::size_t D>
using embedding_matrix = typename detail::embedding_matrix_of<Storage, Vocab, D>::type;

}  // namespace ctattn
