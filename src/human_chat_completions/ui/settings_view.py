"""The settings page: saved to the settings file and applied at once where possible."""

from __future__ import annotations

from collections.abc import Callable

import flet as ft
from pydantic import ValidationError

from human_chat_completions.config import Settings, save_settings
from human_chat_completions.core import Mode
from human_chat_completions.ui.i18n import Translator


def _options(pairs: list[tuple[str, str]]) -> list[ft.DropdownOption]:
    return [ft.DropdownOption(key=key, text=text) for key, text in pairs]


class SettingsView:
    """Edits a copy of the settings; Save validates, writes the file and updates the live object."""

    def __init__(self, settings: Settings, t: Translator, on_saved: Callable[[], None]) -> None:
        self.settings = settings
        self.t = t
        self.on_saved = on_saved
        self.port = ft.TextField(label=t("settings_port"), value=str(settings.port), width=260)
        self.default_mode = ft.Dropdown(
            label=t("settings_default_mode"), value=settings.default_mode.value, width=260,
            options=_options([(m.value, t(f"mode_{m.value}")) for m in Mode]))
        self.delivery = ft.Dropdown(
            label=t("settings_delivery"), value=settings.delivery_style, width=260,
            options=_options([("live", t("delivery_live")), ("paced", t("delivery_paced"))]))
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
                ft.Row([self.default_mode, self.delivery], wrap=True),
                ft.Row([self.first_token, self.tokens_per_second, self.idle], wrap=True),
                self.port,
                self.canned,
                ft.Row([ft.Button(t("settings_save"), icon=ft.Icons.SAVE, on_click=self._save),
                        self.message]),
            ],
            scroll=ft.ScrollMode.AUTO, expand=True, spacing=12,
        )

    def _save(self, _event: ft.Event) -> None:
        changes = {
            "port": self.port.value,
            "default_mode": self.default_mode.value,
            "delivery_style": self.delivery.value,
            "first_token_delay": self.first_token.value,
            "tokens_per_second": self.tokens_per_second.value,
            "live_idle_seconds": self.idle.value,
            "language": self.language.value,
            "theme": self.theme.value,
            "canned_replies": [line.strip() for line in (self.canned.value or "").splitlines()
                               if line.strip()],
        }
        try:
            updated = Settings.model_validate({**self.settings.model_dump(), **changes})
        except ValidationError as error:
            first = error.errors()[0]
            self.message.value = self.t("settings_invalid",
                                        error=f"{'.'.join(map(str, first['loc']))}: {first['msg']}")
            self.message.color = ft.Colors.RED_700
            return
        save_settings(updated)
        # The running server shares this object: most settings apply at once.
        for name in changes:
            setattr(self.settings, name, getattr(updated, name))
        self.message.value = self.t("settings_saved")
        self.message.color = ft.Colors.GREEN_700
        self.on_saved()
