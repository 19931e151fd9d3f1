"""Site hygiene: boilerplate does not count as similarity; near-duplicates are not shown."""

from __future__ import annotations

import pytest

from relatedcontent import RelatedContent, load
from relatedcontent.text.boilerplate import BoilerplateFilter, segments


def polluted(records):
    """Every article gets the same five-teaser "You might also like" block and a cookie notice."""
    teasers = records[10:15]
    block = (
        "<aside class='related'><h2>You might also like</h2><ul>"
        + "".join(
            f"<li><a href='{r['url']}'>{r['title']}</a><p>{r['body'].split('. ')[0]}.</p></li>"
            for r in teasers
        )
        + "</ul></aside>"
    )
    cookie = (
        "<div class='cookies'><p>We use cookies to make this website work and to understand how "
        "you use it. Read our cookie policy.</p><button>Accept all cookies</button></div>"
    )
    return [dict(r, body=f"<p>{r['body']}</p>{block}{cookie}") for r in records]


def overlap(a, b):
    """Mean share of each article's top 5 that two models have in common."""
    same = sum(
        len(
            {x.id for x in a.related(i, n=5, fallback=False)}
            & {x.id for x in b.related(i, n=5, fallback=False)}
        )
        for i in a.ids_
    )
    return same / (5 * len(a.ids_))


def test_site_boilerplate_barely_changes_the_lists(council_records):
    clean = RelatedContent().fit(council_records)
    dirty = RelatedContent().fit(polluted(council_records))
    kept = RelatedContent(boilerplate_share=None).fit(polluted(council_records))
    assert overlap(clean, dirty) >= 0.95  # measured 0.969
    assert overlap(clean, kept) <= 0.85  # measured 0.772: left in, the block reshapes the lists
    found = set(dirty.boilerplate_.segments_)
    assert {"you might also like", "accept all cookies", "read our cookie policy"} <= found
    assert dirty.report_["boilerplate_segments"] == len(found)
    # teasers skip it; the stored article keeps its text
    item = dirty.related(council_records[0]["id"], n=1)[0]
    assert "cookies" not in item.teaser
    assert "You might also like" in dirty.article(council_records[0]["id"]).body


def test_boilerplate_is_saved_and_cleans_drafts(tmp_path, council_records):
    dirty = RelatedContent().fit(polluted(council_records))
    dirty.save(tmp_path / "idx")
    loaded = load(tmp_path / "idx")
    assert loaded.boilerplate_.segments_ == dirty.boilerplate_.segments_
    draft = {"title": "Christmas bins", "body": polluted([council_records[0]])[0]["body"]}
    assert [r.id for r in loaded.similar(draft)] == [r.id for r in dirty.similar(draft)]
    view = loaded._scoring_view([loaded.article(council_records[0]["id"])])[0]
    assert "cookie" not in view.body
    assert "You might also like" not in view.body


def test_boilerplate_filter_rules():
    bodies = [
        f"Story {i} about {w}. Accept cookies!\nShare this page"
        for i, w in enumerate(["bins", "roads", "schools", "parks", "tax", "votes"])
    ]
    bodies.append("Accept cookies")  # a body that is only one segment is content, not counted
    bf = BoilerplateFilter(share=0.5, min_articles=3).fit(bodies)
    assert bf.segments_ == ["accept cookies", "share this page"]
    assert bf.counts_ == [6, 6]
    assert bf.clean(bodies[0]) == "Story 0 about bins."
    assert bf.clean("  ACCEPT   cookies. Real text here") == "Real text here"
    assert BoilerplateFilter(share=None).fit(bodies).segments_ == []
    # small sites: a sentence shared by two articles is not boilerplate
    assert BoilerplateFilter().fit(bodies[:2]).segments_ == []
    assert segments("One. Two!\nThree?") == {"one", "two", "three"}


def test_near_duplicates_are_not_shown(council_records):
    copy = dict(
        council_records[0], id="copy-of-first", body=council_records[0]["body"] + " Updated."
    )
    records = [*council_records, copy]
    first = council_records[0]["id"]
    rc = RelatedContent().fit(records)
    assert "copy-of-first" not in [r.id for r in rc.related(first, n=10)]
    assert first not in [r.id for r in rc.related("copy-of-first", n=10)]
    assert any("near-duplicate" in note for note in rc.explain(first, "copy-of-first").notes)
    shown = RelatedContent(near_duplicates="show").fit(records)
    assert shown.related(first, n=1)[0].id == "copy-of-first"
    assert (
        RelatedContent(near_duplicate_threshold=None).fit(records).related(first, n=1)[0].id
        == "copy-of-first"
    )


def test_collapse_shows_one_of_a_group(council_records):
    first = council_records[0]["id"]
    other = "missed-bin-reporting"
    base = next(r for r in council_records if r["id"] == other)
    copies = [dict(base, id=f"{other}-{i}", body=base["body"] + f" Copy {i}.") for i in range(3)]
    records = [*council_records, *copies]
    hide = RelatedContent().fit(records)
    collapse = RelatedContent(near_duplicates="collapse").fit(records)
    group = {other, *(c["id"] for c in copies)}
    assert len(group & {r.id for r in hide.related(first, n=10)}) > 1
    listed = [r.id for r in collapse.related(first, n=10)]
    assert len(group & set(listed)) == 1
    assert len(listed) == 10
    # the stored lists are what the on-demand computation gives
    assert listed == [r.id for r in collapse.related(first, n=10, exclude=["no-such-id"])]


@pytest.mark.parametrize("mode", ["hide", "collapse", "show"])
def test_near_duplicate_modes_round_trip(tmp_path, tiny_corpus, mode):
    records = tiny_corpus + [{**tiny_corpus[0], "id": "copy"}]
    rc = RelatedContent(near_duplicates=mode).fit(records)
    rc.save(tmp_path / mode)
    assert [r.id for r in load(tmp_path / mode).related(1)] == [r.id for r in rc.related(1)]
