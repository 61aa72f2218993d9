"""The window's colours and fonts: every text pair reaches WCAG AA in both themes, widgets use
only theme roles, and emoji and Japanese draw from the bundled fonts offline."""

from __future__ import annotations

import colorsys
import io
import re
import threading
import time
from dataclasses import fields
from pathlib import Path

import flet as ft
import httpx
import pytest
from PIL import Image
from playwright.sync_api import Browser, Page

from human_chat_completions.config import Settings
from human_chat_completions.ui import theme
from human_chat_completions.ui.app import assets_dir
from human_chat_completions.ui.theme import DARK, LIGHT, TEXT_PAIRS, UI_PAIRS, Palette, contrast
from tests.support import Operator, RunningServer
from tests.ui.browser import focus_textbox, open_window, screenshot, type_text, wait_for_text
from tests.ui.test_operator_window import StreamingParticipant

UI_SOURCES = Path(theme.__file__).parent
PALETTES = {"light": LIGHT, "dark": DARK}
EMOJI = "🍜🏯☔"


def lowest(palette: Palette, pairs: tuple[tuple[str, str], ...]) -> tuple[float, str, str]:
    return min((contrast(palette.role(fg), palette.role(bg)), fg, bg) for fg, bg in pairs)


def test_contrast_follows_the_wcag_formula():
    assert contrast("#000000", "#FFFFFF") == pytest.approx(21)
    assert contrast("#FFFFFF", "#FFFFFF") == pytest.approx(1)
    assert contrast("#777777", "#FFFFFF") == pytest.approx(4.48, abs=0.01)  # the classic near miss
    assert contrast("#767676", "#FFFFFF") == pytest.approx(4.54, abs=0.01)
    assert contrast("#FFFFFF", "#767676") == contrast("#767676", "#FFFFFF")


@pytest.mark.parametrize("name", PALETTES)
def test_every_text_pair_reaches_wcag_aa(name: str):
    palette = PALETTES[name]
    failing = [(fg, bg, round(contrast(palette.role(fg), palette.role(bg)), 2))
               for fg, bg in TEXT_PAIRS if contrast(palette.role(fg), palette.role(bg)) < 4.5]
    assert not failing, f"{name}: below 4.5:1 {failing}"
    ratio, fg, bg = lowest(palette, TEXT_PAIRS)
    print(f"{name}: lowest text pair {fg} on {bg} = {ratio:.2f}:1")


@pytest.mark.parametrize("name", PALETTES)
def test_field_borders_reach_three_to_one(name: str):
    ratio, fg, bg = lowest(PALETTES[name], UI_PAIRS)
    assert ratio >= 3, f"{name}: {fg} on {bg} = {ratio:.2f}:1"


def test_the_pairs_cover_every_background_and_text_role_the_window_uses():
    """A role a widget paints with must be in a checked pair: a new background or text colour
    cannot slip in unchecked."""
    checked = {role.replace("_", "") for pair in TEXT_PAIRS for role in pair}
    checked |= {"outline", "outlinevariant", "transparent", "scrim", "shadow"}  # never behind text
    used = used_colours()
    assert used, "the scan found no colours: has the widget code moved?"
    assert used <= checked, f"not in TEXT_PAIRS: {sorted(used - checked)}"


def used_colours() -> set[str]:
    """Every `ft.Colors.X` the window's modules name, as Flet's colour value."""
    names: set[str] = set()
    for source in UI_SOURCES.glob("*.py"):
        names |= set(re.findall(r"ft\.Colors\.([A-Z0-9_]+)", source.read_text(encoding="utf-8")))
    return {str(getattr(ft.Colors, name).value) for name in names}


def test_widgets_name_theme_roles_not_fixed_shades():
    """A fixed shade (BLUE_50, GREY_700…) is right in one theme only: pastel under white text in
    dark mode was the bug."""
    roles = {f.name.replace("_", "") for f in fields(Palette)} | {"transparent"}
    fixed = sorted(used_colours() - roles)
    assert not fixed, f"use a theme role (ui/theme.py) instead of {fixed}"


def test_themes_give_every_text_style_the_fonts_and_the_scheme_colour():
    for palette in (LIGHT, DARK):
        built = theme.build_theme(palette)
        assert built.font_family == theme.FONT_FAMILY
        assert built.color_scheme is not None and built.color_scheme.surface == palette.surface
        assert built.scaffold_bgcolor == palette.surface
        styles = [getattr(built.text_theme, f.name) for f in fields(ft.TextTheme)]
        assert all(s.font_family == theme.FONT_FAMILY for s in styles)
        assert all(s.font_family_fallback == [theme.EMOJI_FAMILY] for s in styles)
        assert all(s.color == palette.on_surface for s in styles)
    for family, file in theme.FONTS.items():
        data = (assets_dir() / file).read_bytes()
        assert data[:4] == b"wOF2", family
    assert (assets_dir() / theme.EMOJI_FILE).stat().st_size < 3_000_000  # a subset, not 10 MB
    assert (assets_dir() / theme.MONO_FILE).stat().st_size < 30_000  # Latin only
    assert (assets_dir() / "fonts" / "LICENSE-DejaVu.txt").exists()  # it travels with the font


def test_json_and_keys_are_monospace_with_the_japanese_font_behind():
    assert theme.MONO.font_family == theme.MONO_FAMILY
    assert theme.MONO.font_family_fallback == [theme.FONT_FAMILY, theme.EMOJI_FAMILY]
    sources = {name: (UI_SOURCES / name).read_text(encoding="utf-8")
               for name in ("json_answer.py", "schema_form.py", "settings_view.py", "study_view.py")}
    assert all("style=MONO" in source for source in sources.values())
    assert not any('"monospace"' in source.read_text(encoding="utf-8")
                   for source in UI_SOURCES.glob("*.py"))  # offline the web build has none


