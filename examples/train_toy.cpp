// SPDX-License-Identifier: Apache-2.0
// The seed-000 explainer's training experiment, run by ctattn ("GPT has no idea what words mean"):
// six sentences, a 22-word vocabulary, 23 (context -> next word) pairs, 2-D embeddings and one
// causal attention head with no W_O, no residual and no norm (examples/explainer/single_head_model.hpp).
//   1. four plain SGD steps on the first pair, [I] -> love, printing step | P(love) | loss;
//   2. P(love | [You]), a context never trained on, against the uniform 1/22;
//   3. training on all 23 pairs (full batch, AdamW) until the loss stops falling, then each
//      pair's top prediction.
// Weights are drawn from a seeded generator (the golden toy cases' ranges: embeddings and Q/K/V
// in [0, 0.6), W_out in [0, 1.5)), with the three values the post quotes set as it gives them:
// love = [0.10, 0.30], Wq[0][0] = 0.40, W_out[0][love] = 1.30.
// Usage: train_toy [--check] [--seed N] [--lr X]. --check exits 1 unless the loss falls and
// P(love) rises at every step, [You] beats 1/22 and the all-pairs loss falls.
#include <ctattn/base/random.hpp>
#include <ctattn/train/adamw.hpp>
#include <ctattn/train/sgd.hpp>
#include "explainer/single_head_model.hpp"
#include "explainer/word_corpus.hpp"

#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>

namespace {
using namespace ctattn;

constexpr const char* sentences =
    "I love pizza. You love burgers. She loves pizza. The cat chased the mouse. "
    "The dog chased the cat because it was fast. He hated broccoli but loved cake.";

constexpr std::size_t vocab = 22, d_model = 2, context = 8;
using toy = train::single_head_model<vocab, d_model, context>;

train::word_corpus<64, vocab> corpus;
toy::weights_type weights, gradients;
toy::workspace_type workspace;
train::adamw<toy::weights_type> optimiser;

std::uint32_t token_of(const char* word) {
    for (std::size_t t = 0; t < corpus.vocab; ++t)
        if (std::strcmp(corpus.spelling[t], word) == 0) return std::uint32_t(t);
    std::printf("no token '%s'\n", word);
    std::exit(2);
}

void print_context(const token_id* tokens, std::size_t n) {
    std::printf("[");
    for (std::size_t i = 0; i < n; ++i) std::printf("%s%s", i ? ", " : "", corpus.spelling[tokens[i]]);
    std::printf("]");
}

float probability(const token_id* tokens, std::size_t n, token_id target) {
    if (toy::forward(weights, tokens, n, workspace) != status::ok) std::exit(2);
    return workspace.probs[target];
}

// Mean loss over every pair; with `update`, one full-batch AdamW step on its gradient.
float all_pairs(bool update) {
    train::zero_tensors(gradients);
    double total = 0.0;
    for (std::size_t p = 0; p < corpus.pair_count; ++p) {
        const auto& pair = corpus.pairs[p];
        float loss = 0.0f;
        if (toy::loss_and_gradients(weights, corpus.context(pair), pair.length, pair.target, gradients, workspace,
                                    loss) != status::ok)
            std::exit(2);
        total += double(loss);
    }
    if (update) {
        train::for_each_parameter([](const train::tensor_info& t, float* g) {
            for (std::size_t i = 0; i < t.size; ++i) g[i] /= float(corpus.pair_count);
        }, gradients);
        if (optimiser.step(weights, gradients) != status::ok) std::exit(2);
    }
    return float(total / double(corpus.pair_count));
}
}  // namespace

