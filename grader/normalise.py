"""Evidence as a human reader sees it, before anything reads it for grading (pure).

An attacker hides instructions where a person does not see them but a text model does: white-on-white or
``display:none`` HTML, comments, invisible Unicode "tag" characters, zero-width or soft-hyphen characters
that break up a word a rule looks for, look-alike letters from other scripts, or an encoded block.
:func:`normalise` undoes each of these:

* hidden HTML/CSS elements (``display:none``, ``visibility:hidden``, ``font-size:0``, white or transparent
  text, ``opacity:0``, off-screen positions, the ``hidden`` attribute, ``<script>``/``<style>``/``<template>``)
  and HTML or Markdown comments are cut out of the text; their words become *suspect passages* (a person
  never reads them, so they never count as evidence);
* invisible Unicode tag characters are cut out and decoded into a suspect passage;
* zero-width, soft-hyphen, bidi-control and variation-selector characters are removed (Latin text forced
  right-to-left is turned round first, as a reader sees it), then NFKC;
* look-alike letters (Cyrillic, Greek, ...) inside words written in Latin letters are mapped to Latin;
* base64, hex, ROT13 and leetspeak blocks are decoded into suspect passages for inspection (the block, with the line
  that frames it, stays in the text unless the detector confirms it as an instruction);
* image alt texts, ``title`` attributes and Markdown link titles become suspect passages (they stay unless
  confirmed).

The rest of the text is kept as it was, so an honest learner's evidence reads the same.
"""

from __future__ import annotations

import base64
import binascii
import codecs
import html
import re
import unicodedata
from dataclasses import dataclass, field

# kinds of suspect passage; "hidden" kinds are always cut from the scored text
HIDDEN_KINDS = frozenset({"hidden_html", "comment", "tag_chars"})
ENCODED_KINDS = frozenset({"base64", "hex", "rot13", "leet"})


@dataclass(frozen=True)
class Suspect:
    kind: str  # hidden_html, comment, tag_chars, base64, hex, rot13, alt_text
    raw: str  # the exact text in the (normalised) evidence to cut if confirmed; "" when already cut
    text: str  # what it says, decoded and readable


@dataclass(frozen=True)
class Normalised:
    text: str
    suspects: list[Suspect] = field(default_factory=list)
    changes: dict[str, int] = field(default_factory=dict)  # what was changed: kind -> count


# ------------------------------------------------------------------ invisible characters

_INVISIBLE = re.compile("[\u00ad\u034f\u061c\u115f\u1160\u17b4\u17b5\u180b-\u180f\u200b-\u200f\u202a-\u202e"
                        "\u2060-\u2064\u2066-\u206f\u3164\ufe00-\ufe0f\ufeff\uffa0]")
_TAG_RUN = re.compile("[\U000e0000-\U000e007f]+")
_RIGHT_TO_LEFT = re.compile("[\u202e\u2067]([^\u202c\u2069\n]*)[\u202c\u2069]?")  # RLO / RLI ... PDF / PDI


def _decode_tags(run: str) -> str:
    return "".join(chr(ord(c) - 0xE0000) for c in run if 0x20 <= ord(c) - 0xE0000 < 0x7F)


# ------------------------------------------------------------------ homoglyphs (Latin look-alikes)

_CONFUSABLES = {
    # Cyrillic
    "а": "a", "в": "b", "е": "e", "ё": "e", "к": "k", "м": "m", "н": "h", "о": "o", "р": "p", "с": "c", "т": "t",
    "у": "y", "х": "x", "ѕ": "s", "і": "i", "ї": "i", "ј": "j", "һ": "h", "ԁ": "d", "ԛ": "q", "ԝ": "w", "ӏ": "l",
    "А": "A", "В": "B", "Е": "E", "К": "K", "М": "M", "Н": "H", "О": "O", "Р": "P", "С": "C", "Т": "T", "У": "Y",
    "Х": "X", "Ѕ": "S", "І": "I", "Ј": "J", "Ԁ": "D", "Ԛ": "Q", "Ԝ": "W", "Ү": "Y", "ү": "y", "Һ": "H",
    # Greek
    "α": "a", "ο": "o", "ρ": "p", "ν": "v", "ι": "i", "κ": "k", "τ": "t", "υ": "u", "χ": "x", "ε": "e",
    "Α": "A", "Β": "B", "Ε": "E", "Ζ": "Z", "Η": "H", "Ι": "I", "Κ": "K", "Μ": "M", "Ν": "N", "Ο": "O", "Ρ": "P",
    "Τ": "T", "Υ": "Y", "Χ": "X",
    # Armenian, Cherokee-free basics and Latin variants NFKC leaves alone
    "օ": "o", "ս": "u", "ց": "g", "ɑ": "a", "ɡ": "g", "ı": "i", "ȷ": "j", "ʏ": "y", "ᴀ": "a", "ʀ": "r", "ɪ": "i",
    "ɴ": "n", "ᴏ": "o", "ᴛ": "t", "ᴜ": "u", "ᴡ": "w", "ᴢ": "z", "ᴄ": "c", "ᴅ": "d", "ᴇ": "e", "ᴊ": "j", "ᴋ": "k",
    "ᴍ": "m", "ᴘ": "p", "ᴠ": "v", "ꜱ": "s", "ɢ": "g", "ʜ": "h", "ʟ": "l",
}
_WORD = re.compile(r"[^\W\d_]+", re.UNICODE)


