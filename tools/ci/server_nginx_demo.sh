#!/usr/bin/env bash
# Opt-in (not in CI): nginx on loopback in front of two `diffu serve` replicas of the tiny ChatML test
# model, with docs/nginx-diffu.conf (its ports replaced by free ones). Sends requests through nginx and
# shows that both replicas served some (their /metrics), then SIGTERMs one replica while it streams and
# shows that requests sent during its drain and after its exit still succeed (nginx's access log shows
# the 503 retried on the other replica). Installs Debian's nginx when missing.
# Usage: tools/ci/server_nginx_demo.sh
set -euo pipefail
root="$(cd "$(dirname "$0")/../.." && pwd)"
work="$(mktemp -d)"
chmod 755 "$work"
pids=()
cleanup() {
    for pid in "${pids[@]}"; do
        if kill -0 "$pid" 2>/dev/null; then kill -TERM "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true; fi
    done
    rm -rf "$work"
}
trap cleanup EXIT

if ! command -v nginx >/dev/null 2>&1 && [[ ! -x /usr/sbin/nginx ]]; then
    command -v apt-get >/dev/null 2>&1 || { echo "server_nginx_demo: install nginx and rerun" >&2; exit 1; }
    echo "server_nginx_demo: installing nginx (apt)"
    sudo=""; if [[ "$(id -u)" != 0 ]]; then sudo="sudo"; fi
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq nginx >/dev/null
fi
nginx="$(command -v nginx || echo /usr/sbin/nginx)"

swift build --package-path "$root" --product diffu 2>&1 | tail -1
diffu="$(swift build --package-path "$root" --show-bin-path)/diffu"
"$diffu" convert "$root/Tests/Fixtures/server/tiny-chatml.gguf" -o "$work/tiny-chatml.diffu" --quant f32 --mask-id 262 >/dev/null 2>&1

read -r port_front port_a port_b < <(python3 -c '
import socket
sockets = [socket.socket() for _ in range(3)]
for s in sockets: s.bind(("127.0.0.1", 0))
print(*[s.getsockname()[1] for s in sockets])')

start_replica() {  # name port
    "$diffu" serve "$work/tiny-chatml.diffu" --port "$2" --parallel 1 --queue 4 --threads 1 --drain 3 \
        >"$work/$1.out" 2>"$work/$1.log" &
    pids+=($!)
    eval "pid_$1=$!"
    for _ in $(seq 100); do
        if curl -sf "http://127.0.0.1:$2/health" >/dev/null; then return; fi
        sleep 0.1
    done
    echo "server_nginx_demo: replica $1 did not start"; cat "$work/$1.log"; exit 1
}
start_replica a "$port_a"
start_replica b "$port_b"

mkdir -p "$work/nginx/logs" "$work/nginx/temp"
sed -e "s/127.0.0.1:8080/127.0.0.1:$port_front/" -e "s/127.0.0.1:8081/127.0.0.1:$port_a/" -e "s/127.0.0.1:8082/127.0.0.1:$port_b/" \
    "$root/docs/nginx-diffu.conf" >"$work/nginx/nginx.conf"
"$nginx" -p "$work/nginx" -c "$work/nginx/nginx.conf" -g 'daemon off;' 2>"$work/nginx/stderr" &
pids+=($!)
front="http://127.0.0.1:$port_front"
for _ in $(seq 50); do curl -sf "$front/health" >/dev/null && break; sleep 0.1; done
curl -sf "$front/health" >/dev/null || { echo "server_nginx_demo: nginx did not start"; cat "$work/nginx/stderr" "$work/nginx/logs/error.log"; exit 1; }
echo "server_nginx_demo: nginx $front -> replicas :$port_a (a), :$port_b (b)"

served() {  # port: completions answered 200
    curl -s "http://127.0.0.1:$1/metrics" \
        | awk '/^diffu_requests_total/ && /endpoint="\/v1\/completions"/ && /status="200"/ { sum += $NF } END { print sum + 0 }'
}

# 1. Twelve requests, four at a time, half streamed with step events: least_conn spreads them.
python3 - "$front" <<'PYTHON'
import concurrent.futures, json, sys, urllib.request
front = sys.argv[1]
def one(index):
    body = {"prompt": f"request {index}", "max_tokens": 32, "steps": 16, "stream": index % 2 == 0, "diffu_steps": index % 2 == 0}
    request = urllib.request.Request(front + "/v1/completions", json.dumps(body).encode(), {"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=60) as response:
        text = response.read().decode()
        assert response.status == 200 and (text.endswith("data: [DONE]\n\n") if body["stream"] else '"choices"' in text), text[-200:]
with concurrent.futures.ThreadPoolExecutor(4) as pool:
    list(pool.map(one, range(12)))
print("server_nginx_demo: 12 requests through nginx: all 200")
PYTHON
served_a=$(served "$port_a") served_b=$(served "$port_b")
echo "server_nginx_demo: replica a served $served_a, replica b served $served_b"
(( served_a > 0 && served_b > 0 )) || { echo "server_nginx_demo: FAIL: one replica served nothing"; exit 1; }

# 2. A long stream on replica a, SIGTERM it (it drains for 3 s, answering 503), and keep sending requests
# through nginx during the drain and after a exits: every one must succeed.
curl -sN "http://127.0.0.1:$port_a/v1/completions" -H 'Content-Type: application/json' \
    -d '{"prompt": "x", "max_tokens": 128, "steps": 128, "stream": true}' >"$work/long.txt" &
long_pid=$!
for _ in $(seq 100); do curl -s "http://127.0.0.1:$port_a/health" | grep -q '"running":1' && break; sleep 0.05; done
kill -TERM "$pid_a"
sleep 0.2
echo "server_nginx_demo: SIGTERM to replica a; its /health: $(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$port_a/health")"
python3 - "$front" <<'PYTHON'
import json, sys, time, urllib.request
front = sys.argv[1]
ok = 0
for index in range(16):
    body = {"prompt": f"after {index}", "max_tokens": 16, "steps": 8, "stream": index % 2 == 1}
    request = urllib.request.Request(front + "/v1/completions", json.dumps(body).encode(), {"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=60) as response:
        assert response.status == 200, response.status
        response.read()
        ok += 1
    time.sleep(0.25)
print(f"server_nginx_demo: {ok}/16 requests during replica a's drain and after its exit: all 200")
PYTHON
wait "$pid_a" && echo "server_nginx_demo: replica a exited 0" || { echo "server_nginx_demo: FAIL: replica a exited $?"; exit 1; }
wait "$long_pid" || true
draining=$(grep -c 'upstream_status=503, 200' "$work/nginx/logs/access.log" || true)
gone=$(grep -c 'upstream_status=502, 200' "$work/nginx/logs/access.log" || true)
echo "server_nginx_demo: nginx retried on replica b: $draining request(s) refused by a while draining (503), $gone after a exited (connection refused)"
grep 'upstream_status=50[23], 200' "$work/nginx/logs/access.log" | sed 's/^/    /'
echo "server_nginx_demo: replica b served $(served "$port_b") completions in all; the stream on a ended with: $(grep -o '"code":"[a-z_]*"' "$work/long.txt" | tail -1)"
