// SPDX-License-Identifier: Apache-2.0
// The validated binary weight format ("ctattn blob", docs/formats.md) for weights that arrive at
// run time (SD card, OTA): a 64-byte header (magic, version, configuration hash, CRC32s), a table
// of tensors (kind, layer, offset, bytes), then the payload, which is exactly the weights image of
// model/weights_image.hpp: every tensor in the kernels' layout (x @ W, (in, out) row-major), in
// for_each_tensor's canonical order, each padded to 16 floats. A quantized configuration
// (base/weight_format.hpp, version 2) has two table entries per Q8 tensor, its scales (f32, in the
// float image) and its codes (i8), and the payload is the float image followed by the code image.
// blob::validate<Config> checks everything before a weight is used (sizes in the target's size_t
// with overflow checks, configuration hash, table against the configuration, payload CRC32 and
// finiteness in one fused pass) and never reads outside [bytes, bytes + size). Then either
//   blob::view<Config>  a model_weights_view into the caller's buffer: nothing is copied, or
//   blob::load<Config>  a copy into model_weights<Config> (RAM).
// Written by tools/ctattn_blob.py (and tools/ctattn_gen.py --blob).
#pragma once

#include <array>
#include <bit>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <type_traits>

#include "../base/status.hpp"
#include "../model/language_model.hpp"
#include "../model/weights_image.hpp"
#include "checked_size.hpp"
#include "crc32.hpp"
#include "little_endian.hpp"

