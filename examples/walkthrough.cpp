// SPDX-License-Identifier: Apache-2.0
// The explainer posts' worked examples, run through ctattn's API and printed step by step:
//
//   walkthrough cat        "the cat sat on the mat": one head with the post's own W_Q, W_K, W_V,
//                          the post's printed numbers beside the exact ones, then four causal heads
//   walkthrough pizza      "I love pizza": the causal attention table and "love" before and after
//   walkthrough creature   "a fluffy blue creature roamed the verdant forest": hand-built W_Q, W_K
//                          so that nouns attend to the adjectives before them; dE and E' = E + dE
//   walkthrough kv         KV-cache decoding: the cache grows one token per step, and each step's
//                          logits equal the full forward pass's row
//   walkthrough            all four
//
// Every number printed is computed here by ctattn (multi_head_attention::forward with its
// attention-weights readout, language_model::forward, decoder); the only constants are the posts'
// inputs and, where a post prints them, its printed results for comparison.
// tests/layers/test_walkthrough.cpp includes this file (with CTATTN_WALKTHROUGH_NO_MAIN) and checks the values.
#include <ctattn/ctattn.hpp>
#include <ctattn/model/decoder.hpp>

#include <cmath>
#include <cstdio>
#include <cstring>

namespace walkthrough {

using namespace ctattn;

// ---- printing helpers ---------------------------------------------------------------------

inline void print_vector(const float* v, std::size_t n, int decimals = 4) {
    std::printf("[");
    for (std::size_t c = 0; c < n; ++c) std::printf("%s%.*f", c ? ", " : "", decimals, double(v[c]));
    std::printf("]");
}

inline void print_rows(const char* title, const char* const* words, const float* rows, std::size_t n_rows,
                       std::size_t n_cols, std::size_t stride, int decimals = 4) {
    std::printf("%s\n", title);
    for (std::size_t i = 0; i < n_rows; ++i) {
        std::printf("  %-9s ", words[i]);
        print_vector(rows + i * stride, n_cols, decimals);
        std::printf("\n");
    }
}

// The attention table as the posts print it: each row is a token asking, each column a token
// looked at; cells the mask hides are marked rather than printed as 0%.
template <class Mask>
void print_table(const char* title, const char* const* words, std::size_t n, const float* weights,
                 std::size_t row_stride, const typename Mask::params& mask = {}) {
    std::printf("%s\n  %-9s", title, "asking");
    for (std::size_t j = 0; j < n; ++j) std::printf("%9s", words[j]);
    std::printf("\n");
    for (std::size_t i = 0; i < n; ++i) {
        std::printf("  %-9s", words[i]);
        for (std::size_t j = 0; j < n; ++j) {
            if (is_visible<Mask>(mask, i, j, n))
                std::printf("%8.1f%%", 100.0 * double(weights[i * row_stride + j]));
            else
                std::printf("%9s", "(masked)");
        }
        std::printf("\n");
    }
}

// ==== 1. "the cat sat on the mat" ============================================================
// The post "From Attention to Meaning" (4-d embeddings, 4x3 W_Q, W_K, W_V, x @ W convention).
namespace cat {

constexpr std::size_t n_tokens = 6, d_embed = 4, d_head = 3;
inline const char* const words[n_tokens] = {"the", "cat", "sat", "on", "the", "mat"};
constexpr float embeddings[n_tokens][d_embed] = {
    {0.5f, 0.8f, 0.1f, 0.3f}, {1.0f, 0.2f, 0.5f, 0.1f}, {0.3f, 1.0f, 0.2f, 0.4f},
    {0.6f, 0.4f, 0.7f, 0.5f}, {0.5f, 0.8f, 0.1f, 0.3f}, {0.8f, 0.1f, 0.9f, 0.2f}};
constexpr float w_q[d_embed][d_head] = {{0.2f, 0.1f, 0.3f}, {0.4f, 0.2f, 0.1f}, {0.1f, 0.5f, 0.2f}, {0.3f, 0.1f, 0.4f}};
constexpr float w_k[d_embed][d_head] = {{0.3f, 0.2f, 0.1f}, {0.1f, 0.4f, 0.3f}, {0.2f, 0.1f, 0.5f}, {0.4f, 0.3f, 0.2f}};
constexpr float w_v[d_embed][d_head] = {{0.1f, 0.3f, 0.2f}, {0.2f, 0.1f, 0.4f}, {0.5f, 0.2f, 0.1f}, {0.3f, 0.4f, 0.3f}};

// What the post prints (rounded to 2 decimals), quoted to set beside the exact values.
constexpr float printed_q[n_tokens][d_head] = {{0.30f, 0.35f, 0.23f}, {0.36f, 0.28f, 0.39f}, {0.26f, 0.44f, 0.29f},
                                               {0.33f, 0.40f, 0.35f}, {0.30f, 0.35f, 0.23f}, {0.31f, 0.38f, 0.44f}};
constexpr float printed_k[n_tokens][d_head] = {{0.34f, 0.41f, 0.28f}, {0.46f, 0.33f, 0.36f}, {0.29f, 0.52f, 0.38f},
                                               {0.41f, 0.45f, 0.42f}, {0.34f, 0.41f, 0.28f}, {0.37f, 0.34f, 0.51f}};
constexpr float printed_v[n_tokens][d_head] = {{0.38f, 0.43f, 0.32f}, {0.42f, 0.45f, 0.41f}, {0.35f, 0.38f, 0.48f},
                                               {0.48f, 0.41f, 0.39f}, {0.38f, 0.43f, 0.32f}, {0.51f, 0.49f, 0.37f}};
constexpr float printed_scores_mat[n_tokens] = {0.38f, 0.43f, 0.45f, 0.49f, 0.38f, 0.57f};
constexpr float printed_weights_mat[n_tokens] = {0.12f, 0.14f, 0.15f, 0.16f, 0.12f, 0.18f};
constexpr float printed_output_mat[d_head] = {0.45f, 0.44f, 0.38f};

// The four-head layer: heads of width 3, embeddings zero-padded to d_model = 12. The post has one
// head; heads 1-3 get their weights by rotating the post's matrices' input rows by h (head h
// reads embedding dimension (r + h) mod 4 where head 0 reads r), so each head looks at the words
// differently while head 0 is exactly the post's head. W_O is the identity.
using four_head_config = attention_config</*d_model*/ 12, /*heads*/ 4, /*kv_heads*/ 4, /*capacity*/ 8, no_bias,
                                          causal_mask>;
using four_head_layer = multi_head_attention<four_head_config>;
// The post's own head as a one-head layer: d_model 4 -> head_dim 4, so W_Q, W_K, W_V get a zero
// fourth column (it adds 0 to every dot product) and W_O reads the first 3 columns back.
using one_head_config = attention_config<4, 1, 1, 8, no_bias, no_mask>;

struct result {
    matrix<n_tokens, d_head> q, k, v;            // X W_Q, X W_K, X W_V
    matrix<n_tokens, n_tokens> raw_scores;       // Q K^T, unscaled, as the post computes them
    matrix<n_tokens, n_tokens> post_weights;     // softmax(Q K^T): the post's weights (no scale, no mask)
    matrix<n_tokens, d_head> post_outputs;       // their P V
    four_head_layer::readout_type causal_weights;  // four causal heads' P: (heads x capacity, capacity)
    matrix<four_head_config::seq_capacity, four_head_config::d_model> causal_outputs;  // concat(O_h) W_O
    status four_head_status = status::ok;
};

inline void compute(result& r) {
    // One head, exactly as the post does it: projections, raw dot products, softmax without the
    // 1/sqrt(d_k) scale and without a mask.
    kernels::project<d_embed, d_head>(n_tokens, &embeddings[0][0], &w_q[0][0], nullptr, r.q.data());
    kernels::project<d_embed, d_head>(n_tokens, &embeddings[0][0], &w_k[0][0], nullptr, r.k.data());
    kernels::project<d_embed, d_head>(n_tokens, &embeddings[0][0], &w_v[0][0], nullptr, r.v.data());
    const key_range all{0, n_tokens};
    for (std::size_t i = 0; i < n_tokens; ++i) {
        kernels::score_row<d_head>(r.q.row(i), r.k.data(), n_tokens, all, 1.0f, r.raw_scores.row(i));
        for (std::size_t j = 0; j < n_tokens; ++j) r.post_weights(i, j) = r.raw_scores(i, j);
        kernels::softmax_row(r.post_weights.row(i), n_tokens, all);
        kernels::aggregate_row<d_head>(r.post_weights.row(i), r.v.data(), all, r.post_outputs.row(i));
    }

    // Four causal heads through multi_head_attention, with the readout of every head's weights.
    static four_head_layer::weights_type w{};
    static four_head_layer::workspace_type ws;
    static matrix<four_head_config::seq_capacity, four_head_config::d_model> x{};
    for (std::size_t t = 0; t < n_tokens; ++t)
        for (std::size_t c = 0; c < d_embed; ++c) x(t, c) = embeddings[t][c];
    for (std::size_t h = 0; h < four_head_config::heads; ++h)
        for (std::size_t row = 0; row < d_embed; ++row)
            for (std::size_t c = 0; c < d_head; ++c) {
                const std::size_t src = (row + h) % d_embed;
                w.wq(row, h * d_head + c) = w_q[src][c];
                w.wk(row, h * d_head + c) = w_k[src][c];
                w.wv(row, h * d_head + c) = w_v[src][c];
            }
    for (std::size_t i = 0; i < four_head_config::d_model; ++i) w.wo(i, i) = 1.0f;
    r.four_head_status = four_head_layer::forward(w, x, n_tokens, r.causal_outputs, ws, {}, &r.causal_weights);
}

inline void print_compare(const char* name, const float* printed, const float* exact, std::size_t n, int decimals) {
    std::printf("  %-22s printed ", name);
    print_vector(printed, n, 2);
    std::printf("  exact ");
    print_vector(exact, n, decimals);
    // The post's value stands when every entry rounds to what it prints.
    bool same = true;
    for (std::size_t c = 0; c < n; ++c) same = same && std::fabs(double(printed[c]) - double(exact[c])) < 0.005;
    std::printf("%s\n", same ? "" : "  <- differs");
}

inline void print(const result& r) {
    std::printf("==== \"the cat sat on the mat\" (the post \"From Attention to Meaning\")\n");
    std::printf("One attention head with the post's 4-d embeddings and its 4x3 W_Q, W_K, W_V (simd path: %s).\n",
                simd::default_arch::name());
    print_rows("Q = X W_Q  (what each word looks for)", words, r.q.data(), n_tokens, d_head, d_head);
    print_rows("K = X W_K  (what each word offers)", words, r.k.data(), n_tokens, d_head, d_head);
    print_rows("V = X W_V  (what each word passes on)", words, r.v.data(), n_tokens, d_head, d_head);

    std::printf("\nThe post's printed numbers beside what its own inputs give (rounded as printed):\n");
    char name[32];
    for (std::size_t t = 0; t < n_tokens; ++t) {
        std::snprintf(name, sizeof name, "Q_%s", words[t]);
        print_compare(name, printed_q[t], r.q.row(t), d_head, 4);
    }
    for (std::size_t t = 0; t < n_tokens; ++t) {
        std::snprintf(name, sizeof name, "K_%s", words[t]);
        print_compare(name, printed_k[t], r.k.row(t), d_head, 4);
    }
    for (std::size_t t = 0; t < n_tokens; ++t) {
        std::snprintf(name, sizeof name, "V_%s", words[t]);
        print_compare(name, printed_v[t], r.v.row(t), d_head, 4);
    }
    print_compare("scores of mat, Q K^T", printed_scores_mat, r.raw_scores.row(5), n_tokens, 4);
    print_compare("softmax of those", printed_weights_mat, r.post_weights.row(5), n_tokens, 4);
    print_compare("output of mat, P V", printed_output_mat, r.post_outputs.row(5), d_head, 4);
    std::printf("(The post's tables do not follow from its matrices; docs/design.md lists the arithmetic.)\n");

    print_table<no_mask>("\nThe post's weights: softmax(Q K^T), no 1/sqrt(d_k) scale, no mask", words, n_tokens,
                         r.post_weights.data(), n_tokens);

    std::printf("\nFour causal heads (multi_head_attention<d_model 12, 4 heads of width 3>): status %s\n",
                to_string(r.four_head_status));
    std::printf("The post has one head. Heads 1-3 reuse its W_Q, W_K, W_V with the input rows rotated by h\n"
                "(head h reads embedding dimension (r + h) mod 4 where head 0 reads r), so head 0 is the\n"
                "post's head; every head scales by 1/sqrt(3) and masks the future. W_O is the identity.\n");
    if (r.four_head_status != status::ok) return;
    constexpr std::size_t S = four_head_config::seq_capacity;
    for (std::size_t h = 0; h < four_head_config::heads; ++h) {
        char title[64];
        std::snprintf(title, sizeof title, "\nHead %zu attention weights", h);
        print_table<causal_mask>(title, words, n_tokens, r.causal_weights.row(h * S), S);
    }
    print_rows("\nLayer output Y = concat(O_0..O_3) W_O (3 columns per head)", words, r.causal_outputs.data(),
               n_tokens, four_head_config::d_model, four_head_config::d_model, 3);
}

}  // namespace cat

// ==== 2. "I love pizza" ======================================================================
// The post "GPT Has No Idea What Words Mean" prints, for [I, love, pizza] with 2-d embeddings and
// one head scaled by 1/sqrt(2): the embedding of "love" [0.10, 0.30], Q_love = [0.10, 0.25],
// K_love = [0.24, 0.08], V_love = [0.14, 0.27], V_I = [0.32, 0.60], the causal table rows
// I: 100%;  love: 51%, 49%;  pizza: 34%, 27%, 39%, and out(love) = [0.232, 0.438]. It never prints
// W_Q, W_K, W_V or the other embeddings; the ones below are ours, 1-decimal matrices (W_Q[0][0] =
// 0.4 as the post says) and 1- or 2-decimal embeddings chosen so that every printed number above
// comes out (found by a small search over such decimals).
namespace pizza {

constexpr std::size_t n_tokens = 3, d_model = 2;
inline const char* const words[n_tokens] = {"I", "love", "pizza"};
constexpr float embeddings[n_tokens][d_model] = {{0.4f, 0.6f}, {0.1f, 0.3f}, {0.9f, 0.0f}};
constexpr float w_q[d_model][d_model] = {{0.4f, 1.0f}, {0.2f, 0.5f}};
constexpr float w_k[d_model][d_model] = {{0.0f, 0.8f}, {0.8f, 0.0f}};
constexpr float w_v[d_model][d_model] = {{0.2f, 0.3f}, {0.4f, 0.8f}};
constexpr float printed_table[n_tokens][n_tokens] = {{1.00f, 0, 0}, {0.51f, 0.49f, 0}, {0.34f, 0.27f, 0.39f}};
constexpr float printed_out_love[d_model] = {0.232f, 0.438f};

// One head of width 2, causal, no biases; W_O is the identity so the layer's output row is the
// head's output P V (the post's out(love)).
using config = attention_config<d_model, 1, 1, 4, no_bias, causal_mask>;
using layer = multi_head_attention<config>;

struct result {
    layer::workspace_type ws;  // after forward: ws.q, ws.k, ws.v hold Q, K, V
    layer::readout_type weights;
    matrix<config::seq_capacity, d_model> x{}, y{};
    status s = status::ok;
};

inline void compute(result& r) {
    static layer::weights_type w{};
    for (std::size_t i = 0; i < d_model; ++i)
        for (std::size_t j = 0; j < d_model; ++j) {
            w.wq(i, j) = w_q[i][j];
            w.wk(i, j) = w_k[i][j];
            w.wv(i, j) = w_v[i][j];
            w.wo(i, j) = i == j ? 1.0f : 0.0f;
        }
    for (std::size_t t = 0; t < n_tokens; ++t)
        for (std::size_t c = 0; c < d_model; ++c) r.x(t, c) = embeddings[t][c];
    r.s = layer::forward(w, r.x, n_tokens, r.y, r.ws, {}, &r.weights);
}

inline void print(const result& r) {
    std::printf("==== \"I love pizza\" (the post \"GPT Has No Idea What Words Mean\")\n");
    std::printf("One causal head, d = 2, scores scaled by 1/sqrt(2); status %s.\n", to_string(r.s));
    std::printf("The post prints love's Q, K, V and V_I but not its matrices; these W_Q, W_K, W_V and the\n"
                "embeddings of I and pizza are ours, chosen so that its printed numbers come out:\n");
    std::printf("  W_Q = [[%.1f, %.1f], [%.1f, %.1f]]   W_K = [[%.1f, %.1f], [%.1f, %.1f]]   W_V = [[%.1f, %.1f], "
                "[%.1f, %.1f]]\n",
                double(w_q[0][0]), double(w_q[0][1]), double(w_q[1][0]), double(w_q[1][1]), double(w_k[0][0]),
                double(w_k[0][1]), double(w_k[1][0]), double(w_k[1][1]), double(w_v[0][0]), double(w_v[0][1]),
                double(w_v[1][0]), double(w_v[1][1]));
    if (r.s != status::ok) return;
    print_rows("Embeddings E", words, r.x.data(), n_tokens, d_model, d_model, 2);
    print_rows("Q = E W_Q", words, r.ws.q.data(), n_tokens, d_model, d_model, 2);
    print_rows("K = E W_K", words, r.ws.k.data(), n_tokens, d_model, d_model, 2);
    print_rows("V = E W_V", words, r.ws.v.data(), n_tokens, d_model, d_model, 2);
    print_table<causal_mask>("\nAttention table (multi_head_attention's weights readout)", words, n_tokens,
                             r.weights.data(), config::seq_capacity);
    std::printf("The post prints (rounded to whole percent):");
    float worst = 0.0f;
    for (std::size_t q = 0; q < n_tokens; ++q) {
        std::printf("%s %s", q == 0 ? "" : ";", words[q]);
        for (std::size_t k = 0; k <= q; ++k) {
            std::printf("%s %.0f%%", k == 0 ? "" : ",", double(100.0f * printed_table[q][k]));
            const float gap = r.weights(q, k) - printed_table[q][k];
            worst = gap > worst ? gap : (-gap > worst ? -gap : worst);
        }
    }
    std::printf(".\nLargest gap between ctattn's weights and the post's: %.4f (rounding to 1%% allows 0.005).\n",
                double(worst));
    std::printf("\n\"love\" before attention: ");
    print_vector(r.x.row(1), d_model, 3);
    std::printf("\n\"love\" after attention:  ");
    print_vector(r.y.row(1), d_model, 4);
    std::printf("  = %.4f V_I + %.4f V_love   (the post: %.2f V_I + %.2f V_love = [%.3f, %.3f])\n",
                double(r.weights(1, 0)), double(r.weights(1, 1)), double(printed_table[1][0]),
                double(printed_table[1][1]), double(printed_out_love[0]), double(printed_out_love[1]));
    std::printf("It carries %.0f%% of what \"I\" has to say: the same word, a different vector in context.\n",
                100.0 * double(r.weights(1, 0)));
}

}  // namespace pizza

// ==== 3. "a fluffy blue creature roamed the verdant forest" ==================================
// The 3Blue1Brown chapter on attention: nouns absorb the meaning of the adjectives before them.
// A 16-d embedding spells out what the toy needs, and W_Q, W_K, W_V are built by hand from it:
//   dims 0-4   meaning: creature-ness, forest-ness, fluffy, blue, green
//   dims 5-7   word class: noun, adjective, other
//   dims 8-15  position: one-hot p (the post's embeddings "also encode position")
// W_Q: a noun asks for "adjective" (query dim 6); other words ask for "not an adjective" (dim 7);
//      position p asks for positions p-2, p-1, p (query dims 8 + p-2 .. 8 + p), i.e. "nearby, before me".
// W_K: an adjective answers on dim 6, any other word on dim 7; position p answers on dim 8 + p.
// So a noun's score for a nearby adjective is 2 a (a match on class and on place), for a far
// adjective or a nearby non-adjective a; the causal mask removes everything after it.
// W_V: an adjective passes on its meaning (fluffy, blue, green); other words pass on nothing.
// W_O is the identity, so the layer's output is dE and E' = E + dE.
namespace creature {

constexpr std::size_t n_tokens = 8, d_model = 16;
inline const char* const words[n_tokens] = {"a", "fluffy", "blue", "creature", "roamed", "the", "verdant", "forest"};
enum dim : std::size_t { creature_ness, forest_ness, fluffy, blue, green, noun, adjective, other, position0 };
inline const char* const dim_names[position0] = {"creature", "forest", "fluffy", "blue", "green", "noun", "adj", "other"};
enum word_class { noun_word, adjective_word, other_word };
constexpr word_class classes[n_tokens] = {other_word, adjective_word, adjective_word, noun_word,
                                          other_word, other_word, adjective_word, noun_word};
constexpr float a = 32.0f;  // match strength: scores 2a / sqrt(16) = 16 against a / 4 = 8 for half a match

using config = attention_config<d_model, 1, 1, n_tokens, no_bias, causal_mask>;
using layer = multi_head_attention<config>;

struct result {
    layer::weights_type w{};
    layer::workspace_type ws;
    layer::readout_type weights;
    matrix<n_tokens, n_tokens> raw_scores;  // Q K^T before the 1/sqrt(16) scale and the mask
    matrix<n_tokens, d_model> x{}, delta{}, refined{};
    status s = status::ok;
};

inline void build_embeddings(matrix<n_tokens, d_model>& x) {
    x = {};
    x(1, fluffy) = 1.0f;
    x(2, blue) = 1.0f;
    x(3, creature_ness) = 1.0f;
    x(6, green) = 1.0f;
    x(7, forest_ness) = 1.0f;
    for (std::size_t t = 0; t < n_tokens; ++t) {
        x(t, classes[t] == noun_word ? noun : classes[t] == adjective_word ? adjective : other) = 1.0f;
        x(t, position0 + t) = 1.0f;
    }
}

inline void build_weights(layer::weights_type& w) {
    w = {};
    w.wq(noun, adjective) = a;
    w.wq(adjective, other) = a;
    w.wq(other, other) = a;
    for (std::size_t p = 0; p < n_tokens; ++p)
        for (std::size_t back = 0; back <= 2 && back <= p; ++back) w.wq(position0 + p, position0 + p - back) = a;
    w.wk(adjective, adjective) = 1.0f;
    w.wk(noun, other) = 1.0f;
    w.wk(other, other) = 1.0f;
    for (std::size_t p = 0; p < n_tokens; ++p) w.wk(position0 + p, position0 + p) = 1.0f;
    w.wv(fluffy, fluffy) = 1.0f;
    w.wv(blue, blue) = 1.0f;
    w.wv(green, green) = 1.0f;
    for (std::size_t i = 0; i < d_model; ++i) w.wo(i, i) = 1.0f;
}

inline void compute(result& r) {
    build_embeddings(r.x);
    build_weights(r.w);
    static matrix<config::seq_capacity, d_model> x_in{}, y{};
    for (std::size_t i = 0; i < matrix<n_tokens, d_model>::size; ++i) x_in[i] = r.x[i];
    r.s = layer::forward(r.w, x_in, n_tokens, y, r.ws, {}, &r.weights);
    if (r.s != status::ok) return;
    const key_range all{0, n_tokens};
    for (std::size_t i = 0; i < n_tokens; ++i)
        kernels::score_row<d_model>(r.ws.q.row(i), r.ws.k.data(), n_tokens, all, 1.0f, r.raw_scores.row(i));
    for (std::size_t i = 0; i < n_tokens * d_model; ++i) {
        r.delta[i] = y[i];
        r.refined[i] = r.x[i] + y[i];
    }
}

inline void print_meaning(const char* title, const matrix<n_tokens, d_model>& m) {
    std::printf("%s\n  %-9s", title, "");
    for (std::size_t d = 0; d < position0; ++d) std::printf("%9s", dim_names[d]);
    std::printf("   (the 8 position dims not shown)\n");
    for (std::size_t t = 0; t < n_tokens; ++t) {
        std::printf("  %-9s", words[t]);
        for (std::size_t d = 0; d < position0; ++d) std::printf("%9.4f", double(m(t, d)));
        std::printf("\n");
    }
}

inline void print(const result& r) {
    std::printf("==== \"a fluffy blue creature roamed the verdant forest\" (3Blue1Brown, attention)\n");
    std::printf("One causal head, d = 16, hand-built W_Q and W_K: a noun's query asks for adjectives near\n"
                "before it; an adjective's key answers. W_V passes on an adjective's meaning. Status %s.\n",
                to_string(r.s));
    if (r.s != status::ok) return;
    std::printf("\nRaw scores Q K^T (before 1/sqrt(16) and the mask), rows asking:\n  %-9s", "");
    for (std::size_t j = 0; j < n_tokens; ++j) std::printf("%9s", words[j]);
    std::printf("\n");
    for (std::size_t i = 0; i < n_tokens; ++i) {
        std::printf("  %-9s", words[i]);
        for (std::size_t j = 0; j < n_tokens; ++j) std::printf("%9.0f", double(r.raw_scores(i, j)));
        std::printf("\n");
    }
    print_table<causal_mask>("\nAttention pattern (multi_head_attention's weights readout)", words, n_tokens,
                             r.weights.data(), config::seq_capacity);
    print_meaning("\nE (embeddings, meaning and class dims)", r.x);
    print_meaning("\ndE = sum_j P_ij V_j (the layer's output, W_O = identity)", r.delta);
    print_meaning("\nE' = E + dE: \"creature\" is now fluffy and blue, \"forest\" green", r.refined);
}

}  // namespace creature

// ==== 4. KV-cache decoding ===================================================================
// The "From Attention to Meaning" post ends on the KV cache: when generating token n+1, reuse the
// cached K and V of tokens 1..n and project only the new token. Here the post's sentence runs
// through a one-layer language model twice: language_model::forward over all six tokens, and a
// decoder fed one token per step. The model: the post's embeddings as the vocabulary's rows
// (the, cat, sat, on, mat), one causal head whose W_Q, W_K, W_V are the post's with a zero fourth
// column (so head_dim is 4 and the scale 1/2), W_O = [I_3 0; 0 0], an FFN with zero weights (the
// block is attention plus residual), no norms, and a tied head: logits = x E^T.
namespace kv {

constexpr std::size_t vocab = 5, d_model = 4, capacity = 8, n_tokens = 6;
inline const char* const vocabulary[vocab] = {"the", "cat", "sat", "on", "mat"};
constexpr token_id sentence[n_tokens] = {0, 1, 2, 3, 0, 4};
inline const char* const words[n_tokens] = {"the", "cat", "sat", "on", "the", "mat"};

using block = block_config<attention_config<d_model, 1, 1, capacity, no_bias, causal_mask>,
                           ffn_config<d_model, dense_ffn<relu, false>, 4>, no_norm, pre_norm>;
using config = model_config<vocab, no_positions, no_norm, tied_head, block>;
using model = language_model<config>;

struct result {
    model_weights<config> w{};
    model_workspace<config> ws;
    decoder<config> dec;
    matrix<capacity, vocab> forward_logits{};
    matrix<n_tokens, vocab> decode_logits{};
    matrix<n_tokens, d_model> cached_k{}, cached_v{};  // the cache row each step appended (layer 0)
    std::size_t cache_length[n_tokens] = {};            // cache size after each step
    status forward_status = status::ok, decode_status = status::ok;
};

inline void build_weights(model_weights<config>& w) {
    for (std::size_t t = 0; t < vocab; ++t)
        for (std::size_t c = 0; c < d_model; ++c) w.embedding(t, c) = cat::embeddings[t == 4 ? 5 : t][c];
    auto& att = w.layer<0>().attention;
    for (std::size_t r = 0; r < d_model; ++r)
        for (std::size_t c = 0; c < cat::d_head; ++c) {
            att.wq(r, c) = cat::w_q[r][c];
            att.wk(r, c) = cat::w_k[r][c];
            att.wv(r, c) = cat::w_v[r][c];
        }
    for (std::size_t c = 0; c < cat::d_head; ++c) att.wo(c, c) = 1.0f;
}

inline void compute(result& r) {
    build_weights(r.w);
    r.forward_status = model::forward(r.w, sentence, n_tokens, r.forward_logits.data(), r.ws);
    r.dec.attach(r.w);
    for (std::size_t t = 0; t < n_tokens; ++t) {
        const status s = r.dec.decode_step(sentence[t], r.decode_logits.row(t));
        if (s != status::ok) {
            r.decode_status = s;
            return;
        }
        r.cache_length[t] = r.dec.position();
        // One KV head: the cache's (kv_heads, capacity, head_dim) rows are position rows.
        const auto& layer_cache = hana::at_c<0>(r.dec.cache().layers);
        for (std::size_t c = 0; c < d_model; ++c) {
            r.cached_k(t, c) = layer_cache.k[t * d_model + c];
            r.cached_v(t, c) = layer_cache.v[t * d_model + c];
        }
    }
}

inline float max_difference(const result& r, std::size_t t) {
    float worst = 0.0f;
    for (std::size_t c = 0; c < vocab; ++c) {
        const float d = std::fabs(r.decode_logits(t, c) - r.forward_logits(t, c));
        worst = d > worst ? d : worst;
    }
    return worst;
}

inline void print(const result& r) {
    std::printf("==== KV-cache decoding (\"From Attention to Meaning\", the KV cache section)\n");
    std::printf("A one-layer model over the vocabulary {the, cat, sat, on, mat}: the post's embeddings and\n"
                "W_Q, W_K, W_V, attention plus residual, logits = x E^T (tied head).\n");
    std::printf("language_model::forward over \"the cat sat on the mat\": status %s\n", to_string(r.forward_status));
    std::printf("decoder::decode_step, one token at a time: status %s\n\n", to_string(r.decode_status));
    if (r.forward_status != status::ok || r.decode_status != status::ok) return;
    for (std::size_t t = 0; t < n_tokens; ++t) {
        std::printf("step %zu: feed \"%s\"  cache holds %zu position%s; appended K ", t, words[t], r.cache_length[t],
                    r.cache_length[t] == 1 ? "" : "s");
        print_vector(r.cached_k.row(t), cat::d_head, 4);
        std::printf(" V ");
        print_vector(r.cached_v.row(t), cat::d_head, 4);
        std::printf("\n  decode logits  ");
        print_vector(r.decode_logits.row(t), vocab, 5);
        std::printf("\n  forward row %zu  ", t);
        print_vector(r.forward_logits.row(t), vocab, 5);
        std::printf("\n  max |difference| %.2g  (work this step: 1 new Q/K/V row, %zu cached keys)\n",
                    double(max_difference(r, t)), r.cache_length[t]);
    }
    std::printf("Each step projects only the new token and attends over the cached rows, and gives the\n"
                "row the full pass computes for that position (equal up to float summation order).\n");
}

}  // namespace kv

}  // namespace walkthrough

