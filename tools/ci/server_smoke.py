"""Drives a running `diffu serve` (started by tools/ci/server_smoke.sh) with the real `openai` client and with
raw HTTP: completions and chat, streamed and not, Diffu's step events, malformed requests, the queue limit,
the time limit, and cancellation on client disconnect. Every check raises on failure.

Usage: python3 -m tools.ci.server_smoke BASE_URL MODEL_ID EXPECTED_JSON
EXPECTED_JSON holds what the CLI generated for the same settings (`completion`: diffu generate --json,
`chat`: diffu chat --plain), the server's limits, and the decoding settings used for both.
"""
import http.client
import json
import socket
import sys
import threading
import time
import urllib.parse

import openai

BASE, MODEL, EXPECTED_PATH = sys.argv[1], sys.argv[2], sys.argv[3]
EXPECTED = json.load(open(EXPECTED_PATH))
URL = urllib.parse.urlparse(BASE)
GREEDY = {"steps": EXPECTED["steps"], "sampler": "confidence"}  # temperature 0 in every greedy request
LENGTH = EXPECTED["length"]
client = openai.OpenAI(base_url=BASE + "/v1", api_key="unused", max_retries=0, timeout=60)
checks = 0


def check(condition, message):
    global checks
    if not condition:
        raise AssertionError(message)
    checks += 1


def request(method, path, body=None, headers=None, raw=None):
    """One HTTP request; returns (status, headers, body bytes)."""
    connection = http.client.HTTPConnection(URL.hostname, URL.port, timeout=60)
    data = raw if raw is not None else (json.dumps(body).encode() if body is not None else None)
    connection.request(method, path, body=data, headers={"Content-Type": "application/json", **(headers or {})})
    response = connection.getresponse()
    payload = response.read()
    connection.close()
    return response.status, dict(response.getheaders()), payload


def expect_error(status, payload, expected_status, code=None, param=None, label=""):
    check(status == expected_status, f"{label}: status {status}, expected {expected_status}: {payload[:300]!r}")
    error = json.loads(payload)["error"]
    check(set(error) == {"message", "type", "param", "code"}, f"{label}: error keys {sorted(error)}")
    check(isinstance(error["message"], str) and error["message"], f"{label}: empty message")
    if code is not None:
        check(error["code"] == code, f"{label}: code {error['code']!r}, expected {code!r}")
    if param is not None:
        check(error["param"] == param, f"{label}: param {error['param']!r}, expected {param!r}")


def events(path, body):
    """A streamed request read with raw HTTP: the decoded `data:` payloads, up to and excluding [DONE]."""
    connection = http.client.HTTPConnection(URL.hostname, URL.port, timeout=60)
    connection.request("POST", path, body=json.dumps(body), headers={"Content-Type": "application/json"})
    response = connection.getresponse()
    check(response.status == 200, f"stream {path}: status {response.status}")
    check(response.getheader("Content-Type", "").startswith("text/event-stream"), "stream content type")
    text = response.read().decode()
    connection.close()
    blocks = [block for block in text.split("\n\n") if block.strip()]
    check(all(block.startswith("data: ") for block in blocks), f"non-data SSE lines in {text[:200]!r}")
    check(blocks[-1] == "data: [DONE]", f"stream does not end with [DONE]: {blocks[-1]!r}")
    return [json.loads(block[6:]) for block in blocks[:-1]]


def metric(name):
    status, _, payload = request("GET", "/metrics")
    check(status == 200, "metrics status")
    total = 0.0
    found = False
    for line in payload.decode().splitlines():
        if line.startswith(name + " ") or line.startswith(name + "{"):
            total += float(line.rsplit(" ", 1)[1])
            found = True
    check(found, f"metric {name} missing")
    return total


def health():
    status, _, payload = request("GET", "/health")
    check(status == 200, "health status")
    return json.loads(payload)


def wait_until(predicate, seconds, message):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.05)
    raise AssertionError(message)


