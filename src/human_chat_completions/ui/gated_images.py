"""What a message's text may show, and what it may load: Markdown with its images gated.

Fetching a participant's image URL tells its host that (and when, and from where) the message was
read, and can carry anything the URL encodes: a web bug. So nothing remote is fetched until the
operator asks for it; data: images are already here and show at once. Every `![` of a text either
becomes a placeholder with a Load button below the text, or loses its power.
"""

from __future__ import annotations

import base64
import binascii
import re
import string
from collections.abc import Callable
from dataclasses import dataclass, field
from urllib.parse import urlsplit

import flet as ft

from human_chat_completions.ui.i18n import Translator


def image_source(url: str) -> str | bytes:
    """Data URLs become bytes (the web renderer cannot load them as a src); others stay URLs."""
    if url.startswith("data:") and "," in url:
        header, _, data = url.partition(",")
        if ";base64" in header:
            try:
                return base64.b64decode(data, validate=False)
            except (binascii.Error, ValueError):
                return url
    return url


@dataclass
class RemoteImages:
    """The remote image URLs this window's operator chose to load."""

    loaded: set[str] = field(default_factory=set)
    on_load: Callable[[str], None] | None = None

    def load(self, url: str) -> None:
        self.loaded.add(url)
        if self.on_load is not None:
            self.on_load(url)


def is_remote(url: str) -> bool:
    return urlsplit(url.strip()).scheme.lower() in ("http", "https")


def image_host(url: str) -> str:
    """Where a URL points, as the browser would go: userinfo dropped, port kept."""
    try:
        parts = urlsplit(url.strip())
        host, port = parts.hostname or "?", parts.port
    except ValueError:
        return "?"
    return f"{host}:{port}" if port else host


def image_control(url: str, alt: str, t: Translator, images: RemoteImages) -> ft.Control:
    if url.startswith("data:") or url in images.loaded:
        return ft.Image(src=image_source(url), width=280, fit=ft.BoxFit.CONTAIN, border_radius=6,
                        semantics_label=alt or t("image"),
                        error_content=ft.Text(t("image_failed", host=image_host(url)), size=12))
    if not is_remote(url):  # file:, blob:, relative: nothing a browser here should try
        return ft.Text(t("image_placeholder", alt=alt or t("image"), host=url[:80]), size=12, italic=True)
    return ft.OutlinedButton(t("image_load", host=image_host(url)), icon=ft.Icons.IMAGE_OUTLINED,
                             tooltip=url[:300], on_click=lambda _event: images.load(url))


_PUNCTUATION = re.compile("([" + re.escape(string.punctuation) + "])")
_FENCE = re.compile(r"^ {0,3}(`{3,}|~{3,})")
_CODE_SPAN = re.compile(r"(?<!`)(`+)(?!`).+?(?<!`)\1(?!`)", re.DOTALL)
_ALT = r"((?:\\.|[^\[\]\\]|\[(?:\\.|[^\[\]\\])*\])*)"
_INLINE_IMAGE = re.compile(
    r"!\[" + _ALT + r"\]\(\s*(<[^<>\n]*>|(?:\\.|[^\s()\\]|\((?:\\.|[^\s()\\])*\))*)"
    r"(?:\s+(?:\"(?:\\.|[^\"\\])*\"|'(?:\\.|[^'\\])*'|\((?:\\.|[^()\\])*\)))?\s*\)")
_REFERENCE_IMAGE = re.compile(r"!\[" + _ALT + r"\](?:\[((?:\\.|[^\[\]\\])*)\])?")
_DEFINITION = re.compile(r"^ {0,3}\[((?:\\.|[^\[\]\\])+)\]:[ \t]*\n?[ \t]*(<[^<>\n]*>|\S+)", re.MULTILINE)


def _label(text: str) -> str:
    return " ".join(text.split()).casefold()


def _destination(raw: str) -> str:
    raw = raw[1:-1] if raw.startswith("<") and raw.endswith(">") else raw
    return re.sub(r"\\([" + re.escape(string.punctuation) + "])", r"\1", raw)


def _escape(text: str) -> str:
    return _PUNCTUATION.sub(r"\\\1", " ".join(text.split()))


