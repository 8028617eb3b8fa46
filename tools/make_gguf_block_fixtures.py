#!/usr/bin/env python3
"""Writes the ggml block-type fixtures of the GGUF dequantizer tests: one GGUF holding tensors of every
type Diffu imports, and the f32 values the `gguf` package's reference dequantizer gives for each.

Environment: python3 -m pip install gguf numpy (or tools/setup_python.sh). Run from the repository root:
    python3 tools/make_gguf_block_fixtures.py
Outputs (Tests/Fixtures/convert/blocks/):
    blocks.gguf        GGUF v3 written by the `gguf` package (architecture key only, no model)
    <tensor>.npy       float32, the tensor's logical shape (outermost first): gguf.quants.dequantize of
                       the tensor's bytes as read back by gguf.GGUFReader

Tensors, for each type T of Q4_K, Q5_K, Q6_K, Q5_0, Q5_1, Q8_0, Q4_0, Q4_1, F16, BF16 (names lower-case):
    T.random     [3, 2 super-blocks] for K-quants, [3, 4 blocks] otherwise: random bytes in which every
                 f16 scale/minimum field holds a random *finite* f16 (either sign, subnormals included).
                 Random-but-valid blocks cover every code, scale index and high-bit combination.
    T.edge       3 rows: every byte 0xFF with the f16 fields at the largest finite f16 (65504); every byte
                 zero; random codes with the scale the smallest negative subnormal and the minimum the
                 smallest positive normal.
    T.quantized  (types gguf.quants.quantize supports: Q5_0, Q5_1, Q8_0, Q4_0, Q4_1) the reference
                 quantizer's blocks of normal(0, 0.5) weights, [16, 64]: realistic blocks whose largest
                 value sits on the end of the code range.
    q6_k.vector  a rank-1 Q6_K tensor of 256 values (read whole, not by rows).
    q2_k.refused, q3_k.refused   random bytes of the two K-quants Diffu does not import (no .npy: the
                 tests expect a typed refusal naming the tensor).

The expected values are independent of Diffu: they come from gguf-py, the package's port of llama.cpp's
`dequantize_row_*`.
"""
import os
import sys

import numpy as np
import gguf
from gguf import GGMLQuantizationType as T

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "Tests", "Fixtures", "convert", "blocks")

# Byte offsets of the f16 fields (scales and minimums) inside one block of each type.
HALF_FIELDS = {
    T.Q4_K: [0, 2], T.Q5_K: [0, 2], T.Q6_K: [208],
    T.Q5_0: [0], T.Q5_1: [0, 2], T.Q8_0: [0], T.Q4_0: [0], T.Q4_1: [0, 2],
}
TYPES = [T.Q4_K, T.Q5_K, T.Q6_K, T.Q5_0, T.Q5_1, T.Q8_0, T.Q4_0, T.Q4_1, T.F16, T.BF16]
QUANTIZABLE = [T.Q5_0, T.Q5_1, T.Q8_0, T.Q4_0, T.Q4_1]


def finite_f16_bits(rng, count):
    """Random f16 bit patterns with an exponent below 31 (no infinity, no NaN)."""
    bits = rng.integers(0, 1 << 16, size=count, dtype=np.uint32).astype(np.uint16)
    exponent = (bits >> 10) & 0x1F
    bits[exponent == 0x1F] &= np.uint16(0xBFFF)  # clear the exponent's top bit: 31 → 15
    return bits


def finite_bf16_bits(rng, count):
    bits = rng.integers(0, 1 << 16, size=count, dtype=np.uint32).astype(np.uint16)
    exponent = (bits >> 7) & 0xFF
    bits[exponent == 0xFF] &= np.uint16(0xBFFF)
    return bits


def set_half(blocks, offset, bits):
    """Writes f16 bit patterns (one per block) at `offset` of every block (rows of `blocks`)."""
    blocks[:, offset] = (bits & 0xFF).astype(np.uint8)
    blocks[:, offset + 1] = (bits >> 8).astype(np.uint8)


