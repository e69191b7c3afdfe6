// SPDX-License-Identifier: Apache-2.0
// Counting replacements of the global allocation functions (see heap_counter.hpp).
#include "heap_counter.hpp"

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

// The replacements run before AddressSanitizer has mapped its shadow memory (its start-up calls
// dlsym, which calls malloc): instrumented code would fault there, so they are not instrumented.
#if defined(CTATTN_TEST_SANITIZED)
#define CTATTN_TEST_UNINSTRUMENTED __attribute__((no_sanitize("address", "undefined")))
#else
#define CTATTN_TEST_UNINSTRUMENTED
#endif

#if !defined(__GLIBC__)
#error "tests/support/heap_counter.cpp forwards to glibc's allocator (__libc_malloc); build it for glibc targets only"
#endif

namespace {
// Constant-initialised, so they are ready before the C runtime's first allocation. Updated with the
// __atomic builtins rather than std::atomic's members: those may stay out of line, instrumented,
// and the uninstrumented replacements below must not call instrumented code.
std::size_t allocation_calls = 0;
std::size_t release_calls = 0;
}  // namespace

std::size_t ctattn_test::heap_allocations() noexcept { return __atomic_load_n(&allocation_calls, __ATOMIC_RELAXED); }
std::size_t ctattn_test::heap_releases() noexcept { return __atomic_load_n(&release_calls, __ATOMIC_RELAXED); }

bool ctattn_test::heap_counting_available() noexcept {
#if defined(CTATTN_TEST_CAN_DETECT_VALGRIND)
    if (RUNNING_ON_VALGRIND) return false;
#endif
    return true;
}

// The allocator every replacement forwards to, and frees through: glibc's own entry points, or
// under AddressSanitizer its interceptors (the functions its malloc & co. are weak aliases of), so
// blocks keep their redzones and are freed by the allocator that made them. Mixing the two (ASan
// intercepts __libc_memalign but not __libc_free) is what used to abort the zero-heap tests.
extern "C" {
#if defined(CTATTN_TEST_SANITIZED)
void* __interceptor_malloc(std::size_t size);
void* __interceptor_calloc(std::size_t count, std::size_t size);
void* __interceptor_realloc(void* p, std::size_t size);
void* __interceptor_memalign(std::size_t alignment, std::size_t size);
void __interceptor_free(void* p);
#else
void* __libc_malloc(std::size_t size);
void* __libc_calloc(std::size_t count, std::size_t size);
void* __libc_realloc(void* p, std::size_t size);
void* __libc_memalign(std::size_t alignment, std::size_t size);
void __libc_free(void* p);
#endif
}

namespace {
#if defined(CTATTN_TEST_SANITIZED)
CTATTN_TEST_UNINSTRUMENTED void* real_malloc(std::size_t size) noexcept { return __interceptor_malloc(size); }
CTATTN_TEST_UNINSTRUMENTED void* real_calloc(std::size_t count, std::size_t size) noexcept { return __interceptor_calloc(count, size); }
CTATTN_TEST_UNINSTRUMENTED void* real_realloc(void* p, std::size_t size) noexcept { return __interceptor_realloc(p, size); }
CTATTN_TEST_UNINSTRUMENTED void* real_memalign(std::size_t alignment, std::size_t size) noexcept { return __interceptor_memalign(alignment, size); }
CTATTN_TEST_UNINSTRUMENTED void real_free(void* p) noexcept { __interceptor_free(p); }
#else
CTATTN_TEST_UNINSTRUMENTED void* real_malloc(std::size_t size) noexcept { return __libc_malloc(size); }
CTATTN_TEST_UNINSTRUMENTED void* real_calloc(std::size_t count, std::size_t size) noexcept { return __libc_calloc(count, size); }
CTATTN_TEST_UNINSTRUMENTED void* real_realloc(void* p, std::size_t size) noexcept { return __libc_realloc(p, size); }
CTATTN_TEST_UNINSTRUMENTED void* real_memalign(std::size_t alignment, std::size_t size) noexcept { return __libc_memalign(alignment, size); }
CTATTN_TEST_UNINSTRUMENTED void real_free(void* p) noexcept { __libc_free(p); }
#endif

CTATTN_TEST_UNINSTRUMENTED void* counted(void* p) noexcept {
    __atomic_fetch_add(&allocation_calls, 1, __ATOMIC_RELAXED);
    return p;
}
CTATTN_TEST_UNINSTRUMENTED void counted_free(void* p) noexcept {
    if (p != nullptr) __atomic_fetch_add(&release_calls, 1, __ATOMIC_RELAXED);
    real_free(p);
}
// Tests never run out of memory; aborting keeps this usable with and without exceptions.
CTATTN_TEST_UNINSTRUMENTED void* never_null(void* p) {
    if (p == nullptr) std::abort();
    return p;
}
CTATTN_TEST_UNINSTRUMENTED void* counted_malloc(std::size_t size) noexcept { return counted(real_malloc(size ? size : 1)); }
CTATTN_TEST_UNINSTRUMENTED void* counted_aligned(std::size_t alignment, std::size_t size) noexcept {
    return counted(real_memalign(alignment, size ? size : 1));
}
}  // namespace

