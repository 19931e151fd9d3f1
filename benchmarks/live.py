"""The live path: what a site does with a saved index after the build.

``../shared/EVALUATION.md`` ("The live path", the project's issue 14): on an
index loaded with ``load(path, mmap=True)``, time the load itself, stored lists,
deeper and filtered lists, drafts (``similar``), single ``add``/``update``/
``remove`` (among them removing the articles that appear in the most lists),
``related_all`` deeper than the stored lists, and the HTTP service
(``relatedcontent serve``): start-up, reads, writes during reads, and how soon
a write is visible. Medians and p99 of (by default) 200 operations on random
articles picked with a fixed seed.

The corpus is the shared PyPI summaries: all 886,323 records, shuffled with
``random.Random(0)`` (as ``same_lists.py`` does); size N is the first N of that
order ("100k" = the first 100,000). ``related_all`` is measured on 20 Newsgroups
(fit with ``n_neighbors=10``), against the list stage of its build.

The script uses only the public API (``RelatedContent``, ``load``,
``read_articles``, and ``relatedcontent serve`` as a subprocess plus HTTP), so
the same script measures any version of the code; pick it with PYTHONPATH. Every
measurement that needs a fresh interpreter or its own memory (builds, cold
loads, the API operations, the server) runs in a subprocess of this script with
the same interpreter and environment. Example, from the repository root::

    PYTHONPATH=/work/i13/src .venv/bin/python benchmarks/live.py \\
        --index-dir /tmp/live-i13 --json benchmarks/results/live-i13.json
    PYTHONPATH=/work/i13/src .venv/bin/python benchmarks/live.py --sizes 100000,886323 \\
        --index-dir /tmp/live-i13 --json benchmarks/results/live-i13-full.json

Indexes are built once per size into ``--index-dir`` (default
``benchmarks/results/live-index``) and reused; ``--rebuild`` forces a build.
An index is reused even if another version of the code built it (the script
warns): build one folder per version when the saved format or the score differ.

What is measured (each operation is timed alone; nothing is saved after a
change unless said):

* ``load``: ``import relatedcontent`` and ``load(path, mmap=True)`` (default
  ``verify=True``; also ``verify=False``) in fresh subprocesses, median of
  ``--load-repeats``; VmRSS / RssAnon / RssFile right after; the first
  ``related(n=5)`` after the load. The index files are in the page cache (the
  previous run or the build read them): this is a fresh process, not a cold
  disk.
* ``related(id, n=5)`` (the stored lists), ``n=20`` (deeper than the 10 kept),
  ``n=5, exclude=[another random id]`` (any filter) and ``n=50`` (the pool).
* ``similar(draft)``: a random article's title and the first 200 characters of
  its body, as a dict without id.
* on a second fresh mmap load: the first change after the load (an ``add``,
  timed alone: it may copy memory-mapped arrays), then ``add`` of new
  articles, ``update`` of random articles (same id, another article's title
  and body) and ``remove`` of random articles, one at a time, in that order, on
  the same model. New articles are unseen records (after the first N of the
  shuffled corpus) when the corpus has them, else an article made of one
  random record's title and another's body, with a new id.
* on a third fresh mmap load: one untimed warm-up ``remove`` of a random
  article, then ``remove`` of each of the 10 articles that appear in the most
  stored lists (counted in ``neighbors_``), one after another.
* ``related_all(n=15)`` on 20 Newsgroups (index keeps 10, loaded with mmap),
  capped at ``--related-all-cap`` lists and extrapolated to all of them,
  against ``related_all(n=10)`` (lookups) and the build's list stage (from the
  fit's ``verbose`` stage lines: the last stage, "scores: smoothed vectors, hub
  scales, lists", to the end of ``fit``).
* the server: ``relatedcontent serve COPY --port 0`` on a copy of the index
  (writes save into it), with a write token; time until ``/health`` answers;
  reads of ``GET /related/{id}?n=5`` by ``wrk`` (``apt-get install wrk``; one
  thread; else an async httpx client, which is itself the bottleneck) at 32
  and 1 connections; then, while wrk keeps 32 connections busy, writes one at
  a time, cycling ``PUT`` of a new article, ``PUT`` of an existing one (an
  update) and ``DELETE``: the time until the answer, and from the answer until
  a reader sees the change (``GET /related/{id}``: 200 for the new article,
  404 for the removed one, a new ETag for the updated one; polled back to back
  on another connection).

A slow operation stops after ``--op-budget`` seconds (at least ``--min-ops``
operations), the hub removals after ``--hub-budget`` seconds (at least 3), the
server writes when the read load's ``--write-seconds`` are nearly up or the
server's VmRSS passes ``--max-rss`` MiB; the table's "n ops" says how many ran. With fewer than 100
operations the p99 is close to the maximum. ``--profile DIR`` also writes
cProfile statistics of one extra ``related(n=20)``, ``similar``, hub
``remove`` and ``load`` (outside the timed operations).

Not a test: nothing here runs under pytest. Exactness is checked by the tests.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import cProfile
import datetime as dt
import gc
import gzip
import io
import json
import os
import pstats
import random
import re
import resource
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import warnings
from pathlib import Path
from typing import Any
from urllib.parse import quote

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT.parent / "shared" / "data"
PYPI = DATA / "pypi_summaries.jsonl.gz"
NEWSGROUPS = DATA / "20newsgroups_bydate.jsonl"
RESULTS = ROOT / "benchmarks" / "results"
ANNOUNCE = re.compile(r"serving .* on (http://127\.0\.0\.1:\d+/)")
TOKEN = "live-benchmark-token-0123456789abcdef"
N_HUBS = 10
DRAFT_CHARS = 200

WRK_SCRIPT = r"""
local paths = {}
for line in io.lines(os.getenv("RC_PATHS")) do paths[#paths + 1] = line end
local counter = 0
function setup(thread)
  counter = counter + 1
  thread:set("offset", counter * 7919)
end
local i = 0
function request()
  i = i + 1
  return wrk.format("GET", paths[((i + (offset or 0)) % #paths) + 1])
end
function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    'RESULT {"requests": %d, "duration_us": %d, "p50_us": %d, "p99_us": %d, "max_us": %d, ' ..
    '"mean_us": %.1f, "non_2xx": %d, "connect": %d, "read": %d, "write": %d, "timeout": %d}\n',
    summary.requests, summary.duration, latency:percentile(50), latency:percentile(99),
    latency.max, latency.mean, e.status, e.connect, e.read, e.write, e.timeout))
end
"""


# -- small helpers ---------------------------------------------------------------------------
def log(message: str) -> None:
    stamp = dt.datetime.now(dt.timezone.utc).strftime("%H:%M:%S")
    print(f"[live {stamp}] {message}", file=sys.stderr, flush=True)


def proc_status(pid: int | str = "self") -> dict[str, float]:
    """VmRSS, VmHWM, RssAnon, RssFile of a process, in MiB (Linux /proc)."""
    out: dict[str, float] = {}
    with open(f"/proc/{pid}/status", encoding="ascii") as handle:
        for line in handle:
            key, _, value = line.partition(":")
            if key in ("VmRSS", "VmHWM", "RssAnon", "RssFile", "RssShmem", "VmSize"):
                out[key] = round(int(value.split()[0]) / 1024, 1)
    return out


def cpu_seconds(pid: int) -> float:
    with open(f"/proc/{pid}/stat", encoding="ascii") as handle:
        fields = handle.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def stats(seconds: list[float]) -> dict[str, Any]:
    """n, p50, p99, max, mean, first (milliseconds) of a list of durations in seconds."""
    if not seconds:
        return {"n": 0}
    ms = np.asarray(seconds) * 1000
    return {
        "n": len(ms),
        "p50_ms": round(float(np.percentile(ms, 50)), 3),
        "p99_ms": round(float(np.percentile(ms, 99)), 3),
        "max_ms": round(float(ms.max()), 3),
        "mean_ms": round(float(ms.mean()), 3),
        "first_ms": round(float(ms[0]), 3),
    }


def descendants() -> set[str]:
    """Pids of this process and all its descendants (the benchmark's own processes)."""
    children: dict[str, list[str]] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            ppid = (entry / "stat").read_text().rsplit(")", 1)[1].split()[1]
        except (OSError, IndexError):
            continue
        children.setdefault(ppid, []).append(entry.name)
    out, todo = set(), [str(os.getpid())]
    while todo:
        pid = todo.pop()
        out.add(pid)
        todo.extend(children.get(pid, []))
    return out


def machine_state(mine: bool = False) -> dict[str, Any]:
    """Load averages and the busiest processes other than this benchmark's (other jobs).

    ``ps`` %CPU is the CPU time over each process's lifetime; the processes listed
    used at least 5% of a core on that measure.
    """
    ps = subprocess.run(
        ["ps", "-eo", "pid,pcpu,rss,etime,args", "--sort=-pcpu"],
        capture_output=True,
        text=True,
        check=False,
    ).stdout.splitlines()
    me = descendants() if mine else {str(os.getpid())}
    busy = []
    for line in ps[1:]:
        parts = line.split(None, 4)
        if len(parts) < 5 or parts[0] in me:
            continue
        try:
            if float(parts[1]) < 5.0:
                continue
        except ValueError:
            continue
        busy.append(
            f"{parts[0]} {parts[1]}% rss={int(parts[2]) // 1024}MiB up={parts[3]} {parts[4][:140]}"
        )
    return {
        "utc": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
        "loadavg": [round(x, 2) for x in os.getloadavg()],
        "busy_processes": busy[:8],
    }


class MachineSampler:
    """Every ``every`` seconds, the 1-minute load average and the other busy processes."""

    def __init__(self, every: float = 15.0) -> None:
        self.samples: list[dict[str, Any]] = []
        self.every = every
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self) -> None:
        while not self.stop.wait(self.every):
            self.samples.append(machine_state(mine=True))

    def summary(self) -> dict[str, Any]:
        self.stop.set()
        loads = [x["loadavg"][0] for x in self.samples]
        others: dict[str, int] = {}
        for x in self.samples:
            for line in x["busy_processes"]:
                cmd = line.split(" ", 4)[-1][:100]
                others[cmd] = others.get(cmd, 0) + 1
        return {
            "samples": len(loads),
            "load1_min": min(loads, default=None),
            "load1_median": float(np.median(loads)) if loads else None,
            "load1_max": max(loads, default=None),
            "other_busy_processes_seen": dict(sorted(others.items(), key=lambda kv: -kv[1])[:10]),
        }


def code_info() -> dict[str, Any]:
    """Which relatedcontent this interpreter imports, and its git commit when it has one."""
    out = subprocess.run(
        [
            sys.executable,
            "-c",
            "import relatedcontent, json; "
            "print(json.dumps([relatedcontent.__file__, relatedcontent.__version__]))",
        ],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    path, version = json.loads(out)
    src = Path(path).resolve().parent
    info: dict[str, Any] = {"module": str(src), "version": version}
    try:
        top = subprocess.run(
            ["git", "-C", str(src), "rev-parse", "--show-toplevel"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
        info["commit"] = subprocess.run(
            ["git", "-C", top, "rev-parse", "HEAD"], capture_output=True, text=True, check=True
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "-C", top, "status", "--porcelain", "--", "src"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
        info["src_dirty"] = bool(dirty)
    except (subprocess.CalledProcessError, FileNotFoundError):
        pass
    return info


def limit_address_space(mib: float) -> None:
    """Cap this process's address space (RLIMIT_AS): past it, allocations raise MemoryError.

    On a shared machine this turns a runaway allocation into a recorded MemoryError
    instead of the kernel's OOM killer picking a process (maybe another job's).
    """
    limit = int(mib * 2**20)
    resource.setrlimit(resource.RLIMIT_AS, (limit, limit))


def run_worker(args: list[str], timeout: float | None = None) -> dict[str, Any]:
    """Run this script's worker ``args`` in a fresh interpreter; return its JSON result."""
    with tempfile.TemporaryDirectory(prefix="rc-live-") as tmp:
        out = Path(tmp) / "result.json"
        proc = subprocess.run(
            [sys.executable, str(Path(__file__).resolve()), "_worker", *args, "--out", str(out)],
            stdin=subprocess.DEVNULL,
            timeout=timeout,
            check=False,
        )
        if proc.returncode != 0:
            msg = f"worker {args[:1]} failed with exit status {proc.returncode}"
            raise RuntimeError(msg)
        return json.loads(out.read_text(encoding="utf-8"))


def dir_bytes(path: Path) -> int:
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())


def live_snapshot(index: Path) -> Path:
    current = index / "CURRENT"
    if current.is_file():
        return index / current.read_text(encoding="utf-8").strip()
    return index


# -- the corpus -------------------------------------------------------------------------------
def read_pypi() -> list[dict[str, Any]]:
    """All package summaries in the seeded order of ``same_lists.py`` (copied, not imported)."""
    with gzip.open(PYPI, "rt", encoding="utf-8") as handle:
        records = [json.loads(line) for line in handle if line.strip()]
    random.Random(0).shuffle(records)
    return [{"id": r["id"], "title": r["title"], "body": r["body"]} for r in records]


def make_inputs(
    records: list[dict[str, Any]], size: int, ops: int, seed: int, server_writes: int
) -> dict[str, Any]:
    """Everything the operations of one size need, picked with ``seed`` from the records."""
    rng = random.Random(seed * 1_000_003 + size)
    indexed = records[:size]
    spare = records[size:]
    extra = ops + 20  # a few more than needed (profiles, warm-ups)
    # disjoint rows for the reads, the changes and the server
    n_server = max(1, min(5000, size - 9 * extra - 3 * server_writes))
    picks = rng.sample(range(size), 9 * extra + n_server + 3 * server_writes)
    chunks: dict[str, list[int]] = {}
    at = 0
    for name, count in (
        ("n5", extra),
        ("n20", extra),
        ("exclude", extra),
        ("exclude_other", extra),
        ("n50", extra),
        ("draft", extra),
        ("update", extra),
        ("remove", extra),
        ("update_text", extra),
        ("server", n_server),
        ("server_update", server_writes),
        ("server_delete", server_writes),
        ("server_text", server_writes),
    ):
        chunks[name] = picks[at : at + count]
        at += count

    def ids(name: str) -> list[Any]:
        return [indexed[i]["id"] for i in chunks[name]]

    n_new = extra + server_writes
    if len(spare) >= n_new:
        new_rows = rng.sample(range(len(spare)), n_new)
        new = [dict(spare[i]) for i in new_rows]
        new_source = "unseen records (after the first N of the shuffled corpus)"
    else:
        new = []
        for k in range(n_new):
            a, b = rng.sample(range(size), 2)
            new.append(
                {
                    "id": f"live-bench-new-{k}",
                    "title": indexed[a]["title"],
                    "body": indexed[b]["body"],
                }
            )
        new_source = "one random record's title + another's body, new ids"
    texts = [indexed[i] for i in chunks["update_text"]]
    server_texts = [indexed[i] for i in chunks["server_text"]]
    return {
        "size": size,
        "seed": seed,
        "n5": ids("n5"),
        "n20": ids("n20"),
        "exclude": list(zip(ids("exclude"), ids("exclude_other"), strict=True)),
        "n50": ids("n50"),
        "drafts": [
            {"title": indexed[i]["title"], "body": indexed[i]["body"][:DRAFT_CHARS]}
            for i in chunks["draft"]
        ],
        "new": new[:extra],
        "new_source": new_source,
        "update": [
            {"id": i, "title": t["title"], "body": t["body"]}
            for i, t in zip(ids("update"), texts, strict=True)
        ],
        "remove": ids("remove"),
        "server_ids": ids("server"),
        "server_new": new[extra:],
        "server_update": [
            {"id": i, "title": t["title"], "body": t["body"]}
            for i, t in zip(ids("server_update"), server_texts, strict=True)
        ],
        "server_delete": ids("server_delete"),
    }


# -- workers (each in its own interpreter) ------------------------------------------------------
def worker_prep(a: argparse.Namespace) -> dict[str, Any]:
    """Read the corpus once; write each size's inputs file (and the records of a build)."""
    t0 = time.perf_counter()
    records = read_pypi()
    read_s = time.perf_counter() - t0
    out = {"read_s": round(read_s, 1), "records": len(records), "sizes": {}}
    for size, path in zip(a.sizes, a.paths, strict=True):
        inputs = make_inputs(records, size, a.ops, a.seed, a.server_writes)
        Path(path).write_text(json.dumps(inputs), encoding="utf-8")
        out["sizes"][str(size)] = path
    return out


def worker_build(a: argparse.Namespace) -> dict[str, Any]:
    """Fit the first ``size`` shuffled records (defaults, 2 jobs) and save the index."""
    from relatedcontent import RelatedContent

    t0 = time.perf_counter()
    records = read_pypi()[: a.size]
    read_s = time.perf_counter() - t0
    capture = io.StringIO()
    t1 = time.perf_counter()
    with warnings.catch_warnings(), contextlib.redirect_stderr(capture):
        warnings.simplefilter("ignore")  # empty summaries are expected in this corpus
        model = RelatedContent(n_neighbors=10, n_jobs=2, verbose=True).fit(records)
    fit_s = time.perf_counter() - t1
    del records
    gc.collect()
    index = Path(a.index)
    if index.exists():
        shutil.rmtree(index)
    t2 = time.perf_counter()
    model.save(index)
    save_s = time.perf_counter() - t2
    return {
        "read_s": round(read_s, 1),
        "fit_s": round(fit_s, 1),
        "save_s": round(save_s, 1),
        "stages": stage_lines(capture.getvalue()),
        "peak": proc_status(),
    }


def stage_lines(text: str) -> list[list[Any]]:
    """The fit's ``verbose`` stage lines as [seconds since the start, message]."""
    out = []
    for line in text.replace("\r", "\n").splitlines():
        m = re.match(r"\s*fit \+\s*([\d.]+)s: (.*)", line)
        if m:
            out.append([float(m.group(1)), m.group(2)])
    return out


def worker_load(a: argparse.Namespace) -> dict[str, Any]:
    """Cold load in this fresh interpreter: import, load(mmap=True), RSS, first related()."""
    before = proc_status()
    t0 = time.perf_counter()
    import relatedcontent

    t1 = time.perf_counter()
    profiler = cProfile.Profile() if a.profile else None
    if profiler:
        profiler.enable()
    model = relatedcontent.load(a.index, mmap=True, verify=not a.no_verify)
    if profiler:
        profiler.disable()
    t2 = time.perf_counter()
    after = proc_status()
    first_id = a.first_id
    t3 = time.perf_counter()
    model.related(first_id, n=5)
    t4 = time.perf_counter()
    if profiler:
        write_profile(profiler, Path(a.profile), "load(mmap=True)")
    return {
        "import_s": t1 - t0,
        "load_s": t2 - t1,
        "first_related_s": t4 - t3,
        "rss_before_import": before,
        "rss_after_load": after,
        "rss_after_first": proc_status(),
        "articles": len(model),
    }


def write_profile(profiler: cProfile.Profile, path: Path, title: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    profiler.dump_stats(str(path.with_suffix(".prof")))
    text = io.StringIO()
    text.write(f"# {title}\n\n## by cumulative time\n")
    pstats.Stats(profiler, stream=text).strip_dirs().sort_stats("cumulative").print_stats(30)
    text.write("\n## by own time\n")
    pstats.Stats(profiler, stream=text).strip_dirs().sort_stats("tottime").print_stats(20)
    path.with_suffix(".txt").write_text(text.getvalue(), encoding="utf-8")


class Timer:
    """Time single operations until ``count`` or the time budget runs out."""

    def __init__(self, budget: float, min_ops: int) -> None:
        self.budget = budget
        self.min_ops = min_ops

    def run(
        self,
        name: str,
        calls: list[Any],
        labels: list[Any] | None = None,
        on_failure: Any = None,
    ) -> dict[str, Any]:
        """Time ``calls`` one by one.

        A MemoryError is recorded and left out of the figures; then ``on_failure()``
        (e.g. a fresh load, as the failed change may be half-done) and the next call,
        or the end of the run when there is no ``on_failure``.
        """
        gc.collect()
        times: list[float] = []
        failures: list[dict[str, Any]] = []
        spent = 0.0
        for k, call in enumerate(calls):
            failure = None
            t = time.perf_counter()
            try:
                call()
            except MemoryError as exc:
                failure = memory_failure(k, labels[k] if labels else None, t, exc)
            d = time.perf_counter() - t
            if failure is not None:
                failures.append(failure)
                log(f"  {name}: {failure['message']}")
                if on_failure is None:
                    break
                on_failure()  # outside the except block, whose traceback holds big arrays
                continue
            times.append(d)
            spent += d
            if spent > self.budget and len(times) >= self.min_ops:
                break
        out = stats(times)
        out["capped"] = len(times) + len(failures) < len(calls)
        out["planned"] = len(calls)
        out["total_s"] = round(spent, 2)
        out["failures"] = failures
        log(f"  {name}: {format_stats(out)}")
        return out


def memory_failure(k: int, label: Any, started: float, exc: BaseException) -> dict[str, Any]:
    """What to record when operation ``k`` raised MemoryError (the address-space limit)."""
    after = time.perf_counter() - started
    gc.collect()
    limit = resource.getrlimit(resource.RLIMIT_AS)[0]
    limit_mib = None if limit == resource.RLIM_INFINITY else limit // 2**20
    return {
        "op": k,
        "id": label,
        "after_s": round(after, 2),
        "error": str(exc)[:300],
        "rlimit_as_mib": limit_mib,
        "message": f"MemoryError at operation {k + 1} ({label!r}) after {after:.1f} s "
        f"(address-space limit {limit_mib} MiB): {str(exc)[:160]}",
    }


def format_stats(s: dict[str, Any]) -> str:
    if not s.get("n"):
        return "no ops"
    return (
        f"n={s['n']} p50={s['p50_ms']:.2f} ms p99={s['p99_ms']:.2f} ms "
        f"max={s['max_ms']:.2f} ms first={s['first_ms']:.2f} ms"
    )


def worker_ops(a: argparse.Namespace) -> dict[str, Any]:
    """The API operations of one size on mmap-loaded models."""
    from relatedcontent import load

    inputs = json.loads(Path(a.inputs).read_text(encoding="utf-8"))
    ops = a.ops
    timer = Timer(a.op_budget, a.min_ops)
    prof_dir = Path(a.profile) if a.profile else None
    results: dict[str, Any] = {"new_source": inputs["new_source"]}
    rss: dict[str, Any] = {}

    # -- reads
    t = time.perf_counter()
    model = load(a.index, mmap=True)
    results["load_in_worker_s"] = round(time.perf_counter() - t, 3)
    rss["after_load"] = proc_status()
    log(f"size {len(model):,}: reads")
    results["related_n5"] = timer.run(
        "related n=5", [lambda i=i: model.related(i, n=5) for i in inputs["n5"][:ops]]
    )
    results["related_n20"] = timer.run(
        "related n=20", [lambda i=i: model.related(i, n=20) for i in inputs["n20"][:ops]]
    )
    results["related_exclude"] = timer.run(
        "related n=5 exclude",
        [lambda i=i, o=o: model.related(i, n=5, exclude=[o]) for i, o in inputs["exclude"][:ops]],
    )
    results["related_n50"] = timer.run(
        "related n=50", [lambda i=i: model.related(i, n=50) for i in inputs["n50"][:ops]]
    )
    results["similar"] = timer.run(
        "similar(draft)", [lambda d=d: model.similar(d, n=5) for d in inputs["drafts"][:ops]]
    )
    rss["after_reads"] = proc_status()
    if prof_dir:
        spare = inputs["n20"][ops:]
        profile_call(
            lambda: model.related(spare[0], n=20),
            prof_dir / f"{a.size}-related-n20",
            "related(id, n=20)",
        )
        profile_call(
            lambda: model.similar(inputs["drafts"][ops], n=5),
            prof_dir / f"{a.size}-similar",
            "similar(draft)",
        )
    model = None
    gc.collect()

    def phase_changes() -> None:
        nonlocal model
        log("changes")
        model = load(a.index, mmap=True)
        rss["before_changes"] = proc_status()
        new = inputs["new"]
        spare_new = list(new[ops + 1 :])
        t = time.perf_counter()
        model.add([new[0]])
        results["first_change_add_s"] = round(time.perf_counter() - t, 4)
        rss["after_first_change"] = proc_status()
        log(f"  first change after load (add): {results['first_change_add_s'] * 1000:.1f} ms")

        reloads = []

        def reload_after_failure() -> None:
            """A MemoryError may leave a change half-done: load again, warm up with an add.

            The changes made before stay out of the fresh load: replaying them would cost as
            much again.
            """
            nonlocal model
            t = time.perf_counter()
            model = None
            gc.collect()
            model = load(a.index, mmap=True)
            model.add([spare_new.pop()])  # untimed: the first change after a load grows arrays
            reloads.append(round(time.perf_counter() - t, 2))

        adds = new[1 : ops + 1]
        results["add"] = timer.run(
            "add",
            [lambda r=r: model.add([r]) for r in adds],
            [r["id"] for r in adds],
            reload_after_failure,
        )
        updates = inputs["update"][:ops]
        results["update"] = timer.run(
            "update",
            [lambda r=r: model.update([r]) for r in updates],
            [r["id"] for r in updates],
            reload_after_failure,
        )
        removes = inputs["remove"][:ops]
        results["remove"] = timer.run(
            "remove", [lambda i=i: model.remove(i) for i in removes], removes, reload_after_failure
        )
        results["reloads_after_failures_s"] = reloads
        rss["after_changes"] = proc_status()
        model = None
        gc.collect()

    def phase_hubs() -> None:
        nonlocal model
        log("hubs")
        model = load(a.index, mmap=True)
        neighbors = np.asarray(model.neighbors_)
        counts = np.bincount(neighbors[neighbors >= 0].ravel(), minlength=neighbors.shape[0])
        order = np.argsort(-counts, kind="stable")
        ids = model.ids_
        hubs = [(ids[int(r)], int(counts[r])) for r in order[: N_HUBS + 1]]
        pool_idx = getattr(model, "pool_idx_", None)
        if pool_idx is not None:
            pools = np.asarray(pool_idx)
            in_pools = np.bincount(pools[pools >= 0].ravel(), minlength=pools.shape[0])
            results["hub_pools"] = [int(in_pools[r]) for r in order[:N_HUBS]]
            results["pool_count_p50_p99_max"] = [
                float(np.median(in_pools)),
                float(np.percentile(in_pools, 99)),
                int(in_pools.max()),
            ]
            del pools, in_pools
        results["hub_counts"] = [c for _, c in hubs[:N_HUBS]]
        results["hub_ids"] = [h for h, _ in hubs[:N_HUBS]]
        results["listed_share"] = {
            "median_count": float(np.median(counts)),
            "p99_count": float(np.percentile(counts, 99)),
        }
        del neighbors, counts
        spare_remove = list(inputs["remove"][ops:])
        t = time.perf_counter()
        model.remove(spare_remove.pop())
        results["hub_warmup_remove_s"] = round(time.perf_counter() - t, 4)
        hub_times: list[float] = []
        hub_failures: list[dict[str, Any]] = []
        spent = 0.0
        for k, (hub, count) in enumerate(hubs[:N_HUBS]):
            failure = None
            t = time.perf_counter()
            try:
                model.remove(hub)
            except MemoryError as exc:
                failure = memory_failure(k, hub, t, exc)
            d = time.perf_counter() - t
            if failure is None:
                hub_times.append(d)
                spent += d
                log(f"  remove hub {hub!r} (in {count} lists): {d * 1000:.1f} ms")
            else:
                # reload outside the except block, whose traceback holds the failed change's arrays
                hub_failures.append(failure)
                spent += failure["after_s"]
                log(f"  remove hub {hub!r} (in {count} lists): {failure['message']}")
                model = None
                gc.collect()
                model = load(a.index, mmap=True)  # the failed change may be half-done
                model.remove(spare_remove.pop())  # untimed warm-up, as before the first hub
                # (the hubs removed before stay in this fresh load: replaying their removals
                # would cost as much again)
            if spent > a.hub_budget and len(hub_times) + len(hub_failures) >= 3:
                break
        results["remove_hub"] = stats(hub_times)
        results["remove_hub"]["capped"] = len(hub_times) + len(hub_failures) < N_HUBS
        results["remove_hub"]["planned"] = N_HUBS
        results["remove_hub"]["each_ms"] = [round(x * 1000, 2) for x in hub_times]
        results["remove_hub"]["failures"] = hub_failures
        if prof_dir and not hub_failures:
            hub, count = hubs[N_HUBS]
            profile_call(
                lambda: model.remove(hub),
                prof_dir / f"{a.size}-remove-hub",
                f"remove({hub!r}), in {count} stored lists",
            )

    # -- single changes on a fresh mmap load, then the most-listed articles on another;
    # an unexpected error ends its phase and is recorded, the next phase still runs
    for phase, fn in (("changes", phase_changes), ("hubs", phase_hubs)):
        try:
            fn()
        except Exception as exc:  # noqa: BLE001 - recorded and reported
            results[f"{phase}_error"] = f"{type(exc).__name__}: {exc}"[:500]
            log(f"  {phase} stopped: {results[phase + '_error']}")
        model = None
        gc.collect()
    results["rss"] = rss
    return results


def profile_call(call: Any, path: Path, title: str) -> None:
    profiler = cProfile.Profile()
    t = time.perf_counter()
    profiler.enable()
    try:
        call()
    except MemoryError as exc:
        title += f" - MemoryError: {str(exc)[:120]}"
    finally:
        profiler.disable()
    log(f"  profiled {title}: {(time.perf_counter() - t) * 1000:.1f} ms under cProfile -> {path}")
    write_profile(profiler, path, f"{title} ({(time.perf_counter() - t) * 1000:.0f} ms)")


def worker_related_all(a: argparse.Namespace) -> dict[str, Any]:
    """related_all(n=15) on 20 Newsgroups (keeps 10) against the build's list stage."""
    from relatedcontent import RelatedContent, load, read_articles

    articles = list(read_articles(NEWSGROUPS))
    capture = io.StringIO()
    t = time.perf_counter()
    with warnings.catch_warnings(), contextlib.redirect_stderr(capture):
        warnings.simplefilter("ignore")
        model = RelatedContent(n_neighbors=10, n_jobs=2, verbose=True).fit(articles)
    fit_s = time.perf_counter() - t
    stages = stage_lines(capture.getvalue())
    last = stages[-1][0] if stages else None
    index = Path(a.index)
    if index.exists():
        shutil.rmtree(index)
    model.save(index)
    del model
    gc.collect()
    model = load(index, mmap=True)
    n_articles = len(model)
    out: dict[str, Any] = {
        "articles": n_articles,
        "fit_s": round(fit_s, 2),
        "stages": stages,
        "list_stage_s": round(fit_s - last, 2) if last is not None else None,
        "list_stage_from": stages[-1][1] if stages else None,
    }
    for n, cap in ((10, None), (5, None), (15, a.related_all_cap)):
        times: list[float] = []
        spent = 0.0
        it = model.related_all(n=n)
        while True:
            t = time.perf_counter()
            try:
                next(it)
            except StopIteration:
                break
            d = time.perf_counter() - t
            times.append(d)
            spent += d
            if cap is not None and len(times) >= cap:
                break
        s = stats(times)
        s["lists"] = len(times)
        s["total_s"] = round(spent, 2)
        s["extrapolated_total_s"] = round(spent / len(times) * n_articles, 1)
        s["complete"] = len(times) == n_articles
        out[f"n{n}"] = s
        log(
            f"  related_all(n={n}): {len(times)} lists in {spent:.1f}s, "
            f"mean {spent / len(times) * 1000:.2f} ms/list, all {n_articles}: "
            f"{s['extrapolated_total_s']} s"
        )
    # related_all yields lists in index order (20 Newsgroups: grouped by newsgroup), so a
    # capped run samples one group; the same lists for random articles extrapolate better
    if not out["n15"]["complete"]:
        ids = model.ids_
        sample = random.Random(a.seed).sample(range(n_articles), min(a.related_all_cap, n_articles))
        times = []
        for i in sample:
            t = time.perf_counter()
            model.related(ids[i], n=15)
            times.append(time.perf_counter() - t)
        s = stats(times)
        s["lists"] = len(times)
        s["total_s"] = round(sum(times), 2)
        s["extrapolated_total_s"] = round(sum(times) / len(times) * n_articles, 1)
        s["complete"] = False
        out["n15_random"] = s
        log(
            f"  related(n=15) for {len(times)} random articles: mean "
            f"{sum(times) / len(times) * 1000:.2f} ms, all {n_articles}: "
            f"{s['extrapolated_total_s']} s"
        )
    return out


def worker_main(argv: list[str]) -> int:
    p = argparse.ArgumentParser(prog="live.py _worker")
    p.add_argument("kind", choices=("prep", "build", "load", "ops", "related_all"))
    p.add_argument("--out", required=True)
    p.add_argument("--index")
    p.add_argument("--inputs")
    p.add_argument("--size", type=int)
    p.add_argument("--sizes", type=lambda s: [int(x) for x in s.split(",")])
    p.add_argument("--paths", type=lambda s: s.split(","))
    p.add_argument("--ops", type=int, default=200)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--server-writes", type=int, default=20)
    p.add_argument("--op-budget", type=float, default=120)
    p.add_argument("--hub-budget", type=float, default=600)
    p.add_argument("--min-ops", type=int, default=20)
    p.add_argument("--no-verify", action="store_true")
    p.add_argument("--first-id")
    p.add_argument("--profile")
    p.add_argument("--related-all-cap", type=int, default=300)
    p.add_argument("--max-vm", type=float, default=0)
    a = p.parse_args(argv)
    if a.max_vm:
        limit_address_space(a.max_vm)
    fn = {
        "prep": worker_prep,
        "build": worker_build,
        "load": worker_load,
        "ops": worker_ops,
        "related_all": worker_related_all,
    }[a.kind]
    result = fn(a)
    Path(a.out).write_text(json.dumps(result, default=str), encoding="utf-8")
    return 0


# -- the server ---------------------------------------------------------------------------------
def start_server(
    index: Path, max_vm: float = 0
) -> tuple[subprocess.Popen, str, float, float, list[str]]:
    """Start ``relatedcontent serve``; return process, URL, seconds to announce, to /health."""
    import httpx

    env = {**os.environ, "RELATEDCONTENT_TOKEN": TOKEN}
    command = [
        sys.executable,
        "-m",
        "relatedcontent",
        "serve",
        str(index),
        "--host",
        "127.0.0.1",
        "--port",
        "0",
        "--log-level",
        "warning",
    ]
    t0 = time.perf_counter()
    process = subprocess.Popen(
        command,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
        preexec_fn=(lambda: limit_address_space(max_vm)) if max_vm else None,
    )
    lines: list[str] = []
    base = None
    while base is None:
        line = process.stderr.readline()
        if not line:
            process.kill()
            raise RuntimeError("the server exited before listening:\n" + "".join(lines))
        lines.append(line)
        m = ANNOUNCE.search(line)
        if m:
            base = m.group(1)
    announced = time.perf_counter() - t0

    def drain() -> None:
        for line in iter(process.stderr.readline, ""):
            lines.append(line)

    threading.Thread(target=drain, daemon=True).start()
    while True:
        try:
            if httpx.get(base + "health", timeout=5).status_code == 200:
                break
        except httpx.TransportError:
            pass
        if time.perf_counter() - t0 > 900:
            process.kill()
            raise RuntimeError("the server does not answer /health")
        time.sleep(0.02)
    return process, base, announced, time.perf_counter() - t0, lines


def wrk_command(
    base: str, listing: Path, script: Path, connections: int, seconds: float
) -> list[str]:
    return [
        "wrk",
        "-t",
        "1",
        "-c",
        str(connections),
        "-d",
        f"{int(seconds)}s",
        "--timeout",  # wrk's default, 2 s, would count slower answers as errors, not latencies
        "60s",
        "--latency",
        "-s",
        str(script),
        base,
    ]


def parse_wrk(stdout: str) -> dict[str, Any]:
    line = next(li for li in stdout.splitlines() if li.startswith("RESULT "))
    data = json.loads(line[len("RESULT ") :])
    secs = data["duration_us"] / 1e6
    return {
        "client": "wrk",
        "requests": data["requests"],
        "seconds": round(secs, 2),
        "rps": round(data["requests"] / secs, 1),
        "p50_ms": round(data["p50_us"] / 1000, 2),
        "p99_ms": round(data["p99_us"] / 1000, 2),
        "max_ms": round(data["max_us"] / 1000, 2),
        "errors": data["non_2xx"]
        + data["connect"]
        + data["read"]
        + data["write"]
        + data["timeout"],
        "error_kinds": {k: data[k] for k in ("non_2xx", "connect", "read", "write", "timeout")},
    }


async def httpx_load(
    base: str,
    paths: list[str],
    concurrency: int,
    seconds: float,
    stop: threading.Event | None = None,
) -> dict[str, Any]:
    import httpx

    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    lat: list[float] = []
    errors = 0
    async with httpx.AsyncClient(base_url=base, limits=limits, timeout=120) as client:
        deadline = time.perf_counter() + seconds

        async def worker(k: int) -> None:
            nonlocal errors
            i = k
            while time.perf_counter() < deadline and not (stop and stop.is_set()):
                t = time.perf_counter()
                r = await client.get(paths[i % len(paths)])
                lat.append(time.perf_counter() - t)
                errors += r.status_code != 200
                i += concurrency

        t0 = time.perf_counter()
        await asyncio.gather(*(worker(k) for k in range(concurrency)))
        elapsed = time.perf_counter() - t0
    ms = np.asarray(lat) * 1000
    return {
        "client": "httpx",
        "requests": len(lat),
        "seconds": round(elapsed, 2),
        "rps": round(len(lat) / elapsed, 1),
        "p50_ms": round(float(np.percentile(ms, 50)), 2),
        "p99_ms": round(float(np.percentile(ms, 99)), 2),
        "max_ms": round(float(ms.max()), 2),
        "errors": errors,
    }


class ReadLoad:
    """A background read load (wrk, or httpx in a thread) over ``paths``."""

    def __init__(
        self, client: str, base: str, paths: list[str], connections: int, seconds: float, tmp: Path
    ) -> None:
        self.client = client
        self.result: dict[str, Any] | None = None
        if client == "wrk":
            script = tmp / "paths.lua"
            script.write_text(WRK_SCRIPT, encoding="utf-8")
            listing = tmp / "paths.txt"
            listing.write_text("\n".join("/" + p for p in paths) + "\n", encoding="utf-8")
            self.proc = subprocess.Popen(
                wrk_command(base, listing, script, connections, seconds),
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
                env={**os.environ, "RC_PATHS": str(listing)},
            )
        else:
            self.stop = threading.Event()

            def run() -> None:
                self.result = asyncio.run(httpx_load(base, paths, connections, seconds, self.stop))

            self.thread = threading.Thread(target=run, daemon=True)
            self.thread.start()

    def wait(self) -> dict[str, Any]:
        if self.client == "wrk":
            out, err = self.proc.communicate(timeout=3600)
            if self.proc.returncode != 0:
                raise RuntimeError(f"wrk failed: {err}")
            return parse_wrk(out)
        self.thread.join()
        assert self.result is not None
        return self.result

    def finish(self) -> dict[str, Any]:
        """Stop the load now (wrk prints its summary on SIGINT) and return its figures."""
        if self.client == "wrk":
            if self.proc.poll() is None:
                self.proc.send_signal(signal.SIGINT)
        else:
            self.stop.set()
        return self.wait()

    def cancel(self) -> None:
        if self.client == "wrk":
            if self.proc.poll() is None:
                self.proc.terminate()
                self.proc.wait(timeout=30)
        else:
            self.stop.set()
            self.thread.join(timeout=60)


def related_path(article_id: Any, n: int = 5) -> str:
    return f"related/{quote(str(article_id), safe='')}?n={n}"


def server_benchmark(index: Path, inputs: dict[str, Any], a: argparse.Namespace) -> dict[str, Any]:
    import httpx

    client = a.client
    if client == "auto":
        client = "wrk" if shutil.which("wrk") else "httpx"
    if client == "wrk" and not shutil.which("wrk"):
        log("wrk is not installed (apt-get install wrk); using httpx")
        client = "httpx"
    out: dict[str, Any] = {"client": client}
    paths = [related_path(i) for i in inputs["server_ids"]]
    with tempfile.TemporaryDirectory(prefix="rc-live-serve-", dir=a.tmp_dir) as tmp_name:
        tmp = Path(tmp_name)
        served = tmp / "index"
        t = time.perf_counter()
        shutil.copytree(index, served)
        out["copy_index_s"] = round(time.perf_counter() - t, 1)
        process, base, announced, up, lines = start_server(served, a.max_vm)
        try:
            out["announce_s"] = round(announced, 2)
            out["startup_to_health_s"] = round(up, 2)
            out["rss_after_start"] = proc_status(process.pid)
            log(f"server up: announced after {announced:.1f}s, /health after {up:.1f}s")
            first = httpx.get(base + paths[0], timeout=120)
            out["first_get_status"] = first.status_code
            # a short warm-up, not measured
            warm = ReadLoad(client, base, paths, 8, 3, tmp)
            warm.wait()
            reads = []
            for connections, seconds in ((32, a.server_seconds), (1, a.server_seconds / 2)):
                cpu0 = cpu_seconds(process.pid)
                r = ReadLoad(client, base, paths, connections, seconds, tmp).wait()
                r["connections"] = connections
                r["server_cpu_ms_per_request"] = round(
                    (cpu_seconds(process.pid) - cpu0) / max(r["requests"], 1) * 1000, 3
                )
                reads.append(r)
                log(
                    f"  GET /related/ID?n=5, {connections} connections: {r['rps']} req/s, "
                    f"p50 {r['p50_ms']} ms, p99 {r['p99_ms']} ms, errors {r['errors']}"
                )
            out["reads"] = reads
            out["rss_after_reads"] = proc_status(process.pid)
            out["writes"] = server_writes(base, inputs, a, client, paths, tmp, process.pid)
            out["rss_after_writes"] = proc_status(process.pid)
        finally:
            process.terminate()
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(timeout=30)
        out["server_log_tail"] = [li.rstrip() for li in lines[-5:]]
    return out


def server_writes(
    base: str,
    inputs: dict[str, Any],
    a: argparse.Namespace,
    client: str,
    paths: list[str],
    tmp: Path,
    pid: int,
) -> dict[str, Any]:
    """Writes one at a time during a read load; latency and time until readers see them."""
    headers = {"Authorization": f"Bearer {TOKEN}"}
    plan: list[tuple[str, Any]] = []
    for k in range(a.server_writes):
        plan.append(("put_new", inputs["server_new"][k]))
        plan.append(("put_existing", inputs["server_update"][k]))
        plan.append(("delete", inputs["server_delete"][k]))
    times: dict[str, list[float]] = {"put_new": [], "put_existing": [], "delete": []}
    visible: dict[str, list[float]] = {"put_new": [], "put_existing": [], "delete": []}
    polls: dict[str, list[int]] = {"put_new": [], "put_existing": [], "delete": []}
    load = ReadLoad(client, base, paths, 32, a.write_seconds, tmp)
    time.sleep(2)  # let the load settle
    started = time.perf_counter()
    try:
        stopped = run_writes(
            base, headers, plan, a.write_seconds, started, times, visible, polls, pid, a.max_rss
        )
    except BaseException:
        load.cancel()
        raise
    write_span = time.perf_counter() - started
    load_result = load.finish()  # the read figures cover the writes' span (plus 2 s before)
    out: dict[str, Any] = {
        "planned_writes": len(plan),
        "stopped_early": stopped,
        "write_span_s": round(write_span, 1),
        "reads_during": load_result,
        "server_peak_rss_mib": proc_status(pid)["VmHWM"],
    }
    for kind in times:
        out[kind] = stats(times[kind])
        out[f"{kind}_visible"] = stats(visible[kind])
        out[f"{kind}_visible_first_read"] = sum(1 for c in polls[kind] if c == 1)
    log("  writes during reads: " + ", ".join(f"{k} {format_stats(out[k])}" for k in times))
    log(
        f"  reads during writes: {load_result['rps']} req/s, p50 {load_result['p50_ms']} ms, "
        f"p99 {load_result['p99_ms']} ms"
    )
    return out


def run_writes(
    base: str,
    headers: dict[str, str],
    plan: list[tuple[str, Any]],
    seconds: float,
    started: float,
    times: dict[str, list[float]],
    visible: dict[str, list[float]],
    polls: dict[str, list[int]],
    pid: int,
    max_rss: float,
) -> str | None:
    """Send the planned writes one at a time; after each, poll until a reader sees it.

    Stops early (and says why) when the time is up or the server's resident memory
    exceeds ``max_rss`` MiB (a guard for a shared machine).
    """
    import httpx

    with (
        httpx.Client(base_url=base, timeout=3600, headers=headers) as writer,
        httpx.Client(base_url=base, timeout=3600) as reader,
    ):
        for kind, item in plan:
            if time.perf_counter() - started > seconds - 10:
                return "time"
            server_rss = proc_status(pid)["VmRSS"]
            if server_rss > max_rss:
                log(f"  server VmRSS {server_rss:.0f} MiB > {max_rss:.0f}: no more writes")
                return f"server VmRSS {server_rss:.0f} MiB over --max-rss"
            article_id = item["id"] if isinstance(item, dict) else item
            path = related_path(article_id)
            etag = None
            if kind == "put_existing":
                etag = reader.get(path).headers.get("etag")
            quoted = quote(str(article_id), safe="")
            t = time.perf_counter()
            if kind == "delete":
                r = writer.delete(f"articles/{quoted}")
            else:
                body = {"title": item["title"], "body": item["body"]}
                r = writer.put(f"articles/{quoted}", json=body)
            acked = time.perf_counter()
            if r.status_code not in (200, 201):
                failed = f"{kind} {article_id!r} answered {r.status_code} after {acked - t:.1f} s"
                log(f"  {failed}: {r.text[:300]}")
                return failed + ": " + r.text[:300]
            times[kind].append(acked - t)
            count = 0
            while True:
                g = reader.get(path)
                count += 1
                if kind == "put_new" and g.status_code == 200:
                    break
                if kind == "delete" and g.status_code == 404:
                    break
                if (
                    kind == "put_existing"
                    and g.status_code == 200
                    and g.headers.get("etag") != etag
                ):
                    break
                if time.perf_counter() - acked > 120:
                    raise RuntimeError(f"{kind} {article_id!r} not visible after 120 s")
            visible[kind].append(time.perf_counter() - acked)
            polls[kind].append(count)
    return None


# -- the report ---------------------------------------------------------------------------------
def error_text(rd: dict[str, Any]) -> str:
    kinds = {k: v for k, v in (rd.get("error_kinds") or {}).items() if v}
    detail = f" ({', '.join(f'{k} {v}' for k, v in kinds.items())})" if kinds else ""
    return f"{rd['errors']} errors{detail}"


def fmt_ms(value: float | None) -> str:
    if value is None:
        return ""
    if value >= 10_000:
        return f"{value / 1000:.1f} s"
    if value >= 1000:
        return f"{value / 1000:.2f} s"
    if value >= 100:
        return f"{value:.0f} ms"
    if value >= 10:
        return f"{value:.1f} ms"
    return f"{value:.2f} ms"


def table(size: int, r: dict[str, Any], a: argparse.Namespace) -> str:
    rows: list[tuple[str, Any, Any, Any, Any, str]] = []

    def row(name: str, s: dict[str, Any] | None, note: str = "") -> None:
        if not s:
            return
        failures = s.get("failures") or []
        if failures:
            f = failures[0]
            note = (note + "; " if note else "") + (
                f"{len(failures)} MemoryError(s) under the {f['rlimit_as_mib']} MiB "
                f"address-space limit, the first at operation {f['op'] + 1} ({f['id']!r}) "
                f"after {f['after_s']} s; not in the figures"
            )
        if not s.get("n"):
            rows.append((name, "failed", "", "0", "", note))
            return
        n = f"{s['n']}" + (f" of {s['planned']} (budget)" if s.get("capped") else "")
        rows.append(
            (
                name,
                fmt_ms(s.get("p50_ms")),
                fmt_ms(s.get("p99_ms")),
                n,
                fmt_ms(s.get("max_ms")),
                note,
            )
        )

    ld = r.get("load")
    if ld:
        for key, name in (
            ("import", "`import relatedcontent` (fresh process)"),
            ("load_verify", "cold `load(path, mmap=True)` (fresh process)"),
            ("load_noverify", "cold `load(path, mmap=True, verify=False)`"),
            ("first_related", "first `related(n=5)` after the load"),
        ):
            if key in ld:
                row(name, ld[key])
    ops = r.get("ops")
    if ops:
        row("`related(id, n=5)` (stored)", ops["related_n5"])
        row("`related(id, n=20)`", ops["related_n20"])
        row("`related(id, n=5, exclude=[other])`", ops["related_exclude"])
        row("`related(id, n=50)`", ops["related_n50"])
        row("`similar(draft)`, n=5", ops["similar"])
        if "first_change_add_s" in ops:
            rows.append(
                (
                    "first change after an mmap load (`add`)",
                    fmt_ms(ops["first_change_add_s"] * 1000),
                    "",
                    "1",
                    "",
                    "timed alone",
                )
            )
        row("`add` one new article", ops.get("add"))
        row("`update` one article", ops.get("update"))
        row("`remove` one random article", ops.get("remove"))
        if ops.get("changes_error"):
            rows.append(("changes", "stopped", "", "", "", ops["changes_error"][:200]))
        if "remove_hub" in ops:
            hc = ops["hub_counts"]
            row(
                "`remove` one of the 10 most-listed",
                ops["remove_hub"],
                f"in {min(hc)}-{max(hc)} stored lists"
                + (
                    f" and {min(ops['hub_pools'])}-{max(ops['hub_pools'])} candidate pools each"
                    if ops.get("hub_pools")
                    else " each"
                ),
            )
        if ops.get("hubs_error"):
            rows.append(("hub removals", "stopped", "", "", "", ops["hubs_error"][:200]))
    srv = r.get("server")
    if srv:
        rows.append(
            (
                "server start-up until `/health` answers",
                fmt_ms(srv["startup_to_health_s"] * 1000),
                "",
                "1",
                "",
                f"address announced after {srv['announce_s']} s",
            )
        )
        for rd in srv["reads"]:
            rows.append(
                (
                    f"`GET /related/ID?n=5`, {rd['connections']} connection(s) ({rd['client']})",
                    fmt_ms(rd["p50_ms"]),
                    fmt_ms(rd["p99_ms"]),
                    f"{rd['requests']:,}",
                    fmt_ms(rd["max_ms"]),
                    f"{rd['rps']:,.0f} req/s, "
                    f"server CPU {rd['server_cpu_ms_per_request']} ms/request, " + error_text(rd),
                )
            )
        w = srv.get("writes")
        if w:
            rd = w["reads_during"]
            rows.append(
                (
                    "`GET /related/ID?n=5` during the writes, 32 connections",
                    fmt_ms(rd["p50_ms"]),
                    fmt_ms(rd["p99_ms"]),
                    f"{rd['requests']:,}",
                    fmt_ms(rd["max_ms"]),
                    f"{rd['rps']:,.0f} req/s, " + error_text(rd),
                )
            )
            for kind, name in (
                ("put_new", "`PUT /articles/ID` (new) during reads"),
                ("put_existing", "`PUT /articles/ID` (existing) during reads"),
                ("delete", "`DELETE /articles/ID` during reads"),
            ):
                row(name, w[kind])
                vis = w[f"{kind}_visible"]
                row(
                    "  ...acknowledged until a reader sees it",
                    vis,
                    f"{w[f'{kind}_visible_first_read']} of {vis.get('n', 0)} seen by the "
                    "first read",
                )
    head = "| operation | p50 | p99 | n ops | max | note |\n|---|---|---|---|---|---|\n"
    body = "".join(f"| {' | '.join(str(c) for c in rw)} |\n" for rw in rows)
    notes = []
    if ld:
        rss = ld.get("rss_after_load", {})
        notes.append(
            f"Index on disk: {ld['index_mib']:.0f} MiB (live snapshot {ld['snapshot_mib']:.0f} "
            f"MiB). Right after `load(mmap=True)` (median of {ld['load_verify']['n']}): VmRSS "
            f"{rss.get('VmRSS')} MiB (anonymous {rss.get('RssAnon')}, file-backed "
            f"{rss.get('RssFile')}); with verify=False: VmRSS "
            f"{ld.get('rss_after_load_noverify', {}).get('VmRSS')} MiB; before the import "
            f"{ld.get('rss_before_import', {}).get('VmRSS')} MiB."
        )
    if ops:
        rss = {k: v.get("VmRSS") for k, v in ops["rss"].items()}
        notes.append(
            f"Operations worker VmRSS (MiB): after load {rss.get('after_load')}, after the "
            f"reads {rss.get('after_reads')}; changes: before {rss.get('before_changes')}, "
            f"after the first {rss.get('after_first_change')}, after all "
            f"{rss.get('after_changes')}. New articles: {ops['new_source']}."
        )
        if "remove_hub" in ops:
            notes.append(
                f"The 10 most-listed articles: in {ops['hub_counts']} stored lists and "
                f"{ops.get('hub_pools')} candidate pools; removed in "
                f"{ops['remove_hub']['each_ms']} ms, after an untimed warm-up remove "
                f"({ops['hub_warmup_remove_s'] * 1000:.0f} ms). Pool membership of all "
                f"articles (p50, p99, max): {ops.get('pool_count_p50_p99_max')}."
            )
    if srv:
        notes.append(
            f"Server VmRSS: {srv['rss_after_start']['VmRSS']} MiB after start-up, "
            f"{srv['rss_after_reads']['VmRSS']} after reads, {srv['rss_after_writes']['VmRSS']} "
            f"after writes (peak {srv['rss_after_writes']['VmHWM']})."
        )
    if srv and srv.get("writes"):
        w = srv["writes"]
        done = sum(w[k].get("n", 0) for k in ("put_new", "put_existing", "delete"))
        notes.append(
            f"Server writes: {done} of {w['planned_writes']} planned"
            + (f" (stopped: {w['stopped_early']})" if w.get("stopped_early") else "")
            + f", over {w['write_span_s']} s."
        )
    b = r.get("build")
    if b and b.get("built"):
        notes.append(
            f"Built in this run: read {b['read_s']} s, fit {b['fit_s']} s, save "
            f"{b['save_s']} s; peak VmHWM {b['peak'].get('VmHWM')} MiB."
        )
    return (
        f"### {size:,} articles\n\n"
        + head
        + body
        + "\n"
        + "\n".join(f"- {n}" for n in notes)
        + "\n"
    )


def related_all_table(r: dict[str, Any]) -> str:
    lines = [
        f"### `related_all` on 20 Newsgroups ({r['articles']:,} articles, "
        "n_neighbors=10, loaded with mmap)\n",
        "| operation | per list p50 | per list p99 | n lists | total (all lists) | note |",
        "|---|---|---|---|---|---|",
    ]
    for n in (5, 10, 15):
        s = r[f"n{n}"]
        total = (
            f"{s['total_s']} s"
            if s["complete"]
            else f"{s['extrapolated_total_s']} s (extrapolated)"
        )
        lines.append(
            f"| `related_all(n={n})` | {fmt_ms(s['p50_ms'])} | {fmt_ms(s['p99_ms'])} | "
            f"{s['lists']:,} | {total} | mean {fmt_ms(s['mean_ms'])} per list |"
        )
    if "n15_random" in r:
        s = r["n15_random"]
        lines.append(
            f"| `related(id, n=15)` for random articles | {fmt_ms(s['p50_ms'])} | "
            f"{fmt_ms(s['p99_ms'])} | {s['lists']:,} | {s['extrapolated_total_s']} s "
            f"(extrapolated) | mean {fmt_ms(s['mean_ms'])} per list; `related_all` yields "
            "lists in index order, so its capped run covers the first newsgroup(s) only |"
        )
    lines.append(
        f"| build's list stage (fit, verbose) | | | {r['articles']:,} | "
        f'{r["list_stage_s"]} s | from "{r["list_stage_from"]}" to the end of a '
        f"{r['fit_s']} s fit |"
    )
    return "\n".join(lines) + "\n"


# -- main -----------------------------------------------------------------------------------------
def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv and argv[0] == "_worker":
        return worker_main(argv[1:])
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument(
        "--sizes",
        default="100000",
        help="comma-separated corpus sizes (default 100000; full: 100000,886323)",
    )
    p.add_argument(
        "--index-dir",
        type=Path,
        default=RESULTS / "live-index",
        help="where indexes are built once and reused",
    )
    p.add_argument("--rebuild", action="store_true", help="build the indexes again")
    p.add_argument("--ops", type=int, default=200, help="operations per kind (default 200)")
    p.add_argument(
        "--op-budget",
        type=float,
        default=120,
        help="seconds after which a kind of operation stops (default 120)",
    )
    p.add_argument(
        "--min-ops", type=int, default=20, help="operations run even past the budget (default 20)"
    )
    p.add_argument(
        "--hub-budget",
        type=float,
        default=600,
        help="seconds after which the hub removals stop (at least 3; default 600)",
    )
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--load-repeats", type=int, default=5)
    p.add_argument(
        "--parts",
        default="load,ops,server,related_all",
        help="which parts to run (default all: load,ops,server,related_all)",
    )
    p.add_argument(
        "--client",
        choices=("auto", "wrk", "httpx"),
        default="auto",
        help="read load generator of the server part (default: wrk if installed)",
    )
    p.add_argument(
        "--server-seconds",
        type=float,
        default=20,
        help="seconds of the 32-connection read load (1 connection: half)",
    )
    p.add_argument(
        "--server-writes",
        type=int,
        default=10,
        help="writes of each kind (new, existing, delete) during reads (default 10)",
    )
    p.add_argument(
        "--write-seconds",
        type=float,
        default=120,
        help="longest read load during the writes; writes stop 10 s before its end",
    )
    p.add_argument(
        "--max-vm",
        type=float,
        default=14_000,
        help="address-space limit (MiB) of the operations worker and the server (RLIMIT_AS): "
        "a change that needs more fails with MemoryError, recorded (default 14000; 0: none)",
    )
    p.add_argument(
        "--max-rss",
        type=float,
        default=10_000,
        help="stop the server writes when its VmRSS exceeds this many MiB (default 10000)",
    )
    p.add_argument(
        "--related-all-cap",
        type=int,
        default=300,
        help="lists of related_all(n=15) timed (default 300; 0: all)",
    )
    p.add_argument(
        "--profile",
        type=Path,
        default=None,
        help="write cProfile statistics of one slow operation of each kind here",
    )
    p.add_argument("--tmp-dir", default=None, help="where the server's copy of the index goes")
    p.add_argument("--json", type=Path, default=None, help="write all results here")
    a = p.parse_args(argv)
    sizes = [int(s) for s in a.sizes.split(",")]
    parts = set(a.parts.split(","))
    a.index_dir.mkdir(parents=True, exist_ok=True)

    started = time.perf_counter()
    sampler = MachineSampler()
    info = code_info()
    report: dict[str, Any] = {
        "command": [sys.executable, *sys.argv],
        "pythonpath": os.environ.get("PYTHONPATH"),
        "code": info,
        "python": sys.version.split()[0],
        "cores": os.cpu_count(),
        "machine_before": machine_state(),
        "settings": {k: (str(v) if isinstance(v, Path) else v) for k, v in vars(a).items()},
        "sizes": {},
    }
    log(
        f"relatedcontent {info.get('version')} from {info['module']} "
        f"(commit {info.get('commit', '?')[:7]}{', src modified' if info.get('src_dirty') else ''})"
    )
    log(
        f"load average {report['machine_before']['loadavg']}; busy: "
        f"{report['machine_before']['busy_processes'] or 'nothing'}"
    )

    # inputs: one read of the corpus for every size (cached next to the indexes)
    input_paths = {
        s: a.index_dir / f"inputs-{s}-seed{a.seed}-ops{a.ops}-w{a.server_writes}.json"
        for s in sizes
    }
    missing = [s for s in sizes if not input_paths[s].is_file()]
    if missing:
        log(f"reading the corpus to pick the inputs of {missing}")
        run_worker(
            [
                "prep",
                "--sizes",
                ",".join(map(str, missing)),
                "--paths",
                ",".join(str(input_paths[s]) for s in missing),
                "--ops",
                str(a.ops),
                "--seed",
                str(a.seed),
                "--server-writes",
                str(a.server_writes),
            ]
        )

    for size in sizes:
        r: dict[str, Any] = {"machine_start": machine_state()}
        report["sizes"][str(size)] = r
        index = a.index_dir / f"pypi-{size}"
        marker = index / "LIVE_BENCHMARK_BUILD.json"
        if a.rebuild or not marker.is_file():
            log(f"building the {size:,}-article index at {index}")
            b = run_worker(["build", "--size", str(size), "--index", str(index)])
            b.update({"built": True, "code": info})
            marker.write_text(json.dumps(b), encoding="utf-8")
            log(f"built: fit {b['fit_s']} s, save {b['save_s']} s")
        else:
            b = json.loads(marker.read_text(encoding="utf-8"))
            built_by = b.get("code", {})
            if (built_by.get("module"), built_by.get("commit")) != (
                info["module"],
                info.get("commit"),
            ):
                log(
                    f"WARNING: reusing {index}, built by {built_by.get('module')} "
                    f"(commit {built_by.get('commit')}); this run imports {info['module']} "
                    f"(commit {info.get('commit')}). --rebuild to build it with this code"
                )
            b = {**b, "built": False}
        r["build"] = b
        r["index"] = str(index)
        inputs = json.loads(input_paths[size].read_text(encoding="utf-8"))

        if "load" in parts:
            log(f"cold loads ({a.load_repeats} fresh processes each)")
            ld: dict[str, Any] = {
                "index_mib": dir_bytes(index) / 2**20,
                "snapshot_mib": dir_bytes(live_snapshot(index)) / 2**20,
            }
            runs: dict[str, list[dict[str, Any]]] = {"verify": [], "noverify": []}
            for k in range(a.load_repeats):
                for mode in ("verify", "noverify"):
                    args = ["load", "--index", str(index), "--first-id", str(inputs["n5"][k])]
                    if mode == "noverify":
                        args.append("--no-verify")
                    runs[mode].append(run_worker(args))
            ld["import"] = stats([x["import_s"] for x in runs["verify"] + runs["noverify"]])
            ld["load_verify"] = stats([x["load_s"] for x in runs["verify"]])
            ld["load_noverify"] = stats([x["load_s"] for x in runs["noverify"]])
            ld["first_related"] = stats([x["first_related_s"] for x in runs["verify"]])

            def median_rss(rs: list[dict[str, Any]], key: str) -> dict[str, float]:
                return {f: float(np.median([x[key][f] for x in rs])) for f in rs[0][key]}

            ld["rss_before_import"] = median_rss(runs["verify"], "rss_before_import")
            ld["rss_after_load"] = median_rss(runs["verify"], "rss_after_load")
            ld["rss_after_load_noverify"] = median_rss(runs["noverify"], "rss_after_load")
            ld["runs"] = runs
            r["load"] = ld
            log(
                f"  load(mmap=True): {format_stats(ld['load_verify'])}; verify=False: "
                f"{format_stats(ld['load_noverify'])}; VmRSS {ld['rss_after_load']['VmRSS']} MiB"
            )
            if a.profile:
                run_worker(
                    [
                        "load",
                        "--index",
                        str(index),
                        "--first-id",
                        str(inputs["n5"][0]),
                        "--profile",
                        str(a.profile / f"{size}-load"),
                    ]
                )

        if "ops" in parts:
            args = [
                "ops",
                "--index",
                str(index),
                "--inputs",
                str(input_paths[size]),
                "--size",
                str(size),
                "--ops",
                str(a.ops),
                "--op-budget",
                str(a.op_budget),
                "--min-ops",
                str(a.min_ops),
                "--hub-budget",
                str(a.hub_budget),
                "--max-vm",
                str(a.max_vm),
            ]
            if a.profile:
                args += ["--profile", str(a.profile)]
            r["ops"] = run_worker(args)

        if "server" in parts:
            log("server")
            r["server"] = server_benchmark(index, inputs, a)
        r["machine_end"] = machine_state()
        print("\n" + table(size, r, a), flush=True)
        if a.json:
            a.json.parent.mkdir(parents=True, exist_ok=True)
            a.json.write_text(json.dumps(report, indent=1, default=str), encoding="utf-8")

    if "related_all" in parts:
        log("related_all on 20 Newsgroups")
        ra = run_worker(
            [
                "related_all",
                "--index",
                str(a.index_dir / "20ng"),
                "--related-all-cap",
                str(a.related_all_cap or 10**9),
            ]
        )
        report["related_all_20ng"] = ra
        print("\n" + related_all_table(ra), flush=True)

    report["machine_after"] = machine_state()
    report["machine_during"] = sampler.summary()
    report["total_s"] = round(time.perf_counter() - started, 1)
    during = report["machine_during"]
    log(
        f"1-minute load average during the run (every 15 s): min {during['load1_min']}, "
        f"median {during['load1_median']}, max {during['load1_max']}; other busy processes "
        f"seen (samples): {during['other_busy_processes_seen'] or 'none'}"
    )
    log(f"done in {report['total_s']:.0f} s; load average {report['machine_after']['loadavg']}")
    if a.json:
        a.json.parent.mkdir(parents=True, exist_ok=True)
        a.json.write_text(json.dumps(report, indent=1, default=str), encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