def _latin(ch: str) -> bool:
    return "LATIN" in unicodedata.name(ch, "")


def _map_homoglyphs(text: str) -> tuple[str, int]:
    """Map look-alike letters to Latin in words that mix them with Latin letters, and in all-look-alike
    words of a mainly Latin text; genuine Greek or Cyrillic text (mostly such words) is left alone."""
    words = _WORD.findall(text)
    letters = [c for w in words for c in w]
    latin_share = sum(_latin(c) for c in letters) / len(letters) if letters else 1.0
    count = 0

    def fix(match: re.Match[str]) -> str:
        nonlocal count
        word = match.group(0)
        odd = [c for c in word if c in _CONFUSABLES]
        if not odd:
            return word
        has_latin = any(_latin(c) for c in word)
        all_lookalike = all(c in _CONFUSABLES or _latin(c) for c in word)
        if all_lookalike and (has_latin or latin_share >= 0.8):
            count += len(odd)
            return "".join(_CONFUSABLES.get(c, c) for c in word)
        return word

    return _WORD.sub(fix, text), count


# ------------------------------------------------------------------ HTML

_COMMENTS = [
    ("comment", re.compile(r"<!--.*?(?:-->|$)", re.S)),  # an unclosed comment hides the rest
    ("comment", re.compile(r"^[ \t]*\[(?://|comment|_|#)\]:\s*(?:#|<>)\s*(?:\(.*?\)|\".*?\"|'.*?')[ \t]*$",
                           re.M | re.S)),
]
_START_TAG = re.compile(r"<([a-zA-Z][a-zA-Z0-9]*)\b((?:[^>\"']|\"[^\"]*\"|'[^']*')*)>")
_ALWAYS_HIDDEN_TAGS = {"script", "style", "template", "noscript", "head", "title"}
_HIDDEN_STYLE = re.compile(
    r"display\s*:\s*none|visibility\s*:\s*hidden|font-size\s*:\s*0(?![.\d]*[1-9])|opacity\s*:\s*0(?![.\d]*[1-9])|"
    r"(?<![-\w])color\s*:\s*(?:#f{3}\b|#f{6}\b|white\b|transparent\b|rgba?\(\s*255\s*,\s*255\s*,\s*255\s*"
    r"(?:,\s*[\d.]+\s*)?\)|hsla?\([^)]*,\s*100%\s*(?:,[^)]*)?\))|"
    r"(?:left|top|right|text-indent|margin-left)\s*:\s*-\d{3,}|clip\s*:\s*rect\(\s*0|"
    r"(?:width|height|max-height|max-width)\s*:\s*0(?:px)?\s*(?:;|$)[^\"']*overflow\s*:\s*hidden|"
    r"line-height\s*:\s*0|transform\s*:\s*scale\(\s*0\s*\)",
    re.I,
)
_HIDDEN_ATTR = re.compile(r"(?:^|\s)hidden(?=[\s/=]|$)|type\s*=\s*[\"']?hidden", re.I)
_STYLE_ATTR = re.compile(r"style\s*=\s*(\"[^\"]*\"|'[^']*')", re.I)
_FONT_COLOR = re.compile(r"color\s*=\s*[\"']?(?:#?f{3}\b|#?f{6}\b|white\b)", re.I)
_ATTR_TEXT = re.compile(r"(?:alt|title|aria-label|data-[\w-]+)\s*=\s*(\"[^\"]*\"|'[^']*')", re.I)
_MD_ALT = re.compile(r"!\[([^\]]{8,})\]\([^)]*\)")
_MD_TITLE = re.compile(r"\]\([^)\s]*\s+\"([^\"]{8,})\"\s*\)")  # [text](url "title")
_TAGS = re.compile(r"<[^>]+>")
_VOID = {"br", "img", "hr", "input", "meta", "link", "wbr", "source", "area", "col", "embed", "param", "track"}


