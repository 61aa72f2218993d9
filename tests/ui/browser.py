"""Driving the Flet operator window in headless Debian Chromium (see shared/design.md)."""

from __future__ import annotations

import time
from pathlib import Path

from playwright.sync_api import Browser, Page

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"


def open_window(browser: Browser, base: str, width: int = 1280, height: int = 800) -> Page:
    page = browser.new_page(viewport={"width": width, "height": height})
    for host in ("cdn.jsdelivr.net", "fonts.gstatic.com", "www.gstatic.com"):
        page.route(f"**/{host}/**", lambda route: route.abort())
    page.goto(base + "/ui/")
    page.wait_for_selector("flt-semantics-placeholder", state="attached", timeout=60_000)
    # The placeholder sits off-screen; only a script click turns Flutter's semantics on.
    page.eval_on_selector("flt-semantics-placeholder", "el => el.click()")
    page.wait_for_selector("flt-semantics-host flt-semantics", state="attached", timeout=60_000)
    return page


def screen_text(page: Page) -> str:
    """Everything the window exposes to assistive technology (adjacent texts may merge)."""
    return page.evaluate(
        """() => {
        const host = document.querySelector('flt-semantics-host');
        if (!host) return '';
        const parts = [];
        host.querySelectorAll('*').forEach(e => {
            const label = e.getAttribute('aria-label'); if (label) parts.push(label);
        });
        parts.push(host.innerText || '');
        return parts.join('\\n');
    }"""
    )


def wait_for_text(page: Page, needle: str, timeout: float = 15) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if needle in screen_text(page):
            return
        page.wait_for_timeout(100)
    raise AssertionError(f"{needle!r} not on screen:\n{screen_text(page)[:3000]}")


def focus_textbox(page: Page, name: str) -> None:
    page.get_by_role("textbox", name=name).click()
    page.wait_for_function(
        "() => ['INPUT','TEXTAREA'].includes(document.activeElement && document.activeElement.tagName)",
        timeout=10_000,
    )
    # Right after focus Flutter has not attached its editing state yet: the first key is lost.
    page.wait_for_timeout(300)


def type_text(page: Page, text: str, delay: float = 40) -> None:
    """Real key presses (locator.fill() never reaches Python)."""
    page.keyboard.type(text, delay=delay)


def screenshot(page: Page, name: str) -> Path:
    ARTIFACTS.mkdir(exist_ok=True)
    path = ARTIFACTS / f"{name}.png"
    page.screenshot(path=str(path))
    return path
