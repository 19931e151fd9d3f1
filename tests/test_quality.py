"""List quality with default settings on the shared corpora (skipped where absent)."""

from __future__ import annotations

import warnings

import pytest

from relatedcontent import read_articles
from relatedcontent._evaluate import dedupe, evaluate, list_metrics
from relatedcontent.cli import main

from .conftest import shared_file


def test_bbc_p_at_5_with_defaults(tmp_path, capsys):
    """The issue's acceptance: build + related --all on bbc gives P@5 >= 0.93."""
    import json

    path = shared_file("bbc.jsonl")
    assert main(["build", str(path), "-o", str(tmp_path / "idx"), "--quiet"]) == 0
    capsys.readouterr()
    assert main(["related", str(tmp_path / "idx"), "--all", "-n", "10", "--json"]) == 0
    lists = {}
    for line in capsys.readouterr().out.splitlines():
        record = json.loads(line)
        lists[record["id"]] = [r["id"] for r in record["related"]]
    articles = dedupe(read_articles(path))
    label = {a.id: a.extra["label"] for a in articles}
    kept = set(label)
    hits = total = 0
    for article_id in label:
        top = [other for other in lists[article_id] if other in kept][:5]
        hits += sum(label[other] == label[article_id] for other in top)
        total += 5
    assert hits / total >= 0.93


def test_evaluate_bbcsport():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        result = evaluate(read_articles(shared_file("bbcsport.jsonl")))
    assert result["n"] == 727
    assert result["p@5"] >= 0.96
    assert result["coverage@5"] >= 0.95


def test_list_metrics_by_hand():
    import numpy as np

    neighbors = np.array([[1, 2, -1, -1, -1], [0, 2, -1, -1, -1], [1, 0, -1, -1, -1]])
    scores = np.array([[0.95, 0.2, 0, 0, 0], [0.95, 0.1, 0, 0, 0], [0.3, 0.2, 0, 0, 0]])
    labels = [frozenset({"a"}), frozenset({"a"}), frozenset({"b"})]
    m = list_metrics(neighbors, scores, labels)
    assert m["p@5"] == pytest.approx(2 / 15)
    assert m["mrr@10"] == pytest.approx(2 / 3)
    assert m["coverage@5"] == 1.0
    assert m["hubness@5"] == pytest.approx(2 / 5)
    assert m["near_duplicate_rate"] == pytest.approx(2 / 6)
