// SPDX-License-Identifier: Apache-2.0
// Compile-time memory bounds of one attention layer, and the budget checks. Every buffer a layer
// touches is sized by its attention_config, so what it needs is known before the program exists:
//   flash = weights (Wq, Wk, Wv, Wo, biases)              (constant: may live in flash / .rodata)
//   RAM   = activations + K/V rows + scratch (Q rows, context, one score row)
// and `static_assert(ctattn::fits<Config>(ram_bytes, flash_bytes))` stops a build that cannot fit.
// Needs no Boost: an attention-only firmware includes this; footprint.hpp adds the model bounds.
#pragma once

#include "../base/language_check.hpp"  // first: under an older -std the first error names C++20

#include <cstddef>

#include "attention.hpp"
#include "../base/attention_config.hpp"
#include "../base/storage.hpp"
#include "../base/kv_storage.hpp"

namespace ctattn {

/// Byte counts per configuration: an attention_config (one layer, below) or a model config
/// (model/footprint.hpp), whose decoder's KV cache stores KvStorage rows (base/kv_storage.hpp).
template <class Config, class KvStorage = kv_float32>
struct footprint;

/// One multi-head attention layer (`multi_head_attention<Config>::forward`): float rows only.
template <attention_configuration Config>
struct footprint<Config, kv_float32> {
    using config = Config;  ///< the attention_config measured

    /// Flash: Wq, Wk, Wv, Wo and the biases when the configuration has them.
    static constexpr std::size_t weight_bytes = sizeof(attention_weights<Config>);

    /// RAM, activations: the caller's input and output rows, seq_capacity x d_model each.
    static constexpr std::size_t activation_bytes = 2 * sizeof(matrix<Config::seq_capacity, Config::d_model>);
    /// RAM, K and V rows for every position: the layer's part of a KV cache of the same capacity.
    static constexpr std::size_t kv_bytes = 2 * sizeof(matrix<Config::seq_capacity, Config::kv_dim>);
    /// RAM, the rest of the workspace: Q rows, the concatenated head outputs and one score row.
    static constexpr std::size_t scratch_bytes = sizeof(attention_workspace<Config>) - kv_bytes;
    /// Optional readout of the attention weights (forward's last argument): not in ram_bytes.
    static constexpr std::size_t readout_bytes = sizeof(attention_readout<Config>);

    /// RAM in all, what fits() checks against the RAM budget (the readout is not included).
    static constexpr std::size_t ram_bytes = activation_bytes + kv_bytes + scratch_bytes;
    /// Flash in all, what fits() checks against the flash budget.
    static constexpr std::size_t flash_bytes = weight_bytes;
};

namespace footprint_diagnostics {
/// Deliberately not constexpr: reaching one of these inside a constant expression ends
/// compilation with an error naming the function, i.e. the budget that was exceeded, and the
/// template argument shows the bytes the configuration needs. At run time they do nothing.
template <std::size_t NeededRamBytes>
inline void ram_budget_too_small_for_activations_kv_and_scratch(std::size_t /*ram_budget_bytes*/) noexcept {}
/// As above, for the flash budget: the weights do not fit.
template <std::size_t NeededFlashBytes>
inline void flash_budget_too_small_for_weights(std::size_t /*flash_budget_bytes*/) noexcept {}
}  // namespace footprint_diagnostics

/// True when a layer of this configuration fits the budgets. In `static_assert` a failing budget
/// is a compile error that names it, e.g. "call to non-'constexpr' function 'void
/// ram_budget_too_small_for_activations_kv_and_scratch<98560>(std::size_t)'"; at run time it
/// simply returns false.
template <class Config, class KvStorage = kv_float32>
[[nodiscard]] constexpr bool fits(std::size_t ram_bytes, std::size_t flash_bytes) noexcept {
    using need = footprint<Config, KvStorage>;
    bool ok = true;
    if (need::ram_bytes > ram_bytes) {
        footprint_diagnostics::ram_budget_too_small_for_activations_kv_and_scratch<need::ram_bytes>(ram_bytes);
        ok = false;
    }
    if (need::flash_bytes > flash_bytes) {
        footprint_diagnostics::flash_budget_too_small_for_weights<need::flash_bytes>(flash_bytes);
        ok = false;
    }
    return ok;
}

/// The same check with the budgets as template arguments, for a message in plain words:
///   static_assert(ctattn::fits_budget<cfg, 64 * 1024, 256 * 1024>);
template <class Config, std::size_t RamBytes, std::size_t FlashBytes, class KvStorage = kv_float32>
struct budget_check {
    static_assert(footprint<Config, KvStorage>::ram_bytes <= RamBytes,
                  "ctattn: RAM budget too small: activations + K/V + scratch (footprint<Config>::ram_bytes) "
                  "exceed RamBytes; lower seq_capacity or d_model, use fewer kv_heads, or a kv_float16 / "
                  "kv_int8 cache");
    static_assert(footprint<Config, KvStorage>::flash_bytes <= FlashBytes,
                  "ctattn: flash budget too small: the weights (footprint<Config>::flash_bytes) exceed FlashBytes");
    static constexpr bool value = true;  ///< true; instantiating the struct runs the static_asserts
};

/// budget_check as a value: true, or a compile error that names the budget exceeded.
template <class Config, std::size_t RamBytes, std::size_t FlashBytes, class KvStorage = kv_float32>
inline constexpr bool fits_budget = budget_check<Config, RamBytes, FlashBytes, KvStorage>::value;

}  // namespace ctattn
