#!/usr/bin/env bash
# Checks tools/adapt: the recipe tests (hand-computed loss, shift, annealing) and, with --end-to-end, a
# 2-step adaptation of SmolLM2 that `diffu convert` recognises as DiffuSmol-135M and `diffu generate` runs.
# NOT part of CI (CI does not install torch). Run tools/adapt/setup.sh first.
#   tools/adapt/check.sh                       # the tests
#   tools/adapt/check.sh --end-to-end [GGUF]   # plus the 2-step run (GGUF default: $DIFFU_DATA/smollm2/smollm2-f32.gguf;
#                                              # the text: ADAPT_TEXT, default $DIFFU_DATA/wiki/…, see
#                                              # tools/diffutools/locations.py)
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../.." && pwd)"
py="${ADAPT_PYTHON:-$here/.venv/bin/python}"
[[ -x "$py" ]] || { echo "check.sh: $py missing; run tools/adapt/setup.sh" >&2; exit 1; }
cd "$root"  # the Python tools run as `python3 -m tools.FOLDER.NAME` from the repository root
"$py" -m pytest -q tools/adapt/test_adapt.py
[[ "${1:-}" == "--end-to-end" ]] || exit 0
if [[ -n "${2:-}" ]]; then gguf="$(realpath -m "$2")"; else gguf="$("$py" -m tools.diffutools.locations smollm2 "the GGUF argument")/smollm2-f32.gguf"; fi
[[ -f "$gguf" ]] || { echo "check.sh: SmolLM2 GGUF $gguf not found" >&2; exit 1; }
text="${ADAPT_TEXT:-$("$py" -m tools.diffutools.locations wiki "ADAPT_TEXT=FILE")}"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
"$py" -m tools.adapt.adapt --base "$gguf" --text "$text" --out "$work/run" --steps 2 --batch-size 1 --seq-len 32 \
    --max-tokens 20000 --eval-windows 4 2>&1 | grep '^adapt:'
grep -q '"shift_logits": true' "$work/run/model/config.json"
swift build --package-path "$root" --product diffu >/dev/null
diffu="$(swift build --package-path "$root" --show-bin-path)/diffu"
"$diffu" convert "$work/run/model" -o "$work/diffusmol.diffu" 2>&1 | tail -1
"$diffu" inspect "$work/diffusmol.diffu" | tee "$work/inspect.txt" | grep -E '^(diffusion|sampler|extra):'
grep -q '"model_name":"DiffuSmol-135M"' "$work/inspect.txt"
grep -q 'mask 4, shifted logits yes' "$work/inspect.txt"
"$diffu" generate "$work/diffusmol.diffu" --prompt "The capital of France is" --length 16 --steps 4
echo "check.sh: end to end OK"
