#!/usr/bin/env bash
# Fault tests on the real CLI (run by .ci/run):
# 1. `diffu convert` killed with SIGKILL at random points never leaves a partial or corrupt `.diffu` at
#    the target path.
# 2. A `.diffu` file truncated while `diffu bench` has it mapped: the process does not die silently — it
#    reports the bus error on a mapped file and exits with status 135.
#
# Builds a LLaMA-shaped checkpoint of about 76 MB (hidden 256, 4 layers, vocab 32000, F32 safetensors
# written here byte by byte; values are finite floats from random base64 text) with the LLaMA-2
# tokenizer fixture (converted to q8 with --zstd none, so every weight stays mapped), times one full
# conversion, then runs ITERATIONS conversions (default 16) each killed after a random delay in
# [0, 1.2 × that time]. After every kill the target either does not exist or is complete (`diffu verify` passes: the kill came after the rename); the only other file may be the killed
# writer's temporary file `.NAME.PID.RANDOM.tmp` (SIGKILL gives no chance to remove it), and at most one:
# each new conversion removes those of dead processes. Finally a conversion without --force must succeed,
# verify, and leave no temporary file behind. Then truncates that file to half while a benchmark reads it.
# Usage: tools/ci/fault_smoke.sh [ITERATIONS]     (uses `swift build`'s debug diffu unless DIFFU=path is set)
set -euo pipefail
root="$(cd "$(dirname "$0")/../.." && pwd)"
iterations="${1:-16}"
if [[ -z "${DIFFU:-}" ]]; then
    swift build --package-path "$root" --product diffu >/dev/null
    DIFFU="$root/.build/debug/diffu"
fi
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
checkpoint="$work/checkpoint"
mkdir "$checkpoint"
for name in tokenizer.model tokenizer_config.json special_tokens_map.json; do
    cp "$root/Tests/Fixtures/tokenizers/llama2/$name" "$checkpoint/"
done
cat > "$checkpoint/config.json" <<'JSON'
{"architectures": ["LlamaForCausalLM"], "model_type": "llama", "hidden_size": 256, "intermediate_size": 512,
 "num_hidden_layers": 4, "num_attention_heads": 4, "num_key_value_heads": 4, "head_dim": 64,
 "max_position_embeddings": 512, "rms_norm_eps": 1e-05, "rope_theta": 10000.0, "vocab_size": 32000,
 "tie_word_embeddings": false, "hidden_act": "silu", "bos_token_id": 1, "eos_token_id": 2}
JSON

# safetensors: 8-byte little-endian header length, JSON header, then the tensors' bytes back to back.
names=() shapes=() sizes=()
add() { names+=("$1"); shapes+=("$2"); sizes+=("$3"); }
add model.embed_tokens.weight "32000,256" $((32000 * 256 * 4))
for layer in 0 1 2 3; do
    prefix="model.layers.$layer"
    for projection in q k v o; do add "$prefix.self_attn.${projection}_proj.weight" "256,256" $((256 * 256 * 4)); done
    add "$prefix.mlp.gate_proj.weight" "512,256" $((512 * 256 * 4))
    add "$prefix.mlp.up_proj.weight" "512,256" $((512 * 256 * 4))
    add "$prefix.mlp.down_proj.weight" "256,512" $((256 * 512 * 4))
    add "$prefix.input_layernorm.weight" "256" $((256 * 4))
    add "$prefix.post_attention_layernorm.weight" "256" $((256 * 4))
done
add model.norm.weight "256" $((256 * 4))
add lm_head.weight "32000,256" $((32000 * 256 * 4))
header="{" offset=0 total=0
for index in "${!names[@]}"; do
    [[ $index -gt 0 ]] && header+=","
    end=$((offset + sizes[index]))
    header+="\"${names[index]}\":{\"dtype\":\"F32\",\"shape\":[${shapes[index]}],\"data_offsets\":[$offset,$end]}"
    offset=$end
