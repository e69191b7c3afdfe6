// SPDX-License-Identifier: Apache-2.0
// Firmware test: the real pretrained stories260K checkpoint (llama2.c, 5 layers, d_model 64,
// 8 heads sharing 4 K/V heads, vocab 512; shared/models/README.md) on a Cortex-M core, with its
// weights executed in place from flash: tools/ctattn_gen.py turned the checkpoint into one
// `const` array in the kernels' layout at build time (ctattn_stories260k_weights.h), a constexpr
// model_weights_view points into it (both in .rodata), and nothing is copied at start-up. RAM
// holds only the decoder (KV cache for CTATTN_STORIES260K_SEQ_CAPACITY positions, 512 on the
// MPS2 boards, 368 on mps3-an547's 512 KiB DTCM) and a row of logits. Checks:
//   the view is constant-initialised and points into the array
//   24 greedy tokens from BOS equal the ones the same decoder produces on the x86-64 host (both
//   the AVX and the scalar build print this list); the smallest top-1/top-2 logit margin on the
//   host is 0.053, four orders of magnitude above float rounding differences between targets, so
//   an argmax can only differ here if the arithmetic is wrong.
// firmware_main() returns the number of failures.
#include <cstddef>

#include <ctattn/model/footprint.hpp>
#include <ctattn_stories260k_config.hpp>
#include <ctattn_stories260k_weights.h>

#include "check.hpp"
#include "print.hpp"
#include "stack.hpp"

namespace {

using namespace ctattn;
using config = ctattn_gen::stories260k::config;
using arch = simd::default_arch;
using footprint = ctattn::footprint<config>;

static_assert(ctattn::fits<config>(CTATTN_BOARD_RAM_BYTES, CTATTN_BOARD_FLASH_BYTES));
// The compile-time bound with the weights in flash: the KV cache (655,360 bytes at 512 positions)
// plus a few KiB, where loading the weights into RAM would need 1.04 MB more.
static_assert(config::seq_capacity != 512 || footprint::ram_bytes <= 700000,
              "stories260K at capacity 512 must fit 700,000 bytes of RAM with its weights in flash");

constexpr token_id bos = 1;
// Greedy continuation of BOS, from the host run described above.
constexpr token_id host_greedy_tokens[] = {461, 461, 401, 401, 401, 461, 378, 455, 473, 456, 435, 299,
                                           362, 409, 283, 264, 283, 452, 288, 13,  431, 431, 431, 431};
constexpr std::size_t steps = sizeof(host_greedy_tokens) / sizeof(host_greedy_tokens[0]);

}  // namespace

// Named, external objects so tools/footprint.py can read their sizes from the symbol table.
// Flash: the view (pointers into the array, which is ctattn_stories260k_weights itself).
constinit const model_weights_view<config> stories_weights = make_weights_view<config>(ctattn_stories260k_weights);
constinit flash_decoder<config, arch, 1> stories_state{};  // RAM: KV cache + row scratch
constinit float stories_logits[config::vocab]{};                     // RAM: one row of logits

namespace {

int run() {
    embedded::checker check;
    embedded::print("stories260K: weights ", sizeof(ctattn_stories260k_weights), " bytes in flash, KV cache ",
                    footprint::kv_bytes, " bytes for ", config::seq_capacity, " positions, arch ",
                    simd::arch_name<arch>(), "\n");
    embedded::print("RAM bound ", footprint::ram_bytes, " bytes with the weights in flash, ",
                    footprint::ram_bytes_loaded_weights, " bytes if they were loaded into RAM\n");
    check.is_true("the weights view points into the constant array",
                  stories_weights.embedding.data() == ctattn_stories260k_weights &&
                      stories_weights.final_norm.gain.data() + config::d_model ==
                          ctattn_stories260k_weights + weights_image_floats<config>);

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
