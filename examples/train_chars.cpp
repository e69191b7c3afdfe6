// SPDX-License-Identifier: Apache-2.0
// A character-level language model trained by ctattn on a text file, then sampled, then written
// as a llama2.c checkpoint for the deploy tools (tools/ctattn_blob.py, tools/ctattn_gen.py).
//   vocabulary: the bytes the text contains, numbered in byte order (at most 128 of them)
//   model:      3 pre-norm llama blocks (RMSNorm, RoPE, 4 query heads on 2 KV heads, SwiGLU),
//               d_model 48, d_ff 128, a 96-byte context, tied embedding head
//   training:   AdamW on random 96-byte windows, every position predicting the next byte
// Everything (weights, gradients, AdamW moments, the tape) sits in static storage: no heap.
// Usage: train_chars TEXT [--steps N] [--batch B] [--lr X] [--seed S] [--sample N]
//                         [--temperature T] [--out PREFIX] [--check-loss X]
// --out writes PREFIX.ctw (the validated ctattn blob, include/ctattn/io/blob.hpp: payload =
// the weights image in the kernels' layout), PREFIX.bin (llama2.c checkpoint, matrices (out, in),
// for tools/ctattn_gen.py and llama2.c itself), PREFIX.vocab (byte of each token id) and
// PREFIX.sample (the 16-byte prompt and the sample: what a device must print), then reads both
// weight files back (llama2c::load; blob::validate + blob::view) and checks each samples the same text. --check-loss exits 1 unless the final loss is below X.
#include <ctattn/text/generate.hpp>
#include <ctattn/model/decoder.hpp>
#include <ctattn/io/llama2c.hpp>
#include <ctattn/io/blob.hpp>
#include <ctattn/model/weights_image.hpp>
#include <ctattn/base/random.hpp>
#include <ctattn/text/sample.hpp>
#include <ctattn/train/adamw.hpp>
#include <ctattn/train/model_backward.hpp>

#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string_view>

