// SPDX-License-Identifier: Apache-2.0
// The runq.c-style int8 baseline compiled with -O3 -march=native -ffast-math.
#define CTATTN_PLAIN_Q8_NS plain_q8_fast
#include "plain_q8_loops_impl.hpp"
