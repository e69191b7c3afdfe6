// SPDX-License-Identifier: Apache-2.0
// How far the scalar kernel's integer int8 passes (kernels/decode/scalar_heads.hpp, and Helium's
// simd/kv_mve.hpp, which compute the same numbers) may be from a double reference over the stored
// rows, for one query head, bounded from their two int16 roundings:
//  - the query: the pre-scaled query qs = q score_scale log2(e) as int16 codes of step
//    r = max|qs| / 32767, each within r / 2, moves key j's base-2 score by at most
//    delta_j = (r / 2) s_j sum_d |e_j[d]| (e_j the key's codes, s_j its scale); scores moved by at
//    most delta move each softmax weight by a factor within 2^(+-2 delta), so an output element
//    by at most (2^(2 delta) - 1) max_j |v_j[d]|;
//  - the weights: W_j = round(w_j s_j U / S) (S the largest value scale in the run, U = 32767 up
//    to 516 keys, w_j <= 1 with sum_j w_j >= 1), each within 1/2, move
//    sum_j w_j v_j[d] / sum_j w_j by at most (S / 32767) (1/2) sum_j |e_j[d]|.
// The float steps around them (a score's product, the output's scaling: relative 2^-24 each) are
// left to the caller's float bound, which this adds to.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstddef>

#include <ctattn/simd/math.hpp>

namespace ctattn_test {

struct int8_passes_bound {
    double delta = 0.0;            // the largest delta_j over the run
    double value_scale_max = 0.0;  // S
    std::size_t begin, end;

    // q: the head's query (head_dim floats); key_code(j, d), key_scale(j), value_scale(j): the
    // stored rows of keys [begin, end).
    template <class KeyCode, class KeyScale, class ValueScale>
    int8_passes_bound(const float* q, std::size_t head_dim, float score_scale, std::size_t begin_, std::size_t end_,
                      KeyCode key_code, KeyScale key_scale, ValueScale value_scale)
        : begin(begin_), end(end_) {
        double q_max = 0.0;
        for (std::size_t d = 0; d < head_dim; ++d)
            q_max = std::max(q_max, std::abs(double(q[d] * (score_scale * ctattn::simd::log2_e))));
        for (std::size_t j = begin; j < end; ++j) {
            double codes = 0.0;
            for (std::size_t d = 0; d < head_dim; ++d) codes += std::abs(double(key_code(j, d)));
            delta = std::max(delta, q_max / 32767.0 / 2.0 * double(key_scale(j)) * codes);
            value_scale_max = std::max(value_scale_max, double(value_scale(j)));
        }
    }

    // The bound for output element d: value_code(j, d) the stored code, value(j, d) the value it
    // stands for (code times scale).
    template <class ValueCode, class Value>
    double at(std::size_t d, ValueCode value_code, Value value) const {
        double v_max = 0.0, codes = 0.0;
        for (std::size_t j = begin; j < end; ++j) {
            v_max = std::max(v_max, std::abs(double(value(j, d))));
            codes += std::abs(double(value_code(j, d)));
        }
        return (std::exp2(2.0 * delta) - 1.0) * v_max + value_scale_max / 32767.0 / 2.0 * codes;
    }
};

}  // namespace ctattn_test
