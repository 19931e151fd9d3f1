"""A build on a Dask cluster: time and memory per stage, for the capacity note.

Takes the first N records of the PyPI summaries
(``/work/shared/data/pypi_summaries.jsonl.gz`` or ``--data``), splits them
into ``--parts`` gzipped JSON Lines files under ``--out-dir`` (kept for the
next run), starts a ``LocalCluster`` of ``--workers`` single-threaded worker
processes, compiles the numba kernel on every worker (excluded from the
times), and runs ``relatedcontent.fit_distributed`` on the parts' glob.

Prints one JSON object: N, the vocabulary, W = sum_t df(t)^2 (the
multiply-adds of all pairs), the wall time of the whole build and of its
neighbour stage, the peak RSS of each worker process and of the client
(``ru_maxrss``, so run one N per process), and the save time and index size.
With ``--check`` it also fits single-process and checks the results are equal.

Example::

    python benchmarks/dask_build.py --n 100000 --workers 2 --json results.jsonl
"""

from __future__ import annotations

import argparse
import gzip
import itertools
import json
import resource
import shutil
import time
from pathlib import Path

import numpy as np


def _peak_rss() -> int:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


def write_parts(data: Path, n: int, parts: int, out: Path) -> Path:
    folder = out / f"n{n}-p{parts}"
    if (folder / "DONE").exists():
        return folder
    folder.mkdir(parents=True, exist_ok=True)
    with gzip.open(data, "rt", encoding="utf-8") as fh:
        lines = list(itertools.islice(fh, n))
    for p, chunk in enumerate(np.array_split(np.arange(len(lines)), parts)):
        with gzip.open(folder / f"part-{p:03d}.jsonl.gz", "wt", encoding="utf-8", compresslevel=1) as o:
            o.writelines(lines[i] for i in chunk)
    (folder / "DONE").write_text(str(len(lines)))
    return folder


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, required=True)
    parser.add_argument("--parts", type=int, default=8)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--data", type=Path, default=Path("/work/shared/data/pypi_summaries.jsonl.gz"))
    parser.add_argument("--out-dir", type=Path, default=Path("/tmp/rc-dist"))
    parser.add_argument("--check", action="store_true", help="also fit single-process and compare")
    parser.add_argument("--json", type=Path, help="append the result to this JSON Lines file")
    args = parser.parse_args()

    import distributed

    import relatedcontent._distributed as dist
    from relatedcontent import RelatedContent, fit_distributed, read_articles
    from relatedcontent.neighbors.kernel import warm_up

    folder = write_parts(args.data, args.n, args.parts, args.out_dir)
    stage = {}
    inner = dist.top_k_neighbors_distributed

    def timed(*a, **kw):
        t = time.perf_counter()
        try:
            return inner(*a, **kw)
        finally:
            stage["neighbours_s"] = time.perf_counter() - t

    dist.top_k_neighbors_distributed = timed
    with distributed.LocalCluster(n_workers=args.workers, threads_per_worker=1, processes=True,
                                  dashboard_address=":0", memory_limit=0) as cluster, \
            distributed.Client(cluster) as client:
        client.run(warm_up)
        t0 = time.perf_counter()
        model = fit_distributed(client, str(folder / "part-*.jsonl.gz"), empty_text="keep")
        build_s = time.perf_counter() - t0
        worker_rss = sorted(client.run(_peak_rss).values())
    index = args.out_dir / f"index-n{args.n}"
    shutil.rmtree(index, ignore_errors=True)
    t1 = time.perf_counter()
    model.save(index)
    save_s = time.perf_counter() - t1
    df = np.bincount(model.X_.indices, minlength=model.X_.shape[1]).astype(np.int64)
    result = {
        "n": model.report_["n_articles"],
        "parts": args.parts,
        "workers": args.workers,
        "terms": model.report_["n_terms"],
        "W_multiply_adds": int((df**2).sum()),
        "build_s": round(build_s, 1),
        "neighbours_s": round(stage["neighbours_s"], 1),
        "read_vectorise_s": round(build_s - stage["neighbours_s"], 1),
        "worker_peak_rss_mib": [round(r / 2**20) for r in worker_rss],
        "client_peak_rss_mib": round(_peak_rss() / 2**20),
        "save_s": round(save_s, 1),
        "index_mib": round(sum(f.stat().st_size for f in index.rglob("*") if f.is_file()) / 2**20),
    }
    if args.check:
        single = RelatedContent(empty_text="keep").fit(
            itertools.chain.from_iterable(read_articles(p) for p in sorted(folder.glob("part-*.jsonl.gz"))))
        result["identical"] = bool(
            single.ids_ == model.ids_
            and single.vectorizer_.terms_ == model.vectorizer_.terms_
            and np.array_equal(single.neighbors_, model.neighbors_)
            and np.array_equal(single.scores_, model.scores_)
        )
    print(json.dumps(result))
    if args.json:
        with args.json.open("a") as fh:
            fh.write(json.dumps(result) + "\n")


if __name__ == "__main__":
    import warnings

    warnings.filterwarnings("ignore", message=".*have no text")
    main()
