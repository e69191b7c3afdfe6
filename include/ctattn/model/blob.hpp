// The validated binary weight format ("ctattn blob", docs/formats.md) for weights that arrive at
// run time (SD card, OTA): a 64-byte header (magic, version, configuration hash, CRC32s), a table
// of tensors (kind, layer, offset, bytes), then the float32 payload in the layout the kernels read
// (matrices (in, out) row-major, as model_weights holds them), each tensor 64-byte aligned.
// blob::validate<Config> checks everything before a weight is used (sizes in the target's size_t
// with overflow checks, configuration hash, table against the configuration, payload CRC32 and
// finiteness in one fused pass) and never reads outside [bytes, bytes + size); blob::load copies
// the validated tensors into model_weights<Config>. Written by tools/ctattn_blob.py.
#pragma once

#include <array>
#include <bit>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <type_traits>

#include "../io/checked_size.hpp"
#include "../llama2c.hpp"
#include "../model.hpp"
#include "../status.hpp"

namespace ctattn::blob {

inline constexpr unsigned char magic[8] = {'C', 'T', 'A', 'T', 'T', 'N', 'W', 'B'};
inline constexpr std::uint32_t format_version = 1;
inline constexpr std::size_t header_bytes = 64;
inline constexpr std::size_t entry_bytes = 32;
inline constexpr std::size_t tensor_alignment = 64;  // of offsets in the file (a cache line)
inline constexpr std::uint32_t dtype_f32 = 1;        // little-endian IEEE-754 binary32
inline constexpr std::uint32_t layout_row_major = 0; // vectors, and matrices (in, out) row-major

// Tensors in file order; a per-layer kind appears once per layer, layers in order.
enum class tensor_kind : std::uint32_t {
    embedding = 1,       // (vocab, d_model)
    attention_norm = 2,  // (d_model) RMSNorm gain, per layer
    wq = 3,              // (d_model, heads * head_dim), per layer
    wk = 4,              // (d_model, kv_heads * head_dim), per layer
    wv = 5,              // (d_model, kv_heads * head_dim), per layer
    wo = 6,              // (heads * head_dim, d_model), per layer
    ffn_norm = 7,        // (d_model), per layer
    w1 = 8,              // (d_model, d_ff) gate, per layer
    w2 = 9,              // (d_ff, d_model) down, per layer
    w3 = 10,             // (d_model, d_ff) up, per layer
    final_norm = 11,     // (d_model)
    classifier = 12,     // (d_model, vocab), untied heads only
};

// ---- CRC-32 (ISO-HDLC: zlib's and Python's zlib.crc32), table-driven, 1 KiB of constants ----
namespace detail {
constexpr std::array<std::uint32_t, 256> make_crc_table() noexcept {
    std::array<std::uint32_t, 256> table{};
    for (std::uint32_t i = 0; i < 256; ++i) {
        std::uint32_t c = i;
        for (int k = 0; k < 8; ++k) c = (c & 1u) ? 0xEDB88320u ^ (c >> 1) : c >> 1;
        table[i] = c;
    }
    return table;
}
inline constexpr std::array<std::uint32_t, 256> crc_table = make_crc_table();

constexpr std::uint64_t read_u64(const unsigned char* p) noexcept {
    std::uint64_t v = 0;
    for (int i = 7; i >= 0; --i) v = (v << 8) | p[i];
    return v;
}
constexpr std::uint32_t read_u32(const unsigned char* p) noexcept {
    return std::uint32_t(p[0]) | (std::uint32_t(p[1]) << 8) | (std::uint32_t(p[2]) << 16) | (std::uint32_t(p[3]) << 24);
}
}  // namespace detail

// Running CRC: crc32_update(crc32_update(0, a), b) == crc32(a + b).
constexpr std::uint32_t crc32_update(std::uint32_t crc, const unsigned char* p, std::size_t n) noexcept {
    crc = ~crc;
    for (std::size_t i = 0; i < n; ++i) crc = detail::crc_table[(crc ^ p[i]) & 0xffu] ^ (crc >> 8);
    return ~crc;
}
constexpr std::uint32_t crc32(const unsigned char* p, std::size_t n) noexcept { return crc32_update(0, p, n); }

// ---- the configuration hash: FNV-1a 64 of a canonical text that spells the shape ----
// "ctattn-blob/1 llama d_model=64 d_ff=172 layers=5 heads=8 kv_heads=4 vocab=512 head=tied
// layout=row_major" for stories260K; tools/ctattn_blob.py builds the same text from a checkpoint.
namespace detail {
struct fnv1a {
    std::uint64_t h = 0xcbf29ce484222325ull;
    constexpr void text(const char* s) noexcept {
        for (; *s != '\0'; ++s) byte(static_cast<unsigned char>(*s));
    }
    constexpr void number(std::size_t v) noexcept {
        char digits[24] = {};
        int n = 0;
        do {
            digits[n++] = static_cast<char>('0' + v % 10);
            v /= 10;
        } while (v != 0);
        while (n > 0) byte(static_cast<unsigned char>(digits[--n]));
    }
    constexpr void byte(unsigned char b) noexcept {
        h ^= b;
        h *= 0x100000001b3ull;
    }
};

template <model_configuration Config>
using llama_layers = llama2c::detail::uniform_llama_layers<typename Config::template per_layer<std::type_identity_t>>;
}  // namespace detail

template <model_configuration Config>
[[nodiscard]] constexpr std::uint64_t config_hash() noexcept {
    using layers = detail::llama_layers<Config>;
    using A = typename layers::first::attention;
    detail::fnv1a f;
    f.text("ctattn-blob/1 llama d_model=");
    f.number(Config::d_model);
    f.text(" d_ff=");
    f.number(layers::first::d_ff);
    f.text(" layers=");
    f.number(Config::layers);
    f.text(" heads=");
    f.number(A::heads);
    f.text(" kv_heads=");
    f.number(A::kv_heads);
    f.text(" vocab=");
    f.number(Config::vocab);
    f.text(Config::head::tied ? " head=tied" : " head=untied");
    f.text(" layout=row_major");
    return f.h;
}

// ---- the expected table of a configuration ----
template <model_configuration Config>
struct shape {
    using layers = detail::llama_layers<Config>;
    static constexpr std::size_t D = Config::d_model, V = Config::vocab, L = Config::layers;
    static constexpr std::size_t F = layers::first::d_ff, kv_dim = layers::first::attention::kv_dim;
    static constexpr std::size_t per_layer_kinds = 9;  // attention_norm .. w3
    static constexpr std::size_t tensor_count = 1 + per_layer_kinds * L + 1 + (Config::head::tied ? 0 : 1);

