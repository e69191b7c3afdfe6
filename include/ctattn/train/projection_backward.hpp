// SPDX-License-Identifier: Apache-2.0
// Backward of a projection y = x W + b over rows (x: rows x Din, W: Din x Dout, the x @ W
// convention of kernels::project):
//   dx = dy W^T        dW += x^T dy        db += sum_rows dy
// dx is one dot product of a dy row with a W row per element (W rows are contiguous); dW is an
// outer-product update per row, contiguous along Dout so the compiler vectorises it.
#pragma once

#include "../base/language_check.hpp"  // first: under an older -std the first error names C++20

#include <cstddef>

#include "../kernels/scores.hpp"
#include "../simd/ops.hpp"

namespace ctattn::train {

// dx (rows x Din, row stride DxStride) = dy W^T, or += when `accumulate`.
template <std::size_t Din, std::size_t Dout, class Arch = simd::default_arch, std::size_t DxStride = Din>
inline void projection_input_gradient(std::size_t rows, const float* dy, const float* w, float* dx,
                                      bool accumulate) noexcept {
    for (std::size_t r = 0; r < rows; ++r) {
        const float* dy_row = dy + r * Dout;
        float* dx_row = dx + r * DxStride;
        for (std::size_t i = 0; i < Din; ++i) {
            const float g = kernels::dot<Dout, Arch>(dy_row, w + i * Dout);
            dx_row[i] = accumulate ? dx_row[i] + g : g;
        }
    }
}

// dW (Din x Dout) += x^T dy; db (Dout) += column sums of dy when db is not null.
template <std::size_t Din, std::size_t Dout, std::size_t XStride = Din>
inline void projection_weight_gradient(std::size_t rows, const float* x, const float* dy, float* dw,
                                       float* db) noexcept {
    for (std::size_t r = 0; r < rows; ++r) {
        const float* x_row = x + r * XStride;
        const float* dy_row = dy + r * Dout;
        for (std::size_t i = 0; i < Din; ++i) {
            const float xi = x_row[i];
            float* dw_row = dw + i * Dout;
            for (std::size_t j = 0; j < Dout; ++j) dw_row[j] += xi * dy_row[j];
        }
        if (db)
            for (std::size_t j = 0; j < Dout; ++j) db[j] += dy_row[j];
    }
}

}  // namespace ctattn::train
