"""Named operators: each has its own operator-API token, so the server knows who is answering.

Kept in `operators.json` in the config folder, owner-only. The file holds each name with the
SHA-256 of its token, never the token: a copy of the file lets nobody act as an operator. The file
is read at every lookup (it is tiny), so an operator added or removed while the server runs counts
at once.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import re
import secrets
from pathlib import Path

from pydantic import BaseModel, ValidationError

from human_chat_completions.config import config_dir, write_private

log = logging.getLogger(__name__)

NAME = re.compile(r"[A-Za-z0-9_-]{1,40}")


class OperatorError(ValueError):
    """A request the operators file cannot honour: a bad or taken name, an unknown one, a broken file."""


class _OperatorsFile(BaseModel):
    operators: dict[str, str] = {}  # name -> SHA-256 of the token, hex


def operators_path() -> Path:
    return config_dir() / "operators.json"


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def _load() -> dict[str, str]:
    path = operators_path()
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return {}
    except (OSError, UnicodeDecodeError) as error:
        raise OperatorError(f"The operators file {path} cannot be read ({error}).") from None
    try:
        return _OperatorsFile.model_validate_json(text).operators
    except ValidationError as error:
        first = error.errors()[0]
        raise OperatorError(f"The operators file {path} is broken ({first['msg']}); fix or remove it.") \
            from None


def _save(operators: dict[str, str]) -> None:
    write_private(operators_path(), _OperatorsFile(operators=operators).model_dump_json(indent=2))


def add(name: str) -> str:
    """Add an operator called `name` and return their new token (it is not kept: show it once)."""
    if not NAME.fullmatch(name):
        raise OperatorError(f"“{name}” is not a valid operator name: use 1–40 letters, digits, - or _.")
    operators = _load()
    # Alice and alice in one log would be two people to the researcher: one name, whatever the case.
    taken = next((known for known in operators if known.casefold() == name.casefold()), None)
    if taken is not None:
        raise OperatorError(f"There is already an operator named “{taken}”; "
                            f"remove it first (hcc operators remove {taken}) or choose another name.")
    token = secrets.token_urlsafe(32)
    _save({**operators, name: token_hash(token)})
    return token


def remove(name: str) -> None:
    """Remove the operator `name`: their token stops working at the server's next request."""
    operators = _load()
    if name not in operators:
        known = ", ".join(sorted(operators)) or "none"
        raise OperatorError(f"No operator named “{name}” (operators: {known}).")
    del operators[name]
    _save(operators)


def names() -> list[str]:
    return sorted(_load(), key=str.casefold)


def name_for_token(token: str) -> str | None:
    """The operator whose token this is, or None. Every stored hash is compared, in constant time."""
    if not token:
        return None
    try:
        operators = _load()
    except OperatorError as error:
        # A broken file must not stop the main operator token; named tokens wait for the fix.
        log.warning("%s Named operator tokens are refused until then.", error)
        return None
    wanted = token_hash(token).encode()
    found = None
    for name, stored in operators.items():
        if hmac.compare_digest(wanted, stored.encode()):
            found = name
    return found
