// SPDX-License-Identifier: Apache-2.0
// Firmware test: stories260K with its whole 512-position context on a small part. The weights are
// int8 (Q8, configs/stories260k_q8.json) in flash, written at build time by tools/ctattn_gen.py
// (--weights-header) and read in place through make_weights_view; RAM holds the decoder, whose KV
// cache stores int8 rows (CTATTN_SMALL_RAM_KV_FLOAT16 unset) or float16 rows, and a row of logits.
//   Cortex-M4F, examples/boards/mps2-an386-small.ld: 512 KiB of flash, 256 KiB of RAM, int8 KV;
//     .data + .bss + stack <= 240 KiB, checked here at compile time (the library's bound) and by
//     the linker script's ASSERT (the linked image)
//   Cortex-M55, examples/boards/mps3-an547.ld: float16 KV in the 512 KiB DTCM
// Checks: all 512 positions from BOS, free-running, each position's argmax printed and equal to
// the host's (the host's scalar run of the same configuration: tests/embedded/stories_small_ram_ids.hpp,
// which tests/model/test_kv_storage.cpp checks on the host). The logits are the host scalar build's
// bit for bit: the same fused multiply-adds in the same order, integer dots, the library's own e^x
// and cos/sin (simd/math.hpp) rather than newlib's; on the M55 Helium's four lanes sum a row's
// squares as the scalar path does (kernels/norm.hpp), its Q8 dots and float16 decode attention are
// the scalar path's (simd/mve.hpp, kernels/decode/attention.hpp) and its vector e^x is the same
// polynomial. A core without a fused multiply-add would round otherwise: there, the ids are
// teacher-forced by the host's and must agree except at near-ties, and at >= 98% of the positions.
// firmware_main() returns the number of failures.
#include <cstddef>
#include <cstdint>

#include <ctattn/model/decoder.hpp>
#include <ctattn/model/footprint.hpp>
#include <ctattn/model/weights_image.hpp>
#include <ctattn_stories260k_q8_weights.h>

#include "check.hpp"
#include "print.hpp"
#include "stack.hpp"
#include "stories_small_ram_ids.hpp"

namespace {

using namespace ctattn;

// stories260K (llama2.c): 5 layers, d_model 64, 8 query heads sharing 4 K/V heads, SwiGLU 172,
// at its trained context of 512, with int8 weights in groups of 32 (configs/stories260k_q8.json).
using stories_attention = attention_config<64, 8, 4, 512, no_bias, causal_mask>;
using stories_block = block_config<stories_attention, ffn_config<64, swiglu, 172>, rms_norm<eps_1e_minus<5>>, pre_norm>;
using stories_float =
    stacked_model_config<512, 5, stories_block, rotary_positions<10000>, rms_norm<eps_1e_minus<5>>, tied_head>;
using config = with_weight_format<stories_float, q8_weights<q8_group_rule<32, 8>>>;
using arch = simd::default_arch;

#if defined(CTATTN_SMALL_RAM_KV_FLOAT16) && CTATTN_SMALL_RAM_KV_FLOAT16
using kv = kv_float16;
constexpr const std::uint32_t* host_ids = small_ram_ids::ids_kv_float16;
constexpr const float* host_margins = small_ram_ids::margins_kv_float16;
#else
using kv = kv_int8;
constexpr const std::uint32_t* host_ids = small_ram_ids::ids_kv_int8;
constexpr const float* host_margins = small_ram_ids::margins_kv_int8;
#endif
using footprint = ctattn::footprint<config, kv>;
constexpr std::size_t context = config::seq_capacity;

static_assert(weights_image_floats<config> == CTATTN_STORIES260K_Q8_WEIGHTS_FLOATS &&
                  weights_image_codes<config> == CTATTN_STORIES260K_Q8_WEIGHT_CODES,
              "the generated int8 weights header disagrees with the library's layout");
// The RAM budget: .data + .bss + stack. The library's compile-time bound (KV cache, scratch, a row
// of logits and a context of ids) plus the stack the board reserves plus 2 KiB for newlib's .data
// (1,080 bytes) must fit; the linker script checks the linked image exactly.
static_assert(footprint::ram_bytes + CTATTN_SMALL_RAM_STACK_BYTES + 2048 <= CTATTN_SMALL_RAM_BUDGET_BYTES,
              "stories260K at 512 positions: KV cache + scratch + stack must fit the board's RAM budget");
static_assert(ctattn::fits<config, kv>(CTATTN_SMALL_RAM_BUDGET_BYTES - CTATTN_SMALL_RAM_STACK_BYTES,
                                        CTATTN_SMALL_RAM_FLASH_BYTES));

constexpr token_id bos = 1;
// Bit for bit the host's scalar build (see above): both boards' cores have a fused multiply-add.
constexpr bool same_arithmetic_as_host = simd::target::scalar_fma;
// Where a core with other arithmetic may pick another id than the host: float rounding differs,
// about 1e-6 logits at first; an int8 code (a KV row's, or a Q8 activation's) whose x / scale lies
// within that rounding of a half rounds the other way, and that one-step change moves later logits
// by tenths of a logit (0.40 on Cortex-M4F and 0.74 on Cortex-M55 before their arithmetic was made
// the host's). So a near-tie is a host margin under 1 logit; ids must be equal everywhere else,
// and at 98% of all positions.
constexpr float near_tie_logits = 1.0f;
constexpr std::size_t required_matches = (context * 98 + 99) / 100;

}  // namespace

