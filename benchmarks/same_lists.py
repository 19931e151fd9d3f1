"""Check that a change to the code leaves every list, score and saved byte as it was.

This script is for refactoring. Run ``dump`` once with the code as it was
before the change and once with the changed code, then run ``compare`` on the
two output folders. ``compare`` exits with 0 only when the two runs saved the
same bytes and returned the same lists with exactly the same scores (the
timings are printed too, but they never make the check fail).

What ``dump OUT`` records, for each corpus, in ``OUT/<corpus>/``:

* ``index/``: the index built with ``RelatedContent(n_jobs=2)`` (defaults
  otherwise) and saved with ``save()``.
* ``files.json``: the SHA-256 of every file of the saved snapshot, and the
  manifest as parsed JSON without the keys that change from run to run
  (``created``, ``relatedcontent_version``, ``sklearn_version``).
* ``queries.json``: the answers of the index loaded back with
  ``load(path, mmap=True)`` for 200 articles picked with a fixed seed:
  ``related()`` with n=5, n=20, with ``exclude``, ``same_section``,
  ``half_life`` and ``taxonomy_boost``; ``explain()`` of the first item of each
  list; and ``similar()`` for 50 drafts (an article's title and the first 200
  characters of its body). Scores are stored exactly, as ``float.hex()``
  strings (``{"$f": "0x1.8p-1"}``), never rounded.
* ``changed/`` and ``incremental.json``: the saved index loaded again, then 20
  articles removed (among them the 3 that appear in the most stored lists),
  20 updated and 20 added, saved to ``changed/``; the file hashes of that
  snapshot and ``related(id, n=10)`` for 100 surviving articles.
* ``timings.json``: fit, load and query times (for information only).
* with ``--dask``, ``dask-index/`` and ``dask.json``: the same articles written
  to 4 JSON Lines files in order and built with ``fit_distributed`` on a local
  cluster of 2 workers. The goal is that this index is byte for byte the local
  one; ``dask.json`` records how far it is from that (files that differ, and
  how many stored lists differ in their ids and in their scores).

The corpora are read from ``/work/shared/data`` (``--data``): ``bbc``,
``bbcsport``, ``20ng`` (20 Newsgroups; its ``headers`` field becomes an extra
field, which is not indexed) and ``pypi100k`` (100,000 PyPI summaries picked
with a fixed shuffle of the whole file).

The script uses only the public API of relatedcontent, so the same script runs
against the old and the new code. Choose the code with PYTHONPATH; the script
prints and records which ``relatedcontent`` it imported (and so do the Dask
workers). Example, from the repository root::

    PYTHONPATH=/work/base/src .venv/bin/python benchmarks/same_lists.py \\
        dump /work/ref/base --corpora bbc,bbcsport,20ng,pypi100k --dask
    PYTHONPATH=src .venv/bin/python benchmarks/same_lists.py \\
        dump /work/ref/new --corpora bbc,bbcsport,20ng,pypi100k --dask
    .venv/bin/python benchmarks/same_lists.py compare /work/ref/base /work/ref/new

A dump of the four corpora takes several minutes on a 2-core machine, most of
it for pypi100k. For a quicker check, dump fewer corpora: ``compare`` looks at
the corpora present in both folders.
"""

from __future__ import annotations

import argparse
import dataclasses
import gzip
import hashlib
import json
import math
import numbers
import os
import platform
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import warnings
from collections.abc import Mapping
from pathlib import Path
from typing import Any

CORPORA = ("bbc", "bbcsport", "20ng", "pypi100k")
FILES = {
    "bbc": "bbc.jsonl",
    "bbcsport": "bbcsport.jsonl",
    "20ng": "20newsgroups_bydate.jsonl",
    "pypi100k": "pypi_summaries.jsonl.gz",
}
PYPI_N = 100_000
N_SAMPLE = 200  # articles queried
N_DRAFTS = 50  # similar() calls
N_CHANGE = 20  # removed, updated and added articles
N_INC_QUERIES = 100  # lists read after the changes
NOW = "2026-01-01"
#: Keys of the manifest that legitimately change from one build to the next.
VOLATILE_MANIFEST_KEYS = ("created", "relatedcontent_version", "sklearn_version")


