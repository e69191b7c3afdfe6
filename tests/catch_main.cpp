// The one translation unit that holds Catch2's runner, so test files compile independently.
#define CATCH_CONFIG_MAIN
#include <catch2/catch.hpp>
