"""Text cleaning: HTML to plain text, and teasers cut at a word boundary.

This stage knows nothing about vectors; it turns whatever a CMS stores in a body
field into the plain text that is indexed and shown.
"""

from __future__ import annotations

import re
from html import unescape
from html.parser import HTMLParser

__all__ = ["html_to_text", "make_teaser", "normalize_space", "strip_shortcodes", "text_and_image"]

_TAG_HINT = re.compile(r"<[A-Za-z!/][^>]*>")
_SPACE = re.compile(r"[ \t\r\f\v\u00a0]+")
_BLANK_LINES = re.compile(r"\n\s*\n+")
# Text without any of these is already clean: html_to_text would return it
# unchanged (no entity or tag, no space run or odd space, no white space at
# either end of the text or of a line, no more than one blank line in a row).
# Cleaned text passes, so articles that are cleaned already are not redone.
_NEEDS_CLEANING = re.compile(r"[&<\t\r\f\v\u00a0]|  |^\s|\s$|[^\S\n]\n|\n[^\S\n]|\n\n\s")
# The same test for text whose only white space is " " and "\n", with substring
# checks, which are several times faster than the regular expression.
_ODD_SPACE = re.compile(r"[^\S\n ]")
_NOT_CLEAN = ("  ", " \n", "\n ", "\n\n\n")
# A WordPress shortcode tag: [name attrs], [name attrs /] or [/name].
_SHORTCODE = re.compile(r"\[(/)?([A-Za-z][\w-]*)((?:\s[^\[\]]*?)?)\s*(/)?\]")
# Shortcodes whose content is a media reference, not text.
_MEDIA_SHORTCODES = frozenset({"embed", "video", "audio", "playlist", "gallery"})
# What html.unescape could replace: "&" then "#" or a name character.
_ENTITY_HINT = re.compile(r"&(?:#|[^\t\n\f <&#;])")


def _needs_cleaning(text: str) -> bool:
    """False only when ``html_to_text(text) == text`` (a cheap pre-check)."""
    if text.strip() != text:
        return True
    if "&" in text and _ENTITY_HINT.search(text) is not None:
        return True
    if "<" in text and _TAG_HINT.search(text) is not None:
        return True
    if "[" in text and _SHORTCODE.search(text) is not None:
        return True
    if _ODD_SPACE.search(text) is not None:
        return _NEEDS_CLEANING.search(text) is not None
    return any(part in text for part in _NOT_CLEAN)


# Elements whose content is never text a reader sees.
_DROP = frozenset({"script", "style", "noscript", "template", "svg", "head", "iframe"})
# Elements that end a line of text when they open or close.
_BLOCK = frozenset(
    {
        "address",
        "article",
        "aside",
        "blockquote",
        "br",
        "dd",
        "div",
        "dl",
        "dt",
        "figcaption",
        "figure",
        "footer",
        "form",
        "h1",
        "h2",
        "h3",
        "h4",
        "h5",
        "h6",
        "header",
        "hr",
        "li",
        "main",
        "nav",
        "ol",
        "p",
        "pre",
        "section",
        "table",
        "td",
        "th",
        "tr",
        "ul",
    }
)


