// Decode on an emulated Cortex-M core, for instruction counts (tools/qemu_insn_count.c counts every
// guest instruction the run executes; tools/emulated_counts.py runs the images). The real
// stories260K checkpoint, linked in unchanged, decodes CTATTN_DECODE_STEPS tokens from BOS,
// greedily, through one of:
//   CTATTN_DECODE_IMPL 0: ctattn's decoder (the scalar path, as every Cortex-M build uses), with
//                         the weights loaded into RAM by llama2c::load;
//   CTATTN_DECODE_IMPL 1: the plain llama2.c-style loops of bench/plain_loops_impl.hpp, built with
//                         the same flags, reading the checkpoint's floats in place in flash.
// Two images per implementation, with two step counts, so that the difference of their counts is
// the decode steps alone (load, start-up and printing cancel). Both print the greedy tokens, which
// must agree (the plain model is checked against ctattn on the host, bench/bench_decode.cpp).
#include <cstddef>
#include <cstdint>

#include <ctattn/kv_cache.hpp>
#include <ctattn/llama2c.hpp>

#include "../../tests/embedded/print.hpp"
#include "../../tests/embedded/stories260k_blob.hpp"
#include "../plain_loops.hpp"

namespace {

constexpr std::size_t capacity = 64;  // positions: more than any step count used
constexpr std::size_t steps = CTATTN_DECODE_STEPS;
static_assert(steps < capacity, "decode_count_fw: CTATTN_DECODE_STEPS must stay below the cache capacity");
constexpr ctattn::token_id bos = 1;

std::size_t argmax(const float* logits, std::size_t n) {
    std::size_t best = 0;
    for (std::size_t i = 1; i < n; ++i)
        if (logits[i] > logits[best]) best = i;
    return best;
}

}  // namespace

#if CTATTN_DECODE_IMPL == 0
namespace {
using namespace ctattn;
using attention = attention_config<64, 8, 4, capacity, false, causal_mask>;
using block = block_config<attention, ffn_config<64, swiglu, 172>, rms_norm<eps_1e_minus<5>>, pre_norm>;
using config = stacked_model_config<512, 5, block, rotary_positions<10000>, rms_norm<eps_1e_minus<5>>, tied_head>;
}  // namespace

constinit ctattn::model_weights<config> decode_weights{};
constinit ctattn::decoder<config, ctattn::simd::scalar_arch> decode_state{};
constinit float decode_logits[config::vocab]{};

int firmware_main() {
    const std::size_t bytes = static_cast<std::size_t>(stories260k_end - stories260k_begin);
    if (ctattn::llama2c::load<config>(stories260k_begin, bytes, decode_weights) != ctattn::status::ok) return 1;
    decode_state.attach(decode_weights);
    ctattn::token_id token = bos;
    embedded::print("ctattn tokens:");
    for (std::size_t step = 0; step < steps; ++step) {
        if (decode_state.decode_step(token, decode_logits) != ctattn::status::ok) return 1;
        token = static_cast<ctattn::token_id>(argmax(decode_logits, config::vocab));
        embedded::print(" ", std::size_t(token));
    }
    embedded::print("\n");
    return 0;
}

#else
namespace {
// llama2.c's run state for stories260K, statically sized: dim 64, hidden 172, 5 layers, 8 heads,
// 4 KV heads (kv_dim 32), vocab 512.
constexpr plain_llama_shape shape{64, 172, 5, 8, 4, 512, int(capacity)};
float x[64], xb[64], xb2[64], hb[172], hb2[172], q[64], att[8 * capacity], logits[512];
float key_cache[5 * capacity * 32], value_cache[5 * capacity * 32];
}  // namespace

int firmware_main() {
    // The checkpoint's floats in place: a 7 x int32 header, then the matrices in llama2.c's order.
    const float* f = reinterpret_cast<const float*>(stories260k_begin + 7 * sizeof(std::int32_t));
    auto take = [&f](std::size_t n) {
        const float* at = f;
        f += n;
        return at;
    };
    plain_llama_weights w{};
    w.token_embedding = take(512 * 64);
    w.rms_att = take(5 * 64);
    w.wq = take(5 * 64 * 64);
    w.wk = take(5 * 32 * 64);
    w.wv = take(5 * 32 * 64);
    w.wo = take(5 * 64 * 64);
    w.rms_ffn = take(5 * 64);
    w.w1 = take(5 * 172 * 64);
    w.w2 = take(5 * 64 * 172);
    w.w3 = take(5 * 172 * 64);
    w.rms_final = take(64);
    w.wcls = w.token_embedding;  // tied classifier
    plain_llama_state s{x, xb, xb2, hb, hb2, q, att, logits, key_cache, value_cache};
    int token = int(bos);
    embedded::print("plain tokens:");
    for (std::size_t step = 0; step < steps; ++step) {
        plain::llama_forward(shape, w, s, token, int(step));
        token = int(argmax(logits, 512));
        embedded::print(" ", std::size_t(token));
    }
    embedded::print("\n");
    return 0;
}
#endif
