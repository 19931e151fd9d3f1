"""The server's parts in-process: rendering, explanations, the index state, write plumbing, CLI."""

from __future__ import annotations

import io
import subprocess
import sys
import threading

import pytest

from relatedcontent import Recommendation, RelatedContent, UnknownArticleError, load
from relatedcontent.cli import main

from ._server import TOKEN, require_server_stack

require_server_stack()
from fastapi.testclient import TestClient  # noqa: E402

from relatedcontent.server import create_app  # noqa: E402
from relatedcontent.server._editor_views import describe  # noqa: E402
from relatedcontent.server._errors import ApiError  # noqa: E402
from relatedcontent.server._render import render_fragment, safe_href  # noqa: E402
from relatedcontent.server._state import IndexState  # noqa: E402

AUTH = {"Authorization": f"Bearer {TOKEN}"}


def run_cli(*argv):
    out, err = io.StringIO(), io.StringIO()
    return main(list(argv), stdout=out, stderr=err), out.getvalue(), err.getvalue()


# -- import isolation and the serve command ---------------------------------------------


def test_import_relatedcontent_loads_no_server_stack():
    code = (
        "import sys, relatedcontent, relatedcontent.cli; "
        "bad = [m for m in ('fastapi', 'starlette', 'uvicorn', 'jinja2') if m in sys.modules]; "
        "assert not bad, bad"
    )
    subprocess.run([sys.executable, "-c", code], check=True, timeout=120)


def test_serve_without_the_extra_says_how_to_install():
    code = (
        "import sys; sys.modules['fastapi'] = None; from relatedcontent.cli import main; "
        "sys.exit(main(['serve', '--demo']))"
    )
    proc = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=False
    )
    assert proc.returncode == 1
    assert "pip install 'relatedcontent[server]'" in proc.stderr
    assert "fastapi" in proc.stderr


@pytest.mark.parametrize(
    ("argv", "env", "message"),
    [
        (["serve"], {}, "give an INDEX folder or --demo"),
        (["serve", "idx", "--demo"], {}, "give an INDEX folder or --demo"),
        (["serve", "--demo"], {"RELATEDCONTENT_TOKEN": "short"}, "too short"),
        (["serve", "--demo", "--token-file", "/no/such/file"], {}, "cannot read it"),
    ],
)
def test_serve_usage_errors(argv, env, message, monkeypatch):
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    code, _, err = run_cli(*argv)
    assert code == 2
    assert message in err


def test_serve_bad_options_exit_2():
    assert run_cli("serve", "--demo", "--port", "99999")[0] == 2
    assert run_cli("serve", "--demo", "--max-body", "lots")[0] == 2


def test_empty_token_file_is_refused(tmp_path):
    token_file = tmp_path / "token"
    token_file.write_text("\n", encoding="utf-8")
    code, _, err = run_cli("serve", "--demo", "--token-file", str(token_file))
    assert code == 2
    assert "is empty" in err


# -- rendering ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("https://example.org/a?b=1&c=2", "https://example.org/a?b=1&c=2"),
        ("/news/1", "/news/1"),
        ("news/1", "news/1"),
        ("javascript:alert(1)", None),
        (" JaVaScRiPt:alert(1)", None),
        ("java\tscript:alert(1)", None),
        ("data:text/html,<b>", None),
        ("vbscript:x", None),
        ("", None),
        (None, None),
    ],
)
def test_safe_href(url, expected):
    assert safe_href(url) == expected


def test_fragment_escapes_everything():
    item = Recommendation(
        id='x"><script>',
        score=0.5,
        title="<script>alert(1)</script> & co",
        url='https://e.org/?a=1&b="2"',
        teaser="<img src=x onerror=alert(1)>",
    )
    html = render_fragment("<id>", [item], heading="<i>More</i>")
    assert "<script" not in html
    assert "<img" not in html
    assert "<i>" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt; &amp; co" in html
    assert 'href="https://e.org/?a=1&amp;b=&#34;2&#34;"' in html
    assert 'data-rc-id="x&#34;&gt;&lt;script&gt;"' in html
    assert 'aria-label="Read more: &lt;script&gt;' in html


