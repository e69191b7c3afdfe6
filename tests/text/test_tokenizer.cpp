// SPDX-License-Identifier: Apache-2.0
// The llama2.c tokenizer: a tokenizer.bin written here byte by byte in llama2.c's format
// (SentencePiece layout: <unk>, <s>, </s>, the 256 byte tokens <0x00>..<0xFF>, then pieces),
// encodings checked against merges traced by hand, decode(encode(text)) == text, and every
// truncation or corruption of the file rejected with format_error.
#include <algorithm>
#include <catch2/catch.hpp>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>
#include <string>
#include <vector>

#include <ctattn/text/tokenizer.hpp>

#include "../support/heap_counter.hpp"

using ctattn::status;
using ctattn::token_id;

namespace {

struct piece_entry {
    std::string text;
    float score;
};

void put_u32(std::vector<unsigned char>& out, std::uint32_t v) {
    for (int shift = 0; shift < 32; shift += 8) out.push_back(static_cast<unsigned char>(v >> shift));
}
void put_f32(std::vector<unsigned char>& out, float f) {
    std::uint32_t bits = 0;
    std::memcpy(&bits, &f, 4);
    put_u32(out, bits);
}

// llama2.c's layout: int32 max_token_length, then per piece float32 score, int32 length, bytes.
std::vector<unsigned char> write_tokenizer_file(const std::vector<piece_entry>& pieces) {
    std::uint32_t max_length = 0;
    for (const piece_entry& p : pieces) max_length = std::max<std::uint32_t>(max_length, std::uint32_t(p.text.size()));
    std::vector<unsigned char> out;
    put_u32(out, max_length);
    for (const piece_entry& p : pieces) {
        put_f32(out, p.score);
        put_u32(out, std::uint32_t(p.text.size()));
        out.insert(out.end(), p.text.begin(), p.text.end());
    }
    return out;
}

// ids 0..2 specials, 3..258 bytes (id = byte + 3, as in llama2.c's tok files), 259.. pieces.
std::vector<piece_entry> test_vocabulary() {
    std::vector<piece_entry> v = {{"<unk>", 0.0f}, {"<s>", 0.0f}, {"</s>", 0.0f}};
    const char* hex = "0123456789ABCDEF";
    for (int b = 0; b < 256; ++b) v.push_back({std::string("<0x") + hex[b / 16] + hex[b % 16] + ">", 0.0f});
    const std::vector<piece_entry> pieces = {
        {" ", -1.0f},      // 259
        {"h", -2.0f},      // 260
        {"e", -2.0f},      // 261
        {"l", -2.0f},      // 262
        {"o", -2.0f},      // 263
        {"w", -2.0f},      // 264
        {"r", -2.0f},      // 265
        {"d", -2.0f},      // 266
        {"he", -3.0f},     // 267
        {"ll", -3.5f},     // 268
        {"llo", -4.0f},    // 269
        {"hello", -5.0f},  // 270
        {" hello", -6.0f}, // 271
        {" w", -7.0f},     // 272
        {"or", -8.0f},     // 273
        {"\xC3\xA9", -2.0f},  // 274: e-acute, one two-byte code point
        {"lo", -3.0f},     // 275: ties with "he"; the leftmost pair merges first
        {"a", -2.0f},      // 276
        {"b", -2.0f},      // 277
        {"c", -2.0f},      // 278
        {"ab", -3.0f},     // 279: ties with "bc", so "abc" shows which pair of a tie merges
        {"bc", -3.0f},     // 280
    };
    v.insert(v.end(), pieces.begin(), pieces.end());
    return v;
}

constexpr std::size_t test_vocab = 281;
constexpr std::size_t test_piece_bytes = 256 * 6 + 64;  // byte tokens, then 53 bytes of other pieces
using test_tokenizer = ctattn::tokenizer<test_vocab, test_piece_bytes>;

const std::vector<unsigned char>& test_file() {
    static const std::vector<unsigned char> file = write_tokenizer_file(test_vocabulary());
    return file;
}

test_tokenizer& loaded_tokenizer() {
    static test_tokenizer tok;
    static const bool once = [] {
        REQUIRE(tok.load(test_file().data(), test_file().size()) == status::ok);
        return true;
    }();
    (void)once;
    return tok;
}

std::vector<token_id> encode(const test_tokenizer& tok, const std::string& text, bool bos, bool eos) {
    std::vector<token_id> ids(test_tokenizer::encode_capacity(text.size()));
    std::size_t n = 0;
    REQUIRE(tok.encode(text, bos, eos, ids.data(), ids.size(), n) == status::ok);
    ids.resize(n);
    return ids;
}

std::string decode_all(const test_tokenizer& tok, const std::vector<token_id>& ids) {
    std::string text;
    token_id previous = ctattn::bos_token;
    for (std::size_t i = 0; i < ids.size(); ++i) {
        if (ids[i] == ctattn::bos_token || ids[i] == ctattn::eos_token) {
            previous = ids[i];
            continue;
        }
        std::string_view piece;
        REQUIRE(tok.decode(previous, ids[i], piece) == status::ok);
        text.append(piece.data(), piece.size());
        previous = ids[i];
    }
    return text;
}

}  // namespace

