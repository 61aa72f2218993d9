"""The Study section of Settings: the studies loaded, their participants and keys, and loading a
study file (with the CLI's own validation messages)."""

from __future__ import annotations

from pathlib import Path

import flet as ft

from human_chat_completions.studies import Study, StudyBook, StudyFileError, read_study_file
from human_chat_completions.ui.i18n import Translator
from human_chat_completions.ui.theme import MONO


class StudySection:
    """Everything a researcher needs to hand participants their keys, on one part of the page."""

    def __init__(self, t: Translator, book: StudyBook | None = None) -> None:
        self.t = t
        self.book = book or StudyBook()
        self.path = ft.TextField(label=t("study_file"), expand=True, on_submit=self._load)
        self.message = ft.Text("")
        self.studies = ft.Column(spacing=8)
        self.view = ft.Column([
            ft.Text(t("study_section"), size=16, weight=ft.FontWeight.BOLD),
            self.studies,
            ft.Row([self.path, ft.Button(t("study_load"), icon=ft.Icons.UPLOAD_FILE,
                                         on_click=self._load)]),
            self.message,
        ], spacing=8, tight=True)
        self.render()

    def render(self) -> None:
        studies = self.book.all()
        if not studies:
            self.studies.controls = [ft.Text(self.t("study_none"), italic=True)]
            return
        self.studies.controls = [self._study(study) for study in studies]

    def _study(self, study: Study) -> ft.Control:
        summary = self.t("study_summary", name=study.name, count=len(study.participants),
                         assignment=study.definition.assignment, seed=study.definition.seed)
        rows = [ft.Row([ft.Text(p.participant, width=90), ft.Text(p.condition, width=140),
                        ft.Text(p.key, style=MONO, expand=True),
                        ft.TextButton(self.t("study_copy_key", participant=p.participant),
                                      icon=ft.Icons.COPY, on_click=self._copier(p.key))])
                for p in study.participants]
        return ft.Container(ft.Column([ft.Text(summary, weight=ft.FontWeight.BOLD), *rows],
                                      spacing=2, tight=True),
                            padding=8, border_radius=8, border=ft.Border.all(1, ft.Colors.OUTLINE))

    def _copier(self, key: str):
        async def copy(_event: ft.Event) -> None:
            await ft.Clipboard().set(key)
            self.message.value, self.message.color = self.t("key_copied"), None
        return copy

    def _load(self, _event: ft.Event) -> None:
        text = (self.path.value or "").strip()
        try:
            study = self.book.load(read_study_file(Path(text).expanduser()))
        except StudyFileError as error:
            self.message.value, self.message.color = str(error), ft.Colors.ERROR
            return
        self.message.value = self.t("study_loaded", name=study.name, count=len(study.participants))
        self.message.color = None
        self.render()
