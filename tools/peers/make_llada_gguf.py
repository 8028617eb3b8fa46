#!/usr/bin/env python3
"""Relabel a LLaMA-architecture GGUF (SmolLM2) as the `llada` architecture so that llama.cpp's
`llama-diffusion-cli` runs it (for the diffusion-loop timing in tools/diffusion_step_peer.py).

What llama-diffusion-cli needs (llama.cpp: examples/diffusion/diffusion-cli.cpp, src/models/llada.cpp):
- `general.architecture` = "llada"; llada's hyperparameters are the LLaMA ones under the `llada.` prefix
  (block_count, context_length, embedding_length, feed_forward_length, attention.head_count[_kv],
  attention.layer_norm_rms_epsilon, rope.freq_base, rope.dimension_count, vocab_size) — every
  `llama.*` key is copied as `llada.*`; llada uses the same ("normal", interleaved-pair) RoPE as llama, so
  the converter's Q/K row permutation stays valid; the tied embedding is used as the head when
  `output.weight` is absent, as in llama;
- `tokenizer.ggml.mask_token_id` (llama_vocab_mask must not be null): --mask-id, default 4 for SmolLM2
  (an unused special token, the same id `diffu convert --mask-id 4` uses);
- optional `diffusion.shift_logits` (bool; llama-diffusion-cli reads it as "true"/"false", default true):
  written true, the rule Diffu applies to converted AR models (position i is predicted by logits i−1).
All tensors are copied byte for byte (quantized types stay as they are). `relabel()` is also used by
tools/make_llada_fixture.py for the converter test fixture Tests/Fixtures/convert/tiny-llada.gguf.

Setup: any Python with gguf-py and numpy (`python3 -m pip install gguf numpy`, or /work/venv).
Run:    python3 tools/make_llada_gguf.py /work/big/smollm2/smollm2-q8_0.gguf /work/big/peers/smollm2-llada-q8_0.gguf
"""
import argparse

import gguf

from gguf_fields import copy_field


def relabel(source, destination, mask_id, shift):
    """Writes `destination`: the llama GGUF `source` relabelled as `llada`, with the diffusion metadata."""
    reader = gguf.GGUFReader(source)
    architecture = bytes(reader.fields["general.architecture"].parts[reader.fields["general.architecture"].data[0]]).decode()
    if architecture != "llama":
        raise SystemExit(f"expected a llama GGUF, found {architecture!r}")
    writer = gguf.GGUFWriter(destination, "llada")
    for name, field in reader.fields.items():
        if name.startswith("GGUF.") or name == "general.architecture" or name == "tokenizer.ggml.mask_token_id":
            continue
        if name.startswith("llama."):
            name = "llada." + name[len("llama."):]
        copy_field(writer, name, field)
    writer.add_uint32("tokenizer.ggml.mask_token_id", mask_id)
    writer.add_bool("diffusion.shift_logits", shift)
    for tensor in reader.tensors:
        writer.add_tensor(tensor.name, tensor.data, raw_shape=tensor.data.shape, raw_dtype=tensor.tensor_type)
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
    return len(reader.tensors)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("source")
    parser.add_argument("destination")
    parser.add_argument("--mask-id", type=int, default=4)
    parser.add_argument("--no-shift", action="store_true", help="write diffusion.shift_logits = false")
    args = parser.parse_args()
    count = relabel(args.source, args.destination, args.mask_id, not args.no_shift)
    print(f"{args.destination}: {count} tensors, architecture llada, mask {args.mask_id}")


if __name__ == "__main__":
    main()
