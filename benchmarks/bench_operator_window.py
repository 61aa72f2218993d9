"""Operator window benchmark (run by hand): `uv run python benchmarks/bench_operator_window.py`.

1. Keystroke-to-client latency in live typing: the operator types a word, then the space that
   finishes it; we time from that key press to the word's arrival at an openai-python streaming
   client. Live typing holds a word back until the operator pauses (`live_idle_seconds`); the
   report gives the raw time and the time beyond that deliberate pause.
2. Send-to-first-byte with paced delivery (the default) and no deliberate first-token delay: the
   operator types a reply and sends it from the keyboard; we time from the key press to the
   first content delta at the client.
3. Responsiveness with 50 conversations and 2,000 messages loaded: page load, switching to a
   conversation until its newest message shows, and a new request until it shows in the list.

Runs a real `hcc serve` subprocess and headless Debian Chromium through Playwright.
"""

from __future__ import annotations

import contextlib
import json
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import openai
from playwright.sync_api import sync_playwright

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from tests.ui.browser import CHROMIUM, CHROMIUM_ARGS, focus_textbox, open_window, screen_text  # noqa: E402

TOKEN = "bench-token"


LIVE_IDLE = 0.3
SEND_KEY = os.environ.get("BENCH_SEND_KEY", "Control+Enter")  # sends with either send_key setting


