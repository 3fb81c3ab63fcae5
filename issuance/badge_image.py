"""The badge picture: a round badge that shows the credential (title, awarding body, level / ECTS, issue date).

:func:`draw_png` draws it with Pillow and the font Pillow bundles (``ImageFont.load_default(size=...)``, nothing
is downloaded); :mod:`issuance.baking` bakes the credential into it. The same layout is drawn as SVG text there.
Long titles are wrapped to the disc's width (at most :data:`TITLE_LINES` lines, the last one shortened with "…").
"""

from __future__ import annotations

import io
from functools import lru_cache

from PIL import Image, ImageDraw, ImageFont

from issuance.sharing import CredentialFacts

SIZE = 600  # pixels, square (link previews show a square "summary" card)
TITLE_LINES = 4
NAVY = (31, 78, 121, 255)
GOLD = (242, 193, 78, 255)
WHITE = (255, 255, 255, 255)
PALE = (220, 230, 242, 255)  # 7.3:1 on NAVY


@lru_cache(maxsize=16)
def _font(size: int) -> ImageFont.FreeTypeFont | ImageFont.ImageFont:
    return ImageFont.load_default(size=size)


def wrap(text: str, width: float, size: int, limit: int) -> list[str]:
    """``text`` in lines no wider than ``width`` pixels at font ``size``; at most ``limit`` lines."""
    font = _font(size)
    lines: list[str] = []
    for word in text.split():
        candidate = f"{lines[-1]} {word}" if lines else word
        if lines and font.getlength(candidate) <= width:
            lines[-1] = candidate
        else:
            while font.getlength(word) > width and len(word) > 1:  # a word wider than the line: cut it
                cut = len(word) - 1
                while cut > 1 and font.getlength(word[:cut] + "-") > width:
                    cut -= 1
                lines.append(word[:cut] + "-")
                word = word[cut:]
            lines.append(word)
    if len(lines) > limit:
        lines = lines[:limit]
        last = lines[-1]
        while last and font.getlength(last + "…") > width:
            last = last[:-1]
        lines[-1] = last.rstrip() + "…"
    return lines or [""]


def _centred(draw: ImageDraw.ImageDraw, y: float, text: str, size: int, fill: tuple[int, ...]) -> None:
    draw.text((SIZE / 2, y), text, font=_font(size), fill=fill, anchor="mm")


@lru_cache(maxsize=1)
def _disc() -> Image.Image:
    """The navy disc with its gold ring (the same for every badge), drawn 4× larger then reduced: smooth edges."""
    scale = 4
    big = Image.new("RGBA", (SIZE * scale, SIZE * scale), (0, 0, 0, 0))
    disc = ImageDraw.Draw(big)
    pad, ring = 4 * scale, 26 * scale
    disc.ellipse((pad, pad, SIZE * scale - pad, SIZE * scale - pad), fill=NAVY)
    disc.ellipse((ring, ring, SIZE * scale - ring, SIZE * scale - ring), outline=GOLD, width=8 * scale)
    return big.resize((SIZE, SIZE), Image.Resampling.LANCZOS)


def draw_png(facts: CredentialFacts) -> bytes:
    """The badge as PNG bytes (RGBA, :data:`SIZE` square, transparent corners)."""
    image = _disc().copy()
    draw = ImageDraw.Draw(image)

    _centred(draw, 128, "MICRO-CREDENTIAL", 24, GOLD)
    title = wrap(facts.title or "Micro-credential", 400, 40, TITLE_LINES)
    line_height = 48
    top = 268 - line_height * (len(title) - 1) / 2
    for i, line in enumerate(title):
        _centred(draw, top + i * line_height, line, 40, WHITE)
    below = top + line_height * (len(title) - 1) + 62
    for text, size in ((facts.issuer_name, 24), (facts.level_text, 22), (facts.issued_text, 22)):
        if not text:
            continue
        for line in wrap(text, 380, size, 1):
            _centred(draw, below, line, size, PALE)
        below += size + 14
    out = io.BytesIO()
    image.save(out, format="PNG")
    return out.getvalue()


def thumbnail_png(facts: CredentialFacts, size: int = 160) -> bytes:
    """The badge picture at ``size`` pixels, not baked (to show beside a listing)."""
    image = Image.open(io.BytesIO(draw_png(facts)))
    image.thumbnail((size, size), Image.Resampling.LANCZOS)
    out = io.BytesIO()
    image.save(out, format="PNG", optimize=True)
    return out.getvalue()