done
header+="}"
total=$offset
model="$checkpoint/model.safetensors"
length=${#header}
printf "$(printf '\\x%02x' $((length & 255)) $(((length >> 8) & 255)) $(((length >> 16) & 255)) $(((length >> 24) & 255)) 0 0 0 0)" > "$model"
printf '%s' "$header" >> "$model"
# Base64 text bytes (0x2B..0x7A) make finite floats of either sign-free magnitude: no NaN or infinity.
(set +o pipefail; head -c $((total * 4 / 3 + 4096)) /dev/urandom | base64 -w 0 | head -c "$total") >> "$model"
[[ $(stat -c %s "$model") == $((8 + length + total)) ]] || { echo "checkpoint generation failed"; exit 1; }

target="$work/out/model.diffu"
mkdir "$work/out"
arguments=(convert "$checkpoint" -o "$target" --quant q8 --zstd none --mask-id 0)
convert() { "$DIFFU" "${arguments[@]}"; }

start=$(date +%s%N)
convert >/dev/null 2>&1 || { echo "reference conversion failed:"; convert; exit 1; }
full_ns=$(( $(date +%s%N) - start ))
"$DIFFU" verify "$target" >/dev/null
rm -f "$target"
echo "full conversion: $((full_ns / 1000000)) ms; killing $iterations conversions at random points"

completed=0 killed=0 leftovers=0
for ((iteration = 0; iteration < iterations; iteration++)); do
    "$DIFFU" "${arguments[@]}" >/dev/null 2>&1 &  # the diffu process itself, so $! is its pid
    pid=$!
    sleep "$(awk -v seed="$RANDOM$iteration" -v full="$full_ns" 'BEGIN { srand(seed); printf "%.4f", rand() * 1.2 * full / 1e9 }')"
    if kill -KILL "$pid" 2>/dev/null; then killed=$((killed + 1)); fi
    wait "$pid" 2>/dev/null || true
    if [[ -e "$target" ]]; then
        "$DIFFU" verify "$target" >/dev/null || { echo "FAIL: iteration $iteration left a corrupt file at the target"; exit 1; }
        completed=$((completed + 1))
        rm -f "$target"
    fi
    temporaries=0
    for entry in "$work/out"/.[!.]* "$work/out"/*; do
        [[ -e "$entry" ]] || continue
        [[ "$(basename "$entry")" =~ ^\.model\.diffu\.[0-9]+\.[0-9A-Za-z]+\.tmp$ ]] || { echo "FAIL: unexpected file $entry"; exit 1; }
        temporaries=$((temporaries + 1))
    done
    [[ $temporaries -le 1 ]] || { echo "FAIL: $temporaries temporary files: abandoned ones were not removed"; exit 1; }
    leftovers=$((leftovers + temporaries))
done
convert >/dev/null 2>&1
"$DIFFU" verify "$target" >/dev/null
[[ $(find "$work/out" -name '.model.diffu.*.tmp' | wc -l) == 0 ]] || { echo "FAIL: temporary files remain after a clean run"; exit 1; }
echo "killed conversions: $iterations runs, $killed killed mid-run, $completed finished before the kill;" \
     "never a partial file at the target; $leftovers abandoned temporary files, each removed by the next run"

# 2. Truncate the converted file under a running benchmark (forward passes read every weight page).
"$DIFFU" bench "$target" --tokens 32 --runs 100000 --threads 1 >/dev/null 2>"$work/bench.err" &
pid=$!
# Truncate once the file is mapped (Linux: listed in /proc/PID/maps) and forward passes are running.
for _ in $(seq 600); do
    if [[ -r /proc/$pid/maps ]]; then grep -q "$target" "/proc/$pid/maps" 2>/dev/null && break; else sleep 3; break; fi
    sleep 0.1
done
sleep 1
truncate -s $(( $(stat -c %s "$target") / 2 )) "$target"
status=0
wait "$pid" || status=$?
[[ $status == 135 ]] || { echo "FAIL: bench on a truncated mapping exited with $status, expected 135"; cat "$work/bench.err"; exit 1; }
grep -q "bus error reading a memory-mapped file" "$work/bench.err" || { echo "FAIL: no message"; cat "$work/bench.err"; exit 1; }
echo "truncated while mapped: exit 135 with \"$(grep -o 'bus error[^(]*' "$work/bench.err" | head -1)\""
