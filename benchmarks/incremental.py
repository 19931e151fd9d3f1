"""Incremental changes versus a full rebuild, measured in one run.

Builds an index of N articles (the first N package summaries of the shared
data, or a seeded synthetic Zipfian corpus when the data folder is absent),
then times single-article add, update and remove, each with and without the
durable save (journal append + fsync), against the full rebuild (fit) of the
same index. Prints medians and the rebuild/change ratio.

    python benchmarks/incremental.py --n 100000 --repeats 25
"""

from __future__ import annotations

import argparse
import gzip
import itertools
import json
import statistics
import tempfile
import time
import warnings
from pathlib import Path

import numpy as np

from relatedcontent import RelatedContent, load

DATA = Path(__file__).resolve().parents[2] / "shared" / "data" / "pypi_summaries.jsonl.gz"


def corpus(n: int, seed: int = 0) -> list[dict]:
    if DATA.is_file():
        with gzip.open(DATA, "rt", encoding="utf-8") as handle:
            return [json.loads(line) for line in itertools.islice(handle, n)]
    rng = np.random.default_rng(seed)
    vocab = np.array([f"w{i}" for i in range(50_000)])
    weights = 1.0 / np.arange(1, vocab.size + 1)
    weights /= weights.sum()
    return [
        {"id": str(i), "title": " ".join(rng.choice(vocab, 3, p=weights)),
         "body": " ".join(rng.choice(vocab, int(rng.integers(5, 40)), p=weights))}
        for i in range(n)
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=100_000)
    parser.add_argument("--repeats", type=int, default=25)
    parser.add_argument("--rebuilds", type=int, default=3)
    parser.add_argument("--json", type=Path, help="write the results to this file")
    args = parser.parse_args()
    warnings.simplefilter("ignore")
    records = corpus(args.n + 3 * args.repeats)
    base, spare = records[: args.n], records[args.n :]
    rebuilds = []
    for _ in range(args.rebuilds):
        started = time.perf_counter()
        model = RelatedContent().fit(base)
        rebuilds.append(time.perf_counter() - started)
    rebuild = statistics.median(rebuilds)
    results = {"n": args.n, "source": "pypi" if DATA.is_file() else "synthetic",
               "rebuild_s": rebuild, "rebuild_runs": rebuilds}
    with tempfile.TemporaryDirectory() as tmp:
        index = Path(tmp) / "idx"
        model.save(index)
        model = load(index)
        ids = model.ids_
        rng = np.random.default_rng(1)
        timings: dict[str, list[float]] = {k: [] for k in ("add", "update", "remove")}
        saved: dict[str, list[float]] = {k: [] for k in ("add", "update", "remove")}
        for r in range(args.repeats):
            new = {**spare[r], "id": f"bench-new-{r}"}
            changed = {**spare[args.repeats + r], "id": ids[int(rng.integers(len(ids)))]}
            victim = ids[int(rng.integers(len(ids)))]
            while victim == changed["id"] or victim not in model:
                victim = ids[int(rng.integers(len(ids)))]
            for op, call in (("add", lambda: model.add([new])),
                             ("update", lambda: model.update([changed])),
                             ("remove", lambda: model.remove([victim]))):
                started = time.perf_counter()
                call()
                middle = time.perf_counter()
                model.save(index)
                done = time.perf_counter()
                timings[op].append(middle - started)
                saved[op].append(done - started)
    print(f"N = {args.n} ({results['source']}), rebuild (fit) median of {args.rebuilds}: {rebuild:.2f} s")
    print("| change | median in memory | median with durable save | rebuild / change (with save) |")
    print("|---|---|---|---|")
    for op in ("add", "update", "remove"):
        mem, dur = statistics.median(timings[op]), statistics.median(saved[op])
        results[op] = {"memory_ms": 1000 * mem, "saved_ms": 1000 * dur, "ratio": rebuild / dur}
        print(f"| {op} one article | {1000 * mem:.1f} ms | {1000 * dur:.1f} ms | {rebuild / dur:.0f}x |")
    if args.json:
        args.json.write_text(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