namespace ctattn::blob {

/// The first 8 bytes of every blob: "CTATTNWB".
inline constexpr unsigned char magic[8] = {'C', 'T', 'A', 'T', 'T', 'N', 'W', 'B'};
/// The format version tools/ctattn_blob.py writes: 2 added int8 (Q8) tensors and their scales.
inline constexpr std::uint32_t format_version = 2;
/// The oldest version this build reads (version 1: float tensors only, otherwise the same).
inline constexpr std::uint32_t oldest_format_version = 1;
/// Size of the header in bytes.
inline constexpr std::size_t header_bytes = 64;
/// Size of one table entry in bytes.
inline constexpr std::size_t entry_bytes = 32;
inline constexpr std::size_t tensor_alignment = 64;  ///< of offsets in the file (a cache line)
inline constexpr std::uint32_t dtype_f32 = 1;        ///< little-endian IEEE-754 binary32
inline constexpr std::uint32_t layout_row_major = 0; ///< vectors, and matrices (in, out) row-major
inline constexpr std::uint32_t dtype_i8 = 2;          ///< two's-complement int8 (Q8 codes)
inline constexpr std::uint32_t layout_q8_scales = 1;  ///< a Q8 tensor's scales: (out, groups) f32
inline constexpr std::uint32_t layout_q8_codes = 2;   ///< a Q8 tensor's codes: (out, row_codes) i8

inline constexpr std::uint32_t model_level_layer = 0xffffffffu;  ///< the layer field of tensors outside the stack

/// Tensor kinds: the 1-based index of the tensor's name (for_each_tensor's) in this list.
inline constexpr const char* tensor_names[] = {
    "embedding",       "positions",      "attention_norm.gain", "attention_norm.bias", "attention.wq",
    "attention.wk",    "attention.wv",   "attention.wo",        "attention.bq",        "attention.bk",
    "attention.bv",    "attention.bo",   "ffn_norm.gain",       "ffn_norm.bias",       "ffn.w1",
    "ffn.w3",          "ffn.w2",         "ffn.b1",              "ffn.b3",              "ffn.b2",
    "final_norm.gain", "final_norm.bias", "head.w_out",         "head.b_out"};

namespace detail {
constexpr bool same_text(const char* a, const char* b) noexcept {
    for (; *a != '\0' && *a == *b; ++a, ++b) {
    }
    return *a == *b;
}
}  // namespace detail

/// The kind of the tensor called `name` (its 1-based index in tensor_names), 0 for an unknown name.
[[nodiscard]] constexpr std::uint32_t tensor_kind(const char* name) noexcept {
    for (std::uint32_t i = 0; i < sizeof tensor_names / sizeof tensor_names[0]; ++i)
        if (detail::same_text(tensor_names[i], name)) return i + 1;
    return 0;
}

// The blob's checksums are CRC-32/ISO-HDLC (io/crc32.hpp; Python's zlib.crc32).
using io::crc32;
using io::crc32_update;

// ---- the header and a table entry, field by field in file order (docs/formats.md) ----
/// The blob's 64-byte header, as parse_header reads it.
struct header {
    unsigned char magic[8] = {};         ///< "CTATTNWB"
    std::uint32_t version = 0;           ///< format_version
    std::uint32_t header_bytes = 0;      ///< blob::header_bytes
    std::uint64_t config_hash = 0;       ///< config_hash<Config>()
    std::uint32_t tensor_count = 0;      ///< entries in the table after the header
    std::uint32_t entry_bytes = 0;       ///< blob::entry_bytes
    std::uint64_t payload_offset = 0;    ///< from the file's start, a multiple of tensor_alignment
    std::uint64_t payload_bytes = 0;     ///< size of the payload (the weights image)
    std::uint32_t payload_crc32 = 0;     ///< of the payload's bytes
    std::uint32_t header_crc32 = 0;      ///< of the header less this field, then the table
    std::uint64_t file_bytes = 0;        ///< payload_offset + payload_bytes
};
/// Where header_crc32 sits: the header CRC covers [0, this) and [this + 4, table end).
inline constexpr std::size_t header_crc32_offset = 8 + 4 + 4 + 8 + 4 + 4 + 8 + 8 + 4;
static_assert(header_crc32_offset + 4 + 8 == header_bytes, "ctattn: blob::header's fields must fill 64 bytes");

/// One 32-byte entry of the tensor table, as parse_entry reads it.
struct table_entry {
    std::uint32_t kind = 0;    ///< 1-based index into tensor_names
    std::uint32_t layer = 0;   ///< or model_level_layer
    std::uint64_t offset = 0;  ///< bytes from the payload's start
    std::uint64_t bytes = 0;   ///< size of the tensor's data (4 per float, 1 per code, no padding)
    std::uint32_t dtype = 0;   ///< dtype_f32 or dtype_i8
    std::uint32_t layout = 0;  ///< layout_row_major, layout_q8_scales or layout_q8_codes
};

/// The header's fields from bytes[0, header_bytes) (the caller checked the size).
[[nodiscard]] constexpr header parse_header(const unsigned char* bytes) noexcept {
    io::le_reader in{bytes, header_bytes};
    header h;
    in.bytes(h.magic, sizeof h.magic);
    h.version = in.u32();
    h.header_bytes = in.u32();
    h.config_hash = in.u64();
    h.tensor_count = in.u32();
    h.entry_bytes = in.u32();
    h.payload_offset = in.u64();
    h.payload_bytes = in.u64();
    h.payload_crc32 = in.u32();
    h.header_crc32 = in.u32();
    h.file_bytes = in.u64();
    return h;
}

/// Entry i of the table (the caller checked that the table lies inside the buffer).
[[nodiscard]] constexpr table_entry parse_entry(const unsigned char* bytes, std::size_t i) noexcept {
    io::le_reader in{bytes, header_bytes + (i + 1) * entry_bytes, header_bytes + i * entry_bytes};
    table_entry e;
    e.kind = in.u32();
    e.layer = in.u32();
    e.offset = in.u64();
    e.bytes = in.u64();
    e.dtype = in.u32();
    e.layout = in.u32();
    return e;
}

// ---- the tensors a configuration's image holds, and the configuration hash ----
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

template <class LayerTuple>
struct layer_heads;
template <class... Blocks>
struct layer_heads<hana::tuple<Blocks...>> {
    static constexpr std::size_t layers = sizeof...(Blocks);
    // Bounds spelled out: clang 14 cannot read a static constexpr array of deduced bound in a
    // constant expression (config_hash is one).
    static constexpr std::size_t heads[sizeof...(Blocks)] = {Blocks::attention::heads...};
    static constexpr std::size_t kv_heads[sizeof...(Blocks)] = {Blocks::attention::kv_heads...};
};
}  // namespace detail

