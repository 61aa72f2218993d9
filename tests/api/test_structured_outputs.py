"""Structured outputs: the operator's JSON is checked against the app's schema, and the official
client's `parse` helpers get a parsed object, through Chat Completions and the Responses API."""

from __future__ import annotations

import json
from concurrent.futures import ThreadPoolExecutor

import openai
from pydantic import BaseModel

from tests.support import RunningServer


class Booking(BaseModel):
    city: str
    nights: int
    breakfast: bool


def client(server: RunningServer) -> openai.OpenAI:
    return openai.OpenAI(base_url=server.base + "/v1", api_key="sk-x", max_retries=0)


GOOD = json.dumps({"city": "Kyoto", "nights": 2, "breakfast": True})


def test_chat_parse_gets_the_operators_json_as_a_pydantic_object(server, operator):
    with ThreadPoolExecutor(1) as pool, client(server) as api:
        future = pool.submit(api.chat.completions.parse, model="m", response_format=Booking,
                             messages=[{"role": "user", "content": "Book Kyoto, two nights."}])
        [exchange] = operator.wait_for(1)
        assert exchange["request"]["response_format"]["type"] == "json_schema"
        not_json = operator.reply(exchange["id"], "Sure, booked!")
        assert not_json.status_code == 422 and "not valid JSON" in not_json.json()["error"]["message"]
        wrong = operator.reply(exchange["id"], json.dumps({"city": "Kyoto", "nights": "two",
                                                             "breakfast": True}))
        assert wrong.status_code == 422 and wrong.json()["error"]["param"] == "nights"
        missing = operator.reply(exchange["id"], json.dumps({"city": "Kyoto", "nights": 2}))
        assert missing.json()["error"]["param"] == "breakfast"
        operator.reply(exchange["id"], GOOD).raise_for_status()
        completion = future.result(timeout=10)
    assert completion.choices[0].message.parsed == Booking(city="Kyoto", nights=2, breakfast=True)


def test_json_sent_in_pieces_is_checked_whole_when_it_is_done(server, operator):
    with ThreadPoolExecutor(1) as pool, client(server) as api:
        future = pool.submit(api.chat.completions.create, model="m",
                             response_format={"type": "json_object"},
                             messages=[{"role": "user", "content": "JSON please"}])
        [exchange] = operator.wait_for(1)
        operator.reply(exchange["id"], '{"ok": ', done=False).raise_for_status()
        assert operator.reply(exchange["id"], "tru").status_code == 422
        operator.reply(exchange["id"], "true}").raise_for_status()
        assert json.loads(future.result(timeout=10).choices[0].message.content) == {"ok": True}


def test_json_object_must_be_an_object_unless_forced(server, operator):
    with ThreadPoolExecutor(1) as pool, client(server) as api:
        future = pool.submit(api.chat.completions.create, model="m",
                             response_format={"type": "json_object"},
                             messages=[{"role": "user", "content": "JSON please"}])
        [exchange] = operator.wait_for(1)
        assert operator.reply(exchange["id"], "[1, 2]").status_code == 422
        forced = operator.http.post(f"/exchanges/{exchange['id']}/reply",
                                    json={"text": "[1, 2]", "done": True, "force": True})
        forced.raise_for_status()
        assert future.result(timeout=10).choices[0].message.content == "[1, 2]"


def test_the_responses_api_text_format_gets_a_parsed_object(server, operator):
    with ThreadPoolExecutor(1) as pool, client(server) as api:
        future = pool.submit(api.responses.parse, model="m", text_format=Booking,
                             input="Book Kyoto, two nights.")
        [exchange] = operator.wait_for(1)
        assert exchange["request"]["response_format"]["json_schema"]["schema"]["required"] == [
            "city", "nights", "breakfast"]
        assert operator.reply(exchange["id"], '{"city": "Kyoto"}').status_code == 422
        operator.reply(exchange["id"], GOOD).raise_for_status()
        response = future.result(timeout=10)
    assert response.output_parsed == Booking(city="Kyoto", nights=2, breakfast=True)
