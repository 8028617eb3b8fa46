#!/usr/bin/env python3
"""Writes the DiffuFormat test fixtures from independent references (not from Diffu's own code).

Environment (tools only, never run in CI):
    python3 -m venv .venv-format && .venv-format/bin/pip install xxhash zstandard
    .venv-format/bin/python tools/make_format_fixtures.py

Outputs, under Tests/Fixtures/format/:
  hash_vectors.json   XXH64 (the `xxhash` package, i.e. the C reference) and SHA-256 (hashlib) of
                      a deterministic byte pattern at lengths around every block boundary.
  python_written.diffu  a .diffu file written by this script straight from formats/diffu-v1.md
                      (header, zstd metadata, directory, 64-byte aligned payloads, panel16 packing
                      of an f16 and a q8 matrix), so the Swift reader is checked against the spec.
  python_written.json the values this script packed (decoded in float64 from what it stored).
"""
import hashlib
import json
import os
import struct

import xxhash
import zstandard

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "Tests", "Fixtures", "format")


def pattern(length):
    return bytes((i * 31 + 7) % 256 for i in range(length))


def hash_vectors():
    lengths = [0, 1, 3, 4, 5, 7, 8, 9, 15, 16, 31, 32, 33, 47, 55, 56, 57, 63, 64, 65, 100, 119, 120, 127, 128, 129, 1000, 4097]
    vectors = []
    for n in lengths:
        data = pattern(n)
        vectors.append({"length": n, "xxh64": xxhash.xxh64(data, seed=0).hexdigest(),
                        "sha256": hashlib.sha256(data).hexdigest()})
    return {"pattern": "byte i = (i * 31 + 7) mod 256", "vectors": vectors}


def f32(x):
    return struct.unpack("<f", struct.pack("<f", x))[0]


def f16(x):
    return struct.unpack("<e", struct.pack("<e", x))[0]


def round_half_away(x):
    return int(abs(x) + 0.5) * (1 if x >= 0 else -1)


def matrix_values(rows, columns, seed):
    # Deterministic values in [-1, 1) (a tiny LCG; exactly representable in f32).
    state = seed
    values = []
    for _ in range(rows * columns):
        state = (state * 1103515245 + 12345) % (1 << 31)
        values.append(f32((state / (1 << 31)) * 2 - 1))
    return values


def pack_panel(values, rows, columns, storage):
    """panel16 packing as formats/diffu-v1.md states it; returns (bytes, decoded values)."""
    panels = (rows + 15) // 16
    blocks = (columns + 31) // 32
    out = bytearray()
    decoded = [0.0] * (rows * columns)

    def value(r, k):
        return values[r * columns + k] if r < rows and k < columns else 0.0

    for p in range(panels):
        for b in range(blocks):
            if storage == "f16":
                for k in range(32):
                    for c in range(16):
                        r, col = p * 16 + c, b * 32 + k
                        h = f16(value(r, col))
                        out += struct.pack("<e", h)
                        if r < rows and col < columns:
                            decoded[r * columns + col] = h
            elif storage == "q8":
                scales, quants = [], [[0] * 16 for _ in range(32)]
                for c in range(16):
                    r = p * 16 + c
                    lane = [value(r, b * 32 + k) for k in range(32)]
                    amax = max(abs(v) for v in lane)
                    d = f32(amax / 127)
                    inverse = f32(1 / d) if d != 0 else 0.0
                    scales.append(f16(d))
                    for k in range(32):
                        q = round_half_away(f32(lane[k] * inverse))
                        quants[k][c] = q
                        col = b * 32 + k
                        if r < rows and col < columns:
                            decoded[r * columns + col] = f32(f16(d) * q)
                out += b"".join(struct.pack("<e", s) for s in scales)
                for k in range(32):
                    out += struct.pack("<16b", *quants[k])
    return bytes(out), decoded


def align(n):
    return (n + 63) // 64 * 64


