"""WordPress input written by hand for the tests: a small WXR export and REST API pages.

``EXPORT`` is one export with every case the reader handles; ``wxr_export`` and
``rest_page`` turn the sample council site's records into a bigger export or REST
page (for the CLI and README paths, where lists should mean something).
"""

from __future__ import annotations

import html
import json
import re
from collections.abc import Sequence
from typing import Any


def slugify(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")


HEADER = """<?xml version="1.0" encoding="UTF-8" ?>
<rss version="2.0"
\txmlns:excerpt="http://wordpress.org/export/1.2/excerpt/"
\txmlns:content="http://purl.org/rss/1.0/modules/content/"
\txmlns:wfw="http://wellformedweb.org/CommentAPI/"
\txmlns:dc="http://purl.org/dc/elements/1.1/"
\txmlns:wp="http://wordpress.org/export/1.2/"
>
<channel>
\t<title>Riverside Council News</title>
\t<link>https://news.riverside.example</link>
\t<description>News from the council</description>
\t<language>en-GB</language>
\t<wp:wxr_version>1.2</wp:wxr_version>
\t<wp:base_site_url>https://news.riverside.example</wp:base_site_url>
\t<wp:author><wp:author_id>1</wp:author_id><wp:author_login><![CDATA[press]]></wp:author_login>\
<wp:author_email><![CDATA[press@riverside.example]]></wp:author_email>\
<wp:author_display_name><![CDATA[Press Office]]></wp:author_display_name></wp:author>
\t<wp:category><wp:term_id>3</wp:term_id><wp:category_nicename><![CDATA[waste]]></wp:category_nicename>\
<wp:cat_name><![CDATA[Waste & Recycling]]></wp:cat_name></wp:category>
"""

FOOTER = "</channel>\n</rss>\n"


def item(
    post_id: int,
    title: str,
    content: str,
    *,
    post_type: str = "post",
    status: str = "publish",
    date_gmt: str = "2026-03-02 09:30:00",
    date: str = "2026-03-02 09:30:00",
    categories: Sequence[str] = (),
    tags: Sequence[str] = (),
    password: str = "",
    thumbnail: int | None = None,
    excerpt: str = "",
    attachment_url: str = "",
    alt: str = "",
) -> str:
    """One ``<item>`` as WordPress writes it (CDATA for the texts, terms as ``<category>``)."""
    slug = slugify(title)
    lines = [
        "\t<item>",
        f"\t\t<title>{html.escape(title, quote=False)}</title>",
        f"\t\t<link>https://news.riverside.example/{slug}/</link>",
        "\t\t<pubDate>Mon, 02 Mar 2026 09:30:00 +0000</pubDate>",
        "\t\t<dc:creator><![CDATA[press]]></dc:creator>",
        f'\t\t<guid isPermaLink="false">https://news.riverside.example/?p={post_id}</guid>',
        "\t\t<description></description>",
        f"\t\t<content:encoded><![CDATA[{content}]]></content:encoded>",
        f"\t\t<excerpt:encoded><![CDATA[{excerpt}]]></excerpt:encoded>",
        f"\t\t<wp:post_id>{post_id}</wp:post_id>",
        f"\t\t<wp:post_date><![CDATA[{date}]]></wp:post_date>",
        f"\t\t<wp:post_date_gmt><![CDATA[{date_gmt}]]></wp:post_date_gmt>",
        "\t\t<wp:comment_status><![CDATA[open]]></wp:comment_status>",
        f"\t\t<wp:post_name><![CDATA[{slug}]]></wp:post_name>",
        f"\t\t<wp:status><![CDATA[{status}]]></wp:status>",
        "\t\t<wp:post_parent>0</wp:post_parent>",
        f"\t\t<wp:post_type><![CDATA[{post_type}]]></wp:post_type>",
        f"\t\t<wp:post_password><![CDATA[{password}]]></wp:post_password>",
        "\t\t<wp:is_sticky>0</wp:is_sticky>",
    ]
    if attachment_url:
        lines.append(f"\t\t<wp:attachment_url><![CDATA[{attachment_url}]]></wp:attachment_url>")
    for name in categories:
        nice = slugify(name)
        lines.append(
            f'\t\t<category domain="category" nicename="{nice}">'
            f"<![CDATA[{html.escape(name, quote=False)}]]></category>"
        )
    for name in tags:
        lines.append(
            f'\t\t<category domain="post_tag" nicename="{name}"><![CDATA[{name}]]></category>'
        )
    meta = {"_edit_last": "1"}
    if thumbnail is not None:
        meta["_thumbnail_id"] = str(thumbnail)
    if alt:
        meta["_wp_attachment_image_alt"] = alt
    for key, value in meta.items():
        lines.append(
            f"\t\t<wp:postmeta><wp:meta_key><![CDATA[{key}]]></wp:meta_key>"
            f"<wp:meta_value><![CDATA[{value}]]></wp:meta_value></wp:postmeta>"
        )
    if post_type == "post":
        lines.append(
            "\t\t<wp:comment><wp:comment_id>1</wp:comment_id><wp:comment_content>"
            "<![CDATA[When does this start?]]></wp:comment_content></wp:comment>"
        )
    lines.append("\t</item>")
    return "\n".join(lines) + "\n"


CAPTION = (
    '[caption id="attachment_20" align="alignright" width="300"]'
    '<img class="size-medium" src="https://news.riverside.example/wp-content/uploads/bins-300.jpg"'
    ' alt="" width="300" height="200" /> Green bins at the depot[/caption]'
)

#: Published posts 11, 12, 13, 17, 18; a draft (14), a page (15), a password-protected
#: post (16); attachment 20 comes before post 11 (whose featured image it is), attachment
#: 21 after post 12 (whose featured image it is).
ITEMS = [
    item(
        20,
        "bins",
        "",
        post_type="attachment",
        status="inherit",
        attachment_url="https://news.riverside.example/wp-content/uploads/bins.jpg",
        alt="Green wheelie bins in a row",
    ),
    item(
        11,
        "Bin collections move for the holidays",
        f"<p>{CAPTION}Bin collections move by one day over the holidays.</p>\n"
        "<p>Put your <strong>bins</strong> out by 7am &amp; check the calendar.</p>",
        categories=["Waste & Recycling", "News"],
        tags=["bins", "holidays"],
        thumbnail=20,
        excerpt="Collections move by a day.",
    ),
    item(
        12,
        "Recycling centre opening hours",
        "<p>The recycling centre opens longer hours for bins, glass and garden waste.</p>",
        categories=["Waste & Recycling"],
        tags=["recycling", "bins"],
        thumbnail=21,
    ),
    item(
        21,
        "centre",
        "",
        post_type="attachment",
        status="inherit",
        attachment_url="https://news.riverside.example/wp-content/uploads/centre.jpg",
    ),
    item(
        13,
        "Garden waste collections resume",
        '<p><img src="https://news.riverside.example/wp-content/uploads/garden.jpg" alt="">'
        "Garden waste bins are collected again from March.</p>",
        categories=["Waste & Recycling"],
        tags=["garden", "bins"],
    ),
    item(
        14,
        "New bin colours",
        "<p>Draft: bins get new colours next year.</p>",
        status="draft",
        date_gmt="0000-00-00 00:00:00",
        tags=["bins"],
    ),
    item(
        15,
        "Contact the council",
        "<p>Call us about bins, roads and libraries.</p>",
        post_type="page",
    ),
    item(
        16,
        "Depot staff bin rota",
        "<p>The staff rota for bin rounds at the depot.</p>",
        password="depot2026",
        tags=["bins"],
    ),
    item(
        17,
        "Library opening hours",
        "<p>Libraries open longer hours in the holidays.</p>",
        categories=["Libraries"],
        date_gmt="0000-00-00 00:00:00",
        date="2026-02-20 08:00:00",
    ),
    item(
        18,
        "Bulky waste collections",
        "<p>Book a bulky waste collection for old furniture; bins are not taken.</p>",
        categories=["Waste & Recycling"],
        tags=["bins"],
    ),
]

EXPORT = HEADER + "".join(ITEMS) + FOOTER


def wxr_export(records: Sequence[dict[str, Any]], first_id: int = 100) -> str:
    """The sample site's records as a WordPress export (ids from ``first_id``), plus a draft."""
    items = [
        item(
            first_id + n,
            r["title"],
            f"<p>{html.escape(r['body'], quote=False)}</p>",
            categories=[r["section"]] if r.get("section") else [],
            tags=r.get("tags", []),
            date_gmt=r.get("published", "2026-01-01")[:10] + " 09:00:00",
        )
        for n, r in enumerate(records)
    ]
    items.append(item(99, "Unpublished", "<p>Not yet.</p>", status="draft"))
    return HEADER + "".join(items) + FOOTER


def rest_post(
    post_id: int,
    title: str,
    content: str,
    *,
    embed: bool,
    categories: Sequence[tuple[int, str]] = (),
    tags: Sequence[tuple[int, str]] = (),
    status: str = "publish",
    post_type: str = "post",
    protected: bool = False,
    media: tuple[int, str] | None = None,
    date_gmt: str | None = "2026-03-02T09:30:00",
    excerpt: str = "",
) -> dict[str, Any]:
    """One post object of ``/wp-json/wp/v2/posts`` (with ``_embedded`` when ``embed``)."""
    slug = slugify(title)
    post: dict[str, Any] = {
        "id": post_id,
        "date": "2026-03-02T09:30:00",
        "date_gmt": date_gmt,
        "guid": {"rendered": f"https://news.riverside.example/?p={post_id}"},
        "modified": "2026-03-03T10:00:00",
        "slug": slug,
        "status": status,
        "type": post_type,
        "link": f"https://news.riverside.example/{slug}/",
        "title": {"rendered": html.escape(title, quote=False).replace("'", "&#8217;")},
        "content": {"rendered": content, "protected": protected},
        "excerpt": {"rendered": f"<p>{excerpt}</p>\n" if excerpt else "", "protected": protected},
        "author": 2,
        "featured_media": media[0] if media else 0,
        "sticky": False,
        "format": "standard",
        "meta": {"footnotes": ""},
        "categories": [term_id for term_id, _ in categories],
        "tags": [term_id for term_id, _ in tags],
        "_links": {
            "self": [{"href": f"https://news.riverside.example/wp-json/wp/v2/posts/{post_id}"}]
        },
    }
    if embed:
        embedded: dict[str, Any] = {
            "author": [{"id": 2, "name": "Press Office", "slug": "press"}],
            "wp:term": [
                [
                    {"id": i, "name": html.escape(n, quote=False), "taxonomy": "category"}
                    for i, n in categories
                ],
                [{"id": i, "name": n, "taxonomy": "post_tag"} for i, n in tags],
            ],
        }
        if media:
            embedded["wp:featuredmedia"] = [
                {"id": media[0], "source_url": media[1], "alt_text": "A picture"}
            ]
        post["_embedded"] = embedded
    return post


def rest_page(records: Sequence[dict[str, Any]], *, embed: bool, first_id: int = 100) -> str:
    """The sample site's records as one page of the REST API, as JSON text."""
    sections = sorted({r.get("section") or "News" for r in records})
    posts = [
        rest_post(
            first_id + n,
            r["title"],
            f"<p>{html.escape(r['body'], quote=False)}</p>\n",
            embed=embed,
            categories=[
                (sections.index(r.get("section") or "News") + 1, r.get("section") or "News")
            ],
            tags=[(1000 + k, tag) for k, tag in enumerate(r.get("tags", []))],
        )
        for n, r in enumerate(records)
    ]
    return json.dumps(posts, indent=1)
