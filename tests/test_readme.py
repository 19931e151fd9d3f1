"""The README's commands are the ones CI runs, and its examples work."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
README = (ROOT / "README.md").read_text(encoding="utf-8")


def test_ci_runs_the_readme_test_command():
    test_command = (
        "python3 -m venv .venv && .venv/bin/pip install -e '.[test]' && .venv/bin/python -m pytest"
    )
    assert test_command in README
    assert test_command in (ROOT / ".ci" / "run").read_text(encoding="utf-8")


def test_demo_command_runs_the_installed_script():
    assert ".venv/bin/relatedcontent demo" in README
    script = shutil.which("relatedcontent", path=str(Path(sys.executable).parent))
    if script is None:
        pytest.skip("the relatedcontent console script is not installed in this environment")
    proc = subprocess.run(
        [script, "demo"], capture_output=True, text=True, timeout=120, check=False
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.count("You might also like") == 3


def sh_block(heading):
    block = re.search(rf"## {heading}\n.*?```sh\n(.*?)```", README, re.S).group(1)
    return [line.split("  #")[0].strip() for line in block.splitlines() if line.strip()]


def python_block(heading):
    return re.search(rf"## {heading}\n.*?```python\n(.*?)```", README, re.S).group(1)


@pytest.fixture
def site(tmp_path, council_path):
    shutil.copy(council_path, tmp_path / "articles.jsonl")
    (tmp_path / "new-article.jsonl").write_text(
        '{"id": "new-1", "title": "Christmas bin dates confirmed", "body": "Bins move by a day."}\n',
        encoding="utf-8",
    )
    (tmp_path / "edited-article.jsonl").write_text(
        '{"id": "missed-bin-reporting", "title": "Report a missed bin", "body": "Use the online form."}\n',
        encoding="utf-8",
    )
    return tmp_path


def run_commands(commands, cwd):
    script = shutil.which("relatedcontent", path=str(Path(sys.executable).parent))
    if script is None:
        pytest.skip("the relatedcontent console script is not installed in this environment")
    for command in commands:
        command = command.replace("relatedcontent", script, 1)
        proc = subprocess.run(
            command,
            shell=True,
            cwd=cwd,
            capture_output=True,
            text=True,  # noqa: S602
            timeout=120,
            check=False,
        )
        assert proc.returncode == 0, (command, proc.stderr)


def test_cli_examples(site):
    run_commands(sh_block("Command line"), site)


def test_publishing_workflow_examples(site, monkeypatch):
    run_commands(sh_block("Keeping lists fresh: publish, edit, unpublish"), site)
    monkeypatch.chdir(site)
    code = "from relatedcontent import load\n" + python_block(
        "Keeping lists fresh: publish, edit, unpublish"
    )
    exec(compile(code, "README publishing", "exec"), {})  # noqa: S102 - our own README


def test_python_quickstart(tmp_path, council_path, monkeypatch):
    code = re.search(r"## Python quickstart\n\n```python\n(.*?)```", README, re.S).group(1)
    code = code.replace("    ...\n", "    pass\n")
    shutil.copy(council_path, tmp_path / "articles.jsonl")
    monkeypatch.chdir(tmp_path)
    exec(compile(code, "README quickstart", "exec"), {})  # noqa: S102 - our own README
    assert (tmp_path / "site-index" / "CURRENT").is_file()
