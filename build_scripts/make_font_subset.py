"""Build the bundled UI font subsets (assets/fonts/): Japanese, emoji and monospace.

Offline, the Flet web renderer has no system/CDN font for CJK text or emoji and
draws boxes ("tofu").  We therefore ship two subsets (both SIL OFL 1.1), each
renamed so it is a Modified Version with its own name:

  * NotoSansJP-HCC.woff2 -- Noto Sans CJK JP, family FONT_FAMILY below; the
    window's main font.
  * NotoColorEmoji-HCC.woff2 -- Noto Color Emoji, family EMOJI_FAMILY below;
    the window's fallback font (ui/theme.py), so a character the Japanese font
    lacks is looked up here.  See "Emoji" below.

Source: Debian's ``fonts-noto-cjk`` package,
/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc.  The Japanese face
is located by its name table ("Noto Sans CJK JP", not the Mono variant),
not by a hard-coded index.

Character set:
  * ASCII, Latin-1, General Punctuation (U+2000-206F)
  * arrows U+2190-21FF, enclosed alphanumerics U+2460-24FF, geometric shapes
    U+25A0-25FF, misc symbols U+2600-26FF
  * CJK symbols & punctuation U+3000-303F, hiragana/katakana U+3040-30FF,
    katakana phonetic extensions U+31F0-31FF, half/fullwidth forms U+FF00-FFEF
  * every kanji of JIS X 0208 levels 1 and 2 (taken from Python's own
    ``euc_jp`` codec; the Joyo kanji are a subset of these)
  * every character of each ``--extra-text`` file (e.g. the UI's own strings)
Code points the source font has no glyph for are skipped (and counted).

fonttools and brotli are NOT project dependencies -- this is a one-off build
tool.  Run it without touching the project environment:

    uv run --no-project --with fonttools --with brotli \\
        python build_scripts/make_font_subset.py

The output is deterministic: same source font + same fontTools version +
same options -> byte-identical file (head.modified is copied from the source
instead of being set to "now").

Emoji
-----
Source: Debian's ``fonts-noto-color-emoji`` package,
/usr/share/fonts/truetype/noto/NotoColorEmoji.ttf (colour bitmaps in CBDT, which
the web renderer draws).  Kept: every single code point of the source at or
above U+2000 (smileys, people, animals, food, travel, objects, symbols,
dingbats, regional-indicator letters), at the source's full bitmap size --
re-encoding the already optimised PNGs smaller made the file *bigger*.
Dropped: ASCII/Latin-1 (digits, #, *, (c), (R) must stay text), invisible
joiners and selectors, tag characters, Google's private-use glyphs, and the
GSUB sequences (skin tones, ZWJ families, flags, keycaps: about 2,500 more
bitmaps, ~7 MB).  So a sequence shows as its parts (a thumbs-up then a skin
tone swatch, a family as its people, a flag as two letters), never as a box.

    uv run --no-project --with fonttools --with brotli \\
        python build_scripts/make_font_subset.py --font emoji

Monospace
---------
Source: Debian's ``fonts-dejavu-core`` package,
/usr/share/fonts/truetype/dejavu/DejaVuSansMono.ttf (Bitstream Vera licence, DejaVu
changes public domain: a modified font must not be named "Bitstream" or "Vera").  For
the JSON editor and other code-like text; offline the web renderer has no monospace
font at all.  Kept: ASCII, Latin-1 and General Punctuation; no hinting (the web canvas
draws unhinted).  Anything else falls back to the Japanese font (ui/theme.py).

    uv run --no-project --with fonttools --with brotli \\
        python build_scripts/make_font_subset.py --font mono
"""

from __future__ import annotations

import argparse
import hashlib
import sys
from pathlib import Path

from fontTools import subset
from fontTools.ttLib import TTFont
from fontTools.ttLib.ttCollection import TTCollection

FONT_FAMILY = "Noto Sans JP HCC"
POSTSCRIPT_NAME = "NotoSansJPHCC-Regular"
SOURCE_FAMILY = "Noto Sans CJK JP"

REPO_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_SOURCE = Path("/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc")
DEFAULT_OUTPUT = REPO_ROOT / "assets" / "fonts" / "NotoSansJP-HCC.woff2"

