from __future__ import annotations

import json
import subprocess
import sys
import warnings

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from relatedcontent import CorpusError, RelatedContent, UnknownArticleError, load, top_k_neighbors
from relatedcontent.index.changes import compacted
from relatedcontent.index.holders import PoolHolders
from relatedcontent.index.rowstore import GrowableRows
from relatedcontent.index.state import FittedIndex
from relatedcontent.scoring.lists import recompute_all
from relatedcontent.scoring.score import id_sort_key
from relatedcontent.vectors.lsa import lsa_vectors, unit_rows

from .test_format import snapshot_of, without_spares

try:
    import Stemmer  # noqa: F401
    import stopwordsiso  # noqa: F401

    LANGUAGES_EXTRA = True
except ImportError:  # pragma: no cover - the test extra installs both
    LANGUAGES_EXTRA = False

#: The parameters that make the score the plain TF-IDF cosine (the pre-issue-8 default).
PLAIN_COSINE = {
    "lsa_components": 0,
    "hubness_gamma": 0.0,
    "near_duplicates": "show",
    "candidates": 1,
}

WORDS = (
    "bins recycling school term roads potholes vote election park festival library tax housing"
).split()


def cosine_lists(model, k):
    """Plain TF-IDF cosine lists of the model's current articles (same vocabulary/IDF)."""
    ids = model.ids_
    articles = [model.article(i) for i in ids]
    X = model.vectorizer_.transform(model._scoring_view(articles))
    order = sorted(range(len(ids)), key=lambda r: id_sort_key(ids[r]))
    tie = np.empty(len(ids), dtype=np.int64)
    tie[order] = np.arange(len(ids))
    idx, val = top_k_neighbors(X, k, tie_rank=tie)
    return {
        ids[r]: [(ids[j], s) for j, s in zip(idx[r], val[r], strict=False) if j >= 0]
        for r in range(len(ids))
    }


def fresh_model(model):
    """A model whose index a from-scratch computation gives on ``model``'s current articles.

    Same vocabulary, IDF, boilerplate and LSA projection; pools, smoothed
    vectors, hub scales and lists all recomputed (``recompute_all``).
    """
    ids = model.ids_
    articles = [model.article(i) for i in ids]
    index, settings = model.index_, model._settings()
    X = model.vectorizer_.transform(model._scoring_view(articles))
    fresh = FittedIndex.of_articles(
        articles, index.vectorizer, X, index.boilerplate, settings.ignore_tags
    )
    fresh.lsa_components, fresh.weights = index.lsa_components, index.weights
    if index.lsa_components is not None:
        fresh.lsa_raw = lsa_vectors(X, index.lsa_components)
    if index.embeddings is not None:
        fresh.embeddings = unit_rows(model._embed(model._scoring_view(articles)))
    recompute_all(fresh, settings)
    out = RelatedContent(**model.get_params())
    out._set_index(fresh)
    return out


def fresh_lists(model, k):
    """The stored lists of :func:`fresh_model`."""
    fresh = fresh_model(model).index_
    ids = fresh.rows.ids
    return {
        ids[r]: [
            (ids[j], s)
            for j, s in zip(fresh.neighbors[r][:k], fresh.scores[r][:k], strict=False)
            if j >= 0
        ]
        for r in range(len(ids))
    }


def assert_same_queries(model, k):
    """Deeper and filtered lists of ``model`` equal those of a from-scratch computation."""
    fresh = fresh_model(model)
    ids = model.ids_
    for position, article_id in enumerate(ids):
        other = ids[(position + 1) % len(ids)]
        for options in ({"n": k + 3}, {"n": k, "exclude": [other]}, {"n": k + 1, "tags": ["t"]}):
            got = [(r.id, r.score) for r in model.related(article_id, fallback=False, **options)]
            want = [(r.id, r.score) for r in fresh.related(article_id, fallback=False, **options)]
            assert [g[0] for g in got] == [w[0] for w in want], (article_id, options)
            np.testing.assert_allclose([g[1] for g in got], [w[1] for w in want], atol=1e-9)


def assert_exact(model, k, reference=fresh_lists):
    want = reference(model, k)
    assert set(want) == set(model.ids_)
    for article_id, expected in want.items():
        got = [(r.id, r.score) for r in model.related(article_id, n=k, fallback=False)]
        assert [g[0] for g in got] == [e[0] for e in expected], article_id
        np.testing.assert_allclose([g[1] for g in got], [e[1] for e in expected], atol=1e-9)


