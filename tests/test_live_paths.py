"""The fast paths of the live index give what the general path gives.

Deeper and filtered lists read an article's stored candidate pool when it
decides the answer; ``related_all`` scores deeper lists a block at a time;
teasers are cached. Each is compared here with the path it short-cuts.
"""

from __future__ import annotations

import dataclasses
import warnings

import numpy as np
import pytest

import relatedcontent._queries as queries
from relatedcontent import Recommendation, RelatedContent


@pytest.fixture
def model(council_records):
    records = [dict(r) for r in council_records]
    for position, record in enumerate(records):
        record["language"] = ("en", "cy", None)[position % 3]
    # near-copies, so that the near-copy rule has work to do
    records += [
        {**records[0], "id": "copy-a", "title": records[0]["title"] + " (updated)"},
        {**records[1], "id": "copy-b"},
    ]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        fitted = RelatedContent(
            n_neighbors=5, candidates=12, near_duplicates="collapse", lsa_components=8
        ).fit(records)
        fitted.remove([records[7]["id"], records[20]["id"]])
        fitted.add([{**records[7], "id": "readded", "body": records[7]["body"] + " extra"}])
    return fitted


def _lists(model, **options):
    return {i: [(r.id, r.score) for r in model.related(i, **options)] for i in model.ids_}


def _assert_same(got, want):
    """Same ids in the same order; scores equal but for the last bits.

    (A pool entry offered by an added article holds the cosine summed from the
    added article's side; the full product sums it from the query's side.)
    """
    assert {i: [r[0] for r in items] for i, items in got.items()} == {
        i: [r[0] for r in items] for i, items in want.items()
    }
    for article_id, items in got.items():
        np.testing.assert_allclose(
            [r[1] for r in items], [r[1] for r in want[article_id]], rtol=1e-12, atol=0
        )


@pytest.mark.parametrize(
    "options",
    [
        {"n": 9},
        {"n": 12},
        {"n": 5, "exclude": ["copy-a"]},
        {"n": 7, "sections": ["schools", "events"]},
        {"n": 30},  # deeper than the pools
    ],
)
def test_stored_pools_answer_as_the_full_product(model, monkeypatch, options):
    fast = _lists(model, **options)
    monkeypatch.setattr(queries, "stored_pool", lambda *args: None)
    _assert_same(fast, _lists(model, **options))


@pytest.mark.parametrize("n", [5, 8, 12, 20])
def test_related_all_equals_related_one_by_one(model, n):
    together = {i: [(r.id, r.score, r.reason) for r in items] for i, items in model.related_all(n)}
    one_by_one = {i: [(r.id, r.score, r.reason) for r in model.related(i, n=n)] for i in model.ids_}
    assert together == one_by_one


def test_cached_items_are_the_items(model):
    first = model.related(model.ids_[3], n=8)
    model.index_.__dict__.pop("_items")
    again = model.related(model.ids_[3], n=8)
    assert [r.to_dict() for r in again] == [r.to_dict() for r in first]
    assert np.all([item.teaser for item in first])
    # the same objects the dataclass makes: equal, hashable fields, frozen
    assert again == [Recommendation(**vars(r)) for r in again]
    with pytest.raises(dataclasses.FrozenInstanceError):
        again[0].score = 1.0


def test_changes_in_memory_blocks_equal_changes_at_once(council_records):
    """Pools recomputed after a change are made block by block within the memory budget."""

    def changed(budget):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            model = RelatedContent(n_neighbors=5, candidates=10, memory_budget=budget)
            model.fit(council_records[:50])
            model.remove([council_records[3]["id"], council_records[9]["id"]])
            model.add(council_records[50:58])
            model.update([{**council_records[12], "body": "Bins and recycling at Christmas."}])
        return {i: [(r.id, r.score) for r in model.related(i, n=5)] for i in model.ids_}

    assert changed(1) == changed("512MiB")
