"""The door for semantic vectors: any texts -> vectors callable, blended and saved."""

from __future__ import annotations

import re
import zlib

import numpy as np
import pytest

from relatedcontent import RelatedContent, load


class HashingEmbedder:
    """A small deterministic stand-in for a sentence-embedding model (no download)."""

    def __init__(self, dim: int = 64) -> None:
        self.dim = dim
        self.calls = 0

    def __call__(self, texts):
        self.calls += 1
        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        for row, text in enumerate(texts):
            for token in re.findall(r"[a-z]{3,}", text.lower()):
                h = zlib.crc32(token.encode())
                out[row, h % self.dim] += 1.0 if (h >> 16) & 1 else -1.0
        return out


BINS = "bin-collection-changes-christmas"


def test_embeddings_are_blended_and_explained(council_records):
    embedder = HashingEmbedder()
    rc = RelatedContent(embedder=embedder, embedding_weight=0.5).fit(council_records)
    assert rc.embeddings_.shape == (64, 64)
    np.testing.assert_allclose(np.linalg.norm(rc.embeddings_, axis=1), 1.0, rtol=1e-5)
    w_tfidf, w_lsa, w_emb = rc.weights_
    assert w_emb == 0.5
    assert w_tfidf + w_lsa == pytest.approx(0.5)
    assert w_lsa / (w_tfidf + w_lsa) == pytest.approx(rc.lsa_weight)
    why = rc.explain(BINS, rc.related(BINS, n=1)[0].id)
    assert "embedding" in why.components
    expected = (
        w_tfidf * why.components["tfidf"]
        + w_lsa * why.components["lsa"]
        + w_emb * why.components["embedding"]
    )
    assert why.text_similarity == pytest.approx(expected)
    plain = RelatedContent().fit(council_records)
    assert [r.id for r in rc.related(BINS, n=10)] != [r.id for r in plain.related(BINS, n=10)]


def test_embeddings_are_saved_and_used_for_drafts(tmp_path, council_records):
    embedder = HashingEmbedder()
    rc = RelatedContent(embedder=embedder).fit(council_records)
    rc.save(tmp_path / "idx")
    snapshot = tmp_path / "idx" / (tmp_path / "idx" / "CURRENT").read_text()
    assert (snapshot / "embeddings.npy").is_file()
    without = load(tmp_path / "idx")
    assert without.embedder is None
    assert without.related(BINS) == rc.related(BINS)
    with pytest.raises(ValueError, match="pass the same embedder"):
        without.similar("bins at christmas")
    loaded = load(tmp_path / "idx", embedder=HashingEmbedder())
    draft = "When are bins collected over Christmas?"
    assert [r.id for r in loaded.similar(draft)] == [r.id for r in rc.similar(draft)]
    calls = embedder.calls
    rc.similar(draft)
    assert embedder.calls == calls + 1  # the draft is embedded


def test_added_articles_are_embedded(council_records):
    embedder = HashingEmbedder()
    rc = RelatedContent(embedder=embedder).fit(council_records[:40])
    rc.add(council_records[40:])
    fresh = RelatedContent(embedder=embedder).fit(council_records)
    np.testing.assert_allclose(rc.embeddings_, fresh.embeddings_, rtol=1e-6)


def test_bad_embedders_are_refused(council_records):
    with pytest.raises(
        ValueError, match="'embedder' parameter of RelatedContent must be a callable"
    ):
        RelatedContent(embedder="all-MiniLM-L6-v2").fit(council_records)
    with pytest.raises(ValueError, match=r"must return a finite array of shape \(n_texts, dim\)"):
        RelatedContent(embedder=lambda texts: np.zeros(3)).fit(council_records)
    with pytest.raises(ValueError, match="'embedding_weight' parameter"):
        RelatedContent(embedder=HashingEmbedder(), embedding_weight=1.5).fit(council_records)