/// The tensor table a blob for Config must hold: every tensor of the weights image, in file order.
template <model_configuration Config>
struct image_table {
    /// One tensor: what its table entry must say, and its shape.
    struct entry {
        std::uint32_t kind = 0;          ///< 1-based index into tensor_names
        std::uint32_t layer = 0;         ///< or model_level_layer
        std::size_t offset = 0;          ///< bytes from the payload's start
        std::size_t floats = 0;          ///< rows * cols (a Q8 tensor's scales entry: its scales; codes: 0)
        std::size_t bytes = 0;           ///< of the data: 4 * floats, or the codes
        std::uint32_t dtype = dtype_f32;         ///< dtype_f32 or dtype_i8
        std::uint32_t layout = layout_row_major;  ///< layout_row_major, layout_q8_scales or layout_q8_codes
        std::size_t group = 0;           ///< Q8 entries: codes per scale (0 otherwise)
        /// the tensor's rows
        std::size_t rows = 0, cols = 0;  ///< the tensor's columns
        const char* name = nullptr;      ///< for_each_tensor's name, e.g. "attention.wq"
    };
    /// Number of table entries: one per float tensor, two (scales, codes) per Q8 tensor.
    static constexpr std::size_t count = [] {
        model_weights_view<Config> shapes{};
        std::size_t n = 0;
        for_each_tensor(shapes, [&](auto& t, const char*, std::size_t) {
            n += q8_projection_matrix<std::remove_cvref_t<decltype(t)>> ? 2 : 1;
        });
        return n;
    }();
    /// The table entries in file order.
    static constexpr std::array<entry, count> entries = [] {
        model_weights_view<Config> shapes{};
        std::array<entry, count> table{};
        std::size_t i = 0, offset = 0, code_offset = 4 * weights_image_floats<Config>;
        for_each_tensor(shapes, [&](auto& t, const char* name, std::size_t layer) {
            using tensor = std::remove_cvref_t<decltype(t)>;
            table[i].kind = tensor_kind(name);
            table[i].layer = layer == model_level_tensor ? model_level_layer : std::uint32_t(layer);
            table[i].name = name;
            if constexpr (q8_projection_matrix<tensor>) {
                // The float tensor's shape (the embedding (vocab, d_model), a projection (in, out)), so
                // the configuration hash spells the shape as a float blob of the model does.
                const bool embedding = detail::same_text(name, "embedding");
                table[i].rows = embedding ? tensor::out_features : tensor::in_features;
                table[i].cols = embedding ? tensor::in_features : tensor::out_features;
                table[i].group = tensor::group;
                table[i + 1] = table[i];
                table[i].offset = offset;
                table[i].floats = tensor::scale_count;
                table[i].bytes = 4 * tensor::scale_count;
                table[i].layout = layout_q8_scales;
                offset += 4 * padded_tensor_floats(tensor::scale_count);
                ++i;
                table[i].offset = code_offset;
                table[i].bytes = tensor::code_count;
                table[i].dtype = dtype_i8;
                table[i].layout = layout_q8_codes;
                code_offset += padded_tensor_codes(tensor::code_count);
            } else {
                table[i].offset = offset;
                table[i].floats = tensor::size;
                table[i].bytes = 4 * tensor::size;
                table[i].rows = tensor::rows;
                table[i].cols = tensor::cols;
                offset += 4 * padded_tensor_floats(tensor::size);
            }
            ++i;
        });
        return table;
    }();
    /// Bytes of the float image at the payload's start (the rest is the code image).
    static constexpr std::size_t float_bytes = 4 * weights_image_floats<Config>;
    /// Size of the payload: the whole weights image (and code image), padding included.
    static constexpr std::size_t payload_bytes = float_bytes + weights_image_codes<Config>;
};