def test_thumbnail_urls_are_escaped_and_checked_like_links():
    def item(number, image, url="/news/a"):
        return Recommendation(
            id=number, score=0.5, title=f"Item {number}", url=url, teaser="", image=image
        )

    html = render_fragment(
        "a",
        [
            item(1, 'https://e.org/x.png" onerror="alert(1)'),
            item(2, "data:image/svg+xml,<svg onload=alert(1)>"),
            item(3, " JaVaScRiPt:alert(1)"),
            item(4, "//cdn.example.org/x.png"),
            item(5, "thumbs/5.png", url=None),
            item(6, None),
            item(7, ""),
        ],
    )
    assert 'src="https://e.org/x.png&#34; onerror=&#34;alert(1)"' in html
    assert "data:" not in html
    assert "alert(1)>" not in html
    assert "JaVaScRiPt" not in html
    assert html.count("<img ") == 3  # items 1, 4 and 5; none for the others
    assert '<a class="rc-thumb" href="/news/a" tabindex="-1" aria-hidden="true">' in html
    assert '<span class="rc-thumb" aria-hidden="true"><img class="rc-image" src="thumbs/5.png"' in (
        html
    )
    assert 'alt="Item 4" width="160" height="90" loading="lazy" decoding="async">' in html


def test_the_stylesheet_gives_thumbnails_the_box_of_their_attributes():
    import re
    from fractions import Fraction

    from relatedcontent.server._render import TEMPLATES, THUMBNAIL_SIZE

    css = (TEMPLATES.parent / "static" / "related.css").read_text(encoding="utf-8")
    (rule,) = re.findall(r"\.rc-related \.rc-image \{([^}]*)\}", css)
    declarations = dict(
        (part.split(":", 1)[0].strip(), part.split(":", 1)[1].strip())
        for part in rule.split(";")
        if part.strip()
    )
    ratio = [int(x) for x in declarations["aspect-ratio"].split("/")]
    assert Fraction(*ratio) == Fraction(*THUMBNAIL_SIZE)
    assert declarations["object-fit"] == "cover"
    assert declarations["height"] == "auto"  # the width and the ratio make the height
    html = render_fragment("a", [Recommendation(1, 0.5, "A", "/a", "", image="/a.png")])
    assert f'width="{THUMBNAIL_SIZE[0]}" height="{THUMBNAIL_SIZE[1]}"' in html


def test_the_documented_markup_is_the_rendered_one():
    import re
    from pathlib import Path

    ops = Path(__file__).resolve().parents[1] / "docs" / "operations.md"
    (documented,) = re.findall(r"## The HTML block\n.*?```html\n(.*?)```", ops.read_text(), re.S)
    item = Recommendation(
        "{item id}", 0.5, "{title}", "https://e.org/{url}", "{teaser}", image="/{image}"
    )
    rendered = render_fragment("{id}", [item])
    rendered = re.sub(r"rc-heading-[0-9a-f]{10}", "rc-heading-{key}", rendered)
    rendered = rendered.replace("https://e.org/{url}", "{url}").replace("/{image}", "{image}")
    assert rendered.split() == documented.split()


def test_editor_shows_thumbnails_and_the_default_image(council_records):
    records = [
        dict(r, image="/images/a.png") if n == 1 else r for n, r in enumerate(council_records)
    ]
    model = RelatedContent(default_image="/images/default.png").fit(records)
    client = TestClient(create_app(model))
    page = client.get("/", params={"id": records[0]["id"], "n": 5}).text
    assert page.count('<img class="ed-thumb"') == 5
    assert page.count('<img class="rc-image"') == 5  # the readers' block
    assert page.count('src="/images/default.png"') == 2 * (
        5 - [i.id for i in model.related(records[0]["id"])].count(records[1]["id"])
    )
    fragment = client.get(f"/related/{records[0]['id']}.html").text
    assert fragment.count('src="/images/default.png"') + fragment.count('src="/images/a.png"') == 5


