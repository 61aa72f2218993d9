"""Build the app for the platform this runs on: `uv run python build_scripts/build.py`.

Produces a PyInstaller onedir bundle in dist/hcc (and the .app on macOS), then reports the build
time and bundle size. The version comes from the package (`human_chat_completions.__version__`).
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def version() -> str:
    sys.path.insert(0, str(ROOT / "src"))
    from human_chat_completions import __version__

    return __version__


def folder_size(path: Path) -> int:
    return sum(f.stat().st_size for f in path.rglob("*") if f.is_file() and not f.is_symlink())


def build(dist: Path, work: Path) -> Path:
    env = {**os.environ, "HCC_VERSION": version()}
    if sys.platform == "linux":
        # Flet's PyInstaller hook would download a desktop client; Linux builds serve a browser.
        empty = Path(tempfile.mkdtemp(prefix="flet-view-"))
        env["FLET_VIEW_PATH"] = str(empty)
    command = [sys.executable, "-m", "PyInstaller", "--noconfirm", "--clean", "--log-level", "WARN",
               "--distpath", str(dist), "--workpath", str(work), str(ROOT / "build_scripts" / "hcc.spec")]
    subprocess.run(command, check=True, env=env, cwd=ROOT)
    return dist / "hcc"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--dist", type=Path, default=ROOT / "dist")
    parser.add_argument("--work", type=Path, default=ROOT / "build")
    args = parser.parse_args()
    started = time.perf_counter()
    bundle = build(args.dist, args.work)
    elapsed = time.perf_counter() - started
    print(f"built {bundle} (version {version()}) in {elapsed:.0f} s, "
          f"{folder_size(bundle) / 2**20:.0f} MB")


if __name__ == "__main__":
    main()
