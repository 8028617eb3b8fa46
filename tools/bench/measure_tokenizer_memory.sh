#!/usr/bin/env bash
# Peak resident memory of encoding one large text with `diffu tokenizer-bench` (tools only, never in CI).
# Setup: swift build [-c release] (the script uses the debug binary unless DIFFU=path is set); GNU time.
# Usage: tools/bench/measure_tokenizer_memory.sh [MEGABYTES (default 50)] [TOKENIZER (default Tests/Fixtures/tokenizers/gpt2)]
# Prints the peak RSS of a 1 MiB run and of the MEGABYTES run, and the RSS beyond the text itself (the tool
# holds the text once and counts ids batch by batch, so that figure is the tokenizer's working memory).
set -euo pipefail
root="$(cd "$(dirname "$0")/../.." && pwd)"
megabytes="${1:-50}"
tokenizer="${2:-$root/Tests/Fixtures/tokenizers/gpt2}"
diffu="${DIFFU:-$root/.build/debug/diffu}"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
# Mixed prose, code, digits and non-ASCII text, repeated to size.
sample="$work/sample.txt"
for file in "$root"/Tests/Fixtures/tokenizers/vocab/*.inp; do cat "$file"; done > "$sample"
measure() {
    local bytes=$1 text="$work/text-$1.txt"
    while [[ ! -f "$text" || $(stat -c %s "$text") -lt $bytes ]]; do cat "$sample" >> "$text"; done
    truncate -s "$bytes" "$text"
    /usr/bin/time -f "%M" -o "$work/rss" "$diffu" tokenizer-bench "$tokenizer" --file "$text" --repeats 1 > "$work/out" 2>&1 || { cat "$work/out"; exit 1; }
    local kilobytes; kilobytes=$(tail -1 "$work/rss")
    echo "$bytes bytes of text: peak RSS $((kilobytes / 1024)) MiB, of which $(( (kilobytes * 1024 - bytes) >> 20 )) MiB beyond the text"
    grep -v '^$' "$work/out" | tail -2
}
measure $((1 << 20))
measure $((megabytes << 20))