# -- in the browser ---------------------------------------------------------------------------------


def emoji_pixels(page: Page, needle: str, besides: str) -> int:
    """Warm, saturated pixels (the bowl, the castle's roof, the umbrella's handle) in the
    transcript's text that holds `needle` (not the list row, which also names `besides`). The
    bubbles are blue and the text grey: tofu boxes have none."""
    box = page.evaluate(
        """([needle, besides]) => {
        const label = e => e.getAttribute('aria-label') || e.textContent || '';
        const all = [...document.querySelectorAll('flt-semantics-host *')];
        const hit = all.filter(e => label(e).includes(needle) && !label(e).includes(besides))
                       .map(e => e.getBoundingClientRect())
                       .filter(r => r.width > 0 && r.height > 0)
                       .sort((a, b) => a.width * a.height - b.width * b.height)[0];
        return hit ? {x: hit.x, y: hit.y, width: hit.width, height: hit.height} : null;
    }""", [needle, besides])
    if not box:
        return 0  # the list row's preview shows it first; the transcript follows
    image = Image.open(io.BytesIO(page.screenshot(clip=box))).convert("RGB")
    count = 0
    for r, g, b in image.get_flattened_data():
        hue, saturation, value = colorsys.rgb_to_hsv(r / 255, g / 255, b / 255)
        if (hue < 0.17 or hue > 0.95) and saturation > 0.35 and value > 0.35:
            count += 1
    return count


def ink_width(page: Page, box: dict[str, float]) -> int:
    """Columns of `box` holding the typed text's ink: near black and grey (the label, the caret,
    the border and the helper line are blue or red)."""
    image = Image.open(io.BytesIO(page.screenshot(clip=box))).convert("RGB")
    width, height = image.size
    pixels = image.load()
    columns = [x for x in range(width) if any(max(pixels[x, y]) < 60 for y in range(height))]
    return columns[-1] - columns[0] + 1 if columns else 0


def test_the_json_editor_draws_in_the_bundled_monospace_font(tmp_path, browser: Browser):
    """Ten i's as wide as ten M's: only a monospace font does that (Noto Sans JP's i is a third
    of its M)."""
    import openai

    with RunningServer(tmp_path / "data", Settings(language="en", theme="light")) as server:
        assert httpx.get(server.base + "/ui/" + theme.MONO_FILE).content[:4] == b"wOF2"
        api = openai.OpenAI(base_url=server.base + "/v1", api_key="k", max_retries=0, timeout=60)
        done: dict[str, object] = {}
        thread = threading.Thread(target=lambda: done.update(value=api.chat.completions.create(
            model="m", user="json-app", response_format={"type": "json_object"},
            messages=[{"role": "user", "content": "Answer in JSON"}])), daemon=True)
        thread.start()
        operator = Operator(server.base)
        [waiting] = operator.wait_for(1)
        page = open_window(browser, server.base)
        wait_for_text(page, "json-app")
        page.get_by_role("button", name=re.compile("^json-app")).first.click()
        wait_for_text(page, "JSON answer")
        focus_textbox(page, "JSON answer")
        field = page.get_by_role("textbox", name="JSON answer").bounding_box()
        assert field is not None
        # The reply box (its semantics node sits a little below what is drawn), inside its border.
        box = {"x": field["x"] + 4, "y": max(0, field["y"] - 20), "width": field["width"] - 8,
               "height": field["height"] + 20}

        def drawn_width(text: str) -> int:
            page.keyboard.press("Control+A")
            type_text(page, text, delay=20)
            page.wait_for_timeout(500)
            return ink_width(page, box)

        deadline = time.monotonic() + 20  # the fonts arrive after the first frame
        while True:
            narrow, wide = drawn_width("i" * 10), drawn_width("M" * 10)
            if wide > 50 and abs(narrow - wide) <= 0.15 * wide:
                break
            assert time.monotonic() < deadline, f"not monospace: ten i's {narrow}px, ten M's {wide}px"
        page.keyboard.press("Control+A")
        type_text(page, '{"city": "Kyoto", "nights": 2, "note": "京都"}', delay=10)
        page.wait_for_timeout(1000)
        screenshot(page, "json-editor-monospace")
        page.close()
        operator.reply(waiting["id"], '{"ok": true}')
        thread.join(20)
        operator.close()


@pytest.mark.parametrize("mode", ["light", "dark"])
def test_emoji_draw_in_colour_offline(tmp_path, browser: Browser, mode: str):
    with RunningServer(tmp_path / "data", Settings(language="ja", theme=mode)) as server:
        font = httpx.get(server.base + "/ui/" + theme.EMOJI_FILE)
        assert font.status_code == 200 and font.content[:4] == b"wOF2"
        participant = StreamingParticipant(server.base, "emoji-fan", f"ラーメン {EMOJI} 食べたい")
        page = open_window(browser, server.base)
        wait_for_text(page, "emoji-fan")
        page.get_by_role("button", name=re.compile("^emoji-fan")).first.click()
        wait_for_text(page, "食べたい")
        # The fonts arrive after the first frame (seconds later on a busy machine).
        deadline = time.monotonic() + 15
        while emoji_pixels(page, "食べたい", besides="emoji-fan") <= 20:
            assert time.monotonic() < deadline, "the emoji never drew in colour"
            page.wait_for_timeout(500)
        screenshot(page, f"emoji-{mode}")
        page.close()
        operator = Operator(server.base)
        [exchange] = operator.exchanges("waiting")
        operator.reply(exchange["id"], "🍜!")
        operator.close()
        assert participant.text() == "🍜!"
