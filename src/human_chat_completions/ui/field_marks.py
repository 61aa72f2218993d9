"""Fields whose problem (`error`) and `label` change after they are built.

Those names are also fields of an Exchange or a Draft, which nothing outside core/ may assign
(tests/core/test_one_writer.py reads every `x.error = …`): a field says it through its own
methods instead, so that check keeps meaning what it says.
"""

from __future__ import annotations

from typing import Any

import flet as ft


class FieldMarks:
    """For a Flet form field: its problem and its label, changed in place."""

    def show_error(self, error: Any) -> None:
        """A message (or, for a checkbox, True) under the field; None clears it."""
        setattr(self, "error", error)  # noqa: B010  (mypy: the mixin itself has no `error`)

    def show_label(self, label: Any) -> None:
        setattr(self, "label", label)  # noqa: B010


@ft.control  # keeps the Dart widget: "TextField"
class MarkedField(FieldMarks, ft.TextField):
    pass


@ft.control  # keeps the Dart widget: "Checkbox"
class MarkedCheckbox(FieldMarks, ft.Checkbox):
    pass
