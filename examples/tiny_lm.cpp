// SPDX-License-Identifier: Apache-2.0
// A language model whose every shape is fixed at compile time, generating tokens through the KV
// cache (decoder::prefill / decode_step, driven by generate.hpp's loop and sample.hpp's sampler)
// and printing, at every step, the sampled token and the top candidates with their probabilities.
//
//   tiny_lm                                  a small built-in model with deterministic weights
//   tiny_lm stories260K.bin [tok512.bin]     the llama2.c checkpoint (and, if given, its tokenizer)
//   options after the paths: -n STEPS  -t TEMPERATURE  -k TOP_K  -s SEED
//
// No heap: weights, cache, sampler and the file buffer are static objects.
#include <ctattn/text/generate.hpp>
#include <ctattn/model/decoder.hpp>
#include <ctattn/io/llama2c.hpp>
#include <ctattn/text/sample.hpp>
#include <ctattn/text/tokenizer.hpp>

#include "example_models.hpp"

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string_view>

namespace {

using namespace ctattn;
using namespace ctattn_examples;

// ---- the two models (example_models.hpp) ---------------------------------------------------

model_weights<stories_config> stories_weights;
model_weights<tiny_config> tiny_weights;
decoder<stories_config> stories_decoder;
decoder<tiny_config> tiny_decoder;
sampler<512> stories_sampler{sampling_params{}, 0};
sampler<32> tiny_sampler{sampling_params{}, 0};
tokenizer<512, 8192> stories_tokenizer;

unsigned char file_buffer[max_file_bytes];

status read_file(const char* path, std::size_t& size) {
    return ctattn_examples::read_file(path, file_buffer, max_file_bytes, size);
}

struct options {
    std::size_t steps = 24;
    sampling_params sampling{0.0f, 0, 1.0f};  // greedy unless -t is given
    std::uint64_t seed = 7;
};

// Prints one generation step: the sampled token and the three most probable candidates.
template <class Decoder, std::size_t Vocab, class Namer>
void print_step(std::size_t step, token_id token, const float* logits, Namer&& name_of) {
    static float probs[Vocab];
    if (const status s = Decoder::model_type::probabilities(logits, probs); s != status::ok) {
        std::printf("step %2zu  -> %4u %-12s  (no probabilities: %s)\n", step, unsigned(token), name_of(token), to_string(s));
        return;
    }
    token_id best[3] = {};
    for (std::size_t rank = 0; rank < 3; ++rank) {  // three argmax passes, skipping earlier picks
        float best_p = -1.0f;
        for (token_id t = 0; t < Vocab; ++t) {
            bool taken = false;
            for (std::size_t r = 0; r < rank; ++r) taken = taken || best[r] == t;
            if (!taken && probs[t] > best_p) best_p = probs[t], best[rank] = t;
        }
    }
    std::printf("step %2zu  -> %4u %-12s  top:", step, unsigned(token), name_of(token));
    for (token_id b : best) std::printf("  %4u %-10s %.3f", unsigned(b), name_of(b), double(probs[b]));
    std::printf("\n");
}

template <class Decoder, std::size_t Vocab, class Namer>
int run(Decoder& dec, sampler<Vocab>& token_sampler, const options& opt, Namer&& name_of) {
    static float logits[Vocab];
    const token_id prompt[1] = {bos_token};
    if (token_sampler.set_params(opt.sampling) != status::ok) {
        std::printf("invalid sampling parameters\n");
        return 1;
    }
    token_sampler.reseed(opt.seed);
    generation_options gen;
    gen.max_new_tokens = opt.steps < Decoder::capacity ? opt.steps : Decoder::capacity - 1;
    generation_report report;
    const status s = generate(
        dec, prompt, 1, token_sampler, gen, logits,
        [&](std::size_t step, token_id token, const float* step_logits) {
            print_step<Decoder, Vocab>(step, token, step_logits, name_of);
        },
        report);
    std::printf("%zu tokens generated, %zu positions in the KV cache, status: %s\n", report.generated, dec.position(),
                to_string(s));
    return s == status::ok ? 0 : 1;
}

}  // namespace