EMOJI_FAMILY = "Noto Color Emoji HCC"
EMOJI_POSTSCRIPT_NAME = "NotoColorEmojiHCC"
EMOJI_SOURCE_FAMILY = "Noto Color Emoji"
EMOJI_SOURCE = Path("/usr/share/fonts/truetype/noto/NotoColorEmoji.ttf")
EMOJI_OUTPUT = REPO_ROOT / "assets" / "fonts" / "NotoColorEmoji-HCC.woff2"
EMOJI_SAMPLE = "🍜🏯☔😀👍🎉❤🚀🤖🫠"
# Code points that are emoji but must never be drawn from the emoji font, or that draw nothing.
EMOJI_EXCLUDED_RANGES: tuple[tuple[int, int], ...] = (
    (0x0000, 0x1FFF),    # ASCII and Latin-1: digits, # and * (keycap bases), (c), (R)
    (0x200D, 0x200D),    # zero-width joiner
    (0x20E3, 0x20E3),    # combining enclosing keycap
    (0xFE00, 0xFE0F),    # variation selectors
    (0xE0000, 0xE007F),  # tag characters (subdivision flags)
    (0xF0000, 0x10FFFF), # Google's private-use glyphs
)

MONO_FAMILY = "DejaVu Sans Mono HCC"
MONO_POSTSCRIPT_NAME = "DejaVuSansMonoHCC"
MONO_SOURCE_FAMILY = "DejaVu Sans Mono"
MONO_SOURCE = Path("/usr/share/fonts/truetype/dejavu/DejaVuSansMono.ttf")
MONO_OUTPUT = REPO_ROOT / "assets" / "fonts" / "DejaVuSansMono-HCC.woff2"
MONO_RANGES: tuple[tuple[int, int], ...] = (
    (0x0020, 0x007E),  # ASCII printable
    (0x00A0, 0x00FF),  # Latin-1 supplement
    (0x2000, 0x206F),  # General Punctuation
)
MONO_SAMPLE = '{"city": "Zürich", "nights": 2, "ok": [true, null]} \u2026 \u201c\u201d'

SAMPLE_TEXTS = (
    "日本語の表示テスト、こんにちは。設定・送信・会話・待機中・返信",
    "漢字検索",
)

# Inclusive code point ranges.
RANGES: tuple[tuple[int, int], ...] = (
    (0x0020, 0x007E),  # ASCII printable
    (0x00A0, 0x00FF),  # Latin-1 supplement
    (0x2000, 0x206F),  # General Punctuation
    (0x2190, 0x21FF),  # Arrows
    (0x2460, 0x24FF),  # Enclosed Alphanumerics (circled numbers)
    (0x25A0, 0x25FF),  # Geometric Shapes
    (0x2600, 0x26FF),  # Miscellaneous Symbols
    (0x3000, 0x303F),  # CJK Symbols and Punctuation
    (0x3040, 0x30FF),  # Hiragana + Katakana
    (0x31F0, 0x31FF),  # Katakana Phonetic Extensions
    (0xFF00, 0xFFEF),  # Halfwidth and Fullwidth Forms
)

# OpenType layout features kept.
#   ccmp/calt/liga/mark: basic shaping, applied by default by HarfBuzz
#       (which Flutter uses); cheap here.
#   kern: Latin kerning; applied by default, so dropping it would change how
#       ASCII text looks.
#   palt/halt: proportional / half-width CJK punctuation and kana.  Not applied
#       by default, but GPOS-only (no extra glyphs, a few KB) and lets the UI
#       opt in with FontFeature.enable("palt") for tighter kana text.
# Dropped on purpose:
#   locl: in this JP-default face it only maps to SC/TC/KR/HK glyph variants;
#       dropping it keeps JP glyph shapes whatever locale the browser reports
#       and avoids pulling in hundreds of foreign glyph variants.
#   vert/vrt2/vkrn/vpal/vhal: vertical writing is not used by the UI.
#   aalt/fwid/hwid/pwid/jp78/jp83/jp90/nlck/hist/ruby/dlig: alternates the UI
#       never requests; each would drag in many extra glyphs.
LAYOUT_FEATURES = ["ccmp", "calt", "liga", "mark", "mkmk", "kern", "palt", "halt"]

