"""Draw the app icon (assets/icon.png, 256 px) with the same code as the tray icon.

    uv run python build_scripts/make_icons.py
"""

from __future__ import annotations

from pathlib import Path

from human_chat_completions.tray.icon import draw_icon

ROOT = Path(__file__).resolve().parent.parent


def main() -> None:
    target = ROOT / "assets" / "icon.png"
    draw_icon("running", 0, 256).save(target)
    print(f"wrote {target}")


if __name__ == "__main__":
    main()
