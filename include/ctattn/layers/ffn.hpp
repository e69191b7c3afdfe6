// SPDX-License-Identifier: Apache-2.0
// Position-wise feed-forward network, applied to every token row independently:
//   dense:  y = act(x W1 + b1) W2 + b2                       (the encoder FFN, seeds 002/003)
//   gated:  y = (act(x W1 + b1) * (x W3 + b3)) W2 + b2       (SwiGLU when act = silu, llama: no biases)
// W1 (and W3) are d_model x d_ff, W2 is d_ff x d_model, in the x @ W convention; every matmul is
// kernels::project (or kernels::project_q8 when the storage's format quantizes projections,
// base/weight_format.hpp). d_ff is a template parameter, 4 x d_model unless said otherwise.
#pragma once

#include <concepts>
#include <cstddef>

#include "../kernels/activation.hpp"
#include "../kernels/projection.hpp"
#include "../kernels/q8_projection.hpp"
#include "../base/weight_format.hpp"
#include "../base/weight_storage.hpp"
#include "../simd/ops.hpp"
#include "../base/storage.hpp"

namespace ctattn {

// FFN kinds (policy types).
/// y = act(x W1 + b1) W2 + b2 (the biases when Bias).
template <activation_policy Activation = relu, bool Bias = true>
struct dense_ffn {
    using activation = Activation;                ///< applied to x W1 + b1
    static constexpr bool bias = Bias;            ///< whether b1, b2 (and b3) exist
    static constexpr bool gated = false;          ///< no W3 branch
    static constexpr const char* name = "dense";  ///< as configurations and test reports spell it
};

/// y = (act(x W1 + b1) * (x W3 + b3)) W2 + b2 (the biases when Bias).
template <activation_policy Activation = silu, bool Bias = false>
struct gated_ffn {
    using activation = Activation;                ///< applied to x W1 + b1
    static constexpr bool bias = Bias;            ///< whether b1, b2 (and b3) exist
    static constexpr bool gated = true;           ///< act(x W1 + b1) is multiplied by x W3 + b3
    static constexpr const char* name = "gated";  ///< as configurations and test reports spell it
};

/// llama's FFN: silu(x W1) * (x W3), then W2; no biases.
using swiglu = gated_ffn<silu, false>;

/// What a type must provide to be used as an FFN kind.
template <class K>
concept ffn_kind = requires {
    typename K::activation;
    { K::bias } -> std::convertible_to<bool>;
    { K::gated } -> std::convertible_to<bool>;
} && activation_policy<typename K::activation>;

/// An FFN's shape and kind: d_model -> d_ff -> d_model.
template <std::size_t DModel, class Kind = dense_ffn<relu>, std::size_t DFF = 4 * DModel>
struct ffn_config {
    static_assert(DModel > 0, "ctattn: the FFN's d_model must be at least 1");
    static_assert(DFF > 0, "ctattn: the FFN's d_ff (hidden width) must be at least 1");
    static_assert(ffn_kind<Kind>, "ctattn: Kind must be an FFN kind: dense_ffn<Act, Bias> or gated_ffn<Act, Bias> (swiglu)");
    static constexpr std::size_t d_model = DModel;  ///< width of the input and output rows
    static constexpr std::size_t d_ff = DFF;        ///< hidden width
    using kind = Kind;                              ///< dense_ffn or gated_ffn
    using activation = typename Kind::activation;   ///< Kind's activation
    static constexpr bool bias = Kind::bias;        ///< Kind's bias
    static constexpr bool gated = Kind::gated;      ///< Kind's gated
};

/// What a type must provide to be used as an FFN configuration (ffn_config does).
template <class C>
concept ffn_configuration = requires {
    C::d_model; C::d_ff; C::bias; C::gated;
    typename C::kind;
    typename C::activation;
};

namespace detail {
// Biases and the gate's third matrix exist only when the kind asks for them.
template <std::size_t D, std::size_t F, bool Bias, class Storage>
struct ffn_bias {
    typename Storage::template matrix<1, F> b1;  // (d_ff)
    typename Storage::template matrix<1, D> b2;  // (d_model)
    constexpr const float* b1_data() const noexcept { return b1.data(); }
    constexpr const float* b2_data() const noexcept { return b2.data(); }
};
template <std::size_t D, std::size_t F, class Storage>
struct ffn_bias<D, F, false, Storage> {
    static constexpr const float* b1_data() noexcept { return nullptr; }
    static constexpr const float* b2_data() noexcept { return nullptr; }
};

template <std::size_t D, std::size_t F, bool Gated, bool Bias, class Storage>
struct ffn_gate {
    projection_matrix<Storage, D, F> w3;          // (d_model, d_ff): the linear "up" branch
    typename Storage::template matrix<1, F> b3;  // (d_ff)
    constexpr const float* w3_data() const noexcept { return w3.data(); }  // float formats only
    constexpr const float* b3_data() const noexcept { return b3.data(); }
};
template <std::size_t D, std::size_t F, class Storage>
struct ffn_gate<D, F, true, false, Storage> {
    projection_matrix<Storage, D, F> w3;  // (d_model, d_ff)
    constexpr const float* w3_data() const noexcept { return w3.data(); }  // float formats only
    static constexpr const float* b3_data() noexcept { return nullptr; }
};
template <std::size_t D, std::size_t F, bool Bias, class Storage>
struct ffn_gate<D, F, false, Bias, Storage> {};
}  // namespace detail

/// Owned (Storage = owned_weights) or a view into constant storage (viewed_weights).
template <ffn_configuration C, weight_storage Storage = owned_weights>
struct ffn_weights : detail::ffn_bias<C::d_model, C::d_ff, C::bias, Storage>,
                     detail::ffn_gate<C::d_model, C::d_ff, C::gated, C::bias, Storage> {
    projection_matrix<Storage, C::d_model, C::d_ff> w1;  ///< (d_model, d_ff): the activated branch
    projection_matrix<Storage, C::d_ff, C::d_model> w2;  ///< (d_ff, d_model)
};

/// The FFN of configuration C, computed with the kernels of Arch.
template <ffn_configuration C, class Arch = simd::default_arch>
struct feed_forward {
    using config = C;                                   ///< the configuration
    using weights_type = ffn_weights<C>;                ///< owned weights
    static constexpr std::size_t d_model = C::d_model;  ///< width of the input and output rows
    static constexpr std::size_t d_ff = C::d_ff;        ///< hidden width

