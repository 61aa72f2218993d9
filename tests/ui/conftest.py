from __future__ import annotations

from collections.abc import Iterator

import flet as ft
import pytest
from flet.controls import context as flet_context
from playwright.sync_api import Browser, sync_playwright

from tests.ui.browser import CHROMIUM, CHROMIUM_ARGS


@pytest.fixture  # per test: sync Playwright holds a running loop, which must not outlive the test
def browser() -> Iterator[Browser]:
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@pytest.fixture(autouse=True)
def own_update_behaviour() -> Iterator[None]:
    """Handlers called here without a window (tests/ui/test_editor.py) turn Flet's auto-update
    off for their context; with no context of their own that is the process-wide default, and
    every window served in this process afterwards stopped redrawing after a click."""
    ft.context.reset_auto_update()
    yield
    app_default = flet_context._app_update_behavior  # Flet keeps no public getter for it
    assert app_default._auto_update_enabled, "a test turned Flet's auto-update off process-wide"


# Known failing at the end of the session that reworked the window (see the closing note); each
# must be fixed and taken off this list.
KNOWN_FAILING: dict[str, str] = {}


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        reason = KNOWN_FAILING.get(getattr(item, "originalname", item.name))
        if reason and item.path.parent.name == "ui":
            item.add_marker(pytest.mark.xfail(reason=reason, strict=False))