# Vertical-metrics tables are useless without vertical layout.
DROP_TABLES = ["vhea", "vmtx", "VORG"]


def jis_x_0208_kanji() -> set[int]:
    """All CJK Unified Ideographs reachable from 2-byte EUC-JP (JIS X 0208)."""
    out: set[int] = set()
    for hi in range(0xA1, 0xFF):
        for lo in range(0xA1, 0xFF):
            try:
                ch = bytes((hi, lo)).decode("euc_jp")
            except UnicodeDecodeError:
                continue
            if len(ch) == 1 and 0x4E00 <= ord(ch) <= 0x9FFF:
                out.add(ord(ch))
    return out


def wanted_codepoints(extra_files: list[Path]) -> set[int]:
    cps: set[int] = set()
    for lo, hi in RANGES:
        cps.update(range(lo, hi + 1))
    cps |= jis_x_0208_kanji()
    for text in SAMPLE_TEXTS:
        cps.update(ord(c) for c in text)
    for path in extra_files:
        text = path.read_text(encoding="utf-8")
        cps.update(ord(c) for c in text if ord(c) >= 0x20)
    return cps


def find_face_index(source: Path, family: str) -> int:
    """Index of the face whose (English) name ID 1 is exactly ``family``."""
    if source.suffix.lower() not in (".ttc", ".otc"):
        return -1
    coll = TTCollection(str(source), lazy=True)
    try:
        for i, font in enumerate(coll.fonts):
            if font["name"].getDebugName(1) == family:
                return i
    finally:
        coll.close()
    raise SystemExit(f"no face named {family!r} in {source}")


def rename(font: TTFont, family: str = FONT_FAMILY, postscript: str = POSTSCRIPT_NAME,
           source_family: str = SOURCE_FAMILY) -> None:
    """Give the Modified Version its own name (see assets/fonts/README.md)."""
    name = font["name"]
    src_version = name.getDebugName(5) or ""
    # Typographic family/subfamily would still say "Noto Sans CJK JP".
    name.removeNames(nameID=16)
    name.removeNames(nameID=17)
    for rec in list(name.names):
        if rec.nameID in (1, 2, 3, 4, 6):
            name.removeNames(nameID=rec.nameID)
    ver = font["head"].fontRevision
    for nid, value in (
        (1, family),
        (2, "Regular"),
        (3, f"{ver:.3f};HCC;{postscript};subset of {source_family}"),
        (4, family),
        (6, postscript),
    ):
        name.setName(value, nid, 3, 1, 0x409)
    if src_version:
        name.setName(
            f"{src_version}; subset of {source_family}", 5, 3, 1, 0x409
        )
    if "CFF " in font:
        cff = font["CFF "].cff
        cff.fontNames = [postscript]
        top = cff.topDictIndex[0]
        top.FamilyName = family
        top.FullName = family


def build(source: Path, output: Path, extra: list[Path], flavor: str | None) -> None:
    face = find_face_index(source, SOURCE_FAMILY)
    font = TTFont(str(source), fontNumber=face, recalcTimestamp=False)
    src_cmap = font.getBestCmap()
    print(f"source: {source} face {face} = {font['name'].getDebugName(4)!r}, "
          f"{font['name'].getDebugName(5)!r}, {font['maxp'].numGlyphs} glyphs")

    wanted = wanted_codepoints(extra)
    present = sorted(cp for cp in wanted if cp in src_cmap)
    print(f"requested code points: {len(wanted)}, present in source: {len(present)}, "
          f"skipped (no glyph in source): {len(wanted) - len(present)}")

    opts = subset.Options()
    opts.layout_features = list(LAYOUT_FEATURES)
    opts.drop_tables = sorted(set(opts.drop_tables) | set(DROP_TABLES))
    opts.name_IDs = ["*"]          # keep copyright/trademark/license records
    opts.name_languages = [0x409]  # drop localized (Japanese) source names
    # CFF hints cost ~20% of the file; CJK at UI sizes on the (high-DPI,
    # anti-aliased) web canvas looks fine unhinted, so drop them.
    opts.hinting = False
    # Inlining CFF subroutines makes the raw font bigger but compresses
    # better under WOFF2's Brotli (~6% smaller); for a plain .otf keep them.
    opts.desubroutinize = flavor == "woff2"
    opts.notdef_outline = True
    opts.recalc_timestamp = False
    opts.flavor = flavor
    save_subset(font, present, opts, output, ())
    verify(output, present)


