"""The window's door, attacked for real: foreign pages, rebinding hosts and raw websockets."""

from __future__ import annotations

import asyncio
import http.server
import threading
from collections.abc import Iterator

import httpx
import pytest
import websockets

from human_chat_completions.ui.door import HostRules, WindowDoor, window_trusted
from tests.support import RunningServer, free_port


def ws_url(server: RunningServer) -> str:
    return f"ws://127.0.0.1:{server.port}/ui/ws"


def upgrade_status(server: RunningServer, **headers: str) -> int:
    """A raw websocket upgrade to the window, made with the `websockets` client and any headers."""
    return asyncio.run(_raw_upgrade(server.port, headers))


async def _raw_upgrade(port: int, headers: dict[str, str]) -> int:
    # Written by hand so the test controls Host and Origin exactly as an attacker's page would.
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    lines = ["GET /ui/ws HTTP/1.1", "Upgrade: websocket", "Connection: Upgrade",
             "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==", "Sec-WebSocket-Version: 13",
             *(f"{name.replace('_', '-')}: {value}" for name, value in headers.items())]
    writer.write(("\r\n".join(lines) + "\r\n\r\n").encode())
    await writer.drain()
    status_line = await asyncio.wait_for(reader.readline(), 5)
    rest = await asyncio.wait_for(reader.read(65536), 2) if not status_line.startswith(b"HTTP/1.1 101") else b""
    writer.close()
    await writer.wait_closed()
    assert b"\x81" not in rest and b"\x82" not in rest, "a websocket frame leaked before the refusal"
    return int(status_line.split()[1])


@pytest.mark.slow  # an accepted websocket that never registers holds Flet until shutdown (5 s)
def test_foreign_origin_websocket_is_refused_before_any_frame(server):
    own_host = f"127.0.0.1:{server.port}"
    assert upgrade_status(server, Host=own_host, Origin="https://evil.example") == 403
    assert upgrade_status(server, Host=own_host, Origin="null") == 403
    assert upgrade_status(server, Host=own_host, Origin=f"http://localhost:{server.port}") == 403
    assert upgrade_status(server, Host=own_host, Origin=f"http://{own_host}") == 101


def test_rebinding_host_is_refused(server):
    evil = f"evil.example:{server.port}"
    assert upgrade_status(server, Host=evil, Origin=f"http://{evil}") == 403
    assert upgrade_status(server, Host=evil) == 403
    assert upgrade_status(server, Host=f"127.0.0.1:{server.port + 1}") == 403
    response = httpx.get(f"{server.base}/ui/", headers={"Host": evil})
    assert response.status_code == 403


@pytest.mark.slow  # an accepted websocket that never registers holds Flet until shutdown (5 s)
def test_real_websocket_client_with_foreign_origin_is_refused(server):
    async def attempt(origin: str | None) -> str:
        try:
            async with websockets.connect(ws_url(server), origin=origin, open_timeout=5):
                return "open"
        except websockets.InvalidStatus as refused:
            return str(refused.response.status_code)

    assert asyncio.run(attempt("https://evil.example")) == "403"
    assert asyncio.run(attempt(f"http://127.0.0.1:{server.port}")) == "open"


def test_window_pages_are_not_readable_by_other_sites(server):
    response = httpx.get(f"{server.base}/ui/", headers={"Origin": "https://evil.example"})
    assert response.status_code == 200
    assert "access-control-allow-origin" not in response.headers


@pytest.mark.slow  # an accepted websocket that never registers holds Flet until shutdown (5 s)
def test_listed_host_names_are_answered(tmp_path):
    from human_chat_completions.config import Settings

    settings = Settings(allowed_hosts=["lab-pc.example.org"])
    with RunningServer(tmp_path / "data", settings) as running:
        host = f"lab-pc.example.org:{running.port}"
        assert upgrade_status(running, Host=host, Origin=f"http://{host}") == 101
        assert httpx.get(f"{running.base}/ui/", headers={"Host": host}).status_code == 200
        assert upgrade_status(running, Host=f"other.example.org:{running.port}") == 403


# -- who skips the token: the middleware's own decision, probed with a plain ASGI app ---------------


