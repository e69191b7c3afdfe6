// SPDX-License-Identifier: Apache-2.0
// The plain-loops baseline compiled with exactly the flags ctattn gets.
#define CTATTN_PLAIN_NS plain
#include "plain_loops_impl.hpp"
