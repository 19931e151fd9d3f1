"""Editorial controls of related(): one test per control, on the sample council site."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pytest

from relatedcontent import RelatedContent, load

BINS = "bin-collection-changes-christmas"
NOW = "2026-12-01"


@pytest.fixture(scope="module")
def site():
    import json
    from pathlib import Path

    path = (
        Path(__file__).resolve().parents[1]
        / "src"
        / "relatedcontent"
        / "data"
        / "council_news.jsonl"
    )
    records = [json.loads(line) for line in path.open(encoding="utf-8")]
    for i, record in enumerate(records):  # content types for the filter
        record["content_type"] = "guide" if i % 4 == 0 else "news"
    return records


@pytest.fixture
def rc(site):
    return RelatedContent().fit(site)


def ids(items):
    return [item.id for item in items]


def test_default_list_is_similar_text(rc):
    items = rc.related(BINS, n=5)
    assert len(items) == 5
    assert {i.reason for i in items} == {"similar text"}
    assert [i.score for i in items] == sorted((i.score for i in items), reverse=True)


def test_same_section_and_sections(rc):
    section = rc.article(BINS).section
    items = rc.related(BINS, n=5, same_section=True)
    assert {i.section for i in items} == {section}
    items = rc.related(BINS, n=4, sections=["schools", "planning"], fallback=False)
    assert items
    assert {i.section for i in items} <= {"schools", "planning"}


def test_content_types(rc):
    items = rc.related(BINS, n=5, content_types="guide")
    assert items
    assert all(i.extra["content_type"] == "guide" for i in items)


def test_filters_still_fill_the_list(rc):
    # the stored list has 10 items; a filter keeping one section reaches past them exactly
    section = rc.article(BINS).section
    others = sum(1 for i in rc.ids_ if rc.article(i).section == section and i != BINS)
    items = rc.related(BINS, n=others, same_section=True, fallback=False)
    assert len(items) == others == 7
    assert not set(ids(items)) & set(ids(rc.related(BINS, n=10, sections=["schools"])))


def test_include_exclude_ids(rc):
    first = rc.related(BINS, n=1)[0].id
    assert first not in ids(rc.related(BINS, n=5, exclude=[first]))
    keep = ids(rc.related(BINS, n=8))[5:8]
    assert ids(rc.related(BINS, n=3, include=keep, fallback=False)) == keep
    with pytest.raises(
        ValueError, match="'include' and 'exclude' parameters of RelatedContent.related"
    ):
        rc.related(BINS, include=keep, exclude=[first])


def test_tags_and_exclude_tags(rc):
    items = rc.related(BINS, n=3, tags=["bins"], fallback=False)
    assert items
    assert all("bins" in [t.casefold() for t in i.tags] for i in items)
    items = rc.related(BINS, n=10, exclude_tags=["bins"])
    assert all("bins" not in [t.casefold() for t in i.tags] for i in items)


def test_ignore_tags_is_not_exclude_tags(site):
    """ignore_tags: the tag stops counting as text; the articles having it can still be shown."""
    tagged = [
        dict(r, tags=[*r.get("tags", []), "featured"]) if i % 2 else r for i, r in enumerate(site)
    ]
    plain = RelatedContent().fit(site)
    counted = RelatedContent().fit(tagged)
    ignored = RelatedContent(ignore_tags=["Featured"]).fit(tagged)
    assert "featured" in counted.vectorizer_.vocabulary_
    assert "featured" not in ignored.vectorizer_.vocabulary_
    for article_id in plain.ids_[:10]:
        assert ids(ignored.related(article_id)) == ids(plain.related(article_id))
    shown = ids(ignored.related(BINS, n=10))
    assert any("featured" in ignored.article(i).tags for i in shown)
    hidden = ids(ignored.related(BINS, n=10, exclude_tags="featured"))
    assert not any("featured" in ignored.article(i).tags for i in hidden)


def test_languages_never_mix_unless_asked():
    records = [
        {
            "id": "en1",
            "title": "Bin collections",
            "body": "bins collected on friday",
            "language": "en",
        },
        {"id": "en2", "title": "Garden bins", "body": "garden bins collected", "language": "en"},
        {
            "id": "fr1",
            "title": "Bin collections",
            "body": "bins collected on friday poubelles",
            "language": "fr",
        },
        {"id": "xx", "title": "Bins", "body": "bins collected friday"},  # no language: matches any
    ]
    rc = RelatedContent(near_duplicates="show").fit(records)
    assert "fr1" not in ids(rc.related("en1", n=3))
    assert set(ids(rc.related("en1", n=3, fallback=False))) == {"en2", "xx"}
    assert "fr1" in ids(rc.related("en1", n=3, languages="any"))
    assert set(ids(rc.related("en1", n=3, languages=["fr"], fallback=False))) == {"fr1", "xx"}
    assert "en1" not in ids(rc.similar({"title": "Bins", "body": "bins friday", "language": "fr"}))


def test_max_age_and_allow_newer(rc):
    items = rc.related(BINS, n=5, max_age=60, now=NOW)
    assert items
    assert all(i.published >= "2026-10-02" for i in items if i.reason == "similar text")
    mine = rc.article(BINS).published
    items = rc.related(BINS, n=5, allow_newer=False, fallback=False)
    assert items
    assert all(i.published <= mine for i in items)
    with pytest.raises(
        ValueError, match="'max_age' parameter of RelatedContent.related must be a positive"
    ):
        rc.related(BINS, max_age=-3)


def test_half_life_prefers_recent(rc):
    plain = rc.related(BINS, n=10)
    decayed = rc.related(BINS, n=10, half_life=dt.timedelta(days=20), now=NOW)
    assert ids(plain) != ids(decayed)
    why_recent = sorted(decayed[:3], key=lambda i: i.published)
    assert why_recent[-1].published >= max(i.published for i in plain[:3])
    assert [i.score for i in decayed] == sorted((i.score for i in decayed), reverse=True)


def test_taxonomy_boost(rc):
    boosted = rc.related(BINS, n=10, taxonomy_boost=5.0)
    plain = rc.related(BINS, n=10)
    mine = {t.casefold() for t in rc.article(BINS).tags}

    def shares(items):
        return sum(bool(mine & {t.casefold() for t in i.tags}) for i in items[:3])

    assert shares(boosted) >= shares(plain)
    top = boosted[0]
    base = next(i.score for i in plain if i.id == top.id)
    assert top.score >= base


def test_min_score_and_fallback_labels(rc):
    items = rc.related(BINS, n=8, min_score=0.45)
    similar = [i for i in items if i.reason == "similar text"]
    assert similar
    assert all(i.score >= 0.45 for i in similar)
    rest = [i.reason for i in items[len(similar) :]]
    assert rest
    assert set(rest) <= {"fallback: same section", "fallback: most recent"}
    # same section first, most recent first within it
    same = [i for i in items if i.reason == "fallback: same section"]
    assert all(i.section == rc.article(BINS).section for i in same)
    assert [i.published for i in same] == sorted((i.published for i in same), reverse=True)
    assert rc.related(BINS, n=8, min_score=0.99, fallback=False) == []


def test_fallback_after_same_section_is_most_recent():
    records = [
        {
            "id": i,
            "title": f"t{i}",
            "body": f"w{i}x unique{i}",
            "section": "a" if i < 2 else "b",
            "published": f"2026-01-{10 + i:02d}",
        }
        for i in range(6)
    ]
    rc = RelatedContent(stop_words=None).fit(records)
    items = rc.related(0, n=4)
    assert [(i.id, i.reason) for i in items] == [
        (1, "fallback: same section"),
        (5, "fallback: most recent"),
        (4, "fallback: most recent"),
        (3, "fallback: most recent"),
    ]


def test_pins_first_with_expiry(rc):
    far = ids(rc.related(BINS, n=40))[-1]
    rc.pin(BINS, [far, "term-dates-2027-28-agreed"])
    items = rc.related(BINS, n=5)
    assert ids(items)[:2] == [far, "term-dates-2027-28-agreed"]
    assert [i.reason for i in items[:2]] == ["pinned", "pinned"]
    assert len(items) == 5
    assert len(set(ids(items))) == 5
    assert ids(rc.related(BINS, n=5, pins=False))[0] != far
    rc.pin(BINS, "missed-bin-reporting", expires="2026-06-01")
    assert "missed-bin-reporting" not in ids(rc.related(BINS, n=3, now=NOW))
    assert ids(rc.related(BINS, n=3, now="2026-05-01"))[2] == "missed-bin-reporting"
    assert rc.explain(BINS, far).reason == "pinned"
    rc.unpin(BINS)
    assert rc.related(BINS, n=1)[0].reason == "similar text"


def test_blocks_both_ways(rc):
    first = rc.related(BINS, n=1)[0].id
    rc.block(BINS, first)
    assert first not in ids(rc.related(BINS, n=20))
    assert BINS not in ids(rc.related(first, n=20))
    assert "never shown together" in " ".join(rc.explain(BINS, first).notes)
    rc.unblock(BINS, first)
    assert rc.related(BINS, n=1)[0].id == first


def test_editorial_data_and_policy_are_saved(tmp_path, rc):
    rc.pin(BINS, "term-dates-2027-28-agreed", expires=dt.date(2030, 1, 1))
    rc.block(BINS, "missed-bin-reporting")
    rc.set_policy(same_section=True, fallback=False)
    rc.save(tmp_path / "idx")
    loaded = load(tmp_path / "idx")
    assert loaded.editorial_.policy == {"same_section": True, "fallback": False}
    items = loaded.related(BINS, n=5)
    assert items[0].id == "term-dates-2027-28-agreed"
    assert items[0].reason == "pinned"
    assert all(i.section == loaded.article(BINS).section for i in items[1:])
    assert "missed-bin-reporting" not in ids(items)
    assert len(loaded.related(BINS, n=5, same_section=False)) == 5  # an option overrides the policy


@pytest.mark.parametrize(
    ("options", "error", "match"),
    [
        ({"half_life": "soon"}, ValueError, "'half_life' parameter"),
        ({"min_score": -1}, ValueError, "'min_score' parameter"),
        ({"same_section": "yes"}, ValueError, "'same_section' parameter"),
        ({"tags": 3}, ValueError, "'tags' parameter"),
        ({"now": "yesterday"}, ValueError, "'now' parameter"),
    ],
)
def test_bad_options_name_the_parameter(rc, options, error, match):
    with pytest.raises(error, match=match):
        rc.related(BINS, **options)


def test_unknown_option_and_similar_takes_options(rc):
    with pytest.raises(TypeError, match="unknown option"):
        rc.similar("bins", colour="red")
    items = rc.similar(
        {
            "title": "Bins at Christmas",
            "body": "bin collections over christmas",
            "section": "schools",
        },
        n=3,
        same_section=True,
    )
    assert {i.section for i in items} == {"schools"}


def test_copies_in_two_languages_are_two_editions_on_every_path():
    """Near-copy pairs are found within what a language may list, on every path alike.

    Articles of no language list both editions of a text published in English and
    German; the stored lists, deeper lists and ``related_all`` agree on keeping both.
    """
    words = "krxt vlomb zzyq prrt gnmph wxlt brzk qvvd tzpl mxrn".split()
    rng = np.random.default_rng(1)

    def record(article_id, language=None):
        chosen = list(rng.choice(words, 5))
        return {"id": article_id, "title": " ".join(chosen[:2]), "body": " ".join(chosen),
                "language": language}  # fmt: skip

    english = [record(f"en{i}", "en") for i in range(12)]
    german = [{**r, "id": f"de{i}", "language": "de"} for i, r in enumerate(english[:4])]
    plain = [record(f"any{i}") for i in range(10)]
    rc = RelatedContent(n_neighbors=4, near_duplicates="collapse", min_df=1, max_df=1.0).fit(
        english + german + plain
    )
    for article_id in [r["id"] for r in plain]:
        stored = ids(rc.related(article_id, n=4, fallback=False))
        assert stored == ids(rc.related(article_id, n=6, fallback=False))[:4]
    together = {i: ids(items) for i, items in rc.related_all(6)}
    assert together == {i: ids(rc.related(i, n=6)) for i in rc.ids_}
