"""The tray icon, drawn with Pillow: a speech bubble coloured by server state, with a badge that
counts the requests waiting for the operator."""

from __future__ import annotations

from typing import Literal

from PIL import Image, ImageDraw, ImageFont

IconState = Literal["running", "stopped", "error"]

COLOURS: dict[str, tuple[int, int, int, int]] = {
    "running": (37, 99, 235, 255),   # blue
    "stopped": (120, 120, 120, 255),  # grey
    "error": (202, 138, 4, 255),      # amber: needs attention, not a request
}
BADGE = (220, 38, 38, 255)
WHITE = (255, 255, 255, 255)


def badge_text(waiting: int) -> str:
    return str(waiting) if waiting < 10 else "9+"


def draw_icon(state: IconState = "running", waiting: int = 0, size: int = 64) -> Image.Image:
    image = Image.new("RGBA", (size, size), (0, 0, 0, 0))
    draw = ImageDraw.Draw(image)
    s = size / 64
    colour = COLOURS[state]
    # Bubble with a tail at the bottom left.
    draw.rounded_rectangle((4 * s, 8 * s, 58 * s, 46 * s), radius=10 * s, fill=colour)
    draw.polygon([(14 * s, 44 * s), (12 * s, 58 * s), (28 * s, 44 * s)], fill=colour)
    # Three "typing" dots: a person is writing.
    for x in (18, 31, 44):
        draw.ellipse(((x - 4) * s, 23 * s, (x + 4) * s, 31 * s), fill=WHITE)
    if state == "stopped":
        draw.line((8 * s, 54 * s, 56 * s, 6 * s), fill=WHITE, width=max(1, round(5 * s)))
    if waiting > 0:
        r = 15 * s
        cx, cy = size - r - 1, r + 1
        draw.ellipse((cx - r, cy - r, cx + r, cy + r), fill=BADGE, outline=WHITE,
                     width=max(1, round(2 * s)))
        text = badge_text(waiting)
        font = _font(round((18 if len(text) == 1 else 14) * s))
        draw.text((cx, cy), text, fill=WHITE, font=font, anchor="mm")
    return image


def _font(px: int) -> ImageFont.ImageFont | ImageFont.FreeTypeFont:
    try:
        return ImageFont.load_default(size=px)
    except TypeError:  # Pillow < 10.1 has no sized default font
        return ImageFont.load_default()