# -- exact, JSON-safe values -------------------------------------------------------------------
def enc(value: Any) -> Any:
    """Return ``value`` as JSON with every float stored exactly as ``{"$f": float.hex()}``."""
    if value is None or isinstance(value, (bool, str)):
        return value
    if type(value).__name__ == "bool_":  # numpy bool
        return bool(value)
    if isinstance(value, numbers.Integral):
        return int(value)
    if isinstance(value, numbers.Real):
        return {"$f": float(value).hex()}
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: enc(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, Mapping):
        return {str(k): enc(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [enc(v) for v in value]
    return {"$repr": repr(value)}


def split_floats(value: Any) -> tuple[Any, list[str]]:
    """Split an encoded value into its shape (floats replaced by a marker) and its floats."""
    floats: list[str] = []

    def walk(v: Any) -> Any:
        if isinstance(v, dict):
            if set(v) == {"$f"}:
                floats.append(v["$f"])
                return "<float>"
            return {k: walk(x) for k, x in v.items()}
        if isinstance(v, list):
            return [walk(x) for x in v]
        return v

    return walk(value), floats


def items(recs: list[Any]) -> list[list[Any]]:
    """A list of Recommendations as ``[id, reason, exact score]`` triples."""
    return [[enc(r.id), r.reason, enc(float(r.score))] for r in recs]


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def live_snapshot(index: Path) -> Path:
    return index / (index / "CURRENT").read_text(encoding="utf-8").strip()


def snapshot_files(index: Path) -> dict[str, Any]:
    """Hashes of every file of the live snapshot, and its manifest minus the volatile keys."""
    snap = live_snapshot(index)
    hashes = {}
    for path in sorted(p for p in snap.rglob("*") if p.is_file()):
        name = path.relative_to(snap).as_posix()
        # .verified holds file stamps (times, inodes): it differs on every save
        if name not in ("manifest.json", ".verified"):
            hashes[name] = {"sha256": sha256_file(path), "bytes": path.stat().st_size}
    manifest = json.loads((snap / "manifest.json").read_text(encoding="utf-8"))
    volatile = {k: manifest.pop(k) for k in VOLATILE_MANIFEST_KEYS if k in manifest}
    return {
        "snapshot": snap.name,
        "files": hashes,
        "manifest": manifest,
        "manifest_volatile": volatile,
    }


def write_json(path: Path, data: Any) -> None:
    """Write indented JSON, except that each query of a ``queries`` list takes one line."""
    data = dict(data)
    queries = data.pop("queries", None)
    text = json.dumps(data, indent=1, ensure_ascii=False)
    if queries is not None:
        body = ",\n".join("  " + json.dumps(q, ensure_ascii=False) for q in queries)
        text = text[:-2] + ',\n "queries": [\n' + body + "\n ]\n}"
    path.write_text(text + "\n", encoding="utf-8")


def median_ms(seconds: list[float]) -> float | None:
    return 1000 * statistics.median(seconds) if seconds else None


def timed(fn: Any, *args: Any, **kwargs: Any) -> tuple[Any, float]:
    t = time.perf_counter()
    out = fn(*args, **kwargs)
    return out, time.perf_counter() - t


# -- corpora -----------------------------------------------------------------------------------
def read_corpus(name: str, data: Path) -> tuple[list[Any], list[str]]:
    """Return the corpus's articles (in order) and the same records as JSON lines."""
    from relatedcontent import read_articles

    path = data / FILES[name]
    if name == "pypi100k":
        with gzip.open(path, "rt", encoding="utf-8") as handle:
            records = [json.loads(line) for line in handle if line.strip()]
        random.Random(0).shuffle(records)
        articles = [
            {"id": r["id"], "title": r["title"], "body": r["body"]} for r in records[:PYPI_N]
        ]
        del records
        lines = [json.dumps(a, ensure_ascii=False) for a in articles]
        return articles, lines
    articles = list(read_articles(path))
    with path.open(encoding="utf-8") as handle:
        lines = [line.rstrip("\n") for line in handle if line.strip()]
    if len(lines) != len(articles):
        raise SystemExit(f"{path}: {len(lines)} lines but {len(articles)} articles")
    return articles, lines


def article_id(article: Any) -> Any:
    return article["id"] if isinstance(article, Mapping) else article.id


def changed_copy(article: Any, **fields: Any) -> Any:
    if isinstance(article, Mapping):
        return {**article, **fields}
    return dataclasses.replace(article, **fields)


def warm_up() -> None:
    """Fit a tiny corpus once, so that no timing includes compiling the numba kernels."""
    from relatedcontent import RelatedContent

    words = "bin garden waste school term council road tax library park vote station".split()
    rng = random.Random(5)
    docs = [
        {
            "id": i,
            "title": " ".join(rng.sample(words, 3)),
            "body": " ".join(rng.choices(words, k=30)),
        }
        for i in range(60)
    ]
    rc = RelatedContent(n_jobs=2).fit(docs)
    rc.related(0, n=5)
    rc.related(0, n=20)
    rc.similar({"title": "garden waste", "body": "bins"})


# -- dump --------------------------------------------------------------------------------------
def run_queries(
    model: Any, ids: list[Any], by_id: dict[Any, Any]
) -> tuple[list[dict[str, Any]], dict[str, list[float]]]:
    """The seeded queries of ``queries.json``, and the time of each plain call."""
    sample = random.Random(1).sample(ids, min(N_SAMPLE, len(ids)))
    out: list[dict[str, Any]] = []
    times: dict[str, list[float]] = {"related_n5": [], "related_n20": [], "similar": []}

    def record(kind: str, qid: Any, args: dict[str, Any], result: Any) -> None:
        out.append({"q": kind, "id": enc(qid), "args": enc(args), "result": result})

    for i, qid in enumerate(sample):
        first, t = timed(model.related, qid, n=5)
        times["related_n5"].append(t)
        record("related", qid, {"n": 5}, items(first))
        res, t = timed(model.related, qid, n=20)
        times["related_n20"].append(t)
        record("related", qid, {"n": 20}, items(res))
        if len(sample) > 1:
            other = sample[(i + 1) % len(sample)]
            record(
                "related",
                qid,
                {"n": 5, "exclude": [other]},
                items(model.related(qid, n=5, exclude=[other])),
            )
        record(
            "related",
            qid,
            {"n": 5, "same_section": True},
            items(model.related(qid, n=5, same_section=True)),
        )
        record(
            "related",
            qid,
            {"n": 5, "half_life": 30, "now": NOW},
            items(model.related(qid, n=5, half_life=30, now=NOW)),
        )
        record(
            "related",
            qid,
            {"n": 5, "taxonomy_boost": 0.5},
            items(model.related(qid, n=5, taxonomy_boost=0.5)),
        )
        if first:
            why = model.explain(qid, first[0].id)
            record("explain", qid, {"other_id": first[0].id}, explain_record(why))
    for qid in sample[:N_DRAFTS]:
        a = by_id[qid]
        title = a["title"] if isinstance(a, Mapping) else a.title
        body = a["body"] if isinstance(a, Mapping) else a.body
        draft = {"title": title, "body": body[:200]}
        res, t = timed(model.similar, draft, n=5)
        times["similar"].append(t)
        record("similar", qid, {"n": 5, "draft": "title + body[:200]"}, items(res))
    return out, times


def explain_record(why: Any) -> dict[str, Any]:
    return {
        "id": enc(why.id),
        "other_id": enc(why.other_id),
        "score": enc(why.score),
        "text_similarity": enc(why.text_similarity),
        "components": enc(why.components),
        "factors": enc(why.factors),
        "rank": enc(why.rank),
        "reason": why.reason,
        "notes": list(why.notes),
        "shared_terms": [[t.term, enc(t.weight), enc(t.share)] for t in why.shared_terms],
        "shared_tags": list(why.shared_tags),
    }


def incremental(index: Path, out: Path, articles: list[Any], ids: list[Any]) -> dict[str, Any]:
    """Remove, update and add articles on the loaded index; save it; read lists."""
    import numpy as np

    from relatedcontent import load

    model = load(index)
    counts = np.bincount(
        np.asarray(model.neighbors_)[np.asarray(model.neighbors_) >= 0].ravel(),
        minlength=len(model.ids_),
    )
    order = sorted(range(len(counts)), key=lambda r: (-int(counts[r]), r))
    model_ids = list(model.ids_)
    hubs = [model_ids[r] for r in order[:3]]
    rng = random.Random(2)
    hub_set = set(hubs)
    rest = [i for i in ids if i not in hub_set]
    picked = rng.sample(rest, 2 * N_CHANGE - 3 + N_CHANGE)
    removed = hubs + picked[: N_CHANGE - 3]
    updated = picked[N_CHANGE - 3 : 2 * N_CHANGE - 3]
    sources = picked[2 * N_CHANGE - 3 :]
    by_id = {article_id(a): a for a in articles}
    title_of = (lambda a: a["title"]) if isinstance(articles[0], Mapping) else (lambda a: a.title)
    body_of = (lambda a: a["body"]) if isinstance(articles[0], Mapping) else (lambda a: a.body)
    new = [
        changed_copy(by_id[s], id=f"{s}#copy", title=f"{title_of(by_id[s])} (copy)")
        for s in sources
    ]
    t0 = time.perf_counter()
    model.remove(removed)
    model.update([changed_copy(by_id[u], body=body_of(by_id[u]) + " updated") for u in updated])
    model.add(new)
    apply_s = time.perf_counter() - t0
    model.save(out / "changed")
    gone = set(removed)
    survivors = [i for i in ids if i not in gone] + [article_id(a) for a in new]
    queried = random.Random(3).sample(survivors, min(N_INC_QUERIES, len(survivors)))
    queries = [
        {
            "q": "related",
            "id": enc(q),
            "args": enc({"n": 10}),
            "result": items(model.related(q, n=10)),
        }
        for q in queried
    ]
    return {
        "removed": enc(removed),
        "hubs_removed": [[enc(h), int(counts[model_ids.index(h)])] for h in hubs],
        "updated": enc(updated),
        "added": enc([article_id(a) for a in new]),
        "apply_s": apply_s,
        "files": snapshot_files(out / "changed"),
        "queries": queries,
    }


def change_timings(index: Path, articles: list[Any], ids: list[Any], reps: int) -> dict[str, Any]:
    """Median time of adding one article and of removing one, on a loaded index."""
    from relatedcontent import load

    model = load(index)
    rng = random.Random(4)
    sources = rng.sample(ids, min(reps, len(ids)))
    by_id = {article_id(a): a for a in articles}
    add_t, remove_t = [], []
    for k, s in enumerate(sources):
        _, t = timed(model.add, [changed_copy(by_id[s], id=f"__timing-{k}")])
        add_t.append(t)
    for s in sources:
        _, t = timed(model.remove, [s])
        remove_t.append(t)
    return {
        "add_one_ms": median_ms(add_t),
        "remove_one_ms": median_ms(remove_t),
        "add_remove_reps": len(sources),
    }


def _where() -> str:
    import relatedcontent

    return relatedcontent.__file__


def dask_build(lines: list[str], out: Path) -> dict[str, Any]:
    """Build with fit_distributed from 4 part files; compare its snapshot with the local one."""
    from relatedcontent import fit_distributed, open_client

    with tempfile.TemporaryDirectory(prefix="same-lists-parts-") as tmp:
        bounds = [round(len(lines) * p / 4) for p in range(5)]
        for p in range(4):
            with open(Path(tmp) / f"part-{p}.jsonl", "w", encoding="utf-8") as handle:
                handle.writelines(line + "\n" for line in lines[bounds[p] : bounds[p + 1]])
        with open_client(local_cluster=2) as client:
            workers = sorted(set(client.run(_where).values()))
            t0 = time.perf_counter()
            model = fit_distributed(client, os.path.join(tmp, "part-*.jsonl"), n_jobs=2)
            fit_s = time.perf_counter() - t0
    shutil.rmtree(out / "dask-index", ignore_errors=True)
    model.save(out / "dask-index")
    files = snapshot_files(out / "dask-index")
    local = json.loads((out / "files.json").read_text(encoding="utf-8"))
    result = {
        "workers_import": workers,
        "fit_s": fit_s,
        "files": files,
        "vs_local": compare_files(local, files),
        "lists_vs_local": compare_lists(out / "index", out / "dask-index"),
    }
    return result


def compare_lists(a: Path, b: Path) -> dict[str, Any]:
    """Stored lists of two saved indexes, matched by article id (numpy, allow_pickle=False)."""
    import numpy as np

    def read(index: Path) -> tuple[list[Any], Any, Any]:
        snap = live_snapshot(index)
        with (snap / "articles.jsonl").open(encoding="utf-8") as handle:
            ids = [json.loads(line)["id"] for line in handle if line.strip()]
        nb = np.load(snap / "neighbors.npy", allow_pickle=False)
        sc = np.load(snap / "scores.npy", allow_pickle=False)
        return ids, nb, sc

    ids_a, nb_a, sc_a = read(a)
    ids_b, nb_b, sc_b = read(b)
    row_b = {json.dumps(i): r for r, i in enumerate(ids_b)}
    common = [(r, row_b[json.dumps(i)]) for r, i in enumerate(ids_a) if json.dumps(i) in row_b]
    ids_differ = scores_differ = 0
    max_same_ids = max_rankwise = 0.0
    for ra, rb in common:
        la = [json.dumps(ids_a[j]) if j >= 0 else None for j in nb_a[ra]]
        lb = [json.dumps(ids_b[j]) if j >= 0 else None for j in nb_b[rb]]
        same_ids = la == lb
        ids_differ += not same_ids
        sa, sb = sc_a[ra], sc_b[rb]
        if sa.shape != sb.shape or sa.tobytes() != sb.tobytes():
            scores_differ += 1
            if sa.shape == sb.shape:
                diff = float(np.max(np.abs(sa - sb)))
                max_rankwise = max(max_rankwise, diff)
                if same_ids:
                    max_same_ids = max(max_same_ids, diff)
    return {
        "articles": [len(ids_a), len(ids_b)],
        "same_article_order": ids_a == ids_b,
        "lists_compared": len(common),
        "lists_ids_differ": ids_differ,
        "lists_scores_differ": scores_differ,
        "max_abs_score_diff_same_ids": max_same_ids,
        "max_abs_score_diff_rankwise": max_rankwise,
    }


def dump_corpus(name: str, args: argparse.Namespace) -> dict[str, Any]:
    from relatedcontent import RelatedContent, load

    out = args.out / name
    if out.exists():
        if not args.overwrite:
            raise SystemExit(f"{out} exists; remove it or pass --overwrite")
        shutil.rmtree(out)
    out.mkdir(parents=True)
    started = time.perf_counter()
    articles, lines = read_corpus(name, args.data)
    ids = [article_id(a) for a in articles]
    by_id = dict(zip(ids, articles, strict=True))
    print(f"[{name}] {len(articles)} articles", flush=True)

    model, fit_s = timed(RelatedContent(n_jobs=2).fit, articles)
    model.save(out / "index")
    del model
    write_json(out / "files.json", snapshot_files(out / "index"))
    print(f"[{name}] fit {fit_s:.1f} s, saved", flush=True)

    load_times = []
    for _ in range(3):
        loaded, t = timed(load, out / "index", mmap=True)
        load_times.append(t)
    queries, qtimes = run_queries(loaded, ids, by_id)
    del loaded
    write_json(out / "queries.json", {"n_articles": len(ids), "queries": queries})
    print(f"[{name}] {len(queries)} queries", flush=True)

    inc = incremental(out / "index", out, articles, ids)
    write_json(out / "incremental.json", inc)
    print(f"[{name}] incremental: {len(inc['queries'])} lists after the changes", flush=True)

    reps = args.reps if name != "pypi100k" else min(args.reps, 50)
    timings = {
        "fit_s": fit_s,
        "load_mmap_s": statistics.median(load_times),
        "related_n5_ms": median_ms(qtimes["related_n5"]),
        "related_n20_ms": median_ms(qtimes["related_n20"]),
        "similar_ms": median_ms(qtimes["similar"]),
        **change_timings(out / "index", articles, ids, reps),
        "apply_20_20_20_s": inc["apply_s"],
        "counts": {k: len(v) for k, v in qtimes.items()},
    }
    if args.dask:
        dask = dask_build(lines, out)
        write_json(out / "dask.json", dask)
        timings["dask_fit_s"] = dask["fit_s"]
        lv = dask["lists_vs_local"]
        print(
            f"[{name}] dask: {len(dask['vs_local']['differ'])} files differ from the local "
            f"build; lists differing in ids {lv['lists_ids_differ']}, in scores "
            f"{lv['lists_scores_differ']} (of {lv['lists_compared']}); "
            f"max |score diff| {lv['max_abs_score_diff_rankwise']:.3g}",
            flush=True,
        )
    timings["dump_s"] = time.perf_counter() - started
    write_json(out / "timings.json", timings)
    print(f"[{name}] done in {timings['dump_s']:.1f} s", flush=True)
    return timings


def environment() -> dict[str, Any]:
    import numpy
    import scipy
    import sklearn

    import relatedcontent

    env: dict[str, Any] = {
        "relatedcontent_file": relatedcontent.__file__,
        "relatedcontent_version": getattr(relatedcontent, "__version__", None),
        "python": platform.python_version(),
        "numpy": numpy.__version__,
        "scipy": scipy.__version__,
        "sklearn": sklearn.__version__,
        "machine": platform.machine(),
        "cpus": os.cpu_count(),
    }
    for mod in ("numba", "dask", "distributed"):
        try:
            env[mod] = __import__(mod).__version__
        except ImportError:
            env[mod] = None
    try:
        env["git_commit"] = subprocess.run(
            ["git", "-C", os.path.dirname(relatedcontent.__file__), "rev-parse", "HEAD"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
        env["git_dirty"] = bool(
            subprocess.run(
                [
                    "git",
                    "-C",
                    os.path.dirname(relatedcontent.__file__),
                    "status",
                    "--porcelain",
                    "--",
                    ".",
                ],
                capture_output=True,
                text=True,
                check=True,
            ).stdout.strip()
        )
    except (OSError, subprocess.CalledProcessError):
        env["git_commit"] = None
    return env


def cmd_dump(args: argparse.Namespace) -> int:
    corpora = [c for c in args.corpora.split(",") if c]
    unknown = set(corpora) - set(CORPORA)
    if unknown:
        raise SystemExit(
            f"unknown corpora: {', '.join(sorted(unknown))}; choose among {', '.join(CORPORA)}"
        )
    warnings.filterwarnings("ignore", message=".*have no text")
    env = environment()
    print(
        f"relatedcontent from {env['relatedcontent_file']} (commit {env.get('git_commit')})",
        flush=True,
    )
    args.out.mkdir(parents=True, exist_ok=True)
    warm_up()
    meta = {"env": env, "argv": sys.argv[1:], "corpora": {}}
    meta_path = args.out / "meta.json"
    if meta_path.exists():  # a dump of other corpora into the same folder
        old = json.loads(meta_path.read_text(encoding="utf-8"))
        if old.get("env", {}).get("relatedcontent_file") == env["relatedcontent_file"]:
            meta["corpora"] = old.get("corpora", {})
    for name in corpora:
        timings = dump_corpus(name, args)
        meta["corpora"][name] = {"dump_s": timings["dump_s"], "dask": bool(args.dask)}
        write_json(meta_path, meta)
    return 0


# -- compare -----------------------------------------------------------------------------------
def compare_files(a: dict[str, Any], b: dict[str, Any]) -> dict[str, Any]:
    fa, fb = a["files"], b["files"]
    differ = sorted(n for n in set(fa) | set(fb) if fa.get(n) != fb.get(n))
    manifest = diff_json(a["manifest"], b["manifest"])
    return {"n_files": len(set(fa) | set(fb)), "differ": differ, "manifest_differ": manifest}


def diff_json(a: Any, b: Any, path: str = "") -> list[str]:
    """Paths where two parsed JSON values differ (at most a few per branch)."""
    if isinstance(a, dict) and isinstance(b, dict):
        out = []
        for key in sorted(set(a) | set(b)):
            if key not in a or key not in b:
                out.append(f"{path}/{key}: {'missing in A' if key not in a else 'missing in B'}")
            else:
                out.extend(diff_json(a[key], b[key], f"{path}/{key}"))
        return out
    if a != b or type(a) is not type(b):
        return [f"{path or '/'}: {short(a)} -> {short(b)}"]
    return []


def short(value: Any) -> str:
    text = json.dumps(value, ensure_ascii=False)
    return text if len(text) <= 60 else text[:57] + "..."


def compare_queries(qa: list[dict[str, Any]], qb: list[dict[str, Any]]) -> dict[str, Any]:
    def key(q: dict[str, Any]) -> str:
        return json.dumps([q["q"], q["id"], q["args"]], sort_keys=True)

    ma, mb = {key(q): q["result"] for q in qa}, {key(q): q["result"] for q in qb}
    common = [k for k in ma if k in mb]
    ids_differ = scores_differ = 0
    max_diff = 0.0
    examples = []
    for k in common:
        shape_a, floats_a = split_floats(ma[k])
        shape_b, floats_b = split_floats(mb[k])
        bad = False
        if shape_a != shape_b:
            ids_differ += 1
            bad = True
        if floats_a != floats_b:
            scores_differ += 1
            bad = True
            if len(floats_a) == len(floats_b):
                for x, y in zip(floats_a, floats_b, strict=True):
                    fx, fy = float.fromhex(x), float.fromhex(y)
                    if fx != fy and not (math.isnan(fx) and math.isnan(fy)):
                        max_diff = max(max_diff, abs(fx - fy))
        if bad and len(examples) < 3:
            examples.append(json.loads(k))
    return {
        "compared": len(common),
        "only_in_a": len(ma) - len(common),
        "only_in_b": len(mb) - len(common),
        "ids_reasons_differ": ids_differ,
        "scores_differ": scores_differ,
        "max_abs_score_diff": max_diff,
        "examples": examples,
    }


def load_json(path: Path) -> Any:
    return json.loads(path.read_text(encoding="utf-8")) if path.exists() else None


Row = tuple[str, str, str, bool]  # corpus, part, text, identical
TIMING_KEYS = (
    "fit_s",
    "load_mmap_s",
    "related_n5_ms",
    "related_n20_ms",
    "similar_ms",
    "add_one_ms",
    "remove_one_ms",
    "dask_fit_s",
)


def files_rows(name: str, part: str, fa: dict[str, Any], fb: dict[str, Any]) -> list[Row]:
    res = compare_files(fa, fb)
    differ, man = res["differ"], res["manifest_differ"]
    if differ:
        text = f"{len(differ)} of {res['n_files']} differ: {', '.join(differ)}"
    else:
        text = f"identical ({res['n_files']} files)"
    man_text = "; ".join(man[:6]) + (f" (+{len(man) - 6} more)" if len(man) > 6 else "")
    return [
        (name, part + " files", text, not differ),
        (name, part + " manifest", man_text or "identical", not man),
    ]


def queries_row(name: str, part: str, qa: list[dict[str, Any]], qb: list[dict[str, Any]]) -> Row:
    res = compare_queries(qa, qb)
    same = res["compared"] > 0 and not any(
        res[k] for k in ("ids_reasons_differ", "scores_differ", "only_in_a", "only_in_b")
    )
    text = (
        f"{res['compared']} compared: ids/reasons differ {res['ids_reasons_differ']}, "
        f"scores differ {res['scores_differ']}, max |diff| {res['max_abs_score_diff']:.3g}"
    )
    if res["only_in_a"] or res["only_in_b"]:
        text += f"; only in A {res['only_in_a']}, only in B {res['only_in_b']}"
    if res["examples"]:
        text += "; e.g. " + "; ".join(short(e) for e in res["examples"][:2])
    return (name, part, text, same)


def compare_corpus(name: str, a: Path, b: Path) -> list[Row]:
    rows = files_rows(name, "index", load_json(a / "files.json"), load_json(b / "files.json"))
    qa, qb = load_json(a / "queries.json"), load_json(b / "queries.json")
    rows.append(queries_row(name, "queries", qa["queries"], qb["queries"]))
    ia, ib = load_json(a / "incremental.json"), load_json(b / "incremental.json")
    same = all(ia[k] == ib[k] for k in ("removed", "updated", "added", "hubs_removed"))
    text = (
        "same ids removed/updated/added"
        if same
        else "DIFFERENT ids removed/updated/added (hub counts or sample changed)"
    )
    rows.append((name, "changes applied", text, same))
    rows += files_rows(name, "changed", ia["files"], ib["files"])
    rows.append(queries_row(name, "incremental", ia["queries"], ib["queries"]))

    da, db = load_json(a / "dask.json"), load_json(b / "dask.json")
    if da and db:
        # Either the Dask build is unchanged, or it became the local build (the goal).
        same_dask = not compare_files(da["files"], db["files"])["differ"]
        goal = not compare_files(load_json(a / "files.json"), db["files"])["differ"]
        lv = db["lists_vs_local"]
        text = (
            f"B dask vs A dask: {'identical' if same_dask else 'DIFFERENT'}; "
            f"B dask vs A local: {'identical (the goal)' if goal else 'different'}; "
            f"B dask vs B local: {len(db['vs_local']['differ'])} files differ, "
            f"lists differ in ids {lv['lists_ids_differ']}, "
            f"in scores {lv['lists_scores_differ']}"
        )
        rows.append((name, "dask", text, same_dask or goal))
    elif da or db:
        rows.append((name, "dask", f"only in {'A' if da else 'B'}: not compared", True))

    ta, tb = load_json(a / "timings.json") or {}, load_json(b / "timings.json") or {}
    ratios = [
        f"{k.rsplit('_', 1)[0]} {tb[k] / ta[k]:.2f}"
        for k in TIMING_KEYS
        if ta.get(k) and tb.get(k) is not None
    ]
    rows.append((name, "timings B/A", ", ".join(ratios) + " (information only)", True))
    return rows


def corpora_in(root: Path) -> set[str]:
    if not root.is_dir():
        return set()
    return {p.name for p in root.iterdir() if (p / "files.json").exists()}


def cmd_compare(args: argparse.Namespace) -> int:
    a_root, b_root = args.a, args.b
    env_a = (load_json(a_root / "meta.json") or {}).get("env", {})
    env_b = (load_json(b_root / "meta.json") or {}).get("env", {})
    for label, root, env in (("A", a_root, env_a), ("B", b_root, env_b)):
        print(
            f"{label}: {root}  relatedcontent from {env.get('relatedcontent_file')} "
            f"(commit {env.get('git_commit')})"
        )
    for mod in ("python", "numpy", "scipy", "sklearn", "numba", "dask", "distributed", "cpus"):
        if env_a.get(mod) != env_b.get(mod):
            print(f"  note: {mod} differs: {env_a.get(mod)} (A) vs {env_b.get(mod)} (B)")
    names_a, names_b = corpora_in(a_root), corpora_in(b_root)
    both = names_a & names_b
    common = [c for c in CORPORA if c in both] + sorted(both - set(CORPORA))
    for only, where in ((names_a - names_b, "A"), (names_b - names_a, "B")):
        if only:
            print(f"  only in {where} (not compared): {', '.join(sorted(only))}")
    if not common:
        print("no corpus in both folders")
        return 2
    rows = [row for name in common for row in compare_corpus(name, a_root / name, b_root / name)]
    width_c = max(len(r[0]) for r in rows)
    width_p = max(len(r[1]) for r in rows)
    for corpus, part, text, same in rows:
        print(f"{corpus:<{width_c}}  {part:<{width_p}}  {'ok  ' if same else 'DIFF'}  {text}")
    ok = all(r[3] for r in rows)
    print("IDENTICAL (timings aside)" if ok else "DIFFERENT")
    return 0 if ok else 1


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__.splitlines()[0],
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog="See the module docstring (python -m pydoc) for what is recorded.",
    )
    sub = parser.add_subparsers(dest="command", required=True)
    dump = sub.add_parser(
        "dump", help="build, save and query the corpora; write the reference to OUT"
    )
    dump.add_argument("out", type=Path)
    dump.add_argument(
        "--corpora", default=",".join(CORPORA), help=f"comma-separated, among {', '.join(CORPORA)}"
    )
    dump.add_argument(
        "--dask", action="store_true", help="also build with fit_distributed on 2 local workers"
    )
    dump.add_argument("--data", type=Path, default=Path("/work/shared/data"))
    dump.add_argument(
        "--reps",
        type=int,
        default=20,
        help="add-one / remove-one repetitions (at most 50 on pypi100k)",
    )
    dump.add_argument("--overwrite", action="store_true", help="replace OUT/<corpus> if it exists")
    cmp = sub.add_parser(
        "compare", help="compare two dumps; exit 0 only if identical (timings aside)"
    )
    cmp.add_argument("a", type=Path)
    cmp.add_argument("b", type=Path)
    args = parser.parse_args()
    return cmd_dump(args) if args.command == "dump" else cmd_compare(args)


if __name__ == "__main__":
    sys.exit(main())
