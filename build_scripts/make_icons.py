"""Draw the app icon in every size the installers need, from the tray icon's drawing code.

    uv run python build_scripts/make_icons.py

Writes assets/icon.png (256 px), assets/icons/icon-<N>.png, assets/icon.ico (Windows) and
assets/icon.icns (macOS).
"""

from __future__ import annotations

from pathlib import Path

from human_chat_completions.tray.icon import draw_icon

ROOT = Path(__file__).resolve().parent.parent
SIZES = (16, 24, 32, 48, 64, 128, 256, 512, 1024)


def main() -> None:
    assets = ROOT / "assets"
    (assets / "icons").mkdir(parents=True, exist_ok=True)
    # Each size is drawn, not scaled, so small icons stay crisp.
    for size in SIZES:
        draw_icon("running", 0, size).save(assets / "icons" / f"icon-{size}.png")
    draw_icon("running", 0, 256).save(assets / "icon.png")
    draw_icon("running", 0, 256).save(assets / "icon.ico", sizes=[(s, s) for s in SIZES if s <= 256])
    draw_icon("running", 0, 1024).save(assets / "icon.icns")
    print(f"wrote icons to {assets}")


if __name__ == "__main__":
    main()
