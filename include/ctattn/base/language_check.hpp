// SPDX-License-Identifier: Apache-2.0
// The language check every ctattn header starts with: ctattn is C++20 (concepts, constexpr
// algorithms, designated initialisers), and under an older -std the first diagnostic should say
// so, not be an error deep inside a kernel. GCC 12 still defaults to C++17 (-std=gnu++17).
#pragma once

// MSVC reports 199711L in __cplusplus unless /Zc:__cplusplus is given; _MSVC_LANG is the real value.
#if defined(_MSVC_LANG) && _MSVC_LANG > __cplusplus
#define CTATTN_CPLUSPLUS _MSVC_LANG
#else
#define CTATTN_CPLUSPLUS __cplusplus
#endif

#if CTATTN_CPLUSPLUS < 202002L
#error "ctattn needs C++20: compile with -std=c++20 (or -std=gnu++20; MSVC: /std:c++20)"
// GCC and clang go on after #error, and the C++20 code below would add a hundred errors more. A
// missing include is fatal in both: compilation stops here, with the line above as the first error.
#include <ctattn_stop_here_compile_with_std_cxx20>
#endif
