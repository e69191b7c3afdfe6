// Firmware test (Cortex-M, built from tests/embedded/meson.build): text from a model trained by
// ctattn, generated on the core. At build time the build machine runs examples/train_chars on
// seed 000 and writes the trained llama2.c checkpoint, its byte vocabulary and the text the host
// sampled (16 prompt bytes + 80 sampled bytes, temperature 0.8, seed 1). The three files are
// linked into flash with .incbin; llama2c::load puts the weights in RAM; the decoder and sampler
// of the library generate with the same prompt, temperature and seed; the test passes when the
// core prints exactly the host's text.
// The configuration must be examples/train_chars.cpp's (llama2c::load rejects any other shape).
#include <cstddef>
#include <cstdint>

#include <ctattn/footprint.hpp>
#include <ctattn/generate.hpp>
#include <ctattn/kv_cache.hpp>
#include <ctattn/llama2c.hpp>
#include <ctattn/sample.hpp>

#include "check.hpp"
#include "print.hpp"

asm(".section .rodata.chars_model, \"a\"\n"
    ".balign 4\n"
    ".global chars_checkpoint_begin\nchars_checkpoint_begin:\n.incbin \"" CTATTN_CHARS_PREFIX ".bin\"\n"
    ".global chars_checkpoint_end\nchars_checkpoint_end:\n"
    ".global chars_vocab_begin\nchars_vocab_begin:\n.incbin \"" CTATTN_CHARS_PREFIX ".vocab\"\n"
    ".global chars_vocab_end\nchars_vocab_end:\n"
    ".global chars_sample_begin\nchars_sample_begin:\n.incbin \"" CTATTN_CHARS_PREFIX ".sample\"\n"
    ".global chars_sample_end\nchars_sample_end:\n"
    ".previous\n");
extern "C" const unsigned char chars_checkpoint_begin[], chars_checkpoint_end[];
extern "C" const unsigned char chars_vocab_begin[], chars_vocab_end[];
extern "C" const unsigned char chars_sample_begin[], chars_sample_end[];

namespace {
using namespace ctattn;
constexpr std::size_t vocab_capacity = 128, window = 96, prompt_length = 16;
using char_block = block_config<attention_config<48, 4, 2, window, false, causal_mask>, ffn_config<48, swiglu, 128>,
                                rms_norm<eps_1e_minus<5>>, pre_norm>;
using char_config =
    stacked_model_config<vocab_capacity, 3, char_block, rotary_positions<10000>, rms_norm<eps_1e_minus<5>>, tied_head>;
}  // namespace

constinit model_weights<char_config> chars_weights{};  // RAM (loaded from the checkpoint in flash)
constinit decoder<char_config> chars_decoder{};         // RAM: KV cache + row scratch

namespace {
constinit sampler<vocab_capacity> chars_sampler{sampling_params{0.8f, 0, 1.0f}, 1};
constinit float logits[vocab_capacity]{};
constinit char text[window + 1]{};

int run() {
    embedded::checker check;
    const std::size_t checkpoint_bytes = std::size_t(chars_checkpoint_end - chars_checkpoint_begin);
    const std::size_t vocab = std::size_t(chars_vocab_end - chars_vocab_begin);
    const std::size_t host_bytes = std::size_t(chars_sample_end - chars_sample_begin);
    embedded::print("trained char model: checkpoint ", checkpoint_bytes, " bytes in flash, ", vocab,
                    " byte tokens, weights ", sizeof(chars_weights), " bytes in RAM\n");
    check.is_true("the trained checkpoint loads",
                  llama2c::load<char_config>(chars_checkpoint_begin, checkpoint_bytes, chars_weights) == status::ok);
    check.is_true("the host text has a prompt", host_bytes > prompt_length && host_bytes <= window);

    // The prompt: the host text's first 16 bytes as token ids (their places in the vocabulary).
    token_id prompt[prompt_length] = {};
    bool prompt_ok = true;
    for (std::size_t i = 0; i < prompt_length; ++i) {
        std::size_t id = 0;
        while (id < vocab && chars_vocab_begin[id] != chars_sample_begin[i]) ++id;
        prompt_ok = prompt_ok && id < vocab;
        prompt[i] = token_id(id);
        text[i] = char(chars_sample_begin[i]);
    }
    check.is_true("every prompt byte is in the vocabulary", prompt_ok);

    chars_decoder.attach(chars_weights);
    generation_options gen;
    gen.max_new_tokens = host_bytes - prompt_length;
    gen.stop_token = token_id(vocab_capacity);  // never sampled
    generation_report report;
    std::size_t n = prompt_length;
    const status s = generate(chars_decoder, prompt, prompt_length, chars_sampler, gen, logits,
                              [&](std::size_t, token_id t, const float*) {
                                  text[n++] = t < vocab ? char(chars_vocab_begin[t]) : '?';
                              },
                              report);
    text[n] = '\0';
    check.is_true("generation returns ok", s == status::ok);
    embedded::print("device: [", text, "]\n");
    bool same = n == host_bytes;
    for (std::size_t i = 0; i < n && same; ++i) same = text[i] == char(chars_sample_begin[i]);
    check.is_true("the core prints the host's text byte for byte", same);
    return embedded::finish(check, "trained char model", footprint<char_config>::flash_bytes,
                           footprint<char_config>::ram_bytes, 0);
}
}  // namespace

int firmware_main() { return run(); }
