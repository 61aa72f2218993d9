"""The study file (TOML): what a researcher writes, checked with messages they can act on."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator
from pydantic_core import ErrorDetails

from human_chat_completions.core.exchange import Mode

NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")
Assignment = Literal["latin-square", "blocked-random", "fixed"]


class StudyFileError(ValueError):
    """A study file that cannot be used, with every problem on its own line."""


class ConditionDefinition(BaseModel):
    model_config = ConfigDict(extra="forbid")

    mode: Mode = Mode.HUMAN
    persona: str | None = None
    profile: str | None = None
    first_token_ms: Annotated[int, Field(ge=0, le=120_000)] | None = None
    tokens_per_second: Annotated[float, Field(gt=0, le=1000)] | None = None


class GuardDefinition(BaseModel):
    model_config = ConfigDict(extra="forbid")

    phrases: list[str] = Field(default_factory=list)


class StudyDefinition(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str
    participants: Annotated[int, Field(ge=1, le=10_000)] | list[str]
    assignment: Assignment = "latin-square"
    seed: int = 0
    conditions: dict[str, ConditionDefinition]
    guard: GuardDefinition = Field(default_factory=GuardDefinition)

    @field_validator("name")
    @classmethod
    def _plain_name(cls, name: str) -> str:
        if not NAME.match(name):
            raise ValueError("use letters, digits, '-', '_' or '.' (up to 64), starting with a "
                             "letter or digit")
        return name

    @field_validator("participants")
    @classmethod
    def _distinct_ids(cls, participants: int | list[str]) -> int | list[str]:
        if isinstance(participants, list):
            if not participants:
                raise ValueError("list at least one participant id")
            if len(set(participants)) != len(participants):
                raise ValueError("participant ids must differ")
            bad = [p for p in participants if not NAME.match(p)]
            if bad:
                raise ValueError(f"not a usable participant id: {bad[0]!r}")
        return participants

    @model_validator(mode="after")
    def _some_condition(self) -> StudyDefinition:
        if not self.conditions:
            raise ValueError("define at least one [conditions.NAME] table")
        bad = [name for name in self.conditions if not NAME.match(name)]
        if bad:
            raise ValueError(f"not a usable condition name: {bad[0]!r}")
        return self

    def participant_ids(self) -> list[str]:
        if isinstance(self.participants, list):
            return list(self.participants)
        width = max(2, len(str(self.participants)))
        return [f"P{number:0{width}d}" for number in range(1, self.participants + 1)]


def read_study_file(path: Path) -> StudyDefinition:
    """The study in `path`, or StudyFileError saying what to fix (the CLI and the window say it)."""
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except OSError as error:
        raise StudyFileError(f"Cannot read {path}: {error.strerror or error}") from None
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as error:
        raise StudyFileError(f"{path.name} is not valid TOML: {error}") from None
    try:
        return StudyDefinition.model_validate(data)
    except ValidationError as error:
        lines = dict.fromkeys(_plain(problem) for problem in error.errors())  # once each, in order
        raise StudyFileError("\n".join(lines)) from None


PARTICIPANTS_HINT = "participants: give a number (1 or more) or a list of ids such as [\"P01\", \"P02\"]"


def _plain(problem: ErrorDetails) -> str:
    """One line a researcher can act on: where in the file, and what is wrong."""
    loc = [str(part) for part in problem["loc"]]
    if loc and loc[0] == "participants" and problem["type"] != "value_error":
        return PARTICIPANTS_HINT  # pydantic reports each side of the number-or-list choice
    message = str(problem["msg"]).removeprefix("Value error, ")
    return f"{'.'.join(loc) or 'study file'}: {message}"
