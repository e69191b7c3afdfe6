// SPDX-License-Identifier: Apache-2.0
// Firmware test: a small llama-style language model (2 layers, d_model 32, 4 heads sharing 2 K/V
// heads, RoPE, SwiGLU, RMSNorm; the PyTorch reference case llama_v64_s10_e32_h4_kv2_l2 compiled in
// by tools/embed_golden.py) run the way a device runs one: weights as a constexpr object in flash,
// a decoder (KV cache + one row of scratch) in .bss, a prompt prefilled, then one decode step per
// token. Checks, each printed as pass/FAIL:
//   prefill of a 4-token prompt   logits after the prompt  vs PyTorch's logits row 3
//   decode steps 4..9             each step's logits        vs PyTorch's rows 4..9
//   full-sequence forward         all 10 rows of logits     vs PyTorch
//   run-time errors               cache_full, invalid_token; logits and cache untouched
// firmware_main() returns the number of failures; startup.cpp turns it into QEMU's exit status.
#include <cstddef>

#include <ctattn/model/footprint.hpp>
#include <ctattn/model/decoder.hpp>
#include <ctattn/model/language_model.hpp>

#include CTATTN_GOLDEN_HEADER

#include "check.hpp"
#include "golden_llama_model.hpp"
#include "print.hpp"
#include "stack.hpp"

namespace {

using namespace ctattn;
using config = golden_llama::config;
using arch = simd::default_arch;
using model = language_model<config, arch>;
using model_decoder = decoder<config, owned_weights, arch>;
using footprint = ctattn::footprint<config>;

constexpr std::size_t vocab = config::vocab;
constexpr std::size_t seq = config::seq_capacity;
constexpr std::size_t prompt_length = 4;

static_assert(ctattn::fits<config>(CTATTN_BOARD_RAM_BYTES, CTATTN_BOARD_FLASH_BYTES));

}  // namespace

// Named, external objects so tools/footprint.py can read their sizes from the symbol table;
// constinit: zeros in .bss by constant initialisation, never a static constructor.
extern constexpr model_weights<config> model_weights_rom = golden_llama::make_weights();  // flash
constinit model_decoder model_state{};                      // RAM: KV cache + row scratch
constinit float model_logits[vocab]{};                      // RAM: one row of logits
constinit model::workspace_type model_forward_workspace{};  // RAM: test-only full forward
constinit float model_forward_logits[seq * vocab]{};        // RAM: test-only (seq, vocab)

namespace {

token_id golden_token(std::size_t p) { return static_cast<token_id>(golden::tokens[p]); }

// Logits pass through 2 layers of float attention and SwiGLU and a 32-term classifier; the host
// test of the same case (tests/model/test_golden_lm.cpp) bounds the error by
// 2e-4 * |want| + 2e-4 * max|want|. Here max|want| of a row is folded into the absolute term.
constexpr double logits_rtol = 2e-4;
double logits_atol(const float* want, std::size_t n) {
    double largest = 0.0;
    for (std::size_t i = 0; i < n; ++i) largest = want[i] > largest ? want[i] : (-want[i] > largest ? -want[i] : largest);
    return 2e-4 * largest;
}

int run() {
    embedded::checker check;
    embedded::print("case ", golden::case_name, ": vocab ", vocab, ", layers ", config::layers, ", d_model ",
                    config::d_model, ", heads ", std::size_t(golden::heads), ", kv_heads ",
                    std::size_t(golden::kv_heads), ", d_ff ", std::size_t(golden::hidden), ", capacity ", seq,
                    ", arch ", simd::arch_name<arch>(), "\n");

    // --- prefill a prompt, then decode one token at a time through the KV cache ---
    model_state.attach(model_weights_rom);
    token_id prompt[prompt_length];
    for (std::size_t p = 0; p < prompt_length; ++p) prompt[p] = golden_token(p);
    check.is_true("prefill of a 4-token prompt returns ok",
                  model_state.prefill(prompt, prompt_length, model_logits) == status::ok);
    const float* want = golden::logits + (prompt_length - 1) * vocab;
    check.close("logits after the prompt vs PyTorch row 3", model_logits, want, vocab, logits_atol(want, vocab),
                logits_rtol);
    bool steps_ok = true;
    double worst_step_ratio = 0.0, worst_step_error = 0.0;
    for (std::size_t p = prompt_length; p < seq; ++p) {
        steps_ok = steps_ok && model_state.decode_step(golden_token(p), model_logits) == status::ok;
        want = golden::logits + p * vocab;
        const double atol = logits_atol(want, vocab);
        for (std::size_t i = 0; i < vocab; ++i) {
            const double err = model_logits[i] > want[i] ? model_logits[i] - want[i] : want[i] - model_logits[i];
            const double ratio = err / (atol + logits_rtol * (want[i] < 0 ? -want[i] : want[i]));
            if (!(ratio <= worst_step_ratio)) worst_step_ratio = ratio, worst_step_error = err;
        }
    }
    check.is_true("decode steps 4..9 return ok", steps_ok);
    check.bounded("decode-step logits vs PyTorch rows 4..9 (bound 2e-4 |ref| + 2e-4 max|row|)", worst_step_error,
                  worst_step_ratio);

    // --- errors: a full cache and a token outside the vocabulary change nothing ---
    for (std::size_t i = 0; i < vocab; ++i) model_logits[i] = 7.0f;
    check.is_true("decode_step on a full cache gives cache_full", model_state.decode_step(1, model_logits) ==
                                                                        status::cache_full);
    model_state.reset();
    check.is_true("decode_step with token id = vocab gives invalid_token",
                  model_state.decode_step(token_id(vocab), model_logits) == status::invalid_token);
    bool untouched = model_state.position() == 0;
    for (std::size_t i = 0; i < vocab; ++i) untouched = untouched && model_logits[i] == 7.0f;
    check.is_true("logits and cache are untouched after the errors", untouched);

    // --- the whole sequence at once ---
    token_id tokens[seq];
    for (std::size_t p = 0; p < seq; ++p) tokens[p] = golden_token(p);
    check.is_true("full-sequence forward returns ok",
                  model::forward(model_weights_rom, tokens, seq, model_forward_logits, model_forward_workspace) ==
                      status::ok);
    check.close("full-sequence logits (10 x 64) vs PyTorch", model_forward_logits, golden::logits, seq * vocab,
                logits_atol(golden::logits, seq * vocab), logits_rtol);

    return embedded::finish(check, golden::case_name, footprint::flash_bytes, footprint::ram_bytes, 0);
}

}  // namespace

int firmware_main() { return run(); }
