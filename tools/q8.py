#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""Q8 quantization exactly as ctattn's C++ does it (include/ctattn/simd/q8.hpp, kernels/q8_projection.hpp,
base/weight_format.hpp): the group rule, and the rounding of one group step for step in binary32, so
that tools/ctattn_gen.py's weights header and tools/ctattn_blob.py's blobs hold the very codes and
scales llama2c::load computes. Standard library only."""
import struct

# Tensors a quantized format stores as Q8 (the rest stay float): the projections and the embedding.
Q8_TENSORS = {'embedding', 'attention.wq', 'attention.wk', 'attention.wv', 'attention.wo', 'ffn.w1', 'ffn.w2',
              'ffn.w3', 'head.w_out'}
ALIGN_CODES = 64  # int8 codes of each tensor start at multiples of 64 bytes (weights_image.hpp)
DEFAULT_FORMAT = {'kind': 'q8', 'max_group': 32, 'min_group': 8}  # q8_weights<> = q8_group_rule<32, 8>


def q8_group(din, fmt):
    """q8_group_rule<max_group, min_group>::group<din>."""
    if din <= fmt['max_group']:
        return din
    g = 1
    while g * 2 <= fmt['max_group'] and din % (g * 2) == 0:
        g *= 2
    return g if g >= fmt['min_group'] else fmt['max_group']


def f32(x):
    """x rounded to binary32. One IEEE operation on binary32 operands done in binary64 and then
    rounded to binary32 gives the correctly rounded binary32 result (+, -, *, /), so f32(a / b)
    is C++'s float division."""
    return struct.unpack('<f', struct.pack('<f', x))[0]


def q8_quantize_group(values):
    """simd::q8_quantize of one group: (codes, scale), every step in binary32 as the C++ does it."""
    amax = 0.0
    for v in values:
        amax = max(amax, abs(v))
    scale = f32(amax / 127.0)
    if scale == 0.0:
        return [0] * len(values), scale
    codes = []
    for v in values:
        r = f32(v / scale)
        q = int(f32(r + (0.5 if r >= 0.0 else -0.5)))  # int() truncates toward zero, as the C++ cast
        codes.append(max(-127, min(127, q)))
    return codes, scale


def q8_rows(rows_of_inputs, din, fmt):
    """Q8 rows (each a list of din floats): (codes, scales) with rows padded by zeros to whole groups."""
    g = q8_group(din, fmt)
    row_codes = (din + g - 1) // g * g
    codes, scales = [], []
    for row in rows_of_inputs:
        padded_row = list(row) + [0.0] * (row_codes - din)
        for start in range(0, row_codes, g):
            c, s = q8_quantize_group(padded_row[start:start + g])
            codes += c
            scales.append(s)
    return codes, scales


def q8_tensor(name, rows, cols, values, fmt):
    """A tensor of the image order (x @ W orientation) as Q8: (codes, scales, group, din). The
    embedding (vocab, d_model) is quantized row by row; a projection (in, out) column by column."""
    if name == 'embedding':
        din, out_rows = cols, [values[r * cols:(r + 1) * cols] for r in range(rows)]
    else:
        din, out_rows = rows, [values[o::cols] for o in range(cols)]
    codes, scales = q8_rows(out_rows, din, fmt)
    return codes, scales, q8_group(din, fmt), din
