"""Relabel a LLaMA-architecture GGUF (SmolLM2) as the `llada` architecture so that llama.cpp's
`llama-diffusion-cli` runs it (for the diffusion-loop timing in tools/peers/bench_diffusion_step.py).

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
All tensors are copied byte for byte (quantized types stay as they are). The rewrite itself is
tools/diffutools/gguf_fields.py's `relabel()`, which tools/fixtures/make_llada_fixture.py also uses for the
converter test fixture Tests/Fixtures/convert/tiny-llada.gguf.

Setup: any Python with gguf-py and numpy (`python3 -m pip install gguf numpy`, or tools/ci/setup_python.sh).
Run:    python3 -m tools.peers.make_llada_gguf $DIFFU_DATA/smollm2/smollm2-q8_0.gguf $DIFFU_DATA/peers/smollm2-llada-q8_0.gguf
"""
import argparse

from tools.diffutools.gguf_fields import relabel


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
