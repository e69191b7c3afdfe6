#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""tools/ctattn_gen.py's "kv_storage" key: for float32, float16 and int8, generate stories260K's C API
into a temporary folder, check the KV cache size macro against the layout worked out here by hand
(per layer, K and V: seq_capacity x kv_dim elements, plus for int8 one 16-bit scale per row and KV
head, each array padded to 64 bytes), and compile the generated .cpp, whose static_asserts compare
the macros with the library's own sizeof (the KV cache exactly, the state within 1 KiB).

    check_gen_kv_storage.py CXX [CXX args...]
"""
import json
import os
import re
import subprocess
import sys
import tempfile

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def align64(n):
    return (n + 63) // 64 * 64


# stories260K: 5 layers, seq 512, kv_heads 4 of head_dim 8 (kv_dim 32).
LAYERS, SEQ, KV_HEADS, KV_DIM = 5, 512, 4, 32
EXPECTED = {
    'float32': LAYERS * 2 * align64(SEQ * KV_DIM * 4),                     # 655,360
    'float16': LAYERS * 2 * align64(SEQ * KV_DIM * 2 + 4),                 # 328,320 (an unused scale)
    'int8': LAYERS * 2 * align64(SEQ * KV_DIM * 1 + SEQ * KV_HEADS * 2),   # 204,800
}


def macro_value(header, name, seq):
    """Evaluates the C macro `name` with the header's other macros (integers and + * / only)."""
    defs = dict(re.findall(r'#define (\w+) (.+)', header))
    layer = re.search(r'#define (\w+_KV_LAYER_BYTES)\(kv_dim, kv_heads\) (.+)', header)
    expr = defs[name]
    for _ in range(10):
        expr = re.sub(layer.group(1) + r'\((\w+), (\w+)\)',
                      lambda m: '(' + layer.group(2).replace('(kv_dim)', m.group(1)).replace('(kv_heads)', m.group(2)) + ')',
                      expr)
        expr = re.sub(r'\b(CTATTN_\w+)\b', lambda m: '(' + defs[m.group(1)] + ')' if m.group(1) in defs else m.group(1), expr)
    expr = re.sub(r'(\d+)u\b', r'\1', expr).replace('/', '//')
    return eval(expr)  # noqa: S307 (our own generated integer arithmetic)


def main():
    cxx = sys.argv[1:]
    with open(os.path.join(ROOT, 'configs', 'stories260k.json')) as f:
        base = json.load(f)
    failures = 0
    for kv, want in EXPECTED.items():
        with tempfile.TemporaryDirectory() as tmp:
            cfg = dict(base, kv_storage=kv)
            path = os.path.join(tmp, 'stories260k.json')
            with open(path, 'w') as f:
                json.dump(cfg, f)
            out = os.path.join(tmp, 'out')
            subprocess.run([sys.executable, os.path.join(ROOT, 'tools', 'ctattn_gen.py'), path, '--out', out],
                           check=True, stdout=subprocess.DEVNULL)
            with open(os.path.join(out, 'ctattn_stories260k.h')) as f:
                header = f.read()
            got = macro_value(header, 'CTATTN_STORIES260K_KV_CACHE_BYTES', SEQ)
            ok = got == want and f'#define CTATTN_STORIES260K_KV_STORAGE "{kv}"' in header
            print(f'{kv}: KV_CACHE_BYTES {got}, by hand {want}: {"ok" if ok else "FAIL"}')
            failures += not ok
            compiled = subprocess.run(cxx + ['-std=c++20', '-fsyntax-only', '-fno-exceptions', '-fno-rtti',
                                             '-I' + os.path.join(ROOT, 'include'), '-I' + out,
                                             os.path.join(out, 'ctattn_stories260k.cpp')],
                                      capture_output=True, text=True)
            print(f'{kv}: generated .cpp static_asserts: {"ok" if compiled.returncode == 0 else "FAIL"}')
            if compiled.returncode != 0:
                print(compiled.stderr[-4000:])
                failures += 1
    with tempfile.TemporaryDirectory() as tmp:  # an unknown type is an error naming the choices
        path = os.path.join(tmp, 'bad.json')
        with open(path, 'w') as f:
            json.dump(dict(base, kv_storage='int4'), f)
        bad = subprocess.run([sys.executable, os.path.join(ROOT, 'tools', 'ctattn_gen.py'), path, '--out', tmp],
                             capture_output=True, text=True)
        ok = bad.returncode != 0 and 'float32, float16, int8' in bad.stderr
        print(f'kv_storage "int4" rejected by name: {"ok" if ok else "FAIL"}')
        failures += not ok
    return 1 if failures else 0


if __name__ == '__main__':
    sys.exit(main())
