// SPDX-License-Identifier: Apache-2.0
// Every mask policy inside a model: run-time mask parameters reach each layer. A padded sequence
// through a model whose layers use key padding (language_model::forward with per-layer mask
// parameters, or one valid length for the whole sequence), and a left-padded prompt through the
// decoder with a user-defined causal policy that takes a parameter (prefill sets it, decode_step
// keeps it), each against a double-precision reference written out plainly here.
#include <catch2/catch.hpp>

#include <ctattn/model/decoder.hpp>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstddef>
#include <functional>
#include <limits>
#include <memory>
#include <random>
#include <vector>

#include "../support/model_support.hpp"

namespace {

using namespace ctattn;
using vec = std::vector<double>;

// A causal mask for left-padded prompts (batched generation pads prompts on the left): a query at
// p sees keys first_visible .. p, so the padding before first_visible is never attended to. It is
// causal, so the decoder accepts it; its parameter is per sequence.
struct left_padded_causal_mask {
    struct params {
        std::size_t first_visible = 0;
    };
    [[maybe_unused]] static constexpr const char* name = "left_padded_causal";  // like the built-in policies
    static constexpr status validate(const params& p, std::size_t n_keys) noexcept {
        return p.first_visible < n_keys ? status::ok : status::invalid_mask;
    }
    static constexpr key_range visible_keys(const params& p, std::size_t query_pos, std::size_t n_keys) noexcept {
        const std::size_t end = query_pos + 1 < n_keys ? query_pos + 1 : n_keys;
        return {p.first_visible < end ? p.first_visible : end, end};
    }
};
static_assert(mask_policy<left_padded_causal_mask>);

// ---- double-precision reference --------------------------------------------------------------

using visibility = std::function<bool(std::size_t query, std::size_t key)>;

// y = x @ w (+ b); x: rows x din, w: din x dout (row-major, ctattn's x @ W convention).
template <class W>
vec matmul(const vec& x, const W& w, const float* b, std::size_t rows, std::size_t din, std::size_t dout) {
    static_assert(W::size > 0);
    REQUIRE(W::size == din * dout);
    // Through data(), not operator(): GCC 12 folds the identical matmul bodies of (12 x 12) and
    // (16 x 12) weights into one and then warns about the (16 x 12) rows past the folded bound.
    const float* weights = w.data();
    vec y(rows * dout, 0.0);
    for (std::size_t r = 0; r < rows; ++r)
        for (std::size_t c = 0; c < dout; ++c) {
            double sum = b != nullptr ? double(b[c]) : 0.0;
            for (std::size_t k = 0; k < din; ++k) sum += x[r * din + k] * double(weights[k * dout + c]);
            y[r * dout + c] = sum;
        }
    return y;
}

template <class Block>
vec reference_attention(const block_weights<Block>& w, const vec& x, std::size_t n, const visibility& visible) {
    using A = typename Block::attention;
    constexpr std::size_t D = A::d_model, hd = A::head_dim, kv = A::kv_dim;
    const vec q = matmul(x, w.attention.wq, w.attention.q_bias(), n, D, D);
    const vec k = matmul(x, w.attention.wk, w.attention.k_bias(), n, D, kv);
    const vec v = matmul(x, w.attention.wv, w.attention.v_bias(), n, D, kv);
    vec context(n * D, 0.0);
    for (std::size_t h = 0; h < A::heads; ++h) {
        const std::size_t g = h / A::group_size;
        for (std::size_t i = 0; i < n; ++i) {
            vec s(n, -std::numeric_limits<double>::infinity());
            double m = -std::numeric_limits<double>::infinity();
            for (std::size_t j = 0; j < n; ++j) {
                if (!visible(i, j)) continue;
                double dot = 0.0;
                for (std::size_t d = 0; d < hd; ++d) dot += q[i * D + h * hd + d] * k[j * kv + g * hd + d];
                s[j] = dot / std::sqrt(double(hd));
                m = std::max(m, s[j]);
            }
            if (!(m > -std::numeric_limits<double>::infinity())) continue;  // nothing visible: zeros
            double sum = 0.0;
            for (double& e : s) sum += (e = std::exp(e - m));
            for (std::size_t j = 0; j < n; ++j)
                for (std::size_t d = 0; d < hd; ++d) context[i * D + h * hd + d] += s[j] / sum * v[j * kv + g * hd + d];
        }
    }
    return matmul(context, w.attention.wo, w.attention.o_bias(), n, D, D);
}

template <std::size_t D, class NormWeights>
void reference_layer_norm(vec& x, std::size_t n, const NormWeights& w) {
    for (std::size_t r = 0; r < n; ++r) {
        double mean = 0.0, var = 0.0;
        for (std::size_t i = 0; i < D; ++i) mean += x[r * D + i];
        mean /= double(D);
        for (std::size_t i = 0; i < D; ++i) var += (x[r * D + i] - mean) * (x[r * D + i] - mean);
        var /= double(D);
        for (std::size_t i = 0; i < D; ++i)
            x[r * D + i] = (x[r * D + i] - mean) / std::sqrt(var + 1e-5) * double(w.gain[i]) + double(w.bias[i]);
    }
}

// ReLU FFN with biases: relu(x W1 + b1) W2 + b2.
template <class Block>
vec reference_ffn(const block_weights<Block>& w, const vec& x, std::size_t n) {
    constexpr std::size_t D = Block::d_model, F = Block::d_ff;
    vec hidden = matmul(x, w.ffn.w1, w.ffn.b1_data(), n, D, F);
    for (double& h : hidden) h = h > 0.0 ? h : 0.0;
    return matmul(hidden, w.ffn.w2, w.ffn.b2_data(), n, F, D);
}

// Post-norm block: x = LN1(x + Attn(x)); x = LN2(x + FFN(x)).
template <class Block>
void reference_block(const block_weights<Block>& w, vec& x, std::size_t n, const visibility& visible) {
    constexpr std::size_t D = Block::d_model;
    const vec a = reference_attention(w, x, n, visible);
    for (std::size_t i = 0; i < n * D; ++i) x[i] += a[i];
    reference_layer_norm<D>(x, n, w.attention_norm);
    const vec f = reference_ffn(w, x, n);
    for (std::size_t i = 0; i < n * D; ++i) x[i] += f[i];
    reference_layer_norm<D>(x, n, w.ffn_norm);
}

// embedding + learned positions, the layers, final LayerNorm, untied head with bias.
template <class Config>
vec model_logits(const model_weights<Config>& w, const std::vector<token_id>& tokens,
                 const std::vector<visibility>& layer_visibility) {
    constexpr std::size_t D = Config::d_model, V = Config::vocab;
    const std::size_t n = tokens.size();
    vec x(n * D);
    for (std::size_t p = 0; p < n; ++p)
        for (std::size_t i = 0; i < D; ++i)
            x[p * D + i] = double(w.embedding(tokens[p], i)) + double(w.positions.table(p, i));
    hana::for_each(hana::make_range(hana::size_c<0>, hana::size_c<Config::layers>), [&](auto layer) {
        reference_block(hana::at(w.layers, layer), x, n, layer_visibility[decltype(layer)::value]);
    });
    reference_layer_norm<D>(x, n, w.final_norm);
    return matmul(x, w.head.w_out, w.head.b_out.data(), n, D, V);
}

// Float32 logits against the double reference, over the rows [row_begin, row_end): the model's
// rounding (float accumulation over d_model and d_ff terms, three LayerNorms in a row) measured up
// to 4.3e-7 of the logits' scale; 5e-6 leaves a margin of ten without hiding a wrong mask, which
// moves logits by O(1).
constexpr double scale_tolerance = 5e-6;
double worst_relative_error = 0.0;

void require_close(const std::vector<float>& got, const vec& want, std::size_t vocab, std::size_t row_begin,
                   std::size_t row_end, const char* what) {
    double max_want = 0.0, max_err = 0.0;
    for (std::size_t i = row_begin * vocab; i < row_end * vocab; ++i) {
        max_want = std::max(max_want, std::abs(want[i]));
        max_err = std::max(max_err, std::abs(double(got[i]) - want[i]));
    }
    INFO(what << ": rows " << row_begin << ".." << row_end << ", largest error " << max_err << " of scale " << max_want);
    REQUIRE(max_err <= scale_tolerance * max_want);
    worst_relative_error = std::max(worst_relative_error, max_err / max_want);
}

void print_worst(const char* test) {
    std::printf("%-48s largest error %.2e of the logits' scale (tolerance %.0e)\n", test, worst_relative_error,
                scale_tolerance);
    worst_relative_error = 0.0;
}

// ---- a padded sequence through key-padding layers ---------------------------------------------

// d_model 12; GQA (3 heads on 1 KV head) and MHA layers; capacity 13; biases; post-norm LayerNorm.
using padded_gqa_block = block_config<attention_config<12, 3, 1, 13, with_bias, key_padding_mask>,
                                      ffn_config<12, dense_ffn<relu>, 20>, layer_norm<eps_1e_minus<5>>, post_norm>;
using padded_mha_block = block_config<attention_config<12, 3, 3, 13, with_bias, key_padding_mask>,
                                      ffn_config<12, dense_ffn<relu>, 7>, layer_norm<eps_1e_minus<5>>, post_norm>;
using causal_block = block_config<attention_config<12, 3, 3, 13, with_bias, causal_mask>,
                                  ffn_config<12, dense_ffn<relu>, 16>, layer_norm<eps_1e_minus<5>>, post_norm>;
using padded_model = model_config<11, learned_positions, layer_norm<eps_1e_minus<5>>, untied_head<true>,
                                  padded_gqa_block, padded_mha_block, causal_block>;

template <class Config>
std::vector<float> run_forward(const model_weights<Config>& w, const std::vector<token_id>& tokens,
                               const typename Config::mask_params& masks, status& result) {
    using model = language_model<Config>;
    auto ws = std::make_unique<typename model::workspace_type>();
    std::vector<float> logits(tokens.size() * Config::vocab, -7.0f);
    result = model::forward(w, tokens.data(), tokens.size(), logits.data(), *ws, masks);
    return logits;
}

visibility padding_visibility(std::size_t valid_len) {
    return [valid_len](std::size_t, std::size_t key) { return key < valid_len; };
}
visibility causal_visibility() {
    return [](std::size_t query, std::size_t key) { return key <= query; };
}

TEST_CASE("a model with key-padding layers matches the double reference on padded sequences", "[model][mask]") {
    constexpr std::size_t V = padded_model::vocab;
    const auto w = ctattn_test::random_model<padded_model>(1101);
    for (std::size_t n : {std::size_t(1), std::size_t(3), std::size_t(5), std::size_t(13)}) {
        for (std::size_t valid_len : {std::size_t(1), (n + 1) / 2, n}) {
            INFO("n " << n << ", valid_len " << valid_len);
            const std::vector<token_id> tokens = ctattn_test::random_tokens(n, V, unsigned(100 + n));
            status s = status::format_error;
            const std::vector<float> got =
                run_forward(*w, tokens, padded_model::sequence_mask_params(valid_len), s);
            REQUIRE(s == status::ok);
            const vec want =
                model_logits(*w, tokens, {padding_visibility(valid_len), padding_visibility(valid_len), causal_visibility()});
            require_close(got, want, V, 0, n, "one valid length for the sequence");

            // Rows of real tokens never see a padding key in any layer (the causal layer's rows
            // below valid_len see only earlier rows): other padding tokens give the same bits.
            std::vector<token_id> repadded = tokens;
            for (std::size_t p = valid_len; p < n; ++p) repadded[p] = token_id((repadded[p] + 1) % V);
            const std::vector<float> again = run_forward(*w, repadded, padded_model::sequence_mask_params(valid_len), s);
            REQUIRE(s == status::ok);
            REQUIRE(std::equal(got.begin(), got.begin() + std::ptrdiff_t(valid_len * V), again.begin()));
        }
    }
    print_worst("key padding, one valid length");
}

TEST_CASE("each layer of a model takes its own mask parameters", "[model][mask]") {
    constexpr std::size_t V = padded_model::vocab, n = 9;
    const auto w = ctattn_test::random_model<padded_model>(1102);
    const std::vector<token_id> tokens = ctattn_test::random_tokens(n, V, 77);
    // Layer 0 sees 4 keys, layer 1 sees 7, layer 2 is causal (no parameters).
    typename padded_model::mask_params masks;
    hana::at_c<0>(masks).valid_len = 4;
    hana::at_c<1>(masks).valid_len = 7;
    status s = status::format_error;
    const std::vector<float> got = run_forward(*w, tokens, masks, s);
    REQUIRE(s == status::ok);
    const vec want = model_logits(*w, tokens, {padding_visibility(4), padding_visibility(7), causal_visibility()});
    require_close(got, want, V, 0, n, "per-layer valid lengths");
    print_worst("key padding, per-layer valid lengths");
}

TEST_CASE("a model rejects key-padding parameters out of range and leaves the logits untouched", "[model][mask]") {
    constexpr std::size_t V = padded_model::vocab, n = 5;
    const auto w = ctattn_test::random_model<padded_model>(1103);
    const std::vector<token_id> tokens = ctattn_test::random_tokens(n, V, 78);
    for (std::size_t valid_len : {std::size_t(0), n + 1}) {
        INFO("valid_len " << valid_len);
        status s = status::ok;
        const std::vector<float> logits = run_forward(*w, tokens, padded_model::sequence_mask_params(valid_len), s);
        REQUIRE(s == status::invalid_mask);
        REQUIRE(std::all_of(logits.begin(), logits.end(), [](float l) { return l == -7.0f; }));
    }
    // Only the second layer's parameter is bad.
    typename padded_model::mask_params masks;
    hana::at_c<0>(masks).valid_len = 3;
    hana::at_c<1>(masks).valid_len = 0;
    status s = status::ok;
    const std::vector<float> logits = run_forward(*w, tokens, masks, s);
    REQUIRE(s == status::invalid_mask);
    REQUIRE(std::all_of(logits.begin(), logits.end(), [](float l) { return l == -7.0f; }));
    // The overload without parameters passes defaults, and a key-padding default (valid_len 0)
    // is invalid: the model says so instead of attending to nothing.
    auto ws = std::make_unique<typename language_model<padded_model>::workspace_type>();
    std::vector<float> plain(n * V);
    REQUIRE(language_model<padded_model>::forward(*w, tokens.data(), n, plain.data(), *ws) == status::invalid_mask);
}

// ---- a left-padded prompt through the decoder ------------------------------------------------

using left_padded_block = block_config<attention_config<12, 3, 1, 13, with_bias, left_padded_causal_mask>,
                                       ffn_config<12, dense_ffn<relu>, 20>, layer_norm<eps_1e_minus<5>>, post_norm>;
using left_padded_model = model_config<11, learned_positions, layer_norm<eps_1e_minus<5>>, untied_head<true>,
                                       left_padded_block, causal_block>;

TEST_CASE("the decoder's prefill takes per-sequence mask parameters that decode_step keeps", "[model][mask][decode]") {
    constexpr std::size_t V = left_padded_model::vocab, S = left_padded_model::seq_capacity;
    const auto w = ctattn_test::random_model<left_padded_model>(1104);
    const std::vector<token_id> tokens = ctattn_test::random_tokens(S, V, 79);
    for (std::size_t pad : {std::size_t(0), std::size_t(1), std::size_t(4)}) {
        for (std::size_t prompt : {pad + 1, pad + 5}) {
            INFO("left padding " << pad << ", prompt " << prompt);
            typename left_padded_model::mask_params masks;
            hana::at_c<0>(masks).first_visible = pad;
            const visibility layer0 = [pad](std::size_t query, std::size_t key) { return key >= pad && key <= query; };
            const vec want = model_logits(*w, tokens, {layer0, causal_visibility()});

            auto dec = std::make_unique<decoder<left_padded_model, owned_weights, simd::default_arch, 3>>(*w);
            std::vector<float> got(S * V, 0.0f);
            REQUIRE(dec->prefill(tokens.data(), prompt, got.data() + (prompt - 1) * V, masks) == status::ok);
            for (std::size_t p = prompt; p < S; ++p)
                REQUIRE(dec->decode_step(tokens[p], got.data() + p * V) == status::ok);
            require_close(got, want, V, prompt - 1, S, "prefill, then decode_step");

            // The full forward with the same parameters agrees.
            status s = status::format_error;
            const std::vector<float> forward = run_forward(*w, tokens, masks, s);
            REQUIRE(s == status::ok);
            require_close(forward, want, V, pad, S, "forward");
        }
    }
    print_worst("left-padded prompt, prefill + decode_step");
    // A parameter that leaves a query nothing to see is rejected before anything changes.
    auto dec = std::make_unique<decoder<left_padded_model, owned_weights, simd::default_arch, 3>>(*w);
    typename left_padded_model::mask_params masks;
    hana::at_c<0>(masks).first_visible = 3;
    std::vector<float> logits(V, -7.0f);
    REQUIRE(dec->prefill(tokens.data(), 3, logits.data(), masks) == status::invalid_mask);
    REQUIRE(dec->position() == 0);
    REQUIRE(std::all_of(logits.begin(), logits.end(), [](float l) { return l == -7.0f; }));
}

}  // namespace
