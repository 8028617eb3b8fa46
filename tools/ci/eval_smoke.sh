#!/usr/bin/env bash
# `diffu eval` and `diffu score` end to end on the tiny ChatML model (a real tokenizer): the JSON fields,
# determinism given a seed, choices best first, and typed refusals of bad input. The numbers themselves
# are checked against the independent reference by Tests/DiffuTests/LikelihoodTests.swift.
set -euo pipefail
root="$(cd "$(dirname "$0")/../.." && pwd)"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
swift build --package-path "$root" --product diffu >/dev/null
diffu="$(swift build --package-path "$root" --show-bin-path)/diffu"
"$diffu" convert "$root/Tests/Fixtures/server/tiny-chatml.gguf" -o "$work/tiny.diffu" --quant f32 --mask-id 262 >/dev/null 2>&1
printf 'The cat sat on the mat. The dog ran in the park.\n' > "$work/text.txt"
"$diffu" eval "$work/tiny.diffu" --text "$work/text.txt" --samples 8 --seed 3 --json > "$work/a.json"
"$diffu" eval "$work/tiny.diffu" --text "$work/text.txt" --samples 8 --seed 3 --json > "$work/b.json"
"$diffu" eval "$work/tiny.diffu" --text "$work/text.txt" --autoregressive --json > "$work/ar.json"
"$diffu" score "$work/tiny.diffu" --context "The cat sat on the" --choice " mat." --choice " roof of the house." \
    --choice " mat" --samples 8 --json > "$work/score.json"
"$diffu" score "$work/tiny.diffu" --context "The cat sat on the" --choice " mat." --choice " roof of the house." \
    --choice " mat" --samples 8 --rank per-token --json > "$work/score_per_token.json"
"$diffu" eval "$work/tiny.diffu" --text "$work/text.txt" --samples 4 --window 16 --json > "$work/windowed.json"
python3 - "$work" <<'PY'
import json, math, sys
work = sys.argv[1]
load = lambda name: json.load(open(f"{work}/{name}"))
a, b, ar = load("a.json"), load("b.json"), load("ar.json")
for result in (a, ar):
    for key in ("nll_per_token", "perplexity", "tokens", "samples", "seconds"):
        assert key in result, (key, result)
    assert math.isclose(result["perplexity"], math.exp(result["nll_per_token"]), rel_tol=1e-12)
    assert result["tokens"] > 0 and math.isfinite(result["nll_per_token"])
assert a["samples"] == 8 and ar["samples"] == 0 and a["tokens"] == ar["tokens"]
assert {k: v for k, v in a.items() if k != "seconds"} == {k: v for k, v in b.items() if k != "seconds"}, "same seed, same result"
for name, key in (("score.json", "nll"), ("score_per_token.json", "nll_per_token")):
    choices = load(name)["choices"]
    assert sorted(c["index"] for c in choices) == [0, 1, 2]
    assert all({"text", "nll", "nll_per_token"} <= set(c) for c in choices)
    values = [c[key] for c in choices]
    assert values == sorted(values), f"{name}: not best first: {values}"
windowed = load("windowed.json")
assert windowed["windows"] == -(-a["tokens"] // 16) and windowed["tokens"] == a["tokens"], windowed
print("eval/score JSON ok:", round(a["nll_per_token"], 3), "nats/token (bound),", round(ar["nll_per_token"], 3), "(AR)")
PY
expect_failure() {  # a non-zero exit and a message naming the problem, never a crash
    local pattern="$1"; shift
    if "$@" > "$work/out.txt" 2>&1; then echo "expected a failure: $*"; exit 1; fi
    grep -q "$pattern" "$work/out.txt" || { echo "no '$pattern' in:"; cat "$work/out.txt"; exit 1; }
}
: > "$work/empty.txt"
printf '\xff\xfe' > "$work/bad.txt"
python3 -c "print('word ' * 20000)" > "$work/long.txt"
expect_failure "more than the model's" "$diffu" eval "$work/tiny.diffu" --text "$work/long.txt"
"$diffu" eval "$work/tiny.diffu" --text "$work/long.txt" --samples 1 --window 256 --json > "$work/long.json"
python3 -c "import json, sys; r = json.load(open(sys.argv[1])); assert r['windows'] > 1 and r['tokens'] > 256, r" "$work/long.json"
expect_failure "no token to score" "$diffu" eval "$work/tiny.diffu" --text "$work/empty.txt"
expect_failure "not valid UTF-8" "$diffu" eval "$work/tiny.diffu" --text "$work/bad.txt"
expect_failure "cannot read" "$diffu" eval "$work/tiny.diffu" --text "$work/missing.txt"
expect_failure "sample count" "$diffu" eval "$work/tiny.diffu" --text "$work/text.txt" --samples 0
expect_failure "at least one --choice" "$diffu" score "$work/tiny.diffu" --context "x"
expect_failure "choice 2" "$diffu" score "$work/tiny.diffu" --context "x" --choice "a" --choice ""
echo "eval smoke ok"
