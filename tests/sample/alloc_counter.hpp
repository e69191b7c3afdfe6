// Counts heap allocations made anywhere in the test program: global operator new (every form) is
// replaced, and on glibc so are malloc/calloc/realloc (forwarding to glibc's own allocator), so
// a library call that reaches the heap by either road shows up as a count change.
#pragma once

#include <cstddef>

namespace ctattn_test {

// Allocations since program start; compare two readings around the code under test.
std::size_t heap_allocations() noexcept;

// False under valgrind, which swaps in its own allocator for the replacements here (nothing is
// counted then); the allocation tests skip with a warning instead of passing vacuously.
bool heap_counting_available() noexcept;

}  // namespace ctattn_test
