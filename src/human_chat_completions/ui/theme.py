"""The window's look: the bundled fonts and one explicit colour scheme per brightness.

Widgets name colours by their scheme role (`ft.Colors.ON_SURFACE_VARIANT`, `ft.Colors.ERROR`,
`ft.Colors.SECONDARY_CONTAINER`…), never by a fixed palette shade: Flutter resolves a role
against the theme in force, so one widget tree reads well in light and dark alike. Which role
pairs the window draws text with is written down in `TEXT_PAIRS`, and a test holds every one
of them to WCAG AA in both palettes.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields

import flet as ft

FONT_FAMILY = "Noto Sans JP HCC"
FONT_FILE = "fonts/NotoSansJP-HCC.woff2"
EMOJI_FAMILY = "Noto Color Emoji HCC"
EMOJI_FILE = "fonts/NotoColorEmoji-HCC.woff2"
MONO_FAMILY = "DejaVu Sans Mono HCC"
MONO_FILE = "fonts/DejaVuSansMono-HCC.woff2"
# Offline, Flutter's web renderer has no font for what the bundled ones lack (it would fetch
# Noto from a CDN): a glyph missing from the Japanese font is looked up in the emoji font.
FONTS = {FONT_FAMILY: FONT_FILE, EMOJI_FAMILY: EMOJI_FILE, MONO_FAMILY: MONO_FILE}
FALLBACK = [EMOJI_FAMILY]
# JSON and keys: the monospace subset has Latin only; Japanese and emoji come from the others.
MONO = ft.TextStyle(font_family=MONO_FAMILY, font_family_fallback=[FONT_FAMILY, *FALLBACK])

MODES = {"light": ft.ThemeMode.LIGHT, "dark": ft.ThemeMode.DARK, "system": ft.ThemeMode.SYSTEM}


@dataclass(frozen=True)
class Palette:
    """One brightness's colour roles (Material 3 names), as #RRGGBB."""

    primary: str
    on_primary: str
    primary_container: str
    on_primary_container: str
    secondary: str  # green: delivered, saved, added words
    on_secondary: str
    secondary_container: str
    on_secondary_container: str
    tertiary: str  # amber: replying, waiting long, abandoned
    on_tertiary: str
    tertiary_container: str
    on_tertiary_container: str
    error: str
    on_error: str
    error_container: str
    on_error_container: str
    surface: str
    on_surface: str
    on_surface_variant: str
    surface_container_lowest: str
    surface_container_low: str
    surface_container: str
    surface_container_high: str
    surface_container_highest: str
    outline: str
    outline_variant: str
    inverse_surface: str
    on_inverse_surface: str
    inverse_primary: str
    shadow: str = "#000000"
    scrim: str = "#000000"

    def role(self, name: str) -> str:
        return str(getattr(self, name))


LIGHT = Palette(
    primary="#1F5FA8", on_primary="#FFFFFF", primary_container="#D6E3FF", on_primary_container="#001B3E",
    secondary="#2C6A3A", on_secondary="#FFFFFF", secondary_container="#CDEBCF",
    on_secondary_container="#00210B",
    tertiary="#845400", on_tertiary="#FFFFFF", tertiary_container="#FFDDB3", on_tertiary_container="#2A1800",
    error="#BA1A1A", on_error="#FFFFFF", error_container="#FFDAD6", on_error_container="#410002",
    surface="#FAF9FC", on_surface="#1A1C1E", on_surface_variant="#43474E",
    surface_container_lowest="#FFFFFF", surface_container_low="#F4F3F7", surface_container="#EEEDF1",
    surface_container_high="#E8E7EC", surface_container_highest="#E2E2E6",
    outline="#73777F", outline_variant="#C3C6CF",
    inverse_surface="#2F3033", on_inverse_surface="#F1F0F4", inverse_primary="#A8C8FF",
)

