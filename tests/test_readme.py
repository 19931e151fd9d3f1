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
    test_command = "python3 -m venv .venv && .venv/bin/pip install -e '.[test]' && .venv/bin/python -m pytest"
    assert test_command in README
    assert test_command in (ROOT / ".ci" / "run").read_text(encoding="utf-8")


def test_demo_command_runs_the_installed_script():
    assert ".venv/bin/relatedcontent demo" in README
    script = shutil.which("relatedcontent", path=str(Path(sys.executable).parent))
    if script is None:
        pytest.skip("the relatedcontent console script is not installed in this environment")
    proc = subprocess.run([script, "demo"], capture_output=True, text=True, timeout=120, check=False)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.count("You might also like") == 3


def test_cli_examples(tmp_path, council_path):
    block = re.search(r"## Command line\n\n```sh\n(.*?)```", README, re.S).group(1)
    commands = [line for line in block.splitlines() if line.strip()]
    shutil.copy(council_path, tmp_path / "articles.jsonl")
    script = shutil.which("relatedcontent", path=str(Path(sys.executable).parent))
    if script is None:
        pytest.skip("the relatedcontent console script is not installed in this environment")
    for command in commands:
        command = command.split("  #")[0].replace("relatedcontent", script)
        proc = subprocess.run(command, shell=True, cwd=tmp_path, capture_output=True, text=True,  # noqa: S602
                              timeout=120, check=False)
        assert proc.returncode == 0, (command, proc.stderr)


def test_python_quickstart(tmp_path, council_path, monkeypatch):
    code = re.search(r"## Python quickstart\n\n```python\n(.*?)```", README, re.S).group(1)
    code = code.replace("    ...\n", "    pass\n")
    shutil.copy(council_path, tmp_path / "articles.jsonl")
    monkeypatch.chdir(tmp_path)
    exec(compile(code, "README quickstart", "exec"), {})  # noqa: S102 - our own README
    assert (tmp_path / "site-index" / "CURRENT").is_file()
