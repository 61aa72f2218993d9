"""The settings page: a form over the current settings; Save hands a new value to the store,
which saves it and tells the running server and every window."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import flet as ft
from pydantic import ValidationError

from human_chat_completions.config import Settings
from human_chat_completions.copilot import keyring_store
from human_chat_completions.copilot.profiles import Profile, default_profile, find_profile
from human_chat_completions.core import Mode
from human_chat_completions.settings_store import SettingsStore
from human_chat_completions.ui.i18n import Translator


def _blank_if_none(value: float | None) -> str:
    return "" if value is None else f"{value:g}"


def _options(pairs: list[tuple[str, str]]) -> list[ft.DropdownOption]:
    return [ft.DropdownOption(key=key, text=text) for key, text in pairs]


class SettingsView:
    """Shows the settings as they were when it was built (the window rebuilds it after a change);
    Save validates the form and replaces the store's value.

    on_key_changed: told the profile name when a key typed here went to the keyring.
    """

    def __init__(self, store: SettingsStore, t: Translator,
                 on_key_changed: Callable[[str], None] | None = None) -> None:
        self.store = store
        self.t = t
        self.on_key_changed = on_key_changed
        settings = store.current
        profile = default_profile(settings.profiles, settings.default_profile)
        self.shown_profile = profile
        self.profile_name = ft.TextField(label=t("profile_name"), width=260,
                                         value=profile.name if profile else "")
        self.profile_url = ft.TextField(label=t("profile_base_url"), width=400,
                                        value=profile.base_url if profile else "",
                                        hint_text="https://api.openai.com/v1")
        self.profile_model = ft.TextField(label=t("profile_model"), width=260,
                                          value=profile.model if profile else "")
        self.profile_instruction = ft.TextField(
            label=t("profile_instruction"), multiline=True, min_lines=2, max_lines=5,
            value=profile.instruction if profile else "")
        self.profile_key = ft.TextField(label=t("profile_key"), password=True,
                                        can_reveal_password=False, width=400,
                                        hint_text=t("profile_key_hint"))
        self.candidates = ft.TextField(label=t("settings_candidates"),
                                       value=str(settings.draft_candidates), width=260)
        self.away_seconds = {
            mode: ft.TextField(label=t("away_after", mode=t(f"mode_{mode.value}")), width=260,
                               value=_blank_if_none(settings.away_timeout_seconds.get(mode)),
                               hint_text=t("away_never"))
            for mode in Mode
        }
        self.away_actions = {
            mode: ft.Dropdown(label=t("away_action"), width=260,
                              value=settings.away_action.get(mode, "wait"),
                              options=_options([(a, t(f"away_{a}"))
                                                for a in ("wait", "send_draft", "send_canned")]))
            for mode in Mode
        }
        self.port = ft.TextField(label=t("settings_port"), value=str(settings.port), width=260)
        self.default_mode = ft.Dropdown(
            label=t("settings_default_mode"), value=settings.default_mode.value, width=260,
            options=_options([(m.value, t(f"mode_{m.value}")) for m in Mode]))
        self.delivery = ft.Dropdown(
            label=t("settings_delivery"), value=settings.delivery_style, width=260,
            options=_options([("live", t("delivery_live")), ("paced", t("delivery_paced"))]))
        self.send_key = ft.Dropdown(
            label=t("settings_send_key"), value=settings.send_key, width=260,
            options=_options([("enter", t("send_key_enter")),
                              ("ctrl_enter", t("send_key_ctrl_enter"))]))
        self.first_token = ft.TextField(label=t("settings_first_token"),
                                        value=str(settings.first_token_delay), width=260)
        self.tokens_per_second = ft.TextField(label=t("settings_tps"),
                                              value=str(settings.tokens_per_second), width=260)
        self.idle = ft.TextField(label=t("settings_idle"), value=str(settings.live_idle_seconds),
                                 width=260)
        self.language = ft.Dropdown(
            label=t("settings_language"), value=settings.language, width=260,
            options=_options([("auto", t("language_auto")), ("en", "English"), ("ja", "日本語")]))
        self.theme = ft.Dropdown(
            label=t("settings_theme"), value=settings.theme, width=260,
            options=_options([(v, t(f"theme_{v}")) for v in ("light", "dark", "system")]))
        self.canned = ft.TextField(label=t("settings_canned"), multiline=True, min_lines=3,
                                   max_lines=8, value="\n".join(settings.canned_replies))
        self.message = ft.Text("")
        self.view = ft.Column(
            [
                ft.Text(t("settings_title"), size=20, weight=ft.FontWeight.BOLD),
                ft.Row([self.language, self.theme], wrap=True),
                ft.Row([self.default_mode, self.delivery, self.send_key], wrap=True),
                ft.Row([self.first_token, self.tokens_per_second, self.idle], wrap=True),
                self.port,
                self.canned,
                ft.Divider(),
                ft.Text(t("profile_title"), size=16, weight=ft.FontWeight.BOLD),
                ft.Row([self.profile_name, self.profile_model, self.candidates], wrap=True),
                ft.Row([self.profile_url, self.profile_key], wrap=True),
                self.profile_instruction,
                ft.Divider(),
                ft.Text(t("away_title"), size=16, weight=ft.FontWeight.BOLD),
                *[ft.Row([self.away_seconds[mode], self.away_actions[mode]], wrap=True)
                  for mode in Mode],
                ft.Row([ft.Button(t("settings_save"), icon=ft.Icons.SAVE, on_click=self._save),
                        self.message]),
            ],
            scroll=ft.ScrollMode.AUTO, expand=True, spacing=12,
        )

    def _save(self, _event: ft.Event) -> None:
        changes: dict[str, Any] = {
            "port": self.port.value,
            "default_mode": self.default_mode.value,
            "delivery_style": self.delivery.value,
            "send_key": self.send_key.value,
            "first_token_delay": self.first_token.value,
            "tokens_per_second": self.tokens_per_second.value,
            "live_idle_seconds": self.idle.value,
            "language": self.language.value,
            "theme": self.theme.value,
            "canned_replies": [line.strip() for line in (self.canned.value or "").splitlines()
                               if line.strip()],
        }
        changes["draft_candidates"] = self.candidates.value
        changes["away_timeout_seconds"] = {
            mode.value: (field.value or "").strip() or None for mode, field in self.away_seconds.items()}
        changes["away_action"] = {mode.value: field.value for mode, field in self.away_actions.items()}
        try:
            changes.update(self._profile_changes())
            # Onto the current value, not the one shown: the tray may have changed others since.
            updated = Settings.model_validate({**self.store.current.model_dump(), **changes})
            self._store_key()
            saved = self.store.replace(updated)
        except ValidationError as error:
            first = error.errors()[0]
            return self._fail(f"{'.'.join(map(str, first['loc']))}: {first['msg']}")
        except (keyring_store.KeyringUnavailable, ValueError, OSError) as error:
            return self._fail(str(error))
        self.shown_profile = default_profile(saved.profiles, saved.default_profile)
        self.message.value = self.t("settings_saved")
        self.message.color = ft.Colors.SECONDARY

    def _fail(self, error: str) -> None:
        self.message.value = self.t("settings_invalid", error=error)
        self.message.color = ft.Colors.ERROR

    def _profile_changes(self) -> dict:
        """The default copilot profile as edited here; blank name and URL mean none.

        Only the fields shown here change: the rest (key_env, temperature, max_tokens, timeout,
        stream_usage) come from the profile of that name, or else the one this page showed.
        """
        name = (self.profile_name.value or "").strip()
        url = (self.profile_url.value or "").strip()
        if not name and not url:
            return {}
        shown = {"name": name, "base_url": url, "model": (self.profile_model.value or "").strip(),
                 "instruction": self.profile_instruction.value or ""}
        profiles = self.store.current.profiles
        base = find_profile(profiles, name) or self.shown_profile
        # Validated, not model_copy(update=...): that would skip the name and URL checks.
        profile = Profile.model_validate({**(base.model_dump() if base else {}), **shown})
        others = [p for p in profiles if p.name != profile.name]
        return {"profiles": [profile.model_dump(), *[p.model_dump() for p in others]],
                "default_profile": profile.name}

    def _store_key(self) -> None:
        """A key typed here goes to the OS keyring only, never to the settings file."""
        key = (self.profile_key.value or "").strip()
        name = (self.profile_name.value or "").strip()
        if key and name:
            keyring_store.set_key(name, key)
            self.profile_key.value = ""
            if self.on_key_changed is not None:
                self.on_key_changed(name)
