"""Changes to a fitted :class:`~relatedcontent.RelatedContent`: articles and editorial data.

Articles: :meth:`EditingMixin.apply_changes` is the one entry point for
additions, updates and removals (``add``, ``update`` and ``remove`` call it);
its rules are :func:`relatedcontent.index.changes.plan_batch` and its repair of
the lists :func:`relatedcontent.index.changes.apply_rows`. Every change is
also recorded for the index's journal, so that :meth:`RelatedContent.save`
appends it instead of rewriting the index.

Editorial data: pins, blocks and the default query policy, kept in the index.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

from .exceptions import CorpusError
from .index.article_table import article_from_json
from .index.changes import Batch, apply_rows, plan_batch, refit_advice
from .index.growth import prepare_changes
from .index.persistence import pending_records
from .index.state import FittedIndex, StorageLink
from .ingest.articles import (
    Article,
    ArticleId,
    FieldMap,
    build_corpus,
    iter_articles,
    merge_article,
    named_fields,
)
from .scoring.options import id_list, make_options, timestamp
from .scoring.settings import Settings
from .text.view import scoring_view
from .vectors.lsa import unit_rows

if TYPE_CHECKING:
    from ._recommender import RelatedContent

__all__ = ["ChangeReport", "EditingMixin"]


@dataclass(frozen=True)
class ChangeReport:
    """What :meth:`RelatedContent.apply_changes` did.

    Attributes
    ----------
    added, updated, removed : list of ids
        Articles indexed for the first time, replaced, and removed.
    """

    added: list[ArticleId] = field(default_factory=list)
    updated: list[ArticleId] = field(default_factory=list)
    removed: list[ArticleId] = field(default_factory=list)

    def to_dict(self) -> dict[str, list[ArticleId]]:
        """Return a JSON-ready mapping."""
        return {
            "added": list(self.added),
            "updated": list(self.updated),
            "removed": list(self.removed),
        }


def _id_items(ids: Any) -> list[Any]:
    return [ids] if isinstance(ids, (str, int)) else list(ids)


class EditingMixin:
    """The methods of :class:`~relatedcontent.RelatedContent` that change a fitted index."""

    if TYPE_CHECKING:  # provided by RelatedContent
        index_: FittedIndex
        embedder: Any

        def _check_fitted(self) -> FittedIndex: ...
        def _settings(self) -> Settings: ...
        def _field_map(self) -> FieldMap: ...
        def _apply_empty_policy(
            self, corpus: list[Article], vectorizer: Any = None
        ) -> list[Article]: ...
        def _embed(self, view: list[Article]) -> np.ndarray: ...
        def _require_embedder(self, purpose: str) -> None: ...
        def _set_index(self, index: FittedIndex) -> None: ...
        def fit(self, articles: Iterable[Any], y: None = None) -> RelatedContent: ...

    # -- articles ----------------------------------------------------------------------
    def add(self, articles: Iterable[Article | Mapping[str, Any]], *, upsert: bool = False) -> Any:
        """Add new articles to the index and repair every related list.

        Parameters
        ----------
        articles : iterable of mapping or Article
        upsert : bool, default=False
            Replace articles whose id is already indexed instead of refusing them.

        Raises
        ------
        CorpusError
            If an id is already in the index (without ``upsert``), ids repeat
            within ``articles``, or a record is malformed.
        """
        self.apply_changes(add=articles, upsert=upsert)
        return self

    def update(self, articles: Iterable[Article | Mapping[str, Any]], *, merge: bool = True) -> Any:
        """Change indexed articles (same id, new text or metadata).

        Parameters
        ----------
        articles : iterable of mapping or Article
        merge : bool, default=True
            A mapping changes only the fields it names: ``{"id": 7, "section":
            "Roads"}`` moves article 7 to Roads and keeps its title and body;
            extra fields merge key by key. With ``merge=False``, or for an
            :class:`Article`, the record replaces the whole article (as
            ``add(..., upsert=True)`` does).

        Raises
        ------
        UnknownArticleError
            If an id is not in the index; nothing is changed.
        """
        self.apply_changes(update=articles, merge=merge)
        return self

    def remove(self, ids: Iterable[ArticleId] | ArticleId, *, missing_ok: bool = False) -> Any:
        """Remove articles from the index and from every related list.

        Parameters
        ----------
        ids : iterable of str or int
        missing_ok : bool, default=False
            Ignore ids that are not in the index instead of raising.

        Raises
        ------
        UnknownArticleError
            If an id is not in the index (unless ``missing_ok``); nothing is changed.
        """
        self.apply_changes(remove=ids, missing_ok=missing_ok)
        return self

    def apply_changes(
        self,
        *,
        add: Iterable[Article | Mapping[str, Any]] = (),
        update: Iterable[Article | Mapping[str, Any]] = (),
        remove: Iterable[ArticleId] | ArticleId = (),
        upsert: bool = False,
        missing_ok: bool = False,
        merge: bool = True,
    ) -> ChangeReport:
        """Apply a batch of additions, updates and removals at once, all or nothing.

        Removals come first, so an id can be removed and added again in one
        batch. Every rule is checked before anything changes; the lists are
        then repaired once for the whole batch.

        Parameters
        ----------
        add : iterable of mapping or Article
            Articles to index; an id already indexed is refused unless ``upsert``.
        update : iterable of mapping or Article
            Indexed articles to change: a mapping changes the fields it names
            (see :meth:`update`), an :class:`Article` replaces the article.
        remove : iterable of ids
            Articles to remove from the index and from every list.
        upsert : bool, default=False
            ``add`` replaces articles whose id is already indexed.
        missing_ok : bool, default=False
            Ignore ids of ``remove`` that are not indexed.
        merge : bool, default=True
            Records of ``update`` change only the fields they name; False
            replaces whole articles.

        Returns
        -------
        ChangeReport
            The ids added, updated and removed.

        Raises
        ------
        CorpusError
            If a record is malformed or an article appears twice.
        DuplicateArticleError
            If ``add`` holds an indexed id and ``upsert`` is False.
        UnknownArticleError
            If ``update`` or ``remove`` names an id that is not indexed.

        Examples
        --------
        >>> from relatedcontent import RelatedContent
        >>> rc = RelatedContent().fit([{"id": 1, "body": "bins"}, {"id": 2, "body": "bins"}])
        >>> rc.apply_changes(add=[{"id": 3, "body": "bin day"}], remove=[2]).to_dict()
        {'added': [3], 'updated': [], 'removed': [2]}
        """
        self._check_fitted()
        adds, updates = self._prepare(add), self._prepare(update, merge=merge)
        return self._change(adds, updates, _id_items(remove), upsert, missing_ok)

    def _change(
        self,
        adds: list[Article],
        updates: list[Article],
        removes: list[Any],
        upsert: bool,
        missing_ok: bool,
    ) -> ChangeReport:
        """:meth:`apply_changes` of articles already prepared (cleaned, empty policy applied)."""
        index = self.index_
        batch = plan_batch(
            index.rows,
            add=adds,
            update=updates,
            remove=removes,
            upsert=upsert,
            missing_ok=missing_ok,
        )
        self._apply(batch)
        self._count_tokens(batch.add)
        _log(index.link, batch, adds, updates, upsert)
        index.drift["added"] += len(batch.added)
        index.drift["updated"] += len(batch.updated)
        index.drift["removed"] += len(batch.remove)
        return ChangeReport(batch.added, batch.updated, batch.remove)

    def _prepare(
        self, articles: Iterable[Article | Mapping[str, Any]], *, merge: bool = False
    ) -> list[Article]:
        """Clean records (and with ``merge``, fill in the fields they leave out from the index)."""
        field_map = self._field_map()
        records: Any = articles
        if merge and not isinstance(articles, (str, bytes, Mapping)):
            records = list(articles)
        batch = build_corpus(iter_articles(records, field_map))
        if merge and batch:
            batch = [self._merged(r, a, field_map) for r, a in zip(records, batch, strict=True)]
        return self._apply_empty_policy(batch, self.index_.vectorizer) if batch else batch

    def _merged(self, record: Any, article: Article, field_map: FieldMap) -> Article:
        """``article`` merged into the stored one, when ``record`` is a mapping of an indexed id."""
        index = self.index_
        row = index.rows.get(article.id)
        if not isinstance(record, Mapping) or row is None:
            return article
        stored = index.live_article(row)
        return merge_article(stored, article, named_fields(record, field_map))

    def _count_tokens(self, batch: list[Article]) -> None:
        if not batch:
            return
        index = self.index_
        tokens, unknown = index.vectorizer.token_counts(batch)
        index.drift["new_tokens"] += tokens
        index.drift["unknown_tokens"] += unknown

    def _prepare_changes(self) -> None:
        """Make the storage changes need now, so that the first change is as fast as the next."""
        prepare_changes(self._check_fitted())

    def _apply(self, batch: Batch) -> None:
        """Vectorise the batch's articles, then change the index (nothing changes on error)."""
        index = self.index_
        if not batch.add and not batch.dead:
            return
        settings = self._settings()
        view = scoring_view(batch.add, index.boilerplate, settings.ignore_tags)
        X_new = index.vectorizer.transform(view)
        E_new = None
        if index.embeddings is not None and batch.add:
            self._require_embedder("to add articles")
            E_new = unit_rows(self._embed(view))
        dead = [index.rows.row_of(i) for i in batch.dead]
        apply_rows(index, settings, dead, batch.add, X_new, E_new)

    def _replay(self, changes: list[dict[str, Any]]) -> None:
        """Apply changes read from a journal (articles are stored already cleaned)."""
        for number, change in enumerate(changes, start=1):
            op = change.get("op")
            items = change.get("items", [])
            upsert = bool(change.get("upsert"))
            if op == "remove":
                self._change([], [], list(items), upsert, True)
            elif op == "add":
                self._change([article_from_json(i) for i in items], [], [], upsert, False)
            elif op == "update":
                self._change([], [article_from_json(i) for i in items], [], upsert, False)
            elif op == "batch":
                adds = [article_from_json(i) for i in change.get("add", [])]
                updates = [article_from_json(i) for i in change.get("update", [])]
                self._change(adds, updates, list(change.get("remove", [])), upsert, True)
            else:
                msg = f"journal change {number} has an unknown operation {op!r}"
                raise CorpusError(msg)
        self.index_.link.pending = []

    def pending_changes(self) -> list[dict[str, Any]]:
        """Changes made since the last save, as JSON-ready journal records."""
        return pending_records(self._check_fitted())

    def refit(self) -> Any:
        """Refit vocabulary, IDF and every list from the stored articles."""
        index = self._check_fitted()
        articles = [a for a, alive in zip(index.articles, index.rows.alive, strict=True) if alive]
        origin = index.link.origin
        self.fit(articles)
        # the next save writes a full snapshot over the one it was loaded from
        self.index_.link = StorageLink(origin=origin, needs_snapshot=True)
        return self

    def refit_advice(self) -> str | None:
        """Return why a full :meth:`refit` is advisable now, or None."""
        return refit_advice(self._check_fitted().drift)

    def memory_usage(self) -> dict[str, int]:
        """Bytes held by the index's arrays (vectors, lists), by part.

        The vectors (``X_``) are what makes exact repair of lists possible
        after removals without a rebuild.
        """
        return self._check_fitted().memory_usage()

    # -- editorial data ----------------------------------------------------------------
    def pin(self, article_id: ArticleId, other_ids: Any, *, expires: Any = None) -> Any:
        """Show ``other_ids`` first in the list of ``article_id`` (in this order).

        Parameters
        ----------
        article_id : str or int
        other_ids : id or list of ids
            Appended after existing pins; an id pinned again moves to the end.
        expires : datetime, date or ISO 8601 str, optional
            From then on the pin is ignored.

        Returns
        -------
        self : RelatedContent
            Save the index to keep the pins.
        """
        index = self._check_fitted()
        article_id = index.rows.stored_id(article_id)
        others = tuple(index.rows.stored_id(o) for o in id_list(other_ids, "other_ids", "pin"))
        if expires is not None:
            timestamp(expires)
            expires = expires.isoformat() if hasattr(expires, "isoformat") else str(expires)
        index.editorial.pin(article_id, others, expires)
        return self

    def unpin(self, article_id: ArticleId, other_ids: Any = None) -> Any:
        """Remove pins of ``article_id``.

        Parameters
        ----------
        article_id : str or int
        other_ids : id or list of ids, optional
            The pins to remove; all of them when None.

        Returns
        -------
        self : RelatedContent
        """
        index = self._check_fitted()
        rows = index.rows
        others = None if other_ids is None else id_list(other_ids, "other_ids", "unpin")
        if others is not None:
            others = tuple(rows.stored_id(o) if o in rows else o for o in others)
        index.editorial.unpin(
            rows.stored_id(article_id) if article_id in rows else article_id, others
        )
        return self

    def block(self, article_id: ArticleId, other_id: ArticleId) -> Any:
        """Never show these two articles together, in either article's list.

        Pins between them are removed. Blocks are kept in the index.

        Parameters
        ----------
        article_id, other_id : str or int
            Two different indexed articles.

        Returns
        -------
        self : RelatedContent

        Raises
        ------
        UnknownArticleError
            If an id is not indexed.
        ValueError
            If the two ids are the same.
        """
        index = self._check_fitted()
        article_id, other_id = index.rows.stored_id(article_id), index.rows.stored_id(other_id)
        if article_id == other_id:
            msg = "The 'other_id' parameter of RelatedContent.block must differ from 'article_id'."
            raise ValueError(msg)
        index.editorial.block(article_id, other_id)
        return self

    def unblock(self, article_id: ArticleId, other_id: ArticleId) -> Any:
        """Allow two blocked articles together again (no error if they were not blocked).

        Returns
        -------
        self : RelatedContent
        """
        rows = self._check_fitted().rows
        pair = [rows.stored_id(i) if i in rows else i for i in (article_id, other_id)]
        self.index_.editorial.blocks.discard(frozenset(pair))
        return self

    def set_policy(self, **options: Any) -> Any:
        """Store default query options in the index (those of :meth:`related`).

        Options given here apply to every :meth:`related`, :meth:`related_all`
        and :meth:`similar` call that does not set them; the policy is saved
        with the index. Calling it again replaces the whole policy.

        Examples
        --------
        >>> from relatedcontent import RelatedContent
        >>> rc = RelatedContent().fit([{"id": 1, "body": "bins"}, {"id": 2, "body": "bins"}])
        >>> rc.set_policy(same_section=True, half_life=30).editorial_.policy
        {'same_section': True, 'half_life': 30.0}
        """
        index = self._check_fitted()
        opts = make_options({}, options, "set_policy")
        index.editorial.policy = opts.to_policy()
        return self


def _log(
    link: StorageLink, batch: Batch, adds: list[Article], updates: list[Article], upsert: bool
) -> None:
    """Record a batch for the journal: as one of the single operations when it is one."""
    parts = [bool(batch.remove), bool(adds), bool(updates)]
    if sum(parts) > 1:
        link.pending.append(
            {
                "op": "batch",
                "remove": batch.remove,
                "add": adds,
                "update": updates,
                "upsert": upsert,
            }
        )
    elif batch.remove:
        link.pending.append({"op": "remove", "items": batch.remove})
    elif adds:
        link.pending.append({"op": "add", "items": adds, "upsert": upsert})
    elif updates:
        link.pending.append({"op": "update", "items": updates})