extern "C" {
CTATTN_TEST_UNINSTRUMENTED void* malloc(std::size_t size) noexcept { return counted(real_malloc(size)); }
CTATTN_TEST_UNINSTRUMENTED void* calloc(std::size_t count, std::size_t size) noexcept { return counted(real_calloc(count, size)); }
CTATTN_TEST_UNINSTRUMENTED void* realloc(void* p, std::size_t size) noexcept { return counted(real_realloc(p, size)); }
CTATTN_TEST_UNINSTRUMENTED void free(void* p) noexcept { counted_free(p); }
CTATTN_TEST_UNINSTRUMENTED void* aligned_alloc(std::size_t alignment, std::size_t size) noexcept { return counted_aligned(alignment, size); }
CTATTN_TEST_UNINSTRUMENTED void* memalign(std::size_t alignment, std::size_t size) noexcept { return counted_aligned(alignment, size); }
CTATTN_TEST_UNINSTRUMENTED int posix_memalign(void** out, std::size_t alignment, std::size_t size) noexcept {
    void* p = counted_aligned(alignment, size);
    if (p == nullptr) return 12;  // ENOMEM
    *out = p;
    return 0;
}
CTATTN_TEST_UNINSTRUMENTED void* valloc(std::size_t size) noexcept { return counted_aligned(4096, size); }
CTATTN_TEST_UNINSTRUMENTED void* pvalloc(std::size_t size) noexcept { return counted_aligned(4096, (size + 4095) / 4096 * 4096); }
}

CTATTN_TEST_UNINSTRUMENTED void* operator new(std::size_t size) { return never_null(counted_malloc(size)); }
CTATTN_TEST_UNINSTRUMENTED void* operator new[](std::size_t size) { return never_null(counted_malloc(size)); }
CTATTN_TEST_UNINSTRUMENTED void* operator new(std::size_t size, const std::nothrow_t&) noexcept { return counted_malloc(size); }
CTATTN_TEST_UNINSTRUMENTED void* operator new[](std::size_t size, const std::nothrow_t&) noexcept { return counted_malloc(size); }
CTATTN_TEST_UNINSTRUMENTED void* operator new(std::size_t size, std::align_val_t al) { return never_null(counted_aligned(std::size_t(al), size)); }
CTATTN_TEST_UNINSTRUMENTED void* operator new[](std::size_t size, std::align_val_t al) { return never_null(counted_aligned(std::size_t(al), size)); }
CTATTN_TEST_UNINSTRUMENTED void* operator new(std::size_t size, std::align_val_t al, const std::nothrow_t&) noexcept {
    return counted_aligned(std::size_t(al), size);
}
CTATTN_TEST_UNINSTRUMENTED void* operator new[](std::size_t size, std::align_val_t al, const std::nothrow_t&) noexcept {
    return counted_aligned(std::size_t(al), size);
}
CTATTN_TEST_UNINSTRUMENTED void operator delete(void* p) noexcept { counted_free(p); }
CTATTN_TEST_UNINSTRUMENTED void operator delete[](void* p) noexcept { counted_free(p); }
CTATTN_TEST_UNINSTRUMENTED void operator delete(void* p, std::size_t) noexcept { counted_free(p); }
CTATTN_TEST_UNINSTRUMENTED void operator delete[](void* p, std::size_t) noexcept { counted_free(p); }
CTATTN_TEST_UNINSTRUMENTED void operator delete(void* p, const std::nothrow_t&) noexcept { counted_free(p); }
CTATTN_TEST_UNINSTRUMENTED void operator delete[](void* p, const std::nothrow_t&) noexcept { counted_free(p); }
CTATTN_TEST_UNINSTRUMENTED void operator delete(void* p, std::align_val_t) noexcept { counted_free(p); }
CTATTN_TEST_UNINSTRUMENTED void operator delete[](void* p, std::align_val_t) noexcept { counted_free(p); }
CTATTN_TEST_UNINSTRUMENTED void operator delete(void* p, std::size_t, std::align_val_t) noexcept { counted_free(p); }
CTATTN_TEST_UNINSTRUMENTED void operator delete[](void* p, std::size_t, std::align_val_t) noexcept { counted_free(p); }
CTATTN_TEST_UNINSTRUMENTED void operator delete(void* p, std::align_val_t, const std::nothrow_t&) noexcept { counted_free(p); }
CTATTN_TEST_UNINSTRUMENTED void operator delete[](void* p, std::align_val_t, const std::nothrow_t&) noexcept { counted_free(p); }

