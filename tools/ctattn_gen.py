#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""ctattn's generator: from a model description (configs/<name>.json, every template parameter of
the model) write generated/<name>/, the per-model C API that C firmware links:

    ctattn_<name>.h            C header (C99/C11 and C++): size macros, an opaque state struct of fixed
                               size and alignment, init/reset/prefill/decode_step/forward, a status enum
    ctattn_<name>_config.hpp   the C++ configuration type the description stands for
    ctattn_<name>.cpp          instantiates the templates for it and exports the C functions
    meson.build                a static library (and, when the checkpoint is there, a build step that
                               writes the weights header below from it)
and, from a checkpoint (llama2.c format), at build time:
    ctattn_<name>_weights.h    the weights as one `const` array (alignas 64) in the kernels' layout
                               (include/ctattn/model/weights_image.hpp), with the checkpoint's SHA-256;
                               with "weight_format": "q8" the projections and embedding are quantized
                               here (int8 codes in a second array, scales in the float one), rounded
                               exactly as ctattn's kernels::q8_quantize_row rounds them

    tools/ctattn_gen.py configs/stories260k.json                    # writes generated/stories260k/
    tools/ctattn_gen.py configs/stories260k.json --check            # fails if generated/ is stale
    tools/ctattn_gen.py configs/stories260k.json --weights-header OUT [--checkpoint FILE]
    tools/ctattn_gen.py configs/stories260k.json --blob OUT [--checkpoint FILE]   # tools/ctattn_blob.py

Standard-library Python only. Weight formats beyond the flash header (the validated binary blob)
plug in as modules next to this file: see weights_image(), the one function they need.
"""
import argparse
import difflib
import hashlib
import json
import math
import os
import struct
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import checkpoint  # noqa: E402  (tools/checkpoint.py: the llama2.c reader and the image order)
import q8  # noqa: E402  (tools/q8.py: the Q8 rounding, as include/ctattn/simd/q8.hpp does it)

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TOOL = 'tools/ctattn_gen.py'
ALIGN_FLOATS = 16  # tensors start at multiples of 16 floats (weight_storage.hpp)


class ConfigError(Exception):
    pass


def ctattn_version():
    """The one version (VERSION at the root; meson.build and CMakeLists.txt read it too)."""
    with open(os.path.join(ROOT, 'VERSION')) as f:
        return f.read().strip()


# ---- the model description ------------------------------------------------------------------

def eps_exponent(text):
    """'1e-5' -> 5: ctattn's eps types are powers of ten (eps_1e_minus<N>)."""
    value = float(text)
    for n in range(1, 19):
        if abs(value - 10.0 ** -n) <= 1e-12 * 10.0 ** -n:
            return n
    raise ConfigError(f'eps {text}: only powers of ten 1e-1 .. 1e-18 are supported')


# Every key a model description may hold, per object (docs/firmware.md has their meaning). A key
# not here is an error that names the nearest known one: a misspelt "dff" must not quietly become
# the default d_ff. Keys starting with "_" are comments and are ignored.
KNOWN_KEYS = {
    'model': {'name', 'description', 'vocab', 'seq_capacity', 'bos_token', 'position', 'final_norm', 'head',
              'layers', 'block', 'blocks', 'arch', 'prefill_rows', 'kv_storage', 'checkpoint', 'weight_format'},
    'weight_format': {'kind', 'max_group', 'min_group'},
    'block': {'attention', 'ffn', 'norm', 'placement'},
    'attention': {'d_model', 'heads', 'kv_heads', 'bias', 'mask'},
    'mask': {'kind', 'window'},
    'ffn': {'kind', 'activation', 'bias', 'd_ff', 'd_model'},
    'norm': {'kind', 'eps'},
    'position': {'kind', 'theta'},
    'head': {'kind', 'bias'},
    'checkpoint': {'format', 'path', 'sha256'},
}


# How the KV cache stores its rows (base/kv_storage.hpp): the policy type, bytes per element, and
# the bytes of the scale each cached row of each KV head carries (0: none).
KV_STORAGE = {
    'float32': {'type': 'ctattn::kv_float32', 'element_bytes': 4, 'scale_bytes': 0},
    'float16': {'type': 'ctattn::kv_float16', 'element_bytes': 2, 'scale_bytes': 0},
    'int8': {'type': 'ctattn::kv_int8', 'element_bytes': 1, 'scale_bytes': 2},
}


def kv_layer_bytes_macro(P, kv_storage):
    """The C macro for one layer's K and V rows, exactly as sizeof(layer_kv) (model/decoder.hpp): two
    64-byte-aligned arrays of seq_capacity x kv_dim elements; float16 and int8 rows are a
    kv_rows_storage, whose scales (int8: one 16-bit scale per row and KV head; float16: one unused float)
    follow the elements inside the same 64-byte-aligned struct."""
    t = KV_STORAGE[kv_storage]
    if kv_storage == 'float32':
        return f'#define {P}_KV_LAYER_BYTES(kv_dim, kv_heads) (2u * (({P}_SEQ_CAPACITY * (kv_dim) * 4u + 63u) / 64u * 64u))'
    scales = f'{P}_SEQ_CAPACITY * (kv_heads) * {t["scale_bytes"]}u' if t['scale_bytes'] else '4u'
    return (f'#define {P}_KV_LAYER_BYTES(kv_dim, kv_heads) '
            f'(2u * (({P}_SEQ_CAPACITY * (kv_dim) * {t["element_bytes"]}u + {scales} + 63u) / 64u * 64u))')


def check_keys(obj, kind, where):
    """Unknown keys of one JSON object, by name, with the nearest known key (difflib)."""
    if not isinstance(obj, dict):
        raise ConfigError(f'{where}: expected an object, got {json.dumps(obj)}')
    known = KNOWN_KEYS[kind]
    for key in obj:
        if key in known or key.startswith('_'):
            continue
        nearest = difflib.get_close_matches(key, sorted(known), n=1, cutoff=0.5)
        hint = f'; did you mean "{nearest[0]}"?' if nearest else ''
        raise ConfigError(f'{where}: unknown key "{key}"{hint} (known: {", ".join(sorted(known))})')


def check_description(cfg, path):
    """Every object of the description against KNOWN_KEYS, before any default is filled in."""
    check_keys(cfg, 'model', path)
    if isinstance(cfg.get('weight_format'), dict):
        check_keys(cfg['weight_format'], 'weight_format', f'{path}: "weight_format"')
    for kind in ('position', 'final_norm', 'head', 'checkpoint'):
        if kind in cfg:
            check_keys(cfg[kind], 'norm' if kind == 'final_norm' else kind, f'{path}: "{kind}"')
    blocks = cfg.get('blocks', [cfg['block']] if 'block' in cfg else [])
    for i, block in enumerate(blocks):
        where = f'{path}: "block"' if 'blocks' not in cfg else f'{path}: "blocks"[{i}]'
        check_keys(block, 'block', where)
        for kind in ('attention', 'ffn', 'norm'):
            if kind in block:
                check_keys(block[kind], kind, f'{where}."{kind}"')
        if 'mask' in block.get('attention', {}):
            check_keys(block['attention']['mask'], 'mask', f'{where}."attention"."mask"')


def load_config(path):
    with open(path) as f:
        cfg = json.load(f)
    check_description(cfg, path)
    for key in ('name', 'vocab', 'seq_capacity', 'position', 'final_norm', 'head'):
        if key not in cfg:
            raise ConfigError(f'{path}: missing "{key}"')
    if not cfg['name'].isidentifier() or cfg['name'] != cfg['name'].lower():
        raise ConfigError(f'{path}: name must be a lower-case C identifier')
    if 'blocks' in cfg:
        blocks = cfg['blocks']
    elif 'block' in cfg and 'layers' in cfg:
        blocks = [cfg['block']] * int(cfg['layers'])
    else:
        raise ConfigError(f'{path}: give "layers" and "block" (a uniform stack) or "blocks" (a list)')
    if not blocks:
        raise ConfigError(f'{path}: a model needs at least one block')
    cfg['uniform'] = 'blocks' not in cfg
    cfg['block_list'] = blocks
    cfg['source'] = os.path.relpath(os.path.abspath(path), ROOT)  # in generated files (run from the root)
    cfg['given'] = path  # in messages: the path as the user wrote it
    cfg.setdefault('arch', 'default')
    cfg.setdefault('prefill_rows', 1)
    cfg.setdefault('kv_storage', 'float32')
    if cfg['kv_storage'] not in KV_STORAGE:
        raise ConfigError(f'{path}: kv_storage must be one of {", ".join(KV_STORAGE)}, not {cfg["kv_storage"]!r}')
    cfg.setdefault('bos_token', 1)
    cfg['format'] = weight_format(cfg.get('weight_format', 'float32'), path)
    for b in blocks:
        a = b['attention']
        a.setdefault('kv_heads', a['heads'])
        a.setdefault('bias', True)
        a.setdefault('mask', {'kind': 'causal'})
        if a['mask']['kind'] not in ('causal', 'sliding_window'):
            raise ConfigError(f'{path}: decoding needs a causal or sliding_window mask, not {a["mask"]["kind"]}')
        if a['d_model'] % a['heads'] or a['heads'] % a['kv_heads']:
            raise ConfigError(f'{path}: d_model must divide by heads and heads by kv_heads')
        b['ffn'].setdefault('d_ff', 4 * a['d_model'])
        if b['ffn'].get('d_model', a['d_model']) != a['d_model']:
            raise ConfigError(f'{path}: the FFN must have the attention\'s d_model')
    if len({b['attention']['d_model'] for b in blocks}) != 1:
        raise ConfigError(f'{path}: every block must have the same d_model')
    return cfg


