"""Builds on a Dask cluster: the same index as ``RelatedContent().fit``, computed on many machines.

This stage owns one job: run a full build (read, vectorise, find neighbours)
on a ``dask.distributed`` cluster and return a fitted
:class:`~relatedcontent.RelatedContent` identical to a single-machine fit of
the same articles, in the same order (the files concatenated in the order
given, each glob expanded in sorted order).

How it works
------------
1. *Read*: one task per file reads it with :func:`read_articles` on a worker.
   The articles are gathered to the client, which keeps them in the model
   (they are what related lists show) and checks ids across files.
2. *Boilerplate*: each file's task counts the segments of its bodies and
   sends only those frequent in that file; the candidates are counted exactly
   in every file and summed on the client, giving the segments a single
   machine would detect (:class:`~relatedcontent.text.boilerplate.BoilerplateFilter`).
   The scoring view of each file (boilerplate removed, ignored tags left out)
   is made on the worker holding it.
3. *Vocabulary*: one task per file counts its terms and document frequencies
   (:meth:`FieldWeightedVectorizer.count_terms`, on the worker that read it);
   only the ``(terms, df)`` summaries travel. The client merges them
   (:func:`merge_term_counts`) and keeps terms by ``min_df``/``max_df``/
   ``max_features``, exactly as one partition would
   (:meth:`FieldWeightedVectorizer.fit_vocabulary`). The fitted vectorizer is
   broadcast once; one task per file turns its counts into TF-IDF rows, which
   are stacked in file order.
4. *Candidate pools*: the matrix is normalised as :func:`top_k_neighbors` does and
   broadcast to every worker once (``client.scatter(..., broadcast=True)``).
   Row blocks of about equal work are tasks, each the exact top-``k`` of its
   rows with the compiled kernel (``_kernel_numba.rows_top_k``, when numba is
   installed on the workers) or scipy's block product (``_similarity._block``).
5. *Score*: on the client, as :meth:`RelatedContent.fit` does: the LSA
   projection, smoothed vectors, hub scales and the stored lists
   (:func:`relatedcontent.scoring.lists.fit_lists`), from the pools of step 4.

Every task is an ordinary Dask task: if a worker dies, the scheduler runs its
tasks again elsewhere (and ``retries`` covers tasks that raise), so a build
survives the loss of a worker with identical results. Dask is imported only
when a build runs; it is the ``dask`` extra.
"""

from __future__ import annotations

import glob
import os
import sys
import uuid
from collections import Counter
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

import numpy as np
import scipy.sparse as sp

from ._recommender import RelatedContent
from .exceptions import CorpusError, DependencyError
from .ingest.articles import Article, FieldMap, build_corpus, iter_articles
from .ingest.files import read_articles
from .neighbors.plan import Results, numba_available, plan_neighbors, run_span
from .neighbors.progress import ProgressPrinter
from .text.boilerplate import BoilerplateFilter
from .text.view import scoring_view
from .vectors.tfidf import FieldWeightedVectorizer, TermCounts, merge_term_counts, word_lengths

if TYPE_CHECKING:
    from distributed import Client

__all__ = ["fit_distributed", "open_client", "expand_paths", "top_k_neighbors_distributed"]

#: Neighbour tasks per worker thread: enough for load balance and for a lost
#: worker to cost little, few enough that scheduling overhead stays negligible.
TASKS_PER_THREAD = 16


def _import_distributed() -> Any:
    try:
        import distributed
    except ImportError:
        msg = (
            "building on a Dask cluster needs dask.distributed: pip install 'relatedcontent[dask]'"
        )
        raise DependencyError(msg) from None
    return distributed


def expand_paths(paths: str | os.PathLike[str] | Sequence[str | os.PathLike[str]]) -> list[str]:
    """Return the files of ``paths``: each glob expanded in sorted order, the rest as given.

    Raises
    ------
    CorpusError
        If a glob matches no file, or no path is given.
    """
    items = [paths] if isinstance(paths, (str, os.PathLike)) else list(paths)
    files: list[str] = []
    for item in items:
        text = os.fspath(item)
        if glob.has_magic(text):
            matched = sorted(glob.glob(text))
            if not matched:
                msg = (
                    f"no file matches {text!r}; check the pattern "
                    "(quote it so the shell leaves it alone)"
                )
                raise CorpusError(msg, source=text)
            files.extend(matched)
        else:
            files.append(text)
    if not files:
        msg = "no corpus files given; pass file paths or a glob such as 'parts/*.jsonl.gz'"
        raise CorpusError(msg)
    return files


