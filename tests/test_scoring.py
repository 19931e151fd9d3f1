"""The documented score, checked against a direct numpy computation of its definition."""

from __future__ import annotations

import numpy as np
import pytest

from relatedcontent import RelatedContent


def reference_lists(rc, k):
    """Lists from the documented definition (docs/how-it-works.md), computed densely."""
    X = rc.X_.toarray()
    n = X.shape[0]
    C = X @ X.T
    order_ids = sorted(range(n), key=lambda r: (isinstance(rc.ids_[r], str), rc.ids_[r]))
    rank = np.empty(n, dtype=int)
    rank[order_ids] = np.arange(n)
    K = min(max(rc.candidates, rc.n_neighbors), n - 1)
    pools = []
    for i in range(n):
        cand = [j for j in range(n) if j != i and C[i, j] > 0]
        cand.sort(key=lambda j: (-round(C[i, j], 12), rank[j]))
        pools.append(cand[:K])
    raw = X @ rc.lsa_components_.T.astype(np.float64)
    raw /= np.maximum(np.linalg.norm(raw, axis=1, keepdims=True), 1e-300)
    Z = np.empty_like(raw)
    for i in range(n):
        top = pools[i][: rc.smoothing_neighbors]
        w = np.array([C[i, j] for j in top])
        mean = (w[:, None] * raw[top]).sum(axis=0) / w.sum() if top else 0.0
        z = raw[i] + rc.smoothing_weight * mean
        Z[i] = z / np.linalg.norm(z)
    w_t, w_l, _ = rc.weights_
    h = Z.shape[1] // 2
    lead = Z[:, :h] / np.linalg.norm(Z[:, :h], axis=1, keepdims=True)
    L = (Z @ Z.T + lead @ lead.T) / 2  # LSA cosines at all d and at the leading d // 2 dimensions
    S = w_t * C + w_l * L
    sigma = np.ones(n)
    for i in range(n):
        if len(pools[i]) >= rc.hubness_k:  # the hubness_k-th candidate's TF-IDF cosine
            kth = sorted((C[i, j] for j in pools[i]), reverse=True)[rc.hubness_k - 1]
            sigma[i] = np.clip(1 - max(kth, 0.0), 1e-3, 1.0)
    out = {}
    for i in range(n):
        scored = []
        for j in pools[i]:
            if S[i, j] <= 0 or C[i, j] >= rc.near_duplicate_threshold:
                continue
            scored.append((S[i, j] ** (1 / (sigma[i] * sigma[j]) ** rc.hubness_gamma), j))
        scored.sort(key=lambda t: (-round(t[0], 12), rank[t[1]]))
        out[rc.ids_[i]] = [(rc.ids_[j], value) for value, j in scored[:k]]
    return out


@pytest.mark.parametrize(
    "params",
    [
        {},
        {"candidates": 12, "hubness_k": 4, "smoothing_neighbors": 2},
        {"hubness_k": 10, "hubness_gamma": 0.75},
    ],
)
def test_lists_follow_the_documented_score(rng, params):
    words = [f"w{i}" for i in range(60)]
    records = [
        {
            "id": f"d{i}" if i % 3 else i,
            "title": " ".join(rng.choice(words, 3)),
            "body": " ".join(rng.choice(words, 25)),
        }
        for i in range(80)
    ]
    rc = RelatedContent(
        n_neighbors=6, stop_words=None, min_df=1, max_df=1.0, lsa_components=8, **params
    ).fit(records)
    assert rc.lsa_.shape == (80, 8)
    want = reference_lists(rc, 6)
    for article_id, expected in want.items():
        got = rc.related(article_id, n=6, fallback=False)
        assert [g.id for g in got] == [e[0] for e in expected], article_id
        np.testing.assert_allclose([g.score for g in got], [e[1] for e in expected], rtol=1e-5)
    # on demand (n beyond the stored lists) by the same rules: the stored lists are its prefix
    for article_id in rc.ids_[:10]:
        assert [g.id for g in rc.related(article_id, n=9, fallback=False)][:6] == [
            e[0] for e in want[article_id]
        ]


def test_score_is_symmetric_and_bounded(council_records):
    rc = RelatedContent().fit(council_records)
    a, b = "bin-collection-changes-christmas", "missed-bin-reporting"
    ab, ba = rc.explain(a, b), rc.explain(b, a)
    assert ab.score == pytest.approx(ba.score)
    assert 0 < ab.score <= ab.text_similarity <= 1
    assert sum(rc.weights_) == pytest.approx(1.0)


def test_small_sites_skip_the_low_rank_part(tiny_corpus):
    rc = RelatedContent().fit(tiny_corpus[:3])
    assert rc.lsa_components_ is None
    assert rc.weights_ == (1.0, 0.0, 0.0)
    assert RelatedContent(lsa_components=0).fit(tiny_corpus).lsa_ is None


def test_drafts_are_scored_like_articles(council_records):
    """A draft with an indexed article's text and id gets its list (same pool, vectors, scale)."""
    rc = RelatedContent().fit(council_records)
    for article_id in ("missed-bin-reporting", "term-dates-2027-28-agreed"):
        draft = rc.similar(rc.article(article_id), n=8, fallback=False)
        stored = rc.related(article_id, n=8, fallback=False)
        assert [r.id for r in draft] == [r.id for r in stored]
        np.testing.assert_allclose([r.score for r in draft], [r.score for r in stored], rtol=1e-6)


@pytest.mark.parametrize("chunk", [7, 65536])
def test_scoring_passes_on_threads_match_one_thread(council_records, monkeypatch, chunk):
    import relatedcontent.scoring.lists as ranking

    monkeypatch.setattr(ranking, "SCORE_CHUNK", chunk)
    one = RelatedContent(n_jobs=1).fit(council_records)
    two = RelatedContent(n_jobs=2).fit(council_records)
    np.testing.assert_array_equal(one.neighbors_, two.neighbors_)
    np.testing.assert_array_equal(one.scores_, two.scores_)
    np.testing.assert_array_equal(one.hub_sigma_, two.hub_sigma_)
    np.testing.assert_array_equal(one.lsa_, two.lsa_)
