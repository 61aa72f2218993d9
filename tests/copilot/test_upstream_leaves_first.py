"""An auto answer's upstream request is on the wire before its client's response is built: the
response's work waits for the request, not the other way round (on a kept-alive connection)."""

from __future__ import annotations

from typing import Any

import aiohttp
import openai

from human_chat_completions.api import answering
from human_chat_completions.config import Settings
from human_chat_completions.copilot import sse
from human_chat_completions.copilot.profiles import Profile
from tests.fakes.upstream import FakeUpstream
from tests.support import RunningServer


def test_the_upstream_request_is_written_before_the_response_is_handed_over(tmp_path, monkeypatch):
    happened: list[str] = []

    async def body_written(_session: object, _context: object, _params: object) -> None:
        happened.append("upstream request written")  # aiohttp writes it in this same step

    trace = aiohttp.TraceConfig()
    trace.on_request_chunk_sent.append(body_written)
    session_class = aiohttp.ClientSession

    def traced_session(*args: Any, **kwargs: Any) -> aiohttp.ClientSession:
        return session_class(*args, trace_configs=[trace], **kwargs)

    answer = answering.answer

    async def traced_answer(*args: object, **kwargs: object) -> object:
        response = await answer(*args, **kwargs)  # type: ignore[arg-type]
        happened.append("response handed over")
        return response

    monkeypatch.setattr(sse.aiohttp, "ClientSession", traced_session)
    monkeypatch.setattr(answering, "answer", traced_answer)
    with FakeUpstream() as fake:
        profile = Profile(name="fake", base_url=fake.base_url, model="fake-model", timeout_seconds=5)
        server = RunningServer(tmp_path / "data", Settings(default_mode="auto", profiles=[profile])).start()
        try:
            with openai.OpenAI(base_url=server.base + "/v1", api_key="k", max_retries=0) as client:
                for turn in range(3):
                    stream = client.chat.completions.create(
                        model="m", stream=True, messages=[{"role": "user", "content": f"hello {turn}"}])
                    text = "".join(chunk.choices[0].delta.content or "" for chunk in stream if chunk.choices)
                    assert text
                    if turn == 0:
                        happened.clear()  # the first opened the connection, which takes turns of its own
        finally:
            server.stop()
    assert happened == ["upstream request written", "response handed over"] * 2
