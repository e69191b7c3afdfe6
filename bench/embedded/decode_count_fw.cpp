// SPDX-License-Identifier: Apache-2.0
// Decode on an emulated microcontroller core (Cortex-M, RV32), for instruction counts
// (tools/qemu_insn_count.c counts every guest instruction the run executes; tools/emulated_counts.py
// runs the images). The real stories260K checkpoint decodes CTATTN_DECODE_STEPS tokens from BOS,
// greedily, with a KV cache of the model's whole context (512 positions), through one of:
//   CTATTN_DECODE_IMPL 0: ctattn's decoder on the build's default arch (the scalar path, Helium on a
//                         Cortex-M55 built with it: cross/cortex-m55.ini), reading
//                         the weights in place in flash: the constant array tools/ctattn_gen.py
//                         writes from the checkpoint in the kernels' layout
//                         (ctattn_stories260k_weights.h), through a constexpr model_weights_view;
//   CTATTN_DECODE_IMPL 1: the plain llama2.c-style loops of bench/plain_loops_impl.hpp, built with
//                         the same flags, reading the checkpoint's floats (linked in unchanged
//                         with .incbin) in place in flash;
//   CTATTN_DECODE_IMPL 2: ctattn's decoder with int8 weights (stories260k::config_q8, Q8 groups of
//                         32), reading in place the two constant arrays tools/ctattn_gen.py writes
//                         from configs/stories260k_q8.json (ctattn_stories260k_q8_weights.h).
// CTATTN_DECODE_KV (implementations 0 and 2) names the KV cache's storage type (base/kv_storage.hpp):
// kv_float32 (the default), kv_float16 or kv_int8 (images bench_decode_ctattn-kv<type>_512 and
// bench_decode_ctattn_q8-kvint8_<steps>: int8 weights and an int8 cache, which on cores without an
// FPU attend in integers, kernels/decode/integer_heads.hpp).
// Both keep only their KV cache and one token's rows in RAM, so both fit the same memory map
// (tests/embedded/boards/mps3-an547-counts.ld on the Cortex-M55 board).
// ctattn_count_mark() runs before every step and after the last: the plugin records its running
// count at each, so one run gives the exact cost of every position (load, start-up and printing
// fall outside the marks). The float ones print the greedy tokens and how many equal the host's
// (stories260k_greedy_ids.hpp, from bench/embedded/host_greedy_ids.cpp). The int8 one is
// teacher-forced on the host's int8 ids (stories260k_q8_greedy_ids.hpp: position i is fed the
// host's id i - 1, the same work as free running): its activations' rounding to codes turns float
// rounding differences between cores into logit differences up to 0.4, so free-running lists of
// two correct builds part (the x86-64 AVX-512 VNNI and scalar hosts at position 62); it prints how many of
// its argmaxes equal the host's at the same positions (tools/emulated_counts.py wants all of the
// first 32 and 95% of all: host builds agree at 96-97.5% of the 512, the float model at 89%).
#include <cstddef>
#include <cstdint>
#include <type_traits>

#include "../../tests/embedded/print.hpp"
#if CTATTN_DECODE_IMPL == 0
#include <ctattn/model/weights_image.hpp>
#include <ctattn_stories260k_weights.h>
#elif CTATTN_DECODE_IMPL == 2
#include <ctattn/model/weights_image.hpp>
#include <ctattn_stories260k_q8_weights.h>
#include "stories260k_q8_greedy_ids.hpp"
#include "stories260k_q8_kvint8_greedy_ids.hpp"
#else
#include "../../tests/embedded/stories260k_blob.hpp"
#include "../plain_loops.hpp"
#endif
#include "stories260k_config.hpp"
#include "stories260k_greedy_ids.hpp"

#include "../../tests/embedded/count_mark.hpp"  // ctattn_count_mark(), per architecture

