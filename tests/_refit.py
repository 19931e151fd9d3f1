"""A stand-in for the incremental API (add/update/remove) that refits from scratch.

It has the names and error behaviour relatedcontent issue 4 specifies, so the
server's write plumbing (auth, copy-on-write, persistence, ETags) can be tested
in-process whatever the library's own implementation. It is slow on big indexes
and only a test double.
"""

from __future__ import annotations

from relatedcontent import CorpusError, RelatedContent, UnknownArticleError
from relatedcontent._corpus import to_article


class RefitModel(RelatedContent):
    """RelatedContent with add/update/remove done by refitting every article."""

    def _refit(self, articles):
        fitted = RelatedContent(**self.get_params()).fit(articles)
        self.__dict__.update(
            {k: v for k, v in fitted.__dict__.items() if k.endswith("_") or k.startswith("_")}
        )

    def add(self, articles, *, upsert=False):
        new = [to_article(a, self._field_map()) for a in articles]
        present = [a.id for a in new if a.id in self]
        if present and not upsert:
            raise CorpusError(f"already indexed: {present!r}; use upsert=True", field="id")
        ids = {a.id for a in new}
        self._refit([a for a in self.articles_ if a.id not in ids] + new)
        return self

    def update(self, articles):
        new = [to_article(a, self._field_map()) for a in articles]
        for article in new:
            if article.id not in self:
                raise UnknownArticleError(article.id)
        return self.add(new, upsert=True)

    def remove(self, ids, *, missing_ok=False):
        ids = list(ids)
        for article_id in ids:
            if article_id not in self and not missing_ok:
                raise UnknownArticleError(article_id)
        gone = set(ids)
        self._refit([a for a in self.articles_ if a.id not in gone])
        return self
