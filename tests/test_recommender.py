from __future__ import annotations

import warnings

import numpy as np
import pytest
import scipy.sparse as sp
from sklearn.metrics.pairwise import cosine_similarity

from relatedcontent import (
    Article,
    CorpusError,
    NotFittedError,
    RelatedContent,
    UnknownArticleError,
    read_articles,
)


def test_related_lists_on_council_site(council_path):
    rc = RelatedContent().fit(read_articles(council_path))
    items = rc.related("bin-collection-changes-christmas", n=5)
    assert len(items) == 5
    assert all(i.id != "bin-collection-changes-christmas" for i in items)
    # a site's lists should stay on topic: most items come from the same section
    assert sum(i.section == "waste-recycling" for i in items) >= 4
    top = items[0]
    assert top.url.startswith("https://")
    assert 0 < len(top.teaser) <= 100
    assert top.score <= 1.0
    assert [i.score for i in items] == sorted([i.score for i in items], reverse=True)


#: The parameters that make the score the plain TF-IDF cosine (the pre-issue-8 default).
PLAIN_COSINE = {"lsa_components": 0, "hubness_gamma": 0.0, "near_duplicates": "show"}


def test_matches_brute_force_on_random_corpus(rng):
    words = [f"w{i}" for i in range(60)]
    records = [
        {
            "id": f"d{i}",
            "title": " ".join(rng.choice(words, 3)),
            "body": " ".join(rng.choice(words, 25)),
        }
        for i in range(80)
    ]
    rc = RelatedContent(n_neighbors=6, stop_words=None, min_df=1, max_df=1.0, **PLAIN_COSINE).fit(
        records
    )
    S = cosine_similarity(rc.X_)
    for row, article_id in enumerate(rc.ids_):
        order = sorted(
            (j for j in range(80) if j != row and S[row, j] > 0),
            key=lambda j: (-round(S[row, j], 12), rc.ids_[j]),
        )
        got = rc.related(article_id, n=6)
        assert [g.id for g in got] == [rc.ids_[j] for j in order[:6]]
        np.testing.assert_allclose(
            [g.score for g in got], [S[row, j] for j in order[:6]], atol=1e-9
        )


def test_n_beyond_stored_neighbours_is_exact(council_records):
    rc = RelatedContent(n_neighbors=3).fit(council_records)
    full = RelatedContent(n_neighbors=20).fit(council_records)
    for article_id in rc.ids_[:10]:
        assert [i.id for i in rc.related(article_id, n=15)] == [
            i.id for i in full.related(article_id, n=15)
        ]


def test_ties_broken_by_id_not_input_order():
    body = "identical text about recycling bins"
    forward = RelatedContent(near_duplicates="show").fit(
        [{"id": i, "title": "", "body": body} for i in ["c", "a", "d", "b"]]
    )
    assert [r.id for r in forward.related("c", n=3)] == ["a", "b", "d"]
    mixed = RelatedContent(near_duplicates="show").fit(
        [{"id": i, "body": body} for i in ["x", 10, 2, "a"]]
    )
    assert [r.id for r in mixed.related("x", n=3)] == [2, 10, "a"]


def test_near_copies_never_come_back_as_fallback_items():
    """Six identical pages: the block of one is not five copies of itself."""
    body = "identical text about recycling bins and the new collection days"
    records = [{"id": f"copy-{i}", "body": body, "section": "waste"} for i in range(6)]
    records += [{"id": "other", "body": "Library opening hours", "section": "waste"}]
    rc = RelatedContent().fit(records)
    items = rc.related("copy-0", n=5)
    assert [(r.id, r.reason) for r in items] == [("other", "fallback: same section")]
    assert [r.id for r in rc.related("copy-0", n=5, same_section=True)] == ["other"]
    assert [r.id for r in rc.similar(body, n=5)] == ["other"]
    shown = RelatedContent(near_duplicates="show").fit(records)
    assert len(shown.related("copy-0", n=5)) == 5


def test_duplicate_documents_score_one(tiny_corpus):
    records = tiny_corpus + [{**tiny_corpus[0], "id": "copy"}]
    rc = RelatedContent(near_duplicates="show").fit(records)
    best = rc.related(1, n=1)[0]
    assert best.id == "copy"
    assert best.score == pytest.approx(1.0)
    # by default a near-copy is not shown as related
    assert "copy" not in [r.id for r in RelatedContent().fit(records).related(1, n=5)]


def test_tiny_site_gets_lists(tiny_corpus):
    rc = RelatedContent().fit(tiny_corpus)
    assert rc.report_["n_terms"] > 10
    assert rc.related(1, n=1)[0].id == 2
    assert rc.related(3, n=1)[0].id == 4
    assert rc.related(7, n=1)[0].id == 8


