# SPDX-License-Identifier: Apache-2.0
"""llama2.c checkpoints and ctattn's weights image, for the tools that turn one into the other
(tools/ctattn_gen.py: the flash weights header; tools/ctattn_blob.py: the validated blob).
Standard library only.

A legacy (version 0) llama2.c checkpoint is 7 little-endian int32 (dim, hidden_dim, n_layers,
n_heads, n_kv_heads, vocab_size, seq_len; vocab_size < 0: an untied classifier follows) then
float32 tensors in LLAMA2C_ORDER, matrices (out, in) row-major because llama2.c computes W.x.
The weights image (include/ctattn/model/weights_image.hpp) holds every tensor in image_order(),
ctattn::for_each_tensor's canonical order, matrices (in, out) for ctattn's x @ W kernels.

    header = checkpoint.read_header(data)            # dict; CheckpointError when unsound
    tensors = checkpoint.read_tensors(data, header)  # {(name, layer or None): array('f') in (in, out)}
    checkpoint.image_order(checkpoint.llama_config(header))   # [(name, layer, rows, cols)]
"""
import array
import struct
import sys

HEADER_BYTES = 7 * 4


class CheckpointError(ValueError):
    pass


# ---- the header ---------------------------------------------------------------------------------

def header_fields(data):
    """The 7 int32 of the header as read (dim, hidden_dim, n_layers, n_heads, n_kv_heads,
    vocab_size, seq_len), unchecked; CheckpointError when data is shorter than a header."""
    if len(data) < HEADER_BYTES:
        raise CheckpointError("shorter than a llama2.c header")
    return struct.unpack_from("<7i", data, 0)


def read_header(data):
    """The header as a dict, its fields checked as include/ctattn/io/llama2c.hpp's check_header
    does: counts positive, heads dividing dim, kv heads dividing heads. vocab_size is the count
    (positive); tied says whether the classifier is the embedding."""
    dim, hidden, layers, heads, kv_heads, vocab, seq_len = header_fields(data)
    if min(dim, hidden, layers, heads, kv_heads, seq_len) <= 0 or vocab == 0:
        raise CheckpointError("header fields must be positive")
    if dim % heads or kv_heads > heads or heads % kv_heads:
        raise CheckpointError("heads must divide dim and kv_heads must divide heads")
    return header_dict((dim, hidden, layers, heads, kv_heads, vocab, seq_len))


def header_dict(fields):
    """The 7 header fields as read_header's dict, unchecked (for a caller that checks them its
    own way, e.g. against a model description)."""
    dim, hidden, layers, heads, kv_heads, vocab, seq_len = fields
    return {"dim": dim, "hidden_dim": hidden, "n_layers": layers, "n_heads": heads, "n_kv_heads": kv_heads,
            "vocab_size": abs(vocab), "tied": vocab > 0, "seq_len": seq_len}


# ---- the one tensor order of a checkpoint ------------------------------------------------------