    /// rows: tokens to transform.  x, y: rows x d_model (y must not overlap x).
    /// hidden: rows x d_ff scratch.  up: rows x d_ff scratch, used only by gated kinds (may be null otherwise).
    template <class Storage>
    static void forward(const ffn_weights<C, Storage>& w, std::size_t rows, const float* x, float* y, float* hidden,
                        float* up) noexcept {
        using Act = typename C::activation;
        if constexpr (C::gated) {
            // One input: Q8 weights quantize it once for W1 and W3.
            kernels::project_weights_shared<d_model, Arch>(rows, x, kernels::project_to<d_ff>(w.w1, w.b1_data(), hidden),
                                                           kernels::project_to<d_ff>(w.w3, w.b3_data(), up));
            for (std::size_t r = 0; r < rows; ++r)
                kernels::activate_gated_row<Act, d_ff, Arch>(hidden + r * d_ff, up + r * d_ff);
        } else {
            (void)up;
            kernels::project_weights<d_model, d_ff, Arch>(rows, x, w.w1, w.b1_data(), hidden);
            for (std::size_t r = 0; r < rows; ++r) kernels::activate_row<Act, d_ff, Arch>(hidden + r * d_ff);
        }
        kernels::project_weights<d_ff, d_model, Arch>(rows, hidden, w.w2, w.b2_data(), y);
    }
};

}  // namespace ctattn