@contextmanager
def open_client(
    *, scheduler: str | None = None, local_cluster: int | None = None
) -> Iterator[Client]:
    """Connect to a Dask scheduler, or start a local cluster, for one build.

    Parameters
    ----------
    scheduler : str, optional
        Address of a running scheduler, e.g. ``"tcp://10.0.0.5:8786"``.
    local_cluster : int, optional
        Start a ``LocalCluster`` of this many single-threaded worker processes
        (closed on exit). Give exactly one of the two.

    Yields
    ------
    distributed.Client
    """
    if (scheduler is None) == (local_cluster is None):
        msg = "give exactly one of scheduler='tcp://HOST:PORT' or local_cluster=N_WORKERS"
        raise ValueError(msg)
    distributed = _import_distributed()
    if local_cluster is None:  # then a scheduler is given
        with distributed.Client(scheduler) as client:
            yield client
        return
    with distributed.LocalCluster(
        n_workers=int(local_cluster), threads_per_worker=1, processes=True, dashboard_address=":0"
    ) as cluster:
        with distributed.Client(cluster) as client:
            yield client


# -- tasks (run on the workers) ------------------------------------------------
def _read_task(path: str, field_map: FieldMap, fmt: str | None) -> list[Article]:
    # The articles RelatedContent.fit(read_articles(path)) indexes: fit passes what it
    # is given through iter_articles, and so does this.
    return list(iter_articles(read_articles(path, field_map, format=fmt), field_map))


def _kept(articles: list[Article], keep: np.ndarray | None) -> list[Article]:
    return articles if keep is None else [a for a, k in zip(articles, keep, strict=False) if k]


def _segment_task(
    articles: list[Article], keep: np.ndarray | None, boilerplate: BoilerplateFilter
) -> tuple[Counter[str], int]:
    bodies = [a.body for a in _kept(articles, keep)]
    return boilerplate.segment_counts(bodies), len(bodies)


def _local_frequent_task(counted: tuple[Counter[str], int], share: float) -> set[str]:
    counts, n_bodies = counted
    return {key for key, c in counts.items() if c >= share * n_bodies}


def _exact_counts_task(counted: tuple[Counter[str], int], keys: set[str]) -> dict[str, int]:
    counts = counted[0]
    return {key: counts[key] for key in keys if key in counts}


def _view_task(
    articles: list[Article],
    keep: np.ndarray | None,
    boilerplate: BoilerplateFilter,
    ignore_tags: tuple[str, ...],
) -> list[Article]:
    return scoring_view(_kept(articles, keep), boilerplate, ignore_tags)


def _count_task(view: list[Article], vectorizer: FieldWeightedVectorizer) -> Any:
    return vectorizer.count_terms(view)


def _lengths_task(view: list[Article]) -> np.ndarray:
    return word_lengths(view)


def _summary_task(counts: TermCounts) -> tuple[np.ndarray, np.ndarray, int, Any]:
    return counts.summary()


def _transform_task(vectorizer: FieldWeightedVectorizer, counts: Any) -> sp.csr_matrix:
    return vectorizer.transform_counts(counts)


