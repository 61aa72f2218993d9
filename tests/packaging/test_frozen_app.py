"""The PyInstaller bundle, built with the release spec, runs headless and answers for real."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
from pathlib import Path

import httpx
import openai
import pytest

from tests.support import Operator, free_port, wait_until

ROOT = Path(__file__).resolve().parents[2]


pytestmark = [pytest.mark.browser, pytest.mark.packaging, pytest.mark.slow]

@pytest.fixture(scope="module")
def bundle(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Built once per run (about 30 s here); HCC_FROZEN_BUNDLE points at an existing one."""
    existing = os.environ.get("HCC_FROZEN_BUNDLE")
    if existing:
        return Path(existing)
    root = tmp_path_factory.mktemp("frozen")
    subprocess.run([sys.executable, str(ROOT / "build_scripts" / "build.py"),
                    "--dist", str(root / "dist"), "--work", str(root / "work")],
                   check=True, cwd=ROOT, capture_output=True, timeout=900)
    return root / "dist" / "hcc"


def test_frozen_hcc_serve_answers_a_streaming_request_and_serves_the_window(bundle, tmp_path):
    port = free_port()
    (tmp_path / "config").mkdir()
    (tmp_path / "config" / "settings.json").write_text('{"language": "en"}')
    env = {**os.environ, "HCC_CONFIG_DIR": str(tmp_path / "config")}
    process = subprocess.Popen(
        [str(bundle / "hcc"), "serve", "--port", str(port), "--data-dir", str(tmp_path / "data"),
         "--operator-token", "frozen-token"],
        env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        wait_until(lambda: _up(base), timeout=60)
        received: list[str] = []

        def ask() -> None:
            with openai.OpenAI(base_url=base + "/v1", api_key="k") as api:
                stream = api.chat.completions.create(
                    model="m", messages=[{"role": "user", "content": "frozen?"}], stream=True)
                received.extend(c.choices[0].delta.content or "" for c in stream if c.choices)

        client = threading.Thread(target=ask)
        client.start()
        operator = Operator(base, token="frozen-token")
        [exchange] = operator.wait_for(1, timeout=20)
        operator.reply(exchange["id"], "still ", done=False)
        operator.reply(exchange["id"], "human.")
        client.join(20)
        operator.close()
        assert "".join(received) == "still human."
        page = httpx.get(base + "/ui/")
        assert page.status_code == 200 and "flutter" in page.text.lower()
        font = httpx.get(base + "/ui/fonts/NotoSansJP-HCC.woff2")
        assert font.status_code == 200 and len(font.content) > 100_000
        mono = httpx.get(base + "/ui/fonts/DejaVuSansMono-HCC.woff2")
        assert mono.status_code == 200 and mono.content[:4] == b"wOF2"
        _window_renders(base)
    finally:
        process.send_signal(signal.SIGINT)
        output, _ = process.communicate(timeout=30)
    assert (tmp_path / "data" / "exchanges.sqlite3").exists(), output


def _up(base: str) -> bool:
    try:
        return httpx.get(base + "/health").status_code == 200
    except httpx.HTTPError:
        return False


def _window_renders(base: str) -> None:
    """The trimmed bundle still has all the web client needs: the window comes up in a browser."""
    from playwright.sync_api import sync_playwright

    from tests.ui.browser import CHROMIUM, CHROMIUM_ARGS, open_window, wait_for_text

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            wait_for_text(open_window(browser, base), "Settings")
        finally:
            browser.close()
