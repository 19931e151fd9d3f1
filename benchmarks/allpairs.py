"""All-pairs exact top-k cosine: relatedcontent against its peers, side by side.

Builds the TF-IDF matrix X of the first N documents of the PyPI summaries
(``../shared/data/pypi_summaries.jsonl.gz``, title + body) or, when that file
is absent (or with ``--synthetic``), of a seeded Zipfian corpus. Then every
system runs in its own subprocess (so its peak RSS is its own), in alternating
order, ``--repeats`` times:

* ``rc-numba``  relatedcontent.top_k_neighbors(method="numba")
* ``rc-scipy``  relatedcontent.top_k_neighbors(method="scipy")
* ``sdt``       sparse_dot_topn.sp_matmul_topn(X, X.T, top_n=k+1, n_threads=J)
* ``sklearn``   NearestNeighbors(metric="cosine", algorithm="brute").kneighbors
* ``gensim``    gensim.similarities.SparseMatrixSimilarity + argpartition
* ``dense``     X @ X.T as a dense array + argpartition (small N only)

Slow systems above ``--full-limit`` rows (``--scipy-full-limit`` for
rc-scipy) are timed on the first
``--sample`` query rows (against all N) and their query time is scaled by
N / sample (an index build, as gensim's, counts once): their figures are
marked "est.", and their peak RSS is that of the sampled run. The table gives N, W = sum_t df(t)^2 (the
multiply-adds of X @ X.T), the median wall time of the neighbour step (matrix
loading and numba compilation excluded), the achieved rate W / time, the peak
RSS of the process, the median ratio of sparse_dot_topn's time to the
system's time over the rounds (pairs of runs in one round), and the share of
rows whose neighbour list agrees with sparse_dot_topn's (same sorted scores
to 1e-6, i.e. the same set up to ties).

Example::

    python benchmarks/allpairs.py --n 50000 100000 --repeats 3 --json results.json
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import scipy.sparse as sp

HERE = Path(__file__).resolve().parent
DEFAULT_DATA = HERE.parent.parent / "shared" / "data" / "pypi_summaries.jsonl.gz"
PEERS = ("rc-numba", "rc-scipy", "sdt", "sklearn", "gensim", "dense")
SLOW = {"rc-scipy", "sklearn", "gensim"}
#: Seconds of a run spent building an index once (not scaled for est. figures).
BUILD_SECONDS = [0.0]


# -- corpus -----------------------------------------------------------------
def pypi_texts(path: Path, n: int) -> list[str]:
    texts = []
    with gzip.open(path, "rt", encoding="utf-8") as handle:
        for line in handle:
            record = json.loads(line)
            texts.append(f"{record.get('title', '')}\n{record.get('body', '')}")
            if len(texts) >= n:
                break
    return texts


def synthetic_texts(n: int, seed: int = 0, vocab: int = 50_000) -> list[str]:
    """Short documents whose words follow a Zipf law (seeded)."""
    rng = np.random.default_rng(seed)
    lengths = rng.integers(3, 15, size=n)
    words = np.minimum(rng.zipf(1.3, size=int(lengths.sum())), vocab) - 1
    names = np.array([f"w{i}" for i in range(vocab)])
    out, start = [], 0
    for length in lengths:
        out.append(" ".join(names[words[start : start + length]]))
        start += length
    return out


def build_matrix(n: int, data: Path | None) -> tuple[sp.csr_matrix, str]:
    from sklearn.feature_extraction.text import TfidfVectorizer

    if data is not None and data.is_file():
        texts, source = pypi_texts(data, n), "pypi"
    else:
        texts, source = synthetic_texts(n), "synthetic-zipf"
    vectorizer = TfidfVectorizer(stop_words="english", sublinear_tf=True, min_df=2, max_df=0.5)
    X = sp.csr_matrix(vectorizer.fit_transform(texts), dtype=np.float64)
    X.sort_indices()
    return X, source


def work(X: sp.csr_matrix) -> int:
    df = np.bincount(X.indices, minlength=X.shape[1]).astype(np.int64)
    return int((df**2).sum())


# -- one system, in a child process ---------------------------------------------
def _top_k_from_rows(S: sp.csr_matrix, k: int, offset: int) -> tuple[np.ndarray, np.ndarray]:
    """Top-k of each row of a sparse score block, self (row + offset) excluded."""
    S = sp.csr_matrix(S)
    idx = np.full((S.shape[0], k), -1, dtype=np.int64)
    val = np.zeros((S.shape[0], k))
    for r in range(S.shape[0]):
        lo, hi = S.indptr[r], S.indptr[r + 1]
        cols, vals = S.indices[lo:hi], S.data[lo:hi]
        keep = (cols != r + offset) & (vals > 0)
        cols, vals = cols[keep], vals[keep]
        order = np.lexsort((cols, -vals))[:k]
        idx[r, : order.size], val[r, : order.size] = cols[order], vals[order]
    return idx, val


def _top_k_dense(D: np.ndarray, k: int, offset: int) -> tuple[np.ndarray, np.ndarray]:
    rows = np.arange(D.shape[0])
    D[rows, rows + offset] = -np.inf
    part = np.argpartition(-D, min(k, D.shape[1] - 1), axis=1)[:, :k]
    vals = np.take_along_axis(D, part, axis=1)
    order = np.argsort(-vals, axis=1, kind="stable")
    idx = np.take_along_axis(part, order, axis=1)
    val = np.take_along_axis(vals, order, axis=1)
    idx[val <= 0] = -1
    val[val <= 0] = 0
    return idx, val


def run_system(name: str, X: sp.csr_matrix, k: int, threads: int, rows: int) -> tuple[float, np.ndarray, np.ndarray]:
    """Time system ``name`` on the first ``rows`` query rows (all when rows == N)."""
    n = X.shape[0]
    if name in ("rc-numba", "rc-scipy"):
        from relatedcontent import top_k_neighbors

        method = name.split("-")[1]
        if method == "numba":
            from relatedcontent.neighbors.kernel import warm_up

            warm_up()
        if rows == n:
            t0 = time.perf_counter()
            idx, val = top_k_neighbors(X, k, n_jobs=threads, method=method)
            return time.perf_counter() - t0, idx, val
        # Sample: the same plan, running only the spans that cover the sample rows.
        from joblib import Parallel, delayed

        from relatedcontent.neighbors.plan import plan_neighbors, run_span

        t0 = time.perf_counter()
        plan = plan_neighbors(X, k, workers=threads, method="scipy")
        spans = [(a, min(b, rows)) for a, b in plan.spans if a < rows]
        parts = Parallel(n_jobs=threads, prefer="threads")(
            delayed(run_span)(plan.inputs, a, b, k, True) for a, b in spans
        )
        elapsed = time.perf_counter() - t0
        parts.sort(key=lambda p: p[0])
        return elapsed, np.vstack([p[1] for p in parts]), np.vstack([p[2] for p in parts])
    if name == "sdt":
        from sparse_dot_topn import sp_matmul_topn

        t0 = time.perf_counter()
        C = sp_matmul_topn(X[:rows], X.T.tocsr(), top_n=k + 1, n_threads=threads)
        elapsed = time.perf_counter() - t0
        idx, val = _top_k_from_rows(C, k, 0)
        return elapsed, idx, val
    if name == "sklearn":
        from sklearn.neighbors import NearestNeighbors

        t0 = time.perf_counter()
        nn = NearestNeighbors(n_neighbors=k + 1, metric="cosine", algorithm="brute", n_jobs=threads).fit(X)
        BUILD_SECONDS[0] = time.perf_counter() - t0
        dist, idx = nn.kneighbors(X[:rows])
        elapsed = time.perf_counter() - t0
        val = 1.0 - dist
        out_i = np.full((rows, k), -1, dtype=np.int64)
        out_v = np.zeros((rows, k))
        for r in range(rows):
            keep = (idx[r] != r) & (val[r] > 1e-12)
            ii, vv = idx[r][keep][:k], val[r][keep][:k]
            out_i[r, : ii.size], out_v[r, : vv.size] = ii, vv
        return elapsed, out_i, out_v
    if name == "gensim":
        from gensim.matutils import Sparse2Corpus
        from gensim.similarities import SparseMatrixSimilarity

        t0 = time.perf_counter()
        index = SparseMatrixSimilarity(Sparse2Corpus(X, documents_columns=False), num_features=X.shape[1])
        BUILD_SECONDS[0] = time.perf_counter() - t0
        idx_parts, val_parts = [], []
        for start in range(0, rows, 1000):
            stop = min(rows, start + 1000)
            D = np.asarray(index[Sparse2Corpus(X[start:stop], documents_columns=False)], dtype=np.float64)
            D = D.reshape(stop - start, n)
            i_, v_ = _top_k_dense(D, k, start)
            idx_parts.append(i_)
            val_parts.append(v_)
        return time.perf_counter() - t0, np.vstack(idx_parts), np.vstack(val_parts)
    if name == "dense":
        t0 = time.perf_counter()
        D = (X[:rows] @ X.T).toarray()
        idx, val = _top_k_dense(D, k, 0)
        return time.perf_counter() - t0, idx, val
    msg = f"unknown system {name!r}"
    raise ValueError(msg)


def child(args: argparse.Namespace) -> None:
    X = sp.load_npz(args.matrix).tocsr()
    elapsed, idx, val = run_system(args.child, X, args.k, args.threads, args.rows)
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024  # Linux: KiB
    np.savez(args.out, idx=idx, val=val)
    print(json.dumps({"seconds": elapsed, "build_seconds": BUILD_SECONDS[0], "peak_rss": peak}))


# -- driver -------------------------------------------------------------------------
def agreement(val: np.ndarray, ref_val: np.ndarray) -> float:
    """Share of rows whose sorted top-k scores match the reference's (to 1e-6)."""
    rows = min(val.shape[0], ref_val.shape[0])
    same = np.all(np.abs(val[:rows] - ref_val[:rows]) <= 1e-6, axis=1)
    return float(same.mean())


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--n", type=int, nargs="+", default=[10_000, 50_000], help="corpus sizes")
    parser.add_argument("--k", type=int, default=10)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--systems", nargs="+", default=list(PEERS[:5]), choices=PEERS)
    parser.add_argument("--scipy-full-limit", type=int, default=200_000,
                        help="rc-scipy runs on all rows up to this N (its sampled estimate "
                        "would leave out the frequent-term split)")
    parser.add_argument("--full-limit", type=int, default=50_000,
                        help="above this N, slow systems run on a row sample (est.)")
    parser.add_argument("--sample", type=int, default=5_000, help="query rows for est. figures")
    parser.add_argument("--dense-limit", type=int, default=20_000)
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--synthetic", action="store_true", help="use the seeded Zipfian corpus")
    parser.add_argument("--json", type=Path, help="write all runs to this file")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    parser.add_argument("--matrix", help=argparse.SUPPRESS)
    parser.add_argument("--rows", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--out", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        child(args)
        return 0

    results = []
    workdir = Path(tempfile.mkdtemp(prefix="allpairs-"))
    print("| N | system | W | median s | rate (W/s) | peak RSS MiB | sdt time / time | agrees with sdt |")
    print("|---|---|---|---|---|---|---|---|")
    for n in args.n:
        X, source = build_matrix(n, None if args.synthetic else args.data)
        n = X.shape[0]
        W = work(X)
        matrix = workdir / f"X_{n}.npz"
        sp.save_npz(matrix, X)
        systems = [s for s in args.systems if s != "dense" or n <= args.dense_limit]
        if "sdt" not in systems:
            systems.append("sdt")
        times: dict[str, list[float]] = {s: [] for s in systems}
        peaks: dict[str, list[int]] = {s: [] for s in systems}
        ratios: dict[str, list[float]] = {s: [] for s in systems}
        agree: dict[str, float] = {}
        limit = {"rc-scipy": max(args.full_limit, args.scipy_full_limit)}
        rows_of = {s: (min(args.sample, n) if s in SLOW and n > limit.get(s, args.full_limit) else n)
                   for s in systems}
        for rep in range(args.repeats):
            shift = rep % len(systems)
            order = systems[shift:] + systems[:shift]
            if rep % 2:
                order = order[::-1]
            round_times = {}
            for name in order:
                out = workdir / f"{name}_{n}.npz"
                cmd = [sys.executable, __file__, "--child", name, "--matrix", str(matrix),
                       "--rows", str(rows_of[name]), "--out", str(out), "--k", str(args.k),
                       "--threads", str(args.threads)]
                proc = subprocess.run(cmd, capture_output=True, text=True, check=False)
                if proc.returncode != 0:
                    print(f"{name} failed at N={n}:\n{proc.stderr}", file=sys.stderr)
                    continue
                info = json.loads(proc.stdout.strip().splitlines()[-1])
                # Est. figures: the one-off index build once, the queries scaled to N rows.
                build = info.get("build_seconds", 0.0)
                seconds = build + (info["seconds"] - build) * n / rows_of[name]
                round_times[name] = seconds
                times[name].append(seconds)
                peaks[name].append(info["peak_rss"])
                results.append({"n": n, "source": source, "W": W, "system": name, "repeat": rep,
                                "seconds": seconds, "measured_rows": rows_of[name],
                                "estimated": rows_of[name] < n, "peak_rss": info["peak_rss"]})
                print(f"  N={n} round {rep} {name}: {seconds:.2f}s"
                      f"{' (est.)' if rows_of[name] < n else ''}", file=sys.stderr, flush=True)
            if "sdt" in round_times:
                for name, seconds in round_times.items():
                    ratios[name].append(round_times["sdt"] / seconds)
        ref = np.load(workdir / f"sdt_{n}.npz")
        for name in systems:
            if times[name]:
                got = np.load(workdir / f"{name}_{n}.npz")
                agree[name] = agreement(got["val"], ref["val"])
        for name in systems:
            if not times[name]:
                continue
            est = " est." if rows_of[name] < n else ""
            med = statistics.median(times[name])
            ratio = statistics.median(ratios[name]) if ratios[name] else float("nan")
            peak = max(peaks[name]) / 2**20
            rows_note = f" ({rows_of[name]} rows)" if est else ""
            print(f"| {n:,} | {name} | {W:.3g} | {med:.2f}{est} | {W / med:.3g} | {peak:.0f}{rows_note} "
                  f"| {ratio:.2f}{est} | {100 * agree[name]:.2f}% |", flush=True)
    if args.json:
        args.json.write_text(json.dumps(results, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