def test_empty_list_gives_a_hidden_block():
    html = render_fragment("a", [])
    assert 'class="rc-related rc-empty"' in html
    assert "hidden" in html
    assert "rc-item" not in html


# -- explanations -------------------------------------------------------------------------


def test_explanations_are_the_librarys(council_records):
    model = RelatedContent().fit(council_records)
    client = TestClient(create_app(model))
    source = "bin-collection-changes-christmas"
    data = client.get(f"/related/{source}", params={"n": 2, "explain": "true"}).json()
    for item in data["related"]:
        assert item["explanation"] == {
            "source": "explain",
            **model.explain(source, item["id"]).to_dict(),
        }
    why = model.explain(source, data["related"][0]["id"]).to_dict()
    lines = dict(describe(why))
    assert lines["Shared terms"].startswith(why["shared_terms"][0]["term"])
    page = client.get("/", params={"id": source}).text
    assert "Shared terms" in page


# -- read details in-process ---------------------------------------------------------------


def test_int_ids_fall_back_from_url_text(tiny_corpus):
    client = TestClient(create_app(RelatedContent().fit(tiny_corpus)))
    response = client.get("/related/1")
    assert response.status_code == 200
    assert response.json()["id"] == 1
    assert client.get("/related/1.html").status_code == 200
    assert client.get("/search", params={"q": "1"}).json()["results"][0]["id"] == 1
    assert client.get("/related/11").status_code == 404


def test_related_options_pass_through(council_records):
    model = RelatedContent().fit(council_records)
    client = TestClient(create_app(model))
    base = "/related/bin-collection-changes-christmas"
    first = client.get(base, params={"n": 3}).json()["related"][0]["id"]
    filtered = client.get(base, params={"n": 3, "exclude": first}).json()["related"]
    assert first not in [i["id"] for i in filtered]
    assert len(filtered) == 3
    got = client.get(base, params={"min_score": "0.3", "fallback": "false"}).json()["related"]
    assert got
    assert got[-1]["score"] >= 0.3
    bad = client.get(base, params={"min_score": "lots"})
    assert bad.status_code == 422
    assert bad.json()["field"] == "query.min_score"
    both = client.get(base, params={"include": first, "exclude": first})
    assert both.status_code == 422
    assert "cannot be used together" in both.json()["message"]
    names = {
        p["name"]
        for p in client.get("/openapi.json").json()["paths"]["/related/{article_id}"]["get"][
            "parameters"
        ]
    }
    assert {"n", "explain", "exclude", "min_score", "same_section", "half_life"} <= names


# -- writes, in-process (the incremental API of RelatedContent) -----------------------------


@pytest.fixture
def writable(tmp_path, council_records):
    RelatedContent().fit(council_records[:20]).save(tmp_path / "idx")
    model = load(tmp_path / "idx", mmap=True)
    return TestClient(create_app(model, tmp_path / "idx", token=TOKEN)), tmp_path / "idx"


ARTICLE = {
    "title": "Christmas tree collection",
    "body": "Christmas trees are collected with the bins.",
    "tags": ["bins"],
}


def test_writes_without_a_configured_token_are_403(council_records):
    client = TestClient(create_app(RelatedContent().fit(council_records[:20])))
    response = client.put("/articles/new", json=ARTICLE, headers=AUTH)
    assert response.status_code == 403
    assert "RELATEDCONTENT_TOKEN" in response.json()["message"]
    assert "--token-file" in response.json()["message"]
    assert client.get("/related/bin-collection-changes-christmas").status_code == 200


