// SPDX-License-Identifier: Apache-2.0
// Text output for firmware without printf: newlib's stdio would pull in buffers from the heap
// (and the heap is a link error here, see meson.build). Numbers are formatted into a small
// fixed buffer and written with one semihosting call per piece.
#pragma once

#include <cstddef>
#include <cstdint>

#include "semihosting.hpp"

namespace embedded {

inline void print(const char* text) noexcept { write(text); }

inline void print(std::size_t value) noexcept {
    char digits[24];  // 2^64 has 20 decimal digits
    char* p = digits + sizeof digits;
    *--p = '\0';
    do {
        *--p = static_cast<char>('0' + value % 10);
        value /= 10;
    } while (value != 0);
    write(p);
}

inline void print(int value) noexcept {
    if (value < 0) {
        write("-");
        print(static_cast<std::size_t>(-static_cast<long long>(value)));
    } else {
        print(static_cast<std::size_t>(value));
    }
}

// Scientific notation with four significant digits ("-1.234e-05"): enough to read an error
// against its tolerance. Double arithmetic keeps the digits honest for every float.
inline void print(double value) noexcept {
    if (value != value) return write("nan");
    if (value < 0) {
        write("-");
        value = -value;
    }
    if (value > 1.0e300) return write("inf");
    int exponent = 0;
    if (value != 0.0) {
        while (value >= 10.0) value /= 10.0, ++exponent;
        while (value < 1.0) value *= 10.0, --exponent;
    }
    unsigned mantissa = static_cast<unsigned>(value * 1000.0 + 0.5);  // 4 digits, rounded
    if (mantissa >= 10000) mantissa /= 10, ++exponent;
    char text[16];
    std::size_t n = 0;
    text[n++] = static_cast<char>('0' + mantissa / 1000);
    text[n++] = '.';
    text[n++] = static_cast<char>('0' + mantissa / 100 % 10);
    text[n++] = static_cast<char>('0' + mantissa / 10 % 10);
    text[n++] = static_cast<char>('0' + mantissa % 10);
    text[n++] = 'e';
    text[n++] = exponent < 0 ? '-' : '+';
    const int magnitude = exponent < 0 ? -exponent : exponent;
    if (magnitude >= 100) text[n++] = static_cast<char>('0' + magnitude / 100 % 10);
    text[n++] = static_cast<char>('0' + magnitude / 10 % 10);
    text[n++] = static_cast<char>('0' + magnitude % 10);
    text[n] = '\0';
    write(text);
}

inline void print(float value) noexcept { print(static_cast<double>(value)); }

template <class First, class... Rest>
void print(const First& first, const Rest&... rest) noexcept {
    print(first);
    (print(rest), ...);
}

}  // namespace embedded