namespace {
using namespace ctattn;

constexpr std::size_t vocab_capacity = 128, d_model = 48, heads = 4, kv_heads = 2, d_ff = 128, layers = 3;
constexpr std::size_t window = 96;
using char_block = block_config<attention_config<d_model, heads, kv_heads, window, no_bias, causal_mask>,
                                ffn_config<d_model, swiglu, d_ff>, rms_norm<eps_1e_minus<5>>, pre_norm>;
using char_config =
    stacked_model_config<vocab_capacity, layers, char_block, rotary_positions<10000>, rms_norm<eps_1e_minus<5>>, tied_head>;
using trainer = train::model_training<char_config>;

constexpr std::size_t max_text = 1u << 20;
unsigned char text[max_text];
token_id ids[max_text];
std::size_t text_length = 0;
unsigned char byte_of[vocab_capacity];
token_id id_of[256];
std::size_t vocab = 0;

model_weights<char_config> weights, reloaded;
trainer::gradients_type gradients;
trainer::workspace_type workspace;
train::adamw<model_weights<char_config>> optimiser;
decoder<char_config> sampler_model;
decoder<char_config, viewed_weights, simd::default_arch, 1> view_model;
sampler<vocab_capacity> token_sampler{sampling_params{}, 0};
constexpr std::size_t checkpoint_capacity = llama2c::header_bytes + 4 * 200000;
unsigned char checkpoint[checkpoint_capacity];
using blob_table = blob::image_table<char_config>;
constexpr std::size_t blob_payload_offset =
    (blob::header_bytes + blob_table::count * blob::entry_bytes + blob::tensor_alignment - 1) / blob::tensor_alignment *
    blob::tensor_alignment;
constexpr std::size_t blob_file_bytes = blob_payload_offset + blob_table::payload_bytes;
alignas(64) unsigned char blob_bytes[blob_file_bytes];
alignas(64) float weights_image[weights_image_floats<char_config>];

struct options {
    const char* path = nullptr;
    long steps = 300;
    std::size_t batch = 4;
    float lr = 5e-3f;
    std::uint64_t seed = 1;
    std::size_t sample = window - 16;
    float temperature = 0.8f;
    const char* out = nullptr;
    float check_loss = 0.0f;
};

// Uniform in [-a, a) with a = scale * sqrt(3 / fan_in): unit-variance projections.
void init(float* w, std::size_t n, std::size_t fan_in, float scale, pcg32& rng) {
    const float a = scale * std::sqrt(3.0f / float(fan_in));
    for (std::size_t i = 0; i < n; ++i) w[i] = a * (2.0f * rng.next_float() - 1.0f);
}

void initialise(std::uint64_t seed) {
    pcg32 rng(seed);
    train::for_each_parameter([&](const train::tensor_info& t, float* w) {
        const std::string_view name = t.name;
        if (name.ends_with("norm.gain")) {
            for (std::size_t i = 0; i < t.size; ++i) w[i] = 1.0f;
        } else if (name == "embedding") {
            init(w, t.size, 3 * 100, 1.0f, rng);  // +-0.1: tied head logits start near 0
        } else {
            const std::size_t fan_in = name == "w2" ? d_ff : d_model;
            // Residual branches' last projections start small so the stream keeps its scale.
            init(w, t.size, fan_in, name == "wo" || name == "w2" ? 1.0f / std::sqrt(2.0f * layers) : 1.0f, rng);
        }
    }, weights);
}

// Mean loss over `count` windows spread evenly through the text (no update).
float evaluate(std::size_t count) {
    const std::size_t span = text_length - window - 1;
    double total = 0.0;
    for (std::size_t c = 0; c < count; ++c) {
        const std::size_t at = span * c / (count > 1 ? count - 1 : 1);
        float loss = 0.0f;
        train::zero_tensors(gradients);
        if (trainer::loss_and_gradients(weights, ids + at, ids + at + 1, window, gradients, workspace, loss) != status::ok)
            std::exit(2);
        total += double(loss);
    }
    return float(total / double(count));
}

// Samples opt.sample bytes after the text's first 16 bytes; returns how many were written to out.
template <class Decoder, class Weights>
std::size_t sample_text(Decoder& dec, const Weights& w, const options& opt, unsigned char* out) {
    static float logits[vocab_capacity];
    dec.attach(w);
    dec.reset();
    token_sampler.reseed(opt.seed);
    if (token_sampler.set_params({opt.temperature, 0, 1.0f}) != status::ok) std::exit(2);
    generation_options gen;
    gen.max_new_tokens = opt.sample;
    gen.stop_token = token_id(vocab_capacity);  // never sampled: no stop byte
    generation_report report;
    std::size_t n = 0;
    const status s = generate(dec, ids, 16, token_sampler, gen, logits,
                              [&](std::size_t, token_id t, const float*) { out[n++] = t < vocab ? byte_of[t] : '?'; },
                              report);
    if (s != status::ok) {
        std::printf("generation failed: %s\n", to_string(s));
        std::exit(2);
    }
    return n;
}

// ---- llama2.c checkpoint (header, then tensors, matrices as (out, in) row-major) ----
std::size_t at = 0;
void put_i32(std::int32_t v) {
    std::memcpy(checkpoint + at, &v, 4);
    at += 4;
}
void put(float v) {
    std::memcpy(checkpoint + at, &v, 4);
    at += 4;
}
void put_vector(const float* v, std::size_t n) {
    for (std::size_t i = 0; i < n; ++i) put(v[i]);
}
// ctattn holds (in, out); llama2.c wants (out, in).
void put_transposed(const float* m, std::size_t in, std::size_t out) {
    for (std::size_t o = 0; o < out; ++o)
        for (std::size_t i = 0; i < in; ++i) put(m[i * out + o]);
}

std::size_t build_checkpoint() {
    using A = char_block::attention;
    at = 0;
    put_i32(d_model);
    put_i32(d_ff);
    put_i32(layers);
    put_i32(heads);
    put_i32(kv_heads);
    put_i32(vocab_capacity);  // positive: the classifier is the embedding (tied)
    put_i32(window);
    const auto each_layer = hana::make_range(hana::size_c<0>, hana::size_c<layers>);
    put_vector(weights.embedding.data(), vocab_capacity * d_model);
    hana::for_each(each_layer, [&](auto l) { put_vector(hana::at(weights.layers, l).attention_norm.gain.data(), d_model); });
    hana::for_each(each_layer, [&](auto l) { put_transposed(hana::at(weights.layers, l).attention.wq.data(), d_model, d_model); });
    hana::for_each(each_layer, [&](auto l) { put_transposed(hana::at(weights.layers, l).attention.wk.data(), d_model, A::kv_dim); });
    hana::for_each(each_layer, [&](auto l) { put_transposed(hana::at(weights.layers, l).attention.wv.data(), d_model, A::kv_dim); });
    hana::for_each(each_layer, [&](auto l) { put_transposed(hana::at(weights.layers, l).attention.wo.data(), d_model, d_model); });
    hana::for_each(each_layer, [&](auto l) { put_vector(hana::at(weights.layers, l).ffn_norm.gain.data(), d_model); });
    hana::for_each(each_layer, [&](auto l) { put_transposed(hana::at(weights.layers, l).ffn.w1.data(), d_model, d_ff); });
    hana::for_each(each_layer, [&](auto l) { put_transposed(hana::at(weights.layers, l).ffn.w2.data(), d_ff, d_model); });
    hana::for_each(each_layer, [&](auto l) { put_transposed(hana::at(weights.layers, l).ffn.w3.data(), d_model, d_ff); });
    put_vector(weights.final_norm.gain.data(), d_model);
    // RoPE tables as llama2.c writes them: cos then sin of pos / 10000^(2i/head_dim).
    for (int part = 0; part < 2; ++part)
        for (std::size_t pos = 0; pos < window; ++pos)
            for (std::size_t i = 0; i < A::head_dim; i += 2) {
                const double angle = double(pos) / std::pow(10000.0, double(i) / double(A::head_dim));
                put(float(part == 0 ? std::cos(angle) : std::sin(angle)));
            }
    return at;
}

// ---- ctattn blob (docs/formats.md, include/ctattn/io/blob.hpp): header, tensor table, then
// the weights image (write_weights_image) at a 64-byte boundary; little-endian fields.
void put_le(unsigned char* p, std::uint64_t v, int bytes) {
    for (int i = 0; i < bytes; ++i) p[i] = (unsigned char)(v >> (8 * i));
}

std::size_t build_blob() {
    unsigned char* h = blob_bytes;
    for (std::size_t i = 0; i < blob_file_bytes; ++i) h[i] = 0;
    for (std::size_t i = 0; i < sizeof blob::magic; ++i) h[i] = blob::magic[i];
    put_le(h + 8, blob::format_version, 4);
    put_le(h + 12, blob::header_bytes, 4);
    put_le(h + 16, blob::config_hash<char_config>(), 8);
    put_le(h + 24, blob_table::count, 4);
    put_le(h + 28, blob::entry_bytes, 4);
    put_le(h + 32, blob_payload_offset, 8);
    put_le(h + 40, blob_table::payload_bytes, 8);
    put_le(h + 56, blob_file_bytes, 8);
    for (std::size_t i = 0; i < blob_table::count; ++i) {
        const auto& e = blob_table::entries[i];
        unsigned char* entry = h + blob::header_bytes + i * blob::entry_bytes;
        put_le(entry, e.kind, 4);
        put_le(entry + 4, e.layer, 4);
        put_le(entry + 8, e.offset, 8);
        put_le(entry + 16, 4 * e.floats, 8);
        put_le(entry + 24, blob::dtype_f32, 4);
        put_le(entry + 28, blob::layout_row_major, 4);
    }
    write_weights_image(weights, weights_image);
    unsigned char* payload = h + blob_payload_offset;
    for (std::size_t i = 0; i < weights_image_floats<char_config>; ++i) {
        std::uint32_t word = 0;
        std::memcpy(&word, weights_image + i, 4);
        put_le(payload + 4 * i, word, 4);
    }
    put_le(h + 48, blob::crc32(payload, blob_table::payload_bytes), 4);
    const std::size_t table_end = blob::header_bytes + blob_table::count * blob::entry_bytes;
    put_le(h + 52, blob::crc32_update(blob::crc32(h, 52), h + 56, table_end - 56), 4);
    return blob_file_bytes;
}

bool write_file(const char* path, const void* data, std::size_t n) {
    std::FILE* f = std::fopen(path, "wb");
    if (f == nullptr) return false;
    const bool ok = std::fwrite(data, 1, n, f) == n;
    return std::fclose(f) == 0 && ok;
}

void print_bytes(const unsigned char* b, std::size_t n) {
    std::fwrite(b, 1, n, stdout);
}

bool parse(int argc, char** argv, options& opt) {
    for (int i = 1; i < argc; ++i) {
        const std::string_view a = argv[i];
        const bool has_value = i + 1 < argc;
        if (a == "--steps" && has_value) opt.steps = std::strtol(argv[++i], nullptr, 10);
        else if (a == "--batch" && has_value) opt.batch = std::strtoul(argv[++i], nullptr, 10);
        else if (a == "--lr" && has_value) opt.lr = std::strtof(argv[++i], nullptr);
        else if (a == "--seed" && has_value) opt.seed = std::strtoull(argv[++i], nullptr, 10);
        else if (a == "--sample" && has_value) opt.sample = std::strtoul(argv[++i], nullptr, 10);
        else if (a == "--temperature" && has_value) opt.temperature = std::strtof(argv[++i], nullptr);
        else if (a == "--out" && has_value) opt.out = argv[++i];
        else if (a == "--check-loss" && has_value) opt.check_loss = std::strtof(argv[++i], nullptr);
        else if (!a.starts_with("--") && opt.path == nullptr) opt.path = argv[i];
        else return false;
    }
    return opt.path != nullptr && opt.batch > 0 && opt.steps >= 0 && opt.sample <= window - 16;
}
}  // namespace

