#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""Writes the fuzz targets' seed corpora (checked in under tests/fuzz/corpus/; rerun to refresh):
  llama2c/   the tiny llama checkpoint of tests/support/tiny_llama.hpp, and header-only variants
  tokenizer/ a 16-piece tokenizer.bin that fuzz_tokenizer's tokenizer<16, 96> loads
Usage: make_seeds.py [OUT_DIR]   (blob seeds come from tools/ctattn_blob.py, see tests/fuzz/README.md)"""
import pathlib
import struct
import sys

out = pathlib.Path(sys.argv[1] if len(sys.argv) > 1 else pathlib.Path(__file__).parent / "corpus")


def tiny_checkpoint(seed=2024, seq_len=16):
    dim, hidden, layers, heads, kv_heads, vocab = 8, 12, 1, 2, 1, 5
    head_dim = dim // heads
    floats = (vocab * dim + layers * dim + 2 * layers * dim * dim + 2 * layers * kv_heads * head_dim * dim
              + layers * dim + 3 * layers * hidden * dim + dim + 2 * seq_len * (head_dim // 2))
    data = bytearray(struct.pack("<7i", dim, hidden, layers, heads, kv_heads, vocab, seq_len))
    for _ in range(floats):
        seed = (seed * 1664525 + 1013904223) & 0xFFFFFFFF
        data += struct.pack("<f", ((seed >> 8) / float(1 << 24) - 0.5) * 0.6)
    return bytes(data)


def tokenizer_file():
    pieces = ["<unk>", "<s>", "</s>", " ", "a", "b", "c", "ab", " a", "abc", "<0x41>", "<0x42>", "<0x20>",
              "\u00e9", "ba", " ab"]
    data = bytearray(struct.pack("<i", 6))
    for i, piece in enumerate(pieces):
        raw = piece.encode("utf-8")
        data += struct.pack("<fi", -float(i), len(raw)) + raw
    return bytes(data)


def write(name, data):
    path = out / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)


write("llama2c/tiny.bin", tiny_checkpoint())
write("llama2c/tiny_seq1.bin", tiny_checkpoint(seed=7, seq_len=1))
write("llama2c/header_only.bin", tiny_checkpoint()[:28])
write("llama2c/kv_gt_heads.bin", struct.pack("<7i", 8, 12, 1, 2, 4, 5, 16))
write("tokenizer/tiny.bin", tokenizer_file())
write("tokenizer/truncated.bin", tokenizer_file()[:40])
