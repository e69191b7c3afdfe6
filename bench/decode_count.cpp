// SPDX-License-Identifier: Apache-2.0
// Decode steps to be counted by `valgrind --tool=callgrind --toggle-collect=decode_sequence_*`:
// instruction counts do not move with the machine's load, unlike times. Usage:
//   decode_count {ctattn|ctattn_kv_float16|ctattn_kv_int8|ctattn_scalar|plain|plain_fastmath}
//                {stories260K|stories15M} STEPS
// (ctattn_kv_*: the same decoder with a float16 or int8 KV cache, base/kv_storage.hpp)
// Runs STEPS decode steps from an empty cache (positions 0..STEPS-1) inside one function whose
// instructions callgrind collects, then prints a checksum of the logits so the work is used.
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>

#include "bench_common.hpp"
#include "decode_models.hpp"

namespace {

template <class Config, class Arch, class KvStorage = ctattn::kv_float32>
using decoder_for = ctattn::decoder<Config, ctattn::owned_weights, Arch, ctattn::default_prefill_rows<Config, Arch>, KvStorage>;

template <class Config, class Arch, class KvStorage>
__attribute__((noinline)) void decode_sequence_ctattn(decoder_for<Config, Arch, KvStorage>& dec, const ctattn::token_id* tokens,
                                                      std::size_t steps, float* logits) {
    for (std::size_t pos = 0; pos < steps; ++pos)
        if (dec.decode_step(tokens[pos], logits) != ctattn::status::ok) std::abort();
}

template <void (*Forward)(const plain_llama_shape&, const plain_llama_weights&, plain_llama_state&, int, int)>
__attribute__((noinline)) void decode_sequence_plain(ctattn_bench::plain_llama_model& m, const ctattn::token_id* tokens,
                                                     std::size_t steps) {
    for (std::size_t pos = 0; pos < steps; ++pos) Forward(m.shape, m.w, m.s, int(tokens[pos]), int(pos));
}

template <class Shape, class Arch, class KvStorage = ctattn::kv_float32>
double run_ctattn(const std::vector<unsigned char>& bytes, const std::vector<ctattn::token_id>& tokens) {
    using config = typename Shape::config;
    ctattn_bench::aligned_block<ctattn::model_weights<config>> weights(1);
    if (ctattn::llama2c::load<config>(bytes.data(), bytes.size(), weights[0]) != ctattn::status::ok) std::abort();
    ctattn_bench::aligned_block<decoder_for<config, Arch, KvStorage>> dec(1);
    dec[0].attach(weights[0]);
    std::vector<float> logits(config::vocab);
    decode_sequence_ctattn<config, Arch, KvStorage>(dec[0], tokens.data(), tokens.size(), logits.data());
    double sum = 0;
    for (float v : logits) sum += v;
    return sum;
}

template <class Shape>
int run(const std::string& impl, std::size_t steps) {
    const auto bytes = ctattn_bench::random_checkpoint(Shape::plain, 1234);
    const auto tokens = ctattn_bench::random_tokens(steps, std::size_t(Shape::plain.vocab_size), 77);
    double checksum = 0;
    if (impl == "ctattn") {
        checksum = run_ctattn<Shape, ctattn::simd::default_arch>(bytes, tokens);
    } else if (impl == "ctattn_kv_float16") {
        checksum = run_ctattn<Shape, ctattn::simd::default_arch, ctattn::kv_float16>(bytes, tokens);
    } else if (impl == "ctattn_kv_int8") {
        checksum = run_ctattn<Shape, ctattn::simd::default_arch, ctattn::kv_int8>(bytes, tokens);
    } else if (impl == "ctattn_scalar") {
        checksum = run_ctattn<Shape, ctattn::simd::scalar_arch>(bytes, tokens);
    } else if (impl == "plain" || impl == "plain_fastmath") {
        ctattn_bench::plain_llama_model m(Shape::plain, bytes);
        if (impl == "plain")
            decode_sequence_plain<plain::llama_forward>(m, tokens.data(), steps);
        else
            decode_sequence_plain<plain_fast::llama_forward>(m, tokens.data(), steps);
        for (float v : m.logits) checksum += v;
    } else {
        return 2;
    }
    std::printf("%s: %zu steps, logits checksum %.6f\n", impl.c_str(), steps, checksum);
    return 0;
}

}  // namespace

int main(int argc, char** argv) {
    if (argc != 4) {
        std::fprintf(stderr, "usage: %s {ctattn|ctattn_kv_float16|ctattn_kv_int8|ctattn_scalar|plain|plain_fastmath} {stories260K|stories15M} STEPS\n", argv[0]);
        return 2;
    }
    const std::size_t steps = std::strtoul(argv[3], nullptr, 10);
    if (std::strcmp(argv[2], "stories260K") == 0 && steps >= 1 && steps <= 512) return run<ctattn_bench::stories260k>(argv[1], steps);
    if (std::strcmp(argv[2], "stories15M") == 0 && steps >= 1 && steps <= 256) return run<ctattn_bench::stories15m>(argv[1], steps);
    std::fprintf(stderr, "unknown model or steps out of range\n");
    return 2;
}
