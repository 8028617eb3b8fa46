#!/usr/bin/env bash
# `diffu serve` end to end: converts the tiny ChatML test model (Tests/Fixtures/server, made by
# tools/fixtures/make_server_fixture.py), records what the CLI generates for fixed greedy settings, starts the
# server on a free loopback port (parallel 1, queue 1, small limits) and drives it with the real `openai`
# Python client and raw HTTP (tools/ci/server_smoke.py): completions and chat, streamed and not, diffu.step
# events, malformed requests, the queue limit, the time limit, client disconnects. Then SIGTERM during a
# generation: the server must exit 0 within its drain time. Installs the `openai` package when missing.
# Used by tools/ci/test.sh. Usage: tools/ci/server_smoke.sh
set -euo pipefail
root="$(cd "$(dirname "$0")/../.." && pwd)"
cd "$root"  # the Python tools run as `python3 -m tools.FOLDER.NAME` from the repository root
work="$(mktemp -d)"
server_pid=""
cleanup() {
    if [[ -n "$server_pid" ]] && kill -0 "$server_pid" 2>/dev/null; then kill -9 "$server_pid"; fi
    rm -rf "$work"
}
trap cleanup EXIT

python3 -c "import openai" 2>/dev/null || python3 -m pip install --quiet openai
swift build --package-path "$root" --product diffu 2>&1 | tail -1
diffu="$(swift build --package-path "$root" --show-bin-path)/diffu"

"$diffu" convert "$root/Tests/Fixtures/server/tiny-chatml.gguf" -o "$work/tiny-chatml.diffu" --quant f32 --mask-id 262 >/dev/null 2>&1

# The CLI's answers for the settings the Python checks use (greedy confidence sampler, 8 steps, 24 tokens).
prompt="The quick brown fox"
chat_prompt="Say something."
length=24 steps=8
settings=(--length "$length" --steps "$steps" --sampler confidence --temperature 0 --threads 1)
"$diffu" generate "$work/tiny-chatml.diffu" --prompt "$prompt" "${settings[@]}" --json >"$work/completion.json"
printf '%s\n' "$chat_prompt" | "$diffu" chat "$work/tiny-chatml.diffu" --plain "${settings[@]}" >"$work/chat.txt" 2>/dev/null
"$diffu" tokenize "$work/tiny-chatml.diffu" "$prompt" --json >"$work/prompt.json"

max_tokens=128 max_steps=256 max_context=512 max_body=65536 timeout=8
PROMPT="$prompt" CHAT_PROMPT="$chat_prompt" python3 - "$work" <<PYTHON
import json, os, sys
work = sys.argv[1]
chat = open(os.path.join(work, "chat.txt")).read()
assert chat.endswith("\\n"), "diffu chat printed no reply line"
json.dump({"prompt": os.environ["PROMPT"], "chat_prompt": os.environ["CHAT_PROMPT"], "length": $length, "steps": $steps,
           "completion": json.load(open(os.path.join(work, "completion.json")))["text"], "chat": chat[:-1],
           "prompt_tokens": len(json.load(open(os.path.join(work, "prompt.json")))["ids"]),
           "max_tokens_limit": $max_tokens, "max_steps_limit": $max_steps, "max_context": $max_context,
           "max_body_bytes": $max_body, "timeout": $timeout, "long_length": 128, "long_steps": 128},
          open(os.path.join(work, "expected.json"), "w"))
PYTHON
start_server() {
    "$diffu" serve "$work/tiny-chatml.diffu" --port 0 --parallel 1 --queue 1 --threads 1 --max-tokens "$max_tokens" \
        --max-steps "$max_steps" --max-context "$max_context" --max-body-bytes "$max_body" --timeout "$timeout" \
        --drain 1 >"$work/server.out" 2>"$work/server.log" &
    server_pid=$!
    for _ in $(seq 100); do
        if grep -q "^diffu serve: .* on http://" "$work/server.out"; then break; fi
        kill -0 "$server_pid" 2>/dev/null || { cat "$work/server.log"; echo "server_smoke: the server did not start"; exit 1; }
        sleep 0.1
    done
    base="$(grep -o 'http://127.0.0.1:[0-9]*' "$work/server.out" | head -1)"
    [[ -n "$base" ]] || { echo "server_smoke: no address printed"; exit 1; }
}

start_server
python3 -m tools.ci.server_smoke "$base" tiny-chatml "$work/expected.json" || { tail -20 "$work/server.log"; exit 1; }
# One log line per request: id, endpoint, status, tokens, steps, seconds.
grep -q "cmpl-.* /v1/completions 200 stream=false prompt_tokens=[0-9]* completion_tokens=[0-9]* steps=$steps .* seconds=" "$work/server.log" \
    || { echo "server_smoke: no request log line"; tail -5 "$work/server.log"; exit 1; }

# SIGTERM while a long generation streams: in-flight work gets --drain 1 s, then stops with a
# shutting_down error event and [DONE]; the server exits 0.
python3 - "$base" >"$work/stream.txt" 2>&1 <<'PYTHON' &
import http.client, json, sys, urllib.parse
url = urllib.parse.urlparse(sys.argv[1])
connection = http.client.HTTPConnection(url.hostname, url.port, timeout=60)
connection.request("POST", "/v1/completions", body=json.dumps({"prompt": "x", "max_tokens": 64, "steps": 64, "stream": True}),
                   headers={"Content-Type": "application/json"})
response = connection.getresponse()
text = response.read().decode()
print(response.status, "shutting_down" in text, text.endswith("data: [DONE]\n\n"))
PYTHON
client_pid=$!
for _ in $(seq 100); do
    if curl -s "$base/health" | grep -q '"running":1'; then break; fi
    sleep 0.05
done
curl -s "$base/health" | grep -q '"running":1' || { echo "server_smoke: the SIGTERM test's generation never started"; exit 1; }
started=$(date +%s.%N)
kill -TERM "$server_pid"
status=0
wait "$server_pid" || status=$?
server_pid=""
elapsed=$(python3 -c "import time; print(round(time.time() - $started, 2))")
wait "$client_pid" || true
if (( status != 0 )); then echo "server_smoke: exit status $status after SIGTERM"; tail -5 "$work/server.log"; exit 1; fi
if python3 -c "import sys; sys.exit(0 if $elapsed < 8 else 1)"; then :; else echo "server_smoke: SIGTERM took $elapsed s"; exit 1; fi
grep -q "^200 True True$" "$work/stream.txt" \
    || { echo "server_smoke: the in-flight stream did not end with a shutting_down error and [DONE]: $(cat "$work/stream.txt")"; exit 1; }
grep -q "diffu serve: stopped" "$work/server.log" || { echo "server_smoke: no clean stop logged"; exit 1; }
# A short load test (tools/bench/bench_server_load.py, which exits 1 when a request is lost or the server's count
# disagrees): 8 streaming clients against 1 slot and a queue of 2, so most requests meet the 503 refusal.
python3 -m tools.bench.bench_server_load --diffu "$diffu" --model "$work/tiny-chatml.diffu" --parallel 1 --queue 2 --threads 1 \
    --clients 8 --requests 3 --length 16 --steps 4 --time-budget 20 >"$work/load.txt" 2>&1 \
    || { echo "server_smoke: the short load test lost a request:"; tail -20 "$work/load.txt"; exit 1; }
tail -1 "$work/load.txt"
echo "server_smoke: the openai client, malformed requests, the queue, time limit, disconnects, SIGTERM ($elapsed s, exit 0) and a short load test all pass"