def _hidden(tag: str, attrs: str) -> bool:
    if tag.lower() in _ALWAYS_HIDDEN_TAGS:
        return True
    style = " ".join(m.group(1) for m in _STYLE_ATTR.finditer(attrs))
    return bool(_HIDDEN_STYLE.search(style) or _HIDDEN_ATTR.search(attrs)
                or (tag.lower() == "font" and _FONT_COLOR.search(attrs)))


def _element_end(text: str, tag: str, start: int) -> int:
    """Where the element whose start tag ends at ``start`` closes (nesting of the same tag counted)."""
    depth = 1
    pattern = re.compile(rf"<(/?){tag}\b[^>]*?(/?)>", re.I)
    for match in pattern.finditer(text, start):
        if match.group(1):
            depth -= 1
        elif not match.group(2):
            depth += 1
        if depth == 0:
            return match.end()
    return len(text)  # an unclosed hidden element hides the rest


def _visible_text(fragment: str) -> str:
    return " ".join(html.unescape(_TAGS.sub(" ", fragment)).split())


def _cut_hidden_html(text: str, suspects: list[Suspect], changes: dict[str, int]) -> str:
    out, pos = [], 0
    for match in _START_TAG.finditer(text):
        if match.start() < pos:
            continue
        tag, attrs = match.group(1), match.group(2)
        if tag.lower() in _VOID or attrs.rstrip().endswith("/") or not _hidden(tag, attrs):
            continue
        end = _element_end(text, tag, match.end())
        chunk = text[match.start():end]
        words = _visible_text(chunk[len(match.group(0)):])
        if tag.lower() in {"style", "script"}:
            words = " ".join(html.unescape(chunk[len(match.group(0)):]).split()).removesuffix(f"</{tag}>")
        out.append(text[pos:match.start()])
        pos = end
        changes["hidden_html"] = changes.get("hidden_html", 0) + 1
        if words:
            suspects.append(Suspect("hidden_html", "", words))
    out.append(text[pos:])
    return "".join(out)


# ------------------------------------------------------------------ encoded blocks

_BASE64 = re.compile(r"(?<![\w+/=])(?=[A-Za-z0-9+/]*[0-9+/])(?=[A-Za-z0-9+/]*[a-z])(?=[A-Za-z0-9+/]*[A-Z])"
                     r"[A-Za-z0-9+/]{20,}={0,2}(?![\w+/=])")
_HEX = re.compile(r"(?<![0-9A-Fa-f])(?:[0-9A-Fa-f]{2}[ :]?){12,}(?![0-9A-Fa-f])")
_COMMON = frozenset(re.findall(r"\w+",
    "the and to of a in is for this that all with as be on are it you your please give every level levels grade "
    "mark marks criteria criterion award pass record highest top full score rubric assessor grader ignore "
    "previous instructions evidence submission must should reviewer note system"))
_LEET = str.maketrans("013457@$", "oieastas")
_LEET_WORD = re.compile(r"\b(?=[A-Za-z0-9@$]*[A-Za-z])(?=[A-Za-z0-9@$]*[0134570@$])[A-Za-z0-9@$]{2,}\b")
_ROT13_HINT = re.compile(r"\brot[-\s]?13\b|\bcaesar\b", re.I)


def _readable(data: bytes) -> str | None:
    try:
        decoded = data.decode("utf-8")
    except UnicodeDecodeError:
        return None
    printable = sum(c.isprintable() or c in "\n\t" for c in decoded)
    words = re.findall(r"[^\W\d_]{2,}", decoded)
    if not decoded or printable / len(decoded) < 0.95 or len(words) < 3:
        return None
    return " ".join(decoded.split())


def _common_share(text: str) -> float:
    words = re.findall(r"[a-z]+", text.lower())
    return sum(w in _COMMON for w in words) / len(words) if words else 0.0


def _line_of(text: str, position: int) -> str:
    """The line holding ``position``: an encoded block is cut with the words that frame it."""
    start = text.rfind("\n", 0, position) + 1
    end = text.find("\n", position)
    return text[start:end if end >= 0 else len(text)].strip()


