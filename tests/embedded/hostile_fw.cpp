// SPDX-License-Identifier: Apache-2.0
// Firmware test: hostile input on a 32-bit target, where size_t is 32 bits and a size computed from
// a file header can wrap. The same tiny llama model as tests/io (tests/support/tiny_llama.hpp):
//   - at compile time, in this target's size_t: the wrapping stories260K header, seq_len
//     512 + 2^27 is status::size_overflow (its unchecked size wrapped to exactly the stories size),
//     and a header of all INT_MAX too;
//   - at run time, on tests/fuzz/corpus/llama2c/tiny.bin (linked into flash): a checkpoint whose seq_len adds 2^32 bytes is size_overflow, not accepted (the
//     over-read this test reproduced before the fix), a NaN weight is non_finite, a truncated file
//     is truncated, and the weights stay untouched through all of them; the good file loads;
//   - a ctattn blob written by tools/ctattn_blob.py (linked into flash) loads to the same weights as
//     the checkpoint and is read in place by a view; blob headers whose 64-bit fields do not fit
//     size_t are size_overflow.
// firmware_main() returns the number of failures.
#include <cstddef>
#include <cstdint>
#include <cstring>

#include <ctattn/model/footprint.hpp>
#include <ctattn/io/blob.hpp>
#include <ctattn/text/tokenizer.hpp>

#include "../support/tiny_llama.hpp"
#include "check.hpp"
#include "print.hpp"

asm(".section .rodata.tiny_blob, \"a\"\n"
    ".balign 64\n"
    ".global tiny_blob_begin\n"
    "tiny_blob_begin:\n"
    ".incbin \"" CTATTN_TINY_BLOB_PATH "\"\n"
    ".global tiny_blob_end\n"
    "tiny_blob_end:\n"
    ".previous\n");
asm(".section .rodata.tiny_checkpoint, \"a\"\n"
    ".balign 4\n"
    ".global tiny_checkpoint_begin\n"
    "tiny_checkpoint_begin:\n"
    ".incbin \"" CTATTN_TINY_CHECKPOINT_PATH "\"\n"
    ".global tiny_checkpoint_end\n"
    "tiny_checkpoint_end:\n"
    ".previous\n");
extern "C" const unsigned char tiny_blob_begin[];
extern "C" const unsigned char tiny_blob_end[];
extern "C" const unsigned char tiny_checkpoint_begin[];
extern "C" const unsigned char tiny_checkpoint_end[];

namespace {

using namespace ctattn;
using llama2c::header;
static_assert(sizeof(std::size_t) == 4, "this firmware test is about 32-bit size_t");

constexpr status size_status(const header& h) {
    std::size_t bytes = 0;
    return llama2c::checkpoint_size(h, bytes);
}
static_assert(size_status(header{64, 172, 5, 8, 4, 512, 512}) == status::ok);
static_assert(llama2c::checkpoint_bytes(header{64, 172, 5, 8, 4, 512, 512}) == 1'056'540);
static_assert(size_status(header{64, 172, 5, 8, 4, 512, 512 + (1 << 27)}) == status::size_overflow,
              "the stories260K header with seq_len 512 + 2^27 wraps a 32-bit size_t to the stories size");
static_assert(size_status(header{0x7fffffff, 0x7fffffff, 0x7fffffff, 0x7fffffff, 0x7fffffff, 0x7fffffff,
                                 0x7fffffff}) == status::size_overflow);
static_assert(tokenizer_piece_bytes(0xffffffffu, 0x20000000u) == 0, "4 + 8 * 2^29 wraps 32 bits");

}  // namespace

alignas(64) unsigned char checkpoint_image[tiny_llama::checkpoint_bytes];
alignas(64) unsigned char edited[4096];  // the checkpoint (2,460 bytes) or the blob (2,752)
constinit model_weights<tiny_llama::config> hostile_weights{};
constinit model_weights<tiny_llama::config> reference_weights{};
constinit model_weights<tiny_llama::config> pristine_weights{};