def cpp_norm(norm):
    kind = norm['kind']
    if kind == 'none':
        return 'ctattn::no_norm'
    if kind in ('rms_norm', 'layer_norm'):
        return f'ctattn::{kind}<ctattn::eps_1e_minus<{eps_exponent(norm["eps"])}>>'
    raise ConfigError(f'norm kind {kind}: use rms_norm, layer_norm or none')


def cpp_mask(mask):
    if mask['kind'] == 'causal':
        return 'ctattn::causal_mask'
    return f'ctattn::sliding_window_mask<{int(mask["window"])}>'


def cpp_ffn(ffn):
    act = {'relu': 'ctattn::relu', 'gelu_erf': 'ctattn::gelu_erf', 'gelu_tanh': 'ctattn::gelu_tanh',
           'silu': 'ctattn::silu'}[ffn['activation']]
    bias = 'true' if ffn.get('bias', False) else 'false'
    kind = {'gated': 'ctattn::gated_ffn', 'dense': 'ctattn::dense_ffn'}[ffn['kind']]
    return f'{kind}<{act}, {bias}>'


def cpp_position(pos):
    kind = pos['kind']
    if kind == 'rotary':
        return f'ctattn::rotary_positions<{int(pos.get("theta", 10000))}>'
    return {'none': 'ctattn::no_positions', 'sinusoidal': 'ctattn::sinusoidal_positions',
            'learned': 'ctattn::learned_positions'}[kind]


def cpp_head(head):
    if head['kind'] == 'tied':
        return 'ctattn::tied_head'
    return f'ctattn::untied_head<{"true" if head.get("bias", False) else "false"}>'


def cpp_block_types(cfg, capacity_macro):
    """C++ alias lines for each distinct block, and the block type names in layer order."""
    lines, names, seen = [], [], {}
    for block in cfg['block_list']:
        key = json.dumps(block, sort_keys=True)
        if key not in seen:
            i = len(seen)
            seen[key] = f'block_{i}'
            a, f = block['attention'], block['ffn']
            lines.append(f'using attention_{i} = ctattn::attention_config<{a["d_model"]}, {a["heads"]}, {a["kv_heads"]}, '
                         f'{capacity_macro}, {"ctattn::with_bias" if a["bias"] else "ctattn::no_bias"}, {cpp_mask(a["mask"])}>;')
            lines.append(f'using block_{i} = ctattn::block_config<attention_{i}, ctattn::ffn_config<{a["d_model"]}, '
                         f'{cpp_ffn(f)}, {f["d_ff"]}>, {cpp_norm(block["norm"])}, ctattn::{block["placement"]}>;')
        names.append(seen[key])
    return lines, names


# ---- weight formats (include/ctattn/base/weight_format.hpp) -----------------------------------

def weight_format(value, path):
    """"float32" (the default), "q8", or {"kind": "q8", "max_group": 32, "min_group": 8}: ctattn's
    float32_weights or q8_weights<q8_group_rule<max_group, min_group>>."""
    spec = {'kind': value} if isinstance(value, str) else dict(value)
    kind = spec.get('kind')
    if kind == 'float32':
        if len(spec) > 1:
            raise ConfigError(f'{path}: "weight_format" float32 takes no group sizes')
        return {'kind': 'float32'}
    if kind != 'q8':
        raise ConfigError(f'{path}: "weight_format" must be "float32" or "q8", not {json.dumps(value)}')
    max_group, min_group = spec.get('max_group', 32), spec.get('min_group', 8)
    if not (isinstance(max_group, int) and isinstance(min_group, int) and 1 <= min_group <= max_group <= 65536):
        raise ConfigError(f'{path}: "weight_format" q8 needs integers 1 <= min_group <= max_group <= 65536')
    return {'kind': 'q8', 'max_group': max_group, 'min_group': min_group}


# The Q8 rounding, group rule and the tensors a quantized format stores as Q8: tools/q8.py.
Q8_TENSORS = q8.Q8_TENSORS
ALIGN_CODES = q8.ALIGN_CODES


# ---- the weights image (order and padding of include/ctattn/model/weights_image.hpp) ----------

# [(name, layer or None, rows, cols)] in the canonical order of ctattn::for_each_tensor.
tensor_layout = checkpoint.image_order


def padded(n):
    return (n + ALIGN_FLOATS - 1) // ALIGN_FLOATS * ALIGN_FLOATS


def image_floats(cfg):
    if cfg['format']['kind'] == 'q8':
        return len(weights_image_parts(cfg, None)[0])
    return sum(padded(r * c) for _, _, r, c in tensor_layout(cfg))


def read_llama2c(cfg, data):
    """Tensors of a llama2.c legacy checkpoint, keyed (name, layer), each a flat list of floats in
    the x @ W layout ((in, out) row-major: llama2.c's (out, in) matrices transposed)."""
    blocks = cfg['block_list']
    b0 = blocks[0]
    a, f = b0['attention'], b0['ffn']
    llama = (all(json.dumps(b, sort_keys=True) == json.dumps(b0, sort_keys=True) for b in blocks)
             and b0['placement'] == 'pre_norm' and b0['norm']['kind'] == 'rms_norm' and not a['bias']
             and f['kind'] == 'gated' and f['activation'] == 'silu' and not f.get('bias', False)
             and cfg['position']['kind'] == 'rotary' and cfg['final_norm']['kind'] == 'rms_norm'
             and not (cfg['head']['kind'] == 'untied' and cfg['head'].get('bias', False)))
    if not llama:
        raise ConfigError('a llama2.c checkpoint needs uniform pre_norm rms_norm blocks, swiglu, no biases, rotary')
    if len(data) < checkpoint.HEADER_BYTES:
        raise ConfigError('checkpoint: shorter than its header')
    fields = checkpoint.header_fields(data)
    dim, hidden, n_layers, n_heads, n_kv_heads, vocab_size, seq_len = fields
    d, ff = a['d_model'], f['d_ff']
    want = (d, ff, len(blocks), a['heads'], a['kv_heads'], cfg['vocab'])
    if (dim, hidden, n_layers, n_heads, n_kv_heads, abs(vocab_size)) != want:
        raise ConfigError(f'checkpoint: header {(dim, hidden, n_layers, n_heads, n_kv_heads, vocab_size)} '
                          f'does not match the configuration {want}')
    if (vocab_size > 0) != (cfg['head']['kind'] == 'tied'):
        raise ConfigError('checkpoint: tied/untied classifier does not match the configuration\'s head')
    try:
        h = checkpoint.header_dict(fields)  # checked against the configuration above
        floats = checkpoint.checkpoint_floats(h)
        if len(data) != checkpoint.HEADER_BYTES + 4 * floats:
            raise ConfigError(f'checkpoint: {len(data)} bytes, the header implies {checkpoint.HEADER_BYTES + 4 * floats}')
        if not all(math.isfinite(x) for x in checkpoint.file_floats(data)):
            raise ConfigError('checkpoint: holds non-finite values (inf or NaN)')
        tensors = checkpoint.read_tensors(data, h)
    except checkpoint.CheckpointError as e:
        raise ConfigError(f'checkpoint: {e}') from e
    return {key: list(values) for key, values in tensors.items()}


