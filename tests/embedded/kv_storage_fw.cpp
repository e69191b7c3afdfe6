// SPDX-License-Identifier: Apache-2.0
// Firmware test: the KV cache storage types (base/kv_storage.hpp) on the core's own FPU, where the
// float16 conversions are one VCVTB each (simd/arm_vfp.hpp) instead of the host's software path.
// Checks, each printed as pass/FAIL:
//   float16 -> float   all 65536 halves: the kernels' conversion (VCVTB) gives the bits of the
//                      exact software one (NaNs: a NaN)
//   float -> float16   every half and both halfway points around it: the same bits as software
//                      (round to nearest even), on the core's FPSCR
//   decoding           the llama reference case (tools/embed_golden.py) through a float16 and an
//                      int8 KV cache, token by token, against PyTorch's logits within the host test's
//                      tolerance (tests/model/test_kv_storage.cpp): float32's plus 16 x the type's
//                      step x max|logit|
// firmware_main() returns the number of failures; startup.cpp turns it into QEMU's exit status.
#include <cstddef>
#include <cstdint>

#include <ctattn/kernels/decode/kv_rows.hpp>
#include <ctattn/model/decoder.hpp>
#include <ctattn/model/footprint.hpp>

#include CTATTN_GOLDEN_HEADER

#include "check.hpp"
#include "golden_llama_model.hpp"
#include "print.hpp"
#include "stack.hpp"

namespace {

using namespace ctattn;
using config = golden_llama::config;
using arch = simd::default_arch;
constexpr std::size_t vocab = config::vocab, seq = config::seq_capacity;

}  // namespace

extern constexpr model_weights<config> kv_weights_rom = golden_llama::make_weights();                    // flash
constinit kv_decoder<config, kv_float16, owned_weights, arch> kv_float16_state{};          // RAM
constinit kv_decoder<config, kv_int8, owned_weights, arch> kv_int8_state{};                // RAM
constinit float kv_logits[vocab]{};

namespace {

bool same_bits(float a, float b) {
    std::uint32_t x, y;
    __builtin_memcpy(&x, &a, 4);
    __builtin_memcpy(&y, &b, 4);
    return x == y || (a != a && b != b);
}

// The host test's bound (tests/model/test_kv_storage.cpp): float32's 2e-4 |want| + 2e-4 max|want|,
// plus 16 x step x max|want|.
template <class Decoder>
void check_decoding(embedded::checker& check, Decoder& dec, double step, const char* what) {
    double max_want = 0.0;
    for (std::size_t i = 0; i < seq * vocab; ++i)
        max_want = golden::logits[i] > max_want ? golden::logits[i] : (-golden::logits[i] > max_want ? -golden::logits[i] : max_want);
    dec.attach(kv_weights_rom);
    bool ok = true;
    double worst_ratio = 0.0, worst_error = 0.0;
    for (std::size_t p = 0; p < seq; ++p) {
        ok = ok && dec.decode_step(static_cast<token_id>(golden::tokens[p]), kv_logits) == status::ok;
        for (std::size_t i = 0; i < vocab; ++i) {
            const double want = golden::logits[p * vocab + i];
            const double err = kv_logits[i] > want ? kv_logits[i] - want : want - kv_logits[i];
            const double bound = 2e-4 * (want < 0 ? -want : want) + 2e-4 * max_want + 16.0 * step * max_want;
            if (!(err / bound <= worst_ratio)) worst_ratio = err / bound, worst_error = err;
        }
    }
    check.is_true("decode steps return ok", ok);
    check.bounded(what, worst_error, worst_ratio);
}

int run() {
    embedded::checker check;
    embedded::print("KV storage types on ", simd::arch_name<arch>(), ", half conversion by ",
                    simd::target::vfp_asm ? "VCVTB" : "software", "\n");
    bool to_float = true;
    for (std::uint32_t h = 0; h < 65536; ++h) {
        const auto half = static_cast<std::uint16_t>(h);
        to_float = to_float && same_bits(kernels::kv_element_value<kv_float16>(half), float_from_half(half));
    }
    check.is_true("float16 -> float: all 65536 halves equal the software conversion", to_float);
    bool to_half = true;
    for (std::uint32_t h = 0; h < 0x7c00; ++h) {
        const float lo = float_from_half(static_cast<std::uint16_t>(h));
        const float hi = h + 1 < 0x7c00 ? float_from_half(static_cast<std::uint16_t>(h + 1)) : 65520.0f;
        const float mid = (lo + hi) * 0.5f;  // exact: halves have 11 significant bits
        for (float x : {lo, mid, -lo, -mid})
            to_half = to_half && kernels::kv_half_from_float(x) == half_from_float(x);
    }
    check.is_true("float -> float16: every half and halfway point rounds as the software conversion", to_half);

    check_decoding(check, kv_float16_state, 0x1p-11, "float16 cache: logits vs PyTorch (bound float32's + 16 step max|logit|)");
    check_decoding(check, kv_int8_state, 1.0 / 254, "int8 cache: logits vs PyTorch (bound float32's + 16 step max|logit|)");
    return embedded::finish(check, golden::case_name, ctattn::footprint<config, kv_int8>::flash_bytes,
                            ctattn::footprint<config, kv_int8>::ram_bytes, 0);
}

}  // namespace

int firmware_main() { return run(); }