def test_extra_fields_are_returned():
    rc = RelatedContent().fit(
        [
            {"id": 1, "title": "Bins", "body": "bin day", "image": "/a.png", "author": "x"},
            {
                "id": 2,
                "title": "Bins",
                "body": "bin day moves",
                "image": "/b.png",
                "section": "waste",
            },
        ]
    )
    item = rc.related(1)[0]
    assert item.extra == {}
    assert item.image == "/b.png"
    assert item.to_dict()["image"] == "/b.png"
    assert item.section == "waste"
    assert item.to_dict()["image"] == "/b.png"


def test_default_image_is_the_image_of_items_without_one():
    records = [
        {"id": 1, "title": "Bins", "body": "bin day collection"},
        {"id": 2, "title": "Bins", "body": "bin day moves collection", "image": "/b.png"},
        {"id": 3, "title": "Bins", "body": '<p>bin day collection gardens</p><img src="/c.jpg">'},
        {"id": 4, "title": "Bins", "body": "bin day collection again in spring"},
        {"id": 5, "title": "Parks", "body": "the park opens"},
    ]
    plain = RelatedContent().fit(records)
    assert {i.id: i.image for i in plain.related(1, n=4)} == {
        2: "/b.png",
        3: "/c.jpg",
        4: None,
        5: None,
    }
    assert "image" not in plain.related(1, n=4)[-1].to_dict()

    logo = "https://example.org/logo.png"
    rc = RelatedContent(default_image=logo).fit(records)
    want = {1: logo, 2: "/b.png", 3: "/c.jpg", 4: logo, 5: logo}
    items = rc.related(1, n=4)
    assert {i.id: i.image for i in items} == {k: want[k] for k in (2, 3, 4, 5)}
    assert items[-1].reason.startswith("fallback")  # fallback items get it too
    assert all(i.to_dict()["image"] == i.image for i in items)
    assert all(i.image == want[i.id] for i in rc.similar("bin day collection", n=4))
    assert all(i.image == want[i.id] for _, lst in rc.related_all(n=4) for i in lst)
    rc.pin(1, [5])
    assert rc.related(1, n=1)[0].reason == "pinned"
    assert rc.related(1, n=1)[0].image == logo
    assert rc.article(4).image is None  # the stored article is not changed
    rc.set_params(default_image="/default.png")  # applied when lists are read: no refit
    assert {i.id: i.image for i in rc.related(2, n=4)}[4] == "/default.png"


def test_empty_title_uses_body():
    rc = RelatedContent().fit(
        [
            {
                "id": 1,
                "title": "",
                "body": (
                    "Garden waste bins are collected every second Friday of the month from May."
                ),
            },
            {"id": 2, "title": "Garden waste", "body": "Garden waste bins collected"},
        ]
    )
    item = rc.related(2)[0]
    assert item.title.startswith("Garden waste bins are collected")
    assert item.teaser.startswith("Garden waste bins")


def test_similar_for_a_draft(council_records):
    rc = RelatedContent().fit(council_records)
    items = rc.similar("When is my bin collected over Christmas and New Year?", n=3)
    assert items[0].id == "bin-collection-changes-christmas"
    as_article = rc.similar(
        {"title": "Polling station", "body": "Where do I vote in the election?"}
    )
    assert as_article[0].section == "elections"
    indexed = rc.article("missed-bin-reporting")
    assert all(i.id != indexed.id for i in rc.similar(indexed))
    assert rc.similar("zzzz qqqq", fallback=False) == []
    assert {r.reason for r in rc.similar("zzzz qqqq")} == {"fallback: most recent"}
    with pytest.raises(TypeError, match="similar"):
        rc.similar(42)


def test_related_all_matches_related(tiny_corpus):
    rc = RelatedContent().fit(tiny_corpus)
    everything = dict(rc.related_all(n=3))
    assert list(everything) == rc.ids_
    for article_id, items in everything.items():
        assert [i.id for i in items] == [i.id for i in rc.related(article_id, n=3)]


def test_unknown_id_is_a_key_error(tiny_corpus):
    rc = RelatedContent().fit(tiny_corpus)
    with pytest.raises(UnknownArticleError, match="'99'") as info:
        rc.related("99")
    assert isinstance(info.value, KeyError)
    with pytest.raises(KeyError):
        rc.related(["unhashable"])
    assert 1 in rc
    assert "1" in rc  # ids are matched by their text
    assert rc.related("1") == rc.related(1)
    assert "01" not in rc


@pytest.mark.parametrize("n", [0, -1, 1.5, "5", None, True])
def test_bad_n(tiny_corpus, n):
    rc = RelatedContent().fit(tiny_corpus)
    with pytest.raises(
        ValueError, match=r"'n' parameter of RelatedContent.related must be an int in \[1, inf\)"
    ):
        rc.related(1, n=n)


def test_empty_corpus_and_single_article():
    with pytest.raises(CorpusError, match="no articles"):
        RelatedContent().fit([])
    rc = RelatedContent().fit([{"id": "only", "title": "Lonely article", "body": "text"}])
    assert rc.related("only") == []  # nothing to fall back on either
    assert rc.neighbors_.shape == (1, 0)