int main(int argc, char** argv) {
    options opt;
    if (!parse(argc, argv, opt)) {
        std::printf("usage: %s TEXT [--steps N] [--batch B] [--lr X] [--seed S] [--sample N<=%zu] [--temperature T] "
                    "[--out PREFIX] [--check-loss X]\n", argv[0], window - 16);
        return 2;
    }
    std::FILE* f = std::fopen(opt.path, "rb");
    if (f == nullptr) {
        std::printf("cannot open %s\n", opt.path);
        return 2;
    }
    text_length = std::fread(text, 1, max_text, f);
    std::fclose(f);
    if (text_length < window + 2) {
        std::printf("%s: %zu bytes, need at least %zu\n", opt.path, text_length, window + 2);
        return 2;
    }
    bool seen[256] = {};
    for (std::size_t i = 0; i < text_length; ++i) seen[text[i]] = true;
    for (std::size_t b = 0; b < 256; ++b)
        if (seen[b]) {
            if (vocab == vocab_capacity) {
                std::printf("%s uses more than %zu distinct bytes\n", opt.path, vocab_capacity);
                return 2;
            }
            id_of[b] = token_id(vocab);
            byte_of[vocab++] = (unsigned char)b;
        }
    for (std::size_t i = 0; i < text_length; ++i) ids[i] = id_of[text[i]];
    std::printf("%s: %zu bytes, %zu distinct (uniform guess: loss ln %zu = %.3f)\n", opt.path, text_length, vocab,
                vocab, std::log(double(vocab)));

    initialise(opt.seed);
    std::printf("model: %zu layers, d_model %zu, %zu heads (%zu KV), d_ff %zu, context %zu, %zu parameters; "
                "static training state %zu KiB\n", layers, d_model, heads, kv_heads, d_ff, window,
                train::parameter_count(weights),
                (3 * sizeof weights + sizeof gradients + sizeof workspace) / 1024);
    optimiser.learning_rate = opt.lr;
    optimiser.weight_decay = 0.01f;
    optimiser.reset();
    constexpr std::size_t eval_windows = 16;
    const float start_loss = evaluate(eval_windows);
    std::printf("AdamW lr %g, batch %zu x %zu bytes, %ld steps; loss on the text before training %.3f\n",
                double(opt.lr), opt.batch, window, opt.steps, double(start_loss));

    pcg32 rng(opt.seed + 1000);
    double running = 0.0;
    for (long step = 1; step <= opt.steps; ++step) {
        train::zero_tensors(gradients);
        double batch_loss = 0.0;
        for (std::size_t b = 0; b < opt.batch; ++b) {
            const std::size_t offset = rng.next_u32() % std::uint32_t(text_length - window - 1);
            float loss = 0.0f;
            if (trainer::loss_and_gradients(weights, ids + offset, ids + offset + 1, window, gradients, workspace, loss,
                                            1.0f / float(opt.batch)) != status::ok)
                return 2;
            batch_loss += double(loss);
        }
        if (const status s = optimiser.step(weights, gradients); s != status::ok) {
            std::printf("\noptimiser step %ld: %s\n", step, to_string(s));
            return 1;
        }
        batch_loss /= double(opt.batch);
        running = step == 1 ? batch_loss : 0.95 * running + 0.05 * batch_loss;
        const int filled = int(30 * step / opt.steps);
        std::printf("\rstep %5ld/%ld [%.*s%*s] loss %.3f (smoothed %.3f)", step, opt.steps, filled,
                    "##############################", 30 - filled, "", batch_loss, running);
        if (step % 50 == 0 || step == opt.steps) std::printf("\n");
        std::fflush(stdout);
    }
    const float end_loss = evaluate(eval_windows);
    std::printf("loss on the text: %.3f before training, %.3f after %ld steps\n", double(start_loss), double(end_loss),
                opt.steps);

    static unsigned char sampled[window], again[window];
    const std::size_t n = sample_text(sampler_model, weights, opt, sampled);
    std::printf("\nsample (temperature %.2f, seed %llu), prompt in brackets:\n[", double(opt.temperature),
                (unsigned long long)opt.seed);
    print_bytes(text, 16);
    std::printf("]");
    print_bytes(sampled, n);
    std::printf("\n");

    if (opt.out != nullptr) {
        const std::size_t bytes = build_checkpoint();
        char path[512];
        std::snprintf(path, sizeof path, "%s.bin", opt.out);
        bool ok = write_file(path, checkpoint, bytes);
        std::snprintf(path, sizeof path, "%s.vocab", opt.out);
        ok = ok && write_file(path, byte_of, vocab);
        static unsigned char prompt_and_sample[window];  // what the firmware must print
        std::memcpy(prompt_and_sample, text, 16);
        std::memcpy(prompt_and_sample + 16, sampled, n);
        std::snprintf(path, sizeof path, "%s.sample", opt.out);
        ok = ok && write_file(path, prompt_and_sample, 16 + n);
        if (!ok) {
            std::printf("cannot write %s\n", path);
            return 2;
        }
        const std::size_t blob_size = build_blob();
        std::snprintf(path, sizeof path, "%s.ctw", opt.out);
        if (!write_file(path, blob_bytes, blob_size)) {
            std::printf("cannot write %s\n", path);
            return 2;
        }
        std::printf("wrote %s.bin (%zu bytes, llama2.c), %s.ctw (%zu bytes, ctattn blob), %s.vocab (%zu bytes), "
                    "%s.sample (%zu bytes)\n", opt.out, bytes, opt.out, blob_size, opt.out, vocab, opt.out, 16 + n);
        // Both files read back: the checkpoint through llama2c::load (a copy), the blob through
        // blob::validate and blob::view (weights read in place); each must sample the same text.
        const status from_checkpoint = llama2c::load(checkpoint, bytes, reloaded);
        std::size_t m = from_checkpoint == status::ok ? sample_text(sampler_model, reloaded, opt, again) : 0;
        const bool same_checkpoint = m == n && std::memcmp(sampled, again, n) == 0;
        model_weights_view<char_config> view{};
        const status from_blob = blob::view<char_config>(blob_bytes, blob_size, view);
        m = from_blob == status::ok ? sample_text(view_model, view, opt, again) : 0;
        const bool same_blob = m == n && std::memcmp(sampled, again, n) == 0;
        std::printf("llama2c::load: %s, %s; blob::validate + blob::view: %s, %s\n", to_string(from_checkpoint),
                    same_checkpoint ? "same sample" : "DIFFERENT sample", to_string(from_blob),
                    same_blob ? "same sample" : "DIFFERENT sample");
        if (!same_checkpoint || !same_blob) return 1;
    }
    if (opt.check_loss > 0.0f) {
        const bool ok = end_loss < opt.check_loss && end_loss < start_loss;
        std::printf("check: loss %.3f < %.3f: %s\n", double(end_loss), double(opt.check_loss), ok ? "passed" : "FAILED");
        return ok ? 0 : 1;
    }
    return 0;
}