    struct entry {
        tensor_kind kind;
        std::uint32_t layer;
        std::size_t floats;
    };
    // The i-th tensor of the file (i < tensor_count).
    static constexpr entry at(std::size_t i) noexcept {
        if (i == 0) return {tensor_kind::embedding, 0, V * D};
        if (i == 1 + per_layer_kinds * L) return {tensor_kind::final_norm, 0, D};
        if (i == 2 + per_layer_kinds * L) return {tensor_kind::classifier, 0, D * V};
        // llama2.c's order: each kind for every layer, then the next kind.
        const std::size_t k = (i - 1) / L, layer = (i - 1) % L;
        constexpr std::size_t floats[per_layer_kinds] = {D, D * D, D * kv_dim, D * kv_dim, D * D, D, D * F, F * D, D * F};
        return {static_cast<tensor_kind>(2 + k), std::uint32_t(layer), floats[k]};
    }
};

// A blob whose every check passed: where each tensor's floats start, in the caller's buffer.
template <model_configuration Config>
struct validated {
    const unsigned char* payload = nullptr;
    std::size_t offsets[shape<Config>::tensor_count] = {};  // bytes from payload, in file order

    [[nodiscard]] const unsigned char* tensor(std::size_t i) const noexcept { return payload + offsets[i]; }
};

// Checks a whole blob, bytes[0, size), against Config; on ok fills `out`, otherwise leaves it
// untouched and names the first failure:
//   invalid_argument   bytes is null                 truncated        size < what the header says
//   bad_magic          not "CTATTNWB"                bad_version      version != format_version
//   size_overflow      header sizes overflow size_t  format_error     bytes after the file, table
//   checksum_mismatch  header+table or payload CRC                    or tensors out of place
//   config_mismatch    configuration hash, tensor count, kinds, layers, sizes or types differ
//   non_finite         a payload float is NaN or +-inf
// The header and table checks are O(tensors); the payload costs one pass (CRC32 and the finite
// test fused, docs/model.md has the cost).
template <model_configuration Config>
[[nodiscard]] status validate(const unsigned char* bytes, std::size_t size, validated<Config>& out) noexcept {
    using S = shape<Config>;
    using n = io::checked_size<>;
    if (bytes == nullptr) return status::invalid_argument;
    if (size < header_bytes) return status::truncated;
    if (std::memcmp(bytes, magic, sizeof magic) != 0) return status::bad_magic;
    if (detail::read_u32(bytes + 8) != format_version) return status::bad_version;
    if (detail::read_u32(bytes + 12) != header_bytes || detail::read_u32(bytes + 28) != entry_bytes)
        return status::format_error;
    const std::uint32_t count = detail::read_u32(bytes + 24);
    const n table_end = n(header_bytes) + n::from_field(count) * n(entry_bytes);
    const n payload_offset = n::from_field(detail::read_u64(bytes + 32));
    const n payload_bytes = n::from_field(detail::read_u64(bytes + 40));
    const n file_bytes = n::from_field(detail::read_u64(bytes + 56));
    const n payload_end = payload_offset + payload_bytes;
    if (!table_end.ok() || !payload_end.ok() || !file_bytes.ok()) return status::size_overflow;
    if (payload_end.value() != file_bytes.value() || payload_offset.value() < table_end.value() ||
        payload_offset.value() % tensor_alignment != 0)
        return status::format_error;
    if (size < file_bytes.value()) return status::truncated;
    if (size > file_bytes.value()) return status::format_error;

    // Header (less its CRC field) and table, then the configuration they describe.
    std::uint32_t crc = crc32(bytes, 52);
    crc = crc32_update(crc, bytes + 56, table_end.value() - 56);
    if (crc != detail::read_u32(bytes + 52)) return status::checksum_mismatch;
    if (detail::read_u64(bytes + 16) != config_hash<Config>() || count != S::tensor_count)
        return status::config_mismatch;

    validated<Config> result;
    result.payload = bytes + payload_offset.value();
    std::size_t end_of_previous = 0;
    for (std::size_t i = 0; i < S::tensor_count; ++i) {
        const unsigned char* e = bytes + header_bytes + i * entry_bytes;
        const auto want = S::at(i);
        const n offset = n::from_field(detail::read_u64(e + 8)), tensor_bytes = n::from_field(detail::read_u64(e + 16));
        if (detail::read_u32(e) != std::uint32_t(want.kind) || detail::read_u32(e + 4) != want.layer ||
            detail::read_u32(e + 24) != dtype_f32 || detail::read_u32(e + 28) != layout_row_major)
            return status::config_mismatch;
        if (!offset.ok() || !tensor_bytes.ok()) return status::size_overflow;
        if (tensor_bytes.value() / 4 != want.floats || tensor_bytes.value() % 4 != 0) return status::config_mismatch;
        const n end = offset + tensor_bytes;
        if (!end.ok()) return status::size_overflow;
        if (offset.value() % tensor_alignment != 0 || offset.value() < end_of_previous ||
            end.value() > payload_bytes.value())
            return status::format_error;
        end_of_previous = end.value();
        result.offsets[i] = offset.value();
    }
    if (payload_bytes.value() % 4 != 0) return status::format_error;

    // One pass over the payload: CRC32 of its bytes and the finite test of its words (tensor
    // floats and zero padding alike), 4 bytes per step.
    const unsigned char* p = result.payload;
    std::uint32_t c = ~std::uint32_t(0), non_finite = 0;
    for (std::size_t at = 0; at < payload_bytes.value(); at += 4) {
        const std::uint32_t word = detail::read_u32(p + at);
        non_finite |= std::uint32_t((word & 0x7f800000u) == 0x7f800000u);
        c = detail::crc_table[(c ^ p[at]) & 0xffu] ^ (c >> 8);
        c = detail::crc_table[(c ^ p[at + 1]) & 0xffu] ^ (c >> 8);
        c = detail::crc_table[(c ^ p[at + 2]) & 0xffu] ^ (c >> 8);
        c = detail::crc_table[(c ^ p[at + 3]) & 0xffu] ^ (c >> 8);
    }
    if (~c != detail::read_u32(bytes + 48)) return status::checksum_mismatch;
    if (non_finite != 0) return status::non_finite;
    out = result;
    return status::ok;
}

namespace detail {
inline void copy_floats(float* dst, const unsigned char* src, std::size_t n) noexcept {
    for (std::size_t i = 0; i < n; ++i) {
        std::uint32_t u = read_u32(src + 4 * i);
        std::memcpy(dst + i, &u, 4);
    }
}
}  // namespace detail

// Validates, then copies every tensor into w (w untouched unless the result is ok). For weights in
// RAM; weights read in place from the blob use a view (no copy) over the same validated tensors.
template <model_configuration Config>
[[nodiscard]] status load(const unsigned char* bytes, std::size_t size, model_weights<Config>& w) noexcept {
    using S = shape<Config>;
    static_assert(S::layers::llama && S::layers::uniform,
                  "ctattn: the blob format holds llama-shaped models (pre_norm rms_norm blocks, swiglu, no bias)");
    validated<Config> v;
    if (const status s = validate<Config>(bytes, size, v); s != status::ok) return s;
    constexpr std::size_t L = Config::layers;
    constexpr auto each_layer = hana::make_range(hana::size_c<0>, hana::size_c<L>);
    auto copy = [&](float* dst, std::size_t i) { detail::copy_floats(dst, v.tensor(i), S::at(i).floats); };
    copy(w.embedding.data(), 0);
    hana::for_each(each_layer, [&](auto l) {
        auto& layer = hana::at(w.layers, l);
        constexpr std::size_t i = decltype(l)::value;
        copy(layer.attention_norm.gain.data(), 1 + 0 * L + i);
        copy(layer.attention.wq.data(), 1 + 1 * L + i);
        copy(layer.attention.wk.data(), 1 + 2 * L + i);
        copy(layer.attention.wv.data(), 1 + 3 * L + i);
        copy(layer.attention.wo.data(), 1 + 4 * L + i);
        copy(layer.ffn_norm.gain.data(), 1 + 5 * L + i);
        copy(layer.ffn.w1.data(), 1 + 6 * L + i);
        copy(layer.ffn.w2.data(), 1 + 7 * L + i);
        copy(layer.ffn.w3.data(), 1 + 8 * L + i);
    });
    copy(w.final_norm.gain.data(), 1 + 9 * L);
    if constexpr (!Config::head::tied) copy(w.head.w_out.data(), 2 + 9 * L);
    return status::ok;
}

}  // namespace ctattn::blob
