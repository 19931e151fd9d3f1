"""WordPress in: export files (WXR) and REST API pages, read by read_articles and the CLI."""

from __future__ import annotations

import gzip
import io
import json
import sys

import pytest

from relatedcontent import CorpusError, DependencyError, FieldMap, load, read_articles
from relatedcontent.cli import main
from relatedcontent.ingest.files import detect_format
from relatedcontent.ingest.wordpress import _wxr_items

from ._wordpress import EXPORT, FOOTER, HEADER, item, rest_page, rest_post, wxr_export

UPLOADS = "https://news.riverside.example/wp-content/uploads"


@pytest.fixture
def export(tmp_path):
    path = tmp_path / "export.xml"
    path.write_text(EXPORT, encoding="utf-8")
    return path


def cli(*argv: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    code = main(list(argv), stdout=out, stderr=err)
    return code, out.getvalue(), err.getvalue()


def line_of(text: str, needle: str) -> int:
    return text[: text.index(needle)].count("\n") + 1


# --- WXR ---------------------------------------------------------------------


def test_wxr_reads_published_posts_only(export):
    articles = {a.id: a for a in read_articles(export)}
    # not the draft (14), the page (15), the password-protected post (16), the attachments
    assert list(articles) == [11, 12, 13, 17, 18]


def test_wxr_maps_fields(export):
    articles = {a.id: a for a in read_articles(export)}
    bins = articles[11]
    assert bins.title == "Bin collections move for the holidays"
    assert bins.url == "https://news.riverside.example/bin-collections-move-for-the-holidays/"
    assert bins.published == "2026-03-02T09:30:00Z"  # wp:post_date_gmt, UTC
    assert bins.categories == ("Waste & Recycling", "News")  # &amp; in the export decoded
    assert bins.tags == ("bins", "holidays")
    # HTML and the caption shortcode cleaned, the caption's text kept
    assert "[caption" not in bins.body
    assert "<p>" not in bins.body
    assert "Green bins at the depot" in bins.body
    assert "by 7am & check" in bins.body
    assert bins.extra == {
        "content_type": "post",
        "author": "Press Office",  # the display name of dc:creator's login
        "excerpt": "Collections move by a day.",
        "image_alt": "Green wheelie bins in a row",
    }
    # the featured image, not the body's first <img>
    assert bins.image == f"{UPLOADS}/bins.jpg"  # attachment 20, before the post


def test_wxr_featured_image_before_or_after_and_fallbacks(export):
    articles = {a.id: a for a in read_articles(export)}
    assert articles[12].image == f"{UPLOADS}/centre.jpg"  # attachment 21, after the post
    assert "image_alt" not in articles[12].extra
    assert articles[13].image == f"{UPLOADS}/garden.jpg"  # no featured image: the body's <img>
    assert articles[17].image is None
    # wp:post_date_gmt is the 0000-00-00 placeholder: wp:post_date, as written
    assert articles[17].published == "2026-02-20T08:00:00"


def test_wxr_options_widen_the_selection(export):
    def ids(**options):
        return [a.id for a in read_articles(export, **options)]

    assert ids(post_types=("post", "page")) == [11, 12, 13, 15, 17, 18]
    assert ids(post_types="page") == [15]
    assert ids(post_statuses=("publish", "draft")) == [11, 12, 13, 14, 17, 18]
    assert ids(include_protected=True) == [11, 12, 13, 16, 17, 18]
    drafts = {a.id: a for a in read_articles(export, post_statuses=["draft"])}
    assert drafts[14].published == "2026-03-02T09:30:00"  # no GMT date yet: the local one
    pages = {a.id: a for a in read_articles(export, post_types=["page"])}
    assert pages[15].extra["content_type"] == "page"


def test_wxr_field_map_applies_to_the_standard_names(export):
    fm = FieldMap(body=("excerpt", "body"))
    (bins,) = [a for a in read_articles(export, fm) if a.id == 11]
    assert bins.body.startswith("Collections move by a day.\n\n")


def test_wxr_format_by_name_gzip_and_override(tmp_path, export):
    assert detect_format("export.xml") == "wxr"
    assert detect_format("export.XML.gz") == "wxr"
    with gzip.open(tmp_path / "export.xml.gz", "wt", encoding="utf-8") as handle:
        handle.write(EXPORT)
    assert [a.id for a in read_articles(tmp_path / "export.xml.gz")] == [11, 12, 13, 17, 18]
    other = tmp_path / "wordpress.txt"
    other.write_text(EXPORT, encoding="utf-8")
    assert len(list(read_articles(other, format="wxr"))) == 5


def test_wxr_items_are_streamed(tmp_path):
    """Items come one by one as the file is parsed: the first before a fault further on."""
    path = tmp_path / "cut.xml"
    path.write_text(HEADER + item(1, "One", "<p>x</p>") + "x" * 100_000 + "<oops>", "utf-8")
    items = _wxr_items(path, "cut.xml", pytest.importorskip("defusedxml.ElementTree"), {})
    first = next(items)
    assert first.fields["wp:post_id"] == "1"
    assert first.line == HEADER.count("\n") + 1  # the <item> line
    with pytest.raises(CorpusError, match="malformed XML"):
        next(items)


def test_cli_build_from_a_wordpress_export(tmp_path, council_records):
    (tmp_path / "export.xml").write_text(wxr_export(council_records), encoding="utf-8")
    code, _, err = cli("build", str(tmp_path / "export.xml"), "-o", str(tmp_path / "idx"))
    assert code == 0, err
    model = load(tmp_path / "idx")
    assert len(model) == 64  # the draft was left out
    assert model.ids_[:2] == [100, 101]
    items = model.related(100, n=5)
    assert len(items) == 5
    assert all(isinstance(i.id, int) and i.url.startswith("https://") for i in items)
    assert items[0].extra["author"] == "Press Office"
    code, out, _ = cli("related", str(tmp_path / "idx"), "100", "--json")
    assert code == 0
    assert json.loads(out)["id"] == 100


def test_cli_wordpress_options(tmp_path, export):
    code, _, err = cli(
        "build", str(export), "-o", str(tmp_path / "idx"), "--quiet",
        "--post-types", "post,page", "--post-statuses", "publish,draft", "--include-protected",
    )  # fmt: skip
    assert code == 0, err
    assert sorted(load(tmp_path / "idx").ids_) == [11, 12, 13, 14, 15, 16, 17, 18]
    code, _, err = cli("build", str(export), "-o", str(tmp_path / "x"), "--local-cluster", "1",
                       "--post-types", "page")  # fmt: skip
    assert code == 2
    assert "local builds" in err


# --- errors ------------------------------------------------------------------


def test_malformed_xml_names_file_and_line(tmp_path):
    text = EXPORT.replace("<wp:post_id>12</wp:post_id>", "<wp:post_id>12</wp:postid>")
    (tmp_path / "bad.xml").write_text(text, encoding="utf-8")
    line = line_of(text, "</wp:postid>")
    with pytest.raises(
        CorpusError, match=rf"bad\.xml, line {line}: malformed XML \(mismatched tag"
    ):
        list(read_articles(tmp_path / "bad.xml"))
    code, _, err = cli("build", str(tmp_path / "bad.xml"), "-o", str(tmp_path / "idx"), "--quiet")
    assert code == 1
    assert err.count("\n") == 1
    assert f"bad.xml, line {line}: malformed XML" in err
    assert not (tmp_path / "idx").exists()


BOMB = """<?xml version="1.0"?>
<!DOCTYPE rss [
  <!ENTITY lol "lol">
  <!ENTITY lol1 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
  <!ENTITY lol2 "&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;">
  <!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">
  <!ENTITY lol4 "&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;">
  <!ENTITY lol5 "&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;">
  <!ENTITY lol6 "&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;">
  <!ENTITY lol7 "&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;">
  <!ENTITY lol8 "&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;">
  <!ENTITY lol9 "&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;">
]>
<rss version="2.0" xmlns:wp="http://wordpress.org/export/1.2/"><channel>
<item><title>&lol9;</title><wp:post_id>1</wp:post_id></item>
</channel></rss>
"""


def test_entity_expansion_bomb_is_refused(tmp_path):
    (tmp_path / "bomb.xml").write_text(BOMB, encoding="utf-8")
    with pytest.raises(CorpusError) as info:
        list(read_articles(tmp_path / "bomb.xml"))
    message = str(info.value)
    assert "\n" not in message
    assert message.startswith(
        f"{tmp_path / 'bomb.xml'}, line 3: refused: the XML declares an entity"
    )
    code, _, err = cli("build", str(tmp_path / "bomb.xml"), "-o", str(tmp_path / "idx"), "--quiet")
    assert code == 1
    assert err.count("\n") == 1
    assert "refused" in err


def test_other_xml_and_bad_items_are_named(tmp_path):
    (tmp_path / "feed.xml").write_text('<?xml version="1.0"?>\n<feed><entry/></feed>', "utf-8")
    with pytest.raises(CorpusError, match=r"feed\.xml, line 2: not a WordPress export"):
        list(read_articles(tmp_path / "feed.xml"))
    text = EXPORT.replace("<wp:post_id>13</wp:post_id>", "<wp:post_id></wp:post_id>")
    (tmp_path / "noid.xml").write_text(text, encoding="utf-8")
    line = line_of(text, "<title>Garden waste") - 1
    with pytest.raises(CorpusError, match=rf"line {line}, field 'wp:post_id': item has no numeric"):
        list(read_articles(tmp_path / "noid.xml"))
    text = EXPORT.replace("2026-02-20 08:00:00", "20 February")
    (tmp_path / "date.xml").write_text(text, encoding="utf-8")
    with pytest.raises(CorpusError, match=r"field 'wp:post_date': '20 February' is not a date"):
        list(read_articles(tmp_path / "date.xml"))
    text = HEADER + item(11, "One", "x") + item(11, "Two", "y") + FOOTER
    (tmp_path / "twice.xml").write_text(text, encoding="utf-8")
    code, _, err = cli("build", str(tmp_path / "twice.xml"), "-o", str(tmp_path / "idx"), "--quiet")
    assert code == 1
    assert "duplicate article ids: 11" in err


def test_missing_defusedxml_names_the_extra(export, monkeypatch):
    monkeypatch.setitem(sys.modules, "defusedxml", None)
    monkeypatch.setitem(sys.modules, "defusedxml.ElementTree", None)
    with pytest.raises(DependencyError) as info:
        read_articles(export)  # at once, not when iterating
    assert str(info.value) == (
        "reading a WordPress export (.xml) needs defusedxml: "
        "pip install 'relatedcontent[wordpress]'"
    )
    assert isinstance(info.value, ImportError)
    code, _, err = cli("build", str(export), "-o", str(export.parent / "idx"), "--quiet")
    assert code == 1
    assert err.count("\n") == 1
    assert "pip install 'relatedcontent[wordpress]'" in err
    page = export.parent / "page-1.json"  # REST API pages need no extra
    page.write_text(json.dumps(rest_posts(embed=True)), encoding="utf-8")
    assert [a.id for a in read_articles(page)] == [31, 32]


# --- REST API ----------------------------------------------------------------

WASTE, NEWS = (3, "Waste & Recycling"), (4, "News")
BINS, GARDEN = (7, "bins"), (8, "garden")


def rest_posts(embed: bool) -> list[dict]:
    return [
        rest_post(
            31,
            "Bin day moves",
            '<p>Bin day moves [gallery ids="1,2"] to Tuesday.</p>',
            embed=embed,
            excerpt="Bin day moves to Tuesday &hellip;",
            categories=[WASTE, NEWS],
            tags=[BINS],
            media=(41, f"{UPLOADS}/bin-day.jpg"),
        ),
        rest_post(32, "Garden waste", "<p>Garden waste bins</p>", embed=embed, tags=[GARDEN, BINS]),
        rest_post(33, "Draft", "<p>Bins draft</p>", embed=embed, status="draft", date_gmt=None),
        rest_post(34, "Staff only", "", embed=embed, protected=True),
        rest_post(35, "Contact", "<p>Contact us</p>", embed=embed, post_type="page"),
    ]


def test_rest_page_with_embed(tmp_path):
    (tmp_path / "page-1.json").write_text(json.dumps(rest_posts(embed=True)), encoding="utf-8")
    articles = {a.id: a for a in read_articles(tmp_path / "page-1.json")}
    assert list(articles) == [31, 32]  # published posts only
    bins = articles[31]
    assert bins.title == "Bin day moves"
    assert bins.body == "Bin day moves to Tuesday."  # HTML and the shortcode removed
    assert bins.url == "https://news.riverside.example/bin-day-moves/"
    assert bins.published == "2026-03-02T09:30:00Z"
    assert bins.categories == ("Waste & Recycling", "News")
    assert bins.tags == ("bins",)
    assert bins.image == f"{UPLOADS}/bin-day.jpg"
    assert bins.extra == {
        "content_type": "post",
        "image_alt": "A picture",
        "author": "Press Office",
        "excerpt": "Bin day moves to Tuesday \u2026",
    }
    assert articles[32].tags == ("garden", "bins")
    assert articles[32].categories == ()
    more = [
        a.id for a in read_articles(tmp_path / "page-1.json", post_statuses=["publish", "draft"])
    ]
    assert more == [31, 32, 33]
    every = read_articles(
        tmp_path / "page-1.json", post_types=["post", "page"], include_protected=True
    )
    assert [a.id for a in every] == [31, 32, 34, 35]


def test_rest_page_without_embed_keeps_ids_as_extra_fields(tmp_path):
    (tmp_path / "page-2.json").write_text(json.dumps(rest_posts(embed=False)), encoding="utf-8")
    bins, garden = read_articles(tmp_path / "page-2.json")
    assert bins.tags == ()
    assert bins.categories == ()
    assert bins.extra["category_ids"] == [3, 4]
    assert bins.extra["tag_ids"] == [7]
    assert bins.extra["featured_media"] == 41
    assert bins.image is None
    assert "author" not in bins.extra
    assert garden.extra["tag_ids"] == [8, 7]
    assert "category_ids" not in garden.extra


def test_cli_build_from_rest_pages(tmp_path, council_records):
    (tmp_path / "page-1.json").write_text(rest_page(council_records[:40], embed=True), "utf-8")
    page_2 = rest_page(council_records[40:], embed=False, first_id=140)
    (tmp_path / "page-2.json").write_text(page_2, "utf-8")
    code, _, err = cli(
        "build", str(tmp_path / "page-1.json"), str(tmp_path / "page-2.json"),
        "-o", str(tmp_path / "idx"), "--quiet",
    )  # fmt: skip
    assert code == 0, err
    model = load(tmp_path / "idx")
    assert len(model) == 64
    assert len(model.related(100, n=5)) == 5
    assert len(model.related(150, n=5)) == 5


def test_rest_errors_are_named(tmp_path):
    error = {"code": "rest_post_invalid_page_number", "message": "The page number is too big.",
             "data": {"status": 400}}  # fmt: skip
    (tmp_path / "page-9.json").write_text(json.dumps(error), encoding="utf-8")
    with pytest.raises(CorpusError, match=r"page-9\.json: a WordPress REST API error, not posts: "
                       "rest_post_invalid_page_number: The page number is too big."):  # fmt: skip
        list(read_articles(tmp_path / "page-9.json"))
    posts = [*rest_posts(embed=True)[:2], {"id": 9, "title": "plain"}]
    (tmp_path / "mixed.json").write_text(json.dumps(posts), encoding="utf-8")
    with pytest.raises(CorpusError, match=r"mixed\.json, line 3: not a WordPress post object"):
        list(read_articles(tmp_path / "mixed.json"))
    posts = rest_posts(embed=False)[:1]
    posts[0]["date_gmt"] = "soon"
    (tmp_path / "date.json").write_text(json.dumps(posts), encoding="utf-8")
    with pytest.raises(CorpusError, match=r"line 1, field 'date_gmt': 'soon' is not a date"):
        list(read_articles(tmp_path / "date.json"))


def test_plain_json_with_title_strings_is_not_taken_for_wordpress(tmp_path):
    records = [{"id": 1, "title": "Bins", "body": "x", "status": "draft", "type": "page"}]
    (tmp_path / "a.json").write_text(json.dumps(records), encoding="utf-8")
    (article,) = read_articles(tmp_path / "a.json")
    assert article.extra == {"status": "draft", "type": "page"}
