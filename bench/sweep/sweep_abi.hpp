// SPDX-License-Identifier: Apache-2.0
// The one interface between the arch sweep's harness (ctattn_sweep) and its per-arch modules
// (one shared module per arch, each built from sweep_module.cpp with its own -m flags). Plain C
// types only: a module is a sealed copy of ctattn compiled for one arch, and nothing but this
// table of function pointers crosses into it, so no inline function or type whose body depends
// on the target flags (simd::ops<scalar_arch>::fma, model workspaces) is ever shared between archs.
#pragma once

#include <cstddef>

extern "C" {

// The inputs a case reads, made once by the harness (the same floats for every arch); the case
// copies what it needs into its own buffers when it is made.
struct ctattn_sweep_inputs {
    const float* a;               // X, Q or the scores, by kernel
    const float* b;               // W, K, V or P
    const float* c;               // V
    const float* w[4];            // the layer's Wq, Wk, Wv, Wo (D, D), x @ W layout
    const unsigned char* bytes;   // a llama2.c checkpoint (decode)
    std::size_t byte_count;
    const unsigned int* tokens;   // decode's token ids, one per step
};

struct ctattn_sweep_case {
    const char* kernel;           // projection, scores, softmax, aggregate, mha, decode, fma_peak
    const char* shape;            // S64/D256/H8/causal, stories260K, ...
    double work;                  // per run: FLOPs (decode: tokens, softmax: elements)
    const char* counter;          // GFLOPs, Gelem_s or tokens_s
    std::size_t output_count;     // floats run() leaves at output()
    void* (*make)(const ctattn_sweep_inputs* inputs);  // nullptr if it cannot (error status)
    void (*run)(void* state);
    const float* (*output)(const void* state);
    void (*destroy)(void* state);
};

struct ctattn_sweep_module {
    const char* arch;             // the sweep's name for it: scalar, sse2, sse4_2, avx, avx2_fma, avx512, neon64
    const char* xsimd_arch;       // ctattn::simd::default_arch's name in this module
    unsigned lanes;               // floats per vector
    int has_fma;                  // the peak case uses fused multiply-adds (else a multiply and an add)
    std::size_t case_count;
    const ctattn_sweep_case* cases;
};

// The one symbol a module exports.
typedef const ctattn_sweep_module* (*ctattn_sweep_entry)();
#define CTATTN_SWEEP_ENTRY "ctattn_sweep_module"
}
