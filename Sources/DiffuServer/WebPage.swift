/// The live denoising page served at `GET /`.
///
/// One static HTML document with its style and script inline (no external resources). It streams
/// `POST /v1/completions` with `"stream": true, "diffu_steps": true` (fetch and a `ReadableStream`
/// reader parsing the server-sent events) and draws every `diffu.step` event: masked positions as
/// mask boxes, revealed tokens filling in, the step counter, tokens per second, a step log, and the
/// answer (the joined text deltas) in `#result`. Server errors, before or during the stream, are shown
/// in `#error`. `document.body.dataset.state` is `idle`, `running`, `done`, `stopped` or `error`.
enum WebPage {
    /// The page.
    static let html = #"""
    <!doctype html>
    <html lang="en">
    <head>
    <meta charset="utf-8">
    <meta name="viewport" content="width=device-width, initial-scale=1">
    <title>diffu serve: live denoising</title>
    <link rel="icon" href="data:,">
    <style>
    :root { --bg: #f7f7f5; --panel: #ffffff; --ink: #1d1d1f; --muted: #5f6368; --line: #d5d5d0;
            --mask: #e4e4de; --mask-ink: #8a8a84; --fresh: #ffe58a; --accent: #2456c7; --error: #b3261e; }
    @media (prefers-color-scheme: dark) {
      :root { --bg: #17181a; --panel: #212226; --ink: #ececec; --muted: #a4a7ad; --line: #3a3c42;
              --mask: #34363c; --mask-ink: #8b8e95; --fresh: #6b5a12; --accent: #8fb0ff; --error: #ff8a80; }
    }
    * { box-sizing: border-box; }
    body { margin: 0; background: var(--bg); color: var(--ink);
           font: 16px/1.5 system-ui, -apple-system, "Segoe UI", Roboto, "Noto Sans", sans-serif; }
    header, main { max-width: 62rem; margin: 0 auto; padding: 0 1.25rem; }
    header { display: flex; align-items: baseline; gap: 1rem; flex-wrap: wrap; padding-top: 1.25rem; }
    h1 { font-size: 1.4rem; margin: 0; }
    h2 { font-size: 1rem; margin: 0 0 .5rem; }
    #model { color: var(--muted); margin: 0; }
    section, form { background: var(--panel); border: 1px solid var(--line); border-radius: .6rem;
                    padding: 1rem; margin: 1rem 0; }
    label { display: block; font-weight: 600; font-size: .9rem; }
    textarea, input, select { font: inherit; color: inherit; background: var(--bg); border: 1px solid var(--line);
                              border-radius: .35rem; padding: .35rem .5rem; width: 100%; }
    textarea { resize: vertical; min-height: 4.5rem; margin-top: .25rem; }
    .settings { display: grid; grid-template-columns: repeat(auto-fit, minmax(9rem, 1fr)); gap: .75rem; margin: .75rem 0; }
    .settings input, .settings select { margin-top: .25rem; font-weight: 400; }
    .actions { display: flex; gap: .5rem; align-items: center; flex-wrap: wrap; }
    button { font: inherit; font-weight: 600; border-radius: .35rem; padding: .45rem 1.1rem; cursor: pointer;
             border: 1px solid var(--accent); background: var(--accent); color: var(--panel); }
    button.secondary { background: transparent; color: var(--accent); }
    button:disabled { opacity: .45; cursor: default; }
    :focus-visible { outline: 3px solid var(--accent); outline-offset: 2px; }
    #status { color: var(--muted); margin: 0; }
    .hint { color: var(--muted); font-size: .85rem; margin: .25rem 0 0; }
    #stats { display: flex; gap: 1.5rem; flex-wrap: wrap; margin: 0 0 .75rem; }
    #stats div { min-width: 6rem; }
    #stats dt { font-size: .8rem; color: var(--muted); }
    #stats dd { margin: 0; font: 600 1.15rem/1.3 ui-monospace, "SF Mono", Menlo, Consolas, monospace; }
    #canvas { display: flex; flex-wrap: wrap; gap: .3rem; min-height: 2.2rem;
              font: .95rem/1.2 ui-monospace, "SF Mono", Menlo, Consolas, monospace; }
    .token { display: inline-block; min-width: 1.6rem; padding: .25rem .35rem; border-radius: .3rem;
             border: 1px solid var(--line); white-space: pre; text-align: center; }
    .token.masked { background: var(--mask); color: var(--mask-ink); border-style: dashed; }
    .token.fresh { background: var(--fresh); }
    .token.blank { color: var(--muted); }
    @media (prefers-reduced-motion: no-preference) { .token { transition: background-color .4s ease-out; } }
    #result { white-space: pre-wrap; word-break: break-word; margin: 0; min-height: 1.5rem;
              font: 1rem/1.5 ui-monospace, "SF Mono", Menlo, Consolas, monospace; }
    #error { color: var(--error); border: 1px solid var(--error); border-radius: .4rem; padding: .6rem .8rem;
             margin: 1rem 0; font-weight: 600; }
    details { margin-top: .75rem; color: var(--muted); font-size: .9rem; }
    #step-log { margin: .5rem 0 0; padding-left: 1.5rem; max-height: 12rem; overflow: auto;
                font: .85rem/1.4 ui-monospace, "SF Mono", Menlo, Consolas, monospace; }
    .visually-hidden { position: absolute; width: 1px; height: 1px; overflow: hidden; clip: rect(0 0 0 0); white-space: nowrap; }
    </style>
    </head>
    <body data-state="idle">
    <header>
      <h1>diffu serve</h1>
      <p id="model">live denoising view</p>
    </header>
    <main>
      <form id="form" aria-describedby="status">
        <label for="prompt">Prompt</label>
        <textarea id="prompt" name="prompt" rows="3" aria-describedby="prompt-hint" placeholder="Type a prompt (empty: unconditional)">The quick brown fox</textarea>
        <p id="prompt-hint" class="hint">Ctrl+Enter generates. Temperature 0 is greedy; a seed makes sampling repeatable.</p>
        <div class="settings">
          <label for="length">Length (tokens)<input id="length" name="length" type="number" min="1" value="32" required></label>
          <label for="steps">Steps<input id="steps" name="steps" type="number" min="1" value="16" required></label>
          <label for="sampler">Sampler
            <select id="sampler" name="sampler">
              <option value="">model default</option>
              <option value="confidence">confidence</option>
              <option value="random-keep">random-keep</option>
              <option value="origin">origin</option>
              <option value="maskgit-plus">maskgit-plus</option>
              <option value="topk-margin">topk-margin</option>
              <option value="entropy">entropy</option>
            </select></label>
          <label for="temperature">Temperature<input id="temperature" name="temperature" type="number" min="0" max="2" step="0.1" value="0"></label>
          <label for="seed">Seed<input id="seed" name="seed" type="number" min="0" step="1" placeholder="random"></label>
        </div>
        <div class="actions">
          <button id="generate" type="submit">Generate</button>
          <button id="stop" type="button" class="secondary" disabled>Stop</button>
          <p id="status" role="status" aria-live="polite">Ready.</p>
        </div>
      </form>
      <div id="error" role="alert" hidden></div>
      <section aria-labelledby="canvas-heading">
        <h2 id="canvas-heading">Canvas</h2>
        <dl id="stats">
          <div><dt>Step</dt><dd id="step">–</dd></div>
          <div><dt>Masks left</dt><dd id="masks">–</dd></div>
          <div><dt>Tokens/s</dt><dd id="rate">–</dd></div>
          <div><dt>Elapsed</dt><dd id="elapsed">–</dd></div>
        </dl>
        <div id="canvas" role="list" aria-label="Generated positions: masked ones are shown as ▒"></div>
        <details>
          <summary>Step log</summary>
          <ol id="step-log"></ol>
        </details>
      </section>
      <section aria-labelledby="result-heading">
        <h2 id="result-heading">Result</h2>
        <pre id="result" aria-live="off"></pre>
      </section>
    </main>
    <script>
    "use strict";
    const $ = (id) => document.getElementById(id);
    const MASK = "\u2592";
    let controller = null;

    function setState(state, message) {
      document.body.dataset.state = state;
      $("status").textContent = message;
      const running = state === "running";
      $("generate").disabled = running;
      $("stop").disabled = !running;
      $("form").setAttribute("aria-busy", String(running));
    }

    function showError(message) {
      $("error").textContent = message;
      $("error").hidden = false;
    }

    /** The message of an OpenAI-style error body, or the raw text. */
    function errorMessage(status, text) {
      try {
        const error = JSON.parse(text).error;
        if (error && error.message) {
          return "Server error " + status + (error.code ? " (" + error.code + ")" : "") + ": " + error.message;
        }
      } catch (_) {}
      return "Server error " + status + ": " + (text || "no body");
    }

    /** How a token's text is drawn in its box: visible whitespace, a sign for an empty piece. */
    function visible(text) {
      if (text === "") return "\u2205";
      return text.replace(/\n/g, "\u21b5").replace(/\t/g, "\u21e5");
    }

    /** Mask boxes for a fresh canvas of `count` positions. */
    function resetCanvas(count) {
      const canvas = $("canvas");
      canvas.replaceChildren();
      for (let index = 0; index < count; index += 1) {
        const box = document.createElement("span");
        box.className = "token masked";
        box.setAttribute("role", "listitem");
        box.textContent = MASK;
        canvas.append(box);
      }
    }

    /** Draws one `diffu.step` event. */
    function drawStep(event) {
      const canvas = $("canvas");
      if (canvas.children.length !== event.canvas.length) resetCanvas(event.canvas.length);
      const revealed = new Set(event.revealed);
      event.canvas.forEach((text, index) => {
        const box = canvas.children[index];
        if (text === null) {
          box.className = "token masked";
          box.textContent = MASK;
          box.removeAttribute("title");
        } else {
          const blank = text.trim() === "";
          box.className = "token" + (revealed.has(index) ? " fresh" : "") + (blank ? " blank" : "");
          box.textContent = visible(text);
          box.title = JSON.stringify(text);
        }
      });
      const filled = event.canvas.length - event.masks_left;
      $("step").textContent = event.step + (event.planned_steps ? " / " + event.planned_steps : "");
      $("masks").textContent = String(event.masks_left);
      $("elapsed").textContent = event.elapsed.toFixed(2) + " s";
      $("rate").textContent = event.elapsed > 0 ? (filled / event.elapsed).toFixed(1) : "–";
      const entry = document.createElement("li");
      entry.textContent = "revealed " + event.revealed.length + ", masks left " + event.masks_left + ", " + event.elapsed.toFixed(3) + " s";
      $("step-log").append(entry);
    }

    /** Reads server-sent events from a response body, calling `onData` with each `data:` payload. */
    async function readEvents(body, onData) {
      const reader = body.getReader();
      const decoder = new TextDecoder();
      let buffer = "";
      for (;;) {
        const { value, done } = await reader.read();
        buffer += decoder.decode(value || new Uint8Array(), { stream: !done });
        buffer = buffer.replace(/\r\n?/g, "\n");
        let end;
        while ((end = buffer.indexOf("\n\n")) >= 0) {
          const block = buffer.slice(0, end);
          buffer = buffer.slice(end + 2);
          const data = block.split("\n").filter((line) => line.startsWith("data:"))
                            .map((line) => line.slice(5).replace(/^ /, "")).join("\n");
          if (data !== "") onData(data);
        }
        if (done) return;
      }
    }

    function request() {
      const body = { prompt: $("prompt").value, max_tokens: Number($("length").value), steps: Number($("steps").value),
                     stream: true, diffu_steps: true };
      if ($("sampler").value !== "") body.sampler = $("sampler").value;
      if ($("temperature").value !== "") body.temperature = Number($("temperature").value);
      if ($("seed").value !== "") body.seed = Number($("seed").value);
      return body;
    }

    async function generate(submit) {
      submit.preventDefault();
      controller = new AbortController();
      const body = request();
      $("error").hidden = true;
      $("result").textContent = "";
      $("step-log").replaceChildren();
      ["step", "masks", "rate", "elapsed"].forEach((id) => { $(id).textContent = "–"; });
      resetCanvas(body.max_tokens > 0 && body.max_tokens <= 4096 ? body.max_tokens : 0);
      setState("running", "Generating…");
      let finished = false, failure = null, steps = 0, lastElapsed = 0;
      try {
        const response = await fetch("/v1/completions", { method: "POST", headers: { "Content-Type": "application/json" },
                                                           body: JSON.stringify(body), signal: controller.signal });
        if (!response.ok) {
          resetCanvas(0);
          throw new Error(errorMessage(response.status, await response.text()));
        }
        await readEvents(response.body, (data) => {
          if (data === "[DONE]") { finished = true; return; }
          const event = JSON.parse(data);
          if (event.error) {
            failure = errorMessage(200, JSON.stringify(event));
          } else if (event.object === "diffu.step") {
            steps += 1;
            lastElapsed = event.elapsed;
            drawStep(event);
          } else if (event.choices && event.choices.length > 0) {
            $("result").textContent += event.choices[0].text || "";
          }
        });
        if (failure) throw new Error(failure);
        if (!finished) throw new Error("The stream ended before [DONE].");
        $("canvas").querySelectorAll(".fresh").forEach((box) => box.classList.remove("fresh"));
        setState("done", "Done: " + steps + " steps in " + lastElapsed.toFixed(2) + " s.");
      } catch (error) {
        if (error.name === "AbortError") {
          setState("stopped", "Stopped.");
        } else {
          showError(error.message);
          setState("error", "Failed.");
        }
      } finally {
        controller = null;
      }
    }

    $("form").addEventListener("submit", generate);
    $("stop").addEventListener("click", () => { if (controller) controller.abort(); });
    $("prompt").addEventListener("keydown", (key) => {
      if (key.key === "Enter" && (key.ctrlKey || key.metaKey)) { key.preventDefault(); $("form").requestSubmit(); }
    });
    fetch("/v1/models").then((response) => response.json()).then((list) => {
      if (list.data && list.data[0]) $("model").textContent = "model " + list.data[0].id + " · live denoising view";
    }).catch(() => {});
    </script>
    </body>
    </html>
    """#
}
