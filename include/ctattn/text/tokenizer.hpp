// SPDX-License-Identifier: Apache-2.0
// llama2.c's tokenizer (a SentencePiece BPE vocabulary) in fixed-capacity storage.
// File layout, little-endian: int32 max_token_length, then for each of the Vocab tokens
// { float32 score; int32 length; length bytes of piece }. Encoding splits UTF-8 text into code
// points (bytes with no piece fall back to the <0xXX> byte tokens), then repeatedly merges the
// adjacent pair whose concatenation is the highest-scoring piece; decoding maps id -> piece.
#pragma once

#include <algorithm>
#include <bit>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <limits>
#include <string_view>

#include "../base/status.hpp"
#include "../io/checked_size.hpp"
#include "../io/little_endian.hpp"
#include "sample.hpp"  // token_id, bos_token, eos_token, detail::sort_ids

namespace ctattn {

namespace detail {

/// Every byte value as a one-character string, so a byte token decodes to a view into this table.
struct byte_table {
    char values[256];
};
constexpr byte_table make_single_bytes() noexcept {
    byte_table table{};
    for (int i = 0; i < 256; ++i) table.values[i] = static_cast<char>(i);  // modular for signed char
    return table;
}
inline constexpr byte_table single_bytes = make_single_bytes();

constexpr int hex_digit(char c) noexcept {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    return -1;
}

/// "<0xXX>" -> XX, anything else -> -1.
constexpr int byte_token_value(std::string_view piece) noexcept {
    if (piece.size() != 6 || piece[0] != '<' || piece[1] != '0' || piece[2] != 'x' || piece[5] != '>') return -1;
    const int hi = hex_digit(piece[3]), lo = hex_digit(piece[4]);
    return (hi < 0 || lo < 0) ? -1 : hi * 16 + lo;
}

/// Three-way comparison of (a + b) with `piece`, byte-wise unsigned like std::string_view's order,
/// without building the concatenation (so encode needs no string buffer).
constexpr int compare_concatenation(std::string_view a, std::string_view b, std::string_view piece) noexcept {
    const std::size_t joined = a.size() + b.size();
    const std::size_t common = joined < piece.size() ? joined : piece.size();
    for (std::size_t i = 0; i < common; ++i) {
        const auto x = static_cast<unsigned char>(i < a.size() ? a[i] : b[i - a.size()]);
        const auto y = static_cast<unsigned char>(piece[i]);
        if (x != y) return x < y ? -1 : 1;
    }
    return joined < piece.size() ? -1 : (joined > piece.size() ? 1 : 0);
}

constexpr bool is_utf8_continuation(unsigned char byte) noexcept { return (byte & 0xC0u) == 0x80u; }

}  // namespace detail

/// Piece bytes a tokenizer.bin of `file_bytes` bytes holds for `vocab` pieces (the PieceBytes a
/// tokenizer<vocab, PieceBytes> needs for it): the file less its 4-byte header and the 8 bytes of
/// score and length per piece. 0 when the file is too small to be one (or 4 + 8 vocab overflows).
constexpr std::size_t tokenizer_piece_bytes(std::size_t file_bytes, std::size_t vocab) noexcept {
    using n = io::checked_size<>;
    const n fixed = n(4) + n(8) * n(vocab);
    return fixed.ok() && file_bytes >= fixed.value() ? file_bytes - fixed.value() : 0;
}

/// Vocab:      number of pieces (llama2.c takes it from the model header; the file does not hold it).
/// PieceBytes: capacity for all piece bytes together (a 32000-piece llama vocabulary needs ~200 KB).
/// sizeof(tokenizer) ~ 12 * Vocab + PieceBytes + 1 KB: make it static for real vocabularies.
template <std::size_t Vocab, std::size_t PieceBytes>
class tokenizer {
    static_assert(Vocab > 0, "ctattn: the tokenizer needs at least one piece");
    static_assert(Vocab <= 0x7fffffffu, "ctattn: the tokenizer holds at most 2^31 - 1 pieces");
    static_assert(PieceBytes > 0 && PieceBytes < std::numeric_limits<std::uint32_t>::max(),
                  "ctattn: piece byte capacity must be between 1 and 2^32 - 2");

public:
    static constexpr std::size_t vocab_size = Vocab;               ///< pieces (token ids 0 .. Vocab - 1)
    static constexpr std::size_t piece_byte_capacity = PieceBytes;  ///< bytes of all pieces together

