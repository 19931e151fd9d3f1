"""Data in and out at site scale: read_sql, export_sql and export_files, timed.

Builds a posts table of N articles (the first N package summaries of the
shared data, or a seeded synthetic corpus) in SQLite (and PostgreSQL when
RELATEDCONTENT_TEST_POSTGRES_URL is set), then times: reading it with
read_sql (and the peak Python memory of that read), fitting, the first
export_sql (every row inserted), an export with nothing changed, an export
after one add + one update + one remove, and the JSON exports. Prints one
line per step and, with --json PATH, writes the numbers.

    python benchmarks/export.py --n 20000
"""

from __future__ import annotations

import argparse
import json
import os
import sqlite3
import tempfile
import time
import tracemalloc
from pathlib import Path

from incremental import corpus

from relatedcontent import RelatedContent, export_files, export_sql, load, read_sql


def timed(results: dict, name: str, func, *args, **kwargs):
    start = time.perf_counter()
    value = func(*args, **kwargs)
    results[name] = round(time.perf_counter() - start, 3)
    extra = f"  ({value.summary()})" if hasattr(value, "summary") else ""
    print(f"{name:<40} {results[name]:8.2f} s{extra}")
    return value


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=20_000)
    parser.add_argument("--n-neighbors", type=int, default=10)
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    records = corpus(args.n)
    work = Path(tempfile.mkdtemp(prefix="rc-bench-export-"))
    db = work / "site.db"
    with sqlite3.connect(db) as conn:
        conn.execute("CREATE TABLE posts (id TEXT PRIMARY KEY, title TEXT, body TEXT)")
        conn.executemany("INSERT INTO posts VALUES (:id, :title, :body)",
                         [{"id": str(r.get("id", i)), "title": r.get("title", ""), "body": r.get("body", "")}
                          for i, r in enumerate(records)])
    results: dict = {"n": args.n, "n_neighbors": args.n_neighbors}
    url = f"sqlite:///{db}"
    query = "SELECT id, title, body FROM posts"
    articles = timed(results, "read_sql (sqlite)", lambda: list(read_sql(url, query)))
    tracemalloc.start()  # peak memory of streaming the rows without keeping them
    sum(1 for _ in read_sql(url, query))
    results["read_sql_streaming_peak_mib"] = round(tracemalloc.get_traced_memory()[1] / 2**20, 1)
    tracemalloc.stop()
    print(f"{'read_sql streaming peak Python memory':<40} {results['read_sql_streaming_peak_mib']:8.1f} MiB")
    model = timed(results, "fit", RelatedContent(n_neighbors=args.n_neighbors).fit, articles)
    model.save(work / "idx")
    targets = {"sqlite": url}
    if os.environ.get("RELATEDCONTENT_TEST_POSTGRES_URL"):
        targets["postgresql"] = os.environ["RELATEDCONTENT_TEST_POSTGRES_URL"]
    for name, target in targets.items():
        timed(results, f"export_sql first ({name})", export_sql, work / "idx", target, table="bench_related")
        timed(results, f"export_sql unchanged ({name})", export_sql, work / "idx", target, table="bench_related")
    changed = load(work / "idx")
    source = max(articles[:100], key=lambda a: len(a.body))
    changed.add([{"id": "bench-new", "title": source.title, "body": source.body}])
    changed.update([{"id": articles[1].id, "title": "changed title", "body": articles[2].body}])
    changed.remove([articles[3].id])
    changed.save(work / "idx")
    print(f"the added article has {len(changed.related('bench-new', n=args.n_neighbors))} related items")
    for name, target in targets.items():
        timed(results, f"export_sql after 3 changes ({name})", export_sql, work / "idx", target,
              table="bench_related")
    timed(results, "export_files one json", export_files, work / "idx", work / "related.json", n=5)
    timed(results, "export_files per article", export_files, work / "idx", work / "related", per_article=True, n=5)
    if args.json:
        args.json.write_text(json.dumps(results, indent=2) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
