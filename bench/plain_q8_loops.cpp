// SPDX-License-Identifier: Apache-2.0
// The runq.c-style int8 baseline compiled with exactly the flags ctattn gets.
#define CTATTN_PLAIN_Q8_NS plain_q8
#include "plain_q8_loops_impl.hpp"