TEST_CASE("the tokenizer loads llama2.c's format and looks pieces up", "[tokenizer]") {
    const test_tokenizer& tok = loaded_tokenizer();
    CHECK(tok.loaded());
    CHECK(tok.max_token_length() == 6);  // "<0xAB>" and " hello"
    CHECK(tok.piece(1) == "<s>");
    CHECK(tok.piece(3 + 0x41) == "<0x41>");
    CHECK(tok.piece(271) == " hello");
    CHECK(tok.score(273) == -8.0f);
    CHECK(tok.piece(test_vocab) == "");  // out of range: empty, no read past the table
    CHECK(tok.find("hello") == 270);
    CHECK(tok.find("\xC3\xA9") == 274);
    CHECK(tok.find("hel") == -1);
    CHECK(tok.find("") == -1);
    // 256 byte tokens of 6 bytes plus 53 bytes of other pieces, from the file size alone.
    CHECK(ctattn::tokenizer_piece_bytes(test_file().size(), test_vocab) == 256 * 6 + 53);
    CHECK(ctattn::tokenizer_piece_bytes(10, test_vocab) == 0);
}

TEST_CASE("encode merges the best-scoring pair first, as traced by hand", "[tokenizer]") {
    const test_tokenizer& tok = loaded_tokenizer();
    // " hello world" (dummy prefix + text), merges in order: he (-3, leftmost of the -3 tie with lo),
    // lo, llo, hello, " hello", " w", or -> [" hello", " w", "or", "l", "d"].
    CHECK(encode(tok, "hello world", true, false) == std::vector<token_id>{1, 271, 272, 273, 262, 266});
    CHECK(encode(tok, "hello world", false, true) == std::vector<token_id>{271, 272, 273, 262, 266, 2});
    // "e-acute" is a piece; the euro sign E2 82 AC is not: three byte tokens (byte + 3).
    CHECK(encode(tok, "\xC3\xA9\xE2\x82\xAC", true, true) == std::vector<token_id>{1, 259, 274, 229, 133, 175, 2});
    // Empty text: no dummy prefix.
    CHECK(encode(tok, "", true, false) == std::vector<token_id>{1});
    CHECK(encode(tok, "", false, false).empty());
    // "ab" and "bc" score the same: the leftmost pair wins (llama2.c keeps the first best), and
    // then "ab" + "c" is not a piece.
    CHECK(encode(tok, "abc", false, false) == std::vector<token_id>{259, 279, 278});
    CHECK(encode(tok, "cabc", false, false) == std::vector<token_id>{259, 278, 279, 278});
    // A single unknown ASCII letter falls back to its byte token.
    CHECK(encode(tok, "z", false, false) == std::vector<token_id>{259, 'z' + 3u});
}

TEST_CASE("decode strips the space after BOS and turns byte tokens into raw bytes", "[tokenizer]") {
    const test_tokenizer& tok = loaded_tokenizer();
    std::string_view text;
    REQUIRE(tok.decode(ctattn::bos_token, 271, text) == status::ok);
    CHECK(text == "hello");
    REQUIRE(tok.decode(270, 271, text) == status::ok);
    CHECK(text == " hello");
    REQUIRE(tok.decode(270, 3 + 0xE2, text) == status::ok);
    REQUIRE(text.size() == 1);
    CHECK(static_cast<unsigned char>(text[0]) == 0xE2);
    REQUIRE(tok.decode(270, 3, text) == status::ok);  // <0x00>: a one-byte view holding NUL
    REQUIRE(text.size() == 1);
    CHECK(text[0] == '\0');
    text = "unchanged";
    CHECK(tok.decode(1, test_vocab, text) == status::invalid_token);
    CHECK(text == "unchanged");
}