def llama2c_order(h):
    """[(name, layer or None, file shape)] in the checkpoint's order: the embedding, each per-layer
    kind stacked over the layers, the final norm, the RoPE tables (name None: ctattn computes RoPE
    and skips them), the untied classifier. File shape: (n,) for a vector, (out, in) for a matrix."""
    d, f, v = h["dim"], h["hidden_dim"], h["vocab_size"]
    head_dim = d // h["n_heads"]
    kv_dim = h["n_kv_heads"] * head_dim
    per_layer = [("attention_norm.gain", (d,)), ("attention.wq", (d, d)), ("attention.wk", (kv_dim, d)),
                 ("attention.wv", (kv_dim, d)), ("attention.wo", (d, d)), ("ffn_norm.gain", (d,)),
                 ("ffn.w1", (f, d)), ("ffn.w2", (d, f)), ("ffn.w3", (f, d))]
    order = [("embedding", None, (v * d,))]
    order += [(name, layer, shape) for name, shape in per_layer for layer in range(h["n_layers"])]
    order.append(("final_norm.gain", None, (d,)))
    order.append((None, None, (2 * h["seq_len"] * (head_dim // 2),)))  # freq_cis_real, freq_cis_imag
    if not h["tied"]:
        order.append(("head.w_out", None, (v, d)))
    return order


def checkpoint_floats(h):
    """Floats after the header that a checkpoint with header h holds."""
    total = 0
    for _, _, shape in llama2c_order(h):
        count = 1
        for extent in shape:
            count *= extent
        total += count
    return total


def transpose(values, rows, cols):
    """(rows, cols) row-major -> (cols, rows) row-major."""
    out = array.array("f")
    for c in range(cols):
        out.extend(values[c::cols])
    return out


def file_floats(data):
    """Every whole float32 after the header, in file order, as array('f')."""
    floats = array.array("f")
    floats.frombytes(bytes(data[HEADER_BYTES:HEADER_BYTES + (len(data) - HEADER_BYTES) // 4 * 4]))
    if sys.byteorder != "little":
        floats.byteswap()
    return floats


def read_tensors(data, h):
    """{(name, layer or None): array('f')} of every tensor, matrices transposed to (in, out).
    CheckpointError when the file is shorter or longer than its header implies."""
    floats = file_floats(data)
    tensors, at = {}, 0
    for name, layer, shape in llama2c_order(h):
        count = shape[0] * (shape[1] if len(shape) == 2 else 1)
        if at + count > len(floats):
            raise CheckpointError("checkpoint truncated")
        chunk = floats[at:at + count]
        at += count
        if name is not None:
            tensors[(name, layer)] = transpose(chunk, shape[0], shape[1]) if len(shape) == 2 else chunk
    if at != len(floats) or (len(data) - HEADER_BYTES) % 4:
        raise CheckpointError("checkpoint has bytes after its last tensor")
    return tensors


# ---- the weights image's order ------------------------------------------------------------------

def llama_config(h):
    """The model description (configs/*.json's shape, after tools/ctattn_gen.py's load_config) of
    the llama model a checkpoint header describes."""
    block = {"attention": {"d_model": h["dim"], "heads": h["n_heads"], "kv_heads": h["n_kv_heads"], "bias": False},
             "ffn": {"kind": "gated", "activation": "silu", "bias": False, "d_ff": h["hidden_dim"]},
             "norm": {"kind": "rms_norm"}, "placement": "pre_norm"}
    return {"vocab": h["vocab_size"], "seq_capacity": h["seq_len"], "position": {"kind": "rotary"},
            "final_norm": {"kind": "rms_norm"}, "head": {"kind": "tied" if h["tied"] else "untied", "bias": False},
            "block_list": [block] * h["n_layers"]}


def image_order(cfg):
    """[(name, layer or None, rows, cols)] of a model description in the canonical order of
    ctattn::for_each_tensor (the weights image and the blob's table), matrices as (in, out)."""
    d = cfg['block_list'][0]['attention']['d_model']
    v, s = cfg['vocab'], cfg['seq_capacity']
    out = [('embedding', None, v, d)]
    if cfg['position']['kind'] == 'learned':
        out.append(('positions', None, s, d))

    def norm(prefix, n, layer):
        if n['kind'] in ('rms_norm', 'layer_norm'):
            out.append((prefix + '.gain', layer, 1, d))
        if n['kind'] == 'layer_norm':
            out.append((prefix + '.bias', layer, 1, d))

    for layer, block in enumerate(cfg['block_list']):
        a, f = block['attention'], block['ffn']
        kv = a['kv_heads'] * (d // a['heads'])
        ff = f['d_ff']
        norm('attention_norm', block['norm'], layer)
        out += [('attention.wq', layer, d, d), ('attention.wk', layer, d, kv), ('attention.wv', layer, d, kv),
                ('attention.wo', layer, d, d)]
        if a['bias']:
            out += [('attention.bq', layer, 1, d), ('attention.bk', layer, 1, kv), ('attention.bv', layer, 1, kv),
                    ('attention.bo', layer, 1, d)]
        norm('ffn_norm', block['norm'], layer)
        gated = f['kind'] == 'gated'
        out.append(('ffn.w1', layer, d, ff))
        if gated:
            out.append(('ffn.w3', layer, d, ff))
        out.append(('ffn.w2', layer, ff, d))
        if f.get('bias', False):
            out.append(('ffn.b1', layer, 1, ff))
            if gated:
                out.append(('ffn.b3', layer, 1, ff))
            out.append(('ffn.b2', layer, 1, d))
    norm('final_norm', cfg['final_norm'], None)
    if cfg['head']['kind'] != 'tied':
        out.append(('head.w_out', None, d, v))
        if cfg['head'].get('bias', False):
            out.append(('head.b_out', None, 1, v))
    return out
