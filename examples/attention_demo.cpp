// The seed-002 sentence "the cat sat on the mat" through attention, printed step by step:
//   1. one head with the blog's own W_Q, W_K, W_V (4 -> 3), using the kernels directly;
//   2. a 4-head causal layer (multi_head_attention) whose head 0 is that same head.
// Every number printed is computed here; docs/design.md lists where the blog's printed values
// differ from its own arithmetic.
#include <ctattn/ctattn.hpp>

#include <cstdio>

namespace {

constexpr std::size_t n_tokens = 6, d_embed = 4, d_head = 3;
const char* const words[n_tokens] = {"the", "cat", "sat", "on", "the", "mat"};

// Embeddings and projection matrices exactly as seed 002 gives them (x @ W convention).
constexpr float embeddings[n_tokens][d_embed] = {
    {0.5f, 0.8f, 0.1f, 0.3f}, {1.0f, 0.2f, 0.5f, 0.1f}, {0.3f, 1.0f, 0.2f, 0.4f},
    {0.6f, 0.4f, 0.7f, 0.5f}, {0.5f, 0.8f, 0.1f, 0.3f}, {0.8f, 0.1f, 0.9f, 0.2f}};
constexpr float w_q[d_embed][d_head] = {{0.2f, 0.1f, 0.3f}, {0.4f, 0.2f, 0.1f}, {0.1f, 0.5f, 0.2f}, {0.3f, 0.1f, 0.4f}};
constexpr float w_k[d_embed][d_head] = {{0.3f, 0.2f, 0.1f}, {0.1f, 0.4f, 0.3f}, {0.2f, 0.1f, 0.5f}, {0.4f, 0.3f, 0.2f}};
constexpr float w_v[d_embed][d_head] = {{0.1f, 0.3f, 0.2f}, {0.2f, 0.1f, 0.4f}, {0.5f, 0.2f, 0.1f}, {0.3f, 0.4f, 0.3f}};

void print_rows(const char* title, const float* rows, std::size_t n_rows, std::size_t n_cols, std::size_t stride) {
    std::printf("%s\n", title);
    for (std::size_t i = 0; i < n_rows; ++i) {
        std::printf("  %-4s [", words[i]);
        for (std::size_t c = 0; c < n_cols; ++c) std::printf("%s%7.4f", c ? ", " : "", double(rows[i * stride + c]));
        std::printf("]\n");
    }
}

// The attention table as seed 000 prints it: rows ask, columns are looked at; masked cells marked.
template <class Mask>
void print_table(const char* title, const float* weights, std::size_t row_stride, const typename Mask::params& mask) {
    std::printf("%s\n        ", title);
    for (std::size_t j = 0; j < n_tokens; ++j) std::printf("%9s", words[j]);
    std::printf("\n");
    for (std::size_t i = 0; i < n_tokens; ++i) {
        std::printf("  %-6s", words[i]);
        for (std::size_t j = 0; j < n_tokens; ++j) {
            if (ctattn::is_visible<Mask>(mask, i, j, n_tokens))
                std::printf("%8.1f%%", 100.0 * double(weights[i * row_stride + j]));
            else
                std::printf("%9s", "(masked)");
        }
        std::printf("\n");
    }
}

// Part 1: one head, kernel by kernel.
void one_head() {
    using namespace ctattn;
    matrix<n_tokens, d_head> q, k, v, out;
    kernels::project<d_embed, d_head>(n_tokens, &embeddings[0][0], &w_q[0][0], nullptr, q.data());
    kernels::project<d_embed, d_head>(n_tokens, &embeddings[0][0], &w_k[0][0], nullptr, k.data());
    kernels::project<d_embed, d_head>(n_tokens, &embeddings[0][0], &w_v[0][0], nullptr, v.data());
    std::printf("== One head, seed 002's W_Q, W_K, W_V (simd path: %s)\n", simd::default_arch::name());
    print_rows("Q = X W_Q", q.data(), n_tokens, d_head, d_head);
    print_rows("K = X W_K", k.data(), n_tokens, d_head, d_head);
    print_rows("V = X W_V", v.data(), n_tokens, d_head, d_head);

    // Seed 002 softmaxes raw dot products (no 1/sqrt(d_k), no mask); the transformer scales by
    // 1/sqrt(3) and, for a decoder, masks the future. Show both.
    const float scale = attention_config<d_head, 1>::score_scale;
    matrix<n_tokens, n_tokens> weights;
    for (std::size_t i = 0; i < n_tokens; ++i) {
        const key_range all{0, n_tokens};
        kernels::score_row<d_head>(q.row(i), k.data(), n_tokens, all, 1.0f, weights.row(i));
        kernels::softmax_row(weights.row(i), n_tokens, all);
    }
    print_table<no_mask>("\nAttention weights as seed 002 computes them: softmax(Q K^T), no scale, no mask",
                         weights.data(), n_tokens, {});
    for (std::size_t i = 0; i < n_tokens; ++i) {
        const key_range visible = causal_mask::visible_keys({}, i, n_tokens);
        kernels::score_row<d_head>(q.row(i), k.data(), n_tokens, visible, scale, weights.row(i));
        kernels::softmax_row(weights.row(i), n_tokens, visible);
        kernels::aggregate_row<d_head>(weights.row(i), v.data(), visible, out.row(i));
    }
    print_table<causal_mask>("\nCausal attention weights: softmax(mask(Q K^T / sqrt(3)))", weights.data(), n_tokens, {});
    print_rows("\nOutputs O = P V (each row a context-weighted mix of value rows)", out.data(), n_tokens, d_head, d_head);
}

// Part 2: four heads of width 3. The embeddings are zero-padded to d_model = 12 so each head can
// own a 3-wide slice; head h uses seed 002's matrices with their input rows rotated by h, so the
// heads differ and head 0 is exactly part 1's head. W_O is the identity: the output rows are the
// concatenated head outputs.
void four_heads() {
    using namespace ctattn;
    using config = attention_config</*d_model*/ 12, /*heads*/ 4, /*kv_heads*/ 4, /*capacity*/ 8, /*bias*/ false, causal_mask>;
    using layer = multi_head_attention<config>;
    static layer::weights_type w{};
    static layer::workspace_type ws;
    static layer::readout_type readout;
    static matrix<config::seq_capacity, config::d_model> x{}, y{};

    for (std::size_t t = 0; t < n_tokens; ++t)
        for (std::size_t c = 0; c < d_embed; ++c) x(t, c) = embeddings[t][c];
    for (std::size_t h = 0; h < config::heads; ++h)
        for (std::size_t r = 0; r < d_embed; ++r)
            for (std::size_t c = 0; c < d_head; ++c) {
                const std::size_t src = (r + h) % d_embed;
                w.wq(r, h * d_head + c) = w_q[src][c];
                w.wk(r, h * d_head + c) = w_k[src][c];
                w.wv(r, h * d_head + c) = w_v[src][c];
            }
    for (std::size_t i = 0; i < config::d_model; ++i) w.wo(i, i) = 1.0f;

    const status s = layer::forward(w, x, n_tokens, y, ws, {}, &readout);
    std::printf("\n== Four heads, causal (multi_head_attention<%zu, %zu heads>): status %s\n", config::d_model,
                config::heads, to_string(s));
    if (s != status::ok) return;
    for (std::size_t h = 0; h < config::heads; ++h) {
        char title[64];
        std::snprintf(title, sizeof title, "\nHead %zu attention weights", h);
        print_table<causal_mask>(title, readout.row(h * config::seq_capacity), config::seq_capacity, {});
    }
    print_rows("\nLayer output Y = concat(O_0..O_3) W_O", y.data(), n_tokens, config::d_model, config::d_model);
}

}  // namespace

int main() {
    one_head();
    four_heads();
    return 0;
}
