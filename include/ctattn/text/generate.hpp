// SPDX-License-Identifier: Apache-2.0
// The generation loop: prompt -> prefill -> (sample, report, decode_step)* until a stop token,
// a token budget, the callback's say-so, or an error from the model. Written against a concept,
// so it drives ctattn::decoder (model/decoder.hpp) and any other model with the same decode API:
//   prefill(tokens, n, logits) -> status, decode_step(token, logits) -> status, vocab_size.
#pragma once

#include <concepts>
#include <cstddef>
#include <limits>
#include <type_traits>

#include "sample.hpp"
#include "../base/status.hpp"

namespace ctattn {

/// A model that turns one token into the next position's logits (vocab_size floats).
template <class M>
concept decoding_model = requires(M& model, token_id token, float* logits) {
    { M::vocab_size } -> std::convertible_to<std::size_t>;
    { model.decode_step(token, logits) } -> std::same_as<status>;
};

/// ... that can also take a whole prompt at once (otherwise the loop feeds it token by token).
template <class M>
concept prefilling_model = decoding_model<M> && requires(M& model, const token_id* tokens, std::size_t n,
                                                          float* logits) {
    { model.prefill(tokens, n, logits) } -> std::same_as<status>;
};

/// A stop token no vocabulary holds: generate until the length limit.
inline constexpr token_id no_stop_token = std::numeric_limits<token_id>::max();

/// When generation stops: after a token budget, or on a stop token.
struct generation_options {
    std::size_t max_new_tokens = 0;       ///< the budget of sampled tokens (a stop token counts)
    token_id stop_token = no_stop_token;  ///< e.g. eos_token (2) or llama2.c's BOS-as-separator (1)
};

/// What happened, filled in whether or not the loop ends with an error.
struct generation_report {
    std::size_t generated = 0;      ///< tokens sampled (and passed to the callback), stop token excluded
    bool stopped_on_token = false;  ///< the stop token was sampled
    bool stopped_by_callback = false;  ///< the callback returned false
};

namespace detail {
template <class M>
[[nodiscard]] status feed_prompt(M& model, const token_id* prompt, std::size_t n, float* logits) noexcept {
    if constexpr (prefilling_model<M>) {
        return model.prefill(prompt, n, logits);
    } else {
        for (std::size_t i = 0; i < n; ++i)
            if (const status s = model.decode_step(prompt[i], logits); s != status::ok) return s;
        return status::ok;
    }
}
}  // namespace detail

/// Appends `prompt` at the model's current position (reset the model first for a fresh start),
/// then repeats: sample the next token from `logits`; stop if it is the stop token; call
/// on_token(step, token, logits) with the logits it was drawn from (a callback returning bool
/// stops the loop by returning false); stop if the budget is spent; else decode_step(token).
/// The last sampled token is not fed to the model, so generating n tokens costs n - 1 decode steps.
/// Returns the first non-ok status of prefill, decode_step (e.g. cache_full) or the sampler;
/// invalid_argument for a null logits buffer or prompt, invalid_length for an empty prompt.
/// logits: vocab_size floats of scratch owned by the caller.
template <decoding_model Model, std::size_t Vocab, class OnToken>
[[nodiscard]] status generate(Model& model, const token_id* prompt, std::size_t prompt_length,
                              sampler<Vocab>& token_sampler, const generation_options& options, float* logits,
                              OnToken&& on_token, generation_report& report) noexcept {
    static_assert(Vocab == static_cast<std::size_t>(Model::vocab_size),
                  "ctattn: the sampler's vocabulary must match the model's vocab_size");
    static_assert(std::is_invocable_v<OnToken&, std::size_t, token_id, const float*>,
                  "ctattn: on_token must be callable as on_token(step, token, logits)");
    report = generation_report{};
    if (prompt == nullptr || logits == nullptr) return status::invalid_argument;
    if (prompt_length == 0) return status::invalid_length;  // no position to predict from
    if (const status s = detail::feed_prompt(model, prompt, prompt_length, logits); s != status::ok) return s;

    for (std::size_t step = 0; step < options.max_new_tokens; ++step) {
        token_id next = 0;
        if (const status s = token_sampler.sample(logits, next); s != status::ok) return s;
        if (next == options.stop_token) {
            report.stopped_on_token = true;
            return status::ok;
        }
        ++report.generated;
        using callback_result = std::invoke_result_t<OnToken&, std::size_t, token_id, const float*>;
        if constexpr (std::is_convertible_v<callback_result, bool>) {
            if (!static_cast<bool>(on_token(step, next, static_cast<const float*>(logits)))) {
                report.stopped_by_callback = true;
                return status::ok;
            }
        } else {
            on_token(step, next, static_cast<const float*>(logits));
        }
        if (step + 1 == options.max_new_tokens) break;
        if (const status s = model.decode_step(next, logits); s != status::ok) return s;
    }
    return status::ok;
}

}  // namespace ctattn
