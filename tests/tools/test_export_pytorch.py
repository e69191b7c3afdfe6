#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""tools/export_pytorch.py on a llama-shaped state dict of awkward extents (d_model 12, 3 heads
sharing 1 K/V head, d_ff 20, 2 layers, vocab 13, context 7), tied and untied, as nested lists (the
conversion takes any tensor with tolist(); torch is needed only to open a .pt file):
- the checkpoint reads back through tools/checkpoint.py (the reader tools/ctattn_gen.py uses, which
  mirrors include/ctattn/io/llama2c.hpp) with every tensor equal to the source, transposed to (in,
  out), after rounding to float32, and the RoPE tables equal to cos/sin of p * theta^(-2i/head_dim);
- tools/ctattn_gen.py accepts the description and writes the package and the weights header from
  the checkpoint, whose SHA-256 the description records;
- a wrong head count, a NaN, a missing tensor are refused by name."""
import json
import math
import os
import random
import struct
import subprocess
import sys
import tempfile

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.join(ROOT, "tools"))
import checkpoint  # noqa: E402
import export_pytorch  # noqa: E402

DIM, HEADS, KV_HEADS, HIDDEN, LAYERS, VOCAB, SEQ = 12, 3, 1, 20, 2, 13, 7
rng = random.Random(5)


def matrix(rows, cols):
    return [[rng.uniform(-1, 1) for _ in range(cols)] for _ in range(rows)]


def state_dict(tied):
    kv = KV_HEADS * DIM // HEADS
    s = {"tok_embeddings.weight": matrix(VOCAB, DIM), "norm.weight": [rng.uniform(0.5, 1.5) for _ in range(DIM)]}
    for i in range(LAYERS):
        s[f"layers.{i}.attention_norm.weight"] = [rng.uniform(0.5, 1.5) for _ in range(DIM)]
        s[f"layers.{i}.ffn_norm.weight"] = [rng.uniform(0.5, 1.5) for _ in range(DIM)]
        for name, rows, cols in (("wq", DIM, DIM), ("wk", kv, DIM), ("wv", kv, DIM), ("wo", DIM, DIM)):
            s[f"layers.{i}.attention.{name}.weight"] = matrix(rows, cols)
        for name, rows, cols in (("w1", HIDDEN, DIM), ("w2", DIM, HIDDEN), ("w3", HIDDEN, DIM)):
            s[f"layers.{i}.feed_forward.{name}.weight"] = matrix(rows, cols)
    s["output.weight"] = s["tok_embeddings.weight"] if tied else matrix(VOCAB, DIM)
    return s


def f32(x):
    return struct.unpack("<f", struct.pack("<f", x))[0]


def check_round_trip(state, tied, folder, failures):
    ckpt, cfg_path = os.path.join(folder, "m.bin"), os.path.join(folder, "m.json")
    export_pytorch.export(state, "exported_model", HEADS, KV_HEADS, SEQ, ckpt, cfg_path)
    data = open(ckpt, "rb").read()
    h = checkpoint.read_header(data)
    want_header = {"dim": DIM, "hidden_dim": HIDDEN, "n_layers": LAYERS, "n_heads": HEADS, "n_kv_heads": KV_HEADS,
                   "vocab_size": VOCAB, "tied": tied, "seq_len": SEQ}
    if h != want_header:
        failures.append(f"tied={tied}: header {h}")
    tensors = checkpoint.read_tensors(data, h)
    for (name, layer), got in tensors.items():
        key = export_pytorch.STATE_NAMES[name].format(layer)
        src = state[key]
        if name == "embedding":  # (vocab, d_model) in both
            want = [x for row in src for x in row]
        elif isinstance(src[0], list):  # (out, in) in the state dict, (in, out) in ctattn's image
            want = [src[o][i] for i in range(len(src[0])) for o in range(len(src))]
        else:
            want = src
        if [f32(x) for x in want] != list(got):
            failures.append(f"tied={tied}: {key} differs after the round trip")
    half = DIM // HEADS // 2
    floats = checkpoint.file_floats(data)
    rope_at = len(floats) - (0 if tied else VOCAB * DIM) - 2 * SEQ * half
    for p in (0, 3, SEQ - 1):
        for i in range(half):
            angle = p * 10000.0 ** (-2 * i / (2 * half))
            if abs(floats[rope_at + p * half + i] - math.cos(angle)) > 1e-6 or \
               abs(floats[rope_at + SEQ * half + p * half + i] - math.sin(angle)) > 1e-6:
                failures.append(f"tied={tied}: RoPE table at position {p}, pair {i}")
    cfg = json.load(open(cfg_path))
    if cfg["head"]["kind"] != ("tied" if tied else "untied") or cfg["block"]["attention"]["kv_heads"] != KV_HEADS:
        failures.append(f"tied={tied}: description {cfg['head']}, {cfg['block']['attention']}")
    gen = os.path.join(ROOT, "tools", "ctattn_gen.py")
    out = subprocess.run([sys.executable, gen, cfg_path, "--out", os.path.join(folder, "pkg")],
                         capture_output=True, text=True)
    weights = subprocess.run([sys.executable, gen, cfg_path, "--weights-header", os.path.join(folder, "w.h")],
                             capture_output=True, text=True)
    if out.returncode != 0 or weights.returncode != 0:
        failures.append(f"tied={tied}: ctattn_gen.py refused the export: {out.stderr}{weights.stderr}")
    elif "exported_model" not in open(os.path.join(folder, "w.h")).read():
        failures.append(f"tied={tied}: the weights header does not name the model")


def check_refusals(folder, failures):
    cases = []
    wrong_heads = state_dict(True)
    cases.append(("a head count that does not match wk", wrong_heads, 4, 2, "wk has"))
    nan = state_dict(True)
    nan["layers.1.feed_forward.w2.weight"][3][5] = float("nan")
    cases.append(("a NaN", nan, HEADS, KV_HEADS, "NaN"))
    missing = state_dict(False)
    del missing["layers.1.ffn_norm.weight"]
    cases.append(("a missing tensor", missing, HEADS, KV_HEADS, "layers.1.ffn_norm.weight"))
    for what, state, heads, kv, needle in cases:
        try:
            export_pytorch.export(state, "bad", heads, kv, SEQ, os.path.join(folder, "bad.bin"),
                                  os.path.join(folder, "bad.json"))
            failures.append(f"{what}: exported")
        except export_pytorch.ExportError as e:
            if needle not in str(e):
                failures.append(f"{what}: message {e!r} does not name {needle!r}")


def main():
    failures = []
    with tempfile.TemporaryDirectory() as folder:
        for tied in (True, False):
            check_round_trip(state_dict(tied), tied, folder, failures)
        check_refusals(folder, failures)
    for f in failures:
        print("FAIL:", f)
    print(f"export_pytorch: {len(failures)} failures")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
