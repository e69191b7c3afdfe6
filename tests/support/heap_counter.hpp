// SPDX-License-Identifier: Apache-2.0
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
// allocator). Allocation tests then skip with a warning instead of passing vacuously. Under
// AddressSanitizer counting works: the replacements forward to ASan's allocator.
bool heap_counting_available() noexcept;

// One allocation (and release) through each replaced function, each call through a volatile
// function pointer so no optimiser can remove it: the counters must move by the expected amounts.
struct heap_self_check {
    std::size_t allocations = 0, releases = 0;
    std::size_t expected_allocations = 0, expected_releases = 0;
    bool all_succeeded = false;
    [[nodiscard]] bool ok() const noexcept {
        return all_succeeded && allocations == expected_allocations && releases == expected_releases;
    }
};
heap_self_check check_heap_counting() noexcept;

}  // namespace ctattn_test
