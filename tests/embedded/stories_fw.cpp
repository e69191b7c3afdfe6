// Firmware test: the real pretrained stories260K checkpoint (llama2.c, 5 layers, d_model 64,
// 8 heads sharing 4 K/V heads, vocab 512; shared/models/README.md) on a Cortex-M core. The
// checkpoint file is linked in unchanged (.incbin into .rodata, i.e. flash), llama2c::load
// converts it into the weights object in RAM (the file stores W as out x in; ctattn wants x @ W),
// and a decoder with a 128-position KV cache generates greedily from BOS. Checks:
//   the checkpoint loads; a truncated one is status::truncated
//   24 greedy tokens equal the ones the same decoder produces on the x86-64 host (both the AVX
//   and the scalar build print this list); the smallest top-1/top-2 logit margin on the host is
//   0.053, four orders of magnitude above float rounding differences between targets, so an
//   argmax can only differ here if the arithmetic is wrong.
// Needs ~1.3 MiB of RAM, so it is built for the MPS2 boards (4 MiB) and not for mps3-an547's
// 512 KiB DTCM. firmware_main() returns the number of failures.
#include <cstddef>

#include <ctattn/footprint.hpp>
#include <ctattn/kv_cache.hpp>
#include <ctattn/llama2c.hpp>

#include "check.hpp"
#include "print.hpp"
#include "stack.hpp"
#include "stories260k_blob.hpp"

namespace {

using namespace ctattn;
using attention = attention_config<64, 8, 4, 128, false, causal_mask>;
using block = block_config<attention, ffn_config<64, swiglu, 172>, rms_norm<eps_1e_minus<5>>, pre_norm>;
using config = stacked_model_config<512, 5, block, rotary_positions<10000>, rms_norm<eps_1e_minus<5>>, tied_head>;
using arch = simd::default_arch;
using footprint = ctattn::footprint<config>;

static_assert(ctattn::fits<config>(CTATTN_BOARD_RAM_BYTES, CTATTN_BOARD_FLASH_BYTES));

constexpr token_id bos = 1;
// Greedy continuation of BOS, from the host run described above.
constexpr token_id host_greedy_tokens[] = {461, 461, 401, 401, 401, 461, 378, 455, 473, 456, 435, 299,
                                           362, 409, 283, 264, 283, 452, 288, 13,  431, 431, 431, 431};
constexpr std::size_t steps = sizeof(host_greedy_tokens) / sizeof(host_greedy_tokens[0]);

}  // namespace

// Named, external objects so tools/footprint.py can read their sizes from the symbol table.
constinit model_weights<config> stories_weights{};  // RAM here (loaded from the file in flash)
constinit decoder<config, arch> stories_state{};    // RAM: KV cache + row scratch
constinit float stories_logits[config::vocab]{};    // RAM: one row of logits

namespace {

int run() {
    embedded::checker check;
    const std::size_t file_bytes = static_cast<std::size_t>(stories260k_end - stories260k_begin);
    embedded::print("stories260K: ", file_bytes, " bytes of checkpoint in flash, weights ",
                    sizeof(stories_weights), " bytes, KV cache ", footprint::kv_bytes, " bytes, arch ",
                    simd::arch_name<arch>(), "\n");

    check.is_true("a truncated checkpoint is status::truncated",
                  llama2c::load<config>(stories260k_begin, file_bytes - 4, stories_weights) ==
                      status::truncated);
    check.is_true("the checkpoint loads into the configuration",
                  llama2c::load<config>(stories260k_begin, file_bytes, stories_weights) == status::ok);

    stories_state.attach(stories_weights);
    const token_id start = bos;
    bool ok = stories_state.prefill(&start, 1, stories_logits) == status::ok;
    std::size_t matching = 0;
    embedded::print("greedy tokens:");
    for (std::size_t step = 0; step < steps && ok; ++step) {
        std::size_t best = 0;
        for (std::size_t i = 1; i < config::vocab; ++i)
            if (stories_logits[i] > stories_logits[best]) best = i;
        embedded::print(" ", best);
        if (best == host_greedy_tokens[step]) ++matching;
        ok = stories_state.decode_step(static_cast<token_id>(best), stories_logits) == status::ok;
    }
    embedded::print("\n");
    check.is_true("prefill and every decode step return ok", ok);
    check.is_true("24 greedy tokens equal the host's", matching == steps);

    return embedded::finish(check, "stories260K", footprint::flash_bytes, footprint::ram_bytes, 0);
}

}  // namespace

int firmware_main() { return run(); }
