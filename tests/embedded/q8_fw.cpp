// SPDX-License-Identifier: Apache-2.0
// Firmware test: the Q8 row dot (simd/q8.hpp) on a Cortex-M core: the body q8.hpp dispatches to
// here (SXTB16 + SMLAD on cores with the DSP extension, the scalar body on the M3) and the scalar
// body, against 64-bit integer group sums and a double sum, at group sizes 4, 43, 64 and 172 with
// codes at the int8 edges (weights -128 and 127, activations +-127) and poison bytes after the row.
// Then, for tools/qemu_insn_count.c's marks, one call each of the scalar body, the dispatched body
// and a plain float dot of the same length, rows of 64 (G 64) and 172 (G 43, and G 172): the
// plugin's "ctattn-marks" line gives each call's exact instruction count (consecutive differences);
// last, q8_rows_dot over 4 such rows (G 43) and its check against q8_row_dot per row. Before the
// marks, the activations in the target's layout (q8_quantize_input, q8_input_rows_dot) against
// q8_quantize and q8_row_dot, bit for bit, on every path of the DSP body (4-row blocks of two and
// of more groups, single rows, rows beyond LDRD's reach, rows at an odd address).
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <initializer_list>

#include <ctattn/simd/q8.hpp>

#include "check.hpp"
#include "print.hpp"

#include "count_mark.hpp"  // ctattn_count_mark(), per architecture

