"""The app's own log (not the exchange log): a rotating file, and no error dies silently."""

from __future__ import annotations

import asyncio
import logging
import logging.handlers
import os
import shutil
import subprocess
import sys
import threading
import webbrowser
from collections.abc import Callable
from pathlib import Path
from types import TracebackType

import platformdirs

from human_chat_completions.config import APP_NAME

log = logging.getLogger(__name__)

LOG_FILE = "hcc.log"
FORMAT = "%(asctime)s %(levelname)s [%(threadName)s] %(name)s: %(message)s"
ErrorSink = Callable[[str], None]


def log_dir() -> Path:
    """The app log folder; `HCC_LOG_DIR` overrides it (tests, portable installs)."""
    override = os.environ.get("HCC_LOG_DIR")
    return Path(override) if override else Path(platformdirs.user_log_dir(APP_NAME, False))


def setup_logging(level: int = logging.INFO, console: bool = True) -> Path:
    """Send the root logger to a rotating file in `log_dir()` (and stderr). Safe to call twice."""
    path = log_dir() / LOG_FILE
    root = logging.getLogger()
    root.setLevel(level)
    if not any(getattr(handler, "_hcc", False) for handler in root.handlers):
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            handler: logging.Handler = logging.handlers.RotatingFileHandler(
                path, maxBytes=1_000_000, backupCount=5, encoding="utf-8"
            )
        except OSError as error:  # a read-only profile must not keep the app from starting
            handler = logging.StreamHandler()
            print(f"cannot write the app log at {path}: {error}", file=sys.stderr)
        handler.setFormatter(logging.Formatter(FORMAT))
        handler._hcc = True  # type: ignore[attr-defined]
        root.addHandler(handler)
        if console and sys.stderr is not None:  # a windowed (frozen) build has no stderr
            stream = logging.StreamHandler()
            stream.setFormatter(logging.Formatter(FORMAT))
            stream._hcc = True  # type: ignore[attr-defined]
            root.addHandler(stream)
    return path


def _describe(error: BaseException | None) -> str:
    if error is None:
        return "unknown error"
    return f"{type(error).__name__}: {error}"


def install_excepthooks(on_error: ErrorSink | None = None) -> None:
    """Log (and report through `on_error`, e.g. a notification) any uncaught error, in the main
    thread or any other."""

    def report(message: str) -> None:
        if on_error is None:
            return
        try:
            on_error(message)
        except Exception:
            log.exception("could not report an error")

    def excepthook(kind: type[BaseException], error: BaseException, tb: TracebackType | None) -> None:
        if issubclass(kind, KeyboardInterrupt):
            sys.__excepthook__(kind, error, tb)
            return
        log.critical("uncaught error", exc_info=(kind, error, tb))
        report(_describe(error))

    def thread_excepthook(args: threading.ExceptHookArgs) -> None:
        if args.exc_type is SystemExit:
            return
        name = args.thread.name if args.thread else "?"
        log.critical(
            "uncaught error in thread %s", name,
            exc_info=(args.exc_type, args.exc_value or args.exc_type(), args.exc_traceback),
        )
        report(f"{name}: {_describe(args.exc_value)}")

    sys.excepthook = excepthook
    threading.excepthook = thread_excepthook


def loop_exception_handler(on_error: ErrorSink | None = None) -> Callable[[asyncio.AbstractEventLoop, dict], None]:
    """An asyncio exception handler that logs (and reports) what the loop would otherwise only print."""

    def handler(loop: asyncio.AbstractEventLoop, context: dict) -> None:
        error = context.get("exception")
        message = context.get("message", "error in the event loop")
        log.error("event loop: %s", message, exc_info=error)
        if on_error is not None and error is not None:
            try:
                on_error(_describe(error))
            except Exception:
                log.exception("could not report an error")

    return handler


def open_folder(path: Path) -> bool:
    """Show a folder in the system's file manager. Returns False (and logs) when nothing can."""
    path.mkdir(parents=True, exist_ok=True)
    try:
        if sys.platform == "win32":
            os.startfile(path)  # type: ignore[attr-defined]
            return True
        opener = "open" if sys.platform == "darwin" else shutil.which("xdg-open")
        if opener:
            process = subprocess.Popen([opener, str(path)], stdin=subprocess.DEVNULL,
                                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                                       start_new_session=True)
            threading.Thread(target=process.wait, name="reap-opener", daemon=True).start()
            return True
        if webbrowser.open(path.as_uri()):
            return True
    except OSError as error:
        log.warning("could not open %s: %s", path, error)
        return False
    log.warning("no file manager found; the folder is %s", path)
    return False