/// FNV-1a 64 of a text that spells the shape: every layer's heads and kv heads, then every tensor's
/// name, layer and extents in file order, e.g. for stories260K
///   "ctattn-blob/1 image16 L0:heads=8/4 ... L4:heads=8/4 embedding:512x64
///    attention_norm.gain@0:1x64 attention.wq@0:64x64 ... head.w_out ..."
/// (single spaces; tools/ctattn_blob.py builds the same text from a llama2.c header). A quantized
/// configuration starts "ctattn-blob/2 image16 q8" and spells each Q8 tensor's group, e.g.
/// "attention.wq@0:64x64/g32" (once, at its scales entry).
template <model_configuration Config>
[[nodiscard]] constexpr std::uint64_t config_hash() noexcept {
    using heads = detail::layer_heads<typename Config::template per_layer<std::type_identity_t>>;
    detail::fnv1a f;
    f.text(weight_format_of<Config>::quantized ? "ctattn-blob/2 image16 q8" : "ctattn-blob/1 image16");
    for (std::size_t l = 0; l < heads::layers; ++l) {
        f.text(" L");
        f.number(l);
        f.text(":heads=");
        f.number(heads::heads[l]);
        f.text("/");
        f.number(heads::kv_heads[l]);
    }
    for (const auto& e : image_table<Config>::entries) {
        if (e.layout == layout_q8_codes) continue;
        f.text(" ");
        f.text(e.name);
        if (e.layer != model_level_layer) {
            f.text("@");
            f.number(e.layer);
        }
        f.text(":");
        f.number(e.rows);
        f.text("x");
        f.number(e.cols);
        if (e.layout == layout_q8_scales) {
            f.text("/g");
            f.number(e.group);
        }
    }
    return f.h;
}

/// A blob whose every check passed: its payload (the weights image) in the caller's buffer.
template <model_configuration Config>
struct validated {
    const unsigned char* payload = nullptr;  ///< image_table<Config>::payload_bytes bytes

    /// The first byte of tensor i (image_table<Config>::entries[i]).
    [[nodiscard]] const unsigned char* tensor(std::size_t i) const noexcept {
        return payload + image_table<Config>::entries[i].offset;
    }
};

