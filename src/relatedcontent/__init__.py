"""relatedcontent: exact "You might also like" lists for a site's articles.

Build field-weighted TF-IDF vectors over a site's articles and keep, for every
article, its exact top-N neighbours, computed in memory-bounded blocks::

    from relatedcontent import RelatedContent, read_articles

    rc = RelatedContent().fit(read_articles("articles.jsonl"))
    for item in rc.related("bin-collections", n=5):
        print(item.title, item.url, item.teaser)
    rc.save("site-index")

The package is laid out as the pipeline: ``ingest`` (articles in), ``text``,
``vectors``, ``neighbors``, ``scoring`` (the score and the lists), ``index``
(the fitted index, its changes, save and load) and ``outputs``; the names
below are its public surface.
"""

from __future__ import annotations

import logging

from ._distributed import fit_distributed, open_client
from ._editing import ChangeReport
from ._recommender import RelatedContent, load, verify
from ._version import __version__
from .exceptions import (
    CorpusError,
    DependencyError,
    DuplicateArticleError,
    ExportError,
    IndexFormatError,
    NotFittedError,
    RelatedContentError,
    UnknownArticleError,
)
from .ingest.articles import Article, FieldMap
from .ingest.files import read_articles
from .ingest.sql import read_sql
from .neighbors.plan import top_k_neighbors
from .outputs.files import export_files, safe_filename
from .outputs.items import Recommendation
from .outputs.sql import SQLExportReport, export_sql
from .scoring.explain import Explanation, SharedTerm
from .text.clean import html_to_text, make_teaser

__all__ = [
    "Article",
    "ChangeReport",
    "CorpusError",
    "DependencyError",
    "DuplicateArticleError",
    "ExportError",
    "Explanation",
    "FieldMap",
    "IndexFormatError",
    "NotFittedError",
    "Recommendation",
    "RelatedContent",
    "RelatedContentError",
    "SQLExportReport",
    "SharedTerm",
    "UnknownArticleError",
    "__version__",
    "export_files",
    "export_sql",
    "fit_distributed",
    "html_to_text",
    "load",
    "make_teaser",
    "open_client",
    "read_articles",
    "read_sql",
    "safe_filename",
    "top_k_neighbors",
    "verify",
]

for _obj in (
    Article,
    ChangeReport,
    Explanation,
    FieldMap,
    Recommendation,
    RelatedContent,
    SharedTerm,
    SQLExportReport,
):
    _obj.__module__ = __name__

logging.getLogger(__name__).addHandler(logging.NullHandler())