TEST_CASE("decode(encode(text)) gives the text back, byte fallback included", "[tokenizer]") {
    const test_tokenizer& tok = loaded_tokenizer();
    const std::string texts[] = {
        "hello world",
        "hello",
        " leading space",
        "trailing space ",
        "two  spaces\tand a tab\n",
        "caf\xC3\xA9 \xE2\x82\xAC 5",          // 2- and 3-byte code points
        "\xF0\x9F\x99\x82 smile",              // a 4-byte code point (U+1F642)
        "\x80 stray continuation \xC3",        // malformed UTF-8 still round-trips via bytes
        std::string("nul\0inside", 10),
        "helloworldhellohello",
    };
    for (const std::string& text : texts) {
        INFO("text: " << text);
        const std::vector<token_id> ids = encode(tok, text, true, true);
        CHECK(ids.front() == ctattn::bos_token);
        CHECK(ids.back() == ctattn::eos_token);
        CHECK(decode_all(tok, ids) == text);
    }
}

TEST_CASE("encode with a pair cache gives the same ids as without, on short and long texts", "[tokenizer]") {
    const test_tokenizer& tok = loaded_tokenizer();
    std::vector<std::string> texts = {"hello world", "abc", "cabc", "", "z", "caf\xC3\xA9 \xE2\x82\xAC 5",
                                      "hellohellohello", " w or ld"};
    // A long text from the vocabulary's pieces and some bytes without pieces, pseudo-random.
    const char* parts[] = {"hello", " ", "world", "ab", "c", "l", "o", "\xC3\xA9", "\xE2\x82\xAC", "zz", "or", "he"};
    std::string long_text;
    std::uint32_t state = 99;
    while (long_text.size() < 3000) {
        state = state * 1664525u + 1013904223u;  // a small LCG: test data only
        long_text += parts[(state >> 16) % 12];
    }
    texts.push_back(long_text);
    for (const std::string& text : texts) {
        INFO("text of " << text.size() << " bytes");
        const std::vector<token_id> plain = encode(tok, text, true, true);
        std::vector<token_id> cached(test_tokenizer::encode_capacity(text.size()));
        std::vector<std::int32_t> scratch(cached.size());
        std::size_t n = 0;
        REQUIRE(tok.encode(text, true, true, cached.data(), cached.size(), n, scratch.data()) == status::ok);
        cached.resize(n);
        CHECK(cached == plain);
        CHECK(decode_all(tok, cached) == text);
    }
}

TEST_CASE("encode reports a short output buffer and unencodable bytes without writing", "[tokenizer]") {
    const test_tokenizer& tok = loaded_tokenizer();
    token_id ids[8] = {7, 7, 7, 7, 7, 7, 7, 7};
    std::size_t n = 99;
    // "hello" needs 5 + 3 slots before merging even though it ends as 2 ids.
    CHECK(tok.encode("hello", true, false, ids, 7, n) == status::invalid_length);
    CHECK(tok.encode("hello", true, false, nullptr, 8, n) == status::invalid_argument);
    CHECK(n == 99);
    CHECK(ids[0] == 7);
    REQUIRE(tok.encode("hello", true, false, ids, 8, n) == status::ok);
    CHECK(n == 2);

    // A vocabulary without byte tokens cannot encode a byte it has no piece for.
    const std::vector<unsigned char> small = write_tokenizer_file(
        {{"<unk>", 0.0f}, {"<s>", 0.0f}, {"</s>", 0.0f}, {" ", -1.0f}, {"a", -1.0f}, {"b", -1.0f}, {"ab", -2.0f}});
    static ctattn::tokenizer<7, 32> tiny;
    REQUIRE(tiny.load(small.data(), small.size()) == status::ok);
    token_id out[8] = {7, 7, 7, 7, 7, 7, 7, 7};
    n = 99;
    CHECK(tiny.encode("abc", false, false, out, 8, n) == status::invalid_token);
    CHECK(n == 99);
    CHECK(out[0] == 7);
    REQUIRE(tiny.encode("abab", false, false, out, 8, n) == status::ok);
    CHECK(n == 3);
    CHECK((out[0] == 3 && out[1] == 6 && out[2] == 6));
}

