#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""A llama-shaped PyTorch model to what ctattn reads: a llama2.c checkpoint (version 0, the format
tools/checkpoint.py and include/ctattn/io/llama2c.hpp read) and a model description
configs/<name>.json for tools/ctattn_gen.py. Standard library only; torch is needed only to open a
.pt file (the conversion itself takes any mapping of names to tensors or nested lists).

State-dict names are those of llama2.c's model.py (Karpathy): tok_embeddings.weight (vocab, dim),
layers.<i>.attention_norm.weight, layers.<i>.attention.{wq,wk,wv,wo}.weight (out, in),
layers.<i>.ffn_norm.weight, layers.<i>.feed_forward.{w1,w2,w3}.weight, norm.weight, and
output.weight (vocab, dim; tied when it equals the embedding). Shapes give every extent but the
head count, which the caller states.

    python3 tools/export_pytorch.py model.pt --heads 8 [--kv-heads 4] --seq-len 512 --name mymodel \\
        --checkpoint mymodel.bin --config configs/mymodel.json
then
    python3 tools/ctattn_gen.py configs/mymodel.json          # generated/mymodel/, the C API
"""
import argparse
import hashlib
import json
import math
import os
import struct
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import checkpoint  # noqa: E402  (the one llama2.c tensor order)


class ExportError(ValueError):
    pass


def flat(tensor):
    """A tensor (torch, or anything with tolist()) or nested lists, as a flat list of floats."""
    if hasattr(tensor, "detach"):
        tensor = tensor.detach().cpu().float().reshape(-1).tolist()
    elif hasattr(tensor, "tolist"):
        tensor = tensor.tolist()
    out = []
    stack = [tensor]
    while stack:
        item = stack.pop()
        if isinstance(item, (list, tuple)):
            stack.extend(reversed(item))
        else:
            out.append(float(item))
    return out


def shape_of(tensor):
    if hasattr(tensor, "shape"):
        return tuple(int(n) for n in tensor.shape)
    shape = []
    while isinstance(tensor, (list, tuple)):
        shape.append(len(tensor))
        tensor = tensor[0] if tensor else None
    return tuple(shape)


def header_of(state, heads, kv_heads, seq_len):
    """The llama2.c header dict (checkpoint.header_dict's keys) that the state dict's shapes give."""
    if "tok_embeddings.weight" not in state:
        raise ExportError("no tok_embeddings.weight: not a llama2.c-style state dict")
    vocab, dim = shape_of(state["tok_embeddings.weight"])
    layers = 0
    while f"layers.{layers}.attention.wq.weight" in state:
        layers += 1
    if layers == 0:
        raise ExportError("no layers.0.attention.wq.weight")
    hidden = shape_of(state["layers.0.feed_forward.w1.weight"])[0]
    kv_heads = kv_heads or heads
    if dim % heads or heads % kv_heads:
        raise ExportError(f"dim {dim} must be divisible by heads {heads}, and heads by kv_heads {kv_heads}")
    kv_dim = kv_heads * (dim // heads)
    got_kv = shape_of(state["layers.0.attention.wk.weight"])[0]
    if got_kv != kv_dim:
        raise ExportError(f"wk has {got_kv} rows; heads {heads} and kv_heads {kv_heads} give {kv_dim}")
    tied = "output.weight" not in state or flat(state["output.weight"]) == flat(state["tok_embeddings.weight"])
    return checkpoint.header_dict((dim, hidden, layers, heads, kv_heads, vocab if tied else -vocab, seq_len))


STATE_NAMES = {
    "embedding": "tok_embeddings.weight", "attention_norm.gain": "layers.{}.attention_norm.weight",
    "attention.wq": "layers.{}.attention.wq.weight", "attention.wk": "layers.{}.attention.wk.weight",
    "attention.wv": "layers.{}.attention.wv.weight", "attention.wo": "layers.{}.attention.wo.weight",
    "ffn_norm.gain": "layers.{}.ffn_norm.weight", "ffn.w1": "layers.{}.feed_forward.w1.weight",
    "ffn.w2": "layers.{}.feed_forward.w2.weight", "ffn.w3": "layers.{}.feed_forward.w3.weight",
    "final_norm.gain": "norm.weight", "head.w_out": "output.weight",
}


def rope_tables(h, theta):
    """freq_cis_real then freq_cis_imag, (seq_len, head_dim / 2) each, as llama2.c's export writes
    them (ctattn computes RoPE itself and skips them, but the format carries them)."""
    half = (h["dim"] // h["n_heads"]) // 2
    freqs = [1.0 / theta ** (2 * i / (2 * half)) for i in range(half)]
    real = [math.cos(p * f) for p in range(h["seq_len"]) for f in freqs]
    imag = [math.sin(p * f) for p in range(h["seq_len"]) for f in freqs]
    return real + imag


def checkpoint_bytes(state, h, theta):
    """The whole llama2.c file: the 7 int32 then every tensor in checkpoint.llama2c_order."""
    vocab_field = h["vocab_size"] if h["tied"] else -h["vocab_size"]
    out = [struct.pack("<7i", h["dim"], h["hidden_dim"], h["n_layers"], h["n_heads"], h["n_kv_heads"],
                       vocab_field, h["seq_len"])]
    for name, layer, shape in checkpoint.llama2c_order(h):
        if name is None:
            values = rope_tables(h, theta)
        else:
            key = STATE_NAMES[name].format(layer)
            if key not in state:
                raise ExportError(f"missing {key}")
            values = flat(state[key])
        want = shape[0] * (shape[1] if len(shape) == 2 else 1)
        if len(values) != want:
            raise ExportError(f"{name} (layer {layer}): {len(values)} values, the header gives {want}")
        if not all(math.isfinite(v) for v in values):
            raise ExportError(f"{name} (layer {layer}): holds NaN or infinity")
        out.append(struct.pack(f"<{len(values)}f", *values))
    return b"".join(out)


def description(h, name, theta, checkpoint_path, digest, eps):
    """configs/<name>.json for the exported model (the keys of configs/stories260k.json)."""
    norm = {"kind": "rms_norm", "eps": eps}
    return {
        "name": name,
        "description": f"exported from PyTorch: {h['n_layers']} llama layers, d_model {h['dim']}, "
                       f"{h['n_heads']} heads ({h['n_kv_heads']} K/V), SwiGLU d_ff {h['hidden_dim']}",
        "vocab": h["vocab_size"], "seq_capacity": h["seq_len"],
        "position": {"kind": "rotary", "theta": theta}, "final_norm": norm,
        "head": {"kind": "tied" if h["tied"] else "untied"}, "layers": h["n_layers"],
        "block": {"attention": {"d_model": h["dim"], "heads": h["n_heads"], "kv_heads": h["n_kv_heads"],
                                "bias": False, "mask": {"kind": "causal"}},
                  "ffn": {"kind": "gated", "activation": "silu", "bias": False, "d_ff": h["hidden_dim"]},
                  "norm": norm, "placement": "pre_norm"},
        "checkpoint": {"format": "llama2c", "path": checkpoint_path, "sha256": digest},
    }


def export(state, name, heads, kv_heads, seq_len, checkpoint_path, config_path, theta=10000, eps="1e-5"):
    """Writes the checkpoint and the description; returns the header dict."""
    if not name.isidentifier() or name != name.lower():
        raise ExportError("name must be a lower-case C identifier")
    h = header_of(state, heads, kv_heads, seq_len)
    data = checkpoint_bytes(state, h, theta)
    checkpoint.read_tensors(data, checkpoint.read_header(data))  # the reader the generator uses accepts it
    with open(checkpoint_path, "wb") as f:
        f.write(data)
    # ctattn_gen.py reads a description's checkpoint path relative to ctattn's root (as in
    # configs/stories260k.json), so that is how it is written.
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    relative = os.path.relpath(os.path.abspath(checkpoint_path), root)
    with open(config_path, "w") as f:
        json.dump(description(h, name, theta, relative, hashlib.sha256(data).hexdigest(), eps), f, indent=2)
        f.write("\n")
    return h


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("model", help="a .pt file: a state dict, or llama2.c's ckpt.pt ({'model': state dict})")
    ap.add_argument("--heads", type=int, required=True)
    ap.add_argument("--kv-heads", type=int, default=0, help="default: --heads (multi-head attention)")
    ap.add_argument("--seq-len", type=int, required=True, help="context length (the KV cache's capacity)")
    ap.add_argument("--name", required=True, help="lower-case C identifier: ctattn_<name>_* in the C API")
    ap.add_argument("--checkpoint", required=True, help="llama2.c file to write")
    ap.add_argument("--config", required=True, help="model description to write (configs/<name>.json)")
    ap.add_argument("--theta", type=int, default=10000, help="RoPE base")
    args = ap.parse_args()
    try:
        import torch  # only to open the file
    except ImportError:
        sys.exit("export_pytorch.py: opening a .pt file needs torch (pip install torch)")
    state = torch.load(args.model, map_location="cpu")
    state = state.get("model", state)
    try:
        h = export(state, args.name, args.heads, args.kv_heads, args.seq_len, args.checkpoint, args.config, args.theta)
    except (ExportError, checkpoint.CheckpointError) as e:
        sys.exit(f"export_pytorch.py: {e}")
    print(f"export_pytorch.py: wrote {args.checkpoint} ({h['n_layers']} layers, d_model {h['dim']}) and {args.config}")


if __name__ == "__main__":
    main()