// ---- the self check: every road to the heap, each call through a volatile function pointer ----
// A compiler may drop a new-expression or a malloc/free pair whose memory is never used (clang
// does, at -O1 and above), which made the old in-test checks fail under clang. A call through a
// pointer read from a volatile object is opaque: it must happen, and it reaches the replacement.
namespace {
void* (*volatile call_new)(std::size_t) = static_cast<void* (*)(std::size_t)>(&::operator new);
void* (*volatile call_new_array)(std::size_t) = static_cast<void* (*)(std::size_t)>(&::operator new[]);
void* (*volatile call_new_aligned)(std::size_t, std::align_val_t) =
    static_cast<void* (*)(std::size_t, std::align_val_t)>(&::operator new);
void* (*volatile call_new_nothrow)(std::size_t, const std::nothrow_t&) noexcept =
    static_cast<void* (*)(std::size_t, const std::nothrow_t&) noexcept>(&::operator new);
void (*volatile call_delete)(void*) noexcept = static_cast<void (*)(void*) noexcept>(&::operator delete);
void (*volatile call_delete_array)(void*) noexcept = static_cast<void (*)(void*) noexcept>(&::operator delete[]);
void (*volatile call_delete_aligned)(void*, std::align_val_t) noexcept =
    static_cast<void (*)(void*, std::align_val_t) noexcept>(&::operator delete);
void* (*volatile call_malloc)(std::size_t) = &::malloc;
void* (*volatile call_calloc)(std::size_t, std::size_t) = &::calloc;
void* (*volatile call_realloc)(void*, std::size_t) = &::realloc;
void* (*volatile call_aligned_alloc)(std::size_t, std::size_t) = &::aligned_alloc;
int (*volatile call_posix_memalign)(void**, std::size_t, std::size_t) = &::posix_memalign;
void (*volatile call_free)(void*) = &::free;
}  // namespace

ctattn_test::heap_self_check ctattn_test::check_heap_counting() noexcept {
    heap_self_check result;
    const std::size_t allocations = heap_allocations(), releases = heap_releases();
    call_delete(call_new(24));
    call_delete_array(call_new_array(52));
    call_delete_aligned(call_new_aligned(128, std::align_val_t(128)), std::align_val_t(128));
    call_delete(call_new_nothrow(8, std::nothrow));
    void* block = call_malloc(24);
    block = call_realloc(block, 4096);  // counted as an allocation; the old block is realloc's to free
    call_free(block);
    call_free(call_calloc(3, 8));
    call_free(call_aligned_alloc(64, 128));
    void* aligned = nullptr;
    const bool posix_ok = call_posix_memalign(&aligned, 64, 256) == 0;
    call_free(aligned);
    result.expected_allocations = 9;
    result.expected_releases = 8;
    result.allocations = heap_allocations() - allocations;
    result.releases = heap_releases() - releases;
    result.all_succeeded = posix_ok;
    return result;
}