    /// Parses a whole tokenizer.bin image. On error nothing is changed: status::truncated when the
    /// image ends inside a field or a piece, non_finite for a NaN or infinite score, format_error
    /// for bytes after the last piece, max_token_length <= 0, a negative length or one longer than
    /// max_token_length, or more piece bytes than PieceBytes (summed with overflow checks).
    [[nodiscard]] status load(const unsigned char* file, std::size_t file_size) noexcept {
        if (file == nullptr) return status::invalid_argument;
        // Pass 1 only validates, so a bad file leaves a previously loaded vocabulary intact.
        io::le_reader reader{file, file_size};
        if (!reader.has(4)) return status::truncated;
        const std::int32_t max_length = reader.i32();
        if (max_length <= 0) return status::format_error;
        io::checked_size<> total_bytes = 0;  // a sum of file fields: checked, it must not wrap on 32 bits
        for (std::size_t id = 0; id < Vocab; ++id) {
            if (!reader.has(8)) return status::truncated;
            const float score = reader.f32();
            const std::int32_t length = reader.i32();
            // On the bits (exponent all ones), so it holds under -ffast-math too.
            if ((std::bit_cast<std::uint32_t>(score) & 0x7f800000u) == 0x7f800000u) return status::non_finite;
            if (length < 0 || length > max_length) return status::format_error;
            if (!reader.has(std::size_t(length))) return status::truncated;
            reader.position += std::size_t(length);
            total_bytes += std::size_t(length);
            if (!total_bytes.ok() || total_bytes.value() > PieceBytes) return status::format_error;
        }
        if (reader.position != file_size) return status::format_error;  // more pieces than Vocab

        // Pass 2 copies; it cannot fail.
        reader.position = 4;
        max_token_length_ = std::size_t(max_length);
        std::uint32_t offset = 0;
        for (std::size_t id = 0; id < Vocab; ++id) {
            scores_[id] = reader.f32();
            const auto length = std::size_t(reader.i32());
            // Pass 1 proved offset + length <= PieceBytes; the clamp restates it where the compiler
            // can see it (GCC 12 -O3 otherwise warns of an overflow of bytes_ that cannot happen).
            const std::size_t copied = length < PieceBytes - offset ? length : PieceBytes - offset;
            offsets_[id] = offset;
            for (std::size_t b = 0; b < copied; ++b) bytes_[offset + b] = static_cast<char>(file[reader.position + b]);
            reader.position += length;
            offset += static_cast<std::uint32_t>(copied);
        }
        offsets_[Vocab] = offset;

        for (int& id : byte_tokens_) id = -1;
        for (std::size_t id = Vocab; id-- > 0;) {  // downwards, so the lowest id wins duplicates
            const int value = detail::byte_token_value(piece_unchecked(id));
            if (value >= 0) byte_tokens_[value] = static_cast<int>(id);
        }
        // Sorted ids turn "is this string a piece?" into a binary search; ties by id make the
        // lowest id the answer for duplicated pieces.
        for (std::size_t id = 0; id < Vocab; ++id) sorted_[id] = static_cast<token_id>(id);
        detail::sort_ids(sorted_, Vocab, [this](token_id a, token_id b) {
            const std::string_view pa = piece_unchecked(a), pb = piece_unchecked(b);
            return pa < pb || (pa == pb && a < b);
        });
        loaded_ = true;
        return status::ok;
    }

    /// Whether a load succeeded (every other call answers empty or fails before it).
    [[nodiscard]] bool loaded() const noexcept { return loaded_; }
    /// The longest piece in bytes, as tokenizer.bin states it.
    [[nodiscard]] std::size_t max_token_length() const noexcept { return max_token_length_; }

    /// The raw piece (empty for an id out of range or before load).
    [[nodiscard]] std::string_view piece(token_id id) const noexcept {
        return (loaded_ && id < Vocab) ? piece_unchecked(id) : std::string_view{};
    }
    /// The piece's merge score (0 for an id out of range or before load).
    [[nodiscard]] float score(token_id id) const noexcept { return (loaded_ && id < Vocab) ? scores_[id] : 0.0f; }

    /// Text for `token` following `previous`, as llama2.c prints it: after BOS the piece's leading
    /// space (SentencePiece's word-boundary marker at the start of the text) is dropped, and a byte
    /// token <0xXX> becomes the single raw byte XX. The view stays valid while the tokenizer lives.
    [[nodiscard]] status decode(token_id previous, token_id token, std::string_view& text) const noexcept {
        if (!loaded_) return status::invalid_argument;
        if (token >= Vocab) return status::invalid_token;
        std::string_view p = piece_unchecked(token);
        if (previous == bos_token && !p.empty() && p.front() == ' ') p.remove_prefix(1);
        const int byte = detail::byte_token_value(p);
        if (byte >= 0) p = std::string_view(detail::single_bytes.values + byte, 1);
        text = p;
        return status::ok;
    }

