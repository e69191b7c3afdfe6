// SPDX-License-Identifier: Apache-2.0
// The plain-loops baseline compiled with -O3 -march=native -ffast-math (see bench/meson.build).
#define CTATTN_PLAIN_NS plain_fast
#include "plain_loops_impl.hpp"
