// SPDX-License-Identifier: Apache-2.0
// Run-time errors are values. Every ctattn function that can fail on bad *run-time* input returns
// a `status` and leaves its outputs untouched when it is not `status::ok`; bad *compile-time*
// configuration never gets this far (it is a static_assert in config.hpp).
// Each status names one cause, so a report says what happened: a null pointer, a parameter out of
// range and non-finite data are different statuses, and each loader failure has its own.
// Values are appended, never renumbered (generated C APIs mirror them as integers). The type is
// [[nodiscard]]: a call that returns one and is ignored is a compile error under -Werror.
#pragma once

#include "language_check.hpp"  // first: under an older -std the first error names C++20

/// Everything public in ctattn: configurations, layers, models, decoders, loaders, samplers and
/// training; `detail`, `kernels` and `simd` hold the internals.
namespace ctattn {

/// What went wrong, one cause per value; `ok` is 0. Values are appended, never renumbered.
enum class [[nodiscard]] status : unsigned char {
    ok = 0,
    invalid_argument,   ///< a required pointer is null (the name predates the finer statuses below)
    invalid_length,     ///< sequence length is 0 or larger than the configured capacity
    invalid_mask,       ///< a mask's run-time parameter is out of range (e.g. key-padding valid length)
    invalid_token,      ///< token id >= vocabulary size
    cache_full,         ///< the KV cache holds `seq_capacity` positions already
    format_error,       ///< a weight or tokenizer file does not have the expected layout
    invalid_parameter,  ///< a parameter is out of its range (sampling temperature, top_p, ...)
    non_finite,         ///< data that must be finite holds NaN or +-inf (weights, logits, scores)
    file_not_found,     ///< a file the caller named cannot be opened
    truncated,          ///< a file is shorter than its header says
    size_overflow,      ///< sizes in a header overflow the target's size_t (absurd or hostile header)
    bad_header,         ///< header fields contradict each other (e.g. n_kv_heads > n_heads, dim <= 0)
    config_mismatch,    ///< a well-formed file for a different compile-time configuration
    bad_magic,          ///< not a ctattn weight blob (wrong magic bytes)
    bad_version,        ///< a ctattn weight blob of a format version this build does not read
    checksum_mismatch,  ///< the payload's CRC32 differs from the one in the header (corrupted file)
    misaligned,         ///< a buffer that is read in place is not aligned for its element type
    // The generated C APIs' states (tools/ctattn_gen.py), beside null_pointer:
    not_initialised,      ///< a state that init has not set up (stray or zeroed bytes)
    no_builtin_weights,   ///< init on a library built without its weights header: use init_with_weights
    capacity_mismatch,    ///< caller and library were compiled with different SEQ_CAPACITY values
    state_size_mismatch,  ///< caller's sizeof(state) differs from the library's (a different header)
};

/// A null pointer: the original name of status::invalid_argument.
inline constexpr status null_pointer = status::invalid_argument;

/// A short English description of a status, for logs and messages.
[[nodiscard]] constexpr const char* to_string(status s) noexcept {
    switch (s) {
        case status::ok: return "ok";
        case status::invalid_argument: return "null pointer";
        case status::invalid_length: return "invalid length (0 or larger than capacity)";
        case status::invalid_mask: return "invalid mask parameter";
        case status::invalid_token: return "token id out of vocabulary";
        case status::cache_full: return "KV cache full";
        case status::format_error: return "file format error";
        case status::invalid_parameter: return "parameter out of range";
        case status::non_finite: return "non-finite value (NaN or infinity)";
        case status::file_not_found: return "file not found";
        case status::truncated: return "file truncated";
        case status::size_overflow: return "header sizes overflow size_t";
        case status::bad_header: return "inconsistent header fields";
        case status::config_mismatch: return "file is for a different configuration";
        case status::bad_magic: return "not a ctattn weight blob (bad magic)";
        case status::bad_version: return "unsupported weight blob version";
        case status::checksum_mismatch: return "checksum mismatch (corrupted data)";
        case status::misaligned: return "buffer misaligned";
        case status::not_initialised: return "state not initialised (call init first)";
        case status::no_builtin_weights: return "library built without built-in weights (use init_with_weights)";
        case status::capacity_mismatch: return "caller and library built with different SEQ_CAPACITY";
        case status::state_size_mismatch: return "caller's state size differs from the library's";
    }
    return "unknown status";
}

/// Whether a status is status::ok.
[[nodiscard]] constexpr bool is_ok(status s) noexcept { return s == status::ok; }

}  // namespace ctattn