def openai_checks():
    models = client.models.list()
    check([model.id for model in models.data] == [MODEL], f"models: {[model.id for model in models.data]}")

    # Completions, not streamed: the CLI's answer for the same greedy settings, with usage.
    completion = client.completions.create(model=MODEL, prompt=EXPECTED["prompt"], max_tokens=LENGTH, temperature=0,
                                           extra_body=GREEDY)
    text = completion.choices[0].text
    check(text == EXPECTED["completion"], f"completion {text!r} != CLI {EXPECTED['completion']!r}")
    check(completion.object == "text_completion" and completion.model == MODEL, "completion object/model")
    usage = completion.usage
    check(usage.prompt_tokens == EXPECTED["prompt_tokens"], f"prompt_tokens {usage.prompt_tokens} != {EXPECTED['prompt_tokens']}")
    check(usage.total_tokens == usage.prompt_tokens + usage.completion_tokens, "usage total")
    check(0 < usage.completion_tokens <= LENGTH, f"completion_tokens {usage.completion_tokens}")
    check(completion.choices[0].finish_reason in ("stop", "length"), "finish_reason")

    # Streamed: the deltas join to the same text; the usage chunk closes the stream.
    chunks = list(client.completions.create(model=MODEL, prompt=EXPECTED["prompt"], max_tokens=LENGTH, temperature=0,
                                            stream=True, stream_options={"include_usage": True}, extra_body=GREEDY))
    streamed = "".join(choice.text for chunk in chunks for choice in chunk.choices)
    check(streamed == text, f"streamed completion {streamed!r} != {text!r}")
    finals = [choice.finish_reason for chunk in chunks for choice in chunk.choices if choice.finish_reason]
    check(finals == [completion.choices[0].finish_reason], f"stream finish reasons {finals}")
    check(chunks[-1].choices == [] and chunks[-1].usage.completion_tokens == usage.completion_tokens, "stream usage chunk")

    # Stop sequences: the answer ends before the first one, finish_reason "stop".
    stop = text[6:8]
    stopped = client.completions.create(model=MODEL, prompt=EXPECTED["prompt"], max_tokens=LENGTH, temperature=0, stop=[stop],
                                        extra_body=GREEDY)
    check(stopped.choices[0].text == text[:text.index(stop)], f"stop {stop!r}: {stopped.choices[0].text!r} from {text!r}")
    check(stopped.choices[0].finish_reason == "stop", "stop finish_reason")
    check(stopped.usage.completion_tokens < usage.completion_tokens, "stop shortens completion_tokens")

    # Seeds: the same seed gives the same sample, another seed another one (random-keep draws).
    def sample(seed):
        return client.completions.create(model=MODEL, prompt=EXPECTED["prompt"], max_tokens=LENGTH, temperature=1, seed=seed,
                                         extra_body={"steps": 8, "sampler": "random-keep"}).choices[0].text
    first, again, other = sample(1), sample(1), sample(2)
    check(first == again, f"seed 1 twice: {first!r} != {again!r}")
    check(first != other, f"seeds 1 and 2 agree: {first!r}")

    # Chat, not streamed: the CLI's `diffu chat` answer; streamed: the same text, role first.
    messages = [{"role": "user", "content": EXPECTED["chat_prompt"]}]
    chat = client.chat.completions.create(model=MODEL, messages=messages, max_tokens=LENGTH, temperature=0, extra_body=GREEDY)
    reply = chat.choices[0].message.content
    check(reply == EXPECTED["chat"], f"chat {reply!r} != CLI {EXPECTED['chat']!r}")
    check(chat.object == "chat.completion" and chat.choices[0].message.role == "assistant", "chat object/role")
    check(chat.usage.prompt_tokens > usage.prompt_tokens, "chat prompt includes the template")
    stream = list(client.chat.completions.create(model=MODEL, messages=messages, max_tokens=LENGTH, temperature=0, stream=True,
                                                 extra_body=GREEDY))
    check(stream[0].choices[0].delta.role == "assistant", "first chat chunk carries the role")
    streamed_reply = "".join(chunk.choices[0].delta.content or "" for chunk in stream if chunk.choices)
    check(streamed_reply == reply, f"streamed chat {streamed_reply!r} != {reply!r}")
    check(all(chunk.object == "chat.completion.chunk" for chunk in stream), "chat chunk objects")

    # Errors through the client: unknown model, out-of-range values.
    for label, call, code in [
        ("unknown model", lambda: client.completions.create(model="nope", prompt="x", max_tokens=4), "model_not_found"),
        ("temperature 5", lambda: client.completions.create(model=MODEL, prompt="x", max_tokens=4, temperature=5), "invalid_value"),
        ("max_tokens over the limit", lambda: client.completions.create(model=MODEL, prompt="x", max_tokens=EXPECTED["max_tokens_limit"] + 1), "invalid_value"),
    ]:
        try:
            call()
            raise AssertionError(f"{label}: no error")
        except openai.BadRequestError as error:
            check(error.status_code == 400 and error.code == code, f"{label}: {error.status_code} {error.code}")


