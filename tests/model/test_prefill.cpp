// SPDX-License-Identifier: Apache-2.0
// The decoder's default prefill runs the prompt in chunks of default_prefill_rows tokens (48 on
// vector arches, 1 on scalar_arch); here it is checked against the same decoder fed one token at
// a time with decode_step, on a llama-shaped model (RoPE, grouped-query attention, head_dim 8 as
// stories260K's, SwiGLU, RMSNorm, tied head): the logits after the prompt, and the KV cache it
// leaves, for prompts of 1, 5, chunk - 1, chunk, chunk + 1 and 64 tokens; and a prompt longer
// than the room left returns cache_full with the decoder as it was. An explicit chunk of 7 runs
// the same checks where the default chunk is 1 (scalar builds).
//
// Tolerance: both paths run the same projections, norms and RoPE (bit for bit on one row or
// many: every output sums its terms in the same order), so layer 0's K/V rows are equal exactly.
// Attention differs: chunks take the blocked core (a GEMM tile per block of queries, xsimd's exp),
// tokens the decode kernel (keys across lanes, exp2 by polynomial, within 2.5 ulp): weights differ
// by a few ulp, each layer's output by ~1e-6 relative, and the later layers' K/V and the logits by
// that times the layers. 5e-5 * max|logit| (and of max|K/V| for the cache) is ~10x what float
// arithmetic reaches here (measured 5e-7 for a 5-token prompt) and still fails at once on a wrong row, position
// or chunk boundary (errors of order 1).
#include <catch2/catch.hpp>

#include <ctattn/model/decoder.hpp>

#include <cstring>
#include <memory>
#include <vector>

#include "../support/model_support.hpp"

namespace {

using namespace ctattn;

constexpr double prefill_tolerance = 5e-5;

using llama_block = block_config<attention_config<32, 4, 2, 112, no_bias, causal_mask>, ffn_config<32, swiglu, 56>,
                                 rms_norm<eps_1e_minus<5>>, pre_norm>;
using llama_model = stacked_model_config<61, 3, llama_block, rotary_positions<10000>, rms_norm<eps_1e_minus<5>>, tied_head>;

double largest_difference(const float* got, const float* want, std::size_t n, double& max_want) {
    double max_err = 0.0;
    max_want = 0.0;
    for (std::size_t i = 0; i < n; ++i) {
        max_want = std::max(max_want, double(std::abs(want[i])));
        max_err = std::max(max_err, double(std::abs(got[i] - want[i])));
    }
    return max_err;
}

// Every layer's cached K and V rows of positions 0 .. n-1, head by head.
template <class Chunked, class Stepped>
void require_same_cache(const Chunked& chunked, const Stepped& stepped, std::size_t n) {
    std::size_t layer = 0;
    hana::for_each(hana::make_range(hana::size_c<0>, hana::size_c<llama_model::layers>), [&](auto index) {
        const auto& a = hana::at(chunked.cache().layers, index);
        const auto& b = hana::at(stepped.cache().layers, index);
        constexpr std::size_t kv_heads = std::remove_cvref_t<decltype(a)>::kv_heads;
        constexpr std::size_t head_dim = std::remove_cvref_t<decltype(a)>::head_dim;
        constexpr std::size_t S = llama_model::seq_capacity;
        for (std::size_t g = 0; g < kv_heads; ++g) {
            const std::size_t at = g * S * head_dim;
            double max_k = 0.0, max_v = 0.0;
            const double err_k = largest_difference(a.k.data() + at, b.k.data() + at, n * head_dim, max_k);
            const double err_v = largest_difference(a.v.data() + at, b.v.data() + at, n * head_dim, max_v);
            INFO("layer " << layer << " KV head " << g << " prompt " << n << ": |K diff| " << err_k << " of " << max_k
                          << ", |V diff| " << err_v << " of " << max_v);
            if (layer == 0) {  // nothing but projections and RoPE before layer 0's cache
                REQUIRE(err_k == 0.0);
                REQUIRE(err_v == 0.0);
            }
            REQUIRE(err_k <= prefill_tolerance * max_k);
            REQUIRE(err_v <= prefill_tolerance * max_v);
        }
        ++layer;
    });
}

template <std::size_t Chunk>
void check_prefill_in_chunks() {
    using chunked_decoder = decoder<llama_model, owned_weights, simd::default_arch, Chunk>;
    using stepped_decoder = decoder<llama_model, owned_weights, simd::default_arch, 1>;
    constexpr std::size_t V = llama_model::vocab;
    static_assert(chunked_decoder::prefill_rows == Chunk);
    const auto w = ctattn_test::random_model<llama_model>(2024);
    const auto tokens = ctattn_test::random_tokens(llama_model::seq_capacity, V, 7);
    auto chunked = std::make_unique<chunked_decoder>(*w);
    auto stepped = std::make_unique<stepped_decoder>(*w);
    std::vector<std::size_t> lengths{1, 5, Chunk + 1, 64};
    if (Chunk > 1) lengths.insert(lengths.end(), {Chunk - 1, Chunk});
    for (const std::size_t n : lengths) {
        std::vector<float> got(V), want(V);
        chunked->reset();
        stepped->reset();
        REQUIRE(chunked->prefill(tokens.data(), n, got.data()) == status::ok);
        for (std::size_t p = 0; p < n; ++p) REQUIRE(stepped->decode_step(tokens[p], want.data()) == status::ok);
        REQUIRE(chunked->position() == n);
        double max_want = 0.0;
        const double err = largest_difference(got.data(), want.data(), V, max_want);
        INFO("chunk " << Chunk << ", prompt of " << n << " tokens: largest |chunked - stepped| logit " << err
                      << " with max |logit| " << max_want);
        REQUIRE(err <= prefill_tolerance * max_want);
        require_same_cache(*chunked, *stepped, n);
        // Decoding goes on from the chunked cache as from the stepped one.
        REQUIRE(chunked->decode_step(tokens[n], got.data()) == status::ok);
        REQUIRE(stepped->decode_step(tokens[n], want.data()) == status::ok);
        REQUIRE(largest_difference(got.data(), want.data(), V, max_want) <= prefill_tolerance * max_want);
    }
}

}  // namespace

