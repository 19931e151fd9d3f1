"""The README stays short, the docs' links lead somewhere, and the docs' examples run."""

from __future__ import annotations

import gzip
import json
import re
import shlex
import shutil
import socket
import subprocess
import sys
import time
import unicodedata
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[1]
README = ROOT / "README.md"
DOCS = sorted((ROOT / "docs").glob("*.md"))
MAX_README_CHARS = 25_000
LINK = re.compile(r"(?<!!)\[[^\]]*\]\(([^)\s]+)\)")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def read(path: Path) -> str:
    return path.read_text(encoding="utf-8")


def test_readme_is_short():
    chars = len(read(README))
    assert chars < MAX_README_CHARS, (
        f"README.md has {chars} characters; keep it under {MAX_README_CHARS} and move "
        "details to docs/"
    )


def test_docs_exist():
    names = {path.name for path in DOCS}
    assert {"how-it-works.md", "capacity.md", "operations.md", "architecture.md"} <= names


def slug(heading: str) -> str:
    """GitHub's anchor for a heading: lower case, punctuation dropped, spaces to hyphens."""
    text = heading.strip().lower()
    kept = "".join(ch for ch in text if ch in " -_" or unicodedata.category(ch)[0] in "LN")
    return kept.replace(" ", "-")


def anchors(path: Path) -> set[str]:
    """The anchors of a Markdown file's headings (outside code blocks), with GitHub's -1, -2..."""
    found: set[str] = set()
    counts: dict[str, int] = {}
    in_code = False
    for line in read(path).splitlines():
        if line.startswith("```"):
            in_code = not in_code
            continue
        match = re.match(r"#{1,6} (.+)", line)
        if in_code or not match:
            continue
        base = slug(match.group(1))
        n = counts.get(base, 0)
        counts[base] = n + 1
        found.add(base if n == 0 else f"{base}-{n}")
    return found


def links(path: Path) -> list[str]:
    """The link targets of a Markdown file, outside code blocks and inline code."""
    text = re.sub(r"```.*?```", "", read(path), flags=re.S)
    text = re.sub(r"`[^`\n]*`", "", text)
    return LINK.findall(text)


@pytest.mark.parametrize(
    "path",
    [README, *DOCS, ROOT / "benchmarks" / "README.md", ROOT / "benchmarks" / "HISTORY.md"],
    ids=lambda p: str(p.relative_to(ROOT)),
)
def test_relative_links_point_to_existing_files(path):
    problems = []
    targets = links(path)
    for target in targets:
        if re.match(r"[a-z][a-z0-9+.-]*:", target):  # http:, https:, mailto: ...
            continue
        file_part, _, fragment = target.partition("#")
        dest = (path.parent / file_part).resolve() if file_part else path
        if not dest.exists():
            problems.append(f"{target}: no file {dest}")
        elif fragment and dest.suffix == ".md" and fragment not in anchors(dest):
            problems.append(f"{target}: no heading with anchor #{fragment} in {dest.name}")
    assert not problems, problems


def test_readme_links_every_doc():
    targets = {target.partition("#")[0] for target in links(README)}
    for path in DOCS:
        assert f"docs/{path.name}" in targets, path.name


def test_architecture_keeps_the_layout_placeholder_section():
    text = read(ROOT / "docs" / "architecture.md")
    assert re.search(r"^## Source layout\n", text, re.M)


# The examples of docs/, run as written (with the changes each test names).


def doc_blocks(name: str, language: str) -> list[str]:
    return re.findall(rf"```{language}\n(.*?)```", read(ROOT / "docs" / name), re.S)


def test_top_k_neighbors_example(council_records):
    from sklearn.feature_extraction.text import TfidfVectorizer

    (code,) = [b for b in doc_blocks("how-it-works.md", "python") if "top_k_neighbors" in b]
    X = TfidfVectorizer().fit_transform(r["title"] + " " + r["body"] for r in council_records)
    namespace = {"X": X}
    exec(compile(code, "docs top_k_neighbors", "exec"), namespace)  # noqa: S102 - our own docs
    indices, scores = namespace["indices"], namespace["scores"]
    assert indices.shape == scores.shape == (len(council_records), 10)
    assert np.all(np.diff(scores, axis=1) <= 0)  # best first
    assert not np.any(indices == np.arange(len(council_records))[:, None])  # never itself


class _FakeSentenceTransformer:
    """Stands in for a sentence-transformers model: a hashed bag of words, unit length."""

    def __init__(self, name):
        self.name = name

    def encode(self, texts):
        out = np.zeros((len(texts), 64))
        for row, text in enumerate(texts):
            for word in re.findall(r"[a-z]+", text.lower()):
                out[row, sum(map(ord, word)) % 64] += 1.0
        norms = np.linalg.norm(out, axis=1, keepdims=True)
        return out / np.where(norms == 0, 1, norms)


