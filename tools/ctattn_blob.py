#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""Writes a ctattn weight blob (docs/formats.md) from a llama2.c checkpoint: the validated binary
format that include/ctattn/io/blob.hpp reads. Standard library only.

    python3 tools/ctattn_blob.py CHECKPOINT OUT.ctw      write the blob
    python3 tools/ctattn_blob.py --q8 CHECKPOINT OUT.ctw quantized: int8 projections and embedding
                                                         (q8_weights<q8_group_rule<32, 8>>, docs/quantization.md)
    python3 tools/ctattn_blob.py --info BLOB              print its header and table

As a module (tools/ctattn_gen.py --blob OUT calls it):
    import ctattn_blob
    ctattn_blob.write_blob(checkpoint_bytes, out_path)   # or blob_from_checkpoint(bytes) -> bytes

The checkpoint's matrices are (out, in) row-major (llama2.c computes W.x); the blob's payload is
the weights image of include/ctattn/model/weights_image.hpp: matrices (in, out), the layout ctattn's
x @ W kernels read, tensors in its canonical order, each padded to 16 floats, so a device reads the
weights in place (blob::view) with nothing transposed or copied. With --q8 (format version 2) each
projection and the embedding are two entries, scales (f32, in the float image) and codes (i8, in a
code image after the float image), quantized as tools/q8.py (= the C++) rounds them.
"""
import argparse
import array
import struct
import sys
import zlib

import checkpoint
import q8

MAGIC = b"CTATTNWB"
FORMAT_VERSION = 2  # 2: int8 (Q8) tensors; version-1 blobs (float only) are still read
HEADER_BYTES = 64
ENTRY_BYTES = 32
ALIGNMENT = 64
DTYPE_F32 = 1
LAYOUT_ROW_MAJOR = 0
DTYPE_I8 = 2
LAYOUT_Q8_SCALES = 1
LAYOUT_Q8_CODES = 2
# Tensor kinds: 1-based index of the name in this list (blob::tensor_names in io/blob.hpp).
TENSOR_NAMES = ["embedding", "positions", "attention_norm.gain", "attention_norm.bias", "attention.wq",
                "attention.wk", "attention.wv", "attention.wo", "attention.bq", "attention.bk", "attention.bv",
                "attention.bo", "ffn_norm.gain", "ffn_norm.bias", "ffn.w1", "ffn.w3", "ffn.w2", "ffn.b1", "ffn.b3",
                "ffn.b2", "final_norm.gain", "final_norm.bias", "head.w_out", "head.b_out"]
MODEL_LEVEL = 0xFFFFFFFF  # the layer field of tensors outside the layer stack


FormatError = checkpoint.CheckpointError
read_llama2c_header = checkpoint.read_header


def tensor_shapes(h):
    """[(name, layer or None, rows, cols)] of a llama-shaped model, in the canonical image order
    (model/weights_image.hpp's for_each_tensor): matrices as (in, out)."""
    return checkpoint.image_order(checkpoint.llama_config(h))


def q8_din(name, rows, cols):
    """Inputs per Q8 row: the embedding (vocab, d_model) is quantized along d_model, a projection
    (in, out) along in."""
    return cols if name == "embedding" else rows


def config_text(h, fmt=None):
    """The canonical text whose FNV-1a 64 is the configuration hash (blob::config_hash<Config>)."""
    parts = ["ctattn-blob/2 image16 q8" if fmt else "ctattn-blob/1 image16"]
    parts += ["L{}:heads={}/{}".format(l, h["n_heads"], h["n_kv_heads"]) for l in range(h["n_layers"])]
    for name, layer, rows, cols in tensor_shapes(h):
        text = "{}{}:{}x{}".format(name, "" if layer is None else "@{}".format(layer), rows, cols)
        if fmt and name in q8.Q8_TENSORS:
            text += "/g{}".format(q8.q8_group(q8_din(name, rows, cols), fmt))
        parts.append(text)
    return " ".join(parts)


def fnv1a64(text):
    h = 0xcbf29ce484222325
    for b in text.encode("ascii"):
        h = ((h ^ b) * 0x100000001b3) & 0xFFFFFFFFFFFFFFFF
    return h


def config_hash(h, fmt=None):
    return fnv1a64(config_text(h, fmt))


def tensors_from_checkpoint(data):
    """(header, [(name, layer or None, array('f'))]) in the canonical image order, matrices as (in, out)."""
    h = checkpoint.read_header(data)
    found = checkpoint.read_tensors(data, h)
    tensors = []
    for name, layer, rows, cols in tensor_shapes(h):
        values = found[(name, layer)]
        assert len(values) == rows * cols
        tensors.append((name, layer, values))
    return h, tensors


def blob_from_tensors(h, tensors, fmt=None):
    """The blob of these tensors; fmt (tools/q8.py's format dict) quantizes projections and the
    embedding: per Q8 tensor a scales entry in the float image and a codes entry in the code image."""
    table = bytearray()
    payload = bytearray()
    codes_image = bytearray()
    code_entries = []  # (index into the table, offset in the code image): patched once the float image ends
    shapes = {(name, layer): (rows, cols) for name, layer, rows, cols in tensor_shapes(h)}
    for name, layer, values in tensors:
        kind, where = TENSOR_NAMES.index(name) + 1, MODEL_LEVEL if layer is None else layer
        if fmt and name in q8.Q8_TENSORS:
            rows, cols = shapes[(name, layer)]
            codes, scales, _, _ = q8.q8_tensor(name, rows, cols, list(values), fmt)
            raw = struct.pack("<{}f".format(len(scales)), *scales)
            table += struct.pack("<IIQQII", kind, where, len(payload), len(raw), DTYPE_F32, LAYOUT_Q8_SCALES)
            payload += raw
            payload += bytes(-len(payload) % ALIGNMENT)
            code_entries.append((len(table), len(codes_image)))
            table += struct.pack("<IIQQII", kind, where, 0, len(codes), DTYPE_I8, LAYOUT_Q8_CODES)
            codes_image += struct.pack("<{}b".format(len(codes)), *codes)
            codes_image += bytes(-len(codes_image) % q8.ALIGN_CODES)
            continue
        raw = values.tobytes() if sys.byteorder == "little" else _swapped(values)
        offset = len(payload)
        table += struct.pack("<IIQQII", kind, where, offset, len(raw), DTYPE_F32, LAYOUT_ROW_MAJOR)
        payload += raw
        payload += bytes(-len(payload) % ALIGNMENT)
    for at, code_offset in code_entries:
        struct.pack_into("<Q", table, at + 8, len(payload) + code_offset)
    payload += codes_image
    payload_offset = HEADER_BYTES + len(table)
    payload_offset += -payload_offset % ALIGNMENT
    file_bytes = payload_offset + len(payload)
    header = bytearray(MAGIC + struct.pack("<IIQIIQQII", FORMAT_VERSION, HEADER_BYTES, config_hash(h, fmt),
                                           len(table) // ENTRY_BYTES, ENTRY_BYTES, payload_offset, len(payload),
                                           zlib.crc32(payload), 0))
    header += struct.pack("<Q", file_bytes)
    assert len(header) == HEADER_BYTES
    padding = bytes(payload_offset - HEADER_BYTES - len(table))
    # Header CRC: bytes 0..52 and 56..64 of the header, then the table (not the padding after it).
    header_crc = zlib.crc32(bytes(header[56:]) + bytes(table), zlib.crc32(bytes(header[:52])))
    struct.pack_into("<I", header, 52, header_crc)
    return bytes(header) + bytes(table) + padding + bytes(payload)


def _swapped(values):
    copy = array.array("f", values)
    copy.byteswap()
    return copy.tobytes()


def blob_from_checkpoint(data, fmt=None):
    h, tensors = tensors_from_checkpoint(data)
    return blob_from_tensors(h, tensors, fmt)


def write_blob(checkpoint, out_path, fmt=None):
    """checkpoint: bytes, or a path to a llama2.c checkpoint. Returns the blob's size."""
    if not isinstance(checkpoint, (bytes, bytearray, memoryview)):
        with open(checkpoint, "rb") as f:
            checkpoint = f.read()
    blob = blob_from_checkpoint(checkpoint, fmt)
    with open(out_path, "wb") as f:
        f.write(blob)
    return len(blob)


HEADER_FIELDS = ["version", "header_bytes", "config_hash", "tensor_count", "entry_bytes", "payload_offset",
                 "payload_bytes", "payload_crc32", "header_crc32", "file_bytes"]  # after the magic, in file order


def parse_header(blob):
    """The header's fields after the magic, by name (io/blob.hpp's blob::header)."""
    if blob[:8] != MAGIC:
        raise FormatError("bad magic")
    return dict(zip(HEADER_FIELDS, struct.unpack_from("<IIQIIQQIIQ", blob, len(MAGIC))))


def describe(blob):
    h = parse_header(blob)
    count = h["tensor_count"]
    lines = ["version {} config_hash {:016x} tensors {} payload {} bytes at {} crc32 {:08x} header crc32 {:08x} "
             "file {} bytes".format(h["version"], h["config_hash"], count, h["payload_bytes"], h["payload_offset"],
                                    h["payload_crc32"], h["header_crc32"], h["file_bytes"])]
    for i in range(count):
        kind, layer, offset, size, dtype, layout = struct.unpack_from("<IIQQII", blob, HEADER_BYTES + i * ENTRY_BYTES)
        name = TENSOR_NAMES[kind - 1] if 1 <= kind <= len(TENSOR_NAMES) else "kind{}".format(kind)
        where = "" if layer == MODEL_LEVEL else "layer {}".format(layer)
        lines.append("  {:3d} {:20s} {:8s} offset {:8d} bytes {:8d}".format(i, name, where, offset, size))
    return "\n".join(lines)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--info", metavar="BLOB", help="print a blob's header and tensor table")
    parser.add_argument("checkpoint", nargs="?", help="llama2.c checkpoint (legacy version-0 format)")
    parser.add_argument("out", nargs="?", help="blob to write")
    parser.add_argument("--q8", action="store_true", help="int8 projections and embedding (q8_weights<>)")
    args = parser.parse_args(argv)
    try:
        if args.info:
            with open(args.info, "rb") as f:
                print(describe(f.read()))
            return 0
        if not args.checkpoint or not args.out:
            parser.error("give CHECKPOINT and OUT (or --info BLOB)")
        size = write_blob(args.checkpoint, args.out, q8.DEFAULT_FORMAT if args.q8 else None)
    except FileNotFoundError as e:
        print("ctattn_blob: file not found: {}".format(e.filename), file=sys.stderr)
        return 2
    except FormatError as e:
        print("ctattn_blob: {}: {}".format(args.checkpoint or args.info, e), file=sys.stderr)
        return 1
    print("{}: {} bytes".format(args.out, size))
    return 0


if __name__ == "__main__":
    sys.exit(main())
