// SPDX-License-Identifier: Apache-2.0
// Zero heap: this program links tests/support/heap_counter.cpp, which replaces every global operator
// new/delete and the C allocator with versions that count calls, then runs forward passes
// of several configurations on the xsimd and scalar paths (successful and failing calls) and
// requires the count not to move. It first proves the counters work: a deliberate new, new[],
// aligned new, malloc, calloc, realloc, aligned_alloc and posix_memalign must each be counted.
// No Catch2 here (its bookkeeping allocates); exit status 0 = pass.
#include <ctattn/ctattn.hpp>

#include <cstddef>
#include <cstdio>
#include <cstdlib>
#include <new>

#include "../support/heap_counter.hpp"

namespace {

int failures = 0;

void expect(bool ok, const char* what) {
    std::printf("%s: %s\n", ok ? "ok  " : "FAIL", what);
    if (!ok) ++failures;
}

void counters_see_deliberate_allocations() {
    // Each allocation function once, through calls no optimiser can remove (heap_counter.cpp).
    const ctattn_test::heap_self_check c = ctattn_test::check_heap_counting();
    expect(c.all_succeeded, "every deliberate allocation succeeds");
    expect(c.allocations == c.expected_allocations,
           "new, new[], aligned and nothrow new, malloc, realloc, calloc, aligned_alloc and posix_memalign are counted");
    expect(c.releases == c.expected_releases, "delete, delete[], aligned delete and free are counted");
}

// Deterministic fill without <random> (its engines do not allocate, but keep this file minimal).
float next_value(unsigned& state) {
    state = state * 1664525u + 1013904223u;
    return float(int(state >> 9) - (1 << 22)) / float(1 << 23);  // [-0.5, 0.5)
}

template <class M>
void fill(M& m, unsigned& state) {
    for (std::size_t i = 0; i < M::size; ++i) m[i] = next_value(state);
}

// Static storage: the test itself must not allocate either, or the count would mean nothing.
template <class Config, class Arch>
struct forward_run {
    using mha = ctattn::multi_head_attention<Config, Arch>;
    static inline typename mha::weights_type weights{};
    static inline typename mha::workspace_type workspace{};
    static inline typename mha::readout_type readout{};
    static inline ctattn::matrix<Config::seq_capacity, Config::d_model> x{}, y{};

    static void prepare() {
        unsigned state = 12345u + unsigned(Config::d_model);
        fill(weights.wq, state);
        fill(weights.wk, state);
        fill(weights.wv, state);
        fill(weights.wo, state);
        if constexpr (Config::bias) {
            fill(weights.bq, state);
            fill(weights.bk, state);
            fill(weights.bv, state);
            fill(weights.bo, state);
        }
        fill(x, state);
    }

    // Forward passes of every length, with and without readout, plus failing calls; returns how
    // many calls did not give the expected status.
    static int run(const typename mha::mask_params& mask) {
        int wrong = 0;
        for (std::size_t seq_len = 1; seq_len <= Config::seq_capacity; ++seq_len) {
            typename mha::mask_params m = mask;
            if constexpr (requires { m.valid_len; }) m.valid_len = (seq_len + 1) / 2;
            wrong += mha::forward(weights, x, seq_len, y, workspace, m, &readout) != ctattn::status::ok;
            wrong += mha::forward(weights, x.data(), seq_len, y.data(), workspace, m) != ctattn::status::ok;
        }
        wrong += mha::forward(weights, x, 0, y, workspace, mask) != ctattn::status::invalid_length;
        wrong += mha::forward(weights, nullptr, 1, y.data(), workspace, mask) != ctattn::status::invalid_argument;
        return wrong;
    }
};

template <class Config>
void check_config(const char* name, const typename Config::mask::params& mask = {}) {
    using simd_run = forward_run<Config, ctattn::simd::default_arch>;
    using scalar_run = forward_run<Config, ctattn::simd::scalar_arch>;
    simd_run::prepare();
    scalar_run::prepare();
    const std::size_t before = ctattn_test::heap_allocations(), released = ctattn_test::heap_releases();
    const int wrong = simd_run::run(mask) + scalar_run::run(mask);
    const std::size_t allocated = ctattn_test::heap_allocations() - before, freed = ctattn_test::heap_releases() - released;
    std::printf("%s: %zu allocations, %zu releases, %d unexpected statuses\n", name, allocated, freed, wrong);
    expect(allocated == 0 && freed == 0, "forward passes allocate nothing");
    expect(wrong == 0, "forward passes return the expected statuses");
}

}  // namespace

int main() {
    counters_see_deliberate_allocations();
    check_config<ctattn::attention_config<32, 4, 4, 16, ctattn::with_bias, ctattn::causal_mask>>("mha d32 h4 causal bias");
    check_config<ctattn::attention_config<24, 6, 2, 9, ctattn::no_bias, ctattn::key_padding_mask>>("gqa d24 h6 kv2 padding",
                                                                                          {1});
    check_config<ctattn::attention_config<20, 5, 1, 13, ctattn::with_bias, ctattn::sliding_window_mask<4>>>(
        "mqa d20 h5 kv1 window4 bias");
    check_config<ctattn::attention_config<12, 3, 3, 5, ctattn::no_bias, ctattn::no_mask>>("mha d12 h3 no mask");
    std::printf("%s\n", failures == 0 ? "zero heap: pass" : "zero heap: FAIL");
    return failures == 0 ? 0 : 1;
}