def test_write_plumbing(writable):
    client, path = writable
    etag = client.get("/related/bin-collection-changes-christmas").headers["etag"]
    assert client.put("/articles/tree", json=ARTICLE).status_code == 401
    response = client.put("/articles/tree", json=ARTICLE, headers=AUTH)
    assert response.status_code == 201
    assert response.json()["generation"] == 1
    assert load(path).article("tree").title == ARTICLE["title"]
    assert client.get("/related/bin-collection-changes-christmas").headers["etag"] != etag
    assert "tree" in [
        i["id"]
        for i in client.get("/related/bin-collection-changes-christmas", params={"n": 20}).json()[
            "related"
        ]
    ]
    assert (
        client.put("/articles/tree", json={**ARTICLE, "id": "other"}, headers=AUTH).status_code
        == 422
    )
    assert (
        client.put("/articles/tree", json={**ARTICLE, "id": "tree"}, headers=AUTH).status_code
        == 200
    )
    bad = client.put("/articles/tree", json={**ARTICLE, "tags": [1.5]}, headers=AUTH)
    assert bad.status_code == 422
    assert bad.json()["field"] == "body.tags"
    assert client.put("/articles/tree", json=[1], headers=AUTH).status_code == 422
    assert client.delete("/articles/tree", headers=AUTH).status_code == 200
    assert client.delete("/articles/tree", headers=AUTH).status_code == 404
    assert "tree" not in load(path)
    batch = client.post(
        "/articles",
        json={"articles": [{**ARTICLE, "id": "a"}, {**ARTICLE, "id": "a"}]},
        headers=AUTH,
    )
    assert batch.status_code == 422
    assert batch.json()["error"] == "duplicate_ids"
    no_id = client.post("/articles", json={"articles": [ARTICLE]}, headers=AUTH)
    assert no_id.status_code == 422
    assert no_id.json()["field"] == "body.articles.0.id"
    assert client.get("/health").json()["generation"] == 3


def test_a_failed_write_changes_nothing(council_records, tmp_path):
    state = IndexState(RelatedContent().fit(council_records[:20]), tmp_path / "idx")
    before = state.snapshot

    def change(model, current):
        model.remove(["bin-collection-changes-christmas"])
        raise ApiError(409, "refused", "no")

    with pytest.raises(ApiError, match="no"):
        state.write(change)
    assert state.snapshot is before
    assert "bin-collection-changes-christmas" in before.model
    assert not (tmp_path / "idx").exists()


def test_readers_never_see_a_write_in_progress(council_records, monkeypatch):
    state = IndexState(RelatedContent().fit(council_records[:20]), None)
    before = state.snapshot.model.related("garden-waste-subscriptions-open", n=19)
    applied, release = threading.Event(), threading.Event()
    copies = []
    real_copy = RelatedContent._copy
    monkeypatch.setattr(RelatedContent, "_copy", lambda self: copies.append(1) or real_copy(self))

    def change(model, current):
        model.remove(["bin-collection-changes-christmas"])
        applied.set()
        release.wait(timeout=60)
        return "done"

    with state.reading() as held:
        writer = threading.Thread(target=state.write, args=(change,))
        writer.start()
        try:
            assert applied.wait(timeout=60)
            with state.reading() as seen:  # the change is made on the spare, not yet live
                assert seen is held
                assert "bin-collection-changes-christmas" in seen.model
                assert len(seen.model) == 20
        finally:
            release.set()
            writer.join(timeout=60)
        assert "bin-collection-changes-christmas" not in state.snapshot.model
        assert state.snapshot.generation == 1
        assert state.snapshot.token != held.token
        # the replica this reader holds is not touched while it is held
        assert "bin-collection-changes-christmas" in held.model
        assert held.model.related("garden-waste-subscriptions-open", n=19) == before
    # Once its readers are gone, the old replica catches up and takes the next write:
    # no write after the first copies the model.
    for article_id in ("garden-waste-subscriptions-open", "fly-tipping-fines-rise"):
        state.write(lambda model, current, a=article_id: model.remove([a]))
    assert copies == [1]
    direct = RelatedContent().fit(council_records[:20])
    direct.remove(["bin-collection-changes-christmas"])
    direct.remove(["garden-waste-subscriptions-open"])
    direct.remove(["fly-tipping-fines-rise"])
    live = state.snapshot.model
    assert live.ids_ == direct.ids_
    for article_id in direct.ids_:
        assert live.related(article_id, n=8) == direct.related(article_id, n=8)