def step_event_checks():
    body = {"model": MODEL, "prompt": EXPECTED["prompt"], "max_tokens": LENGTH, "temperature": 0, "stream": True,
            "diffu_steps": True, **GREEDY}
    received = events("/v1/completions", body)
    steps = [event for event in received if event.get("object") == "diffu.step"]
    texts = [event for event in received if event.get("object") == "text_completion"]
    status, _, payload = request("POST", "/v1/completions", {**body, "stream": False, "diffu_steps": False})
    check(status == 200, "non-streamed twin of the step stream")
    ran = json.loads(payload)["diffu"]["steps"]
    check(len(steps) == ran, f"{len(steps)} step events for {ran} steps run")
    check(all(event["planned_steps"] == EXPECTED["steps"] for event in steps), "planned_steps")
    check([event["step"] for event in steps] == list(range(1, len(steps) + 1)), "step numbers")
    masks = [event["masks_left"] for event in steps]
    check(masks == sorted(masks, reverse=True) and masks[-1] == 0, f"masks_left {masks}")
    for event in steps:
        canvas = event["canvas"]
        check(len(canvas) == LENGTH, "canvas length")
        check(sum(piece is None for piece in canvas) == event["masks_left"], "canvas masks = masks_left")
        check(all(canvas[index] is not None for index in event["revealed"]), "revealed positions hold text")
    final = "".join(steps[-1]["canvas"])
    text = "".join(choice["text"] for event in texts for choice in event["choices"])
    check(final.startswith(text), f"final canvas {final!r} does not start with the answer {text!r}")
    check(text == EXPECTED["completion"], "step-stream answer != CLI answer")
    # Without stream, diffu_steps is refused.
    status, _, payload = request("POST", "/v1/completions", {"prompt": "x", "max_tokens": 2, "diffu_steps": True})
    expect_error(status, payload, 400, "invalid_value", "diffu_steps", "diffu_steps without stream")


def malformed_checks():
    cases = [
        ("invalid JSON", b'{"prompt": "x",', 400, "invalid_json", None),
        ("not an object", b'[1, 2]', 400, "invalid_json", None),
        ("invalid UTF-8", b'{"prompt": "\xff\xfe"}', 400, "invalid_json", None),
        ("max_tokens a string", json.dumps({"prompt": "x", "max_tokens": "8"}).encode(), 400, "invalid_type", "max_tokens"),
        ("stream a number", json.dumps({"prompt": "x", "stream": 1}).encode(), 400, "invalid_type", "stream"),
        ("steps 0", json.dumps({"prompt": "x", "steps": 0}).encode(), 400, "invalid_value", "steps"),
        ("steps over the limit", json.dumps({"prompt": "x", "steps": EXPECTED["max_steps_limit"] + 1}).encode(), 400, "invalid_value", "steps"),
        ("unknown sampler", json.dumps({"prompt": "x", "sampler": "best"}).encode(), 400, "invalid_value", "sampler"),
        ("unknown field", json.dumps({"prompt": "x", "stepz": 4}).encode(), 400, "unknown_parameter", "stepz"),
        ("n = 2", json.dumps({"prompt": "x", "n": 2}).encode(), 400, "unsupported_parameter", "n"),
        ("no prompt", json.dumps({"max_tokens": 2}).encode(), 400, "missing_required_parameter", "prompt"),
        ("token outside the vocabulary", json.dumps({"prompt": [1, 99999], "max_tokens": 2}).encode(), 400, "invalid_value", "prompt"),
        ("top-k with random-keep", json.dumps({"prompt": "x", "max_tokens": 2, "top_k": 3, "sampler": "random-keep"}).encode(), 400, "invalid_value", None),
        ("context too long", json.dumps({"prompt": "a " * EXPECTED["max_context"], "max_tokens": 2}).encode(), 400, "context_length_exceeded", "prompt"),
    ]
    for label, raw, expected_status, code, param in cases:
        status, _, payload = request("POST", "/v1/completions", raw=raw)
        expect_error(status, payload, expected_status, code, param, label)
    chat_cases = [
        ("messages missing", {"max_tokens": 2}, "missing_required_parameter", "messages"),
        ("messages empty", {"messages": []}, "invalid_value", "messages"),
        ("role unknown", {"messages": [{"role": "robot", "content": "x"}]}, "invalid_value", "messages[0].role"),
        ("content a number", {"messages": [{"role": "user", "content": 3}]}, "invalid_type", "messages[0].content"),
        ("image part", {"messages": [{"role": "user", "content": [{"type": "image_url", "image_url": {"url": "x"}}]}]},
         "invalid_value", "messages[0].content[0]"),
    ]
    for label, body, code, param in chat_cases:
        status, _, payload = request("POST", "/v1/chat/completions", body)
        expect_error(status, payload, 400, code, param, label)
    status, _, payload = request("POST", "/v1/completions", raw=b'{"prompt": "' + b"a" * (EXPECTED["max_body_bytes"] + 1) + b'"}')
    expect_error(status, payload, 413, "request_too_large", None, "body too large")
    status, _, payload = request("GET", "/v1/nothing")
    expect_error(status, payload, 404, "not_found", None, "unknown route")
    check(health()["status"] == "ok", "server healthy after malformed requests")


