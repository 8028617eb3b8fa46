"""The live web view of `diffu serve` in a real browser (headless Chromium over the DevTools protocol).

Loads the page from a running server, types a prompt, sets length and steps, presses Generate and waits
for the stream to finish; then checks that the text in `#result` equals the non-streamed API answer for
the same greedy request, that the page drew every step event (the step log, starting from a canvas with
masks, ending with none), that tokens/s is shown, that the page loaded nothing from elsewhere and threw no
script error, that a request the server refuses shows its error message, and that Stop cancels the
generation on the server. Saves a PNG screenshot.

Usage: python3 -m tools.ci.web_smoke BASE_URL --screenshot PATH [--prompt P] [--length N] [--steps N] [--mid-screenshot]
(--mid-screenshot takes the picture halfway through the denoising, for the docs, instead of at the end.)
"""
import argparse
import base64
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.request

import websocket  # the websocket-client package

failures = []


def check(condition, message):
    if not condition:
        failures.append(message)
        print(f"web_smoke: FAIL {message}", file=sys.stderr)


def post_json(url, body):
    request = urllib.request.Request(url, data=json.dumps(body).encode(), headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=60) as response:
        return json.load(response)


def health(base):
    with urllib.request.urlopen(base + "/health", timeout=10) as response:
        return json.load(response)


def chromium_binary():
    for name in ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable"):
        path = shutil.which(name)
        if path:
            return path
    sys.exit("web_smoke: no Chromium found (tools/ci/web_smoke.sh installs Debian's chromium)")


class DevTools:
    """A minimal DevTools-protocol client over one page target's WebSocket."""

    def __init__(self, url):
        self.socket = websocket.create_connection(url, timeout=60, suppress_origin=True, enable_multithread=False)
        self.next_id = 0
        self.events = []

    def call(self, method, **params):
        self.next_id += 1
        identifier = self.next_id
        self.socket.send(json.dumps({"id": identifier, "method": method, "params": params}))
        while True:
            message = json.loads(self.socket.recv())
            if message.get("id") == identifier:
                if "error" in message:
                    raise RuntimeError(f"{method}: {message['error']}")
                return message.get("result", {})
            self.events.append(message)

    def evaluate(self, expression):
        result = self.call("Runtime.evaluate", expression=expression, returnByValue=True, awaitPromise=True)
        if "exceptionDetails" in result:
            raise RuntimeError(f"script failed: {result['exceptionDetails']}")
        return result["result"].get("value")

    def wait_for_event(self, method, seconds):
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            if any(event.get("method") == method for event in self.events):
                return True
            self.socket.settimeout(max(0.05, deadline - time.monotonic()))
            try:
                self.events.append(json.loads(self.socket.recv()))
            except websocket.WebSocketTimeoutException:
                break
            finally:
                self.socket.settimeout(60)
        return any(event.get("method") == method for event in self.events)

    def screenshot(self, path):
        data = self.call("Page.captureScreenshot", format="png", captureBeyondViewport=True)["data"]
        with open(path, "wb") as file:
            file.write(base64.b64decode(data))


def start_chromium(profile):
    arguments = [chromium_binary(), "--headless=new", "--disable-gpu", "--no-first-run", "--no-default-browser-check",
                 "--disable-extensions", "--disable-dev-shm-usage", "--disable-background-networking", "--disable-sync", "--mute-audio",
                 "--remote-debugging-port=0", "--remote-debugging-address=127.0.0.1", f"--user-data-dir={profile}",
                 "--window-size=1000,1000", "about:blank"]
    if os.geteuid() == 0:
        arguments.insert(1, "--no-sandbox")  # Chromium refuses to run its sandbox as root
    browser = subprocess.Popen(arguments, stdout=subprocess.DEVNULL, stderr=open(os.path.join(profile, "chromium.log"), "w"))
    port_file = os.path.join(profile, "DevToolsActivePort")
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if browser.poll() is not None:
            sys.exit(f"web_smoke: Chromium exited with {browser.returncode}: {open(os.path.join(profile, 'chromium.log')).read()[-2000:]}")
        if os.path.exists(port_file) and open(port_file).read().strip():
            port = int(open(port_file).read().split()[0])
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/json/list", timeout=10) as response:
                pages = [target for target in json.load(response) if target["type"] == "page"]
            if pages:
                return browser, pages[0]["webSocketDebuggerUrl"]
        time.sleep(0.1)
    browser.kill()
    sys.exit("web_smoke: Chromium did not open its DevTools port within 30 s")