def test_semantic_vectors_example(tmp_path, council_path, monkeypatch):
    import types

    (code,) = [b for b in doc_blocks("how-it-works.md", "python") if "SentenceTransformer" in b]
    fake = types.ModuleType("sentence_transformers")
    fake.SentenceTransformer = _FakeSentenceTransformer
    monkeypatch.setitem(sys.modules, "sentence_transformers", fake)
    shutil.copy(council_path, tmp_path / "articles.jsonl")
    monkeypatch.chdir(tmp_path)
    code = "from relatedcontent import RelatedContent, load, read_articles\n" + code
    namespace: dict = {}
    exec(compile(code, "docs semantic vectors", "exec"), namespace)  # noqa: S102 - our own docs
    (snapshot,) = (tmp_path / "site-index").glob("snapshot-*")
    assert (snapshot / "embeddings.npy").is_file()
    assert namespace["rc"].embeddings_ is not None


def test_backup_examples(tmp_path, council_path, monkeypatch):
    from relatedcontent import RelatedContent, load, read_articles

    rc = RelatedContent().fit(read_articles(council_path))
    rc.save(tmp_path / "site-index")
    rc = load(tmp_path / "site-index")
    rc.remove(["missed-bin-reporting"])
    rc.save(tmp_path / "site-index")  # a journal to copy as well
    monkeypatch.chdir(tmp_path)
    (command,) = [b.strip() for b in doc_blocks("operations.md", "sh") if "flock" in b]
    if shutil.which("flock") is None:
        pytest.skip("the flock program (util-linux) is not installed")
    subprocess.run(shlex.split(command), cwd=tmp_path, check=True, timeout=60)
    copied = load(tmp_path / "site-index-backup")
    assert copied.ids_ == load(tmp_path / "site-index").ids_
    shutil.rmtree(tmp_path / "site-index-backup")
    (code,) = [b for b in doc_blocks("operations.md", "python") if "backup" in b]
    exec(compile(code, "docs backup", "exec"), {})  # noqa: S102 - our own docs
    copied = load(tmp_path / "site-index-backup")
    assert copied.ids_ == load(tmp_path / "site-index").ids_
    assert "missed-bin-reporting" not in copied.ids_


def _dask_command() -> list[str]:
    script = Path(sys.executable).parent / "dask"
    if not script.exists():
        pytest.skip("the dask command is not installed (pip install -e '.[test]')")
    return [str(script)]


def test_dask_examples(tmp_path, council_records, monkeypatch):
    """docs/capacity.md's cluster commands and Python, on a scheduler and 2 workers on loopback."""
    pytest.importorskip("distributed", reason="needs dask[distributed] (the dask extra)")
    from relatedcontent import RelatedContent, load
    from relatedcontent.cli import main

    (shell,) = [b for b in doc_blocks("capacity.md", "sh") if "dask scheduler" in b]
    (code,) = [b for b in doc_blocks("capacity.md", "python") if "fit_distributed" in b]
    commands = [line.split("  #")[0].strip() for line in shell.splitlines() if line.strip()]
    assert [c.split()[:2] for c in commands] == [
        ["dask", "scheduler"],
        ["dask", "worker"],
        ["relatedcontent", "build"],
    ]
    (tmp_path / "parts").mkdir()
    for part in range(2):
        with gzip.open(tmp_path / "parts" / f"{part}.jsonl.gz", "wt", encoding="utf-8") as handle:
            for record in council_records[part * 32 : (part + 1) * 32]:
                handle.write(json.dumps(record) + "\n")
    address = f"tcp://127.0.0.1:{free_port()}"
    dask = _dask_command()
    scheduler_argv = dask + shlex.split(commands[0])[1:]
    scheduler_argv += ["--host", "127.0.0.1", "--port", address.rsplit(":", 1)[1]]
    scheduler_argv += ["--dashboard-address", ":0", "--no-show"]
    worker_argv = dask + shlex.split(commands[1].replace("tcp://HOST:8786", address))[1:]
    worker_argv[worker_argv.index("--nworkers") + 1] = "2"  # 8 in the docs; this is a test
    worker_argv += ["--no-dashboard"]
    processes = []
    try:
        for argv in (scheduler_argv, worker_argv):
            processes.append(
                subprocess.Popen(
                    argv, cwd=tmp_path, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
                )
            )
            time.sleep(1)
        import distributed

        with distributed.Client(address, timeout=60) as client:
            client.wait_for_workers(2, timeout=120)
        argv = shlex.split(commands[2].replace("tcp://HOST:8786", address))
        monkeypatch.chdir(tmp_path)
        assert main(argv[1:] + ["--quiet"]) == 0
        single = RelatedContent(n_neighbors=10).fit(council_records)
        built = load(tmp_path / "site-index")
        assert built.ids_ == single.ids_
        np.testing.assert_array_equal(built.neighbors_, single.neighbors_)
        (tmp_path / "site-index").rename(tmp_path / "cli-index")
        code = code.replace("tcp://HOST:8786", address)
        exec(compile(code, "docs Dask", "exec"), {})  # noqa: S102 - our own docs
        np.testing.assert_array_equal(load(tmp_path / "site-index").neighbors_, single.neighbors_)
    finally:
        for process in reversed(processes):
            process.terminate()
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(timeout=30)