def _split_code(text: str) -> list[tuple[bool, str]]:
    """(is_code, piece) in order: fenced blocks and code spans, where Markdown makes no images."""
    pieces: list[tuple[bool, str]] = []
    prose: list[str] = []
    fence: str | None = None
    for line in text.splitlines(keepends=True):
        opening = _FENCE.match(line)
        if fence is None and opening:
            pieces.append((False, "".join(prose)))
            prose, fence = [line], opening.group(1)
        elif fence is not None:
            prose.append(line)
            if opening and opening.group(1)[0] == fence[0] and len(opening.group(1)) >= len(fence) \
                    and not line.strip()[len(opening.group(1)):].strip():
                pieces.append((True, "".join(prose)))
                prose, fence = [], None
        else:
            prose.append(line)
    pieces.append((fence is not None, "".join(prose)))
    out: list[tuple[bool, str]] = []
    for is_code, piece in pieces:
        if is_code:
            out.append((True, piece))
            continue
        last = 0
        for span in _CODE_SPAN.finditer(piece):
            out += [(False, piece[last:span.start()]), (True, span.group(0))]
            last = span.end()
        out.append((False, piece[last:]))
    return [(is_code, piece) for is_code, piece in out if piece]


def _gate_prose(text: str, definitions: dict[str, str], t: Translator,
                found: list[tuple[str, str]]) -> str:
    """Every `![` either becomes a placeholder (its image noted in `found`) or loses its power
    (`!\\[` renders as the same two characters): no image syntax reaches the renderer."""
    out: list[str] = []
    index = 0
    while (start := text.find("![", index)) >= 0:
        out.append(text[index:start])
        if _escaped(text, start):  # `\![`: an escaped `!` and a link, never an image
            out.append("![")
            index = start + 2
            continue
        image = _image_at(text, start, definitions)
        if image is None:
            out.append("!\\[")
            index = start + 2
            continue
        alt, url, end = image
        found.append((alt, url))
        host = image_host(url) if is_remote(url) else "data"
        out.append("*\\[" + _escape(t("image_placeholder", alt=alt or t("image"), host=host)) + "\\]*")
        index = end
    out.append(text[index:])
    return "".join(out)


def _escaped(text: str, index: int) -> bool:
    """An odd run of backslashes before `index` escapes it (counted back, not by slicing: a
    message can hold many thousands of `![`)."""
    start = index
    while index > 0 and text[index - 1] == "\\":
        index -= 1
    return (start - index) % 2 == 1


def _image_at(text: str, start: int, definitions: dict[str, str]) -> tuple[str, str, int] | None:
    inline = _INLINE_IMAGE.match(text, start)
    if inline:
        return inline.group(1), _destination(inline.group(2)), inline.end()
    reference = _REFERENCE_IMAGE.match(text, start)
    if reference:
        label = reference.group(2) or reference.group(1)
        url = definitions.get(_label(label))
        if url is not None:
            return reference.group(1), url, reference.end()
    return None


def gate_markdown(text: str, t: Translator) -> tuple[str, list[tuple[str, str]]]:
    """The text with its images replaced by placeholders, and those images as (alt, url)."""
    definitions: dict[str, str] = {}
    for match in _DEFINITION.finditer(text):
        definitions.setdefault(_label(match.group(1)), _destination(match.group(2)))
    found: list[tuple[str, str]] = []
    gated = "".join(piece if is_code else _gate_prose(piece, definitions, t, found)
                    for is_code, piece in _split_code(text))
    return gated, found


def markdown_controls(text: str, t: Translator, images: RemoteImages) -> list[ft.Control]:
    gated, found = gate_markdown(text, t)
    controls: list[ft.Control] = [
        ft.Markdown(gated, selectable=True, extension_set=ft.MarkdownExtensionSet.GITHUB_WEB)]
    return controls + [image_control(url, alt, t, images) for alt, url in found]


def plain_controls(text: str, t: Translator, images: RemoteImages) -> list[ft.Control]:
    """The text exactly as sent; the images its Markdown names wait below for a click."""
    _, found = gate_markdown(text, t)
    controls: list[ft.Control] = [ft.Text(text)]  # selectable through the view's SelectionArea
    return controls + [image_control(url, alt, t, images) for alt, url in found]


def text_controls(text: str, t: Translator, images: RemoteImages, markdown: bool) -> list[ft.Control]:
    return markdown_controls(text, t, images) if markdown else plain_controls(text, t, images)
