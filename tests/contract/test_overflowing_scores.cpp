// SPDX-License-Identifier: Apache-2.0
// The numeric contract (docs/design.md, "Numeric contract", point 2) where a float score q . k
// overflows although q and k are finite: a sign flip (the exact score is the row's largest, the
// float one -inf) and partial sums that overflow where the exact score is 1 (overflowing_scores.hpp
// has the inputs, their double reference and the tolerance). Checked on every arch of the build
// (default and each narrower one down to scalar), head_dim 8 (the vector decode kernel's shape,
// and on Cortex-M the VFP kernel's: tests/embedded/numeric_fw.cpp runs the same cases there) and
// 32, through each core (one-row, blocked, the scalar and vector decode kernels), the layer
// (multi_head_attention::forward) and a language model's forward, prefill and decode_step.
#include <catch2/catch.hpp>

#include <ctattn/ctattn.hpp>
#include <ctattn/model/decoder.hpp>

#include <algorithm>
#include <cstddef>
#include <memory>
#include <sstream>
#include <type_traits>
#include <vector>

#include "overflowing_scores.hpp"

namespace {

using ctattn::key_range;
using ctattn::simd::scalar_arch;
using namespace ctattn_test::overflow;

template <class Arch = ctattn::simd::default_arch, class F>
void for_each_arch(F&& f) {
    f(Arch{});
    if constexpr (!std::is_same_v<Arch, scalar_arch>)
        for_each_arch<decltype(ctattn::simd::narrower_arch_of<Arch>())>(f);
}

void require_match(const float* got, std::size_t stride, const double* want, std::size_t rows, std::size_t width,
                   const char* what) {
    const double ratio = error_ratio(got, stride, want, rows, width);
    std::ostringstream rows_text;  // got / want, row by row
    for (std::size_t r = 0; r < rows; ++r) {
        rows_text << "\n  row " << r << ":";
        for (std::size_t d = 0; d < width; ++d) rows_text << ' ' << got[r * stride + d] << '/' << want[r * width + d];
    }
    INFO(what << ": largest error / (64 u * the row's largest |want|) = " << ratio << " (NaN: an output not finite)"
              << rows_text.str());
    REQUIRE(ratio <= 1.0);
}

// ---- the cores ---------------------------------------------------------------------------------

template <std::size_t Hd, class Arch>
void check_cores(awkward c) {
    using Config = one_head<Hd>;
    INFO(case_name(c) << ", head_dim " << Hd << ", arch " << ctattn::simd::arch_name<Arch>());
    float x[tokens * Hd], k[tokens * Hd], context[tokens * Hd];
    double want[tokens * Hd];
    token_rows<Hd>(c, x);
    keys_of<Hd>(x, k);
    context_in_double<Hd>(x, want);
    float scores[2 * Config::seq_capacity];

    ctattn::attend<Config, Arch>(tokens, x, 0, tokens, k, x, {}, context, scores);
    require_match(context, Hd, want, tokens, Hd, "one-row core");

    if constexpr (ctattn::simd::width<Arch> > 1) {
        auto scratch = std::make_unique<ctattn::blocked_attention_scratch<Config, Arch>>();
        std::fill(std::begin(context), std::end(context), -77.0f);
        ctattn::attend_blocked<Config, Arch>(tokens, x, 0, tokens, k, x, {}, context, *scratch);
        require_match(context, Hd, want, tokens, Hd, "blocked core");
    }

    // The decode kernels, one query against keys 0..i, for one head and for two query heads
    // sharing the KV head (both given q_i): each either hands the row back (false: the caller runs
    // the one-row core, checked above) or writes the right output.
    for (std::size_t i = 0; i < tokens; ++i) {
        const key_range visible{0, i + 1};
        float q2[2 * Hd], out[2 * Hd];
        std::copy(x + i * Hd, x + (i + 1) * Hd, q2);
        std::copy(x + i * Hd, x + (i + 1) * Hd, q2 + Hd);
        double want_pair[2 * Hd];
        std::copy(want + i * Hd, want + (i + 1) * Hd, want_pair);
        std::copy(want + i * Hd, want + (i + 1) * Hd, want_pair + Hd);
        INFO("query " << i);
        if (ctattn::kernels::decode_attention<1, 1, Hd, Hd>(q2, k, x, visible, Config::score_scale, scores, out))
            require_match(out, Hd, want + i * Hd, 1, Hd, "scalar decode kernel, one head");
        if (ctattn::kernels::decode_attention<2, 1, Hd, Hd>(q2, k, x, visible, Config::score_scale, scores, out))
            require_match(out, Hd, want_pair, 2, Hd, "scalar decode kernel, two heads");
        if constexpr (ctattn::kernels::vector_decode_fits<Hd, Arch>) {
            if (ctattn::kernels::vector_decode_attention<1, 1, Hd, Hd, Hd, Arch>(q2, k, x, visible, Config::score_scale,
                                                                                 scores, out))
                require_match(out, Hd, want + i * Hd, 1, Hd, "vector decode kernel, one head");
            if (ctattn::kernels::vector_decode_attention<2, 1, Hd, Hd, Hd, Arch>(q2, k, x, visible, Config::score_scale,
                                                                                 scores, out))
                require_match(out, Hd, want_pair, 2, Hd, "vector decode kernel, two heads");
        }
    }
}

// ---- the layer ---------------------------------------------------------------------------------

template <std::size_t Hd, class Arch>
void check_layer(awkward c) {
    using Config = one_head<Hd>;
    using mha = ctattn::multi_head_attention<Config, Arch>;
    INFO(case_name(c) << ", head_dim " << Hd << ", arch " << ctattn::simd::arch_name<Arch>());
    auto w = std::make_unique<ctattn::attention_weights<Config>>();
    set_one_head_projections<Hd>(*w);
    float x[tokens * Hd], y[tokens * Hd];
    double want[tokens * Hd];
    token_rows<Hd>(c, x);
    context_in_double<Hd>(x, want);
    auto ws = std::make_unique<typename mha::workspace_type>();
    REQUIRE(mha::forward(*w, x, tokens, y, *ws) == ctattn::status::ok);
    require_match(y, Hd, want, tokens, Hd, "multi_head_attention::forward");
}

// ---- the language model: forward, prefill, decode_step ------------------------------------------

template <std::size_t Hd, class Arch>
void check_model(awkward c) {
    using Config = paired_heads_model<Hd>;
    constexpr std::size_t V = Config::vocab;
    INFO(case_name(c) << ", head_dim " << Hd << ", arch " << ctattn::simd::arch_name<Arch>());
    float x[tokens * Hd];
    double want[tokens * V];
    token_rows<Hd>(c, x);
    logits_in_double<Hd>(x, want);
    auto w = std::make_unique<ctattn::model_weights<Config>>();
    fill_model<Hd>(*w, x);
    const ctattn::token_id ids[tokens] = {0, 1, 2};
    std::vector<float> logits(tokens * V, -77.0f);

    using model = ctattn::language_model<Config, Arch>;
    auto ws = std::make_unique<typename model::workspace_type>();
    REQUIRE(model::forward(*w, ids, tokens, logits.data(), *ws) == ctattn::status::ok);
    require_match(logits.data(), V, want, tokens, V, "language_model::forward");

    auto dec = std::make_unique<ctattn::decoder<Config, ctattn::owned_weights, Arch>>(*w);
    std::fill(logits.begin(), logits.end(), -77.0f);
    for (std::size_t p = 0; p < tokens; ++p) REQUIRE(decode_step(*dec, ids[p], logits.data() + p * V) == ctattn::status::ok);
    require_match(logits.data(), V, want, tokens, V, "decode_step");

    for (std::size_t n = 2; n <= tokens; ++n) {  // the last row of each prefill
        dec->reset();
        float last[V];
        REQUIRE(prefill(*dec, ids, n, last) == ctattn::status::ok);
        INFO("prefill of " << n << " tokens");
        require_match(last, V, want + (n - 1) * V, 1, V, "prefill");
    }
}

}  // namespace

