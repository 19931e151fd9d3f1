"""Queries of a fitted :class:`~relatedcontent.RelatedContent`: lists, drafts, explanations.

Each query reads the fitted index and the estimator's settings, and calls the
stages: options (:mod:`.scoring.options`), the ranking of one query
(:mod:`.scoring.query`), the editorial controls (:mod:`.scoring.controls`), and
the list items (:mod:`.outputs.items`).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import replace
from typing import TYPE_CHECKING, Any

import numpy as np

from ._validation import check_n
from .index.state import FittedIndex
from .ingest.articles import Article, ArticleId, FieldMap, to_article
from .outputs.items import Recommendation, recommendation
from .scoring.controls import Item, QueryArticle, assemble
from .scoring.explain import Explanation, explain_pair
from .scoring.lists import pool_lists
from .scoring.options import make_options
from .scoring.query import (
    pool_from_row,
    pool_size,
    query_cosines,
    query_vectors,
    rank_query,
    stored_pool,
)
from .scoring.score import pair_parts
from .scoring.settings import Settings
from .text.view import scoring_view

#: Articles whose deeper lists ``related_all`` scores together.
ALL_BLOCK = 1024

__all__ = ["QueryMixin"]

_DRAFT_ID = "__draft__"


class QueryMixin:
    """The query methods of :class:`~relatedcontent.RelatedContent`."""

    if TYPE_CHECKING:  # provided by RelatedContent
        index_: FittedIndex
        ignore_tags: Any
        hubness_gamma: float
        teaser_length: int
        default_image: str | None

        def _check_fitted(self) -> FittedIndex: ...
        def _settings(self) -> Settings: ...
        def _field_map(self) -> FieldMap: ...
        def _embed(self, view: list[Article]) -> np.ndarray: ...
        def _require_embedder(self, purpose: str) -> None: ...

    def __len__(self) -> int:
        return len(self._check_fitted().rows)

    def __contains__(self, article_id: object) -> bool:
        return article_id in self._check_fitted().rows

    def _row_of(self, article_id: ArticleId) -> int:
        return self._check_fitted().rows.row_of(article_id)

    def article(self, article_id: ArticleId) -> Article:
        """Return the stored :class:`Article` with this id."""
        index = self._check_fitted()
        article = index.articles[index.rows.row_of(article_id)]
        if article is None:  # pragma: no cover - removed rows are not in the row map
            raise KeyError(article_id)
        return article

    def resolve_id(self, text: str, *, new: bool = False) -> ArticleId:
        """Return the id of the index that an id given as text stands for.

        URLs and command lines carry ids as text; an index built from integer
        ids holds ``7``, not ``"7"``. The text itself is returned when the
        index holds it, else its integer when the index holds that (or, with
        ``new=True``, for an article about to be added to an index of integer
        ids); otherwise the text.

        Examples
        --------
        >>> from relatedcontent import RelatedContent
        >>> rc = RelatedContent().fit([{"id": 7, "body": "bins"}, {"id": 8, "body": "bins"}])
        >>> rc.resolve_id("7"), rc.resolve_id("nine"), rc.resolve_id("9", new=True)
        (7, 'nine', 9)
        """
        return self._check_fitted().rows.resolve(text, new=new)

    # -- queries ----------------------------------------------------------------------
    def _query(self, article: Article, row: int, vector: Any = None) -> QueryArticle:
        return QueryArticle.of(article, row, tuple(self.ignore_tags), vector)

    def _ranked_row(
        self, row: int, allowed: np.ndarray | None, custom: bool, size: int
    ) -> tuple[np.ndarray, np.ndarray]:
        """The list of row ``row`` within ``allowed``, at least ``size`` long when it can be."""
        index = self.index_
        if not custom and size <= index.neighbors.shape[1]:
            rows = np.asarray(index.neighbors[row])
            keep = rows >= 0
            return rows[keep], np.asarray(index.scores[row])[keep]
        settings = self._settings()
        wanted = pool_size(index, settings, size)
        pool = stored_pool(index, row, allowed, wanted)
        if pool is None:
            cos = query_cosines(index, index.X[row])
            pool = pool_from_row(index, cos, allowed, wanted, exclude=row)
        z = None if index.lsa is None else index.lsa[row : row + 1]
        e = None if index.embeddings is None else index.embeddings[row : row + 1]
        sigma = float(index.hub_sigma[row])
        rows, scores, _ = rank_query(index, settings, pool[0], pool[1], z, e, sigma)
        return rows, scores

    def _finish(self, query: QueryArticle, items: list[Item]) -> list[Recommendation]:
        index = self.index_
        gamma = float(self.hubness_gamma)
        out = []
        for row, score, reason, _ in items:
            if reason == "pinned":
                score = pair_parts(
                    index.X, index.lsa, index.embeddings, index.weights, index.hub_sigma,
                    gamma, query.row, row,
                )["score"]  # fmt: skip
            out.append(
                recommendation(
                    index, row, score, reason, int(self.teaser_length), self.default_image
                )
            )
        return out

    def related(
        self,
        article_id: ArticleId,
        n: int = 5,
        *,
        exclude: Any = None,
        include: Any = None,
        same_section: bool | None = None,
        sections: Any = None,
        content_types: Any = None,
        tags: Any = None,
        exclude_tags: Any = None,
        languages: Any = None,
        max_age: Any = None,
        half_life: Any = None,
        allow_newer: bool | None = None,
        taxonomy_boost: float | None = None,
        min_score: float | None = None,
        fallback: bool | None = None,
        pins: bool | None = None,
        now: Any = None,
    ) -> list[Recommendation]:
        """Return the ``n`` articles to show under ``article_id``, best first.

        The article itself is never in its list. Options left to None take
        the index's policy (see :meth:`set_policy`), else the defaults below.

        Parameters
        ----------
        article_id : str or int
        n : int, default=5
        exclude : id or list of ids, optional
            Never show these articles.
        include : id or list of ids, optional
            Only show these articles (not together with ``exclude``).
        same_section : bool, default=False
            Only articles of the same section.
        sections, content_types : str or list of str, optional
            Only articles of these sections / content types (the
            ``content_type`` field).
        tags : str or list of str, optional
            Only articles having at least one of these tags or categories.
        exclude_tags : str or list of str, optional
            Never show articles having any of these tags or categories.
        languages : "any" or list of str, optional
            By default only articles in the article's language (or with no
            language) are shown; "any" allows all, a list allows those.
        max_age : float or timedelta, optional
            Only articles published at most this many days before ``now``
            (undated articles stay).
        half_life : float or timedelta, optional
            Multiply scores by ``0.5 ** (age / half_life)`` (age in days).
        allow_newer : bool, default=True
            False shows only articles published no later than this one.
        taxonomy_boost : float, optional
            Multiply scores by ``1 + taxonomy_boost * jaccard(tags)``;
            default: the ``taxonomy_boost`` the index was built with.
        min_score : float, optional
            Drop "similar text" items whose combined score is lower.
        fallback : bool, default=True
            Fill a short list with "fallback: same section" (most recent
            first), then "fallback: most recent" articles, within the filters.
        pins : bool, default=True
            Show the editor's pinned items first (see :meth:`pin`).
        now : datetime, date or ISO 8601 str, optional
            The time ages and pin expiry are measured at (default: now).

        Returns
        -------
        list of Recommendation
            Pinned items, then "similar text" by score, then fallback items;
            each says why in ``reason``.

        Raises
        ------
        UnknownArticleError
            (a ``KeyError``) if no article has this id.
        ValueError
            If ``n`` is not a positive int or an option is invalid.
        """
        index = self._check_fitted()
        n = check_n(n, "related")
        row = index.rows.row_of(article_id)
        options = {
            "exclude": exclude,
            "include": include,
            "same_section": same_section,
            "sections": sections,
            "content_types": content_types,
            "tags": tags,
            "exclude_tags": exclude_tags,
            "languages": languages,
            "max_age": max_age,
            "half_life": half_life,
            "allow_newer": allow_newer,
            "taxonomy_boost": taxonomy_boost,
            "min_score": min_score,
            "fallback": fallback,
            "pins": pins,
            "now": now,
        }
        return self._related_row(row, n, options, "related")

    def _related_row(
        self,
        row: int,
        n: int,
        options: Mapping[str, Any],
        method: str,
        deeper: tuple[np.ndarray, np.ndarray] | None = None,
        made: tuple[Any, Settings] | None = None,
    ) -> list[Recommendation]:
        """The list of ``row``; ``deeper``: its first items without options, when known;
        ``made``: the checked options and the settings, when a caller made them once."""
        index = self.index_
        opts, settings = made or (make_options(index.editorial.policy, options, method), None)
        article = index.articles[row]
        if article is None:  # pragma: no cover - removed rows are not in the row map
            raise KeyError(row)
        query = self._query(article, row)

        def ranked(
            allowed: np.ndarray | None, custom: bool, size: int
        ) -> tuple[np.ndarray, np.ndarray]:
            if deeper is not None and not custom and size <= deeper[0].size:
                keep = deeper[0] >= 0
                return deeper[0][keep], deeper[1][keep]
            return self._ranked_row(row, allowed, custom, size)

        items = assemble(index, settings or self._settings(), query, n, opts, ranked)
        return self._finish(query, items)

    def related_all(
        self, n: int = 5, **options: Any
    ) -> Iterator[tuple[ArticleId, list[Recommendation]]]:
        """Yield ``(id, related list)`` for every article, in index order.

        ``options`` are those of :meth:`related`. Lists longer than the stored
        ones are scored from the candidate pools a block of articles at a
        time (the same lists as :meth:`related` gives one by one).
        """
        index = self._check_fitted()
        n = check_n(n, "related_all")
        made = (make_options(index.editorial.policy, options, "related_all"), self._settings())
        live = np.flatnonzero(index.rows.alive)
        pools = index.pool_idx
        batch = n > index.neighbors.shape[1] and pools is not None and n <= pools.shape[1]
        for start in range(0, live.size, ALL_BLOCK):
            rows = live[start : start + ALL_BLOCK]
            lists = pool_lists(index, made[1], rows, n) if batch else None
            for position, row in enumerate(rows.tolist()):
                deeper = None if lists is None else (lists[0][position], lists[1][position])
                article_id = index.rows.ids[row]
                yield article_id, self._related_row(row, n, options, "related_all", deeper, made)

    def similar(
        self, draft: str | Article | Mapping[str, Any], n: int = 5, **options: Any
    ) -> list[Recommendation]:
        """Return the ``n`` indexed articles most similar to a draft.

        Parameters
        ----------
        draft : str, mapping or Article
            Plain text or HTML, or an article (its title counts with
            ``title_weight``; its section, language, date and tags count for
            the options). An article whose id is in the index is left out of
            its own list.
        n : int, default=5
        **options
            Those of :meth:`related` (pins apply to indexed ids only).

        Raises
        ------
        ValueError
            If the index holds embeddings and no ``embedder`` was given to
            compute the draft's.
        """
        index = self._check_fitted()
        n = check_n(n, "similar")
        field_map = self._field_map()
        if isinstance(draft, str):
            article = to_article(Article(id=_DRAFT_ID, body=draft))
        elif isinstance(draft, (Article, Mapping)):
            record: Any = draft
            if isinstance(draft, Mapping) and field_map.id not in draft:
                record = {**draft, field_map.id: _DRAFT_ID}
            article = to_article(record, field_map)
        else:
            msg = f"similar() takes text, a mapping or an Article, got {type(draft).__name__}"
            raise TypeError(msg)
        settings = self._settings()
        opts = make_options(index.editorial.policy, options, "similar")
        view = scoring_view([article], index.boilerplate, settings.ignore_tags)
        Q = index.vectorizer.transform(view)
        row = index.rows.get(article.id) if article.id != _DRAFT_ID else None
        exclude = -1 if row is None else row
        cos = query_cosines(index, Q)
        base_idx, base_cos = pool_from_row(index, cos, None, pool_size(index, settings), exclude)
        embedding = None
        if index.embeddings is not None:
            self._require_embedder("to score drafts")
            embedding = self._embed(view)
        z, e, sigma = query_vectors(index, settings, Q, base_idx, base_cos, embedding)
        if exclude >= 0:  # an indexed article: its pins and blocks go by the stored id
            article = replace(article, id=index.rows.ids[exclude])
        query = self._query(article, exclude, vector=Q)

        def ranked(
            allowed: np.ndarray | None, custom: bool, size: int
        ) -> tuple[np.ndarray, np.ndarray]:
            pool = pool_from_row(index, cos, allowed, pool_size(index, settings, size), exclude)
            rows, scores, _ = rank_query(index, settings, pool[0], pool[1], z, e, sigma)
            return rows, scores

        items = assemble(index, settings, query, n, opts, ranked)
        if exclude < 0:
            items = [item for item in items if item[2] != "pinned"]
        return self._finish(query, items)

    def explain(
        self, article_id: ArticleId, other_id: ArticleId, *, n_terms: int = 10
    ) -> Explanation:
        """Explain the score of ``other_id`` as a recommendation for ``article_id``.

        Parameters
        ----------
        article_id : str or int
            The article whose list is explained.
        other_id : str or int
            Any other indexed article (it need not be in the list).
        n_terms : int, default=10
            How many shared terms to report, largest contribution first.

        Returns
        -------
        Explanation
            Score, its components, shared terms with their share of the
            TF-IDF part, shared tags, the factors applied and the rank of
            ``other_id`` in the list of ``article_id``; ``to_dict()`` gives
            JSON.

        Raises
        ------
        UnknownArticleError
            If either id is not indexed.
        ValueError
            If the two ids are the same or ``n_terms`` is not a positive int.

        Examples
        --------
        >>> from relatedcontent import RelatedContent
        >>> rc = RelatedContent().fit([
        ...     {"id": 1, "title": "Bin collections", "body": "Bins are collected on Friday."},
        ...     {"id": 2, "title": "Garden bins", "body": "Garden waste bins are collected."},
        ... ])
        >>> why = rc.explain(1, 2)
        >>> [t.term for t in why.shared_terms]
        ['bins', 'collected']
        """
        index = self._check_fitted()
        n_terms = check_n(n_terms, "explain (n_terms)")
        row, other = index.rows.row_of(article_id), index.rows.row_of(other_id)
        if row == other:
            msg = (
                "The 'other_id' parameter of RelatedContent.explain must differ from "
                f"'article_id'; an article is never in its own list. Got {other_id!r} twice."
            )
            raise ValueError(msg)
        return explain_pair(index, self._settings(), row, other, n_terms)
