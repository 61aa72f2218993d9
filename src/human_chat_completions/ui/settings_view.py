"""The settings page: a form over the current settings; Save hands a new value to the store,
which saves it and tells the running server and every window."""

from __future__ import annotations

import secrets
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
from human_chat_completions.ui.study_view import StudySection
from human_chat_completions.ui.theme import MONO


def _blank_if_none(value: float | None) -> str:
    return "" if value is None else f"{value:g}"


def _options(pairs: list[tuple[str, str]]) -> list[ft.DropdownOption]:
    return [ft.DropdownOption(key=key, text=text) for key, text in pairs]


def named(dropdown: ft.Dropdown, name: str | None = None) -> ft.Control:
    """A dropdown a screen reader can name: Flutter gives its button no label of its own, so the
    label goes on a Semantics node around it (which merges into the button)."""
    return ft.Semantics(label=name or str(dropdown.label or ""), content=dropdown)


def new_key() -> str:
    """A participant or client key: 32 random bytes, URL-safe (fits an Authorization header)."""
    return "hcc-" + secrets.token_urlsafe(32)


def masked(key: str) -> str:
    """A saved key as the page shows it after the first time: enough to tell keys apart."""
    return f"{key[:10]}…" if len(key) > 16 else "…"


# The label of the field a validation error names (settings, then the profile's own fields).
_FIELD_LABELS = {
    "port": "settings_port", "first_token_delay": "settings_first_token",
    "tokens_per_second": "settings_tps", "live_idle_seconds": "settings_idle",
    "draft_candidates": "settings_candidates", "canned_replies": "settings_canned",
    "name": "profile_name", "base_url": "profile_base_url", "model": "profile_model",
    "instruction": "profile_instruction", "profiles": "profile_title",
    "default_mode": "settings_default_mode", "language": "settings_language",
    "theme": "settings_theme", "delivery_style": "settings_delivery",
    "send_key": "settings_send_key", "away_action": "away_action",
    "wait_warn_seconds": "settings_wait_warn", "wait_alert_seconds": "settings_wait_alert",
}
# pydantic's error types, in words: (string key, the context value it names).
_PROBLEMS = {
    "int_parsing": ("error_whole_number", None), "int_type": ("error_whole_number", None),
    "int_from_float": ("error_whole_number", None),
    "float_parsing": ("error_number", None), "float_type": ("error_number", None),
    "greater_than_equal": ("error_at_least", "ge"), "greater_than": ("error_more_than", "gt"),
    "less_than_equal": ("error_at_most", "le"), "less_than": ("error_less_than", "lt"),
    "missing": ("error_empty", None), "string_too_short": ("error_empty", None),
    "literal_error": ("error_choice", None), "enum": ("error_choice", None),
}


def describe(error: ValidationError, t: Translator) -> str:
    """The first problem in words, in the window's language: "Port: must be at most 65535"."""
    first = error.errors()[0]
    loc = [str(part) for part in first["loc"]]
    field = next((part for part in reversed(loc) if part in _FIELD_LABELS), loc[0] if loc else "")
    label = t(_FIELD_LABELS[field]) if field in _FIELD_LABELS else field
    if loc and loc[0] == "away_timeout_seconds":
        mode = loc[1] if len(loc) > 1 else ""
        label = t("away_after", mode=t(f"mode_{mode}")) if mode in {m.value for m in Mode} \
            else t("away_title")
    key, bound = _PROBLEMS.get(first["type"], ("error_invalid", None))
    limit = (first.get("ctx") or {}).get(bound) if bound else None
    problem = t(key, limit=f"{limit:g}" if isinstance(limit, float) else limit)
    return t("field_problem", label=label, problem=problem) if label else problem