int main(int argc, char** argv) {
    bool check = false;
    unsigned long seed = 7;
    float lr = 1.0f;
    for (int i = 1; i < argc; ++i) {
        if (std::strcmp(argv[i], "--check") == 0) check = true;
        else if (std::strcmp(argv[i], "--seed") == 0 && i + 1 < argc) seed = std::strtoul(argv[++i], nullptr, 10);
        else if (std::strcmp(argv[i], "--lr") == 0 && i + 1 < argc) lr = std::strtof(argv[++i], nullptr);
        else {
            std::printf("usage: %s [--check] [--seed N] [--lr X]\n", argv[0]);
            return 2;
        }
    }
    if (corpus.build(sentences) != status::ok || corpus.vocab != vocab) {
        std::printf("corpus: %zu tokens, expected %zu\n", corpus.vocab, vocab);
        return 2;
    }
    std::printf("%zu tokens:", corpus.vocab);
    for (std::size_t t = 0; t < corpus.vocab; ++t) std::printf(" %s", corpus.spelling[t]);
    std::printf("\n%zu training pairs (context -> next token):\n", corpus.pair_count);
    for (std::size_t p = 0; p < corpus.pair_count; ++p) {
        std::printf("  %2zu  ", p + 1);
        print_context(corpus.context(corpus.pairs[p]), corpus.pairs[p].length);
        std::printf(" -> %s\n", corpus.spelling[corpus.pairs[p].target]);
    }

    // ---- seeded initialisation, with the post's three quoted values
    pcg32 rng(seed);
    train::for_each_parameter([&](const train::tensor_info& t, float* w) {
        const float range = std::strcmp(t.name, "w_out") == 0 ? 1.5f : 0.6f;
        for (std::size_t i = 0; i < t.size; ++i) w[i] = range * rng.next_float();
    }, weights);
    const token_id i_token = token_of("I"), love = token_of("love"), you = token_of("You");
    weights.embedding(love, 0) = 0.10f;
    weights.embedding(love, 1) = 0.30f;
    weights.wq(0, 0) = 0.40f;
    weights.w_out(0, love) = 1.30f;

    // ---- attention over [I, love, pizza] before training
    const token_id sentence[3] = {i_token, love, token_of("pizza")};
    (void)probability(sentence, 3, love);
    std::printf("\nattention weights for [I, love, pizza] at initialisation (row: query):\n");
    for (std::size_t i = 0; i < 3; ++i) {
        std::printf("  %-6s", corpus.spelling[sentence[i]]);
        for (std::size_t j = 0; j < 3; ++j)
            j <= i ? std::printf("  %5.1f%%", double(100.0f * workspace.attention(i, j))) : std::printf("  (masked)");
        std::printf("\n");
    }

    // ---- four SGD steps on [I] -> love
    std::printf("\nfour SGD steps (lr %.2f) on [I] -> love\nstep | P(love) | loss\n", double(lr));
    const token_id just_i[1] = {i_token};
    float previous_loss = INFINITY, previous_p = 0.0f;
    bool falls = true;
    const float wq00_before = weights.wq(0, 0);
    for (int step = 1; step <= 4; ++step) {
        train::zero_tensors(gradients);
        float loss = 0.0f;
        if (toy::loss_and_gradients(weights, just_i, 1, love, gradients, workspace, loss) != status::ok) return 2;
        const float p = workspace.probs[love];
        std::printf("%4d | %6.1f%% | %.3f\n", step, 100.0 * double(p), double(loss));
        falls = falls && loss < previous_loss && p > previous_p;
        previous_loss = loss;
        previous_p = p;
        if (train::sgd_step(weights, gradients, lr) != status::ok) return 2;
    }
    const float p_after = probability(just_i, 1, love);
    std::printf("after 4 steps: P(love | [I]) = %.1f%%, Wq[0][0] %.3f -> %.3f\n", 100.0 * double(p_after),
                double(wq00_before), double(weights.wq(0, 0)));

    const token_id just_you[1] = {you};
    const float p_you = probability(just_you, 1, love);
    std::printf("never trained on [You]: P(love | [You]) = %.1f%%  vs  uniform 1/22 = %.1f%%\n", 100.0 * double(p_you),
                100.0 / double(vocab));

    // ---- all pairs until the loss stops falling
    optimiser.learning_rate = 0.02f;
    optimiser.weight_decay = 0.0f;
    optimiser.reset();
    const float start = all_pairs(false);
    std::printf("\ntraining on all %zu pairs (full batch, AdamW lr %.2f); mean loss at start %.3f\n",
                corpus.pair_count, double(optimiser.learning_rate), double(start));
    float best = start, loss = start;
    int epoch = 0, since_best = 0;
    for (; epoch < 20000 && since_best < 500; ++epoch) {
        loss = all_pairs(true);
        if (loss < best * (1.0f - 1e-4f)) {
            best = loss;
            since_best = 0;
        } else {
            ++since_best;
        }
        if ((epoch + 1) % 500 == 0) std::printf("  epoch %5d  loss %.4f\n", epoch + 1, double(loss));
    }
    std::printf("stopped after %d epochs (no 0.01%% improvement in 500): mean loss %.4f (best %.4f)\n", epoch,
                double(loss), double(best));
    std::printf("\neach pair's top prediction:\n");
    int right = 0;
    for (std::size_t p = 0; p < corpus.pair_count; ++p) {
        const auto& pair = corpus.pairs[p];
        (void)probability(corpus.context(pair), pair.length, pair.target);
        std::size_t top = 0;
        for (std::size_t t = 1; t < vocab; ++t) top = workspace.probs[t] > workspace.probs[top] ? t : top;
        right += top == pair.target;
        std::printf("  ");
        print_context(corpus.context(pair), pair.length);
        std::printf(" -> %s (%.0f%%)   want %s (%.0f%%)%s\n", corpus.spelling[top], 100.0 * double(workspace.probs[top]),
                    corpus.spelling[pair.target], 100.0 * double(workspace.probs[pair.target]),
                    top == pair.target ? "" : "   x");
    }
    std::printf("%d of %zu pairs predicted right\n", right, corpus.pair_count);

    if (check) {
        const bool ok = falls && p_you > 1.0f / float(vocab) && best < start;
        std::printf("check: %s\n", ok ? "passed" : "FAILED");
        return ok ? 0 : 1;
    }
    return 0;
}