    /// The id of a piece equal to `text`, or -1.
    [[nodiscard]] std::int64_t find(std::string_view text) const noexcept { return find_pair(text, {}); }

    /// Room `encode` needs for a text of `text_bytes` bytes: one id per byte before merging, plus
    /// BOS, the dummy-prefix space and EOS. Saturates at SIZE_MAX instead of wrapping, so no
    /// capacity passes the check for a text that long.
    static constexpr std::size_t encode_capacity(std::size_t text_bytes) noexcept {
        return text_bytes <= std::numeric_limits<std::size_t>::max() - 3 ? text_bytes + 3
                                                                           : std::numeric_limits<std::size_t>::max();
    }

    /// text -> ids, as llama2.c's encode: optional BOS, a " " piece before non-empty text (the
    /// dummy prefix SentencePiece adds), one id per UTF-8 code point that is a piece and one byte
    /// token per byte of any other code point, then best-score pair merges; optional EOS.
    /// Merges stay inside the text (BOS/EOS never merge). Errors, with `tokens` untouched:
    /// invalid_length when capacity < encode_capacity(text.size()); invalid_token when the text
    /// holds a byte with neither a piece nor a <0xXX> token.
    /// Each merge re-examines every adjacent pair, O(n) binary searches, so a text of n code points
    /// costs O(n^2 log Vocab) (llama2.c's encode does the same): ~20 ms for 1 KB of text. The
    /// overload with `pair_scratch` (capacity int32 entries of caller memory) caches each pair's
    /// merge and looks up only the two pairs a merge changes: the same ids, ~0.5 ms for 1 KB and
    /// ~10 ms instead of ~400 ms for 4 KB (x86-64, tests' 281-piece vocabulary).
    [[nodiscard]] status encode(std::string_view text, bool add_bos, bool add_eos, token_id* tokens,
                                std::size_t capacity, std::size_t& n_tokens) const noexcept {
        return encode(text, add_bos, add_eos, tokens, capacity, n_tokens, nullptr);
    }
    /// The same with a pair cache: `pair_scratch` holds `capacity` int32 entries (or is null).
    [[nodiscard]] status encode(std::string_view text, bool add_bos, bool add_eos, token_id* tokens,
                                std::size_t capacity, std::size_t& n_tokens, std::int32_t* pair_scratch) const noexcept {
        if (!loaded_ || tokens == nullptr) return status::invalid_argument;
        if (capacity < encode_capacity(text.size())) return status::invalid_length;
        std::int64_t space = -1;
        if (const status s = check_encodable(text, space); s != status::ok) return s;  // before writing anything
        std::size_t n = 0;
        if (add_bos) tokens[n++] = bos_token;
        const std::size_t text_begin = n;
        n = split_code_points(text, space, tokens, n);
        n = merge_pairs(tokens, text_begin, n, pair_scratch);
        if (add_eos) tokens[n++] = eos_token;
        n_tokens = n;
        return status::ok;
    }

private:
    std::string_view piece_unchecked(std::size_t id) const noexcept {
        return std::string_view(bytes_ + offsets_[id], offsets_[id + 1] - offsets_[id]);
    }

    /// encode's first step: the dummy-prefix space's id (-1 for empty text: no prefix), and every
    /// code point either a piece or bytes that all have byte tokens; invalid_token otherwise.
    status check_encodable(std::string_view text, std::int64_t& space) const noexcept {
        if (!text.empty()) {
            space = find(" ");
            if (space < 0) space = byte_tokens_[static_cast<unsigned char>(' ')];
            if (space < 0) return status::invalid_token;
        }
        for (std::size_t at = 0; at < text.size();) {
            const std::size_t length = code_point_length(text, at);
            if (find(text.substr(at, length)) < 0)
                for (std::size_t b = at; b < at + length; ++b)
                    if (byte_tokens_[static_cast<unsigned char>(text[b])] < 0) return status::invalid_token;
            at += length;
        }
        return status::ok;
    }

    /// encode's second step, on text check_encodable passed: the space before non-empty text,
    /// then one id per code point that is a piece and one byte token per byte of any other, from
    /// tokens[n] on. Returns the new count.
    std::size_t split_code_points(std::string_view text, std::int64_t space, token_id* tokens,
                                  std::size_t n) const noexcept {
        if (!text.empty()) tokens[n++] = static_cast<token_id>(space);
        for (std::size_t at = 0; at < text.size();) {
            const std::size_t length = code_point_length(text, at);
            const std::int64_t id = find(text.substr(at, length));
            if (id >= 0) {
                tokens[n++] = static_cast<token_id>(id);
            } else {
                for (std::size_t b = at; b < at + length; ++b)
                    tokens[n++] = static_cast<token_id>(byte_tokens_[static_cast<unsigned char>(text[b])]);
            }
            at += length;
        }
        return n;
    }