def assert_candidates_exact(model):
    """Pools equal a fresh computation's, and the spares known are a prefix of its spares."""
    index, fresh = model.index_, fresh_model(model).index_
    ids, fresh_ids = index.rows.ids, fresh.rows.ids
    for row in np.flatnonzero(index.rows.alive):
        at = fresh.rows.get(ids[row])
        for got, want in (
            ((index.pool_idx[row], index.pool_cos[row]), (fresh.pool_idx[at], fresh.pool_cos[at])),
            (
                (index.spare_idx[row], index.spare_cos[row]),
                (fresh.spare_idx[at], fresh.spare_cos[at]),
            ),
        ):
            known = (got[0] >= 0) & index.rows.alive[np.maximum(got[0], 0)]
            got_ids = [ids[j] for j in got[0][known]]
            want_ids = [fresh_ids[j] for j in want[0] if j >= 0][: len(got_ids)]
            assert got_ids == want_ids, ids[row]
            np.testing.assert_allclose(got[1][known], want[1][: len(got_ids)], atol=1e-12)
        if index.pool_idx.shape[1]:
            assert (index.pool_idx[row] >= 0).sum() == (fresh.pool_idx[at] >= 0).sum()


def article(i, words, rng=None):
    tags = ["t"] if len(words) % 2 else []
    return {"id": i, "title": " ".join(words[:2]), "body": " ".join(words), "tags": tags}


@pytest.fixture
def base(council_records):
    return RelatedContent(n_neighbors=5).fit(council_records)


def test_new_article_enters_older_lists(base):
    draft = {
        "id": "christmas-bins-2",
        "title": "Christmas bin collections: the new dates",
        "body": (
            "Bin collections over Christmas and New Year move by one or two days. Recycling too."
        ),
    }
    base.add([draft])
    assert "christmas-bins-2" in base
    assert "christmas-bins-2" in [
        r.id for r in base.related("bin-collection-changes-christmas", n=5)
    ]
    assert base.related("christmas-bins-2", n=1)[0].id == "bin-collection-changes-christmas"
    assert_exact(base, 5)


def test_removed_article_leaves_every_list(base):
    target = "bin-collection-changes-christmas"
    holders = [i for i in base.ids_ if target in [r.id for r in base.related(i, n=5)]]
    assert holders
    base.remove([target])
    assert target not in base
    assert len(base) == 63
    for i in base.ids_:
        assert target not in [r.id for r in base.related(i, n=5)]
    for i in holders:
        assert len(base.related(i, n=5)) == 5  # refilled with the next true neighbour
    assert_exact(base, 5)
    with pytest.raises(UnknownArticleError):
        base.related(target)


def test_hub_removal_moves_pools_up_without_products(council_records, monkeypatch):
    """Removing an article that many pools hold refills them from their spares."""
    base = RelatedContent(n_neighbors=5, candidates=10).fit(council_records)
    index = base.index_
    counts = np.bincount(index.pool_idx[index.pool_idx >= 0], minlength=len(base))
    hub = index.rows.ids[int(counts.argmax())]
    holders = np.flatnonzero((index.pool_idx == int(counts.argmax())).any(axis=1))
    assert holders.size > 5
    assert (index.spare_idx[holders] >= 0).all()  # 3 spares each
    spares_before = {index.rows.ids[r]: index.rows.ids[index.spare_idx[r, 0]] for r in holders}
    products = []
    original = GrowableRows.scores
    monkeypatch.setattr(
        GrowableRows, "scores", lambda self, Q: products.append(Q.shape[0]) or original(self, Q)
    )
    base.remove([hub])
    assert sum(products) == 0  # no holder was recomputed from the vectors
    for holder, spare in spares_before.items():
        if spare != hub:
            assert spare in [
                base.index_.rows.ids[j] for j in base.index_.pool_idx[base.index_.rows.get(holder)]
            ]
    assert_exact(base, 5)
    assert_same_queries(base, 5)
    assert_candidates_exact(base)
    # a saved (compacted) index keeps the spares of every row, removed rows left out
    out = compacted(base.index_)
    assert (out.spare_idx < len(base)).all()
    known = out.spare_idx >= 0
    assert (np.sort(known, axis=1)[:, ::-1] == known).all()  # packed to the front