def test_articles_without_text_policies(tiny_corpus):
    records = tiny_corpus + [{"id": "blank", "title": "", "body": "<p> </p><script>x()</script>"}]
    with pytest.warns(UserWarning, match="no text to index: .blank."):
        rc = RelatedContent().fit(records)
    assert rc.related("blank", fallback=False) == []
    assert {r.reason for r in rc.related("blank")} == {"fallback: most recent"}
    assert all("blank" not in [i.id for i in items] for _, items in rc.related_all())
    with pytest.warns(UserWarning, match="dropped 1"):
        dropped = RelatedContent(empty_text="drop").fit(records)
    assert "blank" not in dropped
    with pytest.raises(CorpusError, match="'blank'"):
        RelatedContent(empty_text="error").fit(records)


def test_only_stop_words_does_not_crash():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        rc = RelatedContent().fit(
            [{"id": i, "title": "the and of", "body": "it is"} for i in range(3)]
        )
    assert rc.report_["n_terms"] == 0
    assert rc.related(0, fallback=False) == []


def test_not_fitted():
    with pytest.raises(NotFittedError, match="not fitted"):
        RelatedContent().related(1)
    with pytest.raises(ValueError, match="not fitted"):
        RelatedContent().similar("x")


@pytest.mark.parametrize(
    ("params", "match"),
    [
        ({"n_neighbors": 0}, "n_neighbors"),
        ({"title_weight": -1}, "title_weight"),
        ({"empty_text": "ignore"}, "empty_text"),
        ({"memory_budget": "lots"}, "memory_budget"),
        ({"field_map": 3}, "field_map"),
        ({"default_image": ""}, "default_image"),
        ({"default_image": "  "}, "default_image"),
        ({"default_image": 3}, "default_image"),
    ],
)
def test_bad_params_fail_in_fit(tiny_corpus, params, match):
    model = RelatedContent(**params)  # __init__ only stores
    with pytest.raises(ValueError, match=match):
        model.fit(tiny_corpus)


def test_field_map_param_and_article_objects():
    rc = RelatedContent(field_map={"id": "nid", "body": ["summary", "text"]}).fit(
        [
            {"nid": 1, "title": "Bins", "summary": "Bin day", "text": "moves to Friday"},
            {"nid": 2, "title": "Bins", "summary": "Bin day", "text": "collections"},
        ]
    )
    assert rc.related(1)[0].id == 2
    rc2 = RelatedContent().fit(
        [Article(id=1, title="Bins", body="bin day"), Article(id=2, title="Bins")]
    )
    assert rc2.related(2)[0].id == 1


def test_fit_results_do_not_depend_on_jobs_or_budget(council_records):
    a = RelatedContent().fit(council_records)
    b = RelatedContent(n_jobs=2, memory_budget=4096).fit(council_records)
    np.testing.assert_array_equal(a.neighbors_, b.neighbors_)
    np.testing.assert_allclose(a.scores_, b.scores_)
    assert sp.issparse(a.X_)


def test_title_weight_changes_ranking():
    records = [
        {"id": "q", "title": "Library", "body": "opening hours change"},
        {"id": "t", "title": "Library", "body": "new books"},
        {"id": "b", "title": "Notice", "body": "opening hours change for the library"},
    ]
    heavy = RelatedContent(title_weight=5).fit(records)
    light = RelatedContent(title_weight=0.2).fit(records)
    assert heavy.related("q", n=1)[0].id == "t"
    assert light.related("q", n=1)[0].id == "b"


def test_vectors_equal_scikit_learn_tfidf(council_records):
    """The direct TF-IDF arithmetic matches TfidfTransformer on the same weighted counts."""
    from sklearn.feature_extraction.text import TfidfTransformer

    rc = RelatedContent().fit(council_records)
    vec = rc.vectorizer_
    counter = vec._counter(vec.vocabulary_)
    counts = [sp.csr_matrix(counter.transform(f)) for f in vec._fields(rc.articles_)]
    weighted = vec._weighted_counts(counts)
    reference = TfidfTransformer(sublinear_tf=True)
    reference.idf_ = vec.idf_
    np.testing.assert_allclose(rc.X_.toarray(), reference.transform(weighted).toarray(), atol=1e-12)


def test_verbose_fit_names_each_stage(council_records, capsys):
    RelatedContent(verbose=True).fit(council_records)
    err = capsys.readouterr().err
    stages = [
        "looking for site boilerplate",
        "vectorising",
        "low-rank part",
        "candidates:",
        "neighbours: 64/64 rows",
        "scores:",
    ]
    positions = [err.find(stage) for stage in stages]
    assert -1 not in positions, err
    assert positions == sorted(positions)
    RelatedContent().fit(council_records)
    assert capsys.readouterr().err == ""
