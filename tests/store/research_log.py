"""A log made of real exchanges through a real server: the fixture the export tests read.

Drafts have no HTTP API yet, so the copilot's part (start/grow/finish/choose, and a reply with
the copilot or edited author) runs through the core's public API *on the server's own loop*, via
`asyncio.run_coroutine_threadsafe`, the way the tray posts work to the server. The loop is caught by
a switchboard listener: listeners run inline while the loop publishes an event.
"""

from __future__ import annotations

import asyncio
import shutil
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest

from human_chat_completions.core import Switchboard
from human_chat_completions.core.exchange import Author
from tests.support import OPERATOR_TOKEN, Operator, RunningServer

SECRET_KEY = "sk-secret-participant-key"
SYSTEM = {"role": "system", "content": "You are a helpful assistant."}
LOG_FILE = "exchanges.sqlite3"
# A reply with a comma, quotes and a line break: what CSV quoting must survive.
DISCARDED_REPLY = 'どういたしまして！\n"Enjoy Fuji," she said.'
# What Open WebUI sends on its own to title a chat: a side request, answered by a canned reply.
TITLE_REQUEST = ("### Task:\nGenerate a concise, 3-5 word title with an emoji summarizing the chat "
                 "history.\n### Chat History:\n<chat_history>\nUSER: hello\n</chat_history>")



