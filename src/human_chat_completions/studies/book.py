"""Loaded studies, kept as files in the config folder (owner-only: they hold participant keys).

The CLI loads a study while the server may be running; the server reads the folder again when a
file in it changed, so a participant's key works at once.
"""

from __future__ import annotations

import hmac
import json
import secrets
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from human_chat_completions.config import config_dir, write_private
from human_chat_completions.core.exchange import Mode
from human_chat_completions.core.study import Condition
from human_chat_completions.studies.assignment import assign
from human_chat_completions.studies.definition import StudyDefinition

KEY_PREFIX = "sk-study-"


@dataclass(frozen=True)
class Participant:
    participant: str
    key: str
    condition: str
    order: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class Study:
    definition: StudyDefinition
    participants: list[Participant]
    loaded_at: str

    @property
    def name(self) -> str:
        return self.definition.name

    def condition(self, name: str) -> Condition:
        """The core's view of one condition of this study."""
        found = self.definition.conditions[name]
        return Condition(
            study=self.name, name=name, mode=Mode(found.mode), persona=found.persona,
            profile=found.profile, first_token_ms=found.first_token_ms,
            tokens_per_second=found.tokens_per_second,
            guard_phrases=tuple(self.definition.guard.phrases),
        )

    def to_json(self) -> str:
        return json.dumps({"definition": self.definition.model_dump(mode="json"),
                           "participants": [asdict(p) for p in self.participants],
                           "loaded_at": self.loaded_at}, ensure_ascii=False, indent=2)

    @classmethod
    def from_json(cls, text: str) -> Study:
        data = json.loads(text)
        return cls(StudyDefinition.model_validate(data["definition"]),
                   [Participant(**p) for p in data["participants"]], data["loaded_at"])


def study_owner(study: str, participant: str) -> str:
    """The owner of a study participant's threads: unique across studies that reuse ids."""
    return f"{study}:{participant}"


def studies_dir() -> Path:
    return config_dir() / "studies"


class StudyBook:
    """Every loaded study; a participant's key leads to their study and condition."""

    def __init__(self, folder: Path | None = None) -> None:
        self.folder = folder or studies_dir()
        self._seen: tuple[tuple[str, int], ...] | None = None
        self._studies: dict[str, Study] = {}

    def load(self, definition: StudyDefinition) -> Study:
        """Save `definition` as a study. Loaded again (a fixed typo, more participants), a
        participant keeps their key and condition: printed cards and running sessions stay valid."""
        before = self.get(definition.name)
        kept = {p.participant: p for p in before.participants} if before else {}
        ids = definition.participant_ids()
        orders = assign(ids, list(definition.conditions), definition.assignment, definition.seed)
        participants = [
            kept[pid] if pid in kept and kept[pid].condition in definition.conditions
            else Participant(pid, KEY_PREFIX + secrets.token_urlsafe(18), orders[pid][0], orders[pid])
            for pid in ids
        ]
        study = Study(definition, participants, datetime.now(UTC).isoformat(timespec="seconds"))
        write_private(self.folder / f"{definition.name}.json", study.to_json())
        return study

    def names(self) -> list[str]:
        return sorted(self._current())

    def get(self, name: str) -> Study | None:
        return self._current().get(name)

    def all(self) -> list[Study]:
        return [self._current()[name] for name in self.names()]

    def find_key(self, key: str) -> tuple[Study, Participant] | None:
        """The participant a key belongs to, in constant time per key."""
        if not key.startswith(KEY_PREFIX):
            return None
        found = None
        for study in self._current().values():
            for participant in study.participants:
                if hmac.compare_digest(participant.key.encode(), key.encode()):
                    found = (study, participant)
        return found

    def condition_of_owner(self, owner: str) -> Condition | None:
        """The condition of the participant who owns threads as `owner` (`study:participant`)."""
        study_name, _, participant_id = owner.partition(":")
        study = self.get(study_name) if participant_id else None
        member = next((p for p in study.participants if p.participant == participant_id), None) \
            if study else None
        return study.condition(member.condition) if study and member else None

    def keys(self) -> list[str]:
        return [p.key for study in self._current().values() for p in study.participants]

    def _current(self) -> dict[str, Study]:
        files = sorted(self.folder.glob("*.json")) if self.folder.is_dir() else []
        seen = tuple((f.name, f.stat().st_mtime_ns) for f in files)
        if seen != self._seen:
            self._studies = {}
            for file in files:
                try:
                    study = Study.from_json(file.read_text(encoding="utf-8"))
                except (OSError, ValueError, KeyError, TypeError):
                    continue  # a hand-damaged file: the CLI says so when it is shown
                self._studies[study.name] = study
            self._seen = seen
        return self._studies
