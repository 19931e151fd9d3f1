"""The HTTP service over real HTTP: `relatedcontent serve` as a subprocess on loopback."""

from __future__ import annotations

import json
import re
import shutil
import threading
from html import escape
from html.parser import HTMLParser
from urllib.parse import quote

import pytest

from relatedcontent import load

from ._server import TOKEN, build_index, require_server_stack, running_server, special_records

require_server_stack()
import httpx  # noqa: E402

BINS = "bin-collection-changes-christmas"
MAX_BODY = 65536


def with_images(records: list[dict]) -> list[dict]:
    """Every third article gets a picture (the others have none)."""
    return [
        {**r, "image": f"https://www.harrowfield.gov.uk/images/{r['id']}.jpg"} if n % 3 == 0 else r
        for n, r in enumerate(records)
    ]


@pytest.fixture(scope="module")
def index(tmp_path_factory, council_records_module):
    return build_index(
        with_images(council_records_module) + special_records(),
        tmp_path_factory.mktemp("srv") / "idx",
    )


@pytest.fixture(scope="module")
def council_records_module():
    from .conftest import COUNCIL

    with COUNCIL.open(encoding="utf-8") as handle:
        return [json.loads(line) for line in handle]


@pytest.fixture(scope="module")
def server(index):
    with running_server([str(index), "--max-body", str(MAX_BODY)], token=TOKEN) as srv:
        yield srv


@pytest.fixture(scope="module")
def client(server):
    with httpx.Client(base_url=server.base_url, timeout=30) as c:
        yield c


def path_of(article_id: str, suffix: str = "") -> str:
    return "related/" + quote(article_id, safe="") + suffix


# -- reads -----------------------------------------------------------------------------


def test_related_json_matches_the_library(client, index):
    response = client.get(path_of(BINS), params={"n": 4})
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("application/json")
    data = response.json()
    expected = [r.to_dict() for r in load(index).related(BINS, n=4)]
    assert data == {"id": BINS, "related": expected}
    assert set(data["related"][0]) >= {"id", "score", "title", "url", "teaser"}


def test_related_html_is_the_semantic_block(client):
    response = client.get(path_of("polling-station-changes", ".html"), params={"n": 3})
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/html")
    html = response.text
    assert html.lstrip().startswith('<aside class="rc-related"')
    assert re.search(r'<h2 class="rc-heading"[^>]*>You might also like</h2>', html)
    assert '<ol class="rc-list">' in html
    assert html.count('<li class="rc-item"') == 3
    assert html.count('<a class="rc-title" href="https://') == 3
    assert html.count('<p class="rc-teaser">') == 3
    assert html.count(">Read more</a>") == 3
    assert html.count('class="rc-more"') == 3
    heading = client.get(
        path_of(BINS, ".html"), params={"n": 1, "heading": "<b>Lesen Sie auch</b>"}
    ).text
    assert 'class="rc-related rc-empty"' not in heading
    assert "&lt;b&gt;Lesen Sie auch&lt;/b&gt;" in heading
    assert "<b>" not in heading


class Items(HTMLParser):
    """The block's items: each ``<li>``'s elements in order, as ``(tag, attributes)``."""

    def __init__(self) -> None:
        super().__init__()
        self.items: list[list[tuple[str, dict]]] = []

    def handle_starttag(self, tag, attrs):
        if tag == "li":
            self.items.append([])
        elif self.items:
            self.items[-1].append((tag, dict(attrs)))


def items_of(html: str) -> list[list[tuple[str, dict]]]:
    parser = Items()
    parser.feed(html)
    return parser.items


def test_thumbnails_in_the_block(client):
    data = client.get(path_of(BINS), params={"n": 20}).json()["related"]
    safe = [i for i in data if "image" in i and not i["image"].startswith("javascript:")]
    assert 0 < len(safe) < len(data)  # some have a picture, some not
    assert {"page.html", "script-title", "guides/bins ü/2026"} <= {i["id"] for i in data}
    html = client.get(path_of(BINS, ".html"), params={"n": 20}).text
    items = items_of(html)
    assert len(items) == len(data)
    for item, elements in zip(data, items, strict=True):
        tags = [tag for tag, _ in elements]
        if item not in safe:
            assert "img" not in tags  # no image element at all
            continue
        (wrapper, wrapper_attrs), (_, img), (title, title_attrs) = elements[:3]
        assert title_attrs["class"] == "rc-title"  # the thumbnail comes first
        if item["url"] and not item["url"].startswith("javascript:"):
            assert (wrapper, title) == ("a", "a")
            assert wrapper_attrs == {
                "class": "rc-thumb",
                "href": item["url"],
                "tabindex": "-1",  # the title link next to it is the one to tab to
                "aria-hidden": "true",  # and the one a screen reader reads
            }
        else:  # no link: the thumbnail is not one either
            assert (wrapper, title) == ("span", "span")
            assert wrapper_attrs == {"class": "rc-thumb", "aria-hidden": "true"}
        assert img == {
            "class": "rc-image",
            "src": item["image"],
            "alt": item["title"],
            "width": "160",
            "height": "90",
            "loading": "lazy",
            "decoding": "async",
        }
        assert tags.count("img") == 1
    assert 'src="https://www.harrowfield.gov.uk/images/bins-2026.jpg?w=320&amp;h=180"' in html
    assert 'src="images/bin-day.png"' in html  # relative: kept
    assert "alert(2)" not in html


