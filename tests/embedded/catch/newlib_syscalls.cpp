// SPDX-License-Identifier: Apache-2.0
// newlib's system calls for the Catch2 kernel-test images (tests/embedded/catch), which are NOT
// zero-heap: Catch2's runner and the tests' std::vector buffers allocate. _sbrk hands out the
// heap that boards/mps3-an547-catch.ld reserves in the board's DDR (__heap_start..__heap_end) and
// reports ENOMEM past it; stdout and stderr go out through semihosting's SYS_WRITE0 (the
// firmware tests' channel); _exit is SYS_EXIT, so abort() (a failed REQUIRE without exceptions
// calls std::terminate) fails the meson test. There are no files: the kernel tests read none.
// The firmware images never link this file; they keep the --wrap proof that nothing allocates.
#include <sys/stat.h>
#include <sys/time.h>

#include <cerrno>
#include <cstddef>
#include <cstdint>

#include "../semihosting.hpp"

namespace {
constexpr std::uint32_t semihosting_clock = 0x10;  // centiseconds since the program started
}  // namespace

extern "C" {
extern char __heap_start[], __heap_end[];
// Static destructors registered with __cxa_atexit name their module by this handle; crtbegin.o,
// which defines it on a hosted link, is out with -nostartfiles. One module, so any unique address.
void* __dso_handle = &__dso_handle;

void* _sbrk(std::ptrdiff_t increment) {
    static char* brk = __heap_start;
    if (increment > __heap_end - brk || increment < __heap_start - brk) {
        // operator new then aborts without a word (no exceptions): say why here.
        embedded::write("kernel-tests: heap exhausted (boards/mps3-an547-catch.ld)\n");
        errno = ENOMEM;
        return reinterpret_cast<void*>(-1);
    }
    char* previous = brk;
    brk += increment;
    return previous;
}

int _write(int fd, const char* data, int length) {
    if (fd != 1 && fd != 2) {
        errno = EBADF;
        return -1;
    }
    // SYS_WRITE0 takes a NUL-terminated string: the text goes out in chunks of a local buffer.
    char chunk[129];
    int written = 0;
    while (written < length) {
        int n = 0;
        while (n < 128 && written + n < length) {
            chunk[n] = data[written + n];
            ++n;
        }
        chunk[n] = '\0';
        embedded::write(chunk);
        written += n;
    }
    return length;
}

int _read(int, char*, int) {
    errno = EBADF;
    return -1;
}
int _open(const char*, int, ...) {
    errno = ENOENT;
    return -1;
}
int _close(int) { return -1; }
int _lseek(int, int, int) { return -1; }
int _fstat(int, struct stat* status) {
    status->st_mode = S_IFCHR;  // stdout and stderr: character devices, so newlib line-buffers them
    return 0;
}
int _isatty(int fd) { return fd <= 2 ? 1 : 0; }
// Catch2 times each test case: centiseconds since start from SYS_CLOCK are enough.
int _gettimeofday(struct timeval* now, void*) {
    const std::uint32_t centiseconds = embedded::semihost(semihosting_clock, nullptr);
    if (now != nullptr) {
        now->tv_sec = static_cast<time_t>(centiseconds / 100);
        now->tv_usec = static_cast<suseconds_t>(centiseconds % 100 * 10000);
    }
    return 0;
}
int _getpid() { return 1; }
int _kill(int, int) {
    errno = EINVAL;
    return -1;
}
[[noreturn]] void _exit(int status) { embedded::exit(status == 0); }
}
