#!/usr/bin/env bash
# Builds the example program (Examples/, its own SwiftPM package depending on Diffu by path) and runs
# it on a tiny model converted from a test fixture: the embedding path end to end, and checks that the
# example (which imports only Diffu) links none of the converter. Used by .ci/run.
set -euo pipefail
root="$(cd "$(dirname "$0")/../.." && pwd)"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
mkdir "$work/checkpoint"
ln -s "$root"/Tests/Fixtures/models/llama_sharded_bf16/* "$work/checkpoint/"
ln -s "$root"/Tests/Fixtures/tokenizers/llama2/* "$work/checkpoint/"
swift run --package-path "$root" diffu convert "$work/checkpoint" -o "$work/tiny.diffu" --quant q8 --mask-id 3
swift run --package-path "$root" diffu verify "$work/tiny.diffu"
swift run --package-path "$root/Examples" DiffuExample "$work/tiny.diffu" "" 12 4 | tee "$work/out.txt"
grep -q "^done in 4 steps" "$work/out.txt"
# `import Diffu` is enough to run a model, and links no converter (that is the DiffuConversion product).
if nm "$root/Examples/.build/debug/DiffuExample" | grep -q -e '12DiffuConvert' -e '15DiffuConversion'; then
    echo "example_smoke: the example links the converter, which only DiffuConversion should bring"
    exit 1
fi