class SettingsView:
    """Shows the settings as they were when it was built (the window rebuilds it after a change);
    Save validates the form and replaces the store's value.

    on_key_changed: told the profile name when a key typed here went to the keyring.
    listening_port: the port the server really listens on (the settings' port applies after a
        restart), shown beside the port field.
    previous: the page this one replaces (a Save rebuilds the window): its confirmation and a
        key it just made carry over, so the operator sees them.
    """

    def __init__(self, store: SettingsStore, t: Translator,
                 on_key_changed: Callable[[str], None] | None = None,
                 listening_port: int | None = None, previous: SettingsView | None = None) -> None:
        self.store = store
        self.t = t
        self.on_key_changed = on_key_changed
        self.listening_port = listening_port
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
        self.port = ft.TextField(
            label=t("settings_port"), value=str(settings.port), width=420,
            helper_max_lines=2,
            helper=t("port_listening", port=listening_port) if listening_port else
            t("port_restart"))
        self.default_mode = ft.Dropdown(
            label=t("settings_default_mode"), value=settings.default_mode.value, width=260,
            options=_options([(m.value, t(f"mode_{m.value}")) for m in Mode]))
        self.delivery = ft.Dropdown(
            label=t("settings_delivery"), value=settings.delivery_style, width=310,
            options=_options([("live", t("delivery_live")), ("paced", t("delivery_paced"))]))
        self.send_key = ft.Dropdown(
            label=t("settings_send_key"), value=settings.send_key, width=340,
            options=_options([("enter", t("send_key_enter")),
                              ("ctrl_enter", t("send_key_ctrl_enter"))]))
        self.first_token = ft.TextField(label=t("settings_first_token"),
                                        value=str(settings.first_token_delay), width=260)
        self.tokens_per_second = ft.TextField(label=t("settings_tps"),
                                              value=str(settings.tokens_per_second), width=260)
        self.idle = ft.TextField(label=t("settings_idle"), value=str(settings.live_idle_seconds),
                                 width=260)
        self.wait_warn = ft.TextField(label=t("settings_wait_warn"),
                                      value=f"{settings.wait_warn_seconds:g}", width=260)
        self.wait_alert = ft.TextField(label=t("settings_wait_alert"),
                                       value=f"{settings.wait_alert_seconds:g}", width=260)
        self.open_window = ft.Checkbox(label=t("settings_open_window"),
                                       value=settings.open_window_on_request)
        self.language = ft.Dropdown(
            label=t("settings_language"), value=settings.language, width=260,
            options=_options([("auto", t("language_auto")), ("en", "English"), ("ja", "日本語")]))
        self.theme = ft.Dropdown(
            label=t("settings_theme"), value=settings.theme, width=260,
            options=_options([(v, t(f"theme_{v}")) for v in ("light", "dark", "system")]))
        self.canned = ft.TextField(label=t("settings_canned"), multiline=True, min_lines=3,
                                   max_lines=8, value="\n".join(settings.canned_replies))
        self.message = ft.Text("")
        self.participant_name = ft.TextField(label=t("participant_name"), width=260,
                                             on_submit=self._add_participant)
        # Plain text: Flutter's selectable text is missing from what screen readers get; Copy copies.
        self.new_key_text = ft.Text("", style=MONO)
        self.new_key_title = ft.Text("", weight=ft.FontWeight.BOLD)
        self.new_key_box = ft.Container(
            ft.Column([self.new_key_title, ft.Row([
                self.new_key_text,
                ft.TextButton(t("key_copy"), icon=ft.Icons.COPY, on_click=self._copy_new_key),
            ], wrap=True)], tight=True),
            visible=False, padding=12, border_radius=8, bgcolor=ft.Colors.SECONDARY_CONTAINER)
        self.shown_key: str | None = None
        self._fresh = False  # the message and key were put here by this page's own action
        self.keys = ft.Column(spacing=4)
        self._render_keys()
        self.study = StudySection(t)
        if previous is not None and previous._fresh:  # carried over once, never again
            self.message.value, self.message.color = previous.message.value, previous.message.color
            if previous.shown_key is not None and previous.new_key_box.visible:
                self._reveal(previous.new_key_title.value or "", previous.shown_key)
            previous._fresh = False
        self.view = ft.Column(
            [
                ft.Text(t("settings_title"), size=20, weight=ft.FontWeight.BOLD),
                ft.Row([named(self.language), named(self.theme)], wrap=True),
                ft.Row([named(self.default_mode), named(self.delivery), named(self.send_key)],
                       wrap=True),
                ft.Row([self.first_token, self.tokens_per_second, self.idle], wrap=True),
                ft.Row([self.wait_warn, self.wait_alert], wrap=True),
                self.open_window,
                self.port,
                self.canned,
                ft.Divider(),
                ft.Text(t("profile_title"), size=16, weight=ft.FontWeight.BOLD),
                ft.Row([self.profile_name, self.profile_model, self.candidates], wrap=True),
                ft.Row([self.profile_url, self.profile_key], wrap=True),
                self.profile_instruction,
                ft.Divider(),
                ft.Text(t("away_title"), size=16, weight=ft.FontWeight.BOLD),
                *[ft.Row([self.away_seconds[mode],
                          named(self.away_actions[mode],
                                t("away_action_for", mode=t(f"mode_{mode.value}")))], wrap=True)
                  for mode in Mode],
                ft.Row([ft.Button(t("settings_save"), icon=ft.Icons.SAVE, on_click=self._save),
                        self.message]),
                ft.Divider(),
                ft.Text(t("keys_section"), size=16, weight=ft.FontWeight.BOLD),
                ft.Text(t("keys_explained")),
                self.new_key_box,
                self.keys,
                ft.Row([self.participant_name,
                        ft.Button(t("participant_key_generate"), icon=ft.Icons.KEY,
                                  on_click=self._add_participant),
                        ft.Button(t("client_key_generate"), icon=ft.Icons.VPN_KEY,
                                  on_click=self._add_client_key)], wrap=True),
                ft.Divider(),
                self.study.view,
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
            "wait_warn_seconds": self.wait_warn.value,
            "wait_alert_seconds": self.wait_alert.value,
            "open_window_on_request": bool(self.open_window.value),
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
            # Said before the value is replaced: the change rebuilds the window, and the new page
            # takes this confirmation over.
            restart = updated.port != self.store.current.port
            self._say(self.t("settings_saved_restart" if restart else "settings_saved"))
            saved = self.store.replace(updated)
        except ValidationError as error:
            return self._fail(describe(error, self.t))
        except (keyring_store.KeyringUnavailable, ValueError, OSError) as error:
            return self._fail(str(error))
        self.shown_profile = default_profile(saved.profiles, saved.default_profile)

    def _say(self, text: str) -> None:
        self._fresh = True
        self.message.value = text
        self.message.color = ft.Colors.PRIMARY

    def _fail(self, error: str) -> None:
        self.message.value = self.t("settings_invalid", error=error)
        self.message.color = ft.Colors.ERROR

    # -- participant and client keys: saved at once, each new key shown once ---------------------

    def _render_keys(self) -> None:
        t, settings = self.t, self.store.current
        rows: list[ft.Control] = []
        for key, participant in settings.participant_keys.items():
            rows.append(self._key_row(
                t("participant_key_row", participant=participant, shown=masked(key)),
                t("key_revoke_participant", participant=participant),
                self._revoker(self._revoke_participant, key)))
        for number, key in enumerate(settings.client_api_keys, 1):
            rows.append(self._key_row(t("client_key_row", number=number, shown=masked(key)),
                                      t("key_revoke_client", number=number),
                                      self._revoker(self._revoke_client, key)))
        if not rows:
            rows.append(ft.Text(t("keys_none"), italic=True))
        self.keys.controls = rows

    @staticmethod
    def _revoker(revoke: Callable[[str], None], key: str) -> Callable[[ft.Event], None]:
        return lambda _event: revoke(key)

    @staticmethod
    def _key_row(text: str, revoke_label: str, revoke: Callable[[ft.Event], None]) -> ft.Control:
        return ft.Row([ft.Text(text, width=420),
                       ft.TextButton(revoke_label, icon=ft.Icons.DELETE_OUTLINE, on_click=revoke)])

    def _reveal(self, title: str, key: str) -> None:
        self.shown_key = key
        self.new_key_title.value = title
        self.new_key_text.value = key
        self.new_key_box.visible = True

    def _change_keys(self, *, shown: tuple[str, str] | None = None, **changes: Any) -> bool:
        """Save the keys at once (a key that works only after Save would confuse); `shown` is the
        (title, key) to show once."""
        previous = self.shown_key, self.new_key_title.value, self.new_key_box.visible
        if shown is not None:
            self._reveal(*shown)
        try:
            self.store.update(**changes)
        except (ValidationError, OSError) as error:
            self.shown_key, self.new_key_title.value, self.new_key_box.visible = previous
            self._fail(describe(error, self.t) if isinstance(error, ValidationError) else str(error))
            return False
        self._render_keys()
        return True

    def _add_participant(self, _event: ft.Event) -> None:
        name = (self.participant_name.value or "").strip()
        settings = self.store.current
        if not name:
            return self._fail(self.t("participant_name_needed"))
        if name in settings.participant_keys.values():
            return self._fail(self.t("participant_exists", participant=name))
        key = new_key()
        self._say(self.t("participant_key_made", participant=name))
        if self._change_keys(shown=(self.t("key_shown_once_participant", participant=name), key),
                             participant_keys={**settings.participant_keys, key: name}):
            self.participant_name.value = ""

    def _add_client_key(self, _event: ft.Event) -> None:
        key = new_key()
        self._say(self.t("client_key_made"))
        self._change_keys(shown=(self.t("key_shown_once_client"), key),
                          client_api_keys=[*self.store.current.client_api_keys, key])

    def _revoke_participant(self, key: str) -> None:
        keys = dict(self.store.current.participant_keys)
        participant = keys.pop(key, "")
        self._say(self.t("key_revoked_participant", participant=participant))
        self._hide_if_shown(key)
        self._change_keys(participant_keys=keys)

    def _revoke_client(self, key: str) -> None:
        self._say(self.t("key_revoked_client"))
        self._hide_if_shown(key)
        self._change_keys(client_api_keys=[k for k in self.store.current.client_api_keys if k != key])

    def leave(self) -> None:
        """The operator went to another page: a key shown once is not shown again."""
        self.shown_key, self.new_key_box.visible, self._fresh = None, False, False
        self.new_key_text.value = ""

    def _hide_if_shown(self, key: str) -> None:
        if self.shown_key == key:
            self.shown_key, self.new_key_box.visible = None, False

    async def _copy_new_key(self, _event: ft.Event) -> None:
        if self.shown_key:
            await ft.Clipboard().set(self.shown_key)
            self._say(self.t("key_copied"))

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
