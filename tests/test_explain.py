"""Explanations: RelatedContent.explain, Recommendation.reason, the explain command."""

from __future__ import annotations

import io
import json

import numpy as np
import pytest

from relatedcontent import Explanation, RelatedContent, UnknownArticleError
from relatedcontent.cli import main


@pytest.fixture
def fitted(council_records):
    return RelatedContent().fit(council_records)


def test_every_recommendation_has_a_reason(fitted):
    items = fitted.related("bin-collection-changes-christmas", n=5)
    assert {item.reason for item in items} == {"similar text"}
    assert items[0].to_dict()["reason"] == "similar text"


def test_explain_listed_item(fitted):
    first = fitted.related("bin-collection-changes-christmas", n=1)[0]
    why = fitted.explain("bin-collection-changes-christmas", first.id)
    assert isinstance(why, Explanation)
    assert why.rank == 1
    assert why.score == pytest.approx(first.score)
    assert why.reason == first.reason
    # the shares of the shared terms add up to the TF-IDF part of the score
    full = fitted.explain("bin-collection-changes-christmas", first.id, n_terms=10_000)
    assert sum(t.share for t in full.shared_terms) == pytest.approx(1.0)
    weights = [t.weight for t in why.shared_terms]
    assert weights == sorted(weights, reverse=True)
    data = why.to_dict()
    assert json.loads(json.dumps(data)) == data
    assert data["shared_terms"][0]["term"] == why.shared_terms[0].term


def test_explain_unrelated_pair_and_errors(fitted):
    lonely = RelatedContent().fit(
        [
            {"id": "a", "title": "Bins", "body": "bin day moves"},
            {"id": "b", "title": "Schools", "body": "term dates"},
            {"id": "c", "title": "Bins", "body": "garden bin day"},
        ]
    )
    why = lonely.explain("a", "b")
    assert why.rank is None
    assert why.shared_terms == ()
    assert why.components["tfidf"] == 0
    assert any("no indexed term" in note for note in why.notes)
    with pytest.raises(UnknownArticleError):
        fitted.explain("bin-collection-changes-christmas", "nope")
    with pytest.raises(ValueError, match="'other_id' parameter of RelatedContent.explain"):
        fitted.explain("bin-collection-changes-christmas", "bin-collection-changes-christmas")
    with pytest.raises(ValueError, match="n_terms"):
        fitted.explain("bin-collection-changes-christmas", "missed-bin-reporting", n_terms=0)


def test_shared_tags_are_reported():
    rc = RelatedContent().fit(
        [
            {"id": 1, "title": "Bin day", "body": "bins collected", "tags": ["Waste", "Christmas"]},
            {"id": 2, "title": "Garden bins", "body": "bins collected", "tags": ["waste"]},
        ]
    )
    assert rc.explain(1, 2).shared_tags == ("Waste",)


def test_explain_command(tmp_path, council_path):
    out, err = io.StringIO(), io.StringIO()
    assert main(["build", str(council_path), "-o", str(tmp_path / "idx"), "--quiet"]) == 0
    assert (
        main(
            [
                "explain",
                str(tmp_path / "idx"),
                "bin-collection-changes-christmas",
                "missed-bin-reporting",
                "--json",
            ],
            stdout=out,
            stderr=err,
        )
        == 0
    ), err.getvalue()
    data = json.loads(out.getvalue())
    assert data["other_id"] == "missed-bin-reporting"
    assert data["shared_terms"]
    out = io.StringIO()
    assert (
        main(
            [
                "explain",
                str(tmp_path / "idx"),
                "bin-collection-changes-christmas",
                "missed-bin-reporting",
            ],
            stdout=out,
            stderr=err,
        )
        == 0
    )
    assert "shared terms:" in out.getvalue()
    assert (
        main(
            ["explain", str(tmp_path / "idx"), "bin-collection-changes-christmas", "nope"],
            stdout=io.StringIO(),
            stderr=err,
        )
        == 1
    )


def test_explain_matches_the_vectors(fitted):
    row = fitted.ids_.index("bin-collection-changes-christmas")
    other = int(fitted.neighbors_[row, 2])
    why = fitted.explain(fitted.ids_[row], fitted.ids_[other], n_terms=10_000)
    cosine = float(fitted.X_[row].multiply(fitted.X_[other]).sum())
    assert sum(t.weight for t in why.shared_terms) == pytest.approx(cosine)
    assert why.rank == 3
    assert np.isclose(why.components["tfidf"], cosine)
    w_tfidf, w_lsa, _ = fitted.weights_
    assert np.isclose(why.text_similarity, w_tfidf * cosine + w_lsa * why.components["lsa"])
