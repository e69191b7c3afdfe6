#!/usr/bin/env python3
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
                               (include/ctattn/model/weights_image.hpp), with the checkpoint's SHA-256

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

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TOOL = 'tools/ctattn_gen.py'
ALIGN_FLOATS = 16  # tensors start at multiples of 16 floats (weight_storage.hpp)


class ConfigError(Exception):
    pass


# ---- the model description ------------------------------------------------------------------

def eps_exponent(text):
    """'1e-5' -> 5: ctattn's eps types are powers of ten (eps_1e_minus<N>)."""
    value = float(text)
    for n in range(1, 19):
        if abs(value - 10.0 ** -n) <= 1e-12 * 10.0 ** -n:
            return n
    raise ConfigError(f'eps {text}: only powers of ten 1e-1 .. 1e-18 are supported')


def load_config(path):
    with open(path) as f:
        cfg = json.load(f)
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
    cfg['source'] = os.path.relpath(os.path.abspath(path), ROOT)
    cfg.setdefault('arch', 'default')
    cfg.setdefault('prefill_rows', 1)
    cfg.setdefault('bos_token', 1)
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


# ---- the weights image (order and padding of include/ctattn/model/weights_image.hpp) ----------

def tensor_layout(cfg):
    """[(name, layer or None, rows, cols)] in the canonical order of ctattn::for_each_tensor."""
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


def padded(n):
    return (n + ALIGN_FLOATS - 1) // ALIGN_FLOATS * ALIGN_FLOATS


