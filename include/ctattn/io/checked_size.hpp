// SPDX-License-Identifier: Apache-2.0
// Overflow-checked size arithmetic for sizes that come from untrusted bytes (file headers).
//   checked_size<S>: a value of the unsigned type S (the target's size_t by default) that turns
//   into "overflowed" for good once a product or sum leaves [0, max S], instead of wrapping.
// Templated on S so a 64-bit host can compute exactly what a 32-bit Cortex-M computes
// (checked_size<std::uint32_t>) and static_assert it. Everything is constexpr; no branches beyond
// the overflow tests.
#pragma once

#include "../base/language_check.hpp"  // first: under an older -std the first error names C++20

#include <concepts>
#include <cstddef>
#include <cstdint>
#include <limits>
#include <type_traits>

namespace ctattn::io {

/// A size of type Size that becomes "overflowed" for good, instead of wrapping, once a sum or
/// product leaves [0, max Size].
template <std::unsigned_integral Size = std::size_t>
class checked_size {
public:
    using size_type = Size;  ///< the unsigned type the value is computed in

    /// Zero.
    constexpr checked_size() noexcept = default;
    /// A size known to be good.
    constexpr checked_size(Size value) noexcept : value_(value) {}  // NOLINT: implicit from a known-good size

    /// From a file field: negative or above the width of Size overflows.
    template <std::integral Field>
    [[nodiscard]] static constexpr checked_size from_field(Field field) noexcept {
        if constexpr (std::is_signed_v<Field>) {
            if (field < 0) return overflowed();
        }
        using wide = std::make_unsigned_t<Field>;
        if (static_cast<std::uintmax_t>(static_cast<wide>(field)) > std::numeric_limits<Size>::max())
            return overflowed();
        return checked_size(static_cast<Size>(field));
    }
    /// An overflowed size.
    [[nodiscard]] static constexpr checked_size overflowed() noexcept {
        checked_size c;
        c.overflow_ = true;
        return c;
    }

    /// Whether no step so far has overflowed.
    [[nodiscard]] constexpr bool ok() const noexcept { return !overflow_; }
    /// The value; meaningful only when ok().
    [[nodiscard]] constexpr Size value() const noexcept { return value_; }

    /// a + b, or overflowed if either is or the sum exceeds max Size.
    friend constexpr checked_size operator+(checked_size a, checked_size b) noexcept {
        if (a.overflow_ || b.overflow_ || a.value_ > std::numeric_limits<Size>::max() - b.value_) return overflowed();
        return checked_size(static_cast<Size>(a.value_ + b.value_));
    }
    /// a * b, or overflowed if either is or the product exceeds max Size.
    friend constexpr checked_size operator*(checked_size a, checked_size b) noexcept {
        if (a.overflow_ || b.overflow_) return overflowed();
        if (a.value_ != 0 && b.value_ > std::numeric_limits<Size>::max() / a.value_) return overflowed();
        return checked_size(static_cast<Size>(a.value_ * b.value_));
    }
    /// Adds b in place (overflows as operator+ does).
    constexpr checked_size& operator+=(checked_size b) noexcept { return *this = *this + b; }
    /// Multiplies by b in place (overflows as operator* does).
    constexpr checked_size& operator*=(checked_size b) noexcept { return *this = *this * b; }

private:
    Size value_ = 0;
    bool overflow_ = false;
};

}  // namespace ctattn::io
