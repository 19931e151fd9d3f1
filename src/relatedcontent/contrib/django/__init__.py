"""Django and Wagtail integration: settings, a build command, signals and a template tag.

Add ``"relatedcontent.contrib.django"`` to ``INSTALLED_APPS`` and describe the
articles in ``settings.RELATEDCONTENT``::

    RELATEDCONTENT = {
        "INDEX": BASE_DIR / "related-index",      # folder of the saved index
        "MODEL": "blog.Post",                      # app_label.ModelName
        "FIELDS": {"id": "pk", "title": "title", "body": "body", "url": "get_absolute_url"},
        "FILTER": {"status": "published"},         # optional: which rows are articles
    }

Then ``python manage.py relatedcontent_build`` builds the index, saving or
deleting a post updates it (see :mod:`.signals`), and templates show the lists
with ``{% load relatedcontent %}{% related_articles post 5 as items %}``.

Nothing here is imported by ``import relatedcontent``; Django is needed only
when this app is installed (``pip install 'relatedcontent[django]'``).
"""
