"""The editor's page and the widget in a real headless Chromium (Debian's, driven by Playwright).

Screenshots are saved to ``test-artifacts/`` (git-ignored). Where Chromium or
Playwright is not installed the tests skip and say why; ``.ci/run`` installs
both.
"""

from __future__ import annotations

import functools
import http.server
import json
import os
import re
import shutil
import threading
import time
from pathlib import Path

import pytest

from ._server import build_index, require_server_stack, running_server

require_server_stack()
sync_api = pytest.importorskip(
    "playwright.sync_api", reason="the browser tests need Playwright: pip install -e '.[test]'"
)

ROOT = Path(__file__).resolve().parents[1]
ARTIFACTS = ROOT / "test-artifacts"
CHROMIUM = (
    os.environ.get("RELATEDCONTENT_CHROMIUM") or shutil.which("chromium") or "/usr/bin/chromium"
)
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
BINS = "bin-collection-changes-christmas"


@pytest.fixture(scope="module")
def browser(tmp_path_factory):
    if not Path(CHROMIUM).is_file():
        pytest.skip(
            f"no Chromium at {CHROMIUM}: install Debian's package (apt-get install -y chromium; "
            ".ci/browser.sh does it) or set RELATEDCONTENT_CHROMIUM"
        )
    profile = tmp_path_factory.mktemp("chromium-profile")
    with sync_api.sync_playwright() as playwright:
        try:
            browser = playwright.chromium.launch_persistent_context(
                str(profile),
                executable_path=CHROMIUM,
                headless=True,
                args=CHROMIUM_ARGS,
                viewport={"width": 1200, "height": 900},
            )
        except sync_api.Error as exc:
            pytest.skip(f"Chromium at {CHROMIUM} does not start under Playwright: {exc}")
        try:
            yield browser
        finally:
            browser.close()


@pytest.fixture(scope="module")
def demo_server():
    with running_server(["--demo"]) as server:
        yield server


def test_editor_searches_an_article_and_sees_its_list(browser, demo_server):
    ARTIFACTS.mkdir(exist_ok=True)
    page = browser.new_page()
    page.goto(demo_server.base_url)
    assert page.title().endswith("editor's view")
    page.fill("#ed-q", "bin collection")  # live search, no submit
    first = page.locator(f'#ed-results a[data-id="{BINS}"]')
    first.wait_for(timeout=30_000)
    first.click()
    page.wait_for_selector("#ed-list tbody tr", timeout=30_000)
    rows = page.locator("#ed-list tbody tr")
    assert rows.count() == 5
    assert (
        page.locator("#ed-article-h").inner_text()
        == "Christmas and New Year bin collection days are changing"
    )
    scores = [float(s) for s in page.locator("#ed-list .ed-score").all_inner_texts()]
    assert scores == sorted(scores, reverse=True)
    assert scores[0] > 0
    assert "Shared terms" in rows.first.inner_text()
    preview = page.locator("#ed-preview .rc-related")
    assert preview.locator(".rc-item").count() == 5
    assert preview.locator("h2.rc-heading").inner_text() == "You might also like"
    assert page.locator("#ed-q").input_value() == "bin collection"  # the search is kept
    page.screenshot(path=str(ARTIFACTS / "editor.png"), full_page=True)

    page.fill("#ed-draft-title", "Where is my polling station?")
    page.fill("#ed-draft-body", "Polling stations open at 7am on election day.")
    page.click("#ed-draft-form button")
    page.wait_for_selector("#ed-draft-results li a", timeout=30_000)
    assert page.locator('#ed-draft-results a[data-id="polling-station-changes"]').count() == 1
    page.close()


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format, *args):  # noqa: A002
        pass


def readme_snippet(base_url: str) -> str:
    """The README's widget snippet, pointed at ``base_url``."""
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    snippet = re.search(r"## HTTP service.*?```html\n(.*?)```", readme, re.S).group(1)
    assert f'data-related-to="{BINS}"' in snippet
    return snippet.replace("http://127.0.0.1:8000/", base_url)


def test_the_widget_fills_a_page_on_another_origin(browser, demo_server, tmp_path):
    ARTIFACTS.mkdir(exist_ok=True)
    (tmp_path / "article.html").write_text(
        "<!doctype html><html><head><meta charset='utf-8'><title>A council news page</title>"
        "</head><body><h1>Christmas and New Year bin collection days are changing</h1>"
        "<p>Article text.</p><div id='block'>"
        + readme_snippet(demo_server.base_url).replace('data-n="5"', 'data-n="3"')
        + "</div><div id='missing' data-related-to='no-such-article'></div>"
        # a Welsh part of the page: the block takes its language from the nearest lang
        + f"<section lang='cy'><div id='welsh' data-related-to='{BINS}' data-n='2'></div>"
        + "</section></body></html>",
        encoding="utf-8",
    )
    handler = functools.partial(_QuietHandler, directory=str(tmp_path))
    site = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=site.serve_forever, daemon=True).start()
    try:
        page = browser.new_page()
        page.goto(f"http://127.0.0.1:{site.server_address[1]}/article.html")
        page.wait_for_selector("#block [data-rc-state=loaded]", timeout=30_000)
        block = page.locator("#block .rc-related")
        assert block.locator(".rc-item").count() == 3
        assert block.locator("a.rc-more").first.inner_text() == "Read more"
        page.wait_for_selector("#welsh[data-rc-state=loaded]", timeout=30_000)
        welsh = page.locator("#welsh .rc-related")
        assert welsh.get_attribute("lang") == "cy"
        assert welsh.locator("a.rc-more").first.inner_text() == "Darllen mwy"
        assert (
            block.locator("a.rc-title")
            .first.get_attribute("href")
            .startswith("https://www.harrowfield.gov.uk/")
        )
        page.wait_for_selector("#missing[data-rc-state=error]", state="attached", timeout=30_000)
        page.screenshot(path=str(ARTIFACTS / "widget.png"), full_page=True)
        page.close()
    finally:
        site.shutdown()
        site.server_close()


