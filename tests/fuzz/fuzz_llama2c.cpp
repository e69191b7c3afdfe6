// SPDX-License-Identifier: Apache-2.0
// libFuzzer target: llama2c::load on arbitrary bytes, into the tiny llama configuration
// (tests/support/tiny_llama.hpp) so that mutations of the seed checkpoint stay near valid files.
// Besides AddressSanitizer/UBSan finding over-reads, the target checks the loader's contract and
// aborts on a breach: a result of ok only for a buffer of exactly checkpoint_size() bytes with a
// matching header and finite weights; weights untouched on any failure.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <cstring>

#include "../support/tiny_llama.hpp"

namespace {
ctattn::model_weights<tiny_llama::config> weights;
ctattn::model_weights<tiny_llama::config> pristine;
}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    using namespace ctattn;
    std::memset(static_cast<void*>(&weights), 0x5a, sizeof weights);
    std::memset(static_cast<void*>(&pristine), 0x5a, sizeof pristine);
    // An empty input has data == nullptr in some drivers: that is the null-pointer path.
    const status s = llama2c::load<tiny_llama::config>(data, size, weights);

    llama2c::header h;
    const bool has_header = data != nullptr && llama2c::read_header(data, size, h) == status::ok;
    std::size_t expected = 0;
    const bool sized = has_header && llama2c::checkpoint_size(h, expected) == status::ok;
    if (s == status::ok) {
        if (!sized || expected != size || !llama2c::matches<tiny_llama::config>(h)) std::abort();
        if (!llama2c::all_finite(data + llama2c::header_bytes, (size - llama2c::header_bytes) / 4)) std::abort();
    } else if (std::memcmp(&weights, &pristine, sizeof weights) != 0) {
        std::abort();  // a failed load wrote to the weights
    }
    // The 32-bit computation agrees with the 64-bit one wherever it does not overflow.
    if (has_header) {
        std::uint32_t narrow = 0;
        std::uint64_t wide = 0;
        const status s32 = llama2c::checkpoint_size<std::uint32_t>(h, narrow);
        const status s64 = llama2c::checkpoint_size<std::uint64_t>(h, wide);
        if (s32 == status::ok && (s64 != status::ok || wide != narrow)) std::abort();
        if (s64 != status::ok && s32 == status::ok) std::abort();
    }
    return 0;
}
