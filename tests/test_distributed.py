"""Builds on a Dask cluster give the same index as a single-process fit."""

from __future__ import annotations

import gzip
import itertools
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

distributed = pytest.importorskip("distributed", reason="needs dask[distributed] (the dask extra)")

from relatedcontent import RelatedContent, fit_distributed, load, read_articles  # noqa: E402
from relatedcontent.cli import main  # noqa: E402
from relatedcontent.exceptions import CorpusError  # noqa: E402

WORDS = (
    "bin garden waste school term library council tax parking permit road repair bus route "
    "park festival music housing planning application licence flood warning river bridge "
    "market trader recycling glass paper plastic swimming pool leisure centre election vote"
).split()


@pytest.fixture(scope="module")
def cluster():
    with distributed.LocalCluster(
        n_workers=2, processes=True, threads_per_worker=1, dashboard_address=":0"
    ) as lc:
        with distributed.Client(lc) as client:
            yield client


def _records(n: int, seed: int) -> list[dict]:
    rng = np.random.default_rng(seed)
    out = []
    for i in range(n):
        words = rng.choice(WORDS, size=rng.integers(3, 15))
        body = " ".join(words)
        if i % 10 < 8:  # a site footer on most articles: boilerplate, found across parts
            body += "\nSign up to the council newsletter. Accept cookies to continue."
        if i < 20:  # only in the first part: frequent there (16%), not in the whole (4%)
            body += "\nFirst part only sentence."
        out.append(
            {
                "id": f"a{i:04d}",
                "title": " ".join(words[:3]),
                "body": body,
                "tags": [str(w) for w in rng.choice(WORDS, size=2)],
            }
        )
    # Exact duplicates make tied scores, decided by id.
    out.append({**out[0], "id": "dup-of-a0000"})
    # An article with nothing to index.
    out.append({"id": "empty", "title": "", "body": ""})
    return out


def _write_parts(folder: Path, records: list[dict], n_parts: int) -> list[Path]:
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for p, chunk in enumerate(np.array_split(np.arange(len(records)), n_parts)):
        path = folder / f"part-{p:02d}.jsonl.gz"
        with gzip.open(path, "wt", encoding="utf-8") as fh:
            for i in chunk:
                fh.write(json.dumps(records[i]) + "\n")
        paths.append(path)
    return paths


def _single(paths: list[Path], **params) -> RelatedContent:
    return RelatedContent(**params).fit(
        itertools.chain.from_iterable(read_articles(p) for p in paths)
    )


def _assert_same(a: RelatedContent, b: RelatedContent) -> None:
    """The two fitted indexes are the same, bit for bit (no rounding anywhere)."""
    x, y = a.index_, b.index_
    assert list(x.articles) == list(y.articles)
    assert x.rows.ids == y.rows.ids
    np.testing.assert_array_equal(x.rows.tie_rank, y.rows.tie_rank)
    assert x.vectorizer.terms_ == y.vectorizer.terms_
    np.testing.assert_array_equal(x.vectorizer.idf_, y.vectorizer.idf_)
    for part in ("data", "indices", "indptr"):
        np.testing.assert_array_equal(getattr(x.X, part), getattr(y.X, part))
    assert x.boilerplate.segments_ == y.boilerplate.segments_
    assert x.boilerplate.counts_ == y.boilerplate.counts_
    assert x.weights == y.weights
    for name in ("neighbors", "scores", "pool_idx", "pool_cos", "hub_sigma", "lsa_components",
                 "lsa_raw", "lsa", "embeddings"):  # fmt: skip
        got, want = getattr(x, name), getattr(y, name)
        assert (got is None) == (want is None), name
        if got is not None:
            if np.issubdtype(want.dtype, np.floating):
                assert got.dtype == want.dtype, name
            np.testing.assert_array_equal(got, want, err_msg=name)


@pytest.fixture(scope="module")
def parts(tmp_path_factory) -> list[Path]:
    return _write_parts(tmp_path_factory.mktemp("parts"), _records(500, seed=7), 4)


@pytest.mark.filterwarnings("ignore:1 article")
@pytest.mark.parametrize(
    ("params", "method"),
    [
        ({}, "auto"),
        (
            {"n_neighbors": 5, "max_features": 25, "min_df": 1, "max_df": 0.3, "title_weight": 3.0},
            "auto",
        ),
        ({"empty_text": "drop", "tags_weight": 0.0}, "scipy"),
        ({"boilerplate_share": None, "lsa_weight": 0.0, "hubness_gamma": 0.0}, "auto"),
        ({}, "numba"),
    ],
)
def test_same_as_single_process(cluster, parts, params, method, monkeypatch):
    if method == "scipy":
        # Workers without numba: the scipy block engine.
        monkeypatch.setattr("relatedcontent._distributed.numba_available", lambda: False)
    if method == "numba":
        # Both builds on the compiled kernel, whatever the size of the product.
        pytest.importorskip("numba")
        monkeypatch.setattr("relatedcontent.neighbors.plan.AUTO_NUMBA_MIN_WORK", 0)
    with pytest.warns(UserWarning, match="1 article"):
        expected = _single(parts, **params)
    with pytest.warns(UserWarning, match="1 article"):
        got = fit_distributed(cluster, [str(p) for p in parts], **params)
    _assert_same(expected, got)
    if params.get("boilerplate_share", 0.05) is not None:
        assert got.boilerplate_.segments_ == [
            "accept cookies to continue",
            "sign up to the council newsletter",
        ]