def test_a_refused_write_keeps_the_spare(council_records, monkeypatch):
    state = IndexState(RelatedContent().fit(council_records[:20]), None)
    state.write(lambda model, current: model.remove(["bin-collection-changes-christmas"]))
    copies = []
    monkeypatch.setattr(RelatedContent, "_copy", lambda self: copies.append(1))
    with pytest.raises(UnknownArticleError):
        state.write(lambda model, current: model.remove(["no-such-article"]))
    state.write(lambda model, current: model.remove(["fly-tipping-fines-rise"]))
    assert copies == []
    assert len(state.snapshot.model) == 18


def test_successive_writes_equal_the_same_changes_made_directly(council_records, tmp_path):
    """Copy-on-write must not lose state between writes: compare with one model changed in place."""
    RelatedContent().fit(council_records[:40]).save(tmp_path / "idx")
    state = IndexState(load(tmp_path / "idx", mmap=True), tmp_path / "idx")
    direct = RelatedContent().fit(council_records[:40])
    extra = council_records[40:52]
    steps = [
        ("add", extra[:4]),
        ("remove", [council_records[0]["id"], extra[1]["id"]]),
        ("update", [{**extra[2], "title": "Garden waste and bin collections"}]),
        ("add", extra[4:12]),
        ("remove", [council_records[5]["id"]]),
        ("update", [{**council_records[6], "body": "Bins, recycling and garden waste."}]),
    ]
    for op, payload in steps:
        state.write(lambda model, current, op=op, payload=payload: getattr(model, op)(payload))
        getattr(direct, op)(payload)

    def lists(model):
        return {i: [(r.id, round(r.score, 9)) for r in model.related(i, n=8)] for i in model.ids_}

    assert lists(state.snapshot.model) == lists(direct)
    assert lists(load(tmp_path / "idx")) == lists(direct)  # and that is what was saved


def test_flat_copies_only_containers_of_atomic_values():
    from relatedcontent.index.state import flat_copy as _flat_copy

    ids = ["a", 1, None, ("x", 2)]
    assert _flat_copy(ids) == ids
    assert _flat_copy(ids) is not ids
    assert _flat_copy({"a": 1, 2: (1, "b")}) == {"a": 1, 2: (1, "b")}
    assert _flat_copy([["mutable"]]) is None
    assert _flat_copy([("a", ["mutable"])]) is None
    assert _flat_copy({"a": {"b": 1}}) is None
    assert _flat_copy(("a",)) is None  # not a list or dict: deep-copied as usual


def test_the_spare_is_made_before_the_first_write(council_records, monkeypatch):
    state = IndexState(RelatedContent().fit(council_records[:20]), None)
    copies = []
    real_copy = RelatedContent._copy
    monkeypatch.setattr(RelatedContent, "_copy", lambda self: copies.append(1) or real_copy(self))
    state.prepare_writes().join(timeout=60)
    assert copies == [1]
    state.write(lambda model, current: model.remove(["fly-tipping-fines-rise"]))
    assert copies == [1]
    assert "fly-tipping-fines-rise" not in state.snapshot.model
    assert state.snapshot.model.index_.growth is not None


def test_the_block_speaks_the_page_language(council_records):
    records = [dict(r, language="cy") if n == 0 else r for n, r in enumerate(council_records)]
    client = TestClient(create_app(RelatedContent().fit(records)))
    welsh_article, english_article = records[0]["id"], records[1]["id"]
    html = client.get(f"/related/{english_article}.html", params={"lang": "cy"}).text
    assert 'lang="cy" dir="ltr"' in html
    assert ">Darllen mwy</a>" in html
    assert "Efallai yr hoffech chi hefyd" in html
    # without lang=, the article's own language, else the index's
    assert 'lang="cy"' in client.get(f"/related/{welsh_article}.html").text
    assert ">Read more</a>" in client.get(f"/related/{english_article}.html").text
    html = client.get(
        f"/related/{english_article}.html", params={"lang": "ar", "read_more": "More"}
    ).text
    assert 'lang="ar" dir="rtl"' in html
    assert ">More</a>" in html
    bad = client.get(f"/related/{english_article}.html", params={"lang": "<script>"})
    assert bad.status_code == 422
    assert "lang" in bad.text