def long_body(stream):
    return {"model": MODEL, "prompt": EXPECTED["prompt"], "max_tokens": EXPECTED["long_length"], "steps": EXPECTED["long_steps"],
            "sampler": "confidence", "temperature": 0, "stream": stream}


def open_stream(body):
    """Starts a streamed request on a raw socket and returns it after the first event arrived."""
    sock = socket.create_connection((URL.hostname, URL.port), timeout=60)
    data = json.dumps(body).encode()
    sock.sendall(b"POST /v1/completions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: "
                 + str(len(data)).encode() + b"\r\n\r\n" + data)
    received = b""
    while b"data: " not in received:
        chunk = sock.recv(65536)
        check(chunk, "stream closed before its first event")
        received += chunk
    check(received.startswith(b"HTTP/1.1 200"), f"long stream status: {received[:40]!r}")
    return sock


def queue_checks():
    # parallel 1, queue 1: one running, one waiting, the third refused with 503 and Retry-After.
    check(health()["running"] == 0, "idle before the queue test")
    running = open_stream(long_body(True))
    waiting_result = {}

    def waiting():
        waiting_result["status"] = request("POST", "/v1/completions", {**long_body(False), "max_tokens": 4, "steps": 2})[0]
    thread = threading.Thread(target=waiting)
    thread.start()
    wait_until(lambda: health()["queued"] == 1, 10, "the second request never queued")
    check(metric("diffu_queue_depth") == 1, "queue depth metric")
    status, headers, payload = request("POST", "/v1/completions", {"prompt": "x", "max_tokens": 2})
    expect_error(status, payload, 503, "server_overloaded", None, "queue full")
    check(headers.get("Retry-After") == "1", f"Retry-After {headers.get('Retry-After')!r}")
    # The client of the running request goes away: its generation stops between steps, the waiter runs.
    running.close()
    thread.join(30)
    check(waiting_result.get("status") == 200, f"queued request: {waiting_result}")
    wait_until(lambda: health()["running"] == 0, 5, "generation still running after its client left")
    steps = metric("diffu_steps_total")
    time.sleep(0.5)
    check(metric("diffu_steps_total") == steps, "steps still being computed after the client left (CPU not idle)")


def disconnect_checks():
    # A non-streamed request whose client leaves: cancelled long before it would have finished.
    sock = socket.create_connection((URL.hostname, URL.port), timeout=60)
    data = json.dumps(long_body(False)).encode()
    sock.sendall(b"POST /v1/completions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: "
                 + str(len(data)).encode() + b"\r\n\r\n" + data)
    wait_until(lambda: health()["running"] == 1, 10, "long request never started")
    before = metric("diffu_steps_total")
    wait_until(lambda: metric("diffu_steps_total") > before, 10, "long request is not stepping")
    started = time.monotonic()
    sock.close()
    wait_until(lambda: health()["running"] == 0, 3, "non-streamed generation kept running after its client left")
    check(time.monotonic() - started < 3, "cancellation too slow")
    steps = metric("diffu_steps_total")
    time.sleep(0.5)
    check(metric("diffu_steps_total") == steps, "steps still being computed after the client left")


def timeout_checks():
    started = time.monotonic()
    status, _, payload = request("POST", "/v1/completions", long_body(False))
    elapsed = time.monotonic() - started
    expect_error(status, payload, 408, "timeout", None, "time limit")
    check(elapsed < EXPECTED["timeout"] + 3, f"time limit answered after {elapsed:.1f} s")
    wait_until(lambda: health()["running"] == 0, 3, "timed-out generation still running")


def metrics_checks():
    check(metric('diffu_requests_total{endpoint="/v1/completions",status="200"}') >= 5, "completion requests counted")
    check(metric('diffu_requests_total{endpoint="/v1/completions",status="400"}') >= 10, "bad requests counted")
    check(metric("diffu_step_seconds_count") >= EXPECTED["steps"], "step histogram")
    check(metric("diffu_completion_tokens_total") > 0, "token counter")


def main():
    openai_checks()
    step_event_checks()
    malformed_checks()
    queue_checks()
    disconnect_checks()
    timeout_checks()
    metrics_checks()
    print(f"server_smoke.py: {checks} checks passed")


if __name__ == "__main__":
    main()