def save_subset(font: TTFont, wanted: list[int], opts: subset.Options, output: Path,
                names: tuple[str, str, str] | tuple[()]) -> None:
    """Keep only `wanted` (with `opts`), rename the font as a Modified Version (`names`: family,
    PostScript name, source family; () for the Japanese defaults) and save it to `output`."""
    sub = subset.Subsetter(opts)
    sub.populate(unicodes=wanted)
    sub.subset(font)
    rename(font, *names)
    output.parent.mkdir(parents=True, exist_ok=True)
    font.flavor = opts.flavor
    font.save(str(output))
    font.close()


def report(output: Path, font: TTFont, cmap: dict[int, str]) -> None:
    data = output.read_bytes()
    print(f"family (name ID 1): {font['name'].getDebugName(1)}")
    print(f"output: {output}")
    print(f"flavor: {font.flavor or 'sfnt'}, glyphs: {font['maxp'].numGlyphs}, "
          f"cmap entries: {len(cmap)}, size: {len(data)} bytes ({len(data) / 1024:.1f} KiB)")
    print(f"sha256: {hashlib.sha256(data).hexdigest()}")


def verify(output: Path, expected: list[int]) -> None:
    font = TTFont(str(output))
    cmap = font.getBestCmap()
    missing = [cp for cp in expected if cp not in cmap]
    if missing:
        raise SystemExit(f"{len(missing)} expected code points missing, e.g. "
                         f"{[hex(c) for c in missing[:10]]}")
    for text in SAMPLE_TEXTS:
        gaps = [c for c in text if ord(c) not in cmap]
        if gaps:
            raise SystemExit(f"sample {text!r}: no glyph for {gaps}")
        print(f"ok: {text}")
    print(f"full name (name ID 4): {font['name'].getDebugName(4)}")
    report(output, font, cmap)
    font.close()


def emoji_codepoints(cmap: dict[int, str]) -> list[int]:
    """The source's single code points, less those that must stay text or draw nothing."""
    return sorted(cp for cp in cmap
                  if not any(lo <= cp <= hi for lo, hi in EMOJI_EXCLUDED_RANGES))


def build_emoji(source: Path, output: Path) -> None:
    font = TTFont(str(source), recalcTimestamp=False)
    print(f"source: {source} = {font['name'].getDebugName(4)!r}, "
          f"{font['name'].getDebugName(5)!r}, {font['maxp'].numGlyphs} glyphs")
    if "CBDT" not in font:
        raise SystemExit(f"{source} has no CBDT colour bitmaps")
    wanted = emoji_codepoints(font.getBestCmap())
    print(f"kept code points: {len(wanted)} of {len(font.getBestCmap())}")

    opts = subset.Options()
    # No GSUB: its sequences (skin tones, ZWJ, flags) would pull in ~2,500 more bitmaps.
    opts.layout_features = []
    opts.drop_tables = sorted(set(opts.drop_tables) | set(DROP_TABLES))
    opts.name_IDs = ["*"]
    opts.name_languages = [0x409]
    opts.notdef_outline = True
    opts.recalc_timestamp = False
    opts.flavor = "woff2"
    save_subset(font, wanted, opts, output, (EMOJI_FAMILY, EMOJI_POSTSCRIPT_NAME, EMOJI_SOURCE_FAMILY))
    verify_emoji(output, wanted)


