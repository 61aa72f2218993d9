"""Build the bundled Japanese UI font subset (assets/fonts/NotoSansJP-HCC.woff2).

Offline, the Flet web renderer has no system/CDN font for CJK text and draws
boxes ("tofu").  We therefore ship a subset of Noto Sans CJK JP (SIL OFL 1.1),
renamed to FONT_FAMILY below.

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


def rename(font: TTFont) -> None:
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
        (1, FONT_FAMILY),
        (2, "Regular"),
        (3, f"{ver:.3f};HCC;{POSTSCRIPT_NAME};subset of {SOURCE_FAMILY}"),
        (4, FONT_FAMILY),
        (6, POSTSCRIPT_NAME),
    ):
        name.setName(value, nid, 3, 1, 0x409)
    if src_version:
        name.setName(
            f"{src_version}; subset of {SOURCE_FAMILY}", 5, 3, 1, 0x409
        )
    if "CFF " in font:
        cff = font["CFF "].cff
        cff.fontNames = [POSTSCRIPT_NAME]
        top = cff.topDictIndex[0]
        top.FamilyName = FONT_FAMILY
        top.FullName = FONT_FAMILY


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
    sub = subset.Subsetter(opts)
    sub.populate(unicodes=present)
    sub.subset(font)
    rename(font)

    output.parent.mkdir(parents=True, exist_ok=True)
    font.flavor = flavor
    font.save(str(output))
    font.close()
    verify(output, present)


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
    data = output.read_bytes()
    print(f"family (name ID 1): {font['name'].getDebugName(1)}")
    print(f"full name (name ID 4): {font['name'].getDebugName(4)}")
    print(f"FONT_FAMILY = {FONT_FAMILY!r}")
    print(f"output: {output}")
    print(f"flavor: {font.flavor or 'sfnt'}, glyphs: {font['maxp'].numGlyphs}, "
          f"cmap entries: {len(cmap)}, size: {len(data)} bytes "
          f"({len(data) / 1024 / 1024:.2f} MiB)")
    print(f"sha256: {hashlib.sha256(data).hexdigest()}")
    font.close()


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--source", type=Path, default=DEFAULT_SOURCE,
                   help=f"source .ttc/.otf (default: {DEFAULT_SOURCE})")
    p.add_argument("--output", type=Path, default=DEFAULT_OUTPUT,
                   help="output file (default: assets/fonts/NotoSansJP-HCC.woff2)")
    p.add_argument("--extra-text", type=Path, action="append", default=[],
                   metavar="FILE",
                   help="UTF-8 file whose characters must be included "
                        "(may be repeated)")
    p.add_argument("--flavor", choices=("woff2", "sfnt"), default=None,
                   help="container format; default: from --output suffix "
                        "(.woff2 -> woff2, .otf/.ttf -> plain sfnt)")
    args = p.parse_args(argv)
    flavor = args.flavor or ("woff2" if args.output.suffix.lower() == ".woff2" else "sfnt")
    build(args.source, args.output, args.extra_text,
          None if flavor == "sfnt" else flavor)
    return 0


if __name__ == "__main__":
    sys.exit(main())