def weights_image(cfg, checkpoint_bytes):
    """The whole image as (floats, [(name, layer, rows, cols, offset)]): what the flash header holds,
    and what a blob's payload holds (a blob writer imports this). Float formats only."""
    if cfg['format']['kind'] != 'float32':
        raise ConfigError(f'{cfg["given"]}: "weight_format" {cfg["format"]["kind"]}: this image is float only '
                          '(weights_image_parts holds the Q8 one)')
    tensors = read_llama2c(cfg, checkpoint_bytes)
    image, table = [], []
    for name, layer, rows, cols in tensor_layout(cfg):
        values = tensors[(name, layer)]
        assert len(values) == rows * cols, name
        table.append((name, layer, rows, cols, len(image)))
        image += values
        image += [0.0] * (padded(rows * cols) - rows * cols)
    assert len(image) == image_floats(cfg)
    return image, table


def weights_image_parts(cfg, checkpoint_bytes):
    """A quantized format's two images, (floats, codes, table): the float image holds the float
    tensors and each Q8 tensor's scales (out, groups), the code image each Q8 tensor's int8 codes
    (out, row_codes); table rows are (name, layer, rows, cols, float offset, code offset or None).
    Without checkpoint bytes the values are zeros (for the sizes)."""
    fmt = cfg['format']
    tensors = read_llama2c(cfg, checkpoint_bytes) if checkpoint_bytes is not None else None
    floats, codes, table = [], [], []
    for name, layer, rows, cols in tensor_layout(cfg):
        values = tensors[(name, layer)] if tensors is not None else [0.0] * (rows * cols)
        if name not in Q8_TENSORS:
            table.append((name, layer, rows, cols, len(floats), None))
            floats += values + [0.0] * (padded(rows * cols) - rows * cols)
            continue
        row_codes, row_scales, _, _ = q8.q8_tensor(name, rows, cols, values, fmt)
        table.append((name, layer, rows, cols, len(floats), len(codes)))
        floats += row_scales + [0.0] * (padded(len(row_scales)) - len(row_scales))
        codes += row_codes + [0] * (-len(row_codes) % ALIGN_CODES)
    return floats, codes, table


# ---- writers ----------------------------------------------------------------------------------

def config_digest(cfg):
    """SHA-256 of the configuration file's bytes, first 16 hex digits: the banner's input hash."""
    with open(os.path.join(ROOT, cfg['source']), 'rb') as f:
        return hashlib.sha256(f.read()).hexdigest()[:16]


def banner_lines(cfg, command=None):
    """What every generated file opens with: its origin, the exact command that regenerates it
    (from the source root) and the hash of the configuration it was written from."""
    command = command or f'python3 {TOOL} {cfg["source"]}'
    return [f'Generated by {TOOL} from {cfg["source"]}. Do not edit.',
            f'Regenerate: {command}',
            f'{cfg["source"]} SHA-256 {config_digest(cfg)}']


def banner(cfg, comment='//', command=None):
    """banner_lines as comments: '//' and '#' per line, '/*' one C comment."""
    lines = banner_lines(cfg, command)
    if comment == '/*':
        return '\n'.join([f'/* {lines[0]}'] + [f' * {line}' for line in lines[1:-1]] + [f' * {lines[-1]} */'])
    return '\n'.join(f'{comment} {line}' for line in lines)