class _TextExtractor(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self.image: str | None = None
        self._drop_depth = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in _DROP:
            self._drop_depth += 1
        elif tag in _BLOCK:
            self.parts.append("\n")
        elif tag == "img" and self.image is None and not self._drop_depth:
            self.image = dict(attrs).get("src") or None

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in _BLOCK:
            self.parts.append("\n")
        elif tag == "img" and self.image is None and not self._drop_depth:
            self.image = dict(attrs).get("src") or None

    def handle_endtag(self, tag: str) -> None:
        if tag in _DROP:
            self._drop_depth = max(0, self._drop_depth - 1)
        elif tag in _BLOCK:
            self.parts.append("\n")

    def handle_data(self, data: str) -> None:
        if not self._drop_depth:
            self.parts.append(data)


def normalize_space(text: str) -> str:
    """Collapse runs of spaces, keep paragraph breaks, strip the ends."""
    lines = [_SPACE.sub(" ", line).strip() for line in text.split("\n")]
    joined = "\n".join(lines)
    return _BLANK_LINES.sub("\n\n", joined).strip()


def strip_shortcodes(text: str) -> str:
    """Remove WordPress shortcode markup, keeping the text a shortcode wraps.

    ``[caption id="7"]<img src="a.jpg"> Bins[/caption]`` keeps ``<img src="a.jpg"> Bins``;
    ``[gallery ids="1,2"]`` and self-closing ``[audio src="x.mp3" /]`` go, as
    does the content of media shortcodes (``embed``, ``video``, ``audio``,
    ``playlist``, ``gallery``). A bracketed word with no attributes and no
    closing tag, such as ``[sic]``, is text and stays.

    Examples
    --------
    >>> strip_shortcodes('[caption id="7" width="300"]Bin day[/caption] moves [sic].')
    ' Bin day moves [sic].'
    """
    if "[" not in text or _SHORTCODE.search(text) is None:
        return text
    closed = {m.group(2).lower() for m in _SHORTCODE.finditer(text) if m.group(1)}
    for name in closed & _MEDIA_SHORTCODES:
        text = re.sub(
            rf"\[{name}\b[^\]]*\].*?\[/{name}\]", " ", text, flags=re.IGNORECASE | re.DOTALL
        )

    def markup(match: re.Match[str]) -> str:
        closing, name, attributes, self_closing = match.groups()
        if not (closing or self_closing or "=" in attributes or name.lower() in closed):
            return match.group(0)
        # A closing tag right before punctuation goes without a trace ("[b]May[/b].").
        follows = match.string[match.end() : match.end() + 1]
        return "" if closing and not follows.isalnum() else " "

    return _SHORTCODE.sub(markup, text)


def _extract(text: str) -> tuple[str, str | None]:
    """The readable text of ``text`` and the ``src`` of its first ``<img>`` (if any)."""
    if not text:
        return "", None
    if not _needs_cleaning(text):
        return text, None
    text = strip_shortcodes(text)
    if _TAG_HINT.search(text) is None:
        return normalize_space(unescape(text)), None
    parser = _TextExtractor()
    parser.feed(text)
    parser.close()
    return normalize_space("".join(parser.parts)), parser.image


def html_to_text(text: str) -> str:
    """Return the readable text of ``text``, which may be plain text or HTML.

    Tags are stripped, entities decoded, and the content of ``script``, ``style``
    and similar elements dropped; WordPress shortcode markup is removed
    (:func:`strip_shortcodes`). Plain text passes through with only its
    whitespace normalised (entities are still decoded, as CMSs often store them).

    Examples
    --------
    >>> html_to_text("<p>Bins &amp; recycling</p><script>track()</script><p>Next</p>")
    'Bins & recycling\\n\\nNext'
    """
    return _extract(text)[0]


def text_and_image(text: str) -> tuple[str, str | None]:
    """:func:`html_to_text` of ``text``, and the ``src`` of its first ``<img>`` (None if none)."""
    return _extract(text)


def make_teaser(text: str, length: int = 100, ellipsis: str = "\u2026") -> str:
    """Cut ``text`` to at most ``length`` characters at a word boundary.

    The ellipsis is appended only when text was cut, and it counts towards
    ``length``. A single word longer than the limit is cut hard, since there is
    no boundary to cut at.

    Examples
    --------
    >>> make_teaser("Garden waste collections restart on Monday", 30)
    'Garden waste collections\u2026'
    >>> make_teaser("Short", 30)
    'Short'
    """
    flat = " ".join(text.split())
    if len(flat) <= length:
        return flat
    room = max(1, length - len(ellipsis))
    cut = flat[: room + 1]
    space = cut.rfind(" ")
    if space > 0:
        cut = cut[:space]
    else:
        cut = flat[:room]
    return cut.rstrip(" ,;:.-&\u2013\u2014") + ellipsis
