// SPDX-License-Identifier: Apache-2.0
// The one translation unit that holds Catch2's runner, so test files compile independently.
// Catch2 2.13's runner instantiates std::regex / std::function from libstdc++; with sanitizers
// (-fsanitize=address,undefined changes inlining) GCC 12 reports -Wmaybe-uninitialized inside
// those system headers, which -Werror would turn into a failed build. The warnings are about
// libstdc++ internals, not about ctattn or its tests, so they are silenced for this file only.
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#endif
#define CATCH_CONFIG_MAIN
#include <catch2/catch.hpp>