namespace {

using namespace ctattn;

constexpr std::size_t max_row = 4 * 172, poison = 16;
std::int8_t w_row[max_row + poison];
std::int8_t x_row[max_row + poison];
float w_scales[20];
float x_scales[8];

std::uint32_t lcg = 12345u;
int next_code(int lo, int hi) {
    lcg = lcg * 1664525u + 1013904223u;
    return lo + static_cast<int>((lcg >> 8) % static_cast<std::uint32_t>(hi - lo + 1));
}

enum class codes { random, weights_min_acts_max, weights_min_acts_min, alternating };

template <std::size_t G>
void check_shape(embedded::checker& check, const char* what, std::size_t groups, codes kind, bool unit_scales) {
    const std::size_t n = groups * G;
    for (std::size_t i = 0; i < n + poison; ++i) {
        int wi = 127, xi = 127;  // past the row: poison
        if (i < n) switch (kind) {
            case codes::random: wi = next_code(-128, 127); xi = next_code(-127, 127); break;
            case codes::weights_min_acts_max: wi = -128; xi = 127; break;
            case codes::weights_min_acts_min: wi = -128; xi = -127; break;
            case codes::alternating: wi = (i % 2) ? -128 : 127; xi = (i % 3) ? -127 : 127; break;
            }
        w_row[i] = static_cast<std::int8_t>(wi);
        x_row[i] = static_cast<std::int8_t>(xi);
    }
    double reference = 0.0, magnitude = 0.0;
    for (std::size_t g = 0; g < groups; ++g) {
        w_scales[g] = unit_scales ? 1.0f : 0.001f * static_cast<float>(next_code(1, 4000));
        x_scales[g] = unit_scales ? 1.0f : 0.001f * static_cast<float>(next_code(1, 4000));
        std::int64_t acc = 0, acc_abs = 0;
        for (std::size_t i = 0; i < G; ++i) {
            const std::int64_t p = std::int64_t(w_row[g * G + i]) * std::int64_t(x_row[g * G + i]);
            acc += p;
            acc_abs += p < 0 ? -p : p;
        }
        reference += double(w_scales[g]) * double(x_scales[g]) * double(acc);
        magnitude += double(w_scales[g]) * double(x_scales[g]) * double(acc_abs);
    }
    // Unit scales: integers below 2^24 throughout, so exact. Otherwise one rounding per scale
    // product and per float addition over the groups, each within FLT_EPSILON of the magnitude.
    const double bound = unit_scales ? 0.0 : double(groups + 2) * 1.1920929e-7 * magnitude;
    const float got[2] = {simd::q8_row_dot<G>(w_row, w_scales, x_row, x_scales, groups),
                          simd::scalar_q8::row_dot<G>(w_row, w_scales, x_row, x_scales, groups)};
    double worst = 0.0, worst_ratio = 0.0;
    for (float y : got) {
        const double err = double(y) > reference ? double(y) - reference : reference - double(y);
        const double ratio = bound > 0.0 ? err / bound : (err == 0.0 ? 0.0 : 2.0);
        if (!(ratio <= worst_ratio)) {
            worst_ratio = ratio;
            worst = err;
        }
    }
    check.bounded(what, worst, worst_ratio);
}

template <std::size_t G>
void check_group_size(embedded::checker& check, const char* what) {
    for (std::size_t groups : {std::size_t(1), std::size_t(3)})
        for (codes kind : {codes::random, codes::weights_min_acts_max, codes::weights_min_acts_min, codes::alternating})
            for (bool unit : {true, false}) check_shape<G>(check, what, groups, kind, unit);
}

// Each measured call out of line, so the marks bracket exactly one call of one body.
template <std::size_t G>
[[gnu::noinline]] float dispatched_dot(std::size_t groups) {
    return simd::q8_row_dot<G>(w_row, w_scales, x_row, x_scales, groups);
}
template <std::size_t G>
[[gnu::noinline]] float scalar_dot(std::size_t groups) {
    return simd::scalar_q8::row_dot<G>(w_row, w_scales, x_row, x_scales, groups);
}
float float_w[172];
float float_x[172];
[[gnu::noinline]] float float_dot(std::size_t n) {
    float sum = 0.0f;
    for (std::size_t i = 0; i < n; ++i) sum += float_w[i] * float_x[i];
    return sum;
}

// q8_rows_dot over 4 rows (row stride 172 + 4 bytes of padding, scale stride 5) must give each
// row's q8_row_dot bit for bit.
template <std::size_t G>
void check_rows(embedded::checker& check, const char* what) {
    constexpr std::size_t R = 4, groups = 172 / G, stride = 172 + 4;
    static_assert(R * stride <= max_row + poison && R * 5 <= sizeof(w_scales) / sizeof(float));
    for (std::size_t i = 0; i < R * stride; ++i) w_row[i] = static_cast<std::int8_t>(i % 5 == 0 ? -128 : next_code(-128, 127));
    for (std::size_t i = 0; i < 172; ++i) x_row[i] = static_cast<std::int8_t>(next_code(-127, 127));
    for (std::size_t i = 0; i < R * 5; ++i) w_scales[i] = 0.001f * static_cast<float>(next_code(1, 4000));
    for (std::size_t g = 0; g < groups; ++g) x_scales[g] = 0.001f * static_cast<float>(next_code(1, 4000));
    float out[R];
    simd::q8_rows_dot<G, R>(w_row, stride, w_scales, 5, x_row, x_scales, groups, out);
    bool same = true;
    for (std::size_t r = 0; r < R; ++r)
        same = same && out[r] == simd::q8_row_dot<G>(w_row + r * stride, w_scales + r * 5, x_row, x_scales, groups);
    check.is_true(what, same);
}

// ---- activations in the target's layout (simd::q8_quantize_input, simd::q8_input_rows_dot): int8
// codes, or on the DSP body int16 pairs (q0, q2), (q1, q3) per 4 codes.

// Code i of a quantized input row, whatever its layout.
template <std::size_t G>
int input_code(const simd::q8_input_word<G>* xq, std::size_t i) {
    if constexpr (simd::q8_paired_input<G>) {
        const std::uint32_t word = xq[i / 4 * 2 + (i % 2)];  // (q0, q2) then (q1, q3)
        return static_cast<std::int16_t>(i % 4 < 2 ? word & 0xFFFFu : word >> 16);
    } else {
        return xq[i];
    }
}

constexpr std::size_t input_max = 352;
float input_x[input_max];
float padded_x[input_max];
alignas(8) simd::q8_input_word<32> input_q[input_max];
std::int8_t reference_q[input_max];
float input_s[input_max / 32], reference_s[input_max / 32];

// Count floats with ties, signed zeros, a zero group and a group whose scale is subnormal (its
// codes clamp at 127): q8_quantize_input must give q8_quantize's codes and scales of the
// zero-padded row, bit for bit.
template <std::size_t Count>
void check_quantize_input(embedded::checker& check, const char* what) {
    constexpr std::size_t G = 32, groups = (Count + G - 1) / G;
    for (std::size_t i = 0; i < Count; ++i) {
        const std::size_t g = i / G;
        float v = 0.01f * static_cast<float>(next_code(-20000, 20000));
        if (g == 1) v = (i % 3 == 0 ? -0.25f : 0.25f) * static_cast<float>(2 * (i % 7) + 1);  // (k + 1/2) * scale
        if (g == 2) v = i % 2 ? -0.0f : 0.0f;
        if (g == 3) v = 1.0e-45f * static_cast<float>(next_code(-150, 150));  // subnormal scale
        input_x[i] = v;
    }
    if (Count > G) input_x[G] = 127.0f * 0.5f;  // group 1's maximum: scale 0.5, codes at exact halves
    for (std::size_t i = 0; i < groups * G; ++i) padded_x[i] = i < Count ? input_x[i] : 0.0f;
    simd::q8_quantize<G>(padded_x, groups, reference_q, reference_s);
    for (std::size_t i = 0; i < groups * G; ++i) input_q[i] = simd::q8_input_word<G>(0x55);  // poison
    simd::q8_quantize_input<G, Count>(input_x, input_q, input_s);
    bool same = true;
    for (std::size_t g = 0; g < groups; ++g) same = same && std::memcmp(&input_s[g], &reference_s[g], 4) == 0;
    for (std::size_t i = 0; i < groups * G; ++i) same = same && input_code<G>(input_q, i) == reference_q[i];
    check.is_true(what, same);
}

alignas(8) std::int8_t matrix[2048 + 8];
float matrix_scales[64];

// R rows of Codes codes RowStride apart (offset bytes past a word boundary) through
// q8_input_rows_dot must give q8_row_dot of each row against the int8 codes, bit for bit.
template <std::size_t R, std::size_t Codes, std::size_t RowStride>
void check_input_rows(embedded::checker& check, const char* what, std::size_t offset) {
    constexpr std::size_t G = 32, groups = (Codes + G - 1) / G, scales_per_row = RowStride / G;
    static_assert(R * RowStride <= 2048 && R * scales_per_row <= 64 && groups * G <= input_max);
    std::int8_t* w = matrix + offset;
    for (std::size_t r = 0; r < R; ++r)
        for (std::size_t i = 0; i < RowStride; ++i)
            w[r * RowStride + i] = static_cast<std::int8_t>(i >= Codes ? 0 : (i % 5 == 0 ? -128 : next_code(-128, 127)));
    for (std::size_t i = 0; i < R * scales_per_row; ++i) matrix_scales[i] = 0.001f * static_cast<float>(next_code(1, 4000));
    for (std::size_t i = 0; i < Codes; ++i) input_x[i] = 0.01f * static_cast<float>(next_code(-20000, 20000));
    for (std::size_t i = 0; i < groups * G; ++i) padded_x[i] = i < Codes ? input_x[i] : 0.0f;
    simd::q8_quantize<G>(padded_x, groups, reference_q, reference_s);
    simd::q8_quantize_input<G, Codes>(input_x, input_q, input_s);
    float out[R];
    simd::q8_input_rows_dot<G, R, Codes, RowStride>(w, matrix_scales, input_q, input_s, out);
    bool same = true;
    for (std::size_t r = 0; r < R; ++r) {
        const float one = simd::q8_row_dot<G>(w + r * RowStride, matrix_scales + r * scales_per_row, reference_q,
                                              reference_s, groups);
        same = same && std::memcmp(&out[r], &one, 4) == 0;
    }
    check.is_true(what, same);
}

template <std::size_t G>
[[gnu::noinline]] void dispatched_rows_4(std::size_t groups, float* out) {
    simd::q8_rows_dot<G, 4>(w_row, groups * G, w_scales, groups, x_row, x_scales, groups, out);
}

volatile float sink;

}  // namespace