def block_bytes(qtype, rows, blocks_per_row, rng, kind):
    """[rows, blocks_per_row * type_size] uint8 of valid blocks (see the module docstring)."""
    block_size, type_size = gguf.GGML_QUANT_SIZES[qtype]
    count = rows * blocks_per_row
    if qtype in (T.F16, T.BF16):
        generate = finite_f16_bits if qtype == T.F16 else finite_bf16_bits
        if kind == "random":
            bits = generate(rng, count)
        else:  # edge: largest finite, zero, smallest subnormal (negative), per row
            edge = [0x7BFF, 0x0000, 0x8001] if qtype == T.F16 else [0x7F7F, 0x0000, 0x8001]
            bits = np.repeat(np.array(edge, dtype=np.uint16), blocks_per_row)
        return bits.view(np.uint8).reshape(rows, blocks_per_row * type_size)
    blocks = rng.integers(0, 256, size=(count, type_size), dtype=np.uint16).astype(np.uint8)
    fields = HALF_FIELDS[qtype]
    if kind == "random":
        for offset in fields:
            set_half(blocks, offset, finite_f16_bits(rng, count))
    else:
        per_row = blocks.reshape(rows, blocks_per_row, type_size)
        per_row[0, :, :] = 0xFF
        per_row[1, :, :] = 0
        for offset in fields:
            set_half(per_row[0], offset, np.full(blocks_per_row, 0x7BFF, dtype=np.uint16))
            set_half(per_row[1], offset, np.zeros(blocks_per_row, dtype=np.uint16))
        set_half(per_row[2], fields[0], np.full(blocks_per_row, 0x8001, dtype=np.uint16))
        if len(fields) > 1:
            set_half(per_row[2], fields[1], np.full(blocks_per_row, 0x0400, dtype=np.uint16))
    return blocks.reshape(rows, blocks_per_row * type_size)


def main():
    os.makedirs(OUT, exist_ok=True)
    for name in os.listdir(OUT):
        if name.endswith(".npy") or name.endswith(".gguf"):
            os.remove(os.path.join(OUT, name))
    rng = np.random.default_rng(20260514)
    path = os.path.join(OUT, "blocks.gguf")
    writer = gguf.GGUFWriter(path, arch="blocks")
    for qtype in TYPES:
        block_size, _ = gguf.GGML_QUANT_SIZES[qtype]
        blocks_per_row = 2 if block_size == 256 else (4 if block_size == 32 else 128)
        for kind in ("random", "edge"):
            data = block_bytes(qtype, 3, blocks_per_row, rng, kind)
            writer.add_tensor(f"{qtype.name.lower()}.{kind}", data, raw_dtype=qtype)
        if qtype in QUANTIZABLE:
            weights = (rng.standard_normal((16, 64)) * 0.5).astype(np.float32)
            writer.add_tensor(f"{qtype.name.lower()}.quantized", gguf.quants.quantize(weights, qtype), raw_dtype=qtype)
    writer.add_tensor("q6_k.vector", block_bytes(T.Q6_K, 1, 1, rng, "random").reshape(-1), raw_dtype=T.Q6_K)
    for qtype in (T.Q2_K, T.Q3_K):
        _, type_size = gguf.GGML_QUANT_SIZES[qtype]
        raw = rng.integers(0, 256, size=(2, type_size), dtype=np.uint16).astype(np.uint8)
        writer.add_tensor(f"{qtype.name.lower()}.refused", raw, raw_dtype=qtype)
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()

    reader = gguf.GGUFReader(path)
    for tensor in reader.tensors:
        if tensor.name.endswith(".refused"):
            continue
        values = gguf.quants.dequantize(tensor.data, tensor.tensor_type).astype(np.float32)
        shape = [int(d) for d in reversed(tensor.shape.tolist())]
        values = np.ascontiguousarray(values.reshape(shape), dtype="<f4")
        assert np.isfinite(values).all(), tensor.name
        np.save(os.path.join(OUT, f"{tensor.name}.npy"), values)
    print(f"{path}: {os.path.getsize(path)} bytes, {len(reader.tensors)} tensors")


if __name__ == "__main__":
    sys.exit(main())