def test_index_saved_without_spares_changes_exactly(tmp_path, base):
    """An index saved before spare candidates existed recomputes pools that run short."""
    base.save(tmp_path / "idx")
    without_spares(snapshot_of(tmp_path / "idx"))
    loaded = load(tmp_path / "idx")
    assert loaded.index_.spare_idx is None
    counts = np.bincount(loaded.index_.pool_idx[loaded.index_.pool_idx >= 0])
    loaded.remove([loaded.ids_[int(counts.argmax())]])
    loaded.add([article("n1", ["bins", "recycling", "park", "tax"])])
    assert_exact(loaded, 5)
    assert_candidates_exact(loaded)
    loaded.save(tmp_path / "idx", compact=True)
    assert load(tmp_path / "idx").index_.spare_idx.shape == (len(loaded), 13)


def test_update_changes_text_and_metadata(base):
    target = "bin-collection-changes-christmas"
    base.update(
        [
            {
                "id": target,
                "title": "Polling stations for the by-election",
                "body": "Where to vote, polling station opening hours and voter ID.",
                "url": "/new",
            }
        ]
    )
    assert base.article(target).url == "/new"
    assert base.related(target, n=1)[0].id != "contaminated-recycling-bins"
    assert_exact(base, 5)


def test_bad_changes_leave_the_index_unchanged(base):
    before = {i: [r.id for r in base.related(i)] for i in base.ids_}
    with pytest.raises(CorpusError, match="already in the index: 'missed-bin-reporting'.*upsert"):
        base.add([{"id": "missed-bin-reporting", "title": "x"}])
    with pytest.raises(UnknownArticleError, match="nope"):
        base.remove(["nope"])
    with pytest.raises(UnknownArticleError, match="nope"):
        base.update([{"id": "nope", "title": "x"}])
    with pytest.raises(CorpusError, match="duplicate"):
        base.add([{"id": "n1"}, {"id": "n1"}])
    assert {i: [r.id for r in base.related(i)] for i in base.ids_} == before
    base.remove(["nope"], missing_ok=True)
    base.add(
        [{"id": "missed-bin-reporting", "title": "Missed bins", "body": "report a missed bin"}],
        upsert=True,
    )
    assert base.article("missed-bin-reporting").title == "Missed bins"
    assert_exact(base, 5)


def test_empty_article_follows_policy(base):
    with pytest.warns(UserWarning, match="no text"):
        base.add([{"id": "blank", "body": "<p></p>"}])
    assert base.related("blank", fallback=False) == []
    strict = RelatedContent(empty_text="error").fit([article(1, WORDS[:4]), article(2, WORDS[2:6])])
    with pytest.raises(CorpusError, match="no text"):
        strict.add([{"id": 3, "body": " "}])


def test_drift_and_refit(base):
    assert base.refit_advice() is None
    base.add(
        [
            {
                "id": f"n{i}",
                "title": "Quantum zebra marmalade",
                "body": " ".join(["xylophone quokka zeppelin"] * 20),  # 1,200 tokens in all
            }
            for i in range(20)
        ]
    )
    advice = base.refit_advice()
    assert "changes since the fit" in advice
    assert "not in the vocabulary" in advice
    assert base.drift_["added"] == 20
    base.refit()
    assert base.refit_advice() is None
    assert "quokka" in base.vectorizer_.vocabulary_
    assert "quokka" in [t.term for t in base.explain("n0", "n1").shared_terms]
    # the 20 new articles are identical: near-duplicates, not shown as related by default
    assert base.related("n0", n=1)[0].reason.startswith("fallback")


def test_tiny_index_grows_its_lists():
    # with the one-article vocabulary, articles 1 and 2 have identical vectors: show near-copies
    model = RelatedContent(n_neighbors=3, near_duplicates="show").fit(
        [article(1, ["bins", "recycling"])]
    )
    assert model.related(1) == []
    model.add([article(2, ["bins", "recycling", "tax"]), article(3, ["bins", "tax"])])
    assert [r.id for r in model.related(1)] == [2, 3]
    assert_exact(model, 3)


def test_memory_usage(base):
    usage = base.memory_usage()
    assert usage["vectors"] == base.X_.data.nbytes + base.X_.indices.nbytes + base.X_.indptr.nbytes
    assert usage["lists"] > 0