int firmware_main() {
    embedded::checker check;
    embedded::print("q8 body: ", simd::target::q8_arm_dsp ? "arm_dsp (SXTB16 + SMLAD)" : "scalar", "\n");
    check_group_size<4>(check, "q8 row dot, G 4, groups 1 and 3, edge codes");
    check_group_size<43>(check, "q8 row dot, G 43, groups 1 and 3, edge codes");
    check_group_size<64>(check, "q8 row dot, G 64, groups 1 and 3, edge codes");
    check_group_size<172>(check, "q8 row dot, G 172, groups 1 and 3, edge codes");

    check_rows<43>(check, "q8_rows_dot, 4 rows of 4 groups of 43, equals q8_row_dot per row");
    check_rows<172>(check, "q8_rows_dot, 4 rows of 1 group of 172, equals q8_row_dot per row");
    check_quantize_input<172>(check, "q8_quantize_input of 172 (G 32) gives q8_quantize's codes and scales");
    check_quantize_input<64>(check, "q8_quantize_input of 64 (G 32) gives q8_quantize's codes and scales");
    check_quantize_input<130>(check, "q8_quantize_input of 130 (G 32) gives q8_quantize's codes and scales");
    check_input_rows<9, 64, 64>(check, "q8_input_rows_dot, 9 rows of 64 (two groups), equals q8_row_dot", 0);
    check_input_rows<7, 172, 192>(check, "q8_input_rows_dot, 7 rows of 172 padded to 192, equals q8_row_dot", 0);
    check_input_rows<6, 64, 96>(check, "q8_input_rows_dot, 6 rows of 64 padded to 96, equals q8_row_dot", 0);
    check_input_rows<5, 340, 352>(check, "q8_input_rows_dot, 5 rows of 340 (beyond LDRD's reach), equals q8_row_dot", 0);
    check_input_rows<5, 172, 192>(check, "q8_input_rows_dot, 5 rows at an odd address, equals q8_row_dot", 1);
    for (std::size_t i = 0; i < 172; ++i) {
        float_w[i] = 0.01f * static_cast<float>(next_code(-100, 100));
        float_x[i] = 0.01f * static_cast<float>(next_code(-100, 100));
    }
    // Marks: scalar, dispatched, float dot for a 64-wide row (G 64); the same for a 172-wide row
    // with G 43 (4 groups) and with G 172 (1 group, float dot not repeated).
    ctattn_count_mark();
    sink = scalar_dot<64>(1);
    ctattn_count_mark();
    sink = dispatched_dot<64>(1);
    ctattn_count_mark();
    sink = float_dot(64);
    ctattn_count_mark();
    sink = scalar_dot<43>(4);
    ctattn_count_mark();
    sink = dispatched_dot<43>(4);
    ctattn_count_mark();
    sink = float_dot(172);
    ctattn_count_mark();
    sink = scalar_dot<172>(1);
    ctattn_count_mark();
    sink = dispatched_dot<172>(1);
    ctattn_count_mark();
    float four[4];
    dispatched_rows_4<43>(4, four);  // 4 rows of 172 (G 43): compare with 4 x dispatched G43 x4
    ctattn_count_mark();
    sink = four[0] + four[3];
    return embedded::finish(check, "q8 row dot", 0, sizeof(w_row) + sizeof(x_row), 0);
}
