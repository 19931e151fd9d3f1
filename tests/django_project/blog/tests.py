"""relatedcontent.contrib.django under Django's own test runner (SQLite or PostgreSQL).

Run by tests/test_django.py as ``python -m django test blog --settings=testsite.settings``.
The settings come from the README's snippet and the template from the README's
template snippet, so the README's Django path is what is tested.
"""

from __future__ import annotations

import io
import json
import re
import shutil
import sys
from contextlib import ExitStack
from unittest import mock

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.core.management import call_command
from django.db import transaction
from django.template import Context, Template
from django.test import TestCase, override_settings

from relatedcontent import RelatedContent, load
from relatedcontent.contrib.django import service
from relatedcontent.contrib.django.conf import get_config
from relatedcontent.ingest.files import sample_articles as demo_articles

from .models import Post, Tag

TEMPLATE = re.search(
    r"<!-- django-template -->\s*```django\n(.*?)```",
    settings.README.read_text(encoding="utf-8"),
    re.S,
).group(1)
INDEX = settings.RELATEDCONTENT["INDEX"]


def build(**options):
    out = io.StringIO()
    call_command("relatedcontent_build", stdout=out, **options)
    return out.getvalue()


def render(post, text=TEMPLATE):
    return Template(text).render(Context({"post": post}))


class _HandlerCalls:
    """A list that keeps only calls made by the Django app (not, e.g., by a journal replay)."""

    def __init__(self, target):
        self.target = target

    def append(self, call):
        if sys._getframe(2).f_globals.get("__name__") == service.__name__:
            self.target.append(call)


class RecordChanges:
    """Record the Django app's calls of ``RelatedContent.apply_changes`` (the real one runs)."""

    def __init__(self):
        self.calls = []

    def patches(self):
        calls = _HandlerCalls(self.calls)
        real = RelatedContent.apply_changes

        def apply_changes(self, *, add=(), update=(), remove=(), upsert=False, missing_ok=False):
            add, remove = list(add), list(remove)
            calls.append(([a.id for a in add], remove, upsert, missing_ok))
            return real(
                self, add=add, update=update, remove=remove, upsert=upsert, missing_ok=missing_ok
            )

        return [mock.patch.object(RelatedContent, "apply_changes", apply_changes)]


class SiteTestCase(TestCase):
    @classmethod
    def setUpTestData(cls):
        cls.records = list(demo_articles())[:30]
        for article in cls.records:
            post = Post.objects.create(title=article.title, slug=article.id, body=article.body)
            post.tags.set([Tag.objects.get_or_create(name=t)[0] for t in article.tags])
        Post.objects.create(
            title="Draft about bins", slug="draft", body="Bins bins bins.", published=False
        )

    def setUp(self):
        shutil.rmtree(INDEX, ignore_errors=True)
        service._forget()


class BuildAndTemplateTests(SiteTestCase):
    def test_build_command_and_readme_template(self):
        out = build()
        assert "indexed 30 articles" in out  # the unpublished draft is filtered out
        model = load(INDEX)
        post = Post.objects.get(slug="bin-collection-changes-christmas")
        expected = model.related(post.pk, n=5)
        html = render(post)
        assert html.count("<li>") == 5
        for item in expected:
            assert f'<a href="{item.url}">{item.title}</a>' in html.replace("&#x27;", "'")
        assert all(item.url.startswith("/posts/") for item in expected)
        assert model.article(post.pk).tags  # many-to-many tags were read

    def test_tag_items_are_recommendation_dicts(self):
        build()
        post = Post.objects.get(slug="bin-collection-changes-christmas")
        html = render(
            post,
            "{% load relatedcontent %}{% related_articles post.pk 3 as items %}"
            "{% for i in items %}{{ i.id }}|{{ i.title }}|{{ i.url }}|{{ i.teaser|length }}|"
            "{{ i.score }};{% endfor %}",
        )
        rows = [r.split("|") for r in html.split(";") if r]
        assert len(rows) == 3
        assert [int(r[0]) for r in rows] == [r.id for r in load(INDEX).related(post.pk, n=3)]
        assert all(int(r[3]) > 0 and 0 < float(r[4]) <= 1 for r in rows)

    def test_tag_is_empty_without_index_or_article(self):
        post = Post.objects.get(slug="bin-collection-changes-christmas")
        with self.assertLogs("relatedcontent.django", "WARNING"):
            assert "<li>" not in render(post)  # no index yet: no list, no error
        build()
        assert "<li>" not in render(Post.objects.get(slug="draft"))  # not indexed
        assert (
            render(
                None, "{% load relatedcontent %}{% related_articles 'nope' as x %}{{ x|length }}"
            )
            == "0"
        )

    def test_if_stale(self):
        build()
        assert "up to date" in build(if_stale=True)
        service.mark_stale("testing")
        assert "it was stale: testing" in build(if_stale=True)
        assert service.stale_info() is None


