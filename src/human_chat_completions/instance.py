"""One desktop app per user: a second `hcc` opens the running one's window instead of failing on
the port.

The running instance holds an OS file lock on `instance.lock` in the config folder (released by the
OS if it crashes) and writes where it listens to `instance.json`; another start finds the lock
taken, reads the address and checks it with GET /health.
"""

from __future__ import annotations

import json
import logging
import os
import sys
import time
from pathlib import Path
from typing import IO

import httpx

from human_chat_completions.config import config_dir

log = logging.getLogger(__name__)

LOCK_FILE = "instance.lock"
INFO_FILE = "instance.json"


def _lock(handle: IO) -> bool:
    try:
        if sys.platform == "win32":
            import msvcrt

            msvcrt.locking(handle.fileno(), msvcrt.LK_NBLCK, 1)
        else:
            import fcntl

            fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        return False
    return True


class InstanceLock:
    def __init__(self, folder: Path | None = None) -> None:
        self.folder = folder or config_dir()
        self.lock_path = self.folder / LOCK_FILE
        self.info_path = self.folder / INFO_FILE
        self._handle: IO | None = None

    def acquire(self) -> bool:
        """True when this process is now the one instance."""
        self.folder.mkdir(parents=True, exist_ok=True)
        handle = open(self.lock_path, "a+")  # noqa: SIM115 - held for the life of the process
        if not _lock(handle):
            handle.close()
            return False
        self._handle = handle
        return True

    def publish(self, host: str, port: int) -> None:
        """Say where this instance listens (after it has bound its port)."""
        payload = {"pid": os.getpid(), "host": host, "port": port}
        tmp = self.info_path.with_suffix(".tmp")
        tmp.write_text(json.dumps(payload), encoding="utf-8")
        tmp.replace(self.info_path)

    def release(self) -> None:
        if self._handle is None:
            return
        try:
            self.info_path.unlink(missing_ok=True)
        except OSError:
            pass
        self._handle.close()  # closing drops the lock
        self._handle = None

    def running_base_url(self, timeout: float = 15.0) -> str | None:
        """The base URL of the instance holding the lock, once it answers /health (it may still be
        starting), or None."""
        deadline = time.monotonic() + timeout
        while True:
            base = self._published_base()
            if base and healthy(base):
                return base
            if time.monotonic() > deadline:
                return None
            time.sleep(0.2)

    def _published_base(self) -> str | None:
        try:
            info = json.loads(self.info_path.read_text(encoding="utf-8"))
            return f"http://{connect_host(info['host'])}:{int(info['port'])}"
        except (OSError, ValueError, KeyError, TypeError):
            return None


def connect_host(host: str) -> str:
    """Where to reach a server bound to `host` from this machine."""
    if host in ("", "0.0.0.0"):
        return "127.0.0.1"
    if host == "::":
        return "[::1]"
    return f"[{host}]" if ":" in host else host


def healthy(base: str, timeout: float = 2.0) -> dict | None:
    """The /health answer of a Human Chat Completions server at `base`, or None."""
    try:
        response = httpx.get(base + "/health", timeout=timeout)
        body = response.json()
    except (httpx.HTTPError, ValueError):
        return None
    if response.status_code == 200 and isinstance(body, dict) and body.get("status") == "ok":
        return body
    return None
