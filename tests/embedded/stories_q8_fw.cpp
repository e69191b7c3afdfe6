// SPDX-License-Identifier: Apache-2.0
// Firmware test: stories260K with int8 weights (configs/stories260k_q8.json: Q8, one float scale
// per group of 32 codes, W2's rows padded 172 -> 192) read in place from flash: tools/ctattn_gen.py
// quantized the checkpoint at build time into two constant arrays (ctattn_stories260k_q8_weights.h:
// norms and scales as floats, codes as int8), a constexpr model_weights_view points into them, and
// the Q8 kernels (simd/q8.hpp: SXTB16 + SMLAD with the Arm DSP extension, the scalar integer body
// elsewhere) run on them. RAM holds the decoder (a 64-position KV cache) and a row of logits. Checks:
//   the view is constant-initialised and points into both arrays
//   32 greedy tokens from BOS equal the host's run of the same int8 configuration
//   (bench/embedded/stories260k_q8_greedy_ids.hpp). The host's smallest top-1/top-2 logit margin
//   over these 32 positions is 0.079, and the x86-64 AVX-512 VNNI and scalar host builds give the same ids
//   through position 61 (their int8 activations round differently only later); past that, the
//   teacher-forced count images (bench/embedded/decode_count_fw.cpp) check the rest.
// firmware_main() returns the number of failures.
#include <cstddef>

#include <ctattn/model/decoder.hpp>
#include <ctattn/model/footprint.hpp>
#include <ctattn/model/weights_image.hpp>
#include <ctattn_stories260k_q8_weights.h>

#include "../../bench/embedded/stories260k_q8_greedy_ids.hpp"
#include "check.hpp"
#include "print.hpp"
#include "stack.hpp"

namespace {

using namespace ctattn;
// stories260K as bench/embedded/stories260k_config.hpp has it, with a 64-position KV cache.
inline constexpr std::size_t capacity = 64;
using attention = attention_config<64, 8, 4, capacity, no_bias, causal_mask>;
using block = block_config<attention, ffn_config<64, swiglu, 172>, rms_norm<eps_1e_minus<5>>, pre_norm>;
using float_config = stacked_model_config<512, 5, block, rotary_positions<10000>, rms_norm<eps_1e_minus<5>>, tied_head>;
using config = with_weight_format<float_config, q8_weights<>>;
using arch = simd::default_arch;
using footprint = ctattn::footprint<config>;

static_assert(sizeof(ctattn_stories260k_q8_weights) / sizeof(float) == weights_image_floats<config> &&
                  sizeof(ctattn_stories260k_q8_weight_codes) == weights_image_codes<config>,
              "the generated int8 weights do not match the configuration (configs/stories260k_q8.json)");
static_assert(ctattn::fits<config>(CTATTN_BOARD_RAM_BYTES, CTATTN_BOARD_FLASH_BYTES));
// With the weights in flash, RAM is the KV cache (64 x 1,280 bytes) and one token's rows: under
// 100,000 bytes, where the float model loaded into RAM would need 1.04 MB more. Flash (weights and
// view) stays within the 320 KB target.
static_assert(footprint::ram_bytes <= 100000, "stories260K int8 at capacity 64 must fit 100,000 bytes of RAM");
static_assert(footprint::flash_bytes <= 327680, "stories260K int8 weights must fit 320 KB of flash");

constexpr token_id bos = 1;
constexpr std::size_t steps = 32;
static_assert(steps <= capacity && steps <= sizeof(host_q8_greedy_ids) / sizeof(host_q8_greedy_ids[0]));

}  // namespace

// Named, external objects so tools/footprint.py can read their sizes from the symbol table.
constinit const model_weights_view<config> stories_q8_weights =
    make_weights_view<config>(ctattn_stories260k_q8_weights, ctattn_stories260k_q8_weight_codes);
constinit flash_decoder<config, arch, 1> stories_q8_state{};  // RAM: KV cache + row scratch
constinit float stories_q8_logits[config::vocab]{};            // RAM: one row of logits

namespace {

int run() {
    embedded::checker check;
    embedded::print("stories260K int8: ", sizeof(ctattn_stories260k_q8_weights) + sizeof(ctattn_stories260k_q8_weight_codes),
                    " bytes of weights in flash, KV cache ", footprint::kv_bytes, " bytes for ", capacity,
                    " positions, RAM bound ", footprint::ram_bytes, " bytes\n");
    check.is_true("the weights view points into the constant arrays",
                  stories_q8_weights.embedding.codes == ctattn_stories260k_q8_weight_codes &&
                      stories_q8_weights.embedding.scales == ctattn_stories260k_q8_weights &&
                      stories_q8_weights.final_norm.gain.data() + config::d_model <=
                          ctattn_stories260k_q8_weights + weights_image_floats<config>);

    stories_q8_state.attach(stories_q8_weights);
    bool ok = true;
    std::size_t matching = 0;
    token_id token = bos;
    embedded::print("greedy tokens:");
    for (std::size_t step = 0; step < steps && ok; ++step) {
        ok = stories_q8_state.decode_step(token, stories_q8_logits) == status::ok;
        std::size_t best = 0;
        for (std::size_t i = 1; i < config::vocab; ++i)
            if (stories_q8_logits[i] > stories_q8_logits[best]) best = i;
        embedded::print(" ", best);
        if (best == host_q8_greedy_ids[step]) ++matching;
        token = static_cast<token_id>(best);
    }
    embedded::print("\n");
    check.is_true("every decode step returns ok", ok);
    check.is_true("32 greedy tokens equal the host's int8 run", matching == steps);

    return embedded::finish(check, "stories260K int8", footprint::flash_bytes, footprint::ram_bytes, 0);
}

}  // namespace

int firmware_main() { return run(); }