TEST_CASE("the decoder prefills in chunks by default on vector arches and one token at a time on scalar_arch",
          "[model][prefill]") {
    constexpr std::size_t chunk = default_prefill_rows<llama_model, simd::default_arch>;
    CHECK(decoder<llama_model>::prefill_rows == chunk);
    if constexpr (uses_blocked_attention<simd::default_arch>)
        CHECK(chunk == 8 * kernels::projection_tile_shape<simd::default_arch>::rows);
    CHECK(default_prefill_rows<llama_model, simd::scalar_arch> == 1);
    // Cortex-M RAM: the scalar decoder is exactly the one-token decoder it was, stories260K's shape included.
    using stories260k_block = block_config<attention_config<64, 8, 4, 512, no_bias, causal_mask>, ffn_config<64, swiglu, 172>,
                                           rms_norm<eps_1e_minus<5>>, pre_norm>;
    using stories260k = stacked_model_config<512, 5, stories260k_block, rotary_positions<10000>, rms_norm<eps_1e_minus<5>>,
                                             tied_head>;
    STATIC_REQUIRE(sizeof(decoder<stories260k, owned_weights, simd::scalar_arch>) ==
                   sizeof(decoder<stories260k, owned_weights, simd::scalar_arch, 1>));
    STATIC_REQUIRE(sizeof(flash_decoder<stories260k, simd::scalar_arch, 1>) ==
                   sizeof(decoder<stories260k, owned_weights, simd::scalar_arch, 1>));
}

TEST_CASE("prefill in default chunks gives the logits and KV cache of token-by-token decoding", "[model][prefill]") {
    check_prefill_in_chunks<default_prefill_rows<llama_model, simd::default_arch>>();
}

TEST_CASE("prefill in chunks of 7 gives the logits and KV cache of token-by-token decoding", "[model][prefill]") {
    check_prefill_in_chunks<7>();
}

TEST_CASE("a prompt longer than the room left returns cache_full and leaves the decoder as it was", "[model][prefill]") {
    using dec_type = decoder<llama_model>;
    constexpr std::size_t S = llama_model::seq_capacity, V = llama_model::vocab;
    const auto w = ctattn_test::random_model<llama_model>(99);
    const auto tokens = ctattn_test::random_tokens(S + 1, V, 3);
    auto dec = std::make_unique<dec_type>(*w);
    std::vector<float> logits(V, -3.0f);
    REQUIRE(dec->prefill(tokens.data(), S + 1, logits.data()) == status::cache_full);
    REQUIRE(dec->position() == 0);
    for (float x : logits) REQUIRE(x == -3.0f);

    const std::size_t first = 50;
    REQUIRE(dec->prefill(tokens.data(), first, logits.data()) == status::ok);
    auto before = std::make_unique<dec_type>(*dec);  // the whole state: cache, length, scratch
    const std::vector<float> logits_before = logits;
    REQUIRE(dec->prefill(tokens.data() + first, S - first + 1, logits.data()) == status::cache_full);
    REQUIRE(dec->position() == first);
    REQUIRE(logits == logits_before);
    REQUIRE(std::memcmp(&dec->cache(), &before->cache(), sizeof(dec->cache())) == 0);
    // The rest still fits exactly.
    REQUIRE(dec->prefill(tokens.data() + first, S - first, logits.data()) == status::ok);
    REQUIRE(dec->position() == S);
}