namespace {
constexpr std::size_t capacity = stories260k::context;
constexpr std::size_t steps = CTATTN_DECODE_STEPS;
static_assert(steps <= capacity, "decode_count_fw: CTATTN_DECODE_STEPS must not exceed the cache capacity");
static_assert(steps <= sizeof(host_greedy_ids) / sizeof(host_greedy_ids[0]));
using stories260k::argmax;
using stories260k::bos;

void report(const char* impl, const std::size_t* tokens, const unsigned short* host_ids = host_greedy_ids) {
    std::size_t equal = 0;
    embedded::print(impl, " tokens:");
    for (std::size_t step = 0; step < steps; ++step) {
        embedded::print(" ", tokens[step]);
        equal += tokens[step] == host_ids[step];
    }
    embedded::print("\nhost ids: ", equal, " of ", steps, " equal\n");
}
std::size_t generated[steps];
}  // namespace

#ifndef CTATTN_DECODE_KV
#define CTATTN_DECODE_KV kv_float32
#endif

#if CTATTN_DECODE_IMPL == 0
using stories260k::config;
static_assert(sizeof(ctattn_stories260k_weights) / sizeof(float) == ctattn::weights_image_floats<config>,
              "decode_count_fw: the generated weights image does not match stories260k::config");
// Flash: the view (pointers into the generated constant array). RAM: the KV cache (512 positions)
// and one token's rows, and the logits.
constinit const ctattn::model_weights_view<config> decode_weights =
    ctattn::make_weights_view<config>(ctattn_stories260k_weights);
constinit ctattn::flash_decoder<config, ctattn::simd::default_arch, 1, ctattn::CTATTN_DECODE_KV> decode_state{};
constinit float decode_logits[config::vocab]{};

int firmware_main() {
    decode_state.attach(decode_weights);
    ctattn::token_id token = bos;
    for (std::size_t step = 0; step < steps; ++step) {
        ctattn_count_mark();
        if (decode_state.decode_step(token, decode_logits) != ctattn::status::ok) return 1;
        token = static_cast<ctattn::token_id>(argmax(decode_logits, config::vocab));
        generated[step] = token;
    }
    ctattn_count_mark();
    report("ctattn", generated);
    return 0;
}

#elif CTATTN_DECODE_IMPL == 2
using config_q8 = stories260k::config_q8;
static_assert(sizeof(ctattn_stories260k_q8_weights) / sizeof(float) == ctattn::weights_image_floats<config_q8> &&
                  sizeof(ctattn_stories260k_q8_weight_codes) == ctattn::weights_image_codes<config_q8>,
              "decode_count_fw: the generated int8 weights do not match stories260k::config_q8");
// The host's int8 ids for this cache: with an int8 KV cache, the host's run attending in integers
// (stories260k_q8_kvint8_greedy_ids.hpp), as this image does on cores without an FPU.
constexpr const unsigned short* q8_ids =
    std::is_same_v<ctattn::CTATTN_DECODE_KV, ctattn::kv_int8> ? host_q8_kvint8_greedy_ids : host_q8_greedy_ids;
static_assert(steps <= sizeof(host_q8_greedy_ids) / sizeof(host_q8_greedy_ids[0]) &&
              steps <= sizeof(host_q8_kvint8_greedy_ids) / sizeof(host_q8_kvint8_greedy_ids[0]));
// Flash: the view (pointers into the generated scales and codes). RAM: as the float image.
constinit const ctattn::model_weights_view<config_q8> decode_weights =
    ctattn::make_weights_view<config_q8>(ctattn_stories260k_q8_weights, ctattn_stories260k_q8_weight_codes);
constinit ctattn::flash_decoder<config_q8, ctattn::simd::default_arch, 1, ctattn::CTATTN_DECODE_KV> decode_state{};
constinit float decode_logits[config_q8::vocab]{};

int firmware_main() {
    decode_state.attach(decode_weights);
    for (std::size_t step = 0; step < steps; ++step) {
        ctattn_count_mark();
        const auto token = static_cast<ctattn::token_id>(step == 0 ? bos : q8_ids[step - 1]);
        if (decode_state.decode_step(token, decode_logits) != ctattn::status::ok) return 1;
        generated[step] = argmax(decode_logits, config_q8::vocab);
    }
    ctattn_count_mark();
    report("ctattn_q8", generated, q8_ids);
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
    for (std::size_t step = 0; step < steps; ++step) {
        ctattn_count_mark();
        plain::llama_forward(shape, w, s, token, int(step));
        token = int(argmax(logits, 512));
        generated[step] = std::size_t(token);
    }
    ctattn_count_mark();
    report("plain", generated);
    return 0;
}
#endif
