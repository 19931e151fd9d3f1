from __future__ import annotations

import pytest

from relatedcontent import Article, CorpusError, FieldMap
from relatedcontent.ingest.articles import build_corpus, iter_articles, to_article


def test_mapping_to_article_keeps_extra_fields():
    a = to_article(
        {
            "id": "a1",
            "title": "T",
            "body": "<p>Hello &amp; bye</p>",
            "url": "/a1",
            "tags": ["x", "y"],
            "section": "news",
            "published": "2026-03-14T09:30:00Z",
            "language": "en",
            "author": "Press office",
            "image": "/i.png",
        }
    )
    assert a.body == "Hello & bye"
    assert a.tags == ("x", "y")
    assert a.extra == {"author": "Press office"}
    assert a.image == "/i.png"
    assert a.published == "2026-03-14T09:30:00Z"


def test_the_image_is_the_field_or_the_bodys_first_picture():
    record = {"id": 1, "body": '<p>Bins <img src="/a.jpg" alt="A bin"> out</p><img src="/b.jpg">'}
    assert to_article(record).image == "/a.jpg"
    assert to_article({**record, "image": "/own.jpg"}).image == "/own.jpg"
    assert to_article({"id": 2, "body": "no picture"}).image is None
    assert to_article({"id": 3, "body": "<script>x = '<img src=/t.gif>'</script>Hi"}).image is None


def test_shortcodes_leave_text_and_teasers():
    body = (
        '[caption id="attachment_5" align="alignleft" width="300"]<img src="/g.jpg" /> '
        'Garden waste bins[/caption] Collections [gallery ids="1,2,3"] resume '
        "[embed]https://video.example/x[/embed] in [b]May[/b]. See note [1] [sic]."
    )
    article = to_article({"id": 1, "title": "[b]Bins[/b] back", "body": body})
    assert article.body == "Garden waste bins Collections resume in May. See note [1] [sic]."
    assert article.title == "Bins back"
    assert article.image == "/g.jpg"


def test_field_map_for_cms_export():
    fm = FieldMap(
        id="post_id",
        title="post_title",
        body=("excerpt", "post_content"),
        url="permalink",
        tags="post_tags",
    )
    a = to_article(
        {
            "post_id": 7,
            "post_title": "Hi",
            "excerpt": "Short.",
            "post_content": "Long text.",
            "permalink": "/p/7",
            "post_tags": "bins, recycling",
        },
        fm,
    )
    assert a.id == 7
    assert a.body == "Short.\n\nLong text."
    assert a.url == "/p/7"
    assert a.tags == ("bins", "recycling")
    assert a.extra == {}


def test_article_objects_are_cleaned():
    a = to_article(Article(id="x", title="<b>Bold</b>", body="<p>Para</p>"))
    assert (a.title, a.body) == ("Bold", "Para")


@pytest.mark.parametrize("bad_id", [None, "", "  ", True, [1], 1.5])
def test_bad_ids_are_named(bad_id):
    with pytest.raises(CorpusError, match="id") as info:
        to_article({"id": bad_id, "title": "t"}, source="f.jsonl", line=3)
    assert info.value.line == 3
    assert "f.jsonl" in str(info.value)
    assert "line 3" in str(info.value)


def test_integral_float_id_becomes_int():
    assert to_article({"id": 4.0}).id == 4


def test_missing_id_names_the_record():
    with pytest.raises(CorpusError, match=r"line 2.*no id"):
        list(iter_articles([{"id": 1}, {"title": "no id here"}]))


def test_duplicate_ids_are_all_named():
    articles = list(iter_articles([{"id": 1}, {"id": 2}, {"id": 1}, {"id": "b"}, {"id": "b"}]))
    with pytest.raises(CorpusError, match=r"duplicate article ids: 1, 'b'"):
        build_corpus(articles)


def test_an_id_is_matched_by_its_text():
    with pytest.raises(CorpusError, match=r"7 \(also written '7'\).*same article"):
        build_corpus(iter_articles([{"id": 7}, {"id": "7"}]))
    articles = build_corpus(iter_articles([{"id": 7}, {"id": "07"}, {"id": "seven"}]))
    assert [a.id for a in articles] == [7, "07", "seven"]


def test_bad_date_and_bad_tags():
    with pytest.raises(CorpusError, match="published"):
        to_article({"id": 1, "published": "last Tuesday"})
    with pytest.raises(CorpusError, match="tags"):
        to_article({"id": 1, "tags": [{"nested": 1}]})
    with pytest.raises(CorpusError, match="title"):
        to_article({"id": 1, "title": {"a": 1}})


def test_single_mapping_is_not_a_corpus():
    with pytest.raises(CorpusError, match="iterable"):
        list(iter_articles({"id": 1, "title": "x"}))
    with pytest.raises(CorpusError, match="mapping"):
        list(iter_articles(["just a string"]))


def test_to_dict_round_trip():
    a = to_article({"id": 1, "title": "T", "body": "B", "tags": ["t"], "extra_field": 3})
    d = a.to_dict()
    assert d == {"id": 1, "title": "T", "body": "B", "tags": ["t"], "extra_field": 3}
