"""An operator on another computer must give the token first; one on this computer need not.

The other computer is a network namespace this test makes (a veth pair on a private /30), with
the browser running inside it: the server sees a non-loopback client address, as it would for a
remote operator.
"""

from __future__ import annotations

import os
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import sync_playwright

from human_chat_completions.config import Settings
from tests.support import OPERATOR_TOKEN, RunningServer, free_port
from tests.ui.browser import (
    CHROMIUM,
    CHROMIUM_ARGS,
    focus_textbox,
    open_window,
    screen_text,
    type_text,
    wait_for_text,
)

HOST, REMOTE = "10.233.9.1", "10.233.9.2"


def sh(*command: str) -> None:
    subprocess.run(command, check=True, capture_output=True)


pytestmark = [pytest.mark.browser]

@pytest.fixture
def remote_computer(tmp_path: Path) -> Iterator[Path]:
    """A namespace with its own address; yields a chromium that runs inside it."""
    name, veth = f"hcc-remote-{os.getpid()}", f"hccr{os.getpid() % 100000}"
    try:
        sh("ip", "netns", "add", name)
    except (OSError, subprocess.CalledProcessError) as error:
        pytest.skip(f"cannot make a network namespace here (needs root and iproute2): {error}")
    try:
        sh("ip", "link", "add", veth, "type", "veth", "peer", "name", veth + "p")
        sh("ip", "link", "set", veth + "p", "netns", name)
        sh("ip", "addr", "add", f"{HOST}/30", "dev", veth)
        sh("ip", "link", "set", veth, "up")
        sh("ip", "netns", "exec", name, "ip", "addr", "add", f"{REMOTE}/30", "dev", veth + "p")
        sh("ip", "netns", "exec", name, "ip", "link", "set", veth + "p", "up")
        sh("ip", "netns", "exec", name, "ip", "link", "set", "lo", "up")
        browser = tmp_path / "chromium-in-namespace"
        browser.write_text(f'#!/bin/sh\nexec ip netns exec {name} {CHROMIUM} "$@"\n')
        browser.chmod(0o755)
        yield browser
    finally:
        subprocess.run(["ip", "link", "del", veth], capture_output=True)
        subprocess.run(["ip", "netns", "del", name], capture_output=True)


def test_remote_operator_needs_the_token_and_local_does_not(tmp_path, remote_computer):
    with RunningServer(tmp_path / "data", Settings(language="en"), port=free_port(), host=HOST) as server, \
            sync_playwright() as playwright:
        remote = playwright.chromium.launch(executable_path=str(remote_computer), args=CHROMIUM_ARGS)
        try:
            page = open_window(remote, server.base)
            wait_for_text(page, "Enter the operator token")
            assert "Conversations" not in screen_text(page)
            focus_textbox(page, "Token")
            type_text(page, "not-the-token")
            page.get_by_role("button", name="Open").click()
            wait_for_text(page, "That token is not correct.")
            # Guessing on: nine more wrong tokens (the API and the form share one count) ...
            guard = server.server.config.app.state.token_guard
            for _ in range(9):
                guard.failed(REMOTE)
            focus_textbox(page, "Token")
            page.keyboard.press("Control+A")
            type_text(page, OPERATOR_TOKEN, delay=10)
            page.get_by_role("button", name="Open").click()
            wait_for_text(page, "Too many wrong tokens")  # ... and even the right one waits
            assert "Conversations" not in screen_text(page)
            guard.clock = lambda: time.monotonic() + 61  # a minute later
            page.get_by_role("button", name="Open").click()
            wait_for_text(page, "Conversations")
        finally:
            remote.close()
    with RunningServer(tmp_path / "local", Settings(language="en")) as server, \
            sync_playwright() as playwright:
        local = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            page = open_window(local, server.base)
            wait_for_text(page, "Conversations")  # straight in, no token asked
            assert "operator token" not in screen_text(page)
        finally:
            local.close()