def test_html_in_titles_is_escaped_and_unsafe_links_dropped(client):
    data = client.get(path_of("guides/bins ü/2026"), params={"n": 100}).json()
    assert "script-title" in [item["id"] for item in data["related"]]
    assert any(
        item["title"].startswith("<script>") for item in data["related"]
    )  # JSON keeps the text
    html = client.get(path_of("guides/bins ü/2026", ".html"), params={"n": 100}).text
    assert "<script" not in html
    assert "&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt; Bin collection news" in html
    assert "javascript:" not in html
    assert '<span class="rc-title">&lt;script&gt;' in html  # no link for a javascript: URL
    images = {item["id"]: item.get("image") for item in data["related"]}
    assert images["script-title"] == "javascript:alert(2)"  # JSON keeps the data as it is
    html_items = dict(zip([i["id"] for i in data["related"]], items_of(html), strict=True))
    assert "img" not in [tag for tag, _ in html_items["script-title"]]  # unsafe image: none


@pytest.mark.parametrize("safe", ["", "/"])
def test_ids_with_slashes_and_unicode(client, safe):
    article_id = "guides/bins ü/2026"
    response = client.get("related/" + quote(article_id, safe=safe), params={"n": 2})
    assert response.status_code == 200
    assert response.json()["id"] == article_id
    html = client.get("related/" + quote(article_id, safe=safe) + ".html")
    assert html.status_code == 200
    assert 'data-rc-id="guides/bins ü/2026"' in html.text


def test_an_id_ending_in_html(client):
    response = client.get("related/page.html")  # no article "page": this is the JSON of "page.html"
    assert response.status_code == 200
    assert response.json()["id"] == "page.html"
    response = client.get("related/page.html.html")
    assert response.status_code == 200
    assert 'data-rc-id="page.html"' in response.text


def test_unknown_id_is_a_json_404(client):
    for path in (path_of("no-such-article"), path_of("no-such-article", ".html")):
        response = client.get(path)
        assert response.status_code == 404
        body = response.json()
        assert body["error"] == "unknown_article"
        assert body["field"] == "article_id"
        assert "No article with id 'no-such-article'" in body["message"]


@pytest.mark.parametrize("n", ["0", "101", "-3", "five", "2.5"])
def test_n_out_of_range_is_422(client, n):
    response = client.get(path_of(BINS), params={"n": n})
    assert response.status_code == 422
    body = response.json()
    assert body["field"] == "query.n"
    assert body["message"].startswith("query.n: ")


def test_etag_if_none_match_and_cache_control(client):
    first = client.get(path_of(BINS), params={"n": 5})
    etag = first.headers["etag"]
    assert first.headers["cache-control"].startswith("public, max-age=")
    again = client.get(path_of(BINS), params={"n": 5}, headers={"If-None-Match": etag})
    assert again.status_code == 304
    assert again.content == b""
    assert again.headers["etag"] == etag
    weak = client.get(
        path_of(BINS), params={"n": 5}, headers={"If-None-Match": f'"other", W/{etag}'}
    )
    assert weak.status_code == 304
    assert client.get(path_of(BINS), params={"n": 4}).headers["etag"] != etag
    assert client.get(path_of(BINS, ".html"), params={"n": 5}).headers["etag"] != etag
    stale = client.get(path_of(BINS), params={"n": 5}, headers={"If-None-Match": '"stale"'})
    assert stale.status_code == 200
    assert stale.json() == first.json()
    assert client.get(path_of("no-such-article")).headers["cache-control"] == "no-store"


def test_cors_lets_other_origins_read(client):
    response = client.get(path_of(BINS, ".html"), headers={"Origin": "https://news.example.org"})
    assert response.headers["access-control-allow-origin"] == "*"
    assert "etag" in response.headers["access-control-expose-headers"].lower()
    preflight = client.options(
        "similar",
        headers={
            "Origin": "https://cms.example.org",
            "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "content-type",
        },
    )
    assert preflight.status_code == 200
    assert "POST" in preflight.headers["access-control-allow-methods"]


