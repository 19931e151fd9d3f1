"""Read throughput and latency of `relatedcontent serve` under concurrent load on loopback.

Builds (once) an index of the first N documents of the shared PyPI summaries
corpus, or of a seeded synthetic corpus when that file is absent, starts the
server as a subprocess on a free loopback port, and sends a bounded number of
GET requests for random articles' lists (JSON and HTML) with a fixed
concurrency. Reports requests per second, p50/p99 latency and the server's
resident memory.

Clients: an async httpx client in this process (always available), and wrk
(Debian's ``wrk`` package) when it is installed; wrk is far lighter, so its
figures say more about the server itself. Both share the machine's cores with
the server.

Usage::

    python benchmarks/server.py                       # 100k docs, both clients
    python benchmarks/server.py --docs 10000 --client httpx --requests 5000
    python benchmarks/server.py --json benchmarks/results/server.json

Not a test: nothing here runs under pytest.
"""

from __future__ import annotations

import argparse
import asyncio
import gzip
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from urllib.parse import quote

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
PYPI = ROOT.parent / "shared" / "data" / "pypi_summaries.jsonl.gz"
RESULTS = ROOT / "benchmarks" / "results"
ANNOUNCE = re.compile(r"serving .* on (http://127\.0\.0\.1:\d+/)")
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
    'RESULT {"requests": %d, "duration_us": %d, "p50_us": %d, "p99_us": %d, "mean_us": %.1f, ' ..
    '"non_2xx": %d, "socket_errors": %d}\n',
    summary.requests, summary.duration, latency:percentile(50), latency:percentile(99),
    latency.mean, e.status, e.connect + e.read + e.write + e.timeout))