// Named, external objects so tools/footprint.py can read their sizes from the symbol table.
constinit const model_weights_view<config> small_ram_weights =
    make_weights_view<config>(ctattn_stories260k_q8_weights, ctattn_stories260k_q8_weight_codes);  // flash
constinit flash_decoder<config, arch, 1, kv> small_ram_state{};  // RAM: KV cache + row scratch
constinit float small_ram_logits[config::vocab]{};               // RAM: one row of logits

namespace {

int run() {
    embedded::checker check;
    embedded::print("stories260K, int8 weights: ", sizeof(ctattn_stories260k_q8_weights) + sizeof(ctattn_stories260k_q8_weight_codes),
                    " bytes in flash; ", kv::name, " KV cache ", footprint::kv_bytes, " bytes for ", context,
                    " positions, arch ", simd::arch_name<arch>(), "\n");
    small_ram_state.attach(small_ram_weights);
    bool ok = true;
    std::size_t matching = 0, near_ties = 0, unexplained = 0;
    float smallest_differing_margin = 1e30f, largest_margin_drift = 0.0f;
    std::size_t drift_position = 0;
    embedded::print(same_arithmetic_as_host ? "greedy ids (free-running):" : "greedy ids (teacher-forced by the host's):");
    std::size_t previous = bos;
    for (std::size_t p = 0; p < context && ok; ++p) {
        // Free-running where the arithmetic is the host's (its own previous id, BOS first);
        // elsewhere teacher forcing, position p reading the host's id from position p - 1, so one
        // near-tie does not change every later input.
        const token_id input = p == 0 ? bos : static_cast<token_id>(same_arithmetic_as_host ? previous : host_ids[p - 1]);
        ok = small_ram_state.decode_step(input, small_ram_logits) == status::ok;
        std::size_t best = 0;
        for (std::size_t i = 1; i < config::vocab; ++i)
            if (small_ram_logits[i] > small_ram_logits[best]) best = i;
        embedded::print(" ", best);
        previous = best;
        if (best == host_ids[p]) {
            ++matching;
            // How far this core's logits are from the host's: the top-1 margin's difference.
            float second = -1e30f;
            for (std::size_t i = 0; i < config::vocab; ++i)
                if (i != best && small_ram_logits[i] > second) second = small_ram_logits[i];
            const float drift = small_ram_logits[best] - second - host_margins[p];
            const float drift_abs = drift < 0.0f ? -drift : drift;
            if (drift_abs > largest_margin_drift) largest_margin_drift = drift_abs, drift_position = p;
        } else {
            embedded::print(" (host ", std::size_t{host_ids[p]}, ", margin ", host_margins[p], ")");
            smallest_differing_margin = host_margins[p] < smallest_differing_margin ? host_margins[p] : smallest_differing_margin;
            if (host_margins[p] < near_tie_logits)
                ++near_ties;
            else
                ++unexplained;
        }
    }
    embedded::print("\n");
    embedded::print("ids equal to the host's: ", matching, " of ", context, "; differing at near-ties: ", near_ties,
                    ", elsewhere: ", unexplained, "\n");
    embedded::print("largest |top-1 margin - host's| where the ids agree: ", largest_margin_drift, " logits at position ",
                    drift_position, "\n");
    check.is_true("every decode step returns ok", ok);
    if constexpr (same_arithmetic_as_host) {
        check.is_true("all 512 free-running greedy ids equal the host's scalar build's", matching == context);
        // The pinned margins have 6 significant digits (%.6g), so for margins below 100 they are
        // within 5e-5 of the host's floats; a logit that differed in its last bit would show only
        // by luck, but one moved by a changed code (tenths of a logit) cannot hide.
        check.is_true("every top-1 margin equals the host's to the pinned digits", largest_margin_drift <= 1e-4f);
    } else {
        check.is_true("every greedy id equals the host's where the host's top-1 leads by 1 logit or more",
                      unexplained == 0);
        check.is_true("at least 98% of the greedy ids equal the host's", matching >= required_matches);
    }
    return embedded::finish(check, "stories260K small RAM", footprint::flash_bytes, footprint::ram_bytes, 0);
}

}  // namespace

int firmware_main() { return run(); }
