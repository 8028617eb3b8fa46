#!/usr/bin/env bash
# Builds every libFuzzer target (libFuzzer + AddressSanitizer) and runs them one after another at
# nice 10, each until 1 000 000 executions or SECONDS seconds, whichever comes first.
# Tools only (never in CI). Needs the Swift toolchain for Linux (it ships libFuzzer) and libzstd-dev.
# Seeds: tools/fuzz/seeds/<target>/ (regenerate with tools/fuzz/make_seeds.py) plus the crash regression
# inputs in Tests/Fixtures/fuzz/<target>/. Working corpora and crashes: .build-fuzz/<target>/.
# Usage: tools/fuzz/run_all.sh SECONDS [TARGET…]     (default: every target; RUNS=… overrides 1000000)
# Prints one summary line per target (executions, seconds, crash files) and appends it to
# .build-fuzz/summary.txt.
set -euo pipefail
source "$(dirname "$0")/common.sh"
seconds="${1:?usage: run_all.sh SECONDS [TARGET…]}"
shift
runs="${RUNS:-1000000}"

# target name → harness source (FuzzSupport.swift is added to every target).
declare -A sources=(
    [diffu-format]="DiffuFormatFuzz.swift"
    [safetensors]="SafetensorsFuzz.swift"
    [shard-index]="ShardIndexFuzz.swift"
    [gguf]="GGUFFuzz.swift"
    [config]="ConfigFuzz.swift"
    [tokenizer-json]="TokenizerJSONFuzz.swift TokenizerFuzzSupport.swift"
    [vocab-merges]="VocabMergesFuzz.swift TokenizerFuzzSupport.swift"
    [sentencepiece]="SentencePieceFuzz.swift TokenizerFuzzSupport.swift"
    [gguf-vocab]="GGUFVocabFuzz.swift TokenizerFuzzSupport.swift"
    [encode-decode]="EncodeDecodeFuzz.swift"
)
order=(diffu-format safetensors shard-index gguf config tokenizer-json vocab-merges sentencepiece gguf-vocab encode-decode)
targets=("$@")
[[ ${#targets[@]} == 0 ]] && targets=("${order[@]}")

# LeakSanitizer cannot see pointers that Swift stores in multi-payload enums with tag bits; the global
# tokenizers a target loads once would read as leaked. tools/fuzz/lsan.supp names exactly those setups.
export LSAN_OPTIONS="suppressions=$root/tools/fuzz/lsan.supp${LSAN_OPTIONS:+:$LSAN_OPTIONS}"
nice -n 10 bash -c "source '$root/tools/fuzz/common.sh'; build_libraries"
for target in "${targets[@]}"; do
    [[ -n "${sources[$target]:-}" ]] || { echo "unknown target $target (have: ${order[*]})" >&2; exit 2; }
    out="$root/.build-fuzz/$target"
    mkdir -p "$out/corpus" "$out/crashes"
    # shellcheck disable=SC2086
    nice -n 10 bash -c "source '$root/tools/fuzz/common.sh'; build_target '$target' FuzzSupport.swift ${sources[$target]}"
    seeds=("$root/tools/fuzz/seeds/$target")
    [[ $target == diffu-format ]] && seeds=("$root/Tests/Fixtures/format")
    [[ -d "$root/Tests/Fixtures/fuzz/$target" ]] && seeds+=("$root/Tests/Fixtures/fuzz/$target")
    log="$out/last-run.log"
    set +e
    nice -n 10 "$out/$target-fuzz" -runs="$runs" -max_total_time="$seconds" -max_len=65536 -rss_limit_mb=4096 \
        -timeout=20 -artifact_prefix="$out/crashes/" -print_final_stats=1 "$out/corpus" "${seeds[@]}" >"$log" 2>&1
    status=$?
    set -e
    executions=$(grep -o 'stat::number_of_executed_units: *[0-9]*' "$log" | grep -o '[0-9]*$' || echo "?")
    elapsed=$(grep -o 'stat::.*' "$log" >/dev/null; grep -o 'Done [0-9]* runs in [0-9]* second' "$log" | grep -o 'in [0-9]*' | grep -o '[0-9]*' || echo "?")
    crashes=$(ls "$out/crashes" | wc -l)
    line="$(date -u +%FT%TZ) $target: exit $status, $executions executions, ${elapsed}s, $crashes crash files"
    echo "$line" | tee -a "$root/.build-fuzz/summary.txt"
done