end
"""


def synthetic_corpus(n: int, seed: int = 20261128):
    """Yield ``n`` seeded synthetic articles with a Zipf-like vocabulary."""
    rng = np.random.default_rng(seed)
    syllables = ["ka", "lo", "mi", "ne", "tu", "ra", "so", "vi", "de", "pa", "ri", "gu", "zo", "be"]
    vocab = sorted({"".join(rng.choice(syllables, size=rng.integers(2, 5))) for _ in range(40_000)})
    weights = 1.0 / np.arange(1, len(vocab) + 1) ** 1.05
    weights /= weights.sum()
    for i in range(n):
        words = rng.choice(len(vocab), size=int(rng.integers(8, 30)), p=weights)
        text = [vocab[w] for w in words]
        yield {
            "id": f"doc-{i}",
            "title": " ".join(text[:5]),
            "body": " ".join(text[5:]),
            "url": f"https://example.org/doc-{i}",
        }


def pypi_corpus(n: int):
    """Yield the first ``n`` records of the shared PyPI summaries file."""
    with gzip.open(PYPI, "rt", encoding="utf-8") as handle:
        for i, line in enumerate(handle):
            if i >= n:
                break
            record = json.loads(line)
            record["url"] = f"https://pypi.org/project/{record['id']}/"
            yield record


def build_index(docs: int, path: Path, rebuild: bool) -> tuple[Path, str]:
    """Build (or reuse) the benchmark index; return its path and the corpus name."""
    source = "pypi_summaries" if PYPI.is_file() else "synthetic"
    marker = path / "BENCHMARK_SOURCE"
    if (
        path.is_dir()
        and not rebuild
        and marker.is_file()
        and marker.read_text() == f"{source}:{docs}"
    ):
        return path, source
    from relatedcontent import RelatedContent

    records = list(pypi_corpus(docs) if source == "pypi_summaries" else synthetic_corpus(docs))
    print(f"building a {len(records):,}-article index from {source} at {path} ...", file=sys.stderr)
    started = time.perf_counter()
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # empty summaries are expected in this corpus
        model = RelatedContent(n_neighbors=10, n_jobs=2).fit(records)
    if path.exists():
        shutil.rmtree(path)
    model.save(path)
    marker.write_text(f"{source}:{docs}")
    print(f"built in {time.perf_counter() - started:.0f}s", file=sys.stderr)
    return path, source


def rss_mib(pid: int) -> tuple[float, float]:
    """Return (current, peak) resident memory of process ``pid`` in MiB (Linux /proc)."""
    fields = {}
    with open(f"/proc/{pid}/status", encoding="ascii") as handle:
        for line in handle:
            key, _, value = line.partition(":")
            fields[key] = value.strip()
    return int(fields["VmRSS"].split()[0]) / 1024, int(fields["VmHWM"].split()[0]) / 1024


def start_server(index: Path, token: str | None = None) -> tuple[subprocess.Popen, str]:
    """Start `relatedcontent serve INDEX --port 0` and return (process, base URL)."""
    command = [
        sys.executable,
        "-m",
        "relatedcontent",
        "serve",
        str(index),
        "--port",
        "0",
        "--log-level",
        "warning",
    ]
    env = {k: v for k, v in os.environ.items() if k != "RELATEDCONTENT_TOKEN"}
    if token:
        env["RELATEDCONTENT_TOKEN"] = token
    process = subprocess.Popen(
        command,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline:
        line = process.stderr.readline()
        if not line:
            break
        match = ANNOUNCE.search(line)
        if match:
            return process, match.group(1)
    process.kill()
    msg = "the server did not start"
    raise RuntimeError(msg)


async def httpx_load(
    base: str, paths: list[str], concurrency: int, total: int, max_seconds: float
) -> dict:
    """Send ``total`` GETs (at most ``max_seconds``) with ``concurrency`` in flight."""
    import httpx

    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    latencies: list[float] = []
    errors = 0
    async with httpx.AsyncClient(base_url=base, limits=limits, timeout=60) as client:
        deadline = time.perf_counter() + max_seconds

        async def worker(k: int) -> None:
            nonlocal errors
            for i in range(k, total, concurrency):
                if time.perf_counter() > deadline:
                    return
                t0 = time.perf_counter()
                response = await client.get(paths[i % len(paths)])
                latencies.append(time.perf_counter() - t0)
                errors += response.status_code != 200

        started = time.perf_counter()
        await asyncio.gather(*(worker(k) for k in range(concurrency)))
        elapsed = time.perf_counter() - started
    lat = np.array(latencies) * 1000
    return {
        "requests": len(latencies),
        "seconds": round(elapsed, 2),
        "rps": round(len(latencies) / elapsed, 1),
        "p50_ms": round(float(np.percentile(lat, 50)), 2),
        "p99_ms": round(float(np.percentile(lat, 99)), 2),
        "errors": errors,
    }


def wrk_load(base: str, paths: list[str], concurrency: int, seconds: float) -> dict:
    """Run wrk for ``seconds`` with ``concurrency`` connections over ``paths``."""
    with tempfile.TemporaryDirectory() as tmp:
        script = Path(tmp) / "paths.lua"
        script.write_text(WRK_SCRIPT, encoding="utf-8")
        listing = Path(tmp) / "paths.txt"
        listing.write_text("\n".join("/" + p for p in paths) + "\n", encoding="utf-8")
        proc = subprocess.run(
            [
                "wrk",
                "-t",
                "1",
                "-c",
                str(concurrency),
                "-d",
                f"{int(seconds)}s",
                "-s",
                str(script),
                base,
            ],
            capture_output=True,
            text=True,
            env={**os.environ, "RC_PATHS": str(listing)},
            timeout=seconds + 120,
            check=True,
        )
    line = next(li for li in proc.stdout.splitlines() if li.startswith("RESULT "))
    data = json.loads(line[len("RESULT ") :])
    seconds_run = data["duration_us"] / 1e6
    return {
        "requests": data["requests"],
        "seconds": round(seconds_run, 2),
        "rps": round(data["requests"] / seconds_run, 1),
        "p50_ms": round(data["p50_us"] / 1000, 2),
        "p99_ms": round(data["p99_us"] / 1000, 2),
        "errors": data["non_2xx"] + data["socket_errors"],
        "non_2xx": data["non_2xx"],
        "socket_errors": data["socket_errors"],
    }


def cpu_seconds(pid: int) -> float:
    """Return the user + system CPU time of process ``pid`` so far (Linux /proc)."""
    with open(f"/proc/{pid}/stat", encoding="ascii") as handle:
        fields = handle.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def timed_writes(base: str, token: str, count: int) -> dict:
    """PUT then DELETE ``count`` new articles one at a time; return their latencies."""
    import httpx

    headers = {"Authorization": f"Bearer {token}"}
    puts, deletes = [], []
    with httpx.Client(base_url=base, timeout=600, headers=headers) as client:
        for i in range(count):
            article = {"title": f"benchmark article {i} for python packaging",
                       "body": "A library for parsing and validating configuration files."}
            t0 = time.perf_counter()
            client.put(f"articles/bench-write-{i}", json=article).raise_for_status()
            puts.append(time.perf_counter() - t0)
        for i in range(count):
            t0 = time.perf_counter()
            client.delete(f"articles/bench-write-{i}").raise_for_status()
            deletes.append(time.perf_counter() - t0)
    return {"writes": count, "put_median_ms": round(float(np.median(puts)) * 1000, 1),
            "delete_median_ms": round(float(np.median(deletes)) * 1000, 1)}


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark; print a table and optionally write JSON."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--docs", type=int, default=100_000, help="articles (default 100000)")
    parser.add_argument("--index", type=Path, default=None,
                        help="index folder to build or reuse (default benchmarks/results/)")
    parser.add_argument("--rebuild", action="store_true", help="rebuild the index even if it exists")
    parser.add_argument("--client", choices=("auto", "httpx", "wrk", "both"), default="auto",
                        help="load generator (default: wrk if installed, else httpx)")
    parser.add_argument("--concurrency", type=int, default=32, help="requests in flight (default 32)")
    parser.add_argument("--requests", type=int, default=20_000,
                        help="httpx: at most this many requests per scenario (default 20000)")
    parser.add_argument("--seconds", type=float, default=20, help="time per scenario (default 20)")
    parser.add_argument("--writes", type=int, default=5,
                        help="PUT then DELETE this many articles, timed (default 5; 0: none)")
    parser.add_argument("--n", type=int, default=5, help="items per list (default 5)")
    parser.add_argument("--seed", type=int, default=20261128)
    parser.add_argument("--json", type=Path, default=None, help="write the results here as JSON")
    args = parser.parse_args(argv)

    index = args.index or RESULTS / f"server-index-{args.docs}"
    index.parent.mkdir(parents=True, exist_ok=True)
    index, source = build_index(args.docs, index, args.rebuild)
    from relatedcontent import load

    ids = load(index, mmap=True, verify=False).ids_
    rng = np.random.default_rng(args.seed)
    sample = [ids[i] for i in rng.choice(len(ids), size=min(5000, len(ids)), replace=False)]
    scenarios = {
        "JSON /related/{id}": [f"related/{quote(str(i), safe='')}?n={args.n}" for i in sample],
        "HTML /related/{id}.html": [
            f"related/{quote(str(i), safe='')}.html?n={args.n}" for i in sample
        ],
    }
    has_wrk = shutil.which("wrk") is not None
    if args.client == "auto":
        clients = ["wrk"] if has_wrk else ["httpx"]
    else:
        clients = ["httpx", "wrk"] if args.client == "both" else [args.client]
    if "wrk" in clients and not has_wrk:
        print("wrk is not installed (apt-get install wrk); using httpx", file=sys.stderr)
        clients = ["httpx"]

    token = "benchmark-token-" + "x" * 24
    results = []
    writes = None
    with tempfile.TemporaryDirectory() as tmp:
        served = Path(tmp) / "index"
        shutil.copytree(index, served)  # the writes must not change the cached index
        started = time.perf_counter()
        process, base = start_server(served, token)
        try:
            import httpx

            for _ in range(600):
                try:
                    httpx.get(base + "health", timeout=5)
                    break
                except httpx.TransportError:
                    time.sleep(0.1)
            startup_s = time.perf_counter() - started
            rss_start, _ = rss_mib(process.pid)
            asyncio.run(httpx_load(base, scenarios["JSON /related/{id}"], 8, 500, 30))  # warm-up
            for name, paths in scenarios.items():
                for client in clients:
                    cpu0 = cpu_seconds(process.pid)
                    if client == "httpx":
                        figures = asyncio.run(
                            httpx_load(base, paths, args.concurrency, args.requests, args.seconds)
                        )
                    else:
                        figures = wrk_load(base, paths, args.concurrency, args.seconds)
                    cpu_ms = (cpu_seconds(process.pid) - cpu0) / max(figures["requests"], 1) * 1000
                    rss, peak = rss_mib(process.pid)
                    row = {"scenario": name, "client": client, "concurrency": args.concurrency,
                           **figures, "server_cpu_ms_per_request": round(cpu_ms, 3),
                           "server_rss_mib": round(rss, 1), "server_peak_rss_mib": round(peak, 1)}
                    results.append(row)
                    print(json.dumps(row), file=sys.stderr)
            if args.writes:
                writes = timed_writes(base, token, args.writes)
                writes["server_peak_rss_mib"] = round(rss_mib(process.pid)[1], 1)
                print(json.dumps(writes), file=sys.stderr)
        finally:
            process.terminate()
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                process.kill()

    load_avg = os.getloadavg()[0]
    print(f"\nIndex: {len(ids):,} articles ({source}); server up in {startup_s:.1f}s, RSS after "
          f"start-up {rss_start:.0f} MiB; {os.cpu_count()} cores shared by client and server; "
          f"load average {load_avg:.1f} at the end.\n")
    print("| scenario | client | concurrency | requests | req/s | p50 ms | p99 ms | errors "
          "| server CPU ms/request | server RSS MiB (peak) |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    for r in results:
        print(f"| {r['scenario']} | {r['client']} | {r['concurrency']} | {r['requests']:,} "
              f"| {r['rps']:,.0f} | {r['p50_ms']} | {r['p99_ms']} | {r['errors']} "
              f"| {r['server_cpu_ms_per_request']} | {r['server_rss_mib']:.0f} "
              f"({r['server_peak_rss_mib']:.0f}) |")
    if writes:
        print(f"\nWrites, one at a time: PUT (add) median {writes['put_median_ms']} ms, DELETE "
              f"median {writes['delete_median_ms']} ms, server peak RSS "
              f"{writes['server_peak_rss_mib']:.0f} MiB.")
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        payload = {"docs": len(ids), "source": source, "startup_s": round(startup_s, 1),
                   "rss_start_mib": round(rss_start, 1), "load_average": load_avg,
                   "results": results, "writes": writes, "command": sys.argv}
        args.json.write_text(json.dumps(payload, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
