from __future__ import annotations

from collections.abc import Iterator

import pytest
from playwright.sync_api import Browser, sync_playwright

from tests.ui.browser import CHROMIUM, CHROMIUM_ARGS


@pytest.fixture  # per test: sync Playwright holds a running loop, which must not outlive the test
def browser() -> Iterator[Browser]:
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


# Known failing at the end of the session that reworked the window (see the closing note); each
# must be fixed and taken off this list.
KNOWN_FAILING: dict[str, str] = {}


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        reason = KNOWN_FAILING.get(getattr(item, "originalname", item.name))
        if reason and item.path.parent.name == "ui":
            item.add_marker(pytest.mark.xfail(reason=reason, strict=False))
