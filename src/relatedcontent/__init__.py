"""relatedcontent: exact "You might also like" lists for a site's articles.

Build field-weighted TF-IDF vectors over a site's articles and keep, for every
article, its exact top-N cosine neighbours, computed in memory-bounded blocks::

    from relatedcontent import RelatedContent, read_articles

    rc = RelatedContent().fit(read_articles("articles.jsonl"))
    for item in rc.related("bin-collections", n=5):
        print(item.title, item.url, item.teaser)
    rc.save("site-index")
"""

from __future__ import annotations

import logging

from ._distributed import fit_distributed, open_client
from ._recommender import Recommendation, RelatedContent
from .exceptions import (
    CorpusError,
    DependencyError,
    ExportError,
    IndexFormatError,
    NotFittedError,
    RelatedContentError,
    UnknownArticleError,
)
from .index.persistence import load
from .ingest.articles import Article, FieldMap
from .ingest.files import read_articles
from .ingest.sql import SQLExportReport, export_sql, read_sql
from .neighbors.plan import top_k_neighbors
from .outputs.files import export_files, safe_filename
from .scoring.explain import Explanation, SharedTerm
from .text.clean import html_to_text, make_teaser

__version__ = "0.1.0"

__all__ = [
    "Article",
    "CorpusError",
    "DependencyError",
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
]

for _obj in (
    Article,
    Explanation,
    FieldMap,
    Recommendation,
    RelatedContent,
    SharedTerm,
    SQLExportReport,
):
    _obj.__module__ = __name__

logging.getLogger(__name__).addHandler(logging.NullHandler())
