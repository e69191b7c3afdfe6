// SPDX-License-Identifier: Apache-2.0
// Zero heap for models: tests/support/heap_counter.cpp replaces every global operator new/delete form
// and the C allocator by versions that count calls and hand the work to glibc's own allocator.
// The program first checks that a deliberate allocation of each kind is counted, then loads a llama2.c checkpoint image, runs
// full forward passes, prefill, decode steps, reset and rejected calls on several model
// configurations (xsimd and scalar paths), and requires the count not to move.
// No Catch2 here (its bookkeeping allocates); exit status 0 = pass.
#include <ctattn/model/decoder.hpp>
#include <ctattn/io/llama2c.hpp>

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <new>

#include "../support/heap_counter.hpp"

namespace {
using namespace ctattn;

// A llama2.c-shaped model (RoPE, GQA, SwiGLU, tied head) and a GPT-shaped one (sinusoidal,
// post-norm, biases, untied head), on the default and the scalar architecture.
using llama_block = block_config<attention_config<24, 6, 2, 12, no_bias, causal_mask>, ffn_config<24, swiglu, 40>,
                                 rms_norm<eps_1e_minus<5>>, pre_norm>;
using llama_cfg = stacked_model_config<33, 2, llama_block, rotary_positions<10000>, rms_norm<eps_1e_minus<5>>, tied_head>;
using gpt_block = block_config<attention_config<20, 4, 4, 9, with_bias, sliding_window_mask<4>>,
                               ffn_config<20, dense_ffn<gelu_erf>>, layer_norm<eps_1e_minus<5>>, post_norm>;
using gpt_cfg = stacked_model_config<17, 3, gpt_block, sinusoidal_positions, layer_norm<eps_1e_minus<5>>, untied_head<true>>;

// A llama2.c checkpoint image of llama_cfg, built in static memory: header + deterministic floats.
constexpr llama2c::header llama_header{24, 40, 2, 6, 2, 33, 12};
constexpr std::size_t image_bytes = llama2c::checkpoint_bytes(llama_header);
alignas(4) unsigned char checkpoint_image[image_bytes];

void build_image() {
    const std::int32_t fields[7] = {llama_header.dim,        llama_header.hidden_dim, llama_header.n_layers,
                                    llama_header.n_heads,    llama_header.n_kv_heads, llama_header.vocab_size,
                                    llama_header.seq_len};
    std::memcpy(checkpoint_image, fields, sizeof fields);
    std::uint32_t state = 12345u;
    for (std::size_t at = llama2c::header_bytes; at + 4 <= image_bytes; at += 4) {
        state = state * 1664525u + 1013904223u;  // LCG: plain, allocation-free, deterministic
        const float value = (float(state >> 8) / float(1u << 24) - 0.5f) * 0.6f;
        std::memcpy(checkpoint_image + at, &value, 4);
    }
}

template <class M>
void fill(M& m, std::uint32_t seed) {
    for (std::size_t i = 0; i < M::size; ++i) {
        seed = seed * 1664525u + 1013904223u;
        m[i] = (float(seed >> 8) / float(1u << 24) - 0.5f) * 0.5f;
    }
}

model_weights<llama_cfg> llama_weights;
model_weights<gpt_cfg> gpt_weights;
model_workspace<llama_cfg> llama_ws;
model_workspace<gpt_cfg> gpt_ws;
decoder<llama_cfg> llama_decoder;
decoder<llama_cfg, owned_weights, simd::scalar_arch, 3> llama_scalar_decoder;
decoder<gpt_cfg> gpt_decoder;
float logits[12 * 33];

int failures = 0;
void expect(bool ok, const char* what) {
    if (!ok) {
        std::printf("FAIL: %s\n", what);
        ++failures;
    }
}

// Everything measured: returns how many calls did not return the expected status.
int run_models() {
    int wrong = 0;
    int call = 0;
    auto want = [&](status got, status expected) {
        ++call;
        if (got != expected) {
            std::printf("call %d: got %s, expected %s\n", call, to_string(got), to_string(expected));
            ++wrong;
        }
    };
    const token_id tokens[12] = {1, 5, 9, 2, 11, 7, 7, 0, 12, 3, 16, 4};  // all < 17, both vocabularies

    want(llama2c::load<llama_cfg>(checkpoint_image, image_bytes, llama_weights), status::ok);
    want(llama2c::load<llama_cfg>(checkpoint_image, image_bytes - 4, llama_weights), status::truncated);
    want(language_model<llama_cfg>::forward(llama_weights, tokens, 12, logits, llama_ws), status::ok);
    want(language_model<llama_cfg, simd::scalar_arch>::forward(llama_weights, tokens, 7, logits, llama_ws), status::ok);
    want(language_model<gpt_cfg>::forward(gpt_weights, tokens, 9, logits, gpt_ws), status::ok);
    want(language_model<gpt_cfg>::forward(gpt_weights, tokens, 10, logits, gpt_ws), status::invalid_length);

    llama_decoder.attach(llama_weights);
    want(llama_decoder.prefill(tokens, 5, logits), status::ok);
    for (std::size_t p = 5; p < 12; ++p) want(llama_decoder.decode_step(tokens[p], logits), status::ok);
    want(llama_decoder.decode_step(1, logits), status::cache_full);
    llama_decoder.reset();
    want(llama_decoder.decode_step(40, logits), status::invalid_token);
    want(llama_decoder.decode_step(1, logits), status::ok);

    llama_scalar_decoder.attach(llama_weights);
    want(llama_scalar_decoder.prefill(tokens, 8, logits), status::ok);
    want(llama_scalar_decoder.decode_step(3, logits), status::ok);

    gpt_decoder.attach(gpt_weights);
    for (std::size_t p = 0; p < 9; ++p) want(decode_step(gpt_decoder, tokens[p], logits), status::ok);
    want(decode_step(gpt_decoder, 2, logits), status::cache_full);
    reset(gpt_decoder);
    want(prefill(gpt_decoder, tokens, 9, logits), status::ok);
    want(language_model<gpt_cfg>::probabilities(logits, logits), status::ok);
    return wrong;
}
}  // namespace