TEST_CASE("truncated or corrupted tokenizer files are rejected, each with its own status", "[tokenizer]") {
    const std::vector<unsigned char>& good = test_file();
    static test_tokenizer tok;
    REQUIRE(tok.load(good.data(), good.size()) == status::ok);
    const std::vector<token_id> before = encode(tok, "hello world", true, false);

    // Every proper prefix of the file (one byte short of a piece, a header, a score...).
    std::size_t accepted = 0;
    for (std::size_t size = 0; size < good.size(); ++size) {
        // A copy of exactly `size` bytes, so a read past the end would be an out-of-bounds read
        // that AddressSanitizer/valgrind builds catch, not a silent read of the real file.
        std::vector<unsigned char> cut(good.begin(), good.begin() + std::ptrdiff_t(size));
        const unsigned char* bytes = size == 0 ? good.data() : cut.data();  // an empty vector's data() may be null
        accepted += tok.load(bytes, size) != status::truncated;
    }
    CHECK(accepted == 0);
    // A failed load leaves the previous vocabulary in place.
    CHECK(encode(tok, "hello world", true, false) == before);

    std::vector<unsigned char> longer = good;
    longer.push_back(0);  // a byte after the last piece: more pieces than the vocabulary
    CHECK(tok.load(longer.data(), longer.size()) == status::format_error);

    const std::size_t first_length = 4 + 4;  // header, first score, then the first piece's length
    std::vector<unsigned char> bad = good;
    bad[first_length + 3] = 0x80;  // length 0x80000005: negative
    CHECK(tok.load(bad.data(), bad.size()) == status::format_error);
    bad = good;
    bad[first_length] = 7;  // length 7 > max_token_length 6 (and the bytes no longer line up)
    CHECK(tok.load(bad.data(), bad.size()) == status::format_error);
    bad = good;
    bad[0] = 0;  // max_token_length 0
    CHECK(tok.load(bad.data(), bad.size()) == status::format_error);
    bad = good;
    const float nan = std::numeric_limits<float>::quiet_NaN();
    std::memcpy(&bad[4], &nan, 4);  // first score NaN (memcpy: the host is little-endian here)
    CHECK(tok.load(bad.data(), bad.size()) == status::non_finite);
    const float inf = -std::numeric_limits<float>::infinity();
    std::memcpy(&bad[4], &inf, 4);
    CHECK(tok.load(bad.data(), bad.size()) == status::non_finite);
    CHECK(tok.load(nullptr, 0) == status::invalid_argument);

    // The piece bytes do not fit the configured capacity.
    static ctattn::tokenizer<test_vocab, test_piece_bytes / 2> cramped;
    CHECK(cramped.load(good.data(), good.size()) == status::format_error);
    CHECK(!cramped.loaded());

    CHECK(encode(tok, "hello world", true, false) == before);
}

TEST_CASE("tokenizer load, encode and decode make no heap allocation", "[tokenizer][alloc]") {
    if (!ctattn_test::heap_counting_available()) {
        WARN("allocation counting is off under valgrind (its allocator replaces the counting one)");
        return;
    }
    const std::vector<unsigned char>& file = test_file();
    static test_tokenizer tok;
    static const char text[] = "hello world, caf\xC3\xA9 \xE2\x82\xAC";
    static token_id ids[sizeof text + 3];
    std::size_t n = 0, decoded_bytes = 0;
    int failures = 0;
    const std::size_t before = ctattn_test::heap_allocations();
    failures += tok.load(file.data(), file.size()) != status::ok;
    static std::int32_t pair_scratch[sizeof ids / sizeof ids[0]];
    std::size_t n_cached = 0;
    failures += tok.encode(text, true, true, ids, sizeof ids / sizeof ids[0], n_cached, pair_scratch) != status::ok;
    failures += tok.encode(text, true, true, ids, sizeof ids / sizeof ids[0], n) != status::ok;
    for (std::size_t i = 1; i < n; ++i) {
        std::string_view piece;
        failures += tok.decode(ids[i - 1], ids[i], piece) != status::ok;
        decoded_bytes += piece.size();
    }
    const std::size_t after = ctattn_test::heap_allocations();
    CHECK(failures == 0);
    CHECK(after == before);
    CHECK(n_cached == n);
    // The text, less the dummy prefix space (stripped after BOS), plus "</s>" for EOS.
    CHECK(decoded_bytes == sizeof text - 1 + 4);
}