// ---- the steps of validate, in the order it takes them (the first failure names the status) ----
namespace detail {

// Where the parts of the file lie, from the header's fields, in the target's size_t.
struct file_extent {
    std::size_t table_end = 0;  // header plus table
    std::size_t payload_offset = 0;
    std::size_t payload_bytes = 0;
    std::size_t file_bytes = 0;
};

// The header's constants: magic, version, and the header and entry sizes this reader knows.
[[nodiscard]] inline status check_header_constants(const header& h) noexcept {
    if (std::memcmp(h.magic, magic, sizeof magic) != 0) return status::bad_magic;
    if (h.version < oldest_format_version || h.version > format_version) return status::bad_version;
    if (h.header_bytes != header_bytes || h.entry_bytes != entry_bytes) return status::format_error;
    return status::ok;
}

// The header's sizes, overflow-checked, and the parts in order: header, table, padding to a
// cache line, payload up to the file's end.
[[nodiscard]] inline status locate_parts(const header& h, file_extent& out) noexcept {
    using n = io::checked_size<>;
    const n table_end = n(header_bytes) + n::from_field(h.tensor_count) * n(entry_bytes);
    const n payload_offset = n::from_field(h.payload_offset);
    const n payload_bytes = n::from_field(h.payload_bytes);
    const n file_bytes = n::from_field(h.file_bytes);
    const n payload_end = payload_offset + payload_bytes;
    if (!table_end.ok() || !payload_end.ok() || !file_bytes.ok()) return status::size_overflow;
    if (payload_end.value() != file_bytes.value() || payload_offset.value() < table_end.value() ||
        payload_offset.value() % tensor_alignment != 0)
        return status::format_error;
    out = {table_end.value(), payload_offset.value(), payload_bytes.value(), file_bytes.value()};
    return status::ok;
}

[[nodiscard]] inline status check_file_size(std::size_t size, const file_extent& parts) noexcept {
    if (size < parts.file_bytes) return status::truncated;
    if (size > parts.file_bytes) return status::format_error;
    return status::ok;
}

// CRC-32 of the header less its CRC field, then the table (not the padding after it).
[[nodiscard]] inline status check_header_crc(const unsigned char* bytes, const header& h,
                                             const file_extent& parts) noexcept {
    constexpr std::size_t after_crc = header_crc32_offset + 4;
    std::uint32_t crc = crc32(bytes, header_crc32_offset);
    crc = crc32_update(crc, bytes + after_crc, parts.table_end - after_crc);
    return crc == h.header_crc32 ? status::ok : status::checksum_mismatch;
}

// Each entry against the configuration's image: the same tensor, type and size, at the very
// offset the image has it (so the payload is the image, and a view can point into it); then the
// payload's size.
template <model_configuration Config>
[[nodiscard]] status check_table(const unsigned char* bytes, const header& h, const file_extent& parts) noexcept {
    using table = image_table<Config>;
    using n = io::checked_size<>;
    if (h.config_hash != config_hash<Config>() || h.tensor_count != table::count) return status::config_mismatch;
    for (std::size_t i = 0; i < table::count; ++i) {
        const table_entry e = parse_entry(bytes, i);
        const auto& want = table::entries[i];
        if (e.kind != want.kind || e.layer != want.layer || e.dtype != want.dtype || e.layout != want.layout)
            return status::config_mismatch;
        const n offset = n::from_field(e.offset), tensor_bytes = n::from_field(e.bytes);
        if (!offset.ok() || !tensor_bytes.ok()) return status::size_overflow;
        if (tensor_bytes.value() != want.bytes) return status::config_mismatch;
        if (offset.value() != want.offset) return status::format_error;
    }
    if (parts.payload_bytes != table::payload_bytes) return status::format_error;
    return status::ok;
}

// One pass over the payload: CRC-32 of its bytes and the finite test of the float image's words
// (tensor floats, Q8 scales and zero padding alike, exponent all ones is inf or NaN), 4 bytes per
// step; the code image after it (float_bytes on) gets the CRC only.
[[nodiscard]] inline status check_payload(const unsigned char* payload, std::size_t payload_bytes,
                                          std::size_t float_bytes, std::uint32_t want_crc) noexcept {
    std::uint32_t crc = ~std::uint32_t(0), non_finite = 0;
    for (std::size_t at = 0; at < float_bytes; at += 4) {
        const std::uint32_t word = io::read_u32_le(payload + at);
        non_finite |= std::uint32_t((word & 0x7f800000u) == 0x7f800000u);
        crc = io::crc32_step(crc, payload[at]);
        crc = io::crc32_step(crc, payload[at + 1]);
        crc = io::crc32_step(crc, payload[at + 2]);
        crc = io::crc32_step(crc, payload[at + 3]);
    }
    for (std::size_t at = float_bytes; at < payload_bytes; ++at) crc = io::crc32_step(crc, payload[at]);
    if (~crc != want_crc) return status::checksum_mismatch;
    if (non_finite != 0) return status::non_finite;
    return status::ok;
}

// Every Q8 scale (finite already: it is in the float image) must be positive, or zero over a group
// of zero codes (the quantizer's all-zero group): a negative scale, or a zero one under non-zero
// codes, is no quantizer's output (format_error). O(scales + codes) over the table's Q8 pairs.
template <model_configuration Config>
[[nodiscard]] status check_scales(const unsigned char* payload) noexcept {
    using table = image_table<Config>;
    for (std::size_t i = 0; i < table::count; ++i) {
        const auto& e = table::entries[i];
        if (e.layout != layout_q8_scales) continue;
        const unsigned char* scales = payload + e.offset;
        const unsigned char* codes = payload + table::entries[i + 1].offset;
        for (std::size_t g = 0; g < e.floats; ++g) {
            const float scale = io::read_f32_le(scales + 4 * g);
            if (scale > 0.0f) continue;
            if (scale < 0.0f) return status::format_error;
            for (std::size_t c = g * e.group; c < (g + 1) * e.group; ++c)
                if (codes[c] != 0) return status::format_error;
        }
    }
    return status::ok;
}

}  // namespace detail