int main() {
    // The counters see every road to the heap: each allocation function once, through calls no
    // optimiser can remove (tests/support/heap_counter.cpp).
    const ctattn_test::heap_self_check c = ctattn_test::check_heap_counting();
    expect(c.ok(), "every deliberate allocation and release is counted");

    build_image();
    fill(gpt_weights.embedding, 1);
    hana::for_each(gpt_weights.layers, [](auto& layer) {
        fill(layer.attention.wq, 2);
        fill(layer.attention.wk, 3);
        fill(layer.attention.wv, 4);
        fill(layer.attention.wo, 5);
        fill(layer.ffn.w1, 6);
        fill(layer.ffn.w2, 7);
        fill(layer.attention_norm.gain, 8);
        fill(layer.ffn_norm.gain, 9);
    });
    fill(gpt_weights.head.w_out, 10);
    std::printf("model zero-heap test: llama weights %zu bytes, decoder %zu bytes\n", sizeof llama_weights,
                sizeof llama_decoder);  // stdio's buffer is allocated here, outside the measurement

    const std::size_t before = ctattn_test::heap_allocations();
    const int wrong_status = run_models();
    const std::size_t during = ctattn_test::heap_allocations() - before;

    expect(wrong_status == 0, "every call returns its expected status");
    expect(during == 0, "load, forward, prefill, decode_step, reset and rejected calls allocate nothing");
    std::printf("heap allocations during load/forward/prefill/decode: %zu; unexpected statuses: %d\n", during,
                wrong_status);
    std::printf(failures == 0 ? "PASS\n" : "FAILED\n");
    return failures == 0 ? 0 : 1;
}