def test_similar_for_a_draft(client):
    response = client.post(
        "similar",
        params={"n": 3},
        json={"title": "Christmas bins", "body": "When are bins collected at Christmas?"},
    )
    assert response.status_code == 200
    items = response.json()["related"]
    assert len(items) == 3
    assert items[0]["id"] == BINS
    edited = client.post(
        "similar", json={"id": BINS, "title": "Christmas bins", "body": "bins"}
    ).json()
    assert BINS not in [item["id"] for item in edited["related"]]


@pytest.mark.parametrize(
    ("payload", "status", "field"),
    [
        (b'{"title": "bins"', 400, "body"),
        (b"[1, 2]", 422, "body"),
        (b'{"title": "", "body": "  "}', 422, "body"),
        (b'{"title": "bins", "text": "typo"}', 422, "body.text"),
        (b'{"title": 7}', 422, "body.title"),
    ],
)
def test_bad_draft_bodies(client, payload, status, field):
    response = client.post("similar", content=payload, headers={"Content-Type": "application/json"})
    assert response.status_code == status
    body = response.json()
    assert body["field"] == field
    assert body["message"]


def test_oversized_bodies_are_413_before_being_read(client):
    big = json.dumps({"title": "x", "body": "bins " * MAX_BODY}).encode()
    response = client.post("similar", content=big, headers={"Content-Type": "application/json"})
    assert response.status_code == 413
    assert response.json()["error"] == "body_too_large"
    assert str(MAX_BODY) in response.json()["message"]

    def chunks():  # no Content-Length: counted as it arrives
        yield b'{"title": "x", "body": "'
        for _ in range(8):
            yield b"b" * (MAX_BODY // 4)
        yield b'"}'

    response = client.post(
        "similar", content=chunks(), headers={"Content-Type": "application/json"}
    )
    assert response.status_code == 413
    response = client.put("articles/x", content=big, headers={"Content-Type": "application/json"})
    assert response.status_code == 413


def test_search_titles(client):
    results = client.get("search", params={"q": "BIN collection"}).json()["results"]
    assert BINS in [r["id"] for r in results]
    assert all("bin" in r["title"].lower() and "collection" in r["title"].lower() for r in results)
    assert client.get("search", params={"q": BINS}).json()["results"][0]["id"] == BINS
    assert client.get("search", params={"q": "zzzz"}).json()["results"] == []
    assert client.get("search").status_code == 422


def test_health_openapi_and_widget(client):
    health = client.get("health").json()
    assert health["status"] == "ok"
    assert health["articles"] == 67
    assert health["writes"] in ("enabled", "unsupported")
    doc = client.get("openapi.json").json()
    assert {
        "/related/{article_id}",
        "/related/{article_id}.html",
        "/similar",
        "/articles",
        "/articles/{article_id}",
        "/search",
        "/health",
    } <= set(doc["paths"])
    assert "HTTPBearer" in doc["components"]["securitySchemes"]
    widget = client.get("widget.js")
    assert widget.status_code == 200
    assert widget.headers["content-type"].startswith("text/javascript")
    assert "data-related-to" in widget.text


def test_editor_page_is_server_rendered(client):
    page = client.get("/", params={"q": "bin collection"})
    assert page.status_code == 200
    assert page.headers["cache-control"] == "no-store"
    assert f"?id={BINS}" in page.text
    page = client.get("/", params={"id": BINS, "n": 3})
    assert page.text.count("<tr data-id=") == 3
    assert "Shared terms" in page.text
    assert '<aside class="rc-related"' in page.text
    page = client.get("/", params={"id": BINS, "n": 12})
    related = client.get(path_of(BINS), params={"n": 12}).json()["related"]
    images = [i["image"] for i in related if "image" in i and i["id"] != "script-title"]
    assert images
    assert page.text.count('<img class="ed-thumb"') == len(images)  # in the table
    assert page.text.count('<img class="rc-image"') == len(images)  # in the readers' block
    assert all(f'src="{escape(image)}"' in page.text for image in images)
    assert client.get("/", params={"id": "nope"}).status_code == 404


# -- auth ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "headers",
    [
        {},
        {"Authorization": "Bearer wrong-token-0123456789"},
        {"Authorization": f"Basic {TOKEN}"},
        {"Authorization": TOKEN},
    ],
)
def test_wrong_token_is_401_whatever_the_article(client, headers):
    answers = [
        client.put("articles/" + BINS, json={"title": "x"}, headers=headers),
        client.put("articles/no-such-article", json={"title": "x"}, headers=headers),
        client.put("articles/no-such-article", content=b"{bad json", headers=headers),
        client.delete("articles/" + BINS, headers=headers),
        client.delete("articles/no-such-article", headers=headers),
        client.post("articles", json={"remove": ["no-such-article"]}, headers=headers),
    ]
    assert {a.status_code for a in answers} == {401}
    assert len({a.text for a in answers}) == 1  # nothing tells whether the article exists
    assert answers[0].headers["www-authenticate"].startswith("Bearer")
    assert client.get(path_of(BINS)).status_code == 200


