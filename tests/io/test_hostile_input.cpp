// SPDX-License-Identifier: Apache-2.0
// Hostile input: files and values an attacker or a corrupted SD card can hand to the
// loaders. Each case is a reproduction of something the library once accepted:
//   - header sizes that wrap a 32-bit size_t (checked here in the target's width with
//     checked_size<std::uint32_t>, at compile time; tests/embedded/hostile_fw.cpp runs the same
//     on a Cortex-M under QEMU);
//   - absurd headers (all fields INT_MAX, n_kv_heads > n_heads) that used to give a size;
//   - NaN / inf weights that loaded silently;
//   - statuses that reported a NaN as a null pointer, and probabilities() that returned NaN rows;
//   - the blob format: every failure with its own status, no read past the buffer (each case is
//     an exactly sized copy, so the sanitizer build sees any over-read).
#include <catch2/catch.hpp>

#include <climits>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <fstream>
#include <iterator>
#include <limits>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include <ctattn/io/checked_size.hpp>
#include <ctattn/io/llama2c.hpp>
#include <ctattn/model/decoder.hpp>
#include <ctattn/io/blob.hpp>
#include <ctattn/text/tokenizer.hpp>

#include "../support/tiny_llama.hpp"

namespace {
using namespace ctattn;
using llama2c::header;

// ---- compile-time checks of the size arithmetic in a 32-bit size_t ----
using n32 = io::checked_size<std::uint32_t>;
static_assert((n32(65535) * n32(65537)).ok() && (n32(65535) * n32(65537)).value() == 0xffffffffu);
static_assert(!(n32(65536) * n32(65536)).ok(), "2^32 wraps a 32-bit size_t");
static_assert(!(n32(0xffffffffu) + n32(1)).ok());
static_assert(!n32::from_field(std::int32_t(-1)).ok() && !n32::from_field(std::uint64_t(1) << 32).ok());
static_assert(io::checked_size<std::uint64_t>::from_field(std::uint64_t(1) << 32).ok());
static_assert(!(n32::overflowed() * n32(0)).ok(), "overflow is sticky, even times zero");

constexpr header stories{64, 172, 5, 8, 4, 512, 512};
constexpr std::size_t stories_bytes = 1'056'540;
// The wrapping header: seq_len 512 + 2^27 adds 2^27 * 8 floats = 2^32 bytes, so a 32-bit
// size_t computed the stories file size exactly and llama2c::load accepted the header.
constexpr header wrapping{64, 172, 5, 8, 4, 512, 512 + (1 << 27)};

template <class Size>
constexpr status size_status(const header& h) {
    Size bytes = 0;
    return llama2c::checkpoint_size<Size>(h, bytes);
}
template <class Size>
constexpr Size size_of(const header& h) {
    Size bytes = 0;
    return llama2c::checkpoint_size<Size>(h, bytes) == status::ok ? bytes : 0;
}
static_assert(size_of<std::uint32_t>(stories) == stories_bytes && size_of<std::uint64_t>(stories) == stories_bytes);
static_assert(size_of<std::uint64_t>(wrapping) % (std::uint64_t(1) << 32) == stories_bytes,
              "the wrapped 32-bit size is the stories size: what the unchecked arithmetic returned");
static_assert(size_status<std::uint32_t>(wrapping) == status::size_overflow, "rejected by name on 32 bits");
static_assert(size_status<std::uint64_t>(wrapping) == status::ok && size_of<std::uint64_t>(wrapping) != stories_bytes);
constexpr header all_int_max{INT_MAX, INT_MAX, INT_MAX, INT_MAX, INT_MAX, INT_MAX, INT_MAX};
static_assert(size_status<std::uint32_t>(all_int_max) == status::size_overflow);
static_assert(size_status<std::uint64_t>(all_int_max) == status::size_overflow, "used to give 28 bytes");
static_assert(llama2c::checkpoint_bytes(all_int_max) == 0);
static_assert(size_status<std::uint64_t>(header{64, 172, 5, 4, 8, 512, 512}) == status::bad_header,
              "n_kv_heads > n_heads");
static_assert(size_status<std::uint64_t>(header{64, 172, 5, 8, 3, 512, 512}) == status::bad_header,
              "kv heads must divide heads");
static_assert(size_status<std::uint64_t>(header{64, 172, 0, 8, 4, 512, 512}) == status::bad_header);
static_assert(size_status<std::uint64_t>(header{64, 172, 5, 8, 4, INT_MIN, 512}) == status::bad_header);
static_assert(size_status<std::uint64_t>(header{64, 172, 5, 8, 4, 512, -1}) == status::bad_header);

// ---- helpers ----
std::vector<unsigned char> read_file(const char* path) {
    std::ifstream in(path, std::ios::binary);
    return std::vector<unsigned char>(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

std::vector<unsigned char> tiny_checkpoint() {
    std::vector<unsigned char> bytes(tiny_llama::checkpoint_bytes);
    tiny_llama::write_checkpoint(bytes.data());
    return bytes;
}

template <class Weights>
struct guarded_weights {
    std::unique_ptr<Weights> w = std::make_unique<Weights>();
    std::vector<unsigned char> pristine;
    guarded_weights() {
        std::memset(static_cast<void*>(w.get()), 0x5a, sizeof *w);
        const auto* p = reinterpret_cast<const unsigned char*>(w.get());
        pristine.assign(p, p + sizeof *w);
    }
    bool untouched() const { return std::memcmp(w.get(), pristine.data(), sizeof *w) == 0; }
};

// A copy of exactly `size` bytes (never reads the original past size).
std::vector<unsigned char> prefix(const std::vector<unsigned char>& bytes, std::size_t size) {
    return std::vector<unsigned char>(bytes.begin(), bytes.begin() + std::ptrdiff_t(size));
}

void put_f32(std::vector<unsigned char>& bytes, std::size_t at, float v) { tiny_llama::write_f32(bytes.data() + at, v); }
void put_u32(std::vector<unsigned char>& bytes, std::size_t at, std::uint32_t v) {
    for (int i = 0; i < 4; ++i) bytes[at + std::size_t(i)] = static_cast<unsigned char>(v >> (8 * i));
}
void put_u64(std::vector<unsigned char>& bytes, std::size_t at, std::uint64_t v) {
    for (int i = 0; i < 8; ++i) bytes[at + std::size_t(i)] = static_cast<unsigned char>(v >> (8 * i));
}

// Recomputes a blob's two CRC fields after an edit, so the edit reaches the checks behind them.
void reseal(std::vector<unsigned char>& b) {
    const std::uint64_t table_end = blob::header_bytes + std::uint64_t(ctattn::io::read_u32_le(&b[24])) * blob::entry_bytes;
    const std::uint64_t payload_offset = ctattn::io::read_u64_le(&b[32]), payload_bytes = ctattn::io::read_u64_le(&b[40]);
    if (payload_offset <= b.size() && payload_bytes <= b.size() - payload_offset)
        put_u32(b, 48, blob::crc32(b.data() + payload_offset, std::size_t(payload_bytes)));
    if (table_end <= b.size())
        put_u32(b, 52, blob::crc32_update(blob::crc32(b.data(), 52), b.data() + 56, std::size_t(table_end - 56)));
}

using tiny_weights = model_weights<tiny_llama::config>;

}  // namespace

TEST_CASE("every status has its own readable name, and a null pointer is not a bad parameter", "[hostile][status]") {
    std::set<std::string> names;
    const int last = int(status::misaligned);
    for (int s = 0; s <= last; ++s) {
        const std::string name = to_string(static_cast<status>(s));
        INFO("status " << s << " " << name);
        CHECK(name != "unknown status");
        names.insert(name);
    }
    CHECK(names.size() == std::size_t(last + 1));
    CHECK(std::string(to_string(status::invalid_argument)) == "null pointer");
    CHECK(std::string(to_string(status::file_not_found)) == "file not found");
    CHECK(null_pointer == status::invalid_argument);
}

TEST_CASE("checkpoint sizes are checked in the width of the target's size_t", "[hostile][llama2c][size]") {
    // The same as the static_asserts above, at run time (where a sanitizer watches).
    CHECK(size_status<std::uint32_t>(wrapping) == status::size_overflow);
    CHECK(size_status<std::uint64_t>(all_int_max) == status::size_overflow);
    // A header that passes the 64-bit check is still not accepted by load for a mismatched file.
    const auto bytes = tiny_checkpoint();
    header h = tiny_llama::header;
    h.seq_len = 16 + (1 << 28);  // 2^28 * 4 floats * 4 bytes = 2^32 more bytes: wraps on 32 bits
    CHECK(size_status<std::uint32_t>(h) == status::size_overflow);
    std::vector<unsigned char> lying = bytes;
    tiny_llama::write_header(lying.data(), h);
    guarded_weights<tiny_weights> g;
    CHECK(llama2c::load<tiny_llama::config>(lying.data(), lying.size(), *g.w) ==
          (sizeof(std::size_t) == 4 ? status::size_overflow : status::truncated));
    CHECK(g.untouched());
}

TEST_CASE("absurd llama2.c headers are rejected by name and leave the weights untouched", "[hostile][llama2c]") {
    const auto good = tiny_checkpoint();
    guarded_weights<tiny_weights> g;
    struct edit {
        header h;
        status expected;
    };
    const header t = tiny_llama::header;
    const edit edits[] = {
        {all_int_max, status::size_overflow},
        {{t.dim, t.hidden_dim, t.n_layers, 1, 2, t.vocab_size, t.seq_len}, status::bad_header},  // kv 2 > heads 1
        {{0, t.hidden_dim, t.n_layers, t.n_heads, t.n_kv_heads, t.vocab_size, t.seq_len}, status::bad_header},
        {{t.dim, t.hidden_dim, t.n_layers, t.n_heads, t.n_kv_heads, 0, t.seq_len}, status::bad_header},
        {{t.dim, t.hidden_dim, t.n_layers, t.n_heads, t.n_kv_heads, t.vocab_size, 0}, status::bad_header},
        {{t.dim, t.hidden_dim, -3, t.n_heads, t.n_kv_heads, t.vocab_size, t.seq_len}, status::bad_header},
        {{t.dim, t.hidden_dim + 1, t.n_layers, t.n_heads, t.n_kv_heads, t.vocab_size, t.seq_len}, status::config_mismatch},
        {{t.dim, t.hidden_dim, t.n_layers, t.n_heads, t.n_kv_heads, -t.vocab_size, t.seq_len}, status::config_mismatch},
    };
    for (const edit& e : edits) {
        std::vector<unsigned char> bytes = good;
        tiny_llama::write_header(bytes.data(), e.h);
        INFO("header " << e.h.dim << " " << e.h.hidden_dim << " " << e.h.n_layers << " " << e.h.n_heads << " "
                       << e.h.n_kv_heads << " " << e.h.vocab_size << " " << e.h.seq_len);
        CHECK(llama2c::load<tiny_llama::config>(bytes.data(), bytes.size(), *g.w) == e.expected);
    }
    CHECK(g.untouched());
}

TEST_CASE("every prefix of a checkpoint is truncated and a longer file is a format error", "[hostile][llama2c]") {
    const auto good = tiny_checkpoint();
    guarded_weights<tiny_weights> g;
    std::size_t wrong = 0;
    for (std::size_t size = 0; size < good.size(); ++size) {
        const auto cut = prefix(good, size);
        const unsigned char* p = size == 0 ? good.data() : cut.data();
        wrong += llama2c::load<tiny_llama::config>(p, size, *g.w) != status::truncated;
    }
    CHECK(wrong == 0);
    auto longer = good;
    longer.push_back(0);
    CHECK(llama2c::load<tiny_llama::config>(longer.data(), longer.size(), *g.w) == status::format_error);
    CHECK(llama2c::load<tiny_llama::config>(nullptr, good.size(), *g.w) == status::invalid_argument);
    CHECK(g.untouched());
    REQUIRE(llama2c::load<tiny_llama::config>(good.data(), good.size(), *g.w) == status::ok);
}

TEST_CASE("a NaN or infinite weight anywhere in a checkpoint is non_finite and nothing is written",
          "[hostile][llama2c][non_finite]") {
    const auto good = tiny_checkpoint();
    const std::size_t floats = (good.size() - llama2c::header_bytes) / 4;
    guarded_weights<tiny_weights> g;
    const float bad_values[] = {std::numeric_limits<float>::quiet_NaN(), -std::numeric_limits<float>::quiet_NaN(),
                                std::numeric_limits<float>::signaling_NaN(), std::numeric_limits<float>::infinity(),
                                -std::numeric_limits<float>::infinity()};
    // First and last float (in the unused RoPE table), floats inside each region, final_norm's last.
    const std::size_t positions[] = {0, 1, 40, 48, 112, 177, 300, floats - 65, floats - 1};
    for (float bad : bad_values)
        for (std::size_t at : positions) {
            auto bytes = good;
            put_f32(bytes, llama2c::header_bytes + 4 * at, bad);
            INFO("float " << at << " = " << bad);
            CHECK(llama2c::load<tiny_llama::config>(bytes.data(), bytes.size(), *g.w) == status::non_finite);
        }
    CHECK(g.untouched());
    // Finite extremes load: FLT_MAX, denormals, -0.
    auto extremes = good;
    put_f32(extremes, llama2c::header_bytes, std::numeric_limits<float>::max());
    put_f32(extremes, llama2c::header_bytes + 4, std::numeric_limits<float>::denorm_min());
    put_f32(extremes, llama2c::header_bytes + 8, -0.0f);
    CHECK(llama2c::load<tiny_llama::config>(extremes.data(), extremes.size(), *g.w) == status::ok);
    CHECK(g.w->embedding[0] == std::numeric_limits<float>::max());
}

TEST_CASE("the tokenizer's size arithmetic saturates instead of wrapping", "[hostile][tokenizer][size]") {
    constexpr std::size_t max = std::numeric_limits<std::size_t>::max();
    STATIC_REQUIRE(tokenizer_piece_bytes(max, max / 4) == 0);  // 8 * vocab overflows
    STATIC_REQUIRE(tokenizer_piece_bytes(100, 3) == 100 - 4 - 24);
    STATIC_REQUIRE(tokenizer<4, 16>::encode_capacity(max - 1) == max);
    STATIC_REQUIRE(tokenizer<4, 16>::encode_capacity(5) == 8);
}

TEST_CASE("language_model::probabilities reports non-finite logits instead of returning NaN rows",
          "[hostile][model][non_finite]") {
    using lm = language_model<tiny_llama::config>;
    float logits[5] = {0.5f, -1.0f, 2.0f, 0.0f, 1.0f};
    float probs[5] = {7, 7, 7, 7, 7};
    REQUIRE(lm::probabilities(logits, probs) == status::ok);
    double sum = 0;
    for (float p : probs) sum += p;
    CHECK(std::abs(sum - 1.0) <= 1e-6);  // five terms each rounded once: well under 1e-6
    for (float bad : {std::numeric_limits<float>::quiet_NaN(), std::numeric_limits<float>::infinity()}) {
        float row[5] = {0.5f, -1.0f, 2.0f, 0.0f, bad};
        float out[5] = {7, 7, 7, 7, 7};
        CHECK(lm::probabilities(row, out) == status::non_finite);
        CHECK(out[0] == 7.0f);
    }
    const float masked[5] = {-INFINITY, -INFINITY, -INFINITY, -INFINITY, -INFINITY};
    float out[5] = {7, 7, 7, 7, 7};
    CHECK(lm::probabilities(masked, out) == status::non_finite);
    CHECK(lm::probabilities(nullptr, out) == status::invalid_argument);
}

// ---- the blob format ----

TEST_CASE("CRC32 and the configuration hash agree with tools/ctattn_blob.py", "[hostile][blob]") {
    constexpr unsigned char check[] = {'1', '2', '3', '4', '5', '6', '7', '8', '9'};
    STATIC_REQUIRE(blob::crc32(check, 9) == 0xCBF43926u);  // the CRC-32/ISO-HDLC check value
    // FNV-1a 64 of "ctattn-blob/1 image16 L0:heads=2/1 embedding:5x8 attention_norm.gain@0:1x8 ...
    // final_norm.gain:1x8", from tools/ctattn_blob.py's config_hash for the tiny llama header.
    STATIC_REQUIRE(blob::config_hash<tiny_llama::config>() == 0xaa300cda7454d4cbull);
}

TEST_CASE("a blob written by tools/ctattn_blob.py loads into the same weights as its llama2.c checkpoint",
          "[hostile][blob]") {
    using stories_block = block_config<attention_config<64, 8, 4, 32, no_bias, causal_mask>, ffn_config<64, swiglu, 172>,
                                       rms_norm<eps_1e_minus<5>>, pre_norm>;
    using stories_config = stacked_model_config<512, 5, stories_block, rotary_positions<10000>,
                                                rms_norm<eps_1e_minus<5>>, tied_head>;
    const auto checkpoint = read_file(CTATTN_STORIES260K);
    const auto blob_bytes = read_file(CTATTN_STORIES_BLOB);
    REQUIRE(checkpoint.size() == stories_bytes);
    REQUIRE(!blob_bytes.empty());
    auto from_checkpoint = std::make_unique<model_weights<stories_config>>();
    auto from_blob = std::make_unique<model_weights<stories_config>>();
    std::memset(static_cast<void*>(from_checkpoint.get()), 0, sizeof *from_checkpoint);
    std::memset(static_cast<void*>(from_blob.get()), 0, sizeof *from_blob);
    REQUIRE(llama2c::load<stories_config>(checkpoint.data(), checkpoint.size(), *from_checkpoint) == status::ok);
    REQUIRE(blob::load<stories_config>(blob_bytes.data(), blob_bytes.size(), *from_blob) == status::ok);
    // Python transposed the matrices, C++ transposes them in llama2c::load: bit for bit the same.
    CHECK(std::memcmp(from_checkpoint.get(), from_blob.get(), sizeof *from_blob) == 0);

    using untied_config = stacked_model_config<512, 5, stories_block, rotary_positions<10000>,
                                               rms_norm<eps_1e_minus<5>>, untied_head<>>;
    auto untied = std::make_unique<model_weights<untied_config>>();
    CHECK(blob::load<untied_config>(blob_bytes.data(), blob_bytes.size(), *untied) == status::config_mismatch);
    guarded_weights<tiny_weights> g;
    CHECK(blob::load<tiny_llama::config>(blob_bytes.data(), blob_bytes.size(), *g.w) == status::config_mismatch);
    CHECK(g.untouched());
}

TEST_CASE("every damaged blob is rejected with its own status, and the weights stay untouched", "[hostile][blob]") {
    const auto good = read_file(CTATTN_TINY_BLOB);
    const auto checkpoint = read_file(CTATTN_TINY_CHECKPOINT);
    REQUIRE(good.size() > blob::header_bytes);
    guarded_weights<tiny_weights> g;
    auto load = [&](const std::vector<unsigned char>& b) { return blob::load<tiny_llama::config>(b.data(), b.size(), *g.w); };

    std::size_t wrong = 0;
    for (std::size_t size = 0; size < good.size(); ++size) {
        const auto cut = prefix(good, size);
        wrong += blob::load<tiny_llama::config>(size == 0 ? good.data() : cut.data(), size, *g.w) != status::truncated;
    }
    CHECK(wrong == 0);
    CHECK(blob::load<tiny_llama::config>(nullptr, good.size(), *g.w) == status::invalid_argument);
    auto b = good;
    b.push_back(0);
    CHECK(load(b) == status::format_error);

    const std::uint64_t payload_offset = ctattn::io::read_u64_le(&good[32]);
    struct damage {
        const char* what;
        void (*apply)(std::vector<unsigned char>&, std::uint64_t payload_offset);
        bool sealed;  // CRCs recomputed after the edit
        status expected;
    };
    const damage cases[] = {
        {"magic", [](auto& v, auto) { v[0] = 'X'; }, false, status::bad_magic},
        {"version 0", [](auto& v, auto) { put_u32(v, 8, 0); }, false, status::bad_version},
        {"version 3", [](auto& v, auto) { put_u32(v, 8, 3); }, false, status::bad_version},
        {"header size", [](auto& v, auto) { put_u32(v, 12, 65); }, false, status::format_error},
        {"payload byte", [](auto& v, auto off) { v[off + 5] ^= 0x01; }, false, status::checksum_mismatch},
        {"table byte", [](auto& v, auto) { v[64 + 8] ^= 0x40; }, false, status::checksum_mismatch},
        {"config hash", [](auto& v, auto) { v[16] ^= 1; }, true, status::config_mismatch},
        {"tensor count", [](auto& v, auto) { put_u32(v, 24, 12); }, true, status::config_mismatch},
        {"tensor kind", [](auto& v, auto) { put_u32(v, 64 + 32, 5); }, true, status::config_mismatch},
        {"tensor layer", [](auto& v, auto) { put_u32(v, 64 + 32 + 4, 1); }, true, status::config_mismatch},
        {"tensor bytes", [](auto& v, auto) { put_u64(v, 64 + 16, 156); }, true, status::config_mismatch},
        {"dtype", [](auto& v, auto) { put_u32(v, 64 + 24, 2); }, true, status::config_mismatch},
        {"offset out of the payload", [](auto& v, auto) { put_u64(v, 64 + 32 * 10 + 8, 1u << 20); }, true,
         status::format_error},
        {"offsets out of order", [](auto& v, auto) { put_u64(v, 64 + 32 + 8, 0); }, true, status::format_error},
        {"misaligned offset", [](auto& v, auto) { put_u64(v, 64 + 32 + 8, 160 + 4); }, true, status::format_error},
        {"payload offset 2^64 - 64", [](auto& v, auto) { put_u64(v, 32, ~std::uint64_t(63)); }, true,
         status::size_overflow},
        {"file size 2^63", [](auto& v, auto) { put_u64(v, 56, std::uint64_t(1) << 63); }, true,
         sizeof(std::size_t) == 4 ? status::size_overflow : status::format_error},
        {"tensor bytes 2^64 - 4", [](auto& v, auto) { put_u64(v, 64 + 16, ~std::uint64_t(3)); }, true,
         sizeof(std::size_t) == 4 ? status::size_overflow : status::config_mismatch},
        {"NaN weight", [](auto& v, auto off) { put_f32(v, std::size_t(off) + 8, std::numeric_limits<float>::quiet_NaN()); },
         true, status::non_finite},
        {"inf in the padding", [](auto& v, auto off) { put_f32(v, std::size_t(off) + 160 + 4, INFINITY); }, true,
         status::non_finite},
    };
    for (const damage& d : cases) {
        auto v = good;
        d.apply(v, payload_offset);
        if (d.sealed) reseal(v);
        INFO(d.what);
        CHECK(load(v) == d.expected);
    }
    CHECK(g.untouched());

    // The undamaged blob loads to exactly what llama2c::load makes of the same checkpoint.
    REQUIRE(load(good) == status::ok);
    guarded_weights<tiny_weights> reference;
    REQUIRE(llama2c::load<tiny_llama::config>(checkpoint.data(), checkpoint.size(), *reference.w) == status::ok);
    CHECK(std::memcmp(g.w.get(), reference.w.get(), sizeof(tiny_weights)) == 0);
}

TEST_CASE("a view over a validated blob reads the weights in place and computes the same logits", "[hostile][blob][view]") {
    using stories_block = block_config<attention_config<64, 8, 4, 32, no_bias, causal_mask>, ffn_config<64, swiglu, 172>,
                                       rms_norm<eps_1e_minus<5>>, pre_norm>;
    using stories_config = stacked_model_config<512, 5, stories_block, rotary_positions<10000>,
                                                rms_norm<eps_1e_minus<5>>, tied_head>;
    using lm = language_model<stories_config>;
    const auto file = read_file(CTATTN_STORIES_BLOB);
    REQUIRE(file.size() > blob::header_bytes);
    // A 64-byte aligned copy (as a blob sits in flash or a static buffer), and one shifted by a byte.
    struct alignas(64) line { unsigned char bytes[64]; };
    std::vector<line> storage(file.size() / 64 + 2);
    unsigned char* aligned = storage.front().bytes;
    std::memcpy(aligned, file.data(), file.size());

    model_weights_view<stories_config> view{};
    REQUIRE(blob::view<stories_config>(aligned, file.size(), view) == status::ok);
    blob::validated<stories_config> v;
    REQUIRE(blob::validate<stories_config>(aligned, file.size(), v) == status::ok);
    CHECK(reinterpret_cast<const unsigned char*>(view.embedding.data()) == v.payload);  // no copy
    CHECK(reinterpret_cast<const unsigned char*>(view.final_norm.gain.data()) ==
          v.payload + blob::image_table<stories_config>::entries.back().offset);

    auto owned = std::make_unique<model_weights<stories_config>>();
    REQUIRE(blob::load<stories_config>(aligned, file.size(), *owned) == status::ok);
    const token_id tokens[7] = {1, 403, 261, 347, 300, 13, 511};
    auto ws = std::make_unique<model_workspace<stories_config>>();
    std::vector<float> from_view(7 * 512), from_owned(7 * 512);
    REQUIRE(lm::forward(view, tokens, 7, from_view.data(), *ws) == status::ok);
    REQUIRE(lm::forward(*owned, tokens, 7, from_owned.data(), *ws) == status::ok);
    CHECK(std::memcmp(from_view.data(), from_owned.data(), from_view.size() * sizeof(float)) == 0);  // same floats, same kernels

    std::memmove(aligned + 1, aligned, file.size());
    model_weights_view<stories_config> untouched_view = view;
    CHECK(blob::view<stories_config>(aligned + 1, file.size(), view) == status::misaligned);
    CHECK(view.embedding.data() == untouched_view.embedding.data());
    CHECK(blob::load<stories_config>(aligned + 1, file.size(), *owned) == status::ok);  // a copy needs no alignment
}