def trust_decision(client: str, headers: dict[str, str], port: int = 8000) -> bool | None:
    seen: list[bool] = []

    async def probe(scope, receive, send):
        seen.append(window_trusted.get())

    door = WindowDoor(probe, HostRules(lambda: []))
    scope = {"type": "websocket", "path": "/ws", "client": (client, 5555), "server": ("127.0.0.1", port),
             "headers": [(k.lower().encode(), v.encode()) for k, v in headers.items()]}
    sent: list[dict] = []

    async def send(message):
        sent.append(message)

    asyncio.run(door(scope, None, send))
    return seen[0] if seen else None


def test_only_the_windows_own_page_or_the_desktop_client_on_this_machine_skip_the_token():
    own = {"Host": "127.0.0.1:8000", "Origin": "http://127.0.0.1:8000"}
    assert trust_decision("127.0.0.1", own) is True
    assert trust_decision("::1", {"Host": "localhost:8000", "Origin": "http://localhost:8000"}) is True
    # Flet's desktop client on this machine sends no Origin (browsers always do): trusted.
    assert trust_decision("127.0.0.1", {"Host": "127.0.0.1:8000"}) is True
    # A browser on another computer, even with the right Host and Origin: the token is asked.
    assert trust_decision("192.0.2.7", own) is False
    assert trust_decision("192.0.2.7", {"Host": "127.0.0.1:8000"}) is False
    assert trust_decision("127.0.0.1", {"Host": "127.0.0.1:8000", "Origin": "http://evil"}) is None


def test_host_rules():
    rules = HostRules(lambda: ["lab.example.org", "other.example.org:9000"])
    assert rules.accepts("127.0.0.1:8000", ("127.0.0.1", 8000))
    assert rules.accepts("LOCALHOST:8000", ("127.0.0.1", 8000))
    assert rules.accepts("[::1]:8000", ("::1", 8000))
    assert rules.accepts("10.0.0.5:8000", ("10.0.0.5", 8000))  # the address the connection reached
    assert not rules.accepts("10.0.0.6:8000", ("10.0.0.5", 8000))
    assert rules.accepts("lab.example.org:8000", ("10.0.0.5", 8000))
    assert not rules.accepts("other.example.org:8000", ("10.0.0.5", 8000))
    assert not rules.accepts("127.0.0.1:8001", ("127.0.0.1", 8000))
    assert not rules.accepts("", ("127.0.0.1", 8000))
    assert not rules.accepts("127.0.0.1.evil.example:8000", ("127.0.0.1", 8000))


# -- a real attacker page in Chromium -------------------------------------------------------------

ATTACK_PAGE = """<!doctype html><html><body><script>
window.results = {};
const target = "127.0.0.1:%(port)d";
const ws = new WebSocket("ws://" + target + "/ui/ws");
ws.onopen = () => { window.results.ws = "open"; };
ws.onerror = () => { window.results.ws = "refused"; };
fetch("http://" + target + "/v1/chat/completions", {method: "POST", mode: "no-cors",
      headers: {"Content-Type": "text/plain"},
      body: JSON.stringify({model: "m", messages: [{role: "user", content: "planted"}]})})
  .then(() => { window.results.post = "sent"; }, () => { window.results.post = "failed"; });
</script></body></html>"""


@pytest.fixture
def attacker_site(server: RunningServer) -> Iterator[str]:
    page = (ATTACK_PAGE % {"port": server.port}).encode()

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self):  # noqa: N802
            self.send_response(200)
            self.send_header("Content-Type", "text/html")
            self.send_header("Content-Length", str(len(page)))
            self.end_headers()
            self.wfile.write(page)

        def log_message(self, *args):
            pass

    port = free_port()
    site = http.server.ThreadingHTTPServer(("127.0.0.1", port), Handler)
    threading.Thread(target=site.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{port}/"
    site.shutdown()
    site.server_close()


def test_a_page_from_another_site_cannot_reach_the_window_or_queue_work(browser, server, operator,
                                                                        attacker_site):
    page = browser.new_page()
    try:
        page.goto(attacker_site)
        page.wait_for_function("() => window.results.ws && window.results.post", timeout=15_000)
        results = page.evaluate("() => window.results")
    finally:
        page.close()
    assert results["ws"] == "refused"
    assert operator.exchanges() == []  # nothing planted in front of the operator