@pytest.mark.filterwarnings("ignore:1 article")
def test_glob_is_sorted_and_index_saves(cluster, parts, tmp_path):
    got = fit_distributed(cluster, str(parts[0].parent / "part-*.jsonl.gz"))
    _assert_same(_single(sorted(parts)), got)
    got.save(tmp_path / "idx")
    _assert_same(got, load(tmp_path / "idx"))


def test_duplicate_ids_across_files_are_named(cluster, tmp_path):
    a = _write_parts(
        tmp_path / "a", [{"id": "x1", "body": "bins"}, {"id": "x2", "body": "bins"}], 1
    )
    b = _write_parts(tmp_path / "b", [{"id": "x2", "body": "parks"}], 1)
    with pytest.raises(CorpusError, match="duplicate article ids: 'x2'"):
        fit_distributed(cluster, [*a, *b])


def test_glob_matching_nothing_is_an_error(cluster, tmp_path):
    with pytest.raises(CorpusError, match="no file matches"):
        fit_distributed(cluster, str(tmp_path / "nothing-*.jsonl"))


@pytest.mark.filterwarnings("ignore:1 article")
def test_worker_killed_mid_build(cluster, parts, tmp_path):
    """A worker dies on its first neighbour task; the build still finishes, identical."""
    marker = str(tmp_path / "killed")

    class KillOnce(distributed.WorkerPlugin):
        name = "relatedcontent-kill-once"

        def transition(self, key, start, finish, **kwargs):
            import os

            if finish == "executing" and "relatedcontent-neighbors" in str(key):
                try:
                    fd = os.open(marker, os.O_CREAT | os.O_EXCL)
                except FileExistsError:
                    return
                os.close(fd)
                os._exit(1)

    cluster.register_plugin(KillOnce())
    try:
        got = fit_distributed(cluster, [str(p) for p in parts])
    finally:
        cluster.unregister_worker_plugin("relatedcontent-kill-once")
    assert Path(marker).exists()  # a worker really died
    _assert_same(_single(parts), got)
    cluster.wait_for_workers(2, timeout=60)


@pytest.mark.filterwarnings("ignore:1 article")
def test_cli_local_cluster(parts, tmp_path):
    out = tmp_path / "idx"
    code = main(
        [
            "build",
            str(parts[0].parent / "part-*.jsonl.gz"),
            "-o",
            str(out),
            "--local-cluster",
            "2",
            "--quiet",
        ]
    )
    assert code == 0
    _assert_same(_single(sorted(parts)), load(out))


def test_cli_refuses_both_cluster_options(tmp_path, capsys):
    code = main(
        [
            "build",
            "x.jsonl",
            "-o",
            str(tmp_path / "i"),
            "--local-cluster",
            "2",
            "--scheduler",
            "tcp://127.0.0.1:1",
        ]
    )
    assert code == 2
    assert "--scheduler or --local-cluster" in capsys.readouterr().err


def test_missing_dask_says_what_to_install(monkeypatch):
    from relatedcontent.exceptions import DependencyError

    monkeypatch.setitem(sys.modules, "distributed", None)
    with pytest.raises(DependencyError, match=r"pip install 'relatedcontent\[dask\]'"):
        fit_distributed(None, "parts/*.jsonl.gz")


def test_importing_relatedcontent_does_not_import_dask():
    code = (
        "import sys, relatedcontent; "
        "sys.exit('distributed' in sys.modules or 'dask' in sys.modules)"
    )
    assert subprocess.run([sys.executable, "-c", code], check=False, timeout=120).returncode == 0


NEWSGROUPS = Path(__file__).resolve().parents[2] / "shared" / "data" / "20newsgroups_bydate.jsonl"


@pytest.mark.skipif(not NEWSGROUPS.is_file(), reason="the shared 20 Newsgroups corpus is absent")
def test_20_newsgroups_on_a_cluster_is_the_local_build(cluster):
    """18,846 real posts (some of them uuencoded): every array and article, bit for bit."""
    local = RelatedContent(n_jobs=2).fit(read_articles(NEWSGROUPS))
    got = fit_distributed(cluster, str(NEWSGROUPS))
    _assert_same(local, got)


@pytest.mark.filterwarnings("ignore:1 article")
def test_languages_without_a_list_learn_the_same_stop_words_on_a_cluster(cluster, tmp_path):
    """Learnt stop words come from per-language frequencies merged across partitions."""
    records = _records(300, seed=3)
    for i, record in enumerate(records):
        if i % 3 == 0:
            record["language"] = "cy"
            record["title"] = "yn ar gyfer " + record["title"]
    paths = _write_parts(tmp_path, records, 3)
    expected = _single(paths)
    got = fit_distributed(cluster, [str(p) for p in paths])
    _assert_same(expected, got)
    assert expected.vectorizer_.get_params()["char_ngrams"] == 0.5
    # in every Welsh article (a third of all): learnt as a Welsh stop word
    assert "gyfer" not in expected.vectorizer_.vocabulary_
