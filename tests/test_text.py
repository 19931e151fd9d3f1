from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from relatedcontent import html_to_text, make_teaser


def test_html_tags_entities_and_scripts():
    html = (
        "<html><head><title>x</title><style>p{color:red}</style></head><body>"
        "<p>Bins &amp; recycling &#8211; what&rsquo;s new</p>"
        "<script>var tracking = 1;</script><ul><li>One</li><li>Two</li></ul></body></html>"
    )
    text = html_to_text(html)
    assert "Bins & recycling \u2013 what\u2019s new" in text
    assert "tracking" not in text
    assert "color" not in text
    assert "One" in text
    assert "Two" in text
    assert "<" not in text


def test_plain_text_passes_through():
    assert html_to_text("  Council tax   bills\n\n\n\nare due  ") == "Council tax bills\n\nare due"
    assert html_to_text("5 < 6 and AT&amp;T") == "5 < 6 and AT&T"
    assert html_to_text("") == ""


@pytest.mark.parametrize("length", [10, 20, 35, 50, 80])
def test_teaser_cuts_at_word_boundary(length):
    text = (
        "Garden waste collections restart on Monday across the whole borough after the winter break"
    )
    teaser = make_teaser(text, length)
    assert len(teaser) <= length
    assert teaser.endswith("\u2026")
    kept = teaser[:-1]
    # never half a word: what is kept is a prefix made of whole words
    assert text.startswith(kept)
    assert text[len(kept)] in " ,.;" or kept == ""


def test_teaser_short_text_unchanged_and_long_word():
    assert make_teaser("Short text", 100) == "Short text"
    assert make_teaser("Supercalifragilistic", 8) == "Superca\u2026"
    assert make_teaser("a " * 10, 100) == "a a a a a a a a a a"


@given(st.text(alphabet="ab &<;#x1/>\n\t\r\u00a0\u2003\u2028\x85\x1c", max_size=40))
@settings(max_examples=3000, deadline=None)
def test_fast_path_only_skips_text_that_is_already_clean(text):
    """The pre-check that skips cleaning never skips text cleaning would change."""
    from html import unescape

    from relatedcontent.text.clean import _TAG_HINT, _needs_cleaning, normalize_space

    if not _needs_cleaning(text):
        assert _TAG_HINT.search(text) is None
        assert normalize_space(unescape(text)) == text
        assert html_to_text(text) == text


@given(st.text(alphabet="ab &<;\n\t\r\u00a0\u2003", max_size=40))
@settings(max_examples=1000, deadline=None)
def test_cleaning_is_idempotent_and_cheap_the_second_time(text):
    from relatedcontent.text.clean import _needs_cleaning

    once = html_to_text(text)
    assert html_to_text(once) == once
    if "&" not in once and "<" not in once:  # "&amp;lt;" leaves "&lt;", which is cleaned again
        assert not _needs_cleaning(once)  # cleaned text takes the fast path