#ifndef CTATTN_WALKTHROUGH_NO_MAIN
namespace {
walkthrough::cat::result cat_result;
walkthrough::pizza::result pizza_result;
walkthrough::creature::result creature_result;
walkthrough::kv::result kv_result;
}  // namespace

int main(int argc, char** argv) {
    const char* which = argc > 1 ? argv[1] : "all";
    const bool all = std::strcmp(which, "all") == 0;
    bool any = false;
    if (all || std::strcmp(which, "cat") == 0) {
        walkthrough::cat::compute(cat_result);
        walkthrough::cat::print(cat_result);
        any = true;
    }
    if (all || std::strcmp(which, "pizza") == 0) {
        walkthrough::pizza::compute(pizza_result);
        if (all) std::printf("\n");
        walkthrough::pizza::print(pizza_result);
        any = true;
    }
    if (all || std::strcmp(which, "creature") == 0) {
        walkthrough::creature::compute(creature_result);
        if (all) std::printf("\n");
        walkthrough::creature::print(creature_result);
        any = true;
    }
    if (all || std::strcmp(which, "kv") == 0) {
        walkthrough::kv::compute(kv_result);
        if (all) std::printf("\n");
        walkthrough::kv::print(kv_result);
        any = true;
    }
    if (!any) {
        std::fprintf(stderr, "usage: walkthrough [cat | pizza | creature | kv | all]\n");
        return 2;
    }
    return 0;
}
#endif
