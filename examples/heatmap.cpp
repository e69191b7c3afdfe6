// SPDX-License-Identifier: Apache-2.0
// Attention heatmaps of a traced run: greedy decoding through the KV cache with an observer
// (layers/trace.hpp) that records every head's weights at every step, then one SVG per head and one grid
// per layer (text/heatmap_svg.hpp).
//
//   heatmap OUT_DIR                              the built-in model (tiny_lm's: a sliding-window
//                                                layer below a causal one), 24 steps
//   heatmap OUT_DIR stories260K.bin [tok512.bin] the llama2.c checkpoint, 64 steps from BOS;
//                                                labels are token ids unless a tokenizer is given
//   options: -n STEPS (at most 64)   --forward: trace language_model::forward over the decoded
//            tokens instead of the decode steps   --no-tooltips: smaller files
//
// Files: OUT_DIR/layer<L>_head<H>.svg and OUT_DIR/layer<L>.svg (all heads of layer L).
// No heap: weights, cache, recorder and file buffer are static objects.
#include <ctattn/model/decoder.hpp>
#include <ctattn/io/llama2c.hpp>
#include <ctattn/text/heatmap_svg.hpp>
#include <ctattn/text/tokenizer.hpp>
#include <ctattn/layers/trace.hpp>

#include "example_models.hpp"

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string_view>

namespace {

using namespace ctattn;
using namespace ctattn_examples;

// ---- the two models: example_models.hpp (as in tiny_lm) -------------------------------------

constexpr std::size_t max_positions = 64, max_layers = 5, max_heads = 8;

// ---- the observer: every head's weights row at every traced position ------------------------

struct weight_recorder {
    float weights[max_layers][max_heads][max_positions][max_positions];  // (layer, head, query, key)
    bool visible[max_layers][max_positions][max_positions];              // the layer's mask
    std::size_t layers_seen = 0, heads_seen = 0;

    template <class Config>
    void on_attention(const attention_trace<Config>& t) {
        static_assert(Config::heads <= max_heads, "heatmap: more heads than the recorder holds");
        if (t.layer >= max_layers || t.n_keys > max_positions) return;
        layers_seen = t.layer + 1 > layers_seen ? t.layer + 1 : layers_seen;
        heads_seen = Config::heads;
        for (std::size_t r = 0; r < t.rows && t.pos0 + r < max_positions; ++r) {
            const std::size_t pos = t.pos0 + r;
            const key_range shown = t.visible(r);
            for (std::size_t j = 0; j < max_positions; ++j) visible[t.layer][pos][j] = j >= shown.begin && j < shown.end;
            for (std::size_t h = 0; h < Config::heads; ++h) t.weights(h, r, weights[t.layer][h][pos]);
        }
    }
};

weight_recorder recorder;
model_weights<stories_config> stories_weights;
model_weights<tiny_config> tiny_weights;
decoder<stories_config> stories_decoder;
decoder<tiny_config> tiny_decoder;
tokenizer<512, 8192> stories_tokenizer;
unsigned char file_buffer[max_file_bytes];

status read_file(const char* path, std::size_t& size) {
    return ctattn_examples::read_file(path, file_buffer, max_file_bytes, size);
}

// ---- decoding, traced ------------------------------------------------------------------------

token_id tokens[max_positions];

// Greedy decoding from BOS: every step feeds one token, traced, and picks the argmax of its logits.
// With trace_forward, the decode steps run untraced and language_model::forward over the same
// tokens is traced instead (the two give the same weights; tests/layers/test_trace.cpp checks it).
template <class Config>
status decode(decoder<Config>& dec, const model_weights<Config>& w, std::size_t steps, bool trace_forward) {
    static float logits[Config::vocab];
    dec.attach(w);
    token_id next = bos_token;
    for (std::size_t step = 0; step < steps; ++step) {
        tokens[step] = next;
        const status s = trace_forward ? dec.decode_step(next, logits) : dec.decode_step(next, logits, &recorder);
        if (s != status::ok) return s;
        next = 0;
        for (token_id t = 1; t < Config::vocab; ++t) next = logits[t] > logits[next] ? t : next;
    }
    if (!trace_forward) return status::ok;
    static model_workspace<Config> ws;
    static float all_logits[Config::seq_capacity * Config::vocab];
    return language_model<Config>::forward(w, tokens, steps, all_logits, ws, &recorder);
}

// ---- writing ---------------------------------------------------------------------------------

struct file_sink {
    std::FILE* f;
    void operator()(const char* s, std::size_t n) const { std::fwrite(s, 1, n, f); }
};

struct recorded_visibility {
    std::size_t layer;
    bool operator()(std::size_t query_pos, std::size_t key_pos, std::size_t) const noexcept {
        return recorder.visible[layer][query_pos][key_pos];
    }
};

bool write_svg(const char* path, const text::heatmap_panel* panels, std::size_t n, std::size_t columns,
               const text::heatmap_labels& labels, std::size_t layer, const char* title, bool tooltips) {
    std::FILE* f = std::fopen(path, "wb");
    if (f == nullptr) {
        std::fprintf(stderr, "cannot write %s\n", path);
        return false;
    }
    text::write_heatmap_svg(file_sink{f}, panels, n, columns, labels, recorded_visibility{layer}, title, tooltips);
    return std::fclose(f) == 0;
}

bool write_all(const char* dir, const char* model_name, std::size_t steps, const text::heatmap_labels& labels,
               bool tooltips) {
    static char titles[max_heads][64];
    char path[1024], title[160];
    std::size_t files = 0;
    for (std::size_t layer = 0; layer < recorder.layers_seen; ++layer) {
        text::heatmap_panel panels[max_heads];
        for (std::size_t h = 0; h < recorder.heads_seen; ++h) {
            std::snprintf(titles[h], sizeof titles[h], "layer %zu head %zu", layer, h);
            panels[h] = {&recorder.weights[layer][h][0][0], steps, steps, max_positions, 0, titles[h]};
            std::snprintf(path, sizeof path, "%s/layer%zu_head%zu.svg", dir, layer, h);
            std::snprintf(title, sizeof title, "%s, %zu tokens: layer %zu head %zu", model_name, steps, layer, h);
            if (!write_svg(path, &panels[h], 1, 1, labels, layer, title, tooltips)) return false;
            ++files;
        }
        std::snprintf(path, sizeof path, "%s/layer%zu.svg", dir, layer);
        std::snprintf(title, sizeof title, "%s, %zu tokens: layer %zu, all heads", model_name, steps, layer);
        if (!write_svg(path, panels, recorder.heads_seen, 4, labels, layer, title, tooltips)) return false;
        ++files;
    }
    std::printf("wrote %zu SVG files to %s (%zu layers x %zu heads, one grid per layer)\n", files, dir,
                recorder.layers_seen, recorder.heads_seen);
    return true;
}

}  // namespace