# -- neighbours ------------------------------------------------------------------
def top_k_neighbors_distributed(
    client: Client,
    X: Any,
    k: int,
    *,
    tie_rank: np.ndarray,
    memory_budget: int | str | None = None,
    exclude_self: bool = True,
    retries: int = 2,
    method: str = "auto",
    progress: Any = None,
) -> tuple[np.ndarray, np.ndarray]:
    """:func:`~relatedcontent.top_k_neighbors` with row blocks as Dask tasks.

    Parameters
    ----------
    client : distributed.Client
    X : sparse matrix of shape (n_rows, n_features)
        Normalised here as :func:`top_k_neighbors` does.
    k : int
    tie_rank : ndarray of int of shape (n_rows,)
    memory_budget : int or str, default="512MiB"
        Working memory of one task (one worker thread).
    exclude_self : bool, default=True
    retries : int, default=2
        Times a task that raises is run again (tasks of a lost worker are
        rescheduled by Dask whatever this is).
    method : {"auto", "numba", "scipy"}, default="auto"
        ``"auto"`` uses the compiled kernel when numba is installed on the
        workers and ``X`` has no negative entries.
    progress : callable, optional
        Called as ``progress(rows_done, n_rows)`` as blocks finish.

    Returns
    -------
    indices, scores : ndarray of shape (n_rows, k)
        The same arrays as :func:`top_k_neighbors` returns.
    """
    distributed = _import_distributed()
    threads = max(1, sum(client.nthreads().values()))
    numba_ready = method != "scipy" and bool(client.submit(numba_available, pure=False).result())
    # One task per worker thread at a time: the memory budget is each task's.
    plan = plan_neighbors(
        X, k, tie_rank=tie_rank, memory_budget=memory_budget, workers=1,
        min_spans=threads * TASKS_PER_THREAD, exclude_self=exclude_self, method=method,
        numba_ready=numba_ready,
    )  # fmt: skip
    results = Results(plan, progress)
    if plan.n_rows == 0 or plan.k == 0:
        return results.finish()
    token = uuid.uuid4().hex[:12]
    [shared] = client.scatter([plan.inputs], broadcast=True, hash=False)
    futures = [
        client.submit(
            run_span,
            shared,
            a,
            b,
            plan.k,
            plan.exclude_self,
            retries=retries,
            key=f"relatedcontent-neighbors-{token}-{a}",
        )  # fmt: skip
        for a, b in plan.spans
    ]
    for future in distributed.as_completed(futures):
        results.add(*future.result())
        future.release()
    return results.finish()


# -- boilerplate ---------------------------------------------------------------------
def _fit_boilerplate(
    client: Client,
    model: RelatedContent,
    reads: list[Any],
    keeps: list[np.ndarray | None],
    n_articles: int,
    token: str,
    retries: int,
) -> BoilerplateFilter:
    """Learn the boilerplate segments across the parts without gathering every segment.

    A segment in at least ``share`` of all N bodies is, in at least one part,
    in at least ``share`` of that part's bodies (else the parts' counts would
    add up to less). So each part sends only its locally frequent segments;
    those candidates are then counted exactly in every part and summed, which
    gives :meth:`BoilerplateFilter.fit_clean`'s result on the whole corpus.
    """
    boilerplate = BoilerplateFilter(model.boilerplate_share, int(model.boilerplate_min_articles))
    if model.boilerplate_share is None or boilerplate.threshold(n_articles) > n_articles:
        return boilerplate.fit_counts({}, n_articles)  # no segment is boilerplate
    counted = [
        client.submit(
            _segment_task,
            r,
            keep,
            boilerplate,
            retries=retries,
            key=f"relatedcontent-segments-{token}-{i}",
        )
        for i, (r, keep) in enumerate(zip(reads, keeps, strict=False))
    ]
    share = float(model.boilerplate_share)
    candidates: set[str] = set().union(
        *client.gather(
            [
                client.submit(
                    _local_frequent_task,
                    c,
                    share,
                    retries=retries,
                    key=f"relatedcontent-frequent-{token}-{i}",
                )
                for i, c in enumerate(counted)
            ]
        )
    )
    totals: Counter[str] = Counter()
    for part in client.gather(
        [
            client.submit(
                _exact_counts_task,
                c,
                candidates,
                retries=retries,
                key=f"relatedcontent-exact-{token}-{i}",
            )
            for i, c in enumerate(counted)
        ]
    ):
        totals.update(part)
    return boilerplate.fit_counts(totals, n_articles)