def _encoded(text: str) -> list[Suspect]:
    found: list[Suspect] = []
    for match in _BASE64.finditer(text):
        block = match.group(0)
        try:
            decoded = _readable(base64.b64decode(block + "=" * (-len(block) % 4), validate=False))
        except (binascii.Error, ValueError):
            decoded = None
        if decoded:
            found.append(Suspect("base64", _line_of(text, match.start()), decoded))
    for match in _HEX.finditer(text):
        digits = re.sub(r"[ :]", "", match.group(0))
        if len(digits) % 2 == 0:
            decoded = _readable(bytes.fromhex(digits))
            if decoded:
                found.append(Suspect("hex", _line_of(text, match.start()), decoded))
    for line in text.splitlines():  # leetspeak: "N0t3 t0 th3 gr4d3r"
        mixed = _LEET_WORD.findall(line)
        if len(mixed) >= 3:
            decoded = _LEET_WORD.sub(lambda m: m.group(0).translate(_LEET), line)
            if _common_share(decoded) >= _common_share(line) + 0.15:
                found.append(Suspect("leet", line.strip(), " ".join(decoded.split())))
    hinted = bool(_ROT13_HINT.search(text))
    for line in text.splitlines():
        words = re.findall(r"[A-Za-z]+", line)
        if len(words) < 4:
            continue
        decoded = codecs.decode(line, "rot13")
        if _common_share(decoded) >= max(0.3, _common_share(line) + 0.2) or (
                hinted and _common_share(decoded) > _common_share(line)):
            found.append(Suspect("rot13", line.strip(), " ".join(decoded.split())))
    return found


# ------------------------------------------------------------------ the whole pass

def normalise(text: str) -> Normalised:
    """The evidence as a human reader sees it, plus the passages a reader would not see (see module doc)."""
    suspects: list[Suspect] = []
    changes: dict[str, int] = {}

    def tags(match: re.Match[str]) -> str:
        decoded = _decode_tags(match.group(0))
        changes["tag_chars"] = changes.get("tag_chars", 0) + len(match.group(0))
        if decoded.strip():
            suspects.append(Suspect("tag_chars", "", " ".join(decoded.split())))
        return ""

    out = _TAG_RUN.sub(tags, text)

    def reverse(match: re.Match[str]) -> str:  # Latin text shown right-to-left: what a reader sees
        run = match.group(1)
        if not any(_latin(c) for c in run):
            return match.group(0)
        changes["bidi_reversed"] = changes.get("bidi_reversed", 0) + 1
        return run[::-1]

    out = _RIGHT_TO_LEFT.sub(reverse, out)
    for kind, pattern in _COMMENTS:
        def comment(match: re.Match[str], kind: str = kind) -> str:
            changes[kind] = changes.get(kind, 0) + 1
            body = _visible_text(re.sub(r"^<!--|-->$", "", match.group(0).strip()))
            if body:
                suspects.append(Suspect(kind, "", body))
            return ""

        out = pattern.sub(comment, out)
    if "<" in out:
        out = _cut_hidden_html(out, suspects, changes)
    invisible = len(_INVISIBLE.findall(out))
    if invisible:
        changes["invisible"] = invisible
        out = _INVISIBLE.sub("", out)
    nfkc = unicodedata.normalize("NFKC", out)
    if nfkc != out:
        changes["nfkc"] = sum(a != b for a, b in zip(out, nfkc, strict=False)) + abs(len(out) - len(nfkc))
        out = nfkc
    out, glyphs = _map_homoglyphs(out)
    if glyphs:
        changes["homoglyphs"] = glyphs
    for match in _ATTR_TEXT.finditer(out):
        value = html.unescape(match.group(1)[1:-1]).strip()
        if len(value.split()) >= 3:
            suspects.append(Suspect("alt_text", match.group(1)[1:-1], " ".join(value.split())))
    for pattern in (_MD_ALT, _MD_TITLE):
        for match in pattern.finditer(out):
            if len(match.group(1).split()) >= 3:
                suspects.append(Suspect("alt_text", match.group(1), " ".join(match.group(1).split())))
    suspects.extend(_encoded(out))
    if any(s.kind in HIDDEN_KINDS for s in suspects) or changes.get("hidden_html") or changes.get("comment"):
        out = re.sub(r"[ \t]+\n", "\n", out)
        out = re.sub(r"\n{3,}", "\n\n", out).strip()
    return Normalised(out, suspects, changes)
