"""The evaluate command and the evaluation module (the project's quality protocol)."""

from __future__ import annotations

import io
import json

import numpy as np
import pytest
import scipy.sparse as sp

from relatedcontent._evaluate import evaluate, pair_cosines
from relatedcontent.cli import main


def run(*argv):
    out, err = io.StringIO(), io.StringIO()
    code = main([str(a) for a in argv], stdout=out, stderr=err)
    return code, out.getvalue(), err.getvalue()


def test_evaluate_command_json_and_text(council_path):
    code, out, err = run("evaluate", council_path, "--label-field", "section", "--json")
    assert code == 0, err
    result = json.loads(out)
    assert result["n"] == 64
    assert 0.5 < result["p@5"] <= 1
    assert set(result) >= {
        "p@5",
        "p@10",
        "mrr@10",
        "coverage@5",
        "hubness@5",
        "near_duplicate_rate",
        "fit_seconds",
    }
    code, out, _ = run(
        "evaluate",
        council_path,
        "--label-field",
        "section",
        "--param",
        "lsa_components=0",
        "--param",
        "hubness_gamma=0",
    )
    assert code == 0
    header, values = out.splitlines()[1:3]
    assert header.split()[:2] == ["P@5", "P@10"]
    assert len(values.split()) == 7


def test_evaluate_command_errors(council_path):
    code, _, err = run(
        "evaluate", council_path, "--param", "no_such_param=1", "--label-field", "section"
    )
    assert code == 2
    assert "unknown parameter" in err
    code, _, err = run("evaluate", council_path, "--param", "oops")
    assert code == 2
    code, _, err = run("evaluate", council_path, "--label-field", "colour")
    assert code == 2
    assert "no article has a label in the field 'colour'" in err


def test_pair_cosines_and_duplicates_dropped(council_records):
    X = sp.csr_matrix(np.array([[1.0, 0.0], [0.6, 0.8], [0.0, 1.0]]))
    got = pair_cosines(X, np.array([[1, 2], [0, -1], [1, 0]]))
    np.testing.assert_allclose(got, [[0.6, 0.0], [0.6, 0.0], [0.8, 0.0]])
    from relatedcontent import Article

    articles = [
        Article(id=r["id"], title=r["title"], body=r["body"], section=r["section"])
        for r in council_records
    ]
    copies = articles + [
        Article(
            id="dup", title=articles[0].title, body=articles[0].body, section=articles[0].section
        )
    ]
    assert evaluate(copies, label_field="section")["n"] == 64


@pytest.mark.parametrize("name", ["bbcsport.jsonl"])
def test_defaults_on_a_shared_corpus(name):
    """Targets of issue 8 on the smallest shared corpus (BBC and 20NG: benchmarks/quality.py)."""
    import warnings

    from relatedcontent import read_articles

    from .conftest import shared_file

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        result = evaluate(read_articles(shared_file(name)))
    assert result["p@5"] >= 0.98
    assert result["coverage@5"] >= 0.97
    assert result["hubness@5"] <= 5
    assert result["near_duplicate_rate"] == 0
