"""Loopback load test of `diffu serve` (a short run is part of tools/ci/server_smoke.sh, so CI runs it; longer runs are opt-in).

N concurrent clients each send up to M streamed `/v1/completions` requests with `"diffu_steps": true`,
one after another, within a time budget. Reports throughput, p50/p99 time to the first step event and to
the end of the stream, the server's peak resident memory (VmHWM, and the peak of VmRSS sampled from
/proc), and accounts for every request: completed, failed with a named error, or not sent because the
time budget ran out. The server's own `diffu_requests_total` must agree with the client's count.

Starts the server itself (so it knows its process id):
    python3 -m tools.bench.bench_server_load --diffu .build/debug/diffu --model tiny-chatml.diffu --clients 8 --requests 50
or measures a running one on this machine:
    python3 -m tools.bench.bench_server_load --url http://127.0.0.1:8080 --pid PID ...
Exit status 1 when a request is lost (neither completed nor failed with a reason) or the counts disagree.
"""
import argparse
import http.client
import json
import os
import re
import statistics
import subprocess
import sys
import threading
import time
import urllib.parse
import urllib.request


def percentile(values, fraction):
    """Nearest-rank percentile."""
    if not values:
        return float("nan")
    ordered = sorted(values)
    rank = max(1, min(len(ordered), int(-(-fraction * len(ordered) // 1))))
    return ordered[rank - 1]


def memory_kib(pid, field):
    try:
        with open(f"/proc/{pid}/status") as status:
            for line in status:
                if line.startswith(field + ":"):
                    return int(line.split()[1])
    except FileNotFoundError:
        return None
    return None


def served_requests(base):
    """The server's count of generation requests answered 200 (from /metrics)."""
    with urllib.request.urlopen(base + "/metrics", timeout=10) as response:
        text = response.read().decode()
    return sum(float(line.rsplit(" ", 1)[1]) for line in text.splitlines()
               if line.startswith("diffu_requests_total") and 'status="200"' in line and "completions" in line)


def one_request(url, body, timeout):
    """One streamed request. Returns (outcome, time to first step, total time, generated tokens, whether
    the server answered 200: it counts a stream's status when the stream starts)."""
    started = time.monotonic()
    first_step = None
    answered = False
    connection = http.client.HTTPConnection(url.hostname, url.port, timeout=timeout)
    try:
        connection.request("POST", "/v1/completions", body=json.dumps(body), headers={"Content-Type": "application/json"})
        response = connection.getresponse()
        if response.status != 200:
            payload = response.read().decode(errors="replace")
            try:
                code = json.loads(payload)["error"]["code"]
            except (ValueError, KeyError, TypeError):
                code = payload[:60]
            return f"http {response.status} {code}", None, time.monotonic() - started, 0, False
        answered = True
        tokens, done, error = 0, False, None
        for raw in response:
            line = raw.decode().rstrip("\n")
            if not line.startswith("data: "):
                continue
            data = line[6:]
            if data == "[DONE]":
                done = True
                break
            event = json.loads(data)
            if "error" in event:
                error = f"stream error {event['error'].get('code')}"
            elif event.get("object") == "diffu.step":
                if first_step is None:
                    first_step = time.monotonic() - started
            elif event.get("usage"):
                tokens = event["usage"]["completion_tokens"]
        elapsed = time.monotonic() - started
        if error:
            return error, first_step, elapsed, 0, True
        if not done:
            return "stream ended before [DONE]", first_step, elapsed, 0, True
        return "ok", first_step, elapsed, tokens, True
    except (OSError, http.client.HTTPException) as exception:
        return f"{type(exception).__name__}: {exception}", first_step, time.monotonic() - started, 0, answered
    finally:
        connection.close()


def start_server(arguments):
    command = [arguments.diffu, "serve", arguments.model, "--port", "0", "--parallel", str(arguments.parallel),
               "--queue", str(arguments.queue), "--log-level", "warning"]
    if arguments.threads:
        command += ["--threads", str(arguments.threads)]
    server = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    line = server.stdout.readline()
    match = re.search(r"http://[0-9.]+:[0-9]+", line)
    if not match:
        server.kill()
        sys.exit(f"server_load: the server printed no address: {line!r}")
    return server, match.group(0)


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--diffu", help="the diffu binary (starts a server)")
    parser.add_argument("--model", help="the .diffu file to serve")
    parser.add_argument("--url", help="a running server instead (needs --pid)")
    parser.add_argument("--pid", type=int, help="the running server's process id (for its memory)")
    parser.add_argument("--parallel", type=int, default=1)
    parser.add_argument("--queue", type=int, default=8)
    parser.add_argument("--threads", type=int)
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--requests", type=int, default=50, help="per client")
    parser.add_argument("--length", type=int, default=32)
    parser.add_argument("--steps", type=int, default=16)
    parser.add_argument("--time-budget", type=float, default=60, help="seconds; no request is started after it")
    parser.add_argument("--json", help="also write the summary here")
    arguments = parser.parse_args()

    server = None
    if arguments.url:
        if not arguments.pid:
            parser.error("--url needs --pid")
        base, pid = arguments.url.rstrip("/"), arguments.pid
    else:
        if not (arguments.diffu and arguments.model):
            parser.error("give --diffu and --model, or --url and --pid")
        server, base = start_server(arguments)
        pid = server.pid
    url = urllib.parse.urlparse(base)
    try:
        served_before = served_requests(base)
        rss_at_start = memory_kib(pid, "VmRSS")
        peak_sampled = [rss_at_start or 0]
        sampling = threading.Event()

        def sample():
            while not sampling.wait(0.05):
                value = memory_kib(pid, "VmRSS")
                if value:
                    peak_sampled[0] = max(peak_sampled[0], value)

        sampler = threading.Thread(target=sample, daemon=True)
        sampler.start()
        results, lock = [], threading.Lock()
        started = time.monotonic()
        deadline = started + arguments.time_budget

        def client(index):
            for number in range(arguments.requests):
                if time.monotonic() >= deadline:
                    with lock:
                        results.append(("not sent (time budget)", None, None, 0, False))
                    continue
                body = {"prompt": f"client {index} request {number}: the quick brown fox", "max_tokens": arguments.length,
                        "steps": arguments.steps, "stream": True, "diffu_steps": True, "stream_options": {"include_usage": True},
                        "seed": index * 1000 + number}
                outcome = one_request(url, body, timeout=max(30, arguments.time_budget * 2))
                with lock:
                    results.append(outcome)

        threads = [threading.Thread(target=client, args=(index,)) for index in range(arguments.clients)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        wall = time.monotonic() - started
        sampling.set()
        sampler.join()
        peak_hwm = memory_kib(pid, "VmHWM")
        served_after = served_requests(base)
    finally:
        if server:
            server.terminate()
            server.wait(timeout=30)

    expected = arguments.clients * arguments.requests
    outcomes = {}
    for outcome, *_ in results:
        outcomes[outcome] = outcomes.get(outcome, 0) + 1
    completed = [result for result in results if result[0] == "ok"]
    first_steps = [result[1] for result in completed if result[1] is not None]
    totals = [result[2] for result in completed]
    tokens = sum(result[3] for result in completed)
    summary = {
        "clients": arguments.clients, "requests_per_client": arguments.requests, "length": arguments.length,
        "steps": arguments.steps, "parallel": arguments.parallel, "queue": arguments.queue,
        "wall_seconds": round(wall, 2), "planned": expected, "accounted": len(results), "outcomes": outcomes,
        "requests_per_second": round(len(completed) / wall, 2), "generated_tokens_per_second": round(tokens / wall, 1),
        "first_step_seconds": {"p50": round(percentile(first_steps, 0.5), 4), "p99": round(percentile(first_steps, 0.99), 4)},
        "completion_seconds": {"p50": round(percentile(totals, 0.5), 4), "p99": round(percentile(totals, 0.99), 4),
                               "mean": round(statistics.fmean(totals), 4) if totals else None},
        "server_rss_mib": {"start": round((rss_at_start or 0) / 1024, 1), "peak_sampled": round(peak_sampled[0] / 1024, 1),
                           "peak_vmhwm": round((peak_hwm or 0) / 1024, 1)},
        "server_counted_200": int(served_after - served_before),
    }
    print(json.dumps(summary, indent=2))
    if arguments.json:
        with open(arguments.json, "w") as file:
            json.dump(summary, file, indent=2)
    problems = []
    if len(results) != expected:
        problems.append(f"{expected - len(results)} request(s) unaccounted for")
    answered = sum(1 for result in results if result[4])
    if summary["server_counted_200"] != answered:
        problems.append(f"the server counted {summary['server_counted_200']} requests answered 200, the clients {answered}")
    if len(first_steps) != len(completed):
        problems.append(f"{len(completed) - len(first_steps)} completed stream(s) had no step event")
    if problems:
        sys.exit("server_load: " + "; ".join(problems))
    print(f"server_load: {len(completed)}/{expected} completed, every request accounted for: {outcomes}")


if __name__ == "__main__":
    main()
