"""Text cleaning: HTML to plain text, and teasers cut at a word boundary.

This stage knows nothing about vectors; it turns whatever a CMS stores in a body
field into the plain text that is indexed and shown.
"""

from __future__ import annotations

import re
from html import unescape
from html.parser import HTMLParser

__all__ = ["html_to_text", "make_teaser", "normalize_space"]

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
        self._drop_depth = 0

    def handle_starttag(self, tag: str, attrs: object) -> None:
        if tag in _DROP:
            self._drop_depth += 1
        elif tag in _BLOCK:
            self.parts.append("\n")

    def handle_startendtag(self, tag: str, attrs: object) -> None:
        if tag in _BLOCK:
            self.parts.append("\n")

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


def html_to_text(text: str) -> str:
    """Return the readable text of ``text``, which may be plain text or HTML.

    Tags are stripped, entities decoded, and the content of ``script``, ``style``
    and similar elements dropped. Plain text passes through with only its
    whitespace normalised (entities are still decoded, as CMSs often store them).

    Examples
    --------
    >>> html_to_text("<p>Bins &amp; recycling</p><script>track()</script><p>Next</p>")
    'Bins & recycling\\n\\nNext'
    """
    if not text:
        return ""
    if not _needs_cleaning(text):
        return text
    if _TAG_HINT.search(text) is None:
        return normalize_space(unescape(text))
    parser = _TextExtractor()
    parser.feed(text)
    parser.close()
    return normalize_space("".join(parser.parts))


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
    return cut.rstrip(" ,;:.-\u2013\u2014") + ellipsis
