// SPDX-License-Identifier: Apache-2.0
// Firmware test (Cortex-M7, built from tests/embedded/meson.build): text from a model trained by
// ctattn, generated on the core from weights in flash. At build time the build machine compiles
// and runs examples/train_chars on seed 000; it writes the trained weights as a ctattn blob
// (PREFIX.ctw) and a llama2.c checkpoint, the byte vocabulary, and the text the host sampled
// (16 prompt bytes + 80 sampled, temperature 0.8, seed 1). Then:
//   1. tools/ctattn_gen.py turns the checkpoint into the generated C API and its weights header
//      (a constant array, flash): ctattn_trained_chars_init / prefill / decode_step give the
//      logits, ctattn::sampler draws the bytes.
//   2. the blob is linked into flash (.incbin) and checked by blob::validate (header, table,
//      configuration hash, CRC32s, finiteness); blob::view reads its payload in place and the
//      library's decoder, sampler and generate produce the text.
// Both must print exactly the host's text. RAM holds the KV caches and scratch only.
#include <cstddef>
#include <cstdint>

#include <ctattn/text/generate.hpp>
#include <ctattn/model/decoder.hpp>
#include <ctattn/io/blob.hpp>
#include <ctattn/text/sample.hpp>

#include "check.hpp"
#include "ctattn_trained_chars.h"
#include "ctattn_trained_chars_config.hpp"
#include "print.hpp"

asm(".section .rodata.chars_model, \"a\"\n"
    ".balign 64\n"
    ".global chars_blob_begin\nchars_blob_begin:\n.incbin \"" CTATTN_CHARS_PREFIX ".ctw\"\n"
    ".global chars_blob_end\nchars_blob_end:\n"
    ".global chars_vocab_begin\nchars_vocab_begin:\n.incbin \"" CTATTN_CHARS_PREFIX ".vocab\"\n"
    ".global chars_vocab_end\nchars_vocab_end:\n"
    ".global chars_sample_begin\nchars_sample_begin:\n.incbin \"" CTATTN_CHARS_PREFIX ".sample\"\n"
    ".global chars_sample_end\nchars_sample_end:\n"
    ".previous\n");
extern "C" const unsigned char chars_blob_begin[], chars_blob_end[];
extern "C" const unsigned char chars_vocab_begin[], chars_vocab_end[];
extern "C" const unsigned char chars_sample_begin[], chars_sample_end[];

namespace {
namespace gen = ctattn_gen::trained_chars;
using namespace ctattn;
constexpr std::size_t vocab_capacity = gen::config::vocab, prompt_length = 16;
constexpr std::size_t max_text = gen::config::seq_capacity;
}  // namespace

constinit ctattn_trained_chars_state chars_state{};  // RAM: the C API's KV cache and scratch
constinit gen::decoder chars_view_decoder{};         // RAM: the blob path's KV cache and scratch

namespace {
constinit sampler<vocab_capacity> chars_sampler{sampling_params{0.8f, 0, 1.0f}, 1};
constinit float logits[vocab_capacity]{};
constinit char text[max_text + 1]{};

std::size_t vocab() { return std::size_t(chars_vocab_end - chars_vocab_begin); }
std::size_t host_bytes() { return std::size_t(chars_sample_end - chars_sample_begin); }
char byte_of(token_id t) { return t < vocab() ? char(chars_vocab_begin[t]) : '?'; }

// The host text's first 16 bytes as token ids (their places in the vocabulary); false if one is missing.
bool prompt_ids(token_id* prompt) {
    for (std::size_t i = 0; i < prompt_length; ++i) {
        std::size_t id = 0;
        while (id < vocab() && chars_vocab_begin[id] != chars_sample_begin[i]) ++id;
        if (id == vocab()) return false;
        prompt[i] = token_id(id);
    }
    return true;
}

bool same_as_host(std::size_t n) {
    if (n != host_bytes()) return false;
    for (std::size_t i = 0; i < n; ++i)
        if (text[i] != char(chars_sample_begin[i])) return false;
    return true;
}

// Path 1: the generated C API over the generator's flash array; the same loop as ctattn::generate.
bool run_c_api(const token_id* prompt, std::size_t& n) {
    n = 0;
    if (ctattn_trained_chars_init(&chars_state) != CTATTN_TRAINED_CHARS_OK) return false;
    if (ctattn_trained_chars_prefill(&chars_state, prompt, prompt_length, logits) != CTATTN_TRAINED_CHARS_OK)
        return false;
    for (; n < prompt_length; ++n) text[n] = char(chars_sample_begin[n]);
    chars_sampler.reseed(1);
    const std::size_t new_bytes = host_bytes() - prompt_length;
    for (std::size_t step = 0; step < new_bytes; ++step) {
        token_id next = 0;
        if (chars_sampler.sample(logits, next) != status::ok) return false;
        text[n++] = byte_of(next);
        if (step + 1 < new_bytes &&
            ctattn_trained_chars_decode_step(&chars_state, next, logits) != CTATTN_TRAINED_CHARS_OK)
            return false;
    }
    text[n] = '\0';
    return true;
}

// Path 2: the validated blob in flash, read in place through a view.
status run_blob(const token_id* prompt, std::size_t& n) {
    n = 0;
    model_weights_view<gen::config> weights{};
    const std::size_t size = std::size_t(chars_blob_end - chars_blob_begin);
    if (const status s = blob::view<gen::config>(chars_blob_begin, size, weights); s != status::ok) return s;
    chars_view_decoder.attach(weights);
    chars_view_decoder.reset();
    chars_sampler.reseed(1);
    for (; n < prompt_length; ++n) text[n] = char(chars_sample_begin[n]);
    generation_options options;
    options.max_new_tokens = host_bytes() - prompt_length;
    options.stop_token = token_id(vocab_capacity);  // never sampled
    generation_report report;
    const status s = generate(chars_view_decoder, prompt, prompt_length, chars_sampler, options, logits,
                              [&](std::size_t, token_id t, const float*) { text[n++] = byte_of(t); }, report);
    text[n] = '\0';
    return s;
}

int run() {
    embedded::checker check;
    embedded::print("trained char model: blob ", std::size_t(chars_blob_end - chars_blob_begin),
                    " bytes and generated weights ", std::size_t(CTATTN_TRAINED_CHARS_WEIGHTS_FLOATS * 4),
                    " bytes in flash, ", vocab(), " byte tokens; RAM: C API state ", sizeof(chars_state),
                    " bytes, view decoder ", sizeof(chars_view_decoder), " bytes\n");
    check.is_true("the host text has a prompt and fits the context",
                  host_bytes() > prompt_length && host_bytes() <= max_text);
    token_id prompt[prompt_length] = {};
    check.is_true("every prompt byte is in the vocabulary", prompt_ids(prompt));

    std::size_t n = 0;
    check.is_true("the generated C API runs from its flash weights", run_c_api(prompt, n));
    embedded::print("C API: [", text, "]\n");
    check.is_true("the generated C API prints the host's text byte for byte", same_as_host(n));

    const status s = run_blob(prompt, n);
    embedded::print("blob::validate + blob::view: ", to_string(s), "\n");
    check.is_true("the blob validates and generates", s == status::ok);
    embedded::print("blob:  [", text, "]\n");
    check.is_true("the blob's weights print the host's text byte for byte", same_as_host(n));
    return embedded::finish(check, "trained char model", CTATTN_TRAINED_CHARS_WEIGHTS_FLOATS * 4,
                            sizeof(chars_state) + sizeof(chars_view_decoder), 0);
}
}  // namespace

int firmware_main() { return run(); }
