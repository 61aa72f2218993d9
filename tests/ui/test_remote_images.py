"""Remote images in a participant's message are fetched only when the operator clicks "Load image":
a URL fetched on display would tell its host who read the message, and when."""

from __future__ import annotations

import base64
import io
import re
import threading
from collections.abc import Iterator
from contextlib import closing
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import openai
import pytest
from PIL import Image
from playwright.sync_api import Browser, Page

from human_chat_completions.config import Settings
from human_chat_completions.ui.gated_images import gate_markdown
from human_chat_completions.ui.i18n import Translator
from tests.support import Operator, RunningServer, wait_until
from tests.ui.browser import open_window, screenshot, wait_for_text


def png(color: str, size: int = 48) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (size, size), color).save(buffer, format="PNG")
    return buffer.getvalue()


class ImageHost:
    """Another web server on 127.0.0.1 that serves one PNG and counts every request it gets."""

    def __init__(self) -> None:
        self.requests: list[str] = []
        image, requests = png("red"), self.requests

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802 (http.server's name)
                requests.append(self.path)
                self.send_response(200)
                self.send_header("Content-Type", "image/png")
                self.send_header("Content-Length", str(len(image)))
                # Flutter's web renderer reads image bytes with fetch(): CORS lets it show them.
                self.send_header("Access-Control-Allow-Origin", "*")
                self.end_headers()
                self.wfile.write(image)

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.server.server_port}{path}"

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def image_host() -> Iterator[ImageHost]:
    host = ImageHost()
    yield host
    host.close()


def ask(base: str, user: str, content: list[dict]) -> threading.Thread:
    """A participant's chat app sends a message with images and waits for the answer."""

    def run() -> None:
        with openai.OpenAI(base_url=base + "/v1", api_key="k", max_retries=0) as api:
            api.chat.completions.create(model="gpt-4o", user=user,
                                        messages=[{"role": "user", "content": content}])

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    return thread


def message(image_host: ImageHost) -> list[dict]:
    remote = image_host.url("/cat.png")
    data = "data:image/png;base64," + base64.b64encode(png("royalblue")).decode()
    return [
        {"type": "text", "text": f"Here is my cat: ![my cat]({remote}) and the same in HTML: "
                                 f"<img src=\"{image_host.url('/html.png')}\">. Below, a blue square."},
        {"type": "image_url", "image_url": {"url": remote}},
        {"type": "image_url", "image_url": {"url": data}},
    ]


def images_shown(page: Page) -> list[str]:
    """The labels of the pictures the window draws (ft.Image's label: its alt text, or "Image")."""
    return page.evaluate("""() => [...document.querySelectorAll('flt-semantics-host [role="img"]')]
        .map(e => e.getAttribute('aria-label') || '')""")


@pytest.mark.parametrize("language, load", [("en", "Load image"), ("ja", "画像を読み込む")])
def test_remote_images_wait_for_a_click_data_images_do_not(tmp_path, browser: Browser,
                                                            image_host: ImageHost, language: str,
                                                            load: str) -> None:
    with RunningServer(tmp_path / "data", Settings(language=language)) as server, \
            closing(Operator(server.base)) as operator:
        page = open_window(browser, server.base)
        client = ask(server.base, "cat-owner", message(image_host))
        wait_for_text(page, "cat-owner")
        page.get_by_role("button", name=re.compile("^cat-owner")).first.click()
        wait_for_text(page, "Here is my cat")
        page.wait_for_timeout(1500)  # time for any fetch the window would make on its own
        assert image_host.requests == []
        host = f"127.0.0.1:{image_host.server.server_port}"  # the operator sees where it would come from
        wait_for_text(page, f"{load}（{host}）" if language == "ja" else f"{load} ({host})")
        image = "Image" if language == "en" else "画像"
        wait_until(lambda: images_shown(page) == [image], timeout=10)  # the data: image, at once
        screenshot(page, f"remote-images-before-click-{language}")

        page.get_by_role("button", name=re.compile("^" + load)).first.click()
        wait_until(lambda: image_host.requests, timeout=10)
        assert set(image_host.requests) == {"/cat.png"}  # the HTML <img> is text, never fetched
        # Both uses of the URL now show: the Markdown image (its alt text) and the image part.
        wait_until(lambda: sorted(images_shown(page)) == sorted(["my cat", image, image]), timeout=10)
        page.wait_for_timeout(500)
        screenshot(page, f"remote-images-after-click-{language}")

        [exchange] = operator.exchanges("waiting")
        operator.reply(exchange["id"], "Nice cat.").raise_for_status()
        client.join(timeout=20)
        page.close()


@pytest.mark.parametrize("text, url", [
    ("inline ![a](https://h.test/a.png)", "https://h.test/a.png"),
    ('titled ![a](<https://h.test/a b.png> "title")', "https://h.test/a b.png"),
    ("reference ![a][r]\n\n[r]: https://h.test/r.png", "https://h.test/r.png"),
    ("collapsed ![R][]\n\n[r]: https://h.test/r.png", "https://h.test/r.png"),
    ("shortcut ![r]\n\n[r]: <https://h.test/r.png>", "https://h.test/r.png"),
    ("userinfo ![a](https://trusted.test@h.test/a.png)", "https://trusted.test@h.test/a.png"),
])
def test_every_markdown_image_form_becomes_a_placeholder(text: str, url: str) -> None:
    gated, found = gate_markdown(text, Translator("en"))
    assert [found_url for _, found_url in found] == [url]
    assert "![" not in gated.replace("\\![", "")  # nothing left that Markdown would fetch
    assert r"\(h\.test\)" in gated  # the placeholder names the host (Markdown-escaped)


@pytest.mark.parametrize("text", [
    "unclosed ![a](https://h.test/a.png",
    "undefined ![a][nowhere]",
    "alt with code ![a `b` c](https://h.test/a.png)",
])
def test_image_syntax_it_cannot_read_is_disarmed(text: str) -> None:
    gated, found = gate_markdown(text, Translator("en"))
    assert found == []
    assert "![" not in gated.replace("\\![", "").replace("!\\[", "")


def test_code_keeps_its_image_syntax_as_text() -> None:
    text = "see `![a](https://h.test/a.png)` and\n```\n![b](https://h.test/b.png)\n```\n"
    assert gate_markdown(text, Translator("en")) == (text, [])
