"""`hcc serve` as a real process: it prints where things are, serves, and stops cleanly."""

from __future__ import annotations

import os
import signal
import subprocess
import sys

import httpx
import openai
import pytest

from tests.support import free_port, wait_until


@pytest.mark.slow
def test_hcc_serve_runs_headless_and_reports_its_addresses(tmp_path):
    port = free_port()
    env = {**os.environ, "HCC_CONFIG_DIR": str(tmp_path / "config"), "PYTHONUNBUFFERED": "1"}
    process = subprocess.Popen(
        [sys.executable, "-m", "human_chat_completions", "serve", "--port", str(port),
         "--data-dir", str(tmp_path / "data")],
        env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )
    try:
        base = f"http://127.0.0.1:{port}"
        wait_until(lambda: _up(base), timeout=30)
        token_file = tmp_path / "config" / "operator-token"
        token = token_file.read_text().strip()
        assert len(token) >= 32 and oct(token_file.stat().st_mode)[-3:] == "600"
        api = openai.OpenAI(base_url=base + "/v1", api_key="k")
        assert [m.id for m in api.models.list()] == ["human"]
        api.close()
        denied = httpx.get(base + "/operator/api/exchanges")
        assert denied.status_code == 401
        allowed = httpx.get(base + "/operator/api/exchanges",
                            headers={"Authorization": f"Bearer {token}"})
        assert allowed.json() == []
    finally:
        process.send_signal(signal.SIGINT)
        output, _ = process.communicate(timeout=30)
    assert process.returncode in (0, 130), output  # 130: uvicorn re-raises SIGINT after a clean stop
    assert f"{base}/v1" in output and f"{base}/operator/api" in output
    assert str(token_file) in output and token not in output
    assert (tmp_path / "data" / "exchanges.sqlite3").exists()


def _up(base: str) -> bool:
    try:
        return httpx.get(base + "/health").status_code == 200
    except httpx.HTTPError:
        return False


@pytest.mark.slow
def test_plain_hcc_opens_the_operator_window_in_the_browser(tmp_path):
    opened = tmp_path / "opened.txt"
    browser = tmp_path / "fake-browser.sh"
    browser.write_text(f"#!/bin/sh\necho \"$1\" >> {opened}\n")
    browser.chmod(0o755)
    port = free_port()
    (tmp_path / "config").mkdir()
    (tmp_path / "config" / "settings.json").write_text(f'{{"port": {port}}}')
    env = {**os.environ, "HCC_CONFIG_DIR": str(tmp_path / "config"),
           "HCC_DATA_DIR": str(tmp_path / "data"), "BROWSER": str(browser)}
    env.pop("DISPLAY", None)
    process = subprocess.Popen([sys.executable, "-m", "human_chat_completions"], env=env,
                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        url = f"http://127.0.0.1:{port}/ui/"
        wait_until(lambda: opened.exists() and opened.read_text().strip() == url, timeout=30)
        page = httpx.get(url)
        assert page.status_code == 200 and "flutter" in page.text.lower()
    finally:
        process.send_signal(signal.SIGINT)
        process.communicate(timeout=30)
