// SPDX-License-Identifier: Apache-2.0
// Pass/fail bookkeeping for firmware tests: each check prints one line, "pass" or "FAIL", with its
// worst error next to the tolerance, and main() returns the count of failures so startup.cpp can
// report it to QEMU as the exit status.
#pragma once

#include <cstddef>

#include "print.hpp"
#include "stack.hpp"

namespace embedded {

class checker {
public:
    // Worst |got - want| over n values against a tolerance atol + rtol * |want| per element.
    // NaN in `got` counts as a failure (the comparison is written so that NaN never passes).
    void close(const char* what, const float* got, const float* want, std::size_t n, double atol, double rtol) noexcept {
        double worst = 0.0;
        bool ok = true;
        for (std::size_t i = 0; i < n; ++i) {
            const double want_i = want[i];
            const double err = got[i] > want_i ? got[i] - want_i : want_i - got[i];
            const double tol = atol + rtol * (want_i < 0 ? -want_i : want_i);
            if (!(err <= tol)) ok = false;
            if (!(err <= worst)) worst = err;
        }
        report(what, ok, worst, atol, rtol);
    }

    // A check whose per-element bound the caller evaluated: `worst_ratio` is the largest
    // |err| / bound seen (<= 1 passes), `worst` the |err| at that element.
    void bounded(const char* what, double worst, double worst_ratio) noexcept {
        const bool ok = worst_ratio <= 1.0;  // NaN fails
        count(ok);
        print(ok ? "pass " : "FAIL ", what, ": max |err| ", worst, " (", worst_ratio, " of its bound)\n");
    }

    void is_true(const char* what, bool ok) noexcept {
        count(ok);
        print(ok ? "pass " : "FAIL ", what, "\n");
    }

    std::size_t failures() const noexcept { return failed_; }
    std::size_t checks() const noexcept { return passed_ + failed_; }

private:
    void report(const char* what, bool ok, double worst, double atol, double rtol) noexcept {
        count(ok);
        print(ok ? "pass " : "FAIL ", what, ": max |err| ", worst, " (tol ", atol, " + ", rtol, " |ref|)\n");
    }
    void count(bool ok) noexcept { ok ? ++passed_ : ++failed_; }

    std::size_t passed_ = 0;
    std::size_t failed_ = 0;
};

// The closing lines of every firmware test: the compile-time bounds and the painted-stack
// high-water mark (tools/footprint.py parses these two lines), then the verdict. Returns the
// failure count, which startup.cpp reports to QEMU as the exit status.
inline int finish(const checker& check, const char* case_name, std::size_t flash_bound_bytes,
                  std::size_t ram_bound_bytes, std::size_t readout_bytes) noexcept {
    print("footprint flash_bound_bytes ", flash_bound_bytes, " ram_bound_bytes ", ram_bound_bytes, " readout_bytes ",
          readout_bytes, "\n");
    print("stack_high_water_bytes ", stack_high_water_bytes(), " of ", stack_size_bytes(), "\n");
    print(check.failures() == 0 ? "PASS " : "FAIL ", case_name, ": ", check.checks() - check.failures(), " of ",
          check.checks(), " checks passed\n");
    return static_cast<int>(check.failures());
}

}  // namespace embedded
