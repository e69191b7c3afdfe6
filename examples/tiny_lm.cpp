// A language model whose every shape is fixed at compile time, generating tokens through the KV
// cache (decoder::prefill / decode_step, driven by generate.hpp's loop and sample.hpp's sampler)
// and printing, at every step, the sampled token and the top candidates with their probabilities.
//
//   tiny_lm                                  a small built-in model with deterministic weights
//   tiny_lm stories260K.bin [tok512.bin]     the llama2.c checkpoint (and, if given, its tokenizer)
//   options after the paths: -n STEPS  -t TEMPERATURE  -k TOP_K  -s SEED
//
// No heap: weights, cache, sampler and the file buffer are static objects.
#include <ctattn/generate.hpp>
#include <ctattn/kv_cache.hpp>
#include <ctattn/llama2c.hpp>
#include <ctattn/sample.hpp>
#include <ctattn/tokenizer.hpp>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string_view>

namespace {

using namespace ctattn;

// ---- the two models -----------------------------------------------------------------------

// stories260K: dim 64, 8 heads sharing 4 KV heads, SwiGLU 172, 5 layers, vocab 512, tied head.
// Capacity 256 positions (the checkpoint was trained for 512; the cache costs 5*2*256*32*4 bytes).
using stories_block = block_config<attention_config<64, 8, 4, 256, false, causal_mask>, ffn_config<64, swiglu, 172>,
                                   rms_norm<eps_1e_minus<5>>, pre_norm>;
using stories_config = stacked_model_config<512, 5, stories_block, rotary_positions<10000>, rms_norm<eps_1e_minus<5>>, tied_head>;

// The built-in model: two different layers in one Hana tuple, a sliding-window layer below a
// full causal one, both llama-style (RoPE, grouped-query attention, SwiGLU).
using local_block = block_config<attention_config<24, 4, 2, 48, false, sliding_window_mask<8>>,
                                 ffn_config<24, swiglu, 40>, rms_norm<eps_1e_minus<5>>, pre_norm>;
using global_block = block_config<attention_config<24, 4, 2, 48, false, causal_mask>, ffn_config<24, swiglu, 64>,
                                  rms_norm<eps_1e_minus<5>>, pre_norm>;
using tiny_config = model_config<32, rotary_positions<10000>, rms_norm<eps_1e_minus<5>>, untied_head<>, local_block, global_block>;

model_weights<stories_config> stories_weights;
model_weights<tiny_config> tiny_weights;
decoder<stories_config> stories_decoder;
decoder<tiny_config> tiny_decoder;
sampler<512> stories_sampler{sampling_params{}, 0};
sampler<32> tiny_sampler{sampling_params{}, 0};
tokenizer<512, 8192> stories_tokenizer;

constexpr std::size_t max_file_bytes = 1u << 21;  // 2 MiB: room for stories260K.bin (1,056,540 bytes)
unsigned char file_buffer[max_file_bytes];

// Deterministic weights for the built-in model: a fixed LCG, scaled like an initialised layer.
template <class M>
void fill(M& m, std::uint32_t& state, float scale, float centre = 0.0f) {
    for (std::size_t i = 0; i < M::size; ++i) {
        state = state * 1664525u + 1013904223u;
        m[i] = centre + scale * (float(state >> 8) / float(1u << 24) - 0.5f);
    }
}

void build_tiny_model() {
    std::uint32_t state = 2024u;
    fill(tiny_weights.embedding, state, 2.0f);
    hana::for_each(tiny_weights.layers, [&](auto& layer) {
        fill(layer.attention.wq, state, 0.7f);
        fill(layer.attention.wk, state, 0.7f);
        fill(layer.attention.wv, state, 0.7f);
        fill(layer.attention.wo, state, 0.7f);
        fill(layer.ffn.w1, state, 0.7f);
        fill(layer.ffn.w3, state, 0.7f);
        fill(layer.ffn.w2, state, 0.5f);
        fill(layer.attention_norm.gain, state, 0.2f, 1.0f);
        fill(layer.ffn_norm.gain, state, 0.2f, 1.0f);
    });
    fill(tiny_weights.final_norm.gain, state, 0.2f, 1.0f);
    fill(tiny_weights.head.w_out, state, 1.5f);
}

// A file that cannot be opened is status::file_not_found, so it is not reported as a format error.
status read_file(const char* path, std::size_t& size) {
    std::FILE* f = std::fopen(path, "rb");
    if (f == nullptr) return status::file_not_found;
    size = std::fread(file_buffer, 1, max_file_bytes, f);
    std::fclose(f);
    return status::ok;
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
    Decoder::model_type::probabilities(logits, probs);
    token_id best[3] = {};
    for (std::size_t rank = 0; rank < 3; ++rank) {  // three argmax passes, skipping earlier picks
        float best_p = -1.0f;
        for (token_id t = 0; t < Vocab; ++t) {
            bool taken = false;
            for (std::size_t r = 0; r < rank; ++r) taken = taken || best[r] == t;
            if (!taken && probs[t] > best_p) best_p = probs[t], best[rank] = t;
        }
    }
    std::printf("step %2zu  -> %4u %-12s  top:", step, token, name_of(token));
    for (token_id b : best) std::printf("  %4u %-10s %.3f", b, name_of(b), double(probs[b]));
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
        build_tiny_model();
        std::printf("built-in model: vocab %zu, d_model %zu, %zu layers (sliding window 8, then causal), "
                    "weights %zu bytes, decoder %zu bytes\n",
                    tiny_config::vocab, tiny_config::d_model, tiny_config::layers, sizeof tiny_weights,
                    sizeof tiny_decoder);
        tiny_decoder.attach(tiny_weights);
        static char names[32][16];
        return run(tiny_decoder, tiny_sampler, opt, [](token_id t) -> const char* {
            std::snprintf(names[t % 32], sizeof names[0], "tok%u", t);
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
            std::snprintf(out, sizeof piece[0], "#%u", t);
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
