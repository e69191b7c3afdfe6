// SPDX-License-Identifier: Apache-2.0
// Bad run-time input to multi_head_attention::forward returns a status and leaves the outputs
// untouched: key-padding valid length 0 or > seq_len -> invalid_mask, seq_len 0 or > capacity ->
// invalid_length, a null input or output -> invalid_argument. "Untouched" is checked byte for byte
// on y and the attention-weights readout, both pre-filled with a sentinel pattern; a good call on
// the same buffers afterwards proves the check would see a write.
#include <catch2/catch.hpp>

#include <ctattn/ctattn.hpp>

#include <cstring>
#include <memory>
#include <vector>

#include "../support/attention_fixture.hpp"

namespace {

constexpr unsigned char sentinel_byte = 0xA5;

template <class Config, class Arch = ctattn::simd::default_arch>
struct forward_fixture {
    using mha = ctattn::multi_head_attention<Config, Arch>;
    static constexpr std::size_t S = Config::seq_capacity, D = Config::d_model;

    std::unique_ptr<typename mha::weights_type> w = ctattn_test::random_weights<Config>(21);
    std::vector<float> x = ctattn_test::random_input<Config>(S + 1, 22);  // one row more than capacity
    std::vector<float> y = std::vector<float>((S + 1) * D);
    std::unique_ptr<typename mha::workspace_type> ws = std::make_unique<typename mha::workspace_type>();
    std::unique_ptr<typename mha::readout_type> readout = std::make_unique<typename mha::readout_type>();

    void fill_outputs() {
        std::memset(y.data(), sentinel_byte, y.size() * sizeof(float));
        std::memset(readout->data(), sentinel_byte, sizeof(typename mha::readout_type));
    }
    static bool all_sentinel(const void* p, std::size_t bytes) {
        const auto* b = static_cast<const unsigned char*>(p);
        for (std::size_t i = 0; i < bytes; ++i)
            if (b[i] != sentinel_byte) return false;
        return true;
    }
    bool outputs_untouched() const {
        return all_sentinel(y.data(), y.size() * sizeof(float)) &&
               all_sentinel(readout->data(), sizeof(typename mha::readout_type));
    }
    // Runs forward on freshly filled outputs; returns its status and whether the outputs survived.
    std::pair<ctattn::status, bool> call(const float* x_ptr, std::size_t seq_len, float* y_ptr,
                                         const typename mha::mask_params& mask = {}) {
        fill_outputs();
        const ctattn::status s = mha::forward(*w, x_ptr, seq_len, y_ptr, *ws, mask, readout.get());
        return {s, outputs_untouched()};
    }
};

}  // namespace

TEST_CASE("key-padding valid length 0 or beyond seq_len is invalid_mask and leaves y and the readout untouched",
          "[errors]") {
    using config = ctattn::attention_config<24, 6, 2, 9, ctattn::with_bias, ctattn::key_padding_mask>;
    forward_fixture<config> f;
    for (std::size_t seq_len : {1, 4, 9}) {
        INFO("seq_len " << seq_len);
        for (std::size_t valid : {std::size_t(0), seq_len + 1, std::size_t(9) + 1, std::size_t(1000)}) {
            INFO("valid_len " << valid);
            const auto [s, untouched] = f.call(f.x.data(), seq_len, f.y.data(), {valid});
            CHECK(s == ctattn::status::invalid_mask);
            CHECK(untouched);
        }
        // The boundary values are accepted, and do write (so the checks above can see a write).
        for (std::size_t valid : {std::size_t(1), seq_len}) {
            const auto [s, untouched] = f.call(f.x.data(), seq_len, f.y.data(), {valid});
            CHECK(s == ctattn::status::ok);
            CHECK_FALSE(untouched);
        }
    }
}

TEST_CASE("seq_len 0 or beyond the capacity is invalid_length and leaves y and the readout untouched", "[errors]") {
    using config = ctattn::attention_config<12, 3, 3, 5, ctattn::no_bias, ctattn::causal_mask>;
    forward_fixture<config> f;
    for (std::size_t seq_len : {std::size_t(0), std::size_t(6), std::size_t(1) << 40}) {
        INFO("seq_len " << seq_len);
        const auto [s, untouched] = f.call(f.x.data(), seq_len, f.y.data());
        CHECK(s == ctattn::status::invalid_length);
        CHECK(untouched);
    }
    // Key padding too: the length is checked whatever the mask.
    using padded = ctattn::attention_config<12, 3, 1, 5, ctattn::with_bias, ctattn::key_padding_mask>;
    forward_fixture<padded> g;
    for (std::size_t seq_len : {std::size_t(0), std::size_t(6)}) {
        const auto [s, untouched] = g.call(g.x.data(), seq_len, g.y.data(), {1});
        CHECK(s == ctattn::status::invalid_length);
        CHECK(untouched);
    }
    const auto [s, untouched] = f.call(f.x.data(), 5, f.y.data());
    CHECK(s == ctattn::status::ok);
    CHECK_FALSE(untouched);
}

TEST_CASE("a null input or output pointer is invalid_argument and leaves the outputs untouched", "[errors]") {
    using config = ctattn::attention_config<12, 3, 3, 5, ctattn::no_bias, ctattn::causal_mask>;
    forward_fixture<config> f;
    {
        const auto [s, untouched] = f.call(nullptr, 3, f.y.data());
        CHECK(s == ctattn::status::invalid_argument);
        CHECK(untouched);
    }
    {
        const auto [s, untouched] = f.call(f.x.data(), 3, nullptr);
        CHECK(s == ctattn::status::invalid_argument);
        CHECK(untouched);  // the readout in particular
    }
    {
        const auto [s, untouched] = f.call(nullptr, 3, nullptr);
        CHECK(s == ctattn::status::invalid_argument);
        CHECK(untouched);
    }
}

TEST_CASE("the same errors come back on the scalar path", "[errors]") {
    using config = ctattn::attention_config<12, 3, 3, 5, ctattn::with_bias, ctattn::key_padding_mask>;
    forward_fixture<config, ctattn::simd::scalar_arch> f;
    auto [s1, u1] = f.call(f.x.data(), 3, f.y.data(), {0});
    CHECK(s1 == ctattn::status::invalid_mask);
    CHECK(u1);
    auto [s2, u2] = f.call(f.x.data(), 3, f.y.data(), {4});
    CHECK(s2 == ctattn::status::invalid_mask);
    CHECK(u2);
    auto [s3, u3] = f.call(f.x.data(), 6, f.y.data(), {1});
    CHECK(s3 == ctattn::status::invalid_length);
    CHECK(u3);
    auto [s4, u4] = f.call(nullptr, 3, f.y.data(), {1});
    CHECK(s4 == ctattn::status::invalid_argument);
    CHECK(u4);
}

TEST_CASE("every status has a readable name", "[errors]") {
    using ctattn::status;
    for (status s : {status::ok, status::invalid_argument, status::invalid_length, status::invalid_mask,
                     status::invalid_token, status::cache_full, status::format_error}) {
        CHECK(std::strlen(ctattn::to_string(s)) > 0);
        CHECK(std::strcmp(ctattn::to_string(s), "unknown status") != 0);
    }
    CHECK(ctattn::is_ok(status::ok));
    CHECK_FALSE(ctattn::is_ok(status::invalid_mask));
}
