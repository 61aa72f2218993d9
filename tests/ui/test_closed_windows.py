"""Closed operator windows stop costing: their sessions stop rendering the moment the websocket
closes, so a day of opened-and-closed tabs does not slow the replies of the one still open."""

from __future__ import annotations

import threading
import time
from contextlib import closing

import flet.fastapi as flet_fastapi
import openai
from flet.messaging.session import Session
from playwright.sync_api import Browser, BrowserContext, Page

from human_chat_completions.config import Settings
from tests.support import Operator, RunningServer, wait_until
from tests.ui.browser import open_window, wait_for_text

EXCHANGES = 10
DELTAS = 20
# Which sessions render is counted exactly (not timed), so five closed windows show it as well as
# the thirty this test once opened, at two seconds of the suite each.
CLOSED_WINDOWS = 5
# Keeps the page's websockets reachable, so that the test can cut them like a network blip.
KEEP_SOCKETS = """(() => {
  const Real = window.WebSocket;
  window.__sockets = [];
  window.WebSocket = function (...args) { const s = new Real(...args); window.__sockets.push(s); return s; };
  window.WebSocket.prototype = Real.prototype;
  Object.assign(window.WebSocket, Real);
})()"""


def subscribers(server: RunningServer) -> int:
    """Queues on the switchboard's event bus: one per live window pump (plus any API feeds).
    core/events.py exposes no public count, so the test reads its set."""
    return len(server.runtime.switchboard.events._queues)


def stream_request(base: str, user: str, question: str, received: list[str]) -> threading.Thread:
    """A participant's chat app waiting on one streamed answer."""

    def run() -> None:
        with openai.OpenAI(base_url=base + "/v1", api_key="k", max_retries=0) as api:
            stream = api.chat.completions.create(
                model="gpt-4o", stream=True, user=user,
                messages=[{"role": "user", "content": question}])
            for chunk in stream:
                if chunk.choices and chunk.choices[0].delta.content:
                    received.append(chunk.choices[0].delta.content)

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    return thread


def answer_one(server: RunningServer, operator: Operator, user: str, question: str) -> None:
    """One streamed answer, typed in DELTAS pieces through the operator API."""
    received: list[str] = []
    client = stream_request(server.base, user, question, received)
    exchange = wait_until(lambda: next(
        (e for e in operator.exchanges("waiting") if e["user_input"] == question), None))
    for index in range(DELTAS):
        operator.reply(exchange["id"], f"w{index} ", done=False).raise_for_status()
    operator.reply(exchange["id"], "", done=True).raise_for_status()
    client.join(timeout=30)
    assert "".join(received) == "".join(f"w{index} " for index in range(DELTAS))


class RenderedSessions:
    """Which Flet sessions computed a patch (rendered) while exchanges went on. A closed
    window's cost is exactly that work, so the test counts it rather than timing replies
    on a shared machine."""

    def __init__(self, monkeypatch) -> None:
        self.ids: list[str] = []
        real = Session.patch_control

        def counted(session: Session, *args, **kwargs):
            self.ids.append(session.id)
            return real(session, *args, **kwargs)

        monkeypatch.setattr(Session, "patch_control", counted)

    def during(self, work) -> set[str]:
        self.ids.clear()
        work()
        time.sleep(0.5)  # a pump still running would render the last events by now
        return set(self.ids)


def open_and_close(browser: Browser, server: RunningServer, shown: str) -> None:
    """A window that renders the console, then is closed by its operator."""
    page = open_window(browser, server.base)
    wait_for_text(page, shown, timeout=30)
    page.close()


def test_closed_windows_stop_rendering(tmp_path, browser: Browser, monkeypatch) -> None:
    rendered = RenderedSessions(monkeypatch)
    with RunningServer(tmp_path / "data", Settings(language="en")) as server, \
            closing(Operator(server.base)) as operator:
        window: Page = open_window(browser, server.base)
        wait_until(lambda: subscribers(server) == 1, timeout=30)
        answer_one(server, operator, "warm-up", "warm-up")
        wait_for_text(window, "warm-up")

        def exchanges(name: str) -> None:
            for n in range(EXCHANGES):
                answer_one(server, operator, f"participant-{n}", f"{name} from {n}")

        [open_session] = rendered.during(lambda: exchanges("before"))
        for _ in range(CLOSED_WINDOWS):
            open_and_close(browser, server, "warm-up")
        # The closed windows' pumps are gone at once, not when Flet evicts their sessions.
        wait_until(lambda: subscribers(server) == 1, timeout=10)
        assert flet_sessions() > 1  # closed sessions Flet still holds (60 s), which could render
        assert rendered.during(lambda: exchanges("after")) == {open_session}
        answer_one(server, operator, "last-one", "last-one")
        wait_for_text(window, "last-one")  # the open window still follows the switchboard
        window.close()


def open_in(context: BrowserContext, base: str) -> Page:
    """Like browser.open_window, in a context that carries an init script."""
    page = context.new_page()
    page.route("**/cdn.jsdelivr.net/**", lambda route: route.abort())
    page.goto(base + "/ui/")
    page.wait_for_selector("flt-semantics-placeholder", state="attached", timeout=60_000)
    page.eval_on_selector("flt-semantics-placeholder", "el => el.click()")
    page.wait_for_selector("flt-semantics-host flt-semantics", state="attached", timeout=60_000)
    return page


def flet_sessions() -> int:
    return len(flet_fastapi.app_manager._FletAppManager__sessions)


def test_a_window_back_from_a_network_blip_follows_again(tmp_path, browser: Browser) -> None:
    with RunningServer(tmp_path / "data", Settings(language="en")) as server, \
            closing(Operator(server.base)) as operator:
        context = browser.new_context(viewport={"width": 1280, "height": 800})
        context.add_init_script(KEEP_SOCKETS)
        window = open_in(context, server.base)
        wait_until(lambda: subscribers(server) == 1, timeout=30)
        sessions = flet_sessions()
        window.evaluate("window.__sockets.forEach(socket => socket.close())")
        wait_until(lambda: subscribers(server) == 0, timeout=10)  # paused at once
        # Flet's client reconnects the same session; the window follows the switchboard again.
        wait_until(lambda: subscribers(server) == 1, timeout=30)
        assert flet_sessions() == sessions
        received: list[str] = []
        client = stream_request(server.base, "after-the-blip", "Still there?", received)
        wait_for_text(window, "after-the-blip")
        [exchange] = operator.exchanges("waiting")
        operator.reply(exchange["id"], "still here").raise_for_status()
        client.join(timeout=30)
        assert "".join(received) == "still here"
        context.close()
