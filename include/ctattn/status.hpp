// Run-time errors are values. Every ctattn function that can fail on bad *run-time* input returns
// a `status` and leaves its outputs untouched when it is not `status::ok`; bad *compile-time*
// configuration never gets this far (it is a static_assert in config.hpp).
#pragma once

#include "cxx_version.hpp"  // first: under an older -std the first error names C++20

namespace ctattn {

enum class status : unsigned char {
    ok = 0,
    invalid_argument,   // a required pointer is null
    invalid_length,     // sequence length is 0 or larger than the configured capacity
    invalid_mask,       // a mask's run-time parameter is out of range (e.g. key-padding valid length)
    invalid_token,      // token id >= vocabulary size
    cache_full,         // the KV cache holds `seq_capacity` positions already
    format_error,       // a weight or tokenizer file does not have the expected layout
};

[[nodiscard]] constexpr const char* to_string(status s) noexcept {
    switch (s) {
        case status::ok: return "ok";
        case status::invalid_argument: return "invalid argument (null pointer)";
        case status::invalid_length: return "invalid length (0 or larger than capacity)";
        case status::invalid_mask: return "invalid mask parameter";
        case status::invalid_token: return "token id out of vocabulary";
        case status::cache_full: return "KV cache full";
        case status::format_error: return "file format error";
    }
    return "unknown status";
}

[[nodiscard]] constexpr bool is_ok(status s) noexcept { return s == status::ok; }

}  // namespace ctattn