class ServerLoop:
    """Calls into the switchboard on the server's event loop, from the test thread."""

    def __init__(self, switchboard: Switchboard) -> None:
        self.switchboard = switchboard
        self.loop: asyncio.AbstractEventLoop | None = None
        switchboard.events.listen(self._catch_loop)

    def _catch_loop(self, _event: object) -> None:
        if self.loop is None:
            self.loop = asyncio.get_running_loop()

    def call(self, function: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        assert self.loop is not None, "no request has reached the server yet"

        async def run() -> Any:
            return function(*args, **kwargs)

        return asyncio.run_coroutine_threadsafe(run(), self.loop).result(10)

    def drafts(self, exchange_id: str, texts: list[str], choose: int | None) -> list[str]:
        """Stream drafts into an exchange, in pieces, then choose one (or none)."""
        book = self.switchboard.drafts
        exchange = self.switchboard.get(exchange_id)
        ids = []
        for text in texts:
            draft = self.call(book.start, exchange, "local", "llama-3")
            for piece in text.split(" "):
                self.call(book.grow, exchange, draft, piece if draft.text == "" else " " + piece)
            self.call(book.finish, exchange, draft)
            ids.append(draft.id)
        self.call(book.choose, exchange, ids[choose] if choose is not None else None)
        return ids


class Study:
    """One participant request at a time, answered by the operator (and sometimes a copilot)."""

    def __init__(self, running: RunningServer) -> None:
        assert running.runtime is not None
        self.running = running
        self.operator = Operator(running.base)
        self.core = ServerLoop(running.runtime.switchboard)

    def send(self, messages: list[dict], headers: dict | None = None, **extra: Any
             ) -> tuple[str, Callable[[], httpx.Response]]:
        """Send a request from a participant thread; return its exchange id and a `wait`."""
        known = {e["id"] for e in self.operator.exchanges()}
        result: dict[str, httpx.Response] = {}
        http = httpx.Client(base_url=self.running.base, timeout=15)
        thread = threading.Thread(target=lambda: result.update(response=http.post(
            "/v1/chat/completions", json={"model": "human", "messages": messages, **extra},
            headers=headers or {})))
        thread.start()
        found = self.operator.wait_for(1, outcome="waiting")
        [exchange_id] = [e["id"] for e in found if e["id"] not in known]

        def wait() -> httpx.Response:
            thread.join(15)
            http.close()
            return result["response"]

        return exchange_id, wait

    def conversation_of(self, exchange_id: str) -> str:
        return self.operator.exchange(exchange_id)["conversation"]["id"]

    def set_mode(self, exchange_id: str, mode: str) -> None:
        conversation = self.conversation_of(exchange_id)
        self.operator.http.post(f"/conversations/{conversation}/mode",
                                json={"mode": mode}).raise_for_status()

    def reply_as(self, exchange_id: str, text: str, author: Author) -> None:
        self.core.call(self.core.switchboard.reply, exchange_id, text, done=True, author=author)


def build(data_dir: Path) -> dict[str, str]:
    """Play a small study; return exchange ids by scenario name.

    Expected: 10 exchanges; done 8, abandoned 1, failed 1; authors human 4 (one abandoned),
    copilot 1, edited 2, auto 2 (one a side request), none 1 (failed); modes human 5, copilot 4,
    auto 1 (a mode change applies to the waiting request and the next ones); edit distances 0, 1 and 18. Preference
    pairs: light_edit, heavy_edit, discarded; KTO: copilot true, light_edit true, heavy_edit
    false, discarded false. Side request: the last one, a chat title, answered canned.
    """
    ids: dict[str, str] = {}
    with RunningServer(data_dir) as running:
        study = Study(running)
        core, operator = study.core, study.operator
        p1 = {"X-Conversation-Id": "p-1", "Authorization": f"Bearer {SECRET_KEY}",
              "User-Agent": "StudyApp/1.0"}
        history = [SYSTEM, {"role": "user", "content": "hello"}]

        # A: the operator answers by hand, after being shown the request and typing.
        ids["human"], wait = study.send(history, p1)
        exchange = core.switchboard.get(ids["human"])
        core.call(core.switchboard.mark_shown, exchange.id, "op-session-1")
        core.call(core.switchboard.mark_first_keystroke, exchange.id, "live")
        core.call(core.switchboard.annotate, exchange.id, "greeting", "warmup")
        operator.reply(ids["human"], "Hi! How can I help?").raise_for_status()
        wait()
        study.set_mode(ids["human"], "copilot")

        # B: a copilot draft sent unchanged.
        history += [{"role": "assistant", "content": "Hi! How can I help?"},
                    {"role": "user", "content": "Recommend a book"}]
        ids["copilot"], wait = study.send(history, p1)
        core.drafts(ids["copilot"], ["Try Dune by Frank Herbert."], choose=0)
        study.reply_as(ids["copilot"], "Try Dune by Frank Herbert.", Author.COPILOT)
        wait()

        # C: a draft lightly edited (one character).
        history += [{"role": "assistant", "content": "Try Dune by Frank Herbert."},
                    {"role": "user", "content": "Something shorter?"}]
        ids["light_edit"], wait = study.send(history, p1)
        core.drafts(ids["light_edit"], ["Try The Little Prince."], choose=0)
        study.reply_as(ids["light_edit"], "Try The Little Prince!", Author.EDITED)
        wait()

        # D: Japanese, content parts with an image; two drafts, the first heavily edited.
        p2 = {"X-Conversation-Id": "p-2"}
        parts = [SYSTEM, {"role": "user", "content": [
            {"type": "text", "text": "この画像は何？"},
            {"type": "image_url", "image_url": {"url": "data:image/png;base64,iVBORw0KGgo="}}]}]
        ids["heavy_edit"], wait = study.send(parts, p2)
        study.set_mode(ids["heavy_edit"], "copilot")
        core.drafts(ids["heavy_edit"], ["わかりません。", "猫の写真です。"], choose=0)
        study.reply_as(ids["heavy_edit"], "これは富士山の写真です。きれいですね。", Author.EDITED)
        wait()

        # E: drafts came, none was taken; the operator wrote their own reply.
        parts2 = [*parts, {"role": "assistant", "content": "これは富士山の写真です。きれいですね。"},
                  {"role": "user", "content": "ありがとう"}]
        ids["discarded"], wait = study.send(parts2, p2)
        core.drafts(ids["discarded"], ["You are welcome."], choose=None)
        operator.reply(ids["discarded"], DISCARDED_REPLY).raise_for_status()
        wait()

        # F: a streaming participant hangs up mid-reply: abandoned, with partial text.
        with httpx.Client(base_url=running.base, timeout=15) as http:
            with http.stream("POST", "/v1/chat/completions", headers={"X-Conversation-Id": "p-3"},
                             json={"model": "human", "stream": True,
                                   "messages": [{"role": "user", "content": "are you there?"}]},
                             ) as response:
                lines = response.iter_lines()
                assert next(lines).startswith("data: ")
                [waiting] = operator.wait_for(1)
                ids["abandoned"] = waiting["id"]
                operator.reply(ids["abandoned"], "Yes, I", done=False).raise_for_status()
                operator.wait_for(1, outcome="replying")
        operator.wait_for(1, outcome="abandoned")

        # G: the operator declines a request.
        ids["failed"], wait = study.send([{"role": "user", "content": "tell me a secret"}],
                                         {"X-Conversation-Id": "p-3"})
        operator.http.post(f"/exchanges/{ids['failed']}/fail",
                           json={"message": "Declined."}).raise_for_status()
        wait()

        # H: a streamed human answer; then I: the same participant in auto mode.
        result: dict[str, str] = {}

        def stream() -> None:
            with httpx.Client(base_url=running.base, timeout=15) as http:
                response = http.post("/v1/chat/completions", headers={"X-Conversation-Id": "p-4"},
                                     json={"model": "human", "stream": True,
                                           "messages": [{"role": "user", "content": "stream it"}]})
                result["body"] = response.text

        thread = threading.Thread(target=stream)
        thread.start()
        [waiting] = operator.wait_for(1)
        ids["streamed"] = waiting["id"]
        operator.reply(ids["streamed"], "streamed answer").raise_for_status()
        thread.join(15)
        assert "data: [DONE]" in result["body"]
        study.set_mode(ids["streamed"], "auto")
        ids["auto"], wait = study.send(
            [{"role": "user", "content": "stream it"}, {"role": "assistant", "content": "streamed answer"},
             {"role": "user", "content": "and now?"}], {"X-Conversation-Id": "p-4"})
        study.reply_as(ids["auto"], "An automatic answer.", Author.AUTO)
        wait()

        # J: the chat app asks for a title on its own; the canned reply answers it at once.
        known = {e["id"] for e in operator.exchanges()}
        httpx.post(running.base + "/v1/chat/completions", timeout=15,
                   headers={"X-Conversation-Id": "p-5"},
                   json={"model": "human", "messages": [{"role": "user", "content": TITLE_REQUEST}]},
                   ).raise_for_status()
        [ids["side"]] = [e["id"] for e in operator.exchanges() if e["id"] not in known]
        operator.close()
    return ids


@pytest.fixture(scope="session")
def research_log_template(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, str]]:
    root = tmp_path_factory.mktemp("research")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("HCC_CONFIG_DIR", str(root / "config"))
        patch.setenv("HCC_DATA_DIR", str(root / "data"))
        ids = build(root / "data")
    return root / "data", ids


@pytest.fixture
def research_log(research_log_template: tuple[Path, dict[str, str]], tmp_path: Path
                 ) -> tuple[Path, dict[str, str]]:
    """A private copy of the study's data folder (tests may migrate or write to it)."""
    template, ids = research_log_template
    data = tmp_path / "study"
    shutil.copytree(template, data)
    return data, ids


__all__ = ["DISCARDED_REPLY", "OPERATOR_TOKEN", "SECRET_KEY", "TITLE_REQUEST", "research_log",
           "research_log_template"]