def sizes(cfg):
    d = cfg['block_list'][0]['attention']['d_model']
    kv = [b['attention']['kv_heads'] * (d // b['attention']['heads']) for b in cfg['block_list']]
    max_ff = max(b['ffn']['d_ff'] for b in cfg['block_list'])
    gated = any(b['ffn']['kind'] == 'gated' for b in cfg['block_list'])
    return d, kv, max_ff, gated


def align64(n):
    return (n + 63) // 64 * 64


def write_c_header(cfg):
    n, N = cfg['name'], cfg['name'].upper()
    P = f'CTATTN_{N}'
    d, kv, max_ff, gated = sizes(cfg)
    n_tensors = len(tensor_layout(cfg))
    # The state is the KV cache (exact, per layer) plus a bound on the rest: a weights view (a
    # pointer per tensor), one token's activation rows (64-byte aligned), two score rows (the scalar
    # decode kernel scores two query heads per pass), padding.
    # ctattn_<name>.cpp static_asserts that the C++ state fits and wastes at most 1 KiB.
    rows = 5 * align64(4 * d) + align64(4 * max_ff) + (align64(4 * max_ff) if gated else 64)
    fixed = align64(8 * n_tensors + 8) + rows + 64 * 8
    kv_heads = [b['attention']['kv_heads'] for b in cfg['block_list']]
    layer_kv = list(zip(kv, kv_heads))
    kv_terms = ' + '.join(f'{P}_KV_LAYER_BYTES({k}u, {g}u)' for k, g in layer_kv) if len(set(layer_kv)) > 1 else \
        f'{len(kv)}u * {P}_KV_LAYER_BYTES({kv[0]}u, {kv_heads[0]}u)'
    statuses = read_statuses()
    status_lines = [f'    {P}_{s.upper()} = {i},' for i, s in enumerate(statuses)]
    status_lines.append(f'    {P}_NULL_POINTER = {P}_INVALID_ARGUMENT, /* the one cause INVALID_ARGUMENT names */')
    return '\n'.join([
        banner(cfg, '/*'),
        f'/* {n}: the C API of one compile-time ctattn model (C99/C11 and C++).',
        f' * {cfg.get("description", "")}',
        ' *',
        f' *   static ctattn_{n}_state state;             // static RAM (.bss): KV cache and scratch',
        f' *   ctattn_{n}_init(&state);                    // built-in weights, read in place from flash',
        f' *   ctattn_{n}_prefill(&state, prompt, n, logits);',
        f' *   ctattn_{n}_decode_step(&state, next_token, logits);    // logits: {P}_VOCAB floats',
        ' * Every function validates first and changes nothing when it returns an error. No heap. */',
        f'#ifndef {P}_H',
        f'#define {P}_H',
        '',
        '#include <stddef.h>',
        '#include <stdint.h>',
        '',
        f'#define {P}_VOCAB {cfg["vocab"]}u',
        f'#define {P}_D_MODEL {d}u',
        f'#define {P}_LAYERS {len(cfg["block_list"])}u',
        f'#define {P}_BOS_TOKEN {cfg["bos_token"]}u',
        '/* The ctattn release these files were generated by and are built against. */',
        f'#define {P}_CTATTN_VERSION "{ctattn_version()}"',
        '/* Positions the KV cache holds (prompt + generated tokens). The model description says',
        f' * {cfg["seq_capacity"]}; a RAM-limited board may define a smaller one for the library and its users alike. */',
        f'#ifndef {P}_SEQ_CAPACITY',
        f'#define {P}_SEQ_CAPACITY {cfg["seq_capacity"]}u',
        '#endif',
        f'/* Floats of the weights image (tensors in the kernels\' layout, each padded to 16 floats). */',
        f'#define {P}_WEIGHTS_FLOATS {image_floats(cfg)}u',
        f'/* How the KV cache stores its rows: float32, float16 or int8 (one 16-bit scale per row and KV head). */',
        f'#define {P}_KV_STORAGE "{cfg["kv_storage"]}"',
        f'/* RAM of the KV cache (one layer\'s K and V rows; all layers), exactly as the library lays it out. */',
        kv_layer_bytes_macro(P, cfg['kv_storage']),
        f'#define {P}_KV_CACHE_BYTES ({kv_terms})',
        f'#define {P}_STATE_BYTES ({P}_KV_CACHE_BYTES + ({P}_SEQ_CAPACITY * 8u + 63u) / 64u * 64u + {fixed}u)',
        f'#define {P}_STATE_ALIGN 64u',
        '',
        '#if defined(__cplusplus)',
        f'#define {P}_ALIGNAS(n) alignas(n)',
        '#elif defined(__STDC_VERSION__) && __STDC_VERSION__ >= 201112L',
        f'#define {P}_ALIGNAS(n) _Alignas(n)',
        '#elif defined(__GNUC__)',
        f'#define {P}_ALIGNAS(n) __attribute__((aligned(n)))',
        '#else',
        f'#define {P}_ALIGNAS(n) /* init checks the alignment at run time */',
        '#endif',
        '',
        '#ifdef __cplusplus',
        'extern "C" {',
        '#endif',
        '',
        '/* KV cache, one token\'s activations and the weights it reads; opaque, fixed size. It holds no',
        ' * pointer into itself: `*copy = *state` gives an independent state (same weights, same cached',
        ' * positions) that later calls on either leave the other alone. */',
        f'typedef struct ctattn_{n}_state {{',
        f'    {P}_ALIGNAS(64) unsigned char opaque[{P}_STATE_BYTES];',
        f'}} ctattn_{n}_state;',
        '',
        '/* ctattn::status (include/ctattn/base/status.hpp), value for value; each names one cause. */',
        f'typedef enum ctattn_{n}_status {{',
        *status_lines,
        f'}} ctattn_{n}_status;',
        '',
        f'const char* ctattn_{n}_status_string(ctattn_{n}_status status);',
        '',
        '/* The init functions take the state size and SEQ_CAPACITY the caller was compiled with (the',
        ' * macros below pass them, as zlib\'s deflateInit does), so a caller and a library built with',
        f' * different {P}_SEQ_CAPACITY values get CAPACITY_MISMATCH instead of an overflowing state.',
        ' * Every init returns NULL_POINTER for a null state, MISALIGNED for a state not on a',
        f' * {P}_STATE_ALIGN-byte boundary (checked without reading it), then CAPACITY_MISMATCH or',
        ' * STATE_SIZE_MISMATCH, and leaves the state untouched on any error. */',
        '',
        '/* Built-in weights: constant arrays in flash, compiled in when the library was built with',
        f' * ctattn_{n}_weights.h on its include path (the generated meson.build and CMakeLists.txt write it',
        ' * from the checkpoint). NO_BUILTIN_WEIGHTS from a library built without it. */',
        f'#define ctattn_{n}_init(state) ctattn_{n}_init_checked((state), sizeof(ctattn_{n}_state), {P}_SEQ_CAPACITY)',
        f'ctattn_{n}_status ctattn_{n}_init_checked(ctattn_{n}_state* state, size_t state_bytes, size_t seq_capacity);',
        '/* 1 when the library holds built-in weights, 0 when only the init_with_* functions can work. */',
        f'int ctattn_{n}_has_builtin_weights(void);',
        '',
        f'/* Weights elsewhere: image holds {P}_WEIGHTS_FLOATS floats in the kernels\' layout (the',
        ' * generated weights header, or a validated blob\'s payload); read in place, never copied, so it',
        ' * must outlive the state. Validated first: INVALID_LENGTH unless image_floats == WEIGHTS_FLOATS,',
        ' * MISALIGNED unless float-aligned, NON_FINITE when any float is NaN or infinite (one pass). */',
        f'#define ctattn_{n}_init_with_weights(state, image, image_floats) \\',
        f'    ctattn_{n}_init_with_weights_checked((state), (image), (image_floats), sizeof(ctattn_{n}_state), {P}_SEQ_CAPACITY)',
        f'ctattn_{n}_status ctattn_{n}_init_with_weights_checked(ctattn_{n}_state* state, const float* image,',
        f'                                              size_t image_floats, size_t state_bytes, size_t seq_capacity);',
        '',
        '/* A ctattn weight blob (docs/formats.md; tools/ctattn_blob.py) in the caller\'s memory, e.g. read',
        ' * from an SD card: validate checks all of it in place (header, table, configuration hash, CRC32,',
        ' * finiteness) and changes nothing; init_with_blob validates, then reads the payload in place',
        ' * (the blob must outlive the state). Statuses as blob::validate: BAD_MAGIC, BAD_VERSION,',
        ' * TRUNCATED, FORMAT_ERROR, SIZE_OVERFLOW, CHECKSUM_MISMATCH, CONFIG_MISMATCH, NON_FINITE, and',
        ' * MISALIGNED for a payload that is not float-aligned in memory. */',
        f'ctattn_{n}_status ctattn_{n}_validate_blob(const void* blob, size_t blob_bytes);',
        f'#define ctattn_{n}_init_with_blob(state, blob, blob_bytes) \\',
        f'    ctattn_{n}_init_with_blob_checked((state), (blob), (blob_bytes), sizeof(ctattn_{n}_state), {P}_SEQ_CAPACITY)',
        f'ctattn_{n}_status ctattn_{n}_init_with_blob_checked(ctattn_{n}_state* state, const void* blob, size_t blob_bytes,',
        f'                                              size_t state_bytes, size_t seq_capacity);',
        '',
        '/* The calls below return NULL_POINTER, MISALIGNED or NOT_INITIALISED for a state they cannot',
        ' * use, before reading it. */',
        '/* Forgets every position (O(1)); the weights stay attached. */',
        f'ctattn_{n}_status ctattn_{n}_reset(ctattn_{n}_state* state);',
        '/* Positions held so far (0 for a null, misaligned or uninitialised state). */',
        f'size_t ctattn_{n}_position(const ctattn_{n}_state* state);',
        '/* Feeds n tokens; last_logits (VOCAB floats, or NULL) gets the logits after the last one.',
        ' * CACHE_FULL when they do not fit, INVALID_TOKEN for an id >= VOCAB. */',
        f'ctattn_{n}_status ctattn_{n}_prefill(ctattn_{n}_state* state, const uint32_t* tokens, size_t n,',
        f'                                      float* last_logits);',
        '/* One token in, the next position\'s logits (VOCAB floats) out. */',
        f'ctattn_{n}_status ctattn_{n}_decode_step(ctattn_{n}_state* state, uint32_t token, float* logits);',
        '/* The whole sequence from an empty cache: logits is n x VOCAB floats, row p for the token after',
        ' * position p. INVALID_LENGTH unless 1 <= n <= SEQ_CAPACITY. Leaves the n positions cached. */',
        f'ctattn_{n}_status ctattn_{n}_forward(ctattn_{n}_state* state, const uint32_t* tokens, size_t n,',
        f'                                      float* logits);',
        '',
        '#ifdef __cplusplus',
        '}',
        '#endif',
        '',
        f'#endif /* {P}_H */',
        ''])


def read_statuses():
    """ctattn::status's enumerators, in order, from include/ctattn/base/status.hpp (the one source)."""
    with open(os.path.join(ROOT, 'include', 'ctattn', 'base', 'status.hpp')) as f:
        text = f.read()
    body = text[text.index('enum class [[nodiscard]] status'):]
    body = body[body.index('{') + 1:body.index('};')]
    names = []
    for line in body.splitlines():
        line = line.split('//')[0].strip().rstrip(',')
        if line:
            names.append(line.split('=')[0].strip())
    return names


def write_config_hpp(cfg):
    n, N = cfg['name'], cfg['name'].upper()
    P = f'CTATTN_{N}'
    lines, names = cpp_block_types(cfg, f'{P}_SEQ_CAPACITY')
    common = f'{cpp_position(cfg["position"])}, {cpp_norm(cfg["final_norm"])}, {cpp_head(cfg["head"])}'
    if cfg['uniform']:
        config = f'using config = ctattn::stacked_model_config<{cfg["vocab"]}, {len(names)}, {names[0]}, {common}>;'
    else:
        config = f'using config = ctattn::model_config<{cfg["vocab"]}, {common}, {", ".join(names)}>;'
    arch = {'default': 'ctattn::simd::default_arch', 'scalar': 'ctattn::simd::scalar_arch'}[cfg['arch']]
    return '\n'.join([
        banner(cfg),
        f'// The C++ configuration type of {n}: ctattn_{n}.cpp instantiates the library for it, and C++',
        '// firmware may use it directly (with the weights header: see make_weights_view).',
        '#pragma once',
        '',
        '#include <cstddef>',
        '',
        '#include <ctattn/model/decoder.hpp>',
        '#include <ctattn/model/weights_image.hpp>',
        '',
        f'#include "ctattn_{n}.h"',
        '',
        f'namespace ctattn_gen::{n} {{',
        '',
        *lines,
        config,
        f'using arch = {arch};',
        f'inline constexpr std::size_t prefill_rows = {cfg["prefill_rows"]};',
        f'using kv_storage = {KV_STORAGE[cfg["kv_storage"]]["type"]};',
        'using weights_view = ctattn::model_weights_view<config>;',
        'using decoder = ctattn::decoder<config, ctattn::viewed_weights, arch, prefill_rows, kv_storage>;',
        '',
        f'static_assert(ctattn::weights_image_floats<config> == {P}_WEIGHTS_FLOATS,',
        '              "ctattn: the generated weights image size disagrees with the library\'s layout");',
        '',
        f'}}  // namespace ctattn_gen::{n}',
        ''])


def write_cpp(cfg):
    n, N = cfg['name'], cfg['name'].upper()
    P = f'CTATTN_{N}'
    statuses = read_statuses()
    checks = [f'static_assert(int(ctattn::status::{s}) == {P}_{s.upper()}, "ctattn: status values moved");'
              for s in statuses]
    checks.append(f'static_assert(sizeof(decoder::cache_type::layers) == {P}_KV_CACHE_BYTES,')
    checks.append('              "ctattn: the KV cache size macro disagrees with the library\'s layout");')
    return '\n'.join([
        banner(cfg),
        f'// The C functions of ctattn_{n}.h over ctattn::decoder, instantiated once for this model. The',
        '// weights are a model_weights_view: into the built-in constant arrays (flash), or into a',
        '// caller\'s image or blob. No exceptions exist to cross the boundary; errors are status values.',
        f'#include "ctattn_{n}_config.hpp"',
        '',
        '#include <ctattn/io/blob.hpp>',
        '',
        '#include <cstdint>',
        '#include <cstring>',
        '#include <new>',
        '',
        f'// Built-in weights whenever the weights header is on the include path (the generated build files',
        f'// write it from the checkpoint); {P}_NO_BUILTIN_WEIGHTS leaves them out even then.',
        f'#if !defined({P}_NO_BUILTIN_WEIGHTS) && (defined({P}_BUILTIN_WEIGHTS) || __has_include("ctattn_{n}_weights.h"))',
        f'#define {P}_HAS_BUILTIN_WEIGHTS 1',
        f'#include "ctattn_{n}_weights.h"',
        '#endif',
        '',
        'namespace {',
        '',
        f'using namespace ctattn_gen::{n};',
        '',
        *checks,
        '',
        '// Tells an initialised state from stray bytes.',
        'constexpr std::uint32_t initialised = 0x63746e31u;',
        '',
        '// `self` is where the state was set up. The decoder reads the weights view through a pointer',
        '// to `weights`, i.e. into the state itself; a byte copy of the state (`*b = *a`) carries a\'s',
        '// address, so each call first points a moved or copied state\'s decoder at its own view.',
        'struct state_impl {',
        '    std::uint32_t magic;',
        '    const state_impl* self;',
        '    weights_view weights;  // pointers, into flash or the caller\'s image',
        '    decoder model;         // KV cache + one token\'s rows; reads `weights`',
        '};',
        f'static_assert(sizeof(state_impl) <= {P}_STATE_BYTES, "ctattn: the C state is too small for the model\'s state");',
        f'static_assert({P}_STATE_BYTES - sizeof(state_impl) <= 1024, "ctattn: the C state wastes RAM, regenerate");',
        f'static_assert(alignof(state_impl) <= {P}_STATE_ALIGN, "ctattn: the C state is under-aligned");',
        f'static_assert(config::seq_capacity == {P}_SEQ_CAPACITY && config::vocab == {P}_VOCAB);',
        '',
        f'#if defined({P}_HAS_BUILTIN_WEIGHTS)',
        '// A constant expression: the view sits in .rodata next to the arrays it points into.',
        f'constexpr weights_view builtin_weights = ctattn::make_weights_view<config>(ctattn_{n}_weights);',
        '#endif',
        '',
        f'ctattn_{n}_status to_c(ctattn::status s) noexcept {{ return static_cast<ctattn_{n}_status>(s); }}',
        '',
        '// The address alone decides alignment: a misaligned state is never read through.',
        'bool misaligned(const void* state) noexcept {',
        f'    return reinterpret_cast<std::uintptr_t>(state) % {P}_STATE_ALIGN != 0;',
        '}',
        '',
        '// The state behind a caller\'s pointer, checked before a byte of it is read.',
        f'ctattn_{n}_status open(const ctattn_{n}_state* state, state_impl*& out) noexcept {{',
        f'    if (state == nullptr) return {P}_NULL_POINTER;',
        f'    if (misaligned(state)) return {P}_MISALIGNED;',
        '    auto* s = std::launder(reinterpret_cast<state_impl*>(const_cast<void*>(static_cast<const void*>(state))));',
        f'    if (s->magic != initialised) return {P}_NOT_INITIALISED;',
        '    out = s;',
        f'    return {P}_OK;',
        '}',
        '',
        '// open(), then re-points a copied state\'s decoder at its own weights view, keeping its cache.',
        f'ctattn_{n}_status open_for_use(ctattn_{n}_state* state, state_impl*& out) noexcept {{',
        f'    if (const ctattn_{n}_status r = open(state, out); r != {P}_OK) return r;',
        '    if (out->self != out) {',
        '        out->model.repoint(out->weights);',
        '        out->self = out;',
        '    }',
        f'    return {P}_OK;',
        '}',
        '',
        '// What every init checks first, in this order, before writing anything.',
        f'ctattn_{n}_status check_state(const ctattn_{n}_state* state, size_t state_bytes, size_t seq_capacity) noexcept {{',
        f'    if (state == nullptr) return {P}_NULL_POINTER;',
        f'    if (misaligned(state)) return {P}_MISALIGNED;',
        f'    if (seq_capacity != {P}_SEQ_CAPACITY) return {P}_CAPACITY_MISMATCH;',
        f'    if (state_bytes != sizeof(ctattn_{n}_state)) return {P}_STATE_SIZE_MISMATCH;',
        f'    return {P}_OK;',
        '}',
        '',
        f'void attach(ctattn_{n}_state* state, const weights_view& weights) noexcept {{',
        '    auto* s = ::new (static_cast<void*>(state)) state_impl{initialised, nullptr, weights, {}};',
        '    s->self = s;',
        '    s->model.attach(s->weights);',
        '}',
        '',
        '// Finite test on the bits (immune to -ffinite-math-only): exponent all ones is NaN or +-inf.',
        'bool all_finite(const float* values, std::size_t count) noexcept {',
        '    std::uint32_t non_finite = 0;',
        '    for (std::size_t i = 0; i < count; ++i) {',
        '        std::uint32_t bits;',
        '        std::memcpy(&bits, values + i, sizeof bits);',
        '        non_finite |= std::uint32_t((bits & 0x7f800000u) == 0x7f800000u);',
        '    }',
        '    return non_finite == 0;',
        '}',
        '',
        '}  // namespace',
        '',
        'extern "C" {',
        '',
        f'const char* ctattn_{n}_status_string(ctattn_{n}_status status) {{',
        '    return ctattn::to_string(static_cast<ctattn::status>(status));',
        '}',
        '',
        f'int ctattn_{n}_has_builtin_weights(void) {{',
        f'#if defined({P}_HAS_BUILTIN_WEIGHTS)',
        '    return 1;',
        '#else',
        '    return 0;',
        '#endif',
        '}',
        '',
        f'ctattn_{n}_status ctattn_{n}_init_checked(ctattn_{n}_state* state, size_t state_bytes, size_t seq_capacity) {{',
        f'    if (const ctattn_{n}_status r = check_state(state, state_bytes, seq_capacity); r != {P}_OK) return r;',
        f'#if defined({P}_HAS_BUILTIN_WEIGHTS)',
        '    attach(state, builtin_weights);',
        f'    return {P}_OK;',
        '#else',
        f'    return {P}_NO_BUILTIN_WEIGHTS;',
        '#endif',
        '}',
        '',
        f'ctattn_{n}_status ctattn_{n}_init_with_weights_checked(ctattn_{n}_state* state, const float* image, size_t image_floats,',
        f'                                              size_t state_bytes, size_t seq_capacity) {{',
        f'    if (const ctattn_{n}_status r = check_state(state, state_bytes, seq_capacity); r != {P}_OK) return r;',
        f'    if (image == nullptr) return {P}_NULL_POINTER;',
        f'    if (image_floats != {P}_WEIGHTS_FLOATS) return {P}_INVALID_LENGTH;',
        f'    if (reinterpret_cast<std::uintptr_t>(image) % alignof(float) != 0) return {P}_MISALIGNED;',
        f'    if (!all_finite(image, image_floats)) return {P}_NON_FINITE;',
        '    attach(state, ctattn::make_weights_view<config>(image));',
        f'    return {P}_OK;',
        '}',
        '',
        f'ctattn_{n}_status ctattn_{n}_validate_blob(const void* blob, size_t blob_bytes) {{',
        '    ctattn::model_weights_view<config> weights;',
        '    return to_c(ctattn::blob::view<config>(static_cast<const unsigned char*>(blob), blob_bytes, weights));',
        '}',
        '',
        f'ctattn_{n}_status ctattn_{n}_init_with_blob_checked(ctattn_{n}_state* state, const void* blob, size_t blob_bytes,',
        f'                                              size_t state_bytes, size_t seq_capacity) {{',
        f'    if (const ctattn_{n}_status r = check_state(state, state_bytes, seq_capacity); r != {P}_OK) return r;',
        '    weights_view weights;',
        '    if (const ctattn::status r = ctattn::blob::view<config>(static_cast<const unsigned char*>(blob), blob_bytes, weights);',
        '        r != ctattn::status::ok)',
        '        return to_c(r);',
        '    attach(state, weights);',
        f'    return {P}_OK;',
        '}',
        '',
        f'ctattn_{n}_status ctattn_{n}_reset(ctattn_{n}_state* state) {{',
        '    state_impl* s = nullptr;',
        f'    if (const ctattn_{n}_status r = open_for_use(state, s); r != {P}_OK) return r;',
        '    s->model.reset();',
        f'    return {P}_OK;',
        '}',
        '',
        f'size_t ctattn_{n}_position(const ctattn_{n}_state* state) {{',
        '    state_impl* s = nullptr;',
        f'    return open(state, s) == {P}_OK ? s->model.position() : 0;',
        '}',
        '',
        f'ctattn_{n}_status ctattn_{n}_prefill(ctattn_{n}_state* state, const uint32_t* tokens, size_t n, float* last_logits) {{',
        '    state_impl* s = nullptr;',
        f'    if (const ctattn_{n}_status r = open_for_use(state, s); r != {P}_OK) return r;',
        '    return to_c(s->model.prefill(tokens, n, last_logits));',
        '}',
        '',
        f'ctattn_{n}_status ctattn_{n}_decode_step(ctattn_{n}_state* state, uint32_t token, float* logits) {{',
        '    state_impl* s = nullptr;',
        f'    if (const ctattn_{n}_status r = open_for_use(state, s); r != {P}_OK) return r;',
        '    return to_c(s->model.decode_step(token, logits));',
        '}',
        '',
        f'ctattn_{n}_status ctattn_{n}_forward(ctattn_{n}_state* state, const uint32_t* tokens, size_t n, float* logits) {{',
        '    state_impl* s = nullptr;',
        f'    if (const ctattn_{n}_status r = open_for_use(state, s); r != {P}_OK) return r;',
        f'    if (tokens == nullptr || logits == nullptr) return {P}_NULL_POINTER;',
        f'    if (n == 0 || n > {P}_SEQ_CAPACITY) return {P}_INVALID_LENGTH;',
        '    for (size_t i = 0; i < n; ++i)',
        f'        if (tokens[i] >= {P}_VOCAB) return {P}_INVALID_TOKEN;',
        '    // Token by token through the KV cache: the same logits as a full forward pass (test_decode),',
        '    // in the RAM of the cache instead of a whole-sequence workspace.',
        '    s->model.reset();',
        '    for (size_t p = 0; p < n; ++p)',
        f'        if (const ctattn::status r = s->model.decode_step(tokens[p], logits + p * {P}_VOCAB); r != ctattn::status::ok)',
        '            return to_c(r);',
        f'    return {P}_OK;',
        '}',
        '',
        '}  // extern "C"',
        ''])


def write_meson(cfg):
    n, N = cfg['name'], cfg['name'].upper()
    P = f'CTATTN_{N}'
    checkpoint = cfg.get('checkpoint', {}).get('path')
    lines = [
        banner(cfg, '#'),
        f'# The C API of {n} as a static library: ctattn_{n}_dep (C and C++ users link it). Set',
        f'# ctattn_{n}_seq_capacity before subdir() for a smaller KV cache (a RAM-limited board).',
        '# ctattn itself: ctattn_dep if the project has it, else dependency(\'ctattn\') (a subproject with',
        '# a wrap, or an installed ctattn.pc); the checkout with tools/ (for the weights header step):',
        '# ctattn_source_dir if set, else two folders up, where tools/ctattn_gen.py keeps this package',
        '# (meson lets a project read no file inside subprojects/: name a checkout outside it).',
        'if not is_variable(\'ctattn_dep\')',
        '  ctattn_dep = dependency(\'ctattn\')',
        'endif',
        'if not is_variable(\'ctattn_source_dir\')',
        '  ctattn_source_dir = meson.current_source_dir() / \'..\' / \'..\'',
        'endif',
        f'if not is_variable(\'ctattn_{n}_seq_capacity\')',
        f'  ctattn_{n}_seq_capacity = {cfg["seq_capacity"]}',
        'endif',
        f'ctattn_{n}_args = [\'-D{P}_SEQ_CAPACITY=@0@u\'.format(ctattn_{n}_seq_capacity)]',
        f'ctattn_{n}_lib_args = []',
        f'ctattn_{n}_weights_h = []',
    ]
    if checkpoint:
        lines += [
            f'# The weights header, written at build time from the checkpoint (several MB of text: not checked',
            f'# in). Without the checkpoint the library still builds; ctattn_{n}_init then has no weights.',
            f'# Set ctattn_{n}_checkpoint before subdir() to read the checkpoint from elsewhere.',
            f'if not is_variable(\'ctattn_{n}_checkpoint\')',
            f'  ctattn_{n}_checkpoint = ctattn_source_dir / \'{checkpoint}\'',
            'endif',
            f'if import(\'fs\').exists(ctattn_{n}_checkpoint) and import(\'fs\').exists(ctattn_source_dir / \'{TOOL}\')',
            f'  ctattn_{n}_weights_h = custom_target(\'ctattn_{n}_weights.h\',',
            f'    input : [ctattn_source_dir / \'{TOOL}\', ctattn_source_dir / \'{cfg["source"]}\',',
            f'             ctattn_{n}_checkpoint],',
            f'    output : \'ctattn_{n}_weights.h\',',
            f'    command : [find_program(\'python3\', native : true), \'@INPUT0@\', \'@INPUT1@\', \'--checkpoint\', \'@INPUT2@\',',
            f'               \'--weights-header\', \'@OUTPUT@\'])',
            f'  ctattn_{n}_lib_args += \'-D{P}_BUILTIN_WEIGHTS=1\'',
            'endif',
        ]
    lines += [
        f'ctattn_{n}_lib = static_library(\'ctattn_{n}\', \'ctattn_{n}.cpp\', ctattn_{n}_weights_h,',
        f'  cpp_args : ctattn_{n}_args + ctattn_{n}_lib_args,',
        '  dependencies : ctattn_dep)',
        f'ctattn_{n}_dep = declare_dependency(',
        f'  link_with : ctattn_{n}_lib,',
        f'  include_directories : include_directories(\'.\'),',
        f'  compile_args : ctattn_{n}_args,',
        f'  sources : ctattn_{n}_weights_h)',
        '']
    return '\n'.join(lines)


def write_cmake(cfg):
    """CMakeLists.txt: the same library for CMake builds, from anywhere (the package copied out of
    this tree included), with ctattn found by target, source path or find_package."""
    n, N = cfg['name'], cfg['name'].upper()
    P = f'CTATTN_{N}'
    checkpoint = cfg.get('checkpoint', {}).get('path', '')
    return '\n'.join([
        banner(cfg, '#'),
        f'# The C API of {n} as a static library for CMake builds (Zephyr, ESP-IDF, Pico SDK, STM32Cube,',
        '# a host program): target ctattn_' + n + ' (alias ctattn::' + n + '), linked from C or C++:',
        f'#   add_subdirectory(path/to/ctattn_{n})      target_link_libraries(app PRIVATE ctattn::{n})',
        '# It is compiled with -fno-exceptions -fno-rtti (nothing to unwind across C) and links libm.',
        '# ctattn\'s headers: the target ctattn::ctattn when the project has it already (add_subdirectory,',
        '# FetchContent), else the checkout CTATTN_SOURCE_DIR (default: two folders up, where',
        '# tools/ctattn_gen.py keeps it), else find_package(ctattn CONFIG) (an installed ctattn).',
        f'# Built-in weights: {P}_WEIGHTS_HEADER names a ctattn_{n}_weights.h written beforehand',
        f'#   python3 tools/ctattn_gen.py {cfg["source"]} --checkpoint CKPT --weights-header ctattn_{n}_weights.h',
        f'# or, given a checkpoint ({P}_CHECKPOINT, default CTATTN_SOURCE_DIR/{checkpoint or "(none)"}) and a',
        '# ctattn checkout, the build writes it with that command. Without either the library builds with',
        f'# no weights: ctattn_{n}_init returns NO_BUILTIN_WEIGHTS and ctattn_{n}_has_builtin_weights() 0.',
        f'# {P}_SEQ_CAPACITY (cache variable) shrinks the KV cache for library and users alike.',
        'cmake_minimum_required(VERSION 3.16)',
        'if(CMAKE_SOURCE_DIR STREQUAL CMAKE_CURRENT_SOURCE_DIR)',
        f'    project(ctattn_{n} LANGUAGES C CXX)',
        'else()',
        '    enable_language(CXX)',
        'endif()',
        '',
        f'set({P}_SEQ_CAPACITY {cfg["seq_capacity"]} CACHE STRING "ctattn: KV cache positions of {n} (<= {cfg["seq_capacity"]})")',
        f'set({P}_WEIGHTS_HEADER "" CACHE FILEPATH "ctattn: a ctattn_{n}_weights.h written beforehand")',
        'if(NOT DEFINED CTATTN_SOURCE_DIR AND EXISTS "${CMAKE_CURRENT_LIST_DIR}/../../tools/ctattn_gen.py")',
        '    get_filename_component(CTATTN_SOURCE_DIR "${CMAKE_CURRENT_LIST_DIR}/../.." ABSOLUTE)',
        'endif()',
        f'set({P}_CHECKPOINT "" CACHE FILEPATH "ctattn: the checkpoint the built-in weights are written from")',
        f'if(NOT {P}_CHECKPOINT AND CTATTN_SOURCE_DIR AND NOT "{checkpoint}" STREQUAL "")',
        f'    set({P}_CHECKPOINT "${{CTATTN_SOURCE_DIR}}/{checkpoint}")',
        'endif()',
        '',
        'if(NOT TARGET ctattn::ctattn)',
        '    if(CTATTN_SOURCE_DIR AND EXISTS "${CTATTN_SOURCE_DIR}/CMakeLists.txt")',
        '        add_subdirectory("${CTATTN_SOURCE_DIR}" "${CMAKE_CURRENT_BINARY_DIR}/ctattn" EXCLUDE_FROM_ALL)',
        '    else()',
        f'        find_package(ctattn {ctattn_version()} CONFIG REQUIRED)',
        '    endif()',
        'endif()',
        '',
        f'set(_ctattn_{n}_weights_dir "${{CMAKE_CURRENT_BINARY_DIR}}/ctattn_{n}_weights")',
        f'set(_ctattn_{n}_weights_h "${{_ctattn_{n}_weights_dir}}/ctattn_{n}_weights.h")',
        f'set(_ctattn_{n}_sources "${{CMAKE_CURRENT_LIST_DIR}}/ctattn_{n}.cpp")',
        f'if({P}_WEIGHTS_HEADER)',
        f'    configure_file("${{{P}_WEIGHTS_HEADER}}" "${{_ctattn_{n}_weights_h}}" COPYONLY)',
        f'    list(APPEND _ctattn_{n}_sources "${{_ctattn_{n}_weights_h}}")',
        f'elseif(CTATTN_SOURCE_DIR AND EXISTS "${{{P}_CHECKPOINT}}" AND EXISTS "${{CTATTN_SOURCE_DIR}}/{TOOL}")',
        '    find_package(Python3 COMPONENTS Interpreter REQUIRED)',
        f'    add_custom_command(OUTPUT "${{_ctattn_{n}_weights_h}}"',
        f'        COMMAND "${{CMAKE_COMMAND}}" -E make_directory "${{_ctattn_{n}_weights_dir}}"',
        f'        COMMAND Python3::Interpreter "${{CTATTN_SOURCE_DIR}}/{TOOL}" "${{CTATTN_SOURCE_DIR}}/{cfg["source"]}"',
        f'                --checkpoint "${{{P}_CHECKPOINT}}" --weights-header "${{_ctattn_{n}_weights_h}}"',
        f'        DEPENDS "${{CTATTN_SOURCE_DIR}}/{TOOL}" "${{CTATTN_SOURCE_DIR}}/{cfg["source"]}" "${{{P}_CHECKPOINT}}"',
        f'        COMMENT "ctattn: writing ctattn_{n}_weights.h from ${{{P}_CHECKPOINT}}"',
        '        VERBATIM)',
        f'    list(APPEND _ctattn_{n}_sources "${{_ctattn_{n}_weights_h}}")',
        'else()',
        f'    message(WARNING "ctattn_{n}: no weights header and no checkpoint: built WITHOUT built-in weights "',
        f'                    "(ctattn_{n}_init returns NO_BUILTIN_WEIGHTS; use ctattn_{n}_init_with_weights or _init_with_blob)")',
        'endif()',
        '',
        f'add_library(ctattn_{n} STATIC ${{_ctattn_{n}_sources}})',
        f'add_library(ctattn::{n} ALIAS ctattn_{n})',
        f'target_compile_features(ctattn_{n} PRIVATE cxx_std_20)',
        f'target_include_directories(ctattn_{n} PUBLIC "${{CMAKE_CURRENT_LIST_DIR}}" PRIVATE "${{_ctattn_{n}_weights_dir}}")',
        f'target_compile_definitions(ctattn_{n} PUBLIC {P}_SEQ_CAPACITY=${{{P}_SEQ_CAPACITY}}u)',
        f'target_compile_options(ctattn_{n} PRIVATE $<$<COMPILE_LANG_AND_ID:CXX,GNU,Clang,AppleClang>:-fno-exceptions -fno-rtti>)',
        f'target_link_libraries(ctattn_{n} PRIVATE ctattn::ctattn)',
        '# The library calls expf/sqrtf: libm is a library of its own for glibc and newlib (the compiler',
        '# driver finds the right multilib), part of the C runtime for MSVC.',
        'if(NOT MSVC)',
        f'    target_link_libraries(ctattn_{n} PUBLIC m)',
        'endif()',
        ''])


def format_float(x):
    text = '%.9g' % x
    if 'e' not in text and '.' not in text and 'n' not in text:
        text += '.0'
    return text + 'f'


def source_relative(path):
    """path as given on a command line run from the source root."""
    return os.path.relpath(os.path.abspath(path), ROOT)


def write_weights_header(cfg, checkpoint_path, out_path):
    with open(checkpoint_path, 'rb') as f:
        data = f.read()
    digest = hashlib.sha256(data).hexdigest()
    want = cfg.get('checkpoint', {}).get('sha256')
    if want and want != digest:
        raise ConfigError(f'{checkpoint_path}: SHA-256 {digest}, the configuration expects {want}')
    if cfg['format']['kind'] == 'q8':
        return write_q8_weights_header(cfg, checkpoint_path, out_path, data, digest)
    image, table = weights_image(cfg, data)
    n, P = cfg['name'], f'CTATTN_{cfg["name"].upper()}'
    command = (f'python3 {TOOL} {cfg["source"]} --checkpoint {source_relative(checkpoint_path)} '
               f'--weights-header {source_relative(out_path)}')
    out = [banner(cfg, '/*', command)[:-len(' */')],
           f' * Weights of {os.path.basename(checkpoint_path)} (SHA-256 {digest}),',
           f' * {len(image)} floats in the kernels\' layout (x @ W: projections (in, out) row-major), each',
           ' * tensor at a multiple of 16 floats, in the order of ctattn::for_each_tensor. Include from one',
           ' * translation unit: the array is `static const`, i.e. .rodata (flash) there. */',
           f'#ifndef {P}_WEIGHTS_H',
           f'#define {P}_WEIGHTS_H',
           f'#define {P}_WEIGHTS_SHA256 "{digest}"',
           '#if defined(__cplusplus)',
           f'alignas(64) static const float ctattn_{n}_weights[{len(image)}] = {{',
           '#else',
           f'_Alignas(64) static const float ctattn_{n}_weights[{len(image)}] = {{',
           '#endif']
    bounds = {offset: (name, layer, rows, cols) for name, layer, rows, cols, offset in table}
    for start in range(0, len(image), 8):
        if start in bounds:
            name, layer, rows, cols = bounds[start]
            where = name if layer is None else f'layer {layer} {name}'
            out.append(f'/* {where} ({rows}, {cols}) at {start} */')
        out.append(', '.join(format_float(x) for x in image[start:start + 8]) + ',')
    out += ['};', f'#endif /* {P}_WEIGHTS_H */', '']
    return '\n'.join(out)


def write_q8_weights_header(cfg, checkpoint_path, out_path, data, digest):
    """The weights header of a Q8 configuration: the float image (norms, scales) and the code image."""
    floats, codes, table = weights_image_parts(cfg, data)
    n, P = cfg['name'], f'CTATTN_{cfg["name"].upper()}'
    fmt = cfg['format']
    command = (f'python3 {TOOL} {cfg["source"]} --checkpoint {source_relative(checkpoint_path)} '
               f'--weights-header {source_relative(out_path)}')
    out = [banner(cfg, '/*', command)[:-len(' */')],
           f' * Weights of {os.path.basename(checkpoint_path)} (SHA-256 {digest}) in the Q8 format',
           f' * (q8_weights<q8_group_rule<{fmt["max_group"]}, {fmt["min_group"]}>>): {len(floats)} floats (norms, and each',
           f' * int8 tensor\'s scales) and {len(codes)} int8 codes, each tensor at a multiple of 16 floats or 64',
           ' * codes, in the order of ctattn::for_each_tensor (include/ctattn/model/weights_image.hpp):',
           f' *   make_weights_view<config>(ctattn_{n}_weights, ctattn_{n}_weight_codes)',
           ' * Include from one translation unit: the arrays are `static const`, i.e. .rodata (flash) there. */',
           f'#ifndef {P}_WEIGHTS_H',
           f'#define {P}_WEIGHTS_H',
           f'#define {P}_WEIGHTS_SHA256 "{digest}"',
           f'#define {P}_WEIGHTS_FLOATS {len(floats)}',
           f'#define {P}_WEIGHT_CODES {len(codes)}',
           '#include <stdint.h>',
           '#if defined(__cplusplus)',
           f'alignas(64) static const float ctattn_{n}_weights[{len(floats)}] = {{',
           '#else',
           f'_Alignas(64) static const float ctattn_{n}_weights[{len(floats)}] = {{',
           '#endif']
    float_bounds = {row[4]: row for row in table}
    for start in range(0, len(floats), 8):
        if start in float_bounds:
            name, layer, rows, cols, _, code_offset = float_bounds[start]
            where = name if layer is None else f'layer {layer} {name}'
            what = 'scales of ' if code_offset is not None else ''
            out.append(f'/* {what}{where} ({rows}, {cols}) at {start} */')
        out.append(', '.join(format_float(x) for x in floats[start:start + 8]) + ',')
    out += ['};',
            '#if defined(__cplusplus)',
            f'alignas(64) static const int8_t ctattn_{n}_weight_codes[{len(codes)}] = {{',
            '#else',
            f'_Alignas(64) static const int8_t ctattn_{n}_weight_codes[{len(codes)}] = {{',
            '#endif']
    code_bounds = {row[5]: row for row in table if row[5] is not None}
    for start in range(0, len(codes), 32):
        if start in code_bounds:
            name, layer, rows, cols, _, _ = code_bounds[start]
            where = name if layer is None else f'layer {layer} {name}'
            out.append(f'/* codes of {where} ({rows}, {cols}) at {start} */')
        out.append(','.join(str(c) for c in codes[start:start + 32]) + ',')
    out += ['};', f'#endif /* {P}_WEIGHTS_H */', '']
    return '\n'.join(out)


SPDX = 'SPDX-License-Identifier: Apache-2.0'  # ctattn's licence (LICENSE); tools/spdx.py checks every file


def with_spdx(name, text):
    """The licence line first, in the file's own comment syntax (C89-safe in the C header)."""
    if name.endswith(('.h', '.c')):
        return f'/* {SPDX} */\n' + text
    if name.endswith(('.hpp', '.cpp')):
        return f'// {SPDX}\n' + text
    return f'# {SPDX}\n' + text


def api_files(cfg):
    return {name: with_spdx(name, text) for name, text in api_sources(cfg).items()}


def api_sources(cfg):
    n = cfg['name']
    if cfg['format']['kind'] != 'float32':
        raise ConfigError(f'{cfg["given"]}: "weight_format" {cfg["format"]["kind"]}: the generated C API takes float '
                          'weights only; write the Q8 weights header (--weights-header) and view it from C++ '
                          '(make_weights_view<config>(floats, codes), include/ctattn/model/weights_image.hpp)')
    return {f'ctattn_{n}.h': write_c_header(cfg), f'ctattn_{n}_config.hpp': write_config_hpp(cfg),
            f'ctattn_{n}.cpp': write_cpp(cfg), 'meson.build': write_meson(cfg), 'CMakeLists.txt': write_cmake(cfg)}


def write_files(files, folder):
    os.makedirs(folder, exist_ok=True)
    for name, text in files.items():
        with open(os.path.join(folder, name), 'w') as f:
            f.write(text)


def check(cfg, folder, command):
    """Regenerates into a temporary folder and compares with the checked-in files."""
    stale = []
    with tempfile.TemporaryDirectory() as tmp:
        write_files(api_files(cfg), tmp)
        for name in sorted(os.listdir(tmp)):
            with open(os.path.join(tmp, name)) as f:
                fresh = f.read()
            path = os.path.join(folder, name)
            current = open(path).read() if os.path.exists(path) else ''
            if fresh != current:
                stale.append(name)
                sys.stdout.writelines(difflib.unified_diff(current.splitlines(True), fresh.splitlines(True),
                                                           path, name + ' (regenerated)'))
    if stale:
        print(f'ctattn_gen.py: {folder} is stale ({", ".join(stale)}); run {command}')
        return 1
    print(f'ctattn_gen.py: {folder} is up to date')
    return 0


def write_blob(cfg, checkpoint_path, out_path):
    """The checkpoint as a ctattn blob (tools/ctattn_blob.py). The blob's payload must be this
    configuration's weights image byte for byte, so both writers are checked against each other."""
    import ctattn_blob
    with open(checkpoint_path, 'rb') as f:
        data = f.read()
    if cfg['format']['kind'] == 'q8':  # also checks the checkpoint against the configuration
        floats, codes, _ = weights_image_parts(cfg, data)
        image_bytes = struct.pack(f'<{len(floats)}f', *floats) + struct.pack(f'<{len(codes)}b', *codes)
        blob = ctattn_blob.blob_from_checkpoint(data, cfg['format'])
    else:
        image, _ = weights_image(cfg, data)  # also checks the checkpoint against the configuration
        image_bytes = struct.pack(f'<{len(image)}f', *image)
        blob = ctattn_blob.blob_from_checkpoint(data)
    header = ctattn_blob.parse_header(blob)
    payload_offset, payload_bytes = header['payload_offset'], header['payload_bytes']
    if blob[payload_offset:payload_offset + payload_bytes] != image_bytes:
        raise ConfigError(f'{out_path}: the blob payload differs from the weights image of {cfg["given"]}')
    with open(out_path, 'wb') as f:
        f.write(blob)
    print(f'ctattn_gen.py: wrote {out_path} ({len(blob)} bytes)')
    return 0


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('config', help='configs/<name>.json')
    parser.add_argument('--out', help='output folder (default generated/<name>)')
    parser.add_argument('--check', action='store_true', help='compare with the files in --out, write nothing')
    parser.add_argument('--checkpoint', help='llama2.c checkpoint (default: the path in the configuration)')
    parser.add_argument('--weights-header', metavar='FILE', help='write only the weights header, to FILE')
    parser.add_argument('--blob', metavar='OUT', help='write only a validated weight blob (docs/formats.md), to OUT')
    args = parser.parse_args()
    try:
        cfg = load_config(args.config)
        folder = args.out or os.path.join(ROOT, 'generated', cfg['name'])
        if args.weights_header:
            checkpoint = args.checkpoint or os.path.join(ROOT, cfg['checkpoint']['path'])
            text = write_weights_header(cfg, checkpoint, args.weights_header)
            with open(args.weights_header, 'w') as f:
                f.write(text)
            return 0
        if args.blob:
            return write_blob(cfg, args.checkpoint or os.path.join(ROOT, cfg['checkpoint']['path']), args.blob)
        if args.check:
            regenerate = ' '.join(['python3', sys.argv[0], args.config] + (['--out', args.out] if args.out else []))
            return check(cfg, folder, regenerate)
        write_files(api_files(cfg), folder)
        print(f'ctattn_gen.py: wrote {os.path.join(folder, "")} ({", ".join(sorted(api_files(cfg)))})')
        return 0
    except FileNotFoundError as e:
        print(f'ctattn_gen.py: file not found: {e.filename}', file=sys.stderr)
        return 1
    except (ConfigError, KeyError, OSError) as e:
        print(f'ctattn_gen.py: {e}', file=sys.stderr)
        return 1


if __name__ == '__main__':
    sys.exit(main())
