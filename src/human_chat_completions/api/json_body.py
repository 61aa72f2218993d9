"""A request body read as JSON that anyone may have written: bounded nesting, real text only.

Both refusals happen here, at the door, because what lies behind it cannot cope: a value nested
thousands deep makes `json.loads`, validation and every later `json.dumps` (the log, the retry
fingerprint) raise RecursionError, and a lone surrogate — `"\\ud800"`, half of a UTF-16 pair —
is valid JSON but no character, so encoding it for SQLite, a hash or a reply raises
UnicodeEncodeError.
"""

from __future__ import annotations

import json
import re
from typing import Any

from human_chat_completions.api.errors import APIError

# Real requests stay far below: a chat with tool schemas nests about 10-20 levels.
MAX_DEPTH = 64

# A JSON string (escapes included) or a bracket: enough to find which field is too deep.
_TOKEN = re.compile(r'"[^"\\]*(?:\\.[^"\\]*)*"|[\[\]{}]', re.DOTALL)
# Once the body is strict UTF-8, a lone surrogate can only come from an escape like this.
_SURROGATE_ESCAPE = re.compile(r"\\u[dD][89a-fA-F]")
_SURROGATE = re.compile("[\ud800-\udfff]")


def load_json_object(body: bytes) -> dict[str, Any]:
    """The body as a JSON object, or an APIError (400, code `invalid_json`) that says what is
    wrong and, where known, which field."""
    text = _decode(body)
    try:
        payload = json.loads(text)
    except RecursionError:
        # Parsing first is safe: CPython's parser counts its depth against the recursion limit
        # and stops near a thousand levels, far from the end of a thread's stack. Only the
        # depth past MAX_DEPTH but under that limit is left for the walk below.
        raise _too_deep(_deep_field(text)) from None
    except ValueError:
        raise _invalid("We could not parse the JSON body of your request. Send valid JSON.") from None
    if not isinstance(payload, dict):
        raise _invalid("The request body must be a JSON object.")
    deep = _first_too_deep(payload)
    if deep is not None:
        raise _too_deep(deep)
    if _SURROGATE_ESCAPE.search(text):  # rare: skip the walk when no escape could make one
        _refuse_lone_surrogates(payload)
    return payload


def _decode(body: bytes) -> str:
    # json.loads(bytes) would decode with "surrogatepass", letting encoded surrogates through.
    try:
        return body.decode(json.detect_encoding(body))
    except UnicodeDecodeError:
        raise _invalid("The request body is not valid UTF-8 text.") from None


def _first_too_deep(payload: dict[str, Any]) -> str | None:
    """The top-level field holding a value nested deeper than MAX_DEPTH, or None."""
    for field, value in payload.items():
        if _deeper_than(value, MAX_DEPTH - 1):  # the body object itself is the first level
            return field
    return None


def _deeper_than(value: Any, levels: int) -> bool:
    """Walked one level at a time, not recursively (so the walk cannot overflow either), and
    without a tuple per node: a 30 MB body of tiny lists stays about as fast as parsing it."""
    level = [value]
    while True:
        level = [item for item in level if type(item) is dict or type(item) is list]
        if not level:
            return False
        if levels == 0:
            return True
        levels -= 1
        level = [child for item in level
                 for child in (item.values() if type(item) is dict else item)]


def _deep_field(text: str) -> str:
    """The top-level key whose value goes past MAX_DEPTH, read from the text itself ("" when
    the body is no object or the key is unreadable). Only the error path scans this way."""
    depth, key, is_object = 0, "", text.lstrip().startswith("{")
    for match in _TOKEN.finditer(text):
        token = match.group()
        if token.startswith('"'):
            if depth == 1 and is_object:
                key = token  # the last string at the top level before a value opens is its key
        elif token in "[{":
            depth += 1
            if depth > MAX_DEPTH:
                return _readable(key)
        else:
            depth -= 1
    return ""


def _readable(token: str) -> str:
    try:
        key = json.loads(token)
    except ValueError:
        return ""
    return key if isinstance(key, str) and not _SURROGATE.search(key) else ""


def _refuse_lone_surrogates(payload: dict[str, Any]) -> None:
    """A string (or a key) holding half a surrogate pair is refused, naming where it is."""
    stack: list[tuple[Any, tuple[str | int, ...]]] = [(payload, ())]
    while stack:
        value, path = stack.pop()
        if isinstance(value, str) and _SURROGATE.search(value):
            raise _lone_surrogate(path)
        if isinstance(value, dict):
            for key, child in value.items():
                if _SURROGATE.search(key):
                    raise _lone_surrogate(path)  # the key itself cannot be named
                stack.append((child, (*path, key)))
        elif isinstance(value, list):
            stack.extend((child, (*path, index)) for index, child in enumerate(value))


def _invalid(message: str, param: str | None = None) -> APIError:
    return APIError(400, message, param=param, code="invalid_json")


def _too_deep(field: str) -> APIError:
    where = f" in '{field}'" if field else ""
    return _invalid(
        f"Your request has lists or objects nested more than {MAX_DEPTH} levels deep{where}. "
        "Flatten that part and send it again.",
        field or None,
    )


def _lone_surrogate(path: tuple[str | int, ...]) -> APIError:
    param = ".".join(str(part) for part in path) or None
    where = f"The text in '{param}'" if param else "Some text in your request"
    return _invalid(
        f"{where} contains half of a UTF-16 surrogate pair (an escape such as \\ud800 without its "
        "partner), which is not a character. Remove it or send the complete character.",
        param,
    )
