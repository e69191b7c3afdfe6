// SPDX-License-Identifier: Apache-2.0
// libFuzzer target: blob::validate, blob::load and blob::view (include/ctattn/io/blob.hpp) on arbitrary
// bytes, for the tiny llama configuration. Seeds are blobs that tools/ctattn_blob.py wrote from the
// tiny checkpoint, so mutations explore header, table and payload. A mutation almost never keeps
// the CRCs right, so each input is also tried "resealed": a copy whose two CRC fields are
// recomputed (where the header's sizes allow), which lets the fuzzer past the checksums into the
// table, size and finiteness checks. Checked besides memory safety:
// ok only for a buffer whose size is the header's file size, whose payload CRC matches and whose
// floats are all finite; a failed load leaves the weights untouched. The input is copied into an
// exactly sized heap block, so AddressSanitizer sees any read past its end.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <memory>

#include <ctattn/io/blob.hpp>

#include "../support/tiny_llama.hpp"

namespace {
ctattn::model_weights<tiny_llama::config> weights;
ctattn::model_weights<tiny_llama::config> pristine;

int check_one(const std::uint8_t* data, std::size_t size);

// The CRC fields of a copy recomputed over what the header points at, when that lies inside it.
void reseal(std::uint8_t* blob, std::size_t size) {
    using namespace ctattn::blob;
    if (size < header_bytes) return;
    const header h = parse_header(blob);
    const std::uint64_t table_end = header_bytes + std::uint64_t(h.tensor_count) * entry_bytes;
    const std::uint64_t payload_offset = h.payload_offset, payload_bytes = h.payload_bytes;
    auto put = [&](std::size_t at, std::uint32_t v) {
        for (int i = 0; i < 4; ++i) blob[at + i] = static_cast<std::uint8_t>(v >> (8 * i));
    };
    constexpr std::size_t payload_crc32_offset = header_crc32_offset - 4, after_crc = header_crc32_offset + 4;
    if (payload_offset <= size && payload_bytes <= size - payload_offset)
        put(payload_crc32_offset, crc32(blob + payload_offset, std::size_t(payload_bytes)));
    if (table_end <= size)
        put(header_crc32_offset,
            crc32_update(crc32(blob, header_crc32_offset), blob + after_crc, std::size_t(table_end - after_crc)));
}
}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    check_one(data, size);
    if (size >= ctattn::blob::header_bytes) {
        const std::unique_ptr<std::uint8_t[]> copy(new std::uint8_t[size]);
        std::memcpy(copy.get(), data, size);
        reseal(copy.get(), size);
        check_one(copy.get(), size);
    }
    return 0;
}

namespace {
int check_one(const std::uint8_t* data, std::size_t size) {
    using namespace ctattn;
    std::memset(static_cast<void*>(&weights), 0x5a, sizeof weights);
    std::memset(static_cast<void*>(&pristine), 0x5a, sizeof pristine);
    const status s = blob::load<tiny_llama::config>(data, size, weights);
    model_weights_view<tiny_llama::config> view{};
    const status v = blob::view<tiny_llama::config>(data, size, view);
    if (v != s && !(v == status::misaligned && s == status::ok)) std::abort();  // the same checks
    if (v == status::ok && reinterpret_cast<const std::uint8_t*>(view.embedding.data()) < data) std::abort();
    if (s != status::ok) {
        if (std::memcmp(&weights, &pristine, sizeof weights) != 0) std::abort();
        return 0;
    }
    // Independent restatement of what ok implies.
    if (size < blob::header_bytes) std::abort();
    const blob::header h = blob::parse_header(data);
    const std::uint64_t file_bytes = h.file_bytes, payload_offset = h.payload_offset, payload_bytes = h.payload_bytes;
    if (file_bytes != size || payload_offset + payload_bytes != size) std::abort();
    if (blob::crc32(data + payload_offset, std::size_t(payload_bytes)) != h.payload_crc32) std::abort();
    if (!llama2c::all_finite(data + payload_offset, std::size_t(payload_bytes / 4))) std::abort();
    return 0;
}
}  // namespace
