"""Exports reach the operator's own browser, remote operators' too: the Logs page writes the file
into the exports folder, then opens a short-lived signed link to it.

The link carries its own proof (an HMAC of the file name and the expiry, keyed from the operator
token), so it needs no session and no state: whoever holds it for the next few minutes gets that
one file, and nothing else in the folder. It is served behind the window's door, like the window.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import time
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import cast
from urllib.parse import quote, urljoin

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import FileResponse, Response
from starlette.routing import Route
from starlette.types import ASGIApp

from human_chat_completions.store.log import ExchangeLog
from human_chat_completions.ui.door import HostRules, WindowDoor

DOWNLOADS_PATH = "/ui/downloads"
LINK_SECONDS = 300


def exports_dir(log_path: Path) -> Path:
    """Where the Logs page writes its exports: beside the log, in the data folder."""
    return log_path.parent / "exports"


class DownloadLinks:
    """Signs and checks links to the files of `folder`.

    `secret`: the operator token (only a key derived from it is used); `seconds`: how long a link
    works.
    """

    def __init__(self, secret: str, folder: Path, seconds: float = LINK_SECONDS,
                 clock: Callable[[], float] = time.time) -> None:
        self._key = hmac.new(secret.encode(), b"hcc export download", hashlib.sha256).digest()
        self.folder = folder
        self.seconds = seconds
        self.clock = clock

    def _signature(self, name: str, expires: int) -> str:
        return hmac.new(self._key, f"{name}\n{expires}".encode(), hashlib.sha256).hexdigest()

    def link(self, path: Path, page_url: str | None = None) -> str:
        """The link to `path` (a file of the folder), absolute when the page's URL is known (the
        desktop client hands it to the default browser). Flet's page URL is its websocket's."""
        expires = int(self.clock() + self.seconds)
        link = (f"{DOWNLOADS_PATH}/{quote(path.name)}?expires={expires}"
                f"&sig={self._signature(path.name, expires)}")
        if not page_url:
            return link
        base = re.sub(r"^ws(s?)://", r"http\1://", page_url, flags=re.IGNORECASE)
        return urljoin(base, link)

    def resolve(self, name: str, expires: str, signature: str) -> Path | None:
        """The file a link names, if the link is genuine, unexpired and names a file here."""
        if not expires.isdigit() or int(expires) < self.clock():
            return None
        if not hmac.compare_digest(signature.encode(), self._signature(name, int(expires)).encode()):
            return None
        if not name or name.startswith(".") or "/" in name or "\\" in name:
            return None
        path = self.folder / name
        return path if path.is_file() else None


def downloads_app(links: DownloadLinks) -> Starlette:
    async def download(request: Request) -> Response:
        path = links.resolve(request.path_params["name"], request.query_params.get("expires", ""),
                             request.query_params.get("sig", ""))
        if path is None:
            # The window opens the link in its own tab: a navigation answered 204 leaves the page
            # where it is, where an error page would replace the whole window.
            return Response(status_code=204, headers={"X-HCC-Download": "invalid or expired"})
        return FileResponse(path, filename=path.name, content_disposition_type="attachment",
                            headers={"Cache-Control": "no-store", "X-Content-Type-Options": "nosniff"})

    return Starlette(routes=[Route("/{name}", download, methods=["GET", "HEAD"])])


def mount_downloads(app: Starlette, token: str, exchange_log: ExchangeLog | None,
                    allowed_hosts: Callable[[], Iterable[str]]) -> None:
    """Serve the exports folder's signed links at DOWNLOADS_PATH; mount it before the window,
    whose own mount would otherwise take every path under /ui."""
    if exchange_log is None:
        return
    links = DownloadLinks(token, exports_dir(exchange_log.path))
    door = WindowDoor(downloads_app(links), HostRules(allowed_hosts))
    app.mount(DOWNLOADS_PATH, cast(ASGIApp, door))  # the door is an ASGI app, loosely typed