# -- the whole build ----------------------------------------------------------------
def fit_distributed(
    client: Client,
    paths: str | os.PathLike[str] | Sequence[str | os.PathLike[str]],
    *,
    format: str | None = None,  # noqa: A002 - as in read_articles
    retries: int = 2,
    **params: Any,
) -> RelatedContent:
    """Build a :class:`RelatedContent` index from files on a Dask cluster.

    The result is identical to ``RelatedContent(**params).fit(articles)``
    where ``articles`` are the files read one after the other: same ids,
    vocabulary, IDF, vectors and related lists.

    Parameters
    ----------
    client : distributed.Client
        Connected to the cluster (see :func:`open_client`). Every worker must
        be able to read the files at the same paths (shared or copied storage).
    paths : str, path or sequence of them
        Files (``.jsonl``, ``.jsonl.gz``, ``.json``, ``.csv``) or globs such as
        ``"parts/*.jsonl.gz"``, expanded in sorted order. One task per file.
    format : {'jsonl', 'json', 'csv'}, optional
        As in :func:`~relatedcontent.read_articles`.
    retries : int, default=2
        Times a task that raises is run again. Tasks of a worker that dies
        are rescheduled by Dask in any case.
    **params
        Parameters of :class:`RelatedContent` (``n_neighbors``, ``min_df``,
        ``field_map``, ``memory_budget`` as the working memory of one task...).

    Returns
    -------
    RelatedContent
        Fitted; ``save`` it as usual.

    Raises
    ------
    DependencyError
        If dask.distributed is not installed.
    CorpusError
        For unreadable files, bad records, duplicate ids across files, or no articles.

    Examples
    --------
    >>> from relatedcontent import fit_distributed, open_client
    >>> with open_client(local_cluster=2) as client:  # doctest: +SKIP
    ...     rc = fit_distributed(client, "parts/*.jsonl.gz", n_neighbors=10)
    ...     rc.save("site-index")
    """
    _import_distributed()
    model = RelatedContent(**params)
    model._validate_params()
    files = expand_paths(paths)
    field_map = model._field_map()
    progress = ProgressPrinter(sys.stderr) if model.verbose else None
    token = uuid.uuid4().hex[:12]
    reads = [
        client.submit(
            _read_task,
            path,
            field_map,
            format,
            retries=retries,
            key=f"relatedcontent-read-{token}-{i}",
        )
        for i, path in enumerate(files)
    ]
    parts = client.gather(reads)
    corpus = build_corpus(a for part in parts for a in part)
    if not corpus:
        msg = (
            f"no articles in {', '.join(files)}; "
            "give at least one article (two for any related list)"
        )
        raise CorpusError(msg)
    kept = model._apply_empty_policy(corpus)
    keeps: list[np.ndarray | None] = [None] * len(parts)
    if len(kept) != len(corpus):
        kept_ids = {a.id for a in kept}
        keeps = [np.array([a.id in kept_ids for a in part], dtype=bool) for part in parts]
    del parts
    boilerplate = _fit_boilerplate(client, model, reads, keeps, len(kept), token, retries)
    [shared_boilerplate] = client.scatter([boilerplate], broadcast=True, hash=False)
    ignore_tags = tuple(model.ignore_tags)
    views = [
        client.submit(
            _view_task,
            r,
            keep,
            shared_boilerplate,
            ignore_tags,
            retries=retries,
            key=f"relatedcontent-view-{token}-{i}",
        )  # fmt: skip
        for i, (r, keep) in enumerate(zip(reads, keeps, strict=True))
    ]
    del reads
    vectorizer = model._make_vectorizer()
    lengths = client.gather(
        [
            client.submit(_lengths_task, v, retries=retries, key=f"relatedcontent-len-{token}-{i}")
            for i, v in enumerate(views)
        ]
    )
    vectorizer.choose_char_share(np.concatenate(lengths))
    counts = [
        client.submit(
            _count_task, v, vectorizer, retries=retries, key=f"relatedcontent-count-{token}-{i}"
        )
        for i, v in enumerate(views)
    ]
    summaries = client.gather(
        [
            client.submit(_summary_task, c, retries=retries, key=f"relatedcontent-df-{token}-{i}")
            for i, c in enumerate(counts)
        ]
    )
    vectorizer.fit_vocabulary(*merge_term_counts(summaries))
    del summaries
    [shared] = client.scatter([vectorizer], broadcast=True, hash=False)
    blocks = client.gather(
        [
            client.submit(
                _transform_task,
                shared,
                c,
                retries=retries,
                key=f"relatedcontent-vectors-{token}-{i}",
            )
            for i, c in enumerate(counts)
        ]
    )
    del counts, shared
    X = sp.csr_matrix(sp.vstack(blocks, format="csr"), dtype=vectorizer.dtype)
    embeddings = None
    if model.embedder is not None:
        embeddings = model._embed([a for part in client.gather(views) for a in part])
    del views

    def neighbors(
        matrix: sp.csr_matrix, k: int, tie_rank: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray]:
        return top_k_neighbors_distributed(
            client, matrix, k, tie_rank=tie_rank, memory_budget=model.memory_budget,
            retries=retries, progress=progress,
        )  # fmt: skip

    return model._fit_index(kept, vectorizer, X, boilerplate, embeddings, neighbors)