int main(int argc, char** argv) {
    const char* out_dir = nullptr;
    const char* model_path = nullptr;
    const char* tokenizer_path = nullptr;
    std::size_t steps = 0;
    bool trace_forward = false, tooltips = true;
    for (int i = 1; i < argc; ++i) {
        const std::string_view arg = argv[i];
        if (i + 1 < argc && arg == "-n")
            steps = std::strtoul(argv[++i], nullptr, 10);
        else if (arg == "--forward")
            trace_forward = true;
        else if (arg == "--no-tooltips")
            tooltips = false;
        else if (out_dir == nullptr)
            out_dir = argv[i];
        else if (model_path == nullptr)
            model_path = argv[i];
        else
            tokenizer_path = argv[i];
    }
    if (out_dir == nullptr) {
        std::fprintf(stderr, "usage: heatmap OUT_DIR [stories260K.bin [tok512.bin]] [-n STEPS] [--forward] "
                             "[--no-tooltips]\n");
        return 2;
    }
    if (steps == 0) steps = model_path != nullptr ? 64 : 24;
    if (steps > max_positions) steps = max_positions;
    const char* pass = trace_forward ? "language_model::forward" : "decode steps";

    if (model_path == nullptr) {
        build_tiny_model(tiny_weights);
        const status s = decode(tiny_decoder, tiny_weights, steps, trace_forward);
        std::printf("built-in model, %zu tokens greedy from BOS, traced %s: %s\n", steps, pass, to_string(s));
        if (s != status::ok) return 1;
        static char names[max_positions][16];
        static const char* words[max_positions];
        for (std::size_t p = 0; p < steps; ++p) {
            std::snprintf(names[p], sizeof names[p], "tok%u", unsigned(tokens[p]));
            words[p] = names[p];
        }
        return write_all(out_dir, "built-in model", steps, {words, nullptr}, tooltips) ? 0 : 1;
    }

    std::size_t size = 0;
    if (const status s = read_file(model_path, size); s != status::ok) {
        std::fprintf(stderr, "%s: %s\n", model_path, to_string(s));
        return 1;
    }
    if (const status s = llama2c::load<stories_config>(file_buffer, size, stories_weights); s != status::ok) {
        std::fprintf(stderr, "%s: %s (expected stories260K's shape)\n", model_path, to_string(s));
        return 1;
    }
    bool have_tokenizer = false;
    if (tokenizer_path != nullptr) {
        std::size_t tok_size = 0;
        const status read = read_file(tokenizer_path, tok_size);
        have_tokenizer = read == status::ok && stories_tokenizer.load(file_buffer, tok_size) == status::ok;
        std::printf("%s: %s\n", tokenizer_path,
                    have_tokenizer ? "loaded" : read != status::ok ? to_string(read) : "not a 512-piece llama2.c tokenizer");
    }
    const status s = decode(stories_decoder, stories_weights, steps, trace_forward);
    std::printf("stories260K, %zu tokens greedy from BOS, traced %s: %s\n", steps, pass, to_string(s));
    if (s != status::ok) return 1;
    std::printf("tokens:");
    for (std::size_t p = 0; p < steps; ++p) std::printf(" %u", unsigned(tokens[p]));
    std::printf("\n");
    if (!have_tokenizer) return write_all(out_dir, "stories260K", steps, {nullptr, tokens}, tooltips) ? 0 : 1;
    static char pieces[max_positions][24];
    static const char* words[max_positions];
    for (std::size_t p = 0; p < steps; ++p) {
        const std::string_view piece = stories_tokenizer.piece(tokens[p]);
        std::size_t n = 0;
        for (std::size_t c = 0; c < piece.size() && n + 1 < sizeof pieces[p]; ++c)
            pieces[p][n++] = piece[c] == '\n' ? ' ' : piece[c];
        pieces[p][n] = '\0';
        words[p] = pieces[p];
    }
    return write_all(out_dir, "stories260K", steps, {words, nullptr}, tooltips) ? 0 : 1;
}