def verify_emoji(output: Path, expected: list[int]) -> None:
    font = TTFont(str(output))
    cmap = font.getBestCmap()
    missing = [cp for cp in expected if cp not in cmap]
    gaps = [c for c in EMOJI_SAMPLE if ord(c) not in cmap]
    if missing or gaps:
        raise SystemExit(f"missing: {[hex(c) for c in missing[:10]]}, sample gaps: {gaps}")
    if any(ord(c) in cmap for c in "0123456789#*"):
        raise SystemExit("digits must stay text")
    print(f"ok: {EMOJI_SAMPLE}")
    report(output, font, cmap)
    font.close()


def build_mono(source: Path, output: Path) -> None:
    font = TTFont(str(source), recalcTimestamp=False)
    print(f"source: {source} = {font['name'].getDebugName(4)!r}, "
          f"{font['name'].getDebugName(5)!r}, {font['maxp'].numGlyphs} glyphs")
    cmap = font.getBestCmap()
    wanted = sorted(cp for lo, hi in MONO_RANGES for cp in range(lo, hi + 1) if cp in cmap)
    print(f"kept code points: {len(wanted)}")

    opts = subset.Options()
    opts.layout_features = []  # a monospace font needs no kerning or ligatures
    opts.name_IDs = ["*"]  # keep the copyright and licence records
    opts.name_languages = [0x409]
    opts.hinting = False  # TrueType instructions are most of the file; the web canvas ignores them
    opts.notdef_outline = True
    opts.recalc_timestamp = False
    opts.flavor = "woff2"
    save_subset(font, wanted, opts, output, (MONO_FAMILY, MONO_POSTSCRIPT_NAME, MONO_SOURCE_FAMILY))
    verify_mono(output, wanted)


def verify_mono(output: Path, expected: list[int]) -> None:
    font = TTFont(str(output))
    cmap = font.getBestCmap()
    missing = [cp for cp in expected if cp not in cmap]
    gaps = [c for c in MONO_SAMPLE if ord(c) not in cmap]
    if missing or gaps:
        raise SystemExit(f"missing: {[hex(c) for c in missing[:10]]}, sample gaps: {gaps}")
    widths = {font["hmtx"][cmap[cp]][0] for cp in range(0x21, 0x7F)}
    if len(widths) != 1:
        raise SystemExit(f"not monospaced: advance widths {sorted(widths)}")
    if any(word in (font["name"].getDebugName(n) or "") for n in (1, 3, 4, 6)
           for word in ("Bitstream", "Vera")):
        raise SystemExit("the licence forbids 'Bitstream' and 'Vera' in a modified font's name")
    print(f"ok: {MONO_SAMPLE}")
    report(output, font, cmap)
    font.close()


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--font", choices=("jp", "emoji", "mono", "all"), default="all",
                   help="which subset to build (default: all; --source/--output "
                        "need one of the others)")
    p.add_argument("--source", type=Path, default=None,
                   help=f"source font (default: {DEFAULT_SOURCE} or {EMOJI_SOURCE})")
    p.add_argument("--output", type=Path, default=None,
                   help="output file (default: assets/fonts/NotoSansJP-HCC.woff2 "
                        "or NotoColorEmoji-HCC.woff2)")
    p.add_argument("--extra-text", type=Path, action="append", default=[],
                   metavar="FILE",
                   help="UTF-8 file whose characters must be included "
                        "(may be repeated)")
    p.add_argument("--flavor", choices=("woff2", "sfnt"), default=None,
                   help="container format; default: from --output suffix "
                        "(.woff2 -> woff2, .otf/.ttf -> plain sfnt)")
    args = p.parse_args(argv)
    if args.font == "all" and (args.source or args.output):
        p.error("--source and --output need --font jp, emoji or mono")
    if args.font in ("jp", "all"):
        output = args.output or DEFAULT_OUTPUT
        flavor = args.flavor or ("woff2" if output.suffix.lower() == ".woff2" else "sfnt")
        build(args.source or DEFAULT_SOURCE, output, args.extra_text,
              None if flavor == "sfnt" else flavor)
    if args.font in ("emoji", "all"):
        build_emoji(args.source or EMOJI_SOURCE, args.output or EMOJI_OUTPUT)
    if args.font in ("mono", "all"):
        build_mono(args.source or MONO_SOURCE, args.output or MONO_OUTPUT)
    return 0


if __name__ == "__main__":
    sys.exit(main())