# -- writes (relatedcontent issue 4's incremental API) ----------------------------------


@pytest.fixture
def writable(index, tmp_path):
    copy = tmp_path / "idx"
    shutil.copytree(index, copy)
    with (
        running_server([str(copy)], token=TOKEN) as srv,
        httpx.Client(
            base_url=srv.base_url, timeout=60, headers={"Authorization": f"Bearer {TOKEN}"}
        ) as c,
    ):
        yield c, copy


NEW = {
    "title": "Christmas tree collection after the holidays",
    "body": "Real Christmas trees are collected with garden waste bins in January.",
    "url": "https://www.harrowfield.gov.uk/news/christmas-trees",
    "tags": ["bins", "christmas"],
}


def test_put_update_delete_are_visible_and_saved(writable):
    client, path = writable
    before = client.get(path_of(BINS), params={"n": 10})
    response = client.put("articles/" + quote("trees/2026 ü", safe=""), json=NEW)
    assert response.status_code == 201
    assert response.json()["status"] == "added"
    assert load(path).article("trees/2026 ü").title == NEW["title"]  # saved before answering
    assert client.get(path_of("trees/2026 ü")).status_code == 200
    after = client.get(path_of(BINS), params={"n": 10})
    assert after.headers["etag"] != before.headers["etag"]
    assert (
        client.get(
            path_of(BINS), params={"n": 10}, headers={"If-None-Match": before.headers["etag"]}
        ).status_code
        == 200
    )
    response = client.put(
        "articles/" + quote("trees/2026 ü", safe=""), json={**NEW, "title": "Tree collection"}
    )
    assert response.status_code == 200
    assert response.json()["status"] == "updated"
    assert load(path).article("trees/2026 ü").title == "Tree collection"
    assert client.delete("articles/" + quote("trees/2026 ü", safe="")).status_code == 200
    assert client.get(path_of("trees/2026 ü")).status_code == 404
    assert "trees/2026 ü" not in load(path)
    assert client.delete("articles/" + quote("trees/2026 ü", safe="")).status_code == 404


def test_batch_is_all_or_nothing(writable):
    client, path = writable
    batch = {
        "articles": [{**NEW, "id": "trees"}, {**NEW, "id": "trees-2", "title": "More trees"}],
        "remove": ["page.html"],
    }
    response = client.post("articles", json=batch)
    assert response.status_code == 200, response.text
    assert response.json()["added"] == ["trees", "trees-2"]
    assert response.json()["removed"] == ["page.html"]
    assert {"trees", "trees-2"} <= set(load(path).ids_)
    assert "page.html" not in load(path)
    conflict = client.post(
        "articles", json={"articles": [{**NEW, "id": "trees"}, {**NEW, "id": "fresh"}]}
    )
    assert conflict.status_code == 409
    assert "upsert" in conflict.json()["message"]
    assert client.get(path_of("fresh")).status_code == 404  # nothing of a refused batch applies
    missing = client.post("articles", json={"remove": ["no-such-article"]})
    assert missing.status_code == 404
    assert missing.json()["field"] == "body.remove"
    upsert = client.post(
        "articles", json={"articles": [{**NEW, "id": "trees", "title": "Trees"}], "upsert": True}
    )
    assert upsert.status_code == 200
    assert upsert.json()["updated"] == ["trees"]
    bad = client.post("articles", json={"articles": [{"id": "x", "published": "last tuesday"}]})
    assert bad.status_code == 422
    assert bad.json()["field"] == "body.articles.0.published"


def test_reads_continue_during_writes(writable):
    client, _ = writable
    statuses: list[int] = []
    stop = threading.Event()

    def reader():
        with httpx.Client(base_url=str(client.base_url), timeout=60) as c:
            for _ in range(200):
                if stop.is_set():
                    break
                statuses.append(c.get(path_of(BINS), params={"n": 5}).status_code)

    threads = [threading.Thread(target=reader) for _ in range(2)]
    for t in threads:
        t.start()
    try:
        for i in range(3):
            assert client.put(f"articles/tree-{i}", json=NEW).status_code == 201
    finally:
        stop.set()
        for t in threads:
            t.join()
    assert statuses
    assert set(statuses) == {200}
    assert client.get("health").json()["generation"] == 3