namespace {

bool untouched() { return std::memcmp(&hostile_weights, &pristine_weights, sizeof hostile_weights) == 0; }

void put_u32(unsigned char* p, std::uint32_t v) {
    for (int i = 0; i < 4; ++i) p[i] = static_cast<unsigned char>(v >> (8 * i));
}
void put_u64(unsigned char* p, std::uint64_t v) {
    for (int i = 0; i < 8; ++i) p[i] = static_cast<unsigned char>(v >> (8 * i));
}
// The blob's header CRC after an edit of its header (the table is unchanged and in bounds).
void reseal_header(unsigned char* b) {
    const std::size_t table_end = blob::header_bytes + ctattn::io::read_u32_le(b + 24) * blob::entry_bytes;
    put_u32(b + 52, blob::crc32_update(blob::crc32(b, 52), b + 56, table_end - 56));
}

int run() {
    embedded::checker check;
    using cfg = tiny_llama::config;
    check.is_true("the checkpoint in flash has the tiny model's size",
                  std::size_t(tiny_checkpoint_end - tiny_checkpoint_begin) == tiny_llama::checkpoint_bytes);
    std::memcpy(checkpoint_image, tiny_checkpoint_begin, tiny_llama::checkpoint_bytes);
    std::memset(static_cast<void*>(&hostile_weights), 0x5a, sizeof hostile_weights);
    std::memset(static_cast<void*>(&pristine_weights), 0x5a, sizeof pristine_weights);
    std::memset(static_cast<void*>(&reference_weights), 0x5a, sizeof reference_weights);  // padding too, for memcmp
    const std::size_t n = tiny_llama::checkpoint_bytes;

    // seq_len 16 + 2^28: the RoPE tables grow by 2^32 bytes, so the unchecked size wrapped to n.
    std::memcpy(edited, checkpoint_image, n);
    header wrapping = tiny_llama::header;
    wrapping.seq_len = 16 + (1 << 28);
    tiny_llama::write_header(edited, wrapping);
    check.is_true("a header whose size wraps 32 bits is size_overflow",
                  llama2c::load<cfg>(edited, n, hostile_weights) == status::size_overflow);
    std::memcpy(edited, checkpoint_image, n);
    tiny_llama::write_header(edited, header{8, 12, 1, 1, 2, 5, 16});
    check.is_true("n_kv_heads > n_heads is bad_header", llama2c::load<cfg>(edited, n, hostile_weights) == status::bad_header);
    std::memcpy(edited, checkpoint_image, n);
    tiny_llama::write_f32(edited + n - 100, __builtin_nanf(""));
    check.is_true("a NaN weight is non_finite", llama2c::load<cfg>(edited, n, hostile_weights) == status::non_finite);
    check.is_true("a truncated checkpoint is truncated",
                  llama2c::load<cfg>(checkpoint_image, n - 1, hostile_weights) == status::truncated);
    check.is_true("the weights are untouched by every rejected file", untouched());
    check.is_true("the good checkpoint loads", llama2c::load<cfg>(checkpoint_image, n, reference_weights) == status::ok);

    // The blob of the same checkpoint (tools/ctattn_blob.py), read from flash.
    const std::size_t blob_bytes = static_cast<std::size_t>(tiny_blob_end - tiny_blob_begin);
    check.is_true("the blob fits the edit buffer", blob_bytes <= sizeof edited);
    if (blob_bytes <= sizeof edited) {
        std::memcpy(edited, tiny_blob_begin, blob_bytes);
        put_u64(edited + 56, std::uint64_t(1) << 32);  // file size 2^32: does not fit size_t
        reseal_header(edited);
        check.is_true("a blob file size of 2^32 is size_overflow",
                      blob::load<cfg>(edited, blob_bytes, hostile_weights) == status::size_overflow);
        std::memcpy(edited, tiny_blob_begin, blob_bytes);
        put_u64(edited + 32, 0xffffffc0u);  // payload offset + payload bytes wraps 32 bits
        put_u64(edited + 56, 0xffffffc0u + ctattn::io::read_u64_le(tiny_blob_begin + 40));
        reseal_header(edited);
        check.is_true("a blob payload end past 2^32 is size_overflow",
                      blob::load<cfg>(edited, blob_bytes, hostile_weights) == status::size_overflow);
        check.is_true("the weights are untouched by the rejected blobs", untouched());
    }
    check.is_true("the blob loads from flash", blob::load<cfg>(tiny_blob_begin, blob_bytes, hostile_weights) == status::ok);
    // Python transposed the blob's matrices, llama2c::load transposed the checkpoint's here.
    check.is_true("the blob's weights equal the checkpoint's, bit for bit",
                  std::memcmp(&hostile_weights, &reference_weights, sizeof hostile_weights) == 0);
    // In place from flash: the view points into the blob, its floats are the loaded ones.
    model_weights_view<cfg> in_flash{};
    check.is_true("a view over the blob in flash validates",
                  blob::view<cfg>(tiny_blob_begin, blob_bytes, in_flash) == status::ok);
    check.is_true("the view reads the blob in place, the same floats",
                  in_flash.embedding.data() >= reinterpret_cast<const float*>(tiny_blob_begin) &&
                      in_flash.embedding.data() < reinterpret_cast<const float*>(tiny_blob_end) &&
                      std::memcmp(in_flash.layer<0>().ffn.w2.data(), reference_weights.layer<0>().ffn.w2.data(),
                                  sizeof reference_weights.layer<0>().ffn.w2) == 0);

    return embedded::finish(check, "hostile input", footprint<cfg>::flash_bytes, footprint<cfg>::ram_bytes, 0);
}

}  // namespace

int firmware_main() { return run(); }