def fill_and_generate(devtools, fields):
    script = "".join(f"document.getElementById({json.dumps(key)}).value = {json.dumps(str(value))};" for key, value in fields.items())
    devtools.evaluate(script + "document.getElementById('generate').click(); document.body.dataset.state")


def wait_until_finished(devtools, seconds, mid_screenshot=None):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        state, step = devtools.evaluate("[document.body.dataset.state, document.getElementById('step').textContent]")
        if mid_screenshot and "/" in step:
            done, planned = (int(part) for part in step.split("/"))
            if done * 2 >= planned:
                devtools.screenshot(mid_screenshot)
                mid_screenshot = None
        if state not in ("running", "idle"):
            return state
        time.sleep(0.02)
    return "timeout"


def page_report(devtools):
    return devtools.evaluate("""(() => {
        const log = [...document.querySelectorAll('#step-log li')].map((item) => item.textContent);
        return {state: document.body.dataset.state, result: document.getElementById('result').textContent,
                error: document.getElementById('error').hidden ? null : document.getElementById('error').textContent,
                step: document.getElementById('step').textContent, masks: document.getElementById('masks').textContent,
                rate: document.getElementById('rate').textContent, log: log,
                boxes: document.querySelectorAll('#canvas .token').length,
                masked: document.querySelectorAll('#canvas .token.masked').length,
                status: document.getElementById('status').textContent};
    })()""")


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("base")
    parser.add_argument("--screenshot", required=True)
    parser.add_argument("--prompt", default="The quick brown fox")
    parser.add_argument("--length", type=int, default=24)
    parser.add_argument("--steps", type=int, default=8)
    parser.add_argument("--refused-length", type=int, required=True, help="a max_tokens above the server's --max-tokens")
    parser.add_argument("--mid-screenshot", action="store_true")
    arguments = parser.parse_args()
    base = arguments.base.rstrip("/")
    settings = {"prompt": arguments.prompt, "max_tokens": arguments.length, "steps": arguments.steps,
                "sampler": "confidence", "temperature": 0}
    expected = post_json(base + "/v1/completions", settings)
    expected_text = expected["choices"][0]["text"]
    expected_steps = expected["diffu"]["steps"]

    profile = tempfile.mkdtemp(prefix="web_smoke.")
    browser, socket_url = start_chromium(profile)
    started = time.monotonic()
    try:
        devtools = DevTools(socket_url)
        for domain in ("Page", "Runtime", "Network", "Log"):
            devtools.call(f"{domain}.enable")
        devtools.call("Emulation.setDeviceMetricsOverride", width=1000, height=900, deviceScaleFactor=1, mobile=False)
        devtools.call("Page.navigate", url=base + "/")
        check(devtools.wait_for_event("Page.loadEventFired", 20), "the page did not load")
        check(devtools.evaluate("document.title").startswith("diffu serve"), "the page has no diffu serve title")

        fill_and_generate(devtools, {"prompt": arguments.prompt, "length": arguments.length, "steps": arguments.steps,
                                     "sampler": "confidence", "temperature": 0, "seed": ""})
        state = wait_until_finished(devtools, 60, arguments.screenshot if arguments.mid_screenshot else None)
        report = page_report(devtools)
        check(state == "done", f"the generation ended in state {state!r} ({report['status']}; error {report['error']!r})")
        check(report["result"] == expected_text, f"#result {report['result']!r} differs from the API's {expected_text!r}")
        check(len(report["log"]) == expected_steps, f"the step log has {len(report['log'])} entries, the API took {expected_steps} steps")
        first_masks = int(report["log"][0].split("masks left ")[1].split(",")[0]) if report["log"] else -1
        check(first_masks > 0, f"the first step drawn had {first_masks} masks left (no partially masked canvas drawn)")
        check(report["boxes"] == arguments.length and report["masked"] == 0,
              f"the final canvas has {report['boxes']} boxes, {report['masked']} masked (want {arguments.length}, 0)")
        check(report["masks"] == "0", f"masks left shows {report['masks']!r}")
        check(report["step"].split(" /")[0] == str(expected_steps), f"the step counter shows {report['step']!r}")
        check(float(report["rate"]) > 0 if report["rate"].replace(".", "", 1).isdigit() else False,
              f"tokens/s shows {report['rate']!r}")
        check(report["error"] is None, f"an error is shown: {report['error']!r}")
        if not arguments.mid_screenshot:
            devtools.screenshot(arguments.screenshot)

        # A request the server refuses: its OpenAI error message is shown in the page.
        fill_and_generate(devtools, {"length": arguments.refused_length})
        state = wait_until_finished(devtools, 20)
        refused = page_report(devtools)
        check(state == "error", f"a refused request ended in state {state!r}")
        check(refused["error"] is not None and "400" in refused["error"] and "max_tokens" in refused["error"],
              f"the refusal is not shown with its status and parameter: {refused['error']!r}")

        # Stop during a long generation: the page says so and the server cancels the generation.
        fill_and_generate(devtools, {"length": 128, "steps": 128})
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline and devtools.evaluate("document.getElementById('step-log').children.length") < 1:
            time.sleep(0.02)
        devtools.evaluate("document.getElementById('stop').click()")
        state = wait_until_finished(devtools, 10)
        check(state == "stopped", f"Stop ended in state {state!r}")
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and health(base)["running"] != 0:
            time.sleep(0.05)
        check(health(base)["running"] == 0, "the server still runs the generation the page stopped")

        devtools.wait_for_event("none", 0.2)  # collect late events
        requests = [event["params"]["request"]["url"] for event in devtools.events if event.get("method") == "Network.requestWillBeSent"]
        foreign = [url for url in requests if not url.startswith(base)]
        check(not foreign, f"the page loaded resources from elsewhere: {foreign}")
        check(any(url == base + "/v1/completions" for url in requests), "the page sent no /v1/completions request")
        exceptions = [event["params"]["exceptionDetails"] for event in devtools.events if event.get("method") == "Runtime.exceptionThrown"]
        check(not exceptions, f"script exceptions: {exceptions}")
        console_errors = [event["params"]["entry"]["text"] for event in devtools.events
                          if event.get("method") == "Log.entryAdded" and event["params"]["entry"]["level"] == "error"
                          and "/v1/completions" not in event["params"]["entry"].get("url", "")]  # the refused request logs its 400
        check(not console_errors, f"console errors: {console_errors}")
        try:
            devtools.call("Browser.close")
        except Exception:
            pass
    finally:
        try:
            browser.wait(timeout=10)
        except subprocess.TimeoutExpired:
            browser.kill()
        shutil.rmtree(profile, ignore_errors=True)
    if failures:
        sys.exit(f"web_smoke: {len(failures)} check(s) failed")
    print(f"web_smoke: the page denoised {arguments.length} tokens in {expected_steps} steps in headless Chromium; "
          f"#result equals the API's answer {expected_text!r}; refusals are shown; Stop cancels; browser part {time.monotonic() - started:.1f} s; "
          f"screenshot {arguments.screenshot}")


if __name__ == "__main__":
    main()
