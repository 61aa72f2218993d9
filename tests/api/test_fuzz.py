"""Property-based fuzzing of the chat endpoint: no input makes the server fail or misbehave."""

from __future__ import annotations

import json

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4),
    max_leaves=12,
)
ROLES = st.sampled_from(["system", "developer", "user", "assistant", "tool", "function", "wizard", "", 3])
MESSAGE = st.fixed_dictionaries(
    {"role": ROLES},
    optional={"content": JSON | st.text(max_size=30), "name": JSON, "tool_calls": JSON},
)
FIELDS = st.sampled_from(["model", "stream", "n", "temperature", "top_p", "stop", "metadata", "user",
                          "max_tokens", "stream_options", "tools", "response_format", "seed"])
BODY = st.one_of(
    JSON,
    st.fixed_dictionaries(
        {"messages": st.lists(MESSAGE, max_size=3) | JSON},
        optional={"model": JSON | st.text(max_size=10)},
    ).flatmap(lambda body: st.dictionaries(FIELDS, JSON, max_size=3).map(lambda extra: {**extra, **body})),
)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(body=BODY)
@pytest.mark.slow
def test_any_body_gets_a_clean_answer(server, body):
    """Every body either waits for the operator (valid) or gets a 4xx in OpenAI's error shape."""
    with httpx.Client(base_url=server.base, timeout=httpx.Timeout(0.3, connect=5)) as http:
        try:
            response = http.post("/v1/chat/completions", content=json.dumps(body))
        except httpx.ReadTimeout:
            response = None  # accepted: it is waiting for the operator
        assert http.get("/health").status_code == 200
        if response is None or response.status_code == 200:
            return  # waiting, or a stream whose headers came at once
        assert 400 <= response.status_code < 500, response.text
        error = response.json()["error"]
        assert set(error) == {"message", "type", "param", "code"}
        assert response.headers["x-should-retry"] == "false"