ops = st.lists(
    st.tuples(
        st.sampled_from(["add", "update", "remove", "upsert"]),
        st.integers(0, 25),
        st.lists(st.sampled_from(WORDS), min_size=0, max_size=6),
    ),
    min_size=1,
    max_size=12,
)


@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    seed=st.integers(0, 10_000),
    sequence=ops,
    k=st.integers(1, 6),
    plain=st.booleans(),
    candidates=st.integers(1, 8),
    rebuild=st.sampled_from([0.0, 1.0]),
)
def test_property_any_sequence_equals_fresh_computation(
    seed, sequence, k, plain, candidates, rebuild
):
    """Lists after any changes equal a fresh computation (``rebuild``: how often the
    reverse index of the pools is made again; 1.0 = never, changed pools are searched)."""
    rng = np.random.default_rng(seed)
    start = [article(i if i % 3 else f"s{i}", list(rng.choice(WORDS, 4))) for i in range(12)]
    params = (
        PLAIN_COSINE if plain else {"candidates": candidates, "lsa_components": 4, "hubness_k": 2}
    )
    with warnings.catch_warnings(), pytest.MonkeyPatch.context() as patch:
        patch.setattr(PoolHolders, "REBUILD_SHARE", rebuild)
        warnings.simplefilter("ignore")
        model = RelatedContent(n_neighbors=k, stop_words=None, min_df=1, max_df=1.0, **params).fit(
            start
        )
        for op, number, words in sequence:
            article_id = number if number % 3 else f"s{number}"
            record = article(article_id, words)
            if op == "add" and article_id not in model:
                model.add([record])
            elif op == "upsert":
                model.add([record], upsert=True)
            elif op == "update" and article_id in model:
                model.update([record])
            elif op == "remove" and article_id in model and len(model) > 1:
                model.remove([article_id])
    assert_exact(model, k)
    assert_same_queries(model, k)
    assert_candidates_exact(model)
    if plain:  # with the plain-cosine parameters the lists are the exact cosine top k
        assert_exact(model, k, reference=cosine_lists)


def test_changes_are_journaled_and_replayed(tmp_path, base):
    base.save(tmp_path / "idx")
    loaded = load(tmp_path / "idx")
    snapshot = tmp_path / "idx" / (tmp_path / "idx" / "CURRENT").read_text()
    loaded.add([{"id": "new-1", "title": "Christmas bins", "body": "bin collections at christmas"}])
    loaded.remove(["missed-bin-reporting"])
    loaded.update(
        [{"id": "summer-festival-line-up", "title": "Festival", "body": "festival music park"}]
    )
    loaded.save(tmp_path / "idx")
    # appended, not rewritten
    assert (tmp_path / "idx" / "CURRENT").read_text() == snapshot.name
    assert len((snapshot / "journal.jsonl").read_text().splitlines()) == 3
    again = load(tmp_path / "idx")
    assert again.ids_ == loaded.ids_
    for i in again.ids_:
        assert [r.to_dict() for r in again.related(i)] == [r.to_dict() for r in loaded.related(i)]
    assert again.drift_ == loaded.drift_
    # compaction folds the journal into a new snapshot with the same lists
    again.save(tmp_path / "idx", compact=True)
    compacted = load(tmp_path / "idx")
    assert not snapshot.exists()
    for i in compacted.ids_:
        assert [r.id for r in compacted.related(i)] == [r.id for r in loaded.related(i)]
    assert_exact(compacted, 5)


def test_mmap_loaded_index_accepts_changes(tmp_path, base):
    base.save(tmp_path / "idx")
    loaded = load(tmp_path / "idx", mmap=True)
    loaded.add([{"id": "new-1", "title": "Christmas bins", "body": "bin collections at christmas"}])
    loaded.save(tmp_path / "idx")
    assert "new-1" in load(tmp_path / "idx", mmap=True)


def test_torn_last_record_is_ignored(tmp_path, base):
    base.save(tmp_path / "idx")
    loaded = load(tmp_path / "idx")
    loaded.add([{"id": "a1", "title": "Bins", "body": "bins"}])
    loaded.save(tmp_path / "idx")
    loaded.add([{"id": "a2", "title": "Bins", "body": "bins"}])
    loaded.save(tmp_path / "idx")
    snapshot = tmp_path / "idx" / (tmp_path / "idx" / "CURRENT").read_text()
    journal = snapshot / "journal.jsonl"
    journal.write_bytes(journal.read_bytes()[:-20])
    with pytest.warns(UserWarning, match="incomplete last change"):
        recovered = load(tmp_path / "idx")
    assert "a1" in recovered
    assert "a2" not in recovered
    # the next append cuts the torn tail off first
    recovered.add([{"id": "a3", "title": "Bins", "body": "bins"}])
    recovered.save(tmp_path / "idx")
    final = load(tmp_path / "idx")
    assert "a1" in final
    assert "a3" in final
    assert "a2" not in final


