// Counting replacements of the global allocation functions (see heap_counter.hpp).
#include "heap_counter.hpp"

#include <atomic>
#include <cstdlib>
#include <new>

#if defined(__has_include)
#if __has_include(<valgrind/valgrind.h>)
#include <valgrind/valgrind.h>
#define CTATTN_TEST_CAN_DETECT_VALGRIND 1
#endif
#endif

#if defined(__SANITIZE_ADDRESS__)
#define CTATTN_TEST_SANITIZED 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define CTATTN_TEST_SANITIZED 1
#endif
#endif

#if !defined(__GLIBC__)
#error "tests/heap_counter.cpp forwards to glibc's allocator (__libc_malloc); build it for glibc targets only"
#endif

namespace {
// Constant-initialised, so they are ready before the C runtime's first allocation.
std::atomic<std::size_t> allocation_calls{0};
std::atomic<std::size_t> release_calls{0};
}  // namespace

std::size_t ctattn_test::heap_allocations() noexcept { return allocation_calls.load(std::memory_order_relaxed); }
std::size_t ctattn_test::heap_releases() noexcept { return release_calls.load(std::memory_order_relaxed); }

bool ctattn_test::heap_counting_available() noexcept {
#if defined(CTATTN_TEST_SANITIZED)
    return false;
#else
#if defined(CTATTN_TEST_CAN_DETECT_VALGRIND)
    if (RUNNING_ON_VALGRIND) return false;
#endif
    return true;
#endif
}

extern "C" {
// glibc's allocator under its internal names, so the replacements can forward to it and memory
// from either side can be freed by the other.
void* __libc_malloc(std::size_t size);
void* __libc_calloc(std::size_t count, std::size_t size);
void* __libc_realloc(void* p, std::size_t size);
void* __libc_memalign(std::size_t alignment, std::size_t size);
void __libc_free(void* p);
}

namespace {
void* counted(void* p) noexcept {
    allocation_calls.fetch_add(1, std::memory_order_relaxed);
    return p;
}
void counted_free(void* p) noexcept {
    if (p != nullptr) release_calls.fetch_add(1, std::memory_order_relaxed);
    __libc_free(p);
}
// Tests never run out of memory; aborting keeps this usable with and without exceptions.
void* never_null(void* p) {
    if (p == nullptr) std::abort();
    return p;
}
void* counted_malloc(std::size_t size) noexcept { return counted(__libc_malloc(size ? size : 1)); }
void* counted_aligned(std::size_t alignment, std::size_t size) noexcept {
    return counted(__libc_memalign(alignment, size ? size : 1));
}
}  // namespace

#if !defined(CTATTN_TEST_SANITIZED)
// Not under AddressSanitizer: its malloc must stay in place to keep redzones around every block.
extern "C" {
void* malloc(std::size_t size) noexcept { return counted(__libc_malloc(size)); }
void* calloc(std::size_t count, std::size_t size) noexcept { return counted(__libc_calloc(count, size)); }
void* realloc(void* p, std::size_t size) noexcept { return counted(__libc_realloc(p, size)); }
void free(void* p) noexcept { counted_free(p); }
void* aligned_alloc(std::size_t alignment, std::size_t size) noexcept { return counted_aligned(alignment, size); }
void* memalign(std::size_t alignment, std::size_t size) noexcept { return counted_aligned(alignment, size); }
int posix_memalign(void** out, std::size_t alignment, std::size_t size) noexcept {
    void* p = counted_aligned(alignment, size);
    if (p == nullptr) return 12;  // ENOMEM
    *out = p;
    return 0;
}
void* valloc(std::size_t size) noexcept { return counted_aligned(4096, size); }
void* pvalloc(std::size_t size) noexcept { return counted_aligned(4096, (size + 4095) / 4096 * 4096); }
}
#endif

void* operator new(std::size_t size) { return never_null(counted_malloc(size)); }
void* operator new[](std::size_t size) { return never_null(counted_malloc(size)); }
void* operator new(std::size_t size, const std::nothrow_t&) noexcept { return counted_malloc(size); }
void* operator new[](std::size_t size, const std::nothrow_t&) noexcept { return counted_malloc(size); }
void* operator new(std::size_t size, std::align_val_t al) { return never_null(counted_aligned(std::size_t(al), size)); }
void* operator new[](std::size_t size, std::align_val_t al) { return never_null(counted_aligned(std::size_t(al), size)); }
void* operator new(std::size_t size, std::align_val_t al, const std::nothrow_t&) noexcept {
    return counted_aligned(std::size_t(al), size);
}
void* operator new[](std::size_t size, std::align_val_t al, const std::nothrow_t&) noexcept {
    return counted_aligned(std::size_t(al), size);
}
void operator delete(void* p) noexcept { counted_free(p); }
void operator delete[](void* p) noexcept { counted_free(p); }
void operator delete(void* p, std::size_t) noexcept { counted_free(p); }
void operator delete[](void* p, std::size_t) noexcept { counted_free(p); }
void operator delete(void* p, const std::nothrow_t&) noexcept { counted_free(p); }
void operator delete[](void* p, const std::nothrow_t&) noexcept { counted_free(p); }
void operator delete(void* p, std::align_val_t) noexcept { counted_free(p); }
void operator delete[](void* p, std::align_val_t) noexcept { counted_free(p); }
void operator delete(void* p, std::size_t, std::align_val_t) noexcept { counted_free(p); }
void operator delete[](void* p, std::size_t, std::align_val_t) noexcept { counted_free(p); }
void operator delete(void* p, std::align_val_t, const std::nothrow_t&) noexcept { counted_free(p); }
void operator delete[](void* p, std::align_val_t, const std::nothrow_t&) noexcept { counted_free(p); }
