#!/usr/bin/env bash
# The live web view of `diffu serve` (GET /) in a real browser: starts the server on the tiny ChatML test
# model (Tests/Fixtures/server, made by tools/fixtures/make_server_fixture.py) and runs tools/ci/web_smoke.py, which
# drives headless Chromium over the DevTools protocol: the page's finished text must equal the API's answer
# for the same greedy request. Installs Debian's chromium (apt) and the websocket-client package (pip) when
# missing, and fails, never skips, when they cannot be had. Used by tools/ci/test.sh.
# Usage: tools/ci/web_smoke.sh [--docs]   (--docs: a longer generation, screenshot halfway to docs/web-view.png)
set -euo pipefail
root="$(cd "$(dirname "$0")/../.." && pwd)"
cd "$root"  # the Python tools run as `python3 -m tools.FOLDER.NAME` from the repository root
work="$(mktemp -d)"
server_pid=""
cleanup() {
    if [[ -n "$server_pid" ]] && kill -0 "$server_pid" 2>/dev/null; then kill -TERM "$server_pid"; wait "$server_pid" || true; fi
    rm -rf "$work"
}
trap cleanup EXIT
started=$(date +%s)

if ! command -v chromium >/dev/null 2>&1 && ! command -v chromium-browser >/dev/null 2>&1; then
    if command -v apt-get >/dev/null 2>&1; then
        sudo=""
        if [[ "$(id -u)" != 0 ]]; then sudo="sudo"; fi
        echo "web_smoke: installing chromium (apt)"
        export DEBIAN_FRONTEND=noninteractive
        { $sudo apt-get update -qq && $sudo apt-get install -y -qq chromium >/dev/null; } \
            || { echo "web_smoke: FAIL: Chromium is needed for the browser test and apt-get could not install it" >&2; exit 1; }
    else
        echo "web_smoke: FAIL: the browser test needs Chromium (chromium or chromium-browser on PATH); install it and rerun" >&2
        exit 1
    fi
fi
python3 -c "import websocket" 2>/dev/null || python3 -m pip install --quiet websocket-client \
    || { echo "web_smoke: FAIL: could not install the websocket-client package (pip)" >&2; exit 1; }

swift build --package-path "$root" --product diffu 2>&1 | tail -1
diffu="$(swift build --package-path "$root" --show-bin-path)/diffu"
"$diffu" convert "$root/Tests/Fixtures/server/tiny-chatml.gguf" -o "$work/tiny-chatml.diffu" --quant f32 --mask-id 262 >/dev/null 2>&1

max_tokens=256
"$diffu" serve "$work/tiny-chatml.diffu" --port 0 --parallel 1 --queue 2 --threads 1 --max-tokens "$max_tokens" --max-steps 256 \
    --timeout 30 --drain 1 >"$work/server.out" 2>"$work/server.log" &
server_pid=$!
for _ in $(seq 100); do
    if grep -q "^diffu serve: .* on http://" "$work/server.out"; then break; fi
    kill -0 "$server_pid" 2>/dev/null || { cat "$work/server.log"; echo "web_smoke: the server did not start"; exit 1; }
    sleep 0.1
done
base="$(grep -o 'http://127.0.0.1:[0-9]*' "$work/server.out" | head -1)"
[[ -n "$base" ]] || { echo "web_smoke: no address printed"; exit 1; }

if [[ "${1:-}" == "--docs" ]]; then
    python3 -m tools.ci.web_smoke "$base" --screenshot "$root/docs/web-view.png" --mid-screenshot \
        --prompt "The quick brown fox" --length 96 --steps 96 --refused-length $((max_tokens + 1))
else
    python3 -m tools.ci.web_smoke "$base" --screenshot "$work/web-view.png" --refused-length $((max_tokens + 1)) \
        || { tail -20 "$work/server.log"; exit 1; }
fi
echo "web_smoke: passed in $(( $(date +%s) - started )) s"