class SignalTests(SiteTestCase):
    def new_post(self, **fields):
        with self.captureOnCommitCallbacks(execute=True):
            post = Post.objects.create(**fields)
        return post

    def test_a_failed_change_marks_the_index_stale_until_a_rebuild(self):
        build()
        before = (INDEX / "CURRENT").read_text()
        broken = mock.patch.object(
            RelatedContent, "apply_changes", side_effect=RuntimeError("no space left")
        )
        with broken, self.assertLogs("relatedcontent.django", "WARNING") as logs:
            post = self.new_post(
                title="Garden waste bins collected", slug="gw", body="Garden waste bins."
            )
        assert any("relatedcontent_build --if-stale" in line for line in logs.output)
        assert "no space left" in service.stale_info()["reason"]
        assert (INDEX / "CURRENT").read_text() == before
        assert "it was stale" in build(if_stale=True)
        assert post.pk in load(INDEX)

    def test_saves_and_deletes_change_the_index(self):
        build()
        recorder = RecordChanges()
        with ExitStack() as stack:
            for patch in recorder.patches():
                stack.enter_context(patch)
            source = Post.objects.get(slug="bin-collection-changes-christmas")
            # a shortened version: close (TF-IDF cosine < 0.9), so not hidden as a near-duplicate
            twin = self.new_post(
                title=source.title, slug="twin", body=source.body[: len(source.body) // 2]
            )
            model = load(INDEX)
            assert twin.pk in model
            assert model.related(source.pk, n=1)[0].id == twin.pk  # the close variant comes first
            assert 'href="/posts/twin/"' in render(source)  # templates see the saved index

            with self.captureOnCommitCallbacks(execute=True):
                twin.title = "Renamed twin"
                twin.save()
            assert load(INDEX).article(twin.pk).title == "Renamed twin"

            with self.captureOnCommitCallbacks(execute=True):
                twin.published = False
                twin.save()
            assert twin.pk not in load(INDEX)  # filtered out: removed

            gone = Post.objects.get(slug="garden-waste-subscriptions-open")
            gone_pk = gone.pk
            with self.captureOnCommitCallbacks(execute=True):
                gone.delete()
            assert gone_pk not in load(INDEX)
            assert service.stale_info() is None
        assert recorder.calls == [
            ([twin.pk], [], True, True),
            ([twin.pk], [], True, True),
            ([], [twin.pk], True, True),
            ([], [gone_pk], True, True),
        ]

    def test_templates_see_changes_saved_by_another_process(self):
        build()
        source = Post.objects.get(slug="bin-collection-changes-christmas")
        assert "/posts/elsewhere/" not in render(source)  # loaded and cached
        other = load(INDEX)  # what another worker's handler does; this process's cache is not told
        other.add(
            [
                {
                    "id": 9999,
                    "title": source.title,
                    "body": source.body[: len(source.body) // 2],
                    "url": "/posts/elsewhere/",
                }
            ]
        )
        other.save(INDEX)
        assert 'href="/posts/elsewhere/"' in render(source)

    def test_rolled_back_save_leaves_the_index(self):
        build()
        before = (INDEX / "CURRENT").read_text()
        with self.captureOnCommitCallbacks(execute=True) as callbacks:
            try:
                with transaction.atomic():
                    Post.objects.create(title="Never committed", slug="never", body="x")
                    raise RuntimeError("rollback")
            except RuntimeError:
                pass
        assert callbacks == []
        assert (INDEX / "CURRENT").read_text() == before
        assert service.stale_info() is None

    def test_a_failing_update_never_fails_the_save(self):
        build()
        with (
            mock.patch.object(service, "load", side_effect=OSError("disk gone")),
            self.assertLogs("relatedcontent.django", "ERROR"),
        ):
            post = self.new_post(title="Saved anyway", slug="saved", body="Bins.")
        assert Post.objects.filter(pk=post.pk).exists()
        assert "disk gone" in service.stale_info()["reason"]

    def test_first_save_before_any_build_marks_stale(self):
        with self.assertLogs("relatedcontent.django", "WARNING"):
            self.new_post(title="Early", slug="early", body="Bins.")
        assert "not been built yet" in service.stale_info()["reason"]
        assert "indexed 31 articles" in build(if_stale=True)


class ConfigTests(TestCase):
    def test_errors_name_the_key(self):
        cases = [
            (None, "is missing or not a dict"),
            ({"INDEX": str(INDEX), "MODEL": "Post"}, '"MODEL" must be "app_label.ModelName"'),
            (
                {"INDEX": str(INDEX), "FIELDS": {"title": 3}},
                'FIELDS["title"] must be an attribute name',
            ),
            ({"INDEX": str(INDEX), "FILETR": {}}, "unknown key(s) 'FILETR'"),
            ({"MODEL": "blog.Post"}, '"INDEX" must be the path'),
        ]
        for value, message in cases:
            with self.subTest(value=value), override_settings(RELATEDCONTENT=value):
                with self.assertRaisesMessage(ImproperlyConfigured, message):
                    get_config()
        with override_settings(RELATEDCONTENT={"INDEX": str(INDEX), "MODEL": "blog.Nope"}):
            with self.assertRaisesMessage(ImproperlyConfigured, "is not an installed model"):
                get_config().model_class()

    def test_extra_fields_and_json_values(self):
        with override_settings(
            RELATEDCONTENT={
                **settings.RELATEDCONTENT,
                "FIELDS": {**settings.RELATEDCONTENT["FIELDS"], "slug": "slug"},
            }
        ):
            post = Post.objects.create(title="T", slug="s-1", body="B")
            article = service.article_from_instance(post)
        assert (article.id, article.url, article.extra) == (post.pk, "/posts/s-1/", {"slug": "s-1"})
        json.dumps(article.to_dict())