TEST_CASE("a score that overflows to -inf with the wrong sign or from partial sums is recomputed exactly by every core, on every arch",
          "[numeric][attention][overflow]") {
    for (awkward c : cases)
        for_each_arch([c](auto arch) {
            check_cores<8, decltype(arch)>(c);
            check_cores<32, decltype(arch)>(c);
        });
}

TEST_CASE("the attention layer gives the double reference's output when a score overflows, head_dim 8 and 32, on every arch",
          "[numeric][attention][layer][overflow]") {
    for (awkward c : cases)
        for_each_arch([c](auto arch) {
            check_layer<8, decltype(arch)>(c);
            check_layer<32, decltype(arch)>(c);
        });
}

// The model adds no arithmetic of its own to an overflowing row: it hands the decode kernels'
// and the cores' refusals to attend, whose every arch the two cases above check. So the whole
// model runs on the default arch and the scalar path only (each arch's model instance was most of
// this file's compile time: 30-45 s of CPU per folder).
TEST_CASE("forward, prefill and decode_step give the double reference's logits when a score overflows, head_dim 8 and 32, default and scalar arch",
          "[numeric][model][overflow]") {
    for (awkward c : cases) {
        check_model<8, ctattn::simd::default_arch>(c);
        check_model<32, ctattn::simd::default_arch>(c);
        if constexpr (!std::is_same_v<ctattn::simd::default_arch, scalar_arch>) {
            check_model<8, scalar_arch>(c);
            check_model<32, scalar_arch>(c);
        }
    }
}