def test_damaged_middle_record_is_an_error(tmp_path, base):
    from relatedcontent import IndexFormatError

    base.save(tmp_path / "idx")
    loaded = load(tmp_path / "idx")
    for i in range(2):
        loaded.add([{"id": f"a{i}", "title": "Bins", "body": "bins"}])
        loaded.save(tmp_path / "idx")
    snapshot = tmp_path / "idx" / (tmp_path / "idx" / "CURRENT").read_text()
    lines = (snapshot / "journal.jsonl").read_text().splitlines(keepends=True)
    lines[0] = lines[0].replace("Bins", "Bonz")
    (snapshot / "journal.jsonl").write_text("".join(lines))
    with pytest.raises(IndexFormatError, match="line 1: damaged"):
        load(tmp_path / "idx")


def test_stale_writer_is_refused(tmp_path, base):
    from relatedcontent import IndexFormatError

    base.save(tmp_path / "idx")
    one = load(tmp_path / "idx")
    two = load(tmp_path / "idx")
    one.add([{"id": "x1", "title": "Bins", "body": "bins"}])
    one.save(tmp_path / "idx", compact=True)
    two.add([{"id": "x2", "title": "Bins", "body": "bins"}])
    with pytest.raises(IndexFormatError, match="another writer"):
        two.save(tmp_path / "idx")


KILL_SCRIPT = r"""
import os, sys, json
import relatedcontent.index.journal as j
from relatedcontent import load
real_open = open
index, kill_after = sys.argv[1], int(sys.argv[2])
written = [0]
from pathlib import Path
orig_write_bytes = None
class Killer:
    def __init__(self, handle): self.h = handle
    def __getattr__(self, name): return getattr(self.h, name)
    def __enter__(self): return self
    def __exit__(self, *a): return self.h.__exit__(*a)
    def write(self, data):
        part = data[:kill_after]
        self.h.write(part); self.h.flush(); os.fsync(self.h.fileno())
        os._exit(9)
orig = Path.open
def patched(self, mode="r", *a, **k):
    h = orig(self, mode, *a, **k)
    return Killer(h) if self.name == "journal.jsonl" and "a" in mode else h
Path.open = patched
model = load(index)
model.add([{"id": "killed", "title": "Christmas bins", "body": "bins at christmas"}])
model.save(index)
"""