def start(port: int, root: str, settings: dict) -> subprocess.Popen:
    config = Path(root) / "config"
    config.mkdir()
    (config / "settings.json").write_text(json.dumps({"language": "en", **settings}))
    env = {**os.environ, "HCC_CONFIG_DIR": str(config)}
    process = subprocess.Popen(
        [sys.executable, "-m", "human_chat_completions", "serve", "--port", str(port),
         "--data-dir", root + "/data", "--operator-token", TOKEN],
        env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    for _ in range(300):
        try:
            httpx.get(f"http://127.0.0.1:{port}/health")
            return process
        except httpx.HTTPError:
            time.sleep(0.1)
    raise RuntimeError("server did not start")


def ask_in_background(base: str, user: str, messages: list[dict], sink: list) -> threading.Thread:
    def run() -> None:
        with openai.OpenAI(base_url=base + "/v1", api_key="k", max_retries=0) as api:
            for chunk in api.chat.completions.create(model="m", messages=messages, stream=True, user=user):
                if chunk.choices and chunk.choices[0].delta.content:
                    sink.append((time.perf_counter(), chunk.choices[0].delta.content))

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    return thread


def wait_for(page, needle: str, timeout: float = 30) -> float:
    started = time.perf_counter()
    while needle not in screen_text(page):
        if time.perf_counter() - started > timeout:
            raise TimeoutError(needle)
        page.wait_for_timeout(20)
    return time.perf_counter() - started


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def keystroke_latency(browser, base: str, words: int = 40) -> list[float]:
    """Milliseconds from the space that finishes a word to the word's arrival at the client."""
    received: list = []
    ask_in_background(base, "typist", [{"role": "user", "content": "type to me"}], received)
    page = open_window(browser, base)
    wait_for(page, "typist")
    page.get_by_role("button", name="typist").first.click()
    wait_for(page, "type to me")
    focus_textbox(page, "Reply")
    latencies = []
    for index in range(words):
        word = f"w{index}"
        page.keyboard.type(word, delay=5)
        page.wait_for_timeout(150)
        pressed = time.perf_counter()
        page.keyboard.press("Space")
        while not "".join(t for _, t in received).endswith(word + " "):
            if time.perf_counter() - pressed > 10:
                raise TimeoutError(f"{word!r} never arrived; the client has {received[-3:]}")
            time.sleep(0.0005)
        arrived = received[-1][0]
        latencies.append((arrived - pressed) * 1000)
        # The released word leaves the editor; a key typed in that very moment would be dropped
        # with it (the browser takes the field's new text), as an operator would see.
        page.wait_for_function("() => document.activeElement.value === ''")
    page.keyboard.press(SEND_KEY)
    page.close()
    return latencies


def send_latency(browser, base: str, rounds: int = 10) -> list[float]:
    """Milliseconds from the Send key to the first content delta at a streaming client."""
    page = open_window(browser, base)
    latencies = []
    for index in range(rounds):
        received: list = []
        user = f"sender-{index:02d}"
        thread = ask_in_background(base, user, [{"role": "user", "content": f"question {index}"}], received)
        wait_for(page, user)
        page.get_by_role("button", name=user).first.click()
        wait_for(page, f"question {index}")
        focus_textbox(page, "Reply")
        page.keyboard.type(f"Answer number {index}, at an LLM-like pace.", delay=5)
        page.wait_for_timeout(300)  # every key has reached the server
        pressed = time.perf_counter()
        page.keyboard.press(SEND_KEY)
        while not received:
            if time.perf_counter() - pressed > 10:
                raise TimeoutError(f"reply {index} never arrived")
            time.sleep(0.0005)
        latencies.append((received[0][0] - pressed) * 1000)
        thread.join(30)
    page.close()
    return latencies


def responsiveness(browser, base: str) -> dict:
    sinks: list[list] = []
    for conversation in range(50):
        history = []
        for turn in range(20):
            history += [{"role": "user", "content": f"c{conversation} question {turn} " + "lorem ipsum " * 8},
                        {"role": "assistant", "content": f"c{conversation} answer {turn} " + "dolor sit " * 10}]
        history[-1] = {"role": "user", "content": f"c{conversation} newest question"}
        sink: list = []
        sinks.append(sink)
        ask_in_background(base, f"participant-{conversation:02d}", history, sink)
    operator = httpx.Client(base_url=base + "/operator/api", headers={"Authorization": f"Bearer {TOKEN}"})
    while len(operator.get("/exchanges", params={"state": "waiting"}).json()) < 50:
        time.sleep(0.1)
    started = time.perf_counter()
    page = open_window(browser, base)
    wait_for(page, "participant-")
    load = time.perf_counter() - started
    switches = []
    # The list is lazy: only rows on screen exist for the browser, so switch between those.
    import re
    named = sorted({int(n) for n in re.findall(r"participant-(\d\d)", screen_text(page))})
    visible = [n for n in named  # a row's name can be in the text before its button is drawn
               if page.get_by_role("button", name=f"participant-{n:02d}").count()]
    for conversation in (visible * 3)[:12]:
        row = page.get_by_role("button", name=f"participant-{conversation:02d}")
        if not row.count():
            continue  # scrolled out of the lazy list since
        started = time.perf_counter()
        row.first.click(timeout=10_000)
        wait_for(page, f"c{conversation} newest question")
        switches.append((time.perf_counter() - started) * 1000)
    new_requests = []
    for extra in range(5):
        started = time.perf_counter()
        ask_in_background(base, f"late-{extra}", [{"role": "user", "content": "late"}], [])
        wait_for(page, f"late-{extra}")
        new_requests.append((time.perf_counter() - started) * 1000)
    for exchange in operator.get("/exchanges", params={"state": "waiting"}).json():
        operator.post(f"/exchanges/{exchange['id']}/reply", json={"text": "ok", "done": True})
    page.close()
    return {"load_s": load, "switch_ms": switches, "new_request_ms": new_requests}


def main() -> None:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    base = f"http://127.0.0.1:{port}"
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            with serving(port, {"delivery_style": "live", "live_idle_seconds": LIVE_IDLE}):
                latencies = keystroke_latency(browser, base)
            beyond = [value - LIVE_IDLE * 1000 for value in latencies]
            print(f"keystroke -> client (live typing, idle pause {LIVE_IDLE * 1000:.0f} ms, "
                  f"{len(latencies)} words): p50 {statistics.median(latencies):.1f} ms, "
                  f"p99 {pct(latencies, 0.99):.1f} ms; beyond the pause p50 "
                  f"{statistics.median(beyond):.1f} ms, p99 {pct(beyond, 0.99):.1f} ms", flush=True)
            with serving(port, {"delivery_style": "paced", "first_token_delay": 0}):
                sends = send_latency(browser, base)
            print(f"send -> first byte (paced, no first-token delay, {len(sends)} replies): "
                  f"p50 {statistics.median(sends):.1f} ms, p99 {pct(sends, 0.99):.1f} ms", flush=True)
            with serving(port, {}):
                result = responsiveness(browser, base)
            print(f"50 conversations / 2,000 messages: window ready in {result['load_s']:.2f} s; "
                  f"switch conversation p50 {statistics.median(result['switch_ms']):.0f} ms "
                  f"(max {max(result['switch_ms']):.0f}); new request shown p50 "
                  f"{statistics.median(result['new_request_ms']):.0f} ms "
                  f"(max {max(result['new_request_ms']):.0f})")
        finally:
            browser.close()


@contextlib.contextmanager
def serving(port: int, settings: dict) -> Iterator[None]:
    with tempfile.TemporaryDirectory() as root:
        process = start(port, root, settings)
        try:
            yield
        finally:
            process.terminate()
            process.wait(30)


if __name__ == "__main__":
    main()
