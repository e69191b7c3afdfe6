// Kernels against the double-precision reference: projection, scores, softmax, aggregation.
#include <catch2/catch.hpp>

#include <ctattn/ctattn.hpp>

#include <cmath>
#include <random>

#include "reference.hpp"

namespace {
template <std::size_t Din, std::size_t Dout, class Arch>
void check_projection(std::size_t rows) {
    std::mt19937 rng(Din * 131 + Dout);
    std::uniform_real_distribution<float> dist(-1.0f, 1.0f);
    std::vector<float> x(rows * Din), w(Din * Dout), b(Dout), y(rows * Dout);
    for (auto& v : x) v = dist(rng);
    for (auto& v : w) v = dist(rng);
    for (auto& v : b) v = dist(rng);
    ctattn::kernels::project<Din, Dout, Arch>(rows, x.data(), w.data(), b.data(), y.data());
    const ctattn_test::ref::vec xd(x.begin(), x.end()), wd(w.begin(), w.end()), bd(b.begin(), b.end());
    const auto yd = ctattn_test::ref::matmul(xd, wd, &bd, rows, Din, Dout);
    // float accumulation of Din products of |.|<=1: error bound ~ Din * eps * sum|x w|.
    for (std::size_t i = 0; i < y.size(); ++i) REQUIRE(std::abs(y[i] - yd[i]) <= 1e-6 * (Din + 1) * 2);
}
}  // namespace

TEST_CASE("projection matches the double reference on awkward shapes", "[kernels][projection]") {
    check_projection<1, 1, ctattn::simd::default_arch>(1);
    check_projection<3, 5, ctattn::simd::default_arch>(7);
    check_projection<13, 17, ctattn::simd::default_arch>(5);
    check_projection<64, 64, ctattn::simd::default_arch>(13);
    check_projection<13, 17, ctattn::simd::scalar_arch>(5);
}