    /// The piece id of tokens[i] + tokens[i + 1], or -1.
    std::int64_t merge_of(const token_id* tokens, std::size_t i) const noexcept {
        return find_pair(piece_unchecked(tokens[i]), piece_unchecked(tokens[i + 1]));
    }

    /// encode's third step, greedy BPE over tokens[text_begin, n): merge the pair whose joined
    /// piece scores highest (first such pair on ties) until no adjacent pair joins into a piece.
    /// Pair i's merge is cached in pair_scratch[i] when the caller gave scratch. Returns the new n.
    std::size_t merge_pairs(token_id* tokens, std::size_t text_begin, std::size_t n,
                            std::int32_t* pair_scratch) const noexcept {
        if (pair_scratch != nullptr)
            for (std::size_t i = text_begin; i + 1 < n; ++i)
                pair_scratch[i] = static_cast<std::int32_t>(merge_of(tokens, i));
        for (;;) {
            std::size_t best_at = 0;
            const std::int64_t best_id = best_merge(tokens, text_begin, n, pair_scratch, best_at);
            if (best_id < 0) return n;
            tokens[best_at] = static_cast<token_id>(best_id);
            std::copy(tokens + best_at + 2, tokens + n, tokens + best_at + 1);
            --n;
            if (pair_scratch != nullptr) {
                // Pairs after the merge shift left by one; only the pairs touching the new token change.
                if (best_at + 2 <= n) std::copy(pair_scratch + best_at + 2, pair_scratch + n, pair_scratch + best_at + 1);
                if (best_at + 1 < n) pair_scratch[best_at] = static_cast<std::int32_t>(merge_of(tokens, best_at));
                if (best_at > text_begin)
                    pair_scratch[best_at - 1] = static_cast<std::int32_t>(merge_of(tokens, best_at - 1));
            }
        }
    }

    /// The highest-scoring merge among the pairs of tokens[text_begin, n) (the first on ties): its
    /// piece id, its pair's index in best_at; -1 when no pair joins into a piece.
    std::int64_t best_merge(const token_id* tokens, std::size_t text_begin, std::size_t n,
                            const std::int32_t* pair_scratch, std::size_t& best_at) const noexcept {
        std::int64_t best_id = -1;
        float best_score = 0.0f;
        for (std::size_t i = text_begin; i + 1 < n; ++i) {
            const std::int64_t id = pair_scratch != nullptr ? pair_scratch[i] : merge_of(tokens, i);
            if (id >= 0 && (best_id < 0 || scores_[id] > best_score)) {
                best_id = id;
                best_at = i;
                best_score = scores_[id];
            }
        }
        return best_id;
    }

    /// A code point's bytes as llama2.c groups them: a byte plus the continuation bytes after it,
    /// at most 4 in all (malformed UTF-8 is grouped the same way and falls back to byte tokens).
    static std::size_t code_point_length(std::string_view text, std::size_t at) noexcept {
        std::size_t length = 1;
        while (at + length < text.size() && length < 4 &&
               detail::is_utf8_continuation(static_cast<unsigned char>(text[at + length])))
            ++length;
        return length;
    }

    /// The id of the piece equal to a + b, or -1 (binary search over sorted_).
    std::int64_t find_pair(std::string_view a, std::string_view b) const noexcept {
        if (!loaded_ || a.size() + b.size() > max_token_length_) return -1;
        std::size_t low = 0, high = Vocab;  // first sorted index whose piece is >= a + b
        while (low < high) {
            const std::size_t mid = low + (high - low) / 2;
            if (detail::compare_concatenation(a, b, piece_unchecked(sorted_[mid])) > 0)
                low = mid + 1;
            else
                high = mid;
        }
        if (low < Vocab && detail::compare_concatenation(a, b, piece_unchecked(sorted_[low])) == 0)
            return static_cast<std::int64_t>(sorted_[low]);
        return -1;
    }

    float scores_[Vocab] = {};                  ///< (vocab) merge priority: higher merges first
    std::uint32_t offsets_[Vocab + 1] = {};     ///< (vocab + 1) piece i is bytes_[offsets_[i], offsets_[i + 1])
    char bytes_[PieceBytes] = {};               ///< (piece_bytes) all pieces back to back, no terminators
    token_id sorted_[Vocab] = {};               ///< (vocab) ids ordered by piece bytes, then id
    int byte_tokens_[256] = {};                 ///< (256) id of the <0xXX> piece per byte value, -1 if none
    std::size_t max_token_length_ = 0;
    bool loaded_ = false;
};

}  // namespace ctattn
