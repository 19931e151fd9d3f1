"""The words of the "You might also like" block, in the page's language.

The HTML fragment (:func:`relatedcontent.server.render_fragment`), the
server's ``/related/{id}.html`` and the widget take their heading, their
"Read more" link and its label for screen readers from here. Built-in strings
cover English, Welsh, German, French, Spanish and Arabic; any string can be
overridden, and a language without built-in strings uses the English ones
(its ``lang`` and text direction are still those of the page).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace

from ..text.languages import language_of

__all__ = ["BLOCK_STRINGS", "RIGHT_TO_LEFT", "BlockStrings", "block_strings"]


@dataclass(frozen=True)
class BlockStrings:
    """What the block says, and how it is written.

    Attributes
    ----------
    language : str
        The ``lang`` attribute of the block (ISO 639-1).
    direction : {"ltr", "rtl"}
        Its ``dir`` attribute.
    heading : str
        The heading above the list.
    read_more : str
        The text of each item's "Read more" link.
    read_more_label : str
        The link's accessible name; ``{title}`` is replaced by the item's title.
    """

    language: str
    direction: str
    heading: str
    read_more: str
    read_more_label: str

    def label_for(self, title: str) -> str:
        """The accessible name of one item's "Read more" link."""
        return self.read_more_label.replace("{title}", title)


# (heading, read more, read-more label), written for this project.
BLOCK_STRINGS: dict[str, tuple[str, str, str]] = {
    "en": ("You might also like", "Read more", "Read more: {title}"),
    "cy": ("Efallai yr hoffech chi hefyd", "Darllen mwy", "Darllen mwy: {title}"),
    "de": ("Das könnte Sie auch interessieren", "Weiterlesen", "Weiterlesen: {title}"),
    "fr": ("Vous aimerez peut-être aussi", "Lire la suite", "Lire la suite : {title}"),
    "es": ("También te puede interesar", "Leer más", "Leer más: {title}"),
    "ar": ("قد يعجبك أيضًا", "اقرأ المزيد", "اقرأ المزيد: {title}"),
}

#: Languages written right to left (ISO 639-1).
RIGHT_TO_LEFT = frozenset({"ar", "dv", "fa", "he", "ks", "ku", "ps", "sd", "ug", "ur", "yi"})


def block_strings(
    language: str | None = None, overrides: Mapping[str, str | None] | None = None
) -> BlockStrings:
    """The block's strings for ``language`` (``"cy"``, ``"pt-BR"``...; None: English).

    Parameters
    ----------
    language : str or None
        The page's language. A region (``"fr-CA"``) falls back to the
        language; a language without built-in strings gets the English ones.
    overrides : mapping, optional
        ``heading``, ``read_more`` or ``read_more_label`` to use instead;
        None or empty values are ignored.

    Examples
    --------
    >>> block_strings("cy").read_more
    'Darllen mwy'
    >>> block_strings("ar").direction
    'rtl'
    >>> block_strings("de", {"heading": "Mehr zum Thema"}).heading
    'Mehr zum Thema'
    """
    code, problem = language_of(language, "en")
    if problem is not None:
        code = "en"
    heading, read_more, label = BLOCK_STRINGS.get(code, BLOCK_STRINGS["en"])
    strings = BlockStrings(
        language=code,
        direction="rtl" if code in RIGHT_TO_LEFT else "ltr",
        heading=heading,
        read_more=read_more,
        read_more_label=label,
    )
    given = {k: v for k, v in (overrides or {}).items() if v}
    unknown = set(given) - {"heading", "read_more", "read_more_label"}
    if unknown:
        msg = f"unknown block strings {sorted(unknown)}; give heading, read_more or read_more_label"
        raise ValueError(msg)
    return replace(strings, **given) if given else strings
