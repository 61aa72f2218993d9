"""An operator on another computer must give the token first; one on this computer need not.

The other computer is an address of this machine that is not loopback (10.233.9.1, added to `lo`
for the test): the browser reaches the server there, so the server sees a non-loopback Host and
client address, as it does for a remote operator. (A network namespace with a veth pair was the
first choice; this sandbox drops TCP across veth pairs, so the address is shared instead.)
"""

from __future__ import annotations

import subprocess
import time
from collections.abc import Iterator

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

HOST = "10.233.9.1"  # the server's address, and the "remote" browser's: not loopback

pytestmark = [pytest.mark.browser]


@pytest.fixture
def remote_address() -> Iterator[str]:
    """A non-loopback address on this machine, for the time of the test."""
    try:
        added = subprocess.run(["ip", "addr", "add", f"{HOST}/32", "dev", "lo"],
                               capture_output=True, text=True)
        problem = "" if added.returncode == 0 or "File exists" in added.stderr else added.stderr
        ours = added.returncode == 0  # an address already there stays
    except OSError as error:  # no `ip` here
        problem, ours = str(error), False
    if problem:
        pytest.skip(f"cannot add an address here (needs root and iproute2: apt-get install iproute2): "
                    f"{problem.strip()}")
    try:
        yield HOST
    finally:
        if ours:
            subprocess.run(["ip", "addr", "del", f"{HOST}/32", "dev", "lo"], capture_output=True)


def test_remote_operator_needs_the_token_and_local_does_not(tmp_path, remote_address):
    with RunningServer(tmp_path / "data", Settings(language="en"), port=free_port(), host=HOST) as server, \
            sync_playwright() as playwright:
        remote = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
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
                guard.failed(remote_address)
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