def python_written():
    tensors = []  # (name, shape, storage code, layout code, compression code, stored bytes, raw length)
    vector = [1.5, -2.0, 0.25, 3.0, 0.001]
    tensors.append(("norm.weight", [5], 0, 0, 0, struct.pack("<5f", *vector), 20))
    f16_values = matrix_values(17, 33, seed=1)
    f16_bytes, f16_decoded = pack_panel(f16_values, 17, 33, "f16")
    tensors.append(("layers.0.mlp.up.weight", [17, 33], 1, 1, 0, f16_bytes, len(f16_bytes)))
    q8_values = matrix_values(20, 64, seed=2)
    q8_bytes, q8_decoded = pack_panel(q8_values, 20, 64, "q8")
    tensors.append(("layers.0.mlp.down.weight", [20, 64], 3, 1, 0, q8_bytes, len(q8_bytes)))
    tokenizer = json.dumps({"model": {"type": "BPE", "vocab": {f"t{i}": i for i in range(300)}}}).encode()
    frame = zstandard.ZstdCompressor(level=19, write_content_size=True).compress(tokenizer)
    tensors.append(("tokenizer/tokenizer.json", [len(tokenizer)], 5, 0, 1, frame, len(tokenizer)))

    metadata = {
        "model": {"architecture": "llama", "hidden_size": 33, "rope_theta": 10000.0},
        "diffusion": {"mask_token_id": 811, "shift_logits": True, "bos_token_id": 1, "eos_token_id": 2,
                      "sampler": {"sampler": "origin", "steps": 64, "temperature": 0.5, "top_p": 0.95,
                                  "generation_length": 128}},
        "tokenizer": {"kind": "tokenizer.json", "files": {"tokenizer.json": "tokenizer/tokenizer.json"}},
        "provenance": {"sources": [{"path": "model.safetensors", "size": 1234,
                                    "sha256": hashlib.sha256(b"model").hexdigest()}],
                       "converter_version": "python-fixture", "quantization": "mixed",
                       "created_at": "2026-11-27T00:00:00Z"},
    }
    metadata_json = json.dumps(metadata).encode()
    metadata_frame = zstandard.ZstdCompressor(level=3, write_content_size=True).compress(metadata_json)

    body = bytearray(128)  # header placeholder
    directory = bytearray()
    for name, shape, storage, layout, compression, stored, raw in tensors:
        offset = align(len(body))
        body += bytes(offset - len(body)) + stored
        encoded = name.encode()
        directory += struct.pack("<HBBBBH", len(encoded), storage, layout, compression, len(shape), 0) + encoded
        directory += b"".join(struct.pack("<Q", d) for d in shape)
        directory += struct.pack("<QQQQ", offset, len(stored), raw, xxhash.xxh64(stored).intdigest())
    metadata_offset = align(len(body))
    body += bytes(metadata_offset - len(body)) + metadata_frame
    directory_offset = align(len(body))
    body += bytes(directory_offset - len(body)) + directory
    header = bytearray(b"\x89DIFFU\r\n")
    header += struct.pack("<IIII", 1, 0x01020304, 64, 128)
    header += struct.pack("<QQQQQQQ", len(body), metadata_offset, len(metadata_frame), len(metadata_json),
                          directory_offset, len(directory), len(tensors))
    header += struct.pack("<QQ", xxhash.xxh64(metadata_frame).intdigest(), xxhash.xxh64(bytes(directory)).intdigest())
    header += bytes(24)
    header += struct.pack("<Q", xxhash.xxh64(bytes(header)).intdigest())
    assert len(header) == 128
    body[0:128] = header
    expected = {"norm.weight": vector, "layers.0.mlp.up.weight": f16_decoded,
                "layers.0.mlp.down.weight": q8_decoded, "tokenizer_sha256": hashlib.sha256(tokenizer).hexdigest()}
    return bytes(body), expected


def main():
    os.makedirs(ROOT, exist_ok=True)
    with open(os.path.join(ROOT, "hash_vectors.json"), "w") as f:
        json.dump(hash_vectors(), f, indent=1)
    data, expected = python_written()
    with open(os.path.join(ROOT, "python_written.diffu"), "wb") as f:
        f.write(data)
    with open(os.path.join(ROOT, "python_written.json"), "w") as f:
        json.dump(expected, f)
    print("wrote", ROOT)


if __name__ == "__main__":
    main()