@pytest.mark.parametrize("kill_after", [0, 10, 150, 10_000])
def test_killed_mid_append_loads_old_or_new_state(tmp_path, base, kill_after):
    base.save(tmp_path / "idx")
    proc = subprocess.run(
        [sys.executable, "-c", KILL_SCRIPT, str(tmp_path / "idx"), str(kill_after)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert proc.returncode == 9, proc.stderr
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        loaded = load(tmp_path / "idx")
    if "killed" in loaded:  # the whole record reached the disk before the kill
        assert kill_after == 10_000
        assert len(loaded) == len(base) + 1
        assert_exact(loaded, 5)
    else:
        assert kill_after < 10_000
        assert len(loaded) == len(base)


READER_SCRIPT = r"""
import json, sys, warnings
warnings.simplefilter("ignore")
from relatedcontent import load
seen = set()
for _ in range(int(sys.argv[2])):
    m = load(sys.argv[1])
    n = len(m)
    # every state is whole: each indexed article has a consistent list
    for i in m.ids_[-3:]:
        for r in m.related(i):
            if r.id not in m:
                print("TORN", i, r.id); sys.exit(1)
    seen.add(n)
print(json.dumps(sorted(seen)))
"""


def test_reader_never_sees_a_torn_index(tmp_path, base):
    base.save(tmp_path / "idx")
    reader = subprocess.Popen(
        [sys.executable, "-c", READER_SCRIPT, str(tmp_path / "idx"), "25"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    writer = load(tmp_path / "idx")
    for i in range(12):
        writer.add([{"id": f"w{i}", "title": "Christmas bins", "body": "bins at christmas"}])
        writer.save(tmp_path / "idx", compact=(i % 4 == 3))
    out, err = reader.communicate(timeout=300)
    assert reader.returncode == 0, err + out
    sizes = json.loads(out.strip().splitlines()[-1])
    assert all(len(base) <= s <= len(base) + 12 for s in sizes)


@pytest.mark.parametrize("params", [{}, {"near_duplicates": "hide"}, {"hubness_gamma": 0.0}])
def test_changes_to_a_site_keep_every_list_exact(council_records, params):
    """Updates that move other articles' smoothed vectors, on a real site's pages, stay exact.

    Lists of rows whose pool holds a moved article are recomputed only when a
    moved candidate could enter or leave them (``scoring.lists._lists_moved``).
    """
    rng = np.random.default_rng(7)
    model = RelatedContent(n_neighbors=4, candidates=10, **params).fit(council_records)
    ids = list(model.ids_)
    for step in range(12):
        target, source = rng.choice(len(ids), 2, replace=False)
        donor = model.article(ids[source])
        record = {"id": ids[target], "title": donor.title, "body": donor.body[: 40 + 30 * step]}
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            if step % 4 == 3:
                model.remove([ids[target]])
                ids.remove(ids[target])
            else:
                model.update([record])
        assert_exact(model, 4)
    assert_same_queries(model, 4)


GERMAN = (
    "Müll Abholung Straße Schule Wahl Bibliothek Steuer Wohnung Park Fest Stadtrat Bürger "
    "Antrag Gebühr Termin"
).split()


@pytest.mark.skipif(not LANGUAGES_EXTRA, reason="the languages extra is not installed")
def test_a_site_in_two_languages_keeps_pools_per_language_through_changes(council_records):
    """Pools hold only articles a row's language may list, so changes stay exact there too."""
    rng = np.random.default_rng(3)
    english = [{**r, "language": "en"} for r in council_records]
    shared = [w for r in council_records[:20] for w in r["title"].split()[:2]]  # names, places

    def german(i):
        words = list(rng.choice(GERMAN, 6)) + list(rng.choice(shared, 2))
        return {"id": f"de-{i}", "title": " ".join(words[:3]), "body": " ".join(words),
                "language": "de"}  # fmt: skip

    model = RelatedContent(n_neighbors=4, candidates=8).fit(
        english + [german(i) for i in range(30)]
    )
    codes = model.index_.meta.language
    for step in range(9):
        ids = list(model.ids_)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            if step % 3 == 0:
                model.add([german(100 + step)])
            elif step % 3 == 1:
                model.update([{**german(step), "id": ids[int(rng.integers(len(ids)))]}])
            else:
                model.remove([ids[int(rng.integers(len(ids)))]])
        index = model.index_
        codes = index.meta.language
        alive = np.flatnonzero(index.rows.alive)
        pools = index.pool_idx[alive]
        listed = codes[np.maximum(pools, 0)]
        assert np.all((pools < 0) | (listed == codes[alive][:, None]) | (listed < 0))
        assert_exact(model, 4)
    assert_same_queries(model, 4)
    assert_candidates_exact(model)


@pytest.mark.skipif(not LANGUAGES_EXTRA, reason="the languages extra is not installed")
@pytest.mark.parametrize("prepared", [False, True])
@pytest.mark.parametrize("change", ["remove", "add"])
def test_pools_saved_across_languages_are_made_per_language_by_the_first_change(
    council_records, prepared, change
):
    """An index whose pools mix languages (saved before pools were per language) stays exact,
    also when its storage was prepared for changes first (as a server does)."""
    records = [{**r, "language": ("en", "cy")[i % 2]} for i, r in enumerate(council_records)]
    model = RelatedContent(n_neighbors=4, candidates=8).fit(records[:58])
    index = model.index_
    width = index.pool_idx.shape[1] + index.spare_idx.shape[1]
    idx, cos = top_k_neighbors(index.X, width, tie_rank=index.rows.tie_rank)  # across languages
    index.pool_idx, index.spare_idx = idx[:, :8].copy(), idx[:, 8:].copy()
    index.pool_cos, index.spare_cos = cos[:, :8].copy(), cos[:, 8:].copy()
    if prepared:
        model._prepare_changes()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        if change == "remove":
            model.remove([model.ids_[5]])
        else:
            model.add(records[58:])
    assert_exact(model, 4)
    assert_candidates_exact(model)