int main(int argc, char** argv) {
    const char* model_path = nullptr;
    const char* tokenizer_path = nullptr;
    options opt;
    for (int i = 1; i < argc; ++i) {
        const std::string_view arg = argv[i];
        if (i + 1 < argc && arg == "-n") {
            opt.steps = std::strtoul(argv[++i], nullptr, 10);
        } else if (i + 1 < argc && arg == "-t") {
            opt.sampling.temperature = std::strtof(argv[++i], nullptr);
        } else if (i + 1 < argc && arg == "-k") {
            opt.sampling.top_k = std::strtoul(argv[++i], nullptr, 10);
        } else if (i + 1 < argc && arg == "-s") {
            opt.seed = std::strtoull(argv[++i], nullptr, 10);
        } else if (model_path == nullptr) {
            model_path = argv[i];
        } else {
            tokenizer_path = argv[i];
        }
    }
    std::printf("sampling: temperature %.2f, top-k %zu, seed %llu%s\n", double(opt.sampling.temperature),
                opt.sampling.top_k, static_cast<unsigned long long>(opt.seed),
                opt.sampling.temperature == 0.0f ? " (greedy)" : "");

    if (model_path == nullptr) {
        build_tiny_model(tiny_weights);
        std::printf("built-in model: vocab %zu, d_model %zu, %zu layers (sliding window 8, then causal), "
                    "weights %zu bytes, decoder %zu bytes\n",
                    tiny_config::vocab, tiny_config::d_model, tiny_config::layers, sizeof tiny_weights,
                    sizeof tiny_decoder);
        tiny_decoder.attach(tiny_weights);
        static char names[32][16];
        return run(tiny_decoder, tiny_sampler, opt, [](token_id t) -> const char* {
            std::snprintf(names[t % 32], sizeof names[0], "tok%u", unsigned(t));
            return names[t % 32];
        });
    }

    std::size_t size = 0;
    if (const status s = read_file(model_path, size); s != status::ok) {
        std::printf("%s: %s\n", model_path, to_string(s));
        return 1;
    }
    if (const status s = llama2c::load<stories_config>(file_buffer, size, stories_weights); s != status::ok) {
        std::printf("%s: %s (expected a llama2.c checkpoint with dim 64, hidden 172, 5 layers, 8/4 heads, "
                    "vocab 512, tied head)\n", model_path, to_string(s));
        return 1;
    }
    std::printf("%s: loaded, %zu bytes of weights\n", model_path, sizeof stories_weights);
    bool have_tokenizer = false;
    if (tokenizer_path != nullptr) {
        std::size_t tok_size = 0;
        status s = read_file(tokenizer_path, tok_size);
        if (s == status::ok) s = stories_tokenizer.load(file_buffer, tok_size);
        have_tokenizer = s == status::ok;
        std::printf("%s: %s\n", tokenizer_path, have_tokenizer ? "loaded" : to_string(s));
    }
    stories_decoder.attach(stories_weights);
    static char piece[16][24];
    static std::size_t next_slot = 0;
    return run(stories_decoder, stories_sampler, opt, [&](token_id t) -> const char* {
        char* out = piece[next_slot++ % 16];
        if (!have_tokenizer) {
            std::snprintf(out, sizeof piece[0], "#%u", unsigned(t));
            return out;
        }
        std::string_view text = stories_tokenizer.piece(t);
        std::size_t n = 0;
        for (char c : text) {  // printable form: newlines as \n, at most 20 characters
            if (n + 3 >= sizeof piece[0]) break;
            if (c == '\n') {
                out[n++] = '\\';
                out[n++] = 'n';
            } else {
                out[n++] = c;
            }
        }
        out[n] = '\0';
        return out;
    });
}
