// Counts heap use anywhere in a test program. heap_counter.cpp replaces every global operator
// new/delete and, on glibc, the C allocator (malloc, calloc, realloc, free, aligned_alloc,
// posix_memalign, memalign, valloc, pvalloc) with versions that count calls and forward to glibc's
// own allocator, so a library call that reaches the heap by either road moves the count.
// Link the `heap_counter` static library; referencing any function below pulls the replacements in.
#pragma once

#include <cstddef>

namespace ctattn_test {

// Allocation calls since program start; compare two readings around the code under test.
std::size_t heap_allocations() noexcept;

// Release calls (free / delete of a non-null pointer) since program start.
std::size_t heap_releases() noexcept;

// False where the replacements cannot see everything: under valgrind (it swaps in its own
// allocator) and under AddressSanitizer (malloc stays ASan's; operator new is still counted).
// Allocation tests then skip with a warning instead of passing vacuously.
bool heap_counting_available() noexcept;

}  // namespace ctattn_test