def image_floats(cfg):
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
    if len(data) < 28:
        raise ConfigError('checkpoint: shorter than its header')
    dim, hidden, n_layers, n_heads, n_kv_heads, vocab_size, seq_len = struct.unpack_from('<7i', data, 0)
    d, ff, kv = a['d_model'], f['d_ff'], a['kv_heads'] * (a['d_model'] // a['heads'])
    want = (d, ff, len(blocks), a['heads'], a['kv_heads'], cfg['vocab'])
    if (dim, hidden, n_layers, n_heads, n_kv_heads, abs(vocab_size)) != want:
        raise ConfigError(f'checkpoint: header {(dim, hidden, n_layers, n_heads, n_kv_heads, vocab_size)} '
                          f'does not match the configuration {want}')
    if (vocab_size > 0) != (cfg['head']['kind'] == 'tied'):
        raise ConfigError('checkpoint: tied/untied classifier does not match the configuration\'s head')
    v, L, head_dim = cfg['vocab'], len(blocks), d // a['heads']
    floats = (v * d + L * d + 2 * L * d * d + 2 * L * kv * d + L * d + 3 * L * ff * d + d + seq_len * head_dim
              + (v * d if vocab_size < 0 else 0))
    if len(data) != 28 + 4 * floats:
        raise ConfigError(f'checkpoint: {len(data)} bytes, the header implies {28 + 4 * floats}')
    values = struct.unpack_from(f'<{floats}f', data, 28)
    if not all(math.isfinite(x) for x in values):
        raise ConfigError('checkpoint: holds non-finite values (inf or NaN)')
    at = 0

    def take(n):
        nonlocal at
        chunk = values[at:at + n]
        at += n
        return list(chunk)

    def transposed(out_features, in_features):  # file (out, in) -> (in, out)
        m = take(out_features * in_features)
        return [m[o * in_features + i] for i in range(in_features) for o in range(out_features)]

    t = {('embedding', None): take(v * d)}
    for name, rows, cols in (('attention_norm.gain', None, None), ('attention.wq', d, d), ('attention.wk', kv, d),
                             ('attention.wv', kv, d), ('attention.wo', d, d), ('ffn_norm.gain', None, None),
                             ('ffn.w1', ff, d), ('ffn.w2', d, ff), ('ffn.w3', ff, d)):
        for layer in range(L):
            t[(name, layer)] = take(d) if rows is None else transposed(rows, cols)
    t[('final_norm.gain', None)] = take(d)
    take(seq_len * head_dim)  # RoPE tables: unused, ctattn computes RoPE
    if vocab_size < 0:
        t[('head.w_out', None)] = transposed(v, d)
    return t


def weights_image(cfg, checkpoint_bytes):
    """The whole image as (floats, [(name, layer, rows, cols, offset)]): what the flash header holds,
    and what a blob's payload holds (a blob writer imports this)."""
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


# ---- writers ----------------------------------------------------------------------------------

def banner(cfg, comment='//'):
    return f'{comment} Generated by {TOOL} from {cfg["source"]}. Do not edit.'


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
    kv_terms = ' + '.join(f'{P}_KV_LAYER_BYTES({k}u)' for k in kv) if len(set(kv)) > 1 else \
        f'{len(kv)}u * {P}_KV_LAYER_BYTES({kv[0]}u)'
    statuses = read_statuses()
    status_lines = [f'    {P}_{s.upper()} = {i},' for i, s in enumerate(statuses)]
    return '\n'.join([
        f'/* Generated by {TOOL} from {cfg["source"]}. Do not edit. */',
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
        '/* Positions the KV cache holds (prompt + generated tokens). The model description says',
        f' * {cfg["seq_capacity"]}; a RAM-limited board may define a smaller one for the library and its users alike. */',
        f'#ifndef {P}_SEQ_CAPACITY',
        f'#define {P}_SEQ_CAPACITY {cfg["seq_capacity"]}u',
        '#endif',
        f'/* Floats of the weights image (tensors in the kernels\' layout, each padded to 16 floats). */',
        f'#define {P}_WEIGHTS_FLOATS {image_floats(cfg)}u',
        f'#define {P}_KV_LAYER_BYTES(kv_dim) (2u * (({P}_SEQ_CAPACITY * (kv_dim) * 4u + 63u) / 64u * 64u))',
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
        '/* KV cache, one token\'s activations and the weights it reads; opaque, fixed size. */',
        f'typedef struct ctattn_{n}_state {{',
        f'    {P}_ALIGNAS(64) unsigned char opaque[{P}_STATE_BYTES];',
        f'}} ctattn_{n}_state;',
        '',
        '/* ctattn::status, value for value. */',
        f'typedef enum ctattn_{n}_status {{',
        *status_lines,
        f'}} ctattn_{n}_status;',
        '',
        f'const char* ctattn_{n}_status_string(ctattn_{n}_status status);',
        '',
        '/* Built-in weights (constant arrays in flash, from the checkpoint at build time). Returns',
        f' * INVALID_ARGUMENT for a null or misaligned state, or a library built without a checkpoint. */',
        f'ctattn_{n}_status ctattn_{n}_init(ctattn_{n}_state* state);',
        f'/* Weights elsewhere: image holds {P}_WEIGHTS_FLOATS floats in the kernels\' layout (the',
        ' * generated weights header, or a validated blob\'s payload); read in place, never copied, so it',
        ' * must outlive the state. INVALID_LENGTH unless image_floats == WEIGHTS_FLOATS. */',
        f'ctattn_{n}_status ctattn_{n}_init_with_weights(ctattn_{n}_state* state, const float* image,',
        f'                                              size_t image_floats);',
        '/* Forgets every position (O(1)); the weights stay attached. */',
        f'ctattn_{n}_status ctattn_{n}_reset(ctattn_{n}_state* state);',
        '/* Positions held so far (0 for a null or uninitialised state). */',
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
        'using weights_view = ctattn::model_weights_view<config>;',
        'using decoder = ctattn::decoder<config, ctattn::viewed_weights, arch, prefill_rows>;',
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
    return '\n'.join([
        banner(cfg),
        f'// The C functions of ctattn_{n}.h over ctattn::decoder, instantiated once for this model. The',
        '// weights are a model_weights_view: into the built-in constant arrays (flash), or into a',
        '// caller\'s image. No exceptions exist to cross the boundary; errors are status values.',
        f'#include "ctattn_{n}_config.hpp"',
        '',
        '#include <cstdint>',
        '#include <new>',
        '',
        f'#if defined({P}_BUILTIN_WEIGHTS)',
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
        f'constexpr std::uint32_t initialised = 0x63746e31u;',
        '',
        'struct state_impl {',
        '    weights_view weights;  // pointers, into flash or the caller\'s image',
        '    decoder model;         // KV cache + one token\'s rows; reads `weights`',
        '    std::uint32_t magic;',
        '};',
        f'static_assert(sizeof(state_impl) <= {P}_STATE_BYTES, "ctattn: the C state is too small for the model\'s state");',
        f'static_assert({P}_STATE_BYTES - sizeof(state_impl) <= 1024, "ctattn: the C state wastes RAM, regenerate");',
        f'static_assert(alignof(state_impl) <= {P}_STATE_ALIGN, "ctattn: the C state is under-aligned");',
        f'static_assert(config::seq_capacity == {P}_SEQ_CAPACITY && config::vocab == {P}_VOCAB);',
        '',
        f'#if defined({P}_BUILTIN_WEIGHTS)',
        '// A constant expression: the view sits in .rodata next to the arrays it points into.',
        f'constexpr weights_view builtin_weights = ctattn::make_weights_view<config>(ctattn_{n}_weights);',
        '#endif',
        '',
        f'state_impl* impl(ctattn_{n}_state* state) noexcept {{',
        '    if (state == nullptr) return nullptr;',
        '    auto* s = reinterpret_cast<state_impl*>(state->opaque);',
        '    return s->magic == initialised ? s : nullptr;',
        '}',
        '',
        f'ctattn_{n}_status to_c(ctattn::status s) noexcept {{ return static_cast<ctattn_{n}_status>(s); }}',
        '',
        f'ctattn_{n}_status attach(ctattn_{n}_state* state, const weights_view& weights) noexcept {{',
        '    if (state == nullptr || reinterpret_cast<std::uintptr_t>(state->opaque) % alignof(state_impl) != 0)',
        f'        return {P}_INVALID_ARGUMENT;',
        '    auto* s = ::new (static_cast<void*>(state->opaque)) state_impl{weights, {}, initialised};',
        '    s->model.attach(s->weights);',
        f'    return {P}_OK;',
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
        f'ctattn_{n}_status ctattn_{n}_init(ctattn_{n}_state* state) {{',
        f'#if defined({P}_BUILTIN_WEIGHTS)',
        '    return attach(state, builtin_weights);',
        '#else',
        '    (void)state;',
        f'    return {P}_INVALID_ARGUMENT;',
        '#endif',
        '}',
        '',
        f'ctattn_{n}_status ctattn_{n}_init_with_weights(ctattn_{n}_state* state, const float* image, size_t image_floats) {{',
        f'    if (image == nullptr) return {P}_INVALID_ARGUMENT;',
        f'    if (image_floats != {P}_WEIGHTS_FLOATS) return {P}_INVALID_LENGTH;',
        '    return attach(state, ctattn::make_weights_view<config>(image));',
        '}',
        '',
        f'ctattn_{n}_status ctattn_{n}_reset(ctattn_{n}_state* state) {{',
        '    state_impl* s = impl(state);',
        f'    if (s == nullptr) return {P}_INVALID_ARGUMENT;',
        '    s->model.reset();',
        f'    return {P}_OK;',
        '}',
        '',
        f'size_t ctattn_{n}_position(const ctattn_{n}_state* state) {{',
        f'    const state_impl* s = impl(const_cast<ctattn_{n}_state*>(state));',
        '    return s == nullptr ? 0 : s->model.position();',
        '}',
        '',
        f'ctattn_{n}_status ctattn_{n}_prefill(ctattn_{n}_state* state, const uint32_t* tokens, size_t n, float* last_logits) {{',
        '    state_impl* s = impl(state);',
        f'    if (s == nullptr) return {P}_INVALID_ARGUMENT;',
        '    return to_c(s->model.prefill(tokens, n, last_logits));',
        '}',
        '',
        f'ctattn_{n}_status ctattn_{n}_decode_step(ctattn_{n}_state* state, uint32_t token, float* logits) {{',
        '    state_impl* s = impl(state);',
        f'    if (s == nullptr) return {P}_INVALID_ARGUMENT;',
        '    return to_c(s->model.decode_step(token, logits));',
        '}',
        '',
        f'ctattn_{n}_status ctattn_{n}_forward(ctattn_{n}_state* state, const uint32_t* tokens, size_t n, float* logits) {{',
        '    state_impl* s = impl(state);',
        f'    if (s == nullptr || tokens == nullptr || logits == nullptr) return {P}_INVALID_ARGUMENT;',
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
            f'ctattn_{n}_checkpoint = meson.project_source_root() / \'{checkpoint}\'',
            f'if import(\'fs\').exists(ctattn_{n}_checkpoint)',
            f'  ctattn_{n}_weights_h = custom_target(\'ctattn_{n}_weights.h\',',
            f'    input : [meson.project_source_root() / \'{TOOL}\', meson.project_source_root() / \'{cfg["source"]}\',',
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


def format_float(x):
    text = '%.9g' % x
    if 'e' not in text and '.' not in text and 'n' not in text:
        text += '.0'
    return text + 'f'


def write_weights_header(cfg, checkpoint_path):
    with open(checkpoint_path, 'rb') as f:
        data = f.read()
    digest = hashlib.sha256(data).hexdigest()
    want = cfg.get('checkpoint', {}).get('sha256')
    if want and want != digest:
        raise ConfigError(f'{checkpoint_path}: SHA-256 {digest}, the configuration expects {want}')
    image, table = weights_image(cfg, data)
    n, P = cfg['name'], f'CTATTN_{cfg["name"].upper()}'
    out = [f'/* Generated by {TOOL} from {cfg["source"]}. Do not edit.',
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


def api_files(cfg):
    n = cfg['name']
    return {f'ctattn_{n}.h': write_c_header(cfg), f'ctattn_{n}_config.hpp': write_config_hpp(cfg),
            f'ctattn_{n}.cpp': write_cpp(cfg), 'meson.build': write_meson(cfg)}


def write_files(files, folder):
    os.makedirs(folder, exist_ok=True)
    for name, text in files.items():
        with open(os.path.join(folder, name), 'w') as f:
            f.write(text)


def check(cfg, folder):
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
        print(f'ctattn_gen.py: {folder} is stale ({", ".join(stale)}); run {TOOL} {cfg["source"]}')
        return 1
    print(f'ctattn_gen.py: {folder} is up to date')
    return 0


def write_blob(cfg, checkpoint_path, out_path):
    """The checkpoint as a ctattn blob (tools/ctattn_blob.py). The blob's payload must be this
    configuration's weights image byte for byte, so both writers are checked against each other."""
    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    import ctattn_blob
    with open(checkpoint_path, 'rb') as f:
        data = f.read()
    image, _ = weights_image(cfg, data)  # also checks the checkpoint against the configuration
    blob = ctattn_blob.blob_from_checkpoint(data)
    payload_offset, payload_bytes = struct.unpack_from('<QQ', blob, 32)
    if blob[payload_offset:payload_offset + payload_bytes] != struct.pack(f'<{len(image)}f', *image):
        raise ConfigError(f'{out_path}: the blob payload differs from the weights image of {cfg["source"]}')
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
            text = write_weights_header(cfg, checkpoint)
            with open(args.weights_header, 'w') as f:
                f.write(text)
            return 0
        if args.blob:
            return write_blob(cfg, args.checkpoint or os.path.join(ROOT, cfg['checkpoint']['path']), args.blob)
        if args.check:
            return check(cfg, folder)
        write_files(api_files(cfg), folder)
        print(f'ctattn_gen.py: wrote {os.path.relpath(folder, ROOT)}/ ({", ".join(sorted(api_files(cfg)))})')
        return 0
    except FileNotFoundError as e:
        print(f'ctattn_gen.py: file not found: {e.filename}', file=sys.stderr)
        return 1
    except (ConfigError, KeyError, OSError) as e:
        print(f'ctattn_gen.py: {e}', file=sys.stderr)
        return 1


if __name__ == '__main__':
    sys.exit(main())
