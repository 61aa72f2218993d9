from __future__ import annotations

import pytest
from pydantic import ValidationError

from human_chat_completions.copilot.profiles import Profile, default_profile, find_profile


def make(name: str, **extra: object) -> Profile:
    return Profile.model_validate({"name": name, "base_url": "http://127.0.0.1:11434/v1/", "model": "m", **extra})


def test_profile_normalises_base_url_and_keeps_defaults() -> None:
    profile = make("local")
    assert profile.base_url == "http://127.0.0.1:11434/v1"
    assert profile.temperature is None and profile.max_tokens is None
    assert profile.instruction == "" and profile.key_env is None
    assert profile.timeout_seconds == 60


@pytest.mark.parametrize(
    "field, value",
    [
        ("name", ""),
        ("name", "has space"),
        ("name", "-leading-dash"),
        ("base_url", "ftp://example.com"),
        ("base_url", "api.openai.com/v1"),
        ("temperature", 3),
        ("max_tokens", 0),
        ("key_env", "NOT-A-VAR"),
        ("timeout_seconds", 0),
    ],
)
def test_profile_rejects_bad_values(field: str, value: object) -> None:
    data = {"name": "p", "base_url": "https://api.openai.com/v1", "model": "gpt-4o-mini", field: value}
    with pytest.raises(ValidationError):
        Profile.model_validate(data)


def test_profile_has_no_key_field_and_ignores_one_in_a_file() -> None:
    profile = Profile.model_validate(
        {"name": "p", "base_url": "https://x.test/v1", "model": "m", "api_key": "sk-should-not-stay"}
    )
    assert "sk-should-not-stay" not in profile.model_dump_json()


def test_find_and_default() -> None:
    profiles = [make("a"), make("b")]
    assert find_profile(profiles, "b") is profiles[1]
    assert find_profile(profiles, "zzz") is None
    assert default_profile(profiles, "b") is profiles[1]
    assert default_profile(profiles, None) is profiles[0]
    assert default_profile(profiles, "gone") is profiles[0]
    assert default_profile([], "a") is None


def test_settings_keep_profiles_and_fill_every_mode(tmp_path: object) -> None:
    from human_chat_completions.config import Settings, load_settings, save_settings
    from human_chat_completions.copilot.side_requests import SideRequestRule
    from human_chat_completions.core.exchange import Mode

    settings = Settings.model_validate({
        "profiles": [{"name": "a", "base_url": "https://x.test/v1", "model": "m"}],
        "default_profile": "a",
        "draft_candidates": 3,
        "side_request_rules": [{"name": "mine", "pattern": "^TITLE:", "action": "copilot"}],
        "away_timeout_seconds": {"copilot": 45},
        "away_action": {"copilot": "send_draft"},
    })
    assert settings.away_timeout_seconds == {Mode.HUMAN: None, Mode.COPILOT: 45, Mode.AUTO: None}
    assert settings.away_action[Mode.HUMAN] == "wait" and settings.away_action[Mode.COPILOT] == "send_draft"
    save_settings(settings)
    again = load_settings()
    assert again == settings
    assert again.side_request_rules == [SideRequestRule(name="mine", pattern="^TITLE:", action="copilot")]
    defaults = Settings()
    assert defaults.profiles == [] and defaults.draft_candidates == 1 and defaults.builtin_side_request_rules
    with pytest.raises(ValidationError):
        Settings.model_validate({"away_timeout_seconds": {"human": 0}})
    with pytest.raises(ValidationError):
        Settings.model_validate({"draft_candidates": 0})