class _SlowImages(_QuietHandler):
    """Serves images after a delay, so the test sees the block before and after they load."""

    def do_GET(self):  # noqa: N802 - http.server's name
        if self.path.startswith("/img/"):
            time.sleep(1.5)
        super().do_GET()


SVG = (
    '<svg xmlns="http://www.w3.org/2000/svg" width="{w}" height="{h}">'
    '<rect width="{w}" height="{h}" fill="{fill}"/></svg>'
)


@pytest.fixture(scope="module")
def thumbnail_server(tmp_path_factory):
    """A server over the council site where the bins article's first items have pictures.

    The pictures are relative URLs: they are loaded from the page's own site. One is wide,
    one square (cropped to the box), one missing (404), and one item has none.
    """
    from relatedcontent import RelatedContent

    from .conftest import COUNCIL

    with COUNCIL.open(encoding="utf-8") as handle:
        records = [json.loads(line) for line in handle]
    first = [item.id for item in RelatedContent().fit(records).related(BINS, n=4)]
    pictures = ["/img/wide.svg", "/img/square.svg", "/img/missing.png"]
    images = dict(zip(first[:3], pictures, strict=True))  # the fourth has none
    records = [dict(r, image=images[r["id"]]) if r["id"] in images else r for r in records]
    index = build_index(records, tmp_path_factory.mktemp("thumbs") / "idx")
    with running_server([str(index)]) as server:
        yield server


BOXES = """() => [...document.querySelectorAll('#block .rc-item')].map(li => {
  const img = li.querySelector('img');
  const box = li.getBoundingClientRect();
  const pic = img && img.getBoundingClientRect();
  return {top: box.top, height: box.height, complete: img ? img.complete : null,
          img: pic && [pic.width, pic.height], natural: img && img.naturalWidth,
          attrs: img && [img.loading, img.decoding, img.alt, img.getAttribute('width'),
                         img.getAttribute('height')],
          title: li.querySelector('.rc-title').textContent};
})"""


def test_widget_thumbnails_keep_their_box_while_loading(browser, thumbnail_server, tmp_path):
    server = thumbnail_server
    ARTIFACTS.mkdir(exist_ok=True)
    (tmp_path / "img").mkdir()
    (tmp_path / "img" / "wide.svg").write_text(SVG.format(w=320, h=180, fill="#1d70b8"))
    (tmp_path / "img" / "square.svg").write_text(SVG.format(w=100, h=100, fill="#d4351c"))
    (tmp_path / "article.html").write_text(
        "<!doctype html><html><head><meta charset='utf-8'><title>A council news page</title>"
        f"<link rel='stylesheet' href='{server.base_url}static/related.css'>"
        "<script>document.addEventListener('rc:loaded', () => { window.rcBefore = ("
        + BOXES
        + ")(); });</script><style>body { font-size: 1.4rem }</style>"  # alt text overflows
        "</head><body><h1>Bin collection days</h1><div id='block'>"
        f"<div data-related-to='{BINS}' data-n='4'></div>"
        f"<script src='{server.base_url}widget.js' async></script></div>"
        "<p id='after'>The rest of the page.</p></body></html>",
        encoding="utf-8",
    )
    handler = functools.partial(_SlowImages, directory=str(tmp_path))
    site = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=site.serve_forever, daemon=True).start()
    try:
        page = browser.new_page()
        page.goto(f"http://127.0.0.1:{site.server_address[1]}/article.html")
        page.wait_for_selector("#block [data-rc-state=loaded]", timeout=30_000)
        page.wait_for_function("() => window.rcBefore !== undefined", timeout=30_000)
        page.wait_for_function(
            "() => [...document.querySelectorAll('#block img')].every(i => i.complete)",
            timeout=30_000,
        )
        before = page.evaluate("() => window.rcBefore")
        after = page.evaluate(BOXES)
        page.screenshot(path=str(ARTIFACTS / "widget-thumbnails.png"), full_page=True)
        page.close()
    finally:
        site.shutdown()
        site.server_close()
    assert len(after) == 4
    assert [b["complete"] for b in before] == [False, False, False, None]  # not loaded yet
    assert [(b["top"], b["height"]) for b in before] == [(a["top"], a["height"]) for a in after]
    wide, square, missing, none = after
    assert none["img"] is None  # no image, no image element
    for item in (wide, square, missing):
        width, height = item["img"]
        assert width > 0
        assert abs(width / height - 16 / 9) < 0.02  # the square one is cropped to the box
        assert item["attrs"] == ["lazy", "async", item["title"], "160", "90"]
    assert (wide["natural"], square["natural"], missing["natural"]) == (320, 100, 0)