/// Checks a whole blob, bytes[0, size), against Config; on ok fills `out`, otherwise leaves it
/// untouched and names the first failure:
///   invalid_argument   bytes is null                 truncated        size < what the header says
///   bad_magic          not "CTATTNWB"                bad_version      version != format_version
///   size_overflow      header sizes overflow size_t  format_error     bytes after the file, table
///   checksum_mismatch  header+table or payload CRC                    or tensors out of place
///   config_mismatch    configuration hash, tensor count, kinds, layers, sizes or types differ
///   non_finite         a payload float (a weight or a Q8 scale) is NaN or +-inf
///   format_error       also: a Q8 scale that is negative, or zero over non-zero codes
/// The header and table checks are O(tensors); the payload costs one pass (CRC32 and the finite
/// test fused, docs/formats.md has the cost).
template <model_configuration Config>
[[nodiscard]] status validate(const unsigned char* bytes, std::size_t size, validated<Config>& out) noexcept {
    static_assert(
        [] {
            for (const auto& e : image_table<Config>::entries)
                if (e.kind == 0) return false;
            return true;
        }(),
        "ctattn: the configuration has a tensor with no blob kind; add its name to blob::tensor_names");
    if (bytes == nullptr) return status::invalid_argument;
    if (size < header_bytes) return status::truncated;
    const header h = parse_header(bytes);
    detail::file_extent parts;
    status s = detail::check_header_constants(h);
    if (s == status::ok) s = detail::locate_parts(h, parts);
    if (s == status::ok) s = detail::check_file_size(size, parts);
    if (s == status::ok) s = detail::check_header_crc(bytes, h, parts);
    if (s == status::ok) s = detail::check_table<Config>(bytes, h, parts);
    if (s == status::ok)
        s = detail::check_payload(bytes + parts.payload_offset, parts.payload_bytes, image_table<Config>::float_bytes,
                                  h.payload_crc32);
    if constexpr (weight_format_of<Config>::quantized)
        if (s == status::ok) s = detail::check_scales<Config>(bytes + parts.payload_offset);
    if (s != status::ok) return s;
    out.payload = bytes + parts.payload_offset;
    return status::ok;
}

namespace detail {
inline void copy_floats(float* dst, const unsigned char* src, std::size_t n) noexcept {
    for (std::size_t i = 0; i < n; ++i) dst[i] = io::read_f32_le(src + 4 * i);
}
}  // namespace detail

/// Validates, then copies every tensor into w (w untouched unless the result is ok): weights in RAM.
template <model_configuration Config>
[[nodiscard]] status load(const unsigned char* bytes, std::size_t size, model_weights<Config>& w) noexcept {
    validated<Config> v;
    if (const status s = validate<Config>(bytes, size, v); s != status::ok) return s;
    std::size_t i = 0;
    for_each_tensor(w, [&](auto& t, const char*, std::size_t) {
        using tensor = std::remove_cvref_t<decltype(t)>;
        if constexpr (q8_projection_matrix<tensor>) {
            detail::copy_floats(t.scales, v.tensor(i), tensor::scale_count);
            const unsigned char* codes = v.tensor(i + 1);
            for (std::size_t c = 0; c < tensor::code_count; ++c) t.codes[c] = static_cast<std::int8_t>(codes[c]);
            i += 2;
        } else {
            detail::copy_floats(t.data(), v.tensor(i), image_table<Config>::entries[i].floats);
            ++i;
        }
    });
    return status::ok;
}

/// Validates, then points `weights` into the blob's payload: no copy, the blob must outlive the
/// view (and any decoder attached to it). status::misaligned when the payload is not float-aligned
/// in memory (a blob placed at a 64-byte boundary has every tensor on a cache line). The floats
/// are read in place, so this needs a little-endian target (every Arm Cortex-M and x86 is).
template <model_configuration Config>
[[nodiscard]] status view(const unsigned char* bytes, std::size_t size, model_weights_view<Config>& weights) noexcept {
    static_assert(std::endian::native == std::endian::little,
                  "ctattn: blob::view reads little-endian floats in place; use blob::load on this target");
    validated<Config> v;
    if (const status s = validate<Config>(bytes, size, v); s != status::ok) return s;
    if (reinterpret_cast<std::uintptr_t>(v.payload) % alignof(float) != 0) return status::misaligned;
    // The payload's bytes are the weights image; the kernels read them as floats. Through void*:
    // the alignment was checked just above, which -Wcast-align (strict-alignment cores) cannot see.
    // A quantized format's code image follows the float image (a multiple of 64 bytes long).
    weights = make_weights_view<Config>(static_cast<const float*>(static_cast<const void*>(v.payload)),
                                        static_cast<const std::int8_t*>(static_cast<const void*>(
                                            v.payload + image_table<Config>::float_bytes)));
    return status::ok;
}

}  // namespace ctattn::blob
