// SPDX-License-Identifier: Apache-2.0
// The two llama2.c model shapes the decode benchmarks run (random weights), and a random
// checkpoint in llama2.c's legacy layout that both ctattn (through llama2c::load) and the
// plain-loops model read, so both decode with exactly the same weights.
#pragma once

#include <ctattn/model/decoder.hpp>
#include <ctattn/io/llama2c.hpp>

#include <cstdint>
#include <cstring>
#include <random>
#include <vector>

#include "plain_loops.hpp"

namespace ctattn_bench {

template <std::size_t Dim, std::size_t Hidden, std::size_t Layers, std::size_t Heads, std::size_t KvHeads,
          std::size_t Vocab, std::size_t Seq>
struct llama_shape {
    using attention = ctattn::attention_config<Dim, Heads, KvHeads, Seq, ctattn::no_bias, ctattn::causal_mask>;
    using ffn = ctattn::ffn_config<Dim, ctattn::swiglu, Hidden>;
    using block = ctattn::block_config<attention, ffn, ctattn::rms_norm<ctattn::eps_1e_minus<5>>, ctattn::pre_norm>;
    using config = ctattn::stacked_model_config<Vocab, Layers, block, ctattn::rotary_positions<10000>,
                                                ctattn::rms_norm<ctattn::eps_1e_minus<5>>, ctattn::tied_head>;
    static constexpr plain_llama_shape plain{int(Dim), int(Hidden), int(Layers), int(Heads), int(KvHeads), int(Vocab),
                                             int(Seq)};
};

// stories260K: width 64, hidden 172, 5 layers, 8 heads, 4 KV heads, vocab 512, seq 512.
using stories260k = llama_shape<64, 172, 5, 8, 4, 512, 512>;
// stories15M: width 288, hidden 768, 6 layers, 6 heads, vocab 32000, seq 256.
using stories15m = llama_shape<288, 768, 6, 6, 6, 32000, 256>;

// Random checkpoint bytes. Matrices ~ U(-1,1)/sqrt(fan_in) keep activations O(1) through the
// layers (so logits are neither tiny nor saturated); norm gains ~ U(0.5, 1.5); embedding U(-1,1).
inline std::vector<unsigned char> random_checkpoint(const plain_llama_shape& p, unsigned seed) {
    const std::size_t D = std::size_t(p.dim), F = std::size_t(p.hidden_dim), L = std::size_t(p.n_layers);
    const std::size_t V = std::size_t(p.vocab_size), hd = D / std::size_t(p.n_heads), kv = std::size_t(p.n_kv_heads) * hd;
    std::mt19937 rng(seed);
    std::vector<float> f;
    auto add = [&](std::size_t n, float lo, float hi) {
        std::uniform_real_distribution<float> dist(lo, hi);
        for (std::size_t i = 0; i < n; ++i) f.push_back(dist(rng));
    };
    const float sd = float(1.0 / std::sqrt(double(D))), sf = float(1.0 / std::sqrt(double(F)));
    add(V * D, -1.0f, 1.0f);           // token_embedding
    add(L * D, 0.5f, 1.5f);            // rms_att
    add(L * D * D, -sd, sd);           // wq
    add(L * kv * D, -sd, sd);          // wk
    add(L * kv * D, -sd, sd);          // wv
    add(L * D * D, -sd, sd);           // wo
    add(L * D, 0.5f, 1.5f);            // rms_ffn
    add(L * F * D, -sd, sd);           // w1
    add(L * D * F, -sf, sf);           // w2
    add(L * F * D, -sd, sd);           // w3
    add(D, 0.5f, 1.5f);                // rms_final
    f.resize(f.size() + std::size_t(p.seq_len) * hd, 0.0f);  // freq_cis tables (unused by both)
    const std::int32_t header[7] = {p.dim, p.hidden_dim, p.n_layers, p.n_heads, p.n_kv_heads, p.vocab_size, p.seq_len};
    std::vector<unsigned char> bytes(sizeof header + f.size() * sizeof(float));
    std::memcpy(bytes.data(), header, sizeof header);
    std::memcpy(bytes.data() + sizeof header, f.data(), f.size() * sizeof(float));
    return bytes;
}

// The plain model's view of a checkpoint (pointers into its float block) and its run state.
struct plain_llama_model {
    plain_llama_shape shape;
    std::vector<float> floats;
    plain_llama_weights w{};
    std::vector<float> x, xb, xb2, hb, hb2, q, att, logits, key_cache, value_cache;
    plain_llama_state s{};

    plain_llama_model(const plain_llama_shape& p, const std::vector<unsigned char>& bytes) : shape(p) {
        floats.resize((bytes.size() - 28) / sizeof(float));
        std::memcpy(floats.data(), bytes.data() + 28, floats.size() * sizeof(float));
        const std::size_t D = std::size_t(p.dim), F = std::size_t(p.hidden_dim), L = std::size_t(p.n_layers);
        const std::size_t kv = std::size_t(p.n_kv_heads) * D / std::size_t(p.n_heads);
        const float* ptr = floats.data();
        auto take = [&](std::size_t n) { const float* at = ptr; ptr += n; return at; };
        w.token_embedding = take(std::size_t(p.vocab_size) * D);
        w.rms_att = take(L * D);
        w.wq = take(L * D * D);
        w.wk = take(L * kv * D);
        w.wv = take(L * kv * D);
        w.wo = take(L * D * D);
        w.rms_ffn = take(L * D);
        w.w1 = take(L * F * D);
        w.w2 = take(L * D * F);
        w.w3 = take(L * F * D);
        w.rms_final = take(D);
        w.wcls = w.token_embedding;  // tied
        x.resize(D), xb.resize(D), xb2.resize(D), hb.resize(F), hb2.resize(F), q.resize(D);
        att.resize(std::size_t(p.n_heads) * std::size_t(p.seq_len));
        logits.resize(std::size_t(p.vocab_size));
        key_cache.resize(L * std::size_t(p.seq_len) * kv);
        value_cache.resize(L * std::size_t(p.seq_len) * kv);
        s = {x.data(), xb.data(), xb2.data(), hb.data(), hb2.data(), q.data(), att.data(), logits.data(),
             key_cache.data(), value_cache.data()};
    }
};

// Deterministic token ids for a whole sequence (what is fed does not change the work done).
inline std::vector<ctattn::token_id> random_tokens(std::size_t n, std::size_t vocab, unsigned seed) {
    std::mt19937 rng(seed);
    std::vector<ctattn::token_id> t(n);
    for (auto& id : t) id = ctattn::token_id(rng() % vocab);
    return t;
}

}  // namespace ctattn_bench