DARK = Palette(
    primary="#A8C8FF", on_primary="#003062", primary_container="#1B4A80", on_primary_container="#D6E3FF",
    secondary="#9CD5A4", on_secondary="#00391A", secondary_container="#1E4D2A",
    on_secondary_container="#C2F0C6",
    tertiary="#FFBA5C", on_tertiary="#462A00", tertiary_container="#5E3C00", on_tertiary_container="#FFDDB3",
    error="#FFB4AB", on_error="#690005", error_container="#8C1D18", on_error_container="#FFDAD6",
    surface="#121316", on_surface="#E3E2E6", on_surface_variant="#C3C6CF",
    surface_container_lowest="#0D0E11", surface_container_low="#1A1B1F", surface_container="#1E1F23",
    surface_container_high="#292A2D", surface_container_highest="#333538",
    outline="#8D9199", outline_variant="#43474E",
    inverse_surface="#E3E2E6", on_inverse_surface="#2F3033", inverse_primary="#1F5FA8",
)

# Backgrounds the window puts text on: the page, panels, bubbles, badges and banners.
_SURFACES = ("surface", "surface_container_lowest", "surface_container_low", "surface_container",
             "surface_container_high", "surface_container_highest")
_CONTAINERS = ("primary_container", "secondary_container", "tertiary_container", "error_container")
# Status and message colours (timers, errors, confirmations) sit on the surfaces and on the
# selected conversation row (secondary container).
_ACCENTS = ("primary", "secondary", "tertiary", "error")

TEXT_PAIRS: tuple[tuple[str, str], ...] = (
    *((fg, bg) for fg in ("on_surface", "on_surface_variant") for bg in _SURFACES + _CONTAINERS),
    *((fg, bg) for fg in _ACCENTS for bg in (*_SURFACES, "secondary_container")),
    *((f"on_{bg}", bg) for bg in (*_ACCENTS, *_CONTAINERS, "inverse_surface")),
    ("on_inverse_surface", "error"),  # an error snack bar keeps the snack bar's text colour
)
"""(text role, background role) pairs the window draws text with; each must reach 4.5:1."""

UI_PAIRS: tuple[tuple[str, str], ...] = tuple(("outline", bg) for bg in _SURFACES)
"""Field borders and other non-text parts that must be seen (WCAG 1.4.11: 3:1)."""


def relative_luminance(color: str) -> float:
    """WCAG 2.x relative luminance of #RRGGBB."""
    channels = [int(color.lstrip("#")[i:i + 2], 16) / 255 for i in (0, 2, 4)]
    r, g, b = (c / 12.92 if c <= 0.04045 else ((c + 0.055) / 1.055) ** 2.4 for c in channels)
    return 0.2126 * r + 0.7152 * g + 0.0722 * b


def contrast(foreground: str, background: str) -> float:
    """WCAG contrast ratio, 1 to 21."""
    light, dark = sorted((relative_luminance(foreground), relative_luminance(background)), reverse=True)
    return (light + 0.05) / (dark + 0.05)


def color_scheme(palette: Palette) -> ft.ColorScheme:
    return ft.ColorScheme(**asdict(palette), surface_tint=palette.primary)


def text_theme(palette: Palette) -> ft.TextTheme:
    """Every text style with the bundled font, the emoji fallback and the scheme's text colour.
    Flet replaces each style whole, so the colour must be given (else it is black on dark);
    Flutter still merges in each style's own size and weight."""
    style = ft.TextStyle(font_family=FONT_FAMILY, font_family_fallback=list(FALLBACK),
                         color=palette.on_surface)
    names = [f.name for f in fields(ft.TextTheme)]
    return ft.TextTheme(**{name: style for name in names})


def build_theme(palette: Palette) -> ft.Theme:
    """A theme whose every colour comes from `palette`; the seed only fills what Flet does not
    expose (it matches the primary colour, so those parts stay in tone)."""
    return ft.Theme(
        color_scheme_seed=palette.primary,
        color_scheme=color_scheme(palette),
        font_family=FONT_FAMILY,
        text_theme=text_theme(palette),
        scaffold_bgcolor=palette.surface,
        canvas_color=palette.surface,
        card_bgcolor=palette.surface_container_low,
        divider_color=palette.outline_variant,
        hint_color=palette.on_surface_variant,
        # Keyboard-first operators must see where they are: a stronger focus highlight than
        # Material's faint default.
        focus_color=ft.Colors.with_opacity(0.32, palette.primary),
    )


def apply(page: ft.Page, mode: str) -> None:
    """Fonts and both themes on `page`; `mode` is the setting (light, dark or system)."""
    page.fonts = dict(FONTS)
    page.theme = build_theme(LIGHT)
    page.dark_theme = build_theme(DARK)
    page.theme_mode = MODES.get(mode, ft.ThemeMode.SYSTEM)
