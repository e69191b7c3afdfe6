/* SPDX-License-Identifier: Apache-2.0 */
// Arduino entry header (library.properties): Arduino puts only a library's src/ on the include
// path, so this reaches the attention umbrella by a relative path (the headers include each other
// relatively). Needs a core compiled as C++20 or later; CTATTN_SIMD_SCALAR picks the plain kernels
// (no xsimd on MCUs).
#pragma once

#ifndef CTATTN_SIMD_SCALAR
#define CTATTN_SIMD_SCALAR 1
#endif
#include "../include/ctattn/ctattn.hpp"
