// SPDX-License-Identifier: Apache-2.0
// libFuzzer target: tokenizer::load on arbitrary bytes (vocabulary 16, 96 piece bytes: small, so
// mutations reach files that load), then, when it loads, encode and decode of a text taken from
// the same input. The contract checked besides memory safety: a failed load leaves a previously
// loaded vocabulary intact; encode never writes more than encode_capacity ids; every id it
// returns is in the vocabulary and decodes.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include <ctattn/text/tokenizer.hpp>

namespace {
constexpr std::size_t vocab = 16, piece_bytes = 96;
ctattn::tokenizer<vocab, piece_bytes> tok;
}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    using namespace ctattn;
    const bool was_loaded = tok.loaded();
    const std::string_view first_before = tok.piece(0);
    const std::size_t max_before = tok.max_token_length();
    const status s = tok.load(data, size);
    if (s != status::ok) {
        if (tok.loaded() != was_loaded || tok.max_token_length() != max_before) std::abort();
        if (was_loaded && tok.piece(0) != first_before) std::abort();
        return 0;
    }
    // The input's last 24 bytes as text: arbitrary bytes, including invalid UTF-8.
    const std::size_t text_bytes = size < 24 ? size : 24;
    const std::string_view text(reinterpret_cast<const char*>(data) + size - text_bytes, text_bytes);
    constexpr std::size_t capacity = 24 + 3;
    token_id ids[capacity + 1];
    ids[capacity] = 0xdeadbeefu;  // a canary past the stated capacity
    std::int32_t scratch[capacity];
    std::size_t n = 0, n_cached = 0;
    const status e = tok.encode(text, true, true, ids, capacity, n);
    if (ids[capacity] != 0xdeadbeefu) std::abort();
    if (e == status::ok) {
        if (n > capacity) std::abort();
        token_id again[capacity];
        if (tok.encode(text, true, true, again, capacity, n_cached, scratch) != status::ok || n_cached != n) std::abort();
        for (std::size_t i = 0; i < n; ++i) {
            if (ids[i] >= vocab || again[i] != ids[i]) std::abort();
            std::string_view piece;
            if (tok.decode(i > 0 ? ids[i - 1] : bos_token, ids[i], piece) != status::ok) std::abort();
        }
    } else if (e != status::invalid_token) {
        std::abort();  // the capacity is enough, so the only possible failure is an unencodable byte
    }
    return 0;
}
