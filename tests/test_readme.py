"""The README's commands are the ones CI runs, and its examples work."""

from __future__ import annotations

import json
import re
import shlex
import shutil
import socket
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
        '{"id": "new-1", "title": "Christmas bin dates confirmed", '
        '"body": "Bins move by a day."}\n',
        encoding="utf-8",
    )
    (tmp_path / "edited-article.jsonl").write_text(
        '{"id": "missed-bin-reporting", "title": "Report a missed bin", '
        '"body": "Use the online form."}\n',
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


def section(heading):
    """The text of a README section, from its ``##`` heading to the next ``##`` heading."""
    match = re.search(rf"^## {re.escape(heading)}\n(.*?)(?=^## |\Z)", README, re.S | re.M)
    assert match, f"README has no section {heading!r}"
    return match.group(1)


def pyproject_extras():
    try:
        import tomllib
    except ImportError:  # Python 3.10
        tomllib = pytest.importorskip("tomli", reason="reading pyproject.toml needs tomli on 3.10")
    with (ROOT / "pyproject.toml").open("rb") as handle:
        return set(tomllib.load(handle)["project"]["optional-dependencies"])


def test_install_section_names_every_extra():
    """The Install table lists the user-facing extras, and every extra the README names exists."""
    extras = pyproject_extras()
    table = set(re.findall(r"^\| `([a-z]+)` \|", section("Install"), re.M))
    # `fast` (numba) is in the core install now; the extra stays for installs that name it
    assert table == extras - {"test", "bench", "fast"}
    named = set()
    for group in re.findall(r"(?:relatedcontent|\.)\[([a-z,]+)\]", README):
        named.update(group.split(","))
    assert named
    assert named <= extras, named - extras


def free_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_http_service_examples(site, monkeypatch):
    """The HTTP section's commands: serve the demo, build and serve an index, write with a token."""
    pytest.importorskip("fastapi", reason="the server extra is not installed")
    pytest.importorskip("httpx", reason="the server tests need httpx")
    import httpx

    from ._server import running_server

    text = section("HTTP service, widget and editor's page")
    blocks = re.findall(r"```sh\n(.*?)```", text, re.S)
    assert len(blocks) == 2
    monkeypatch.chdir(site)
    serves = 0
    for line in blocks[0].splitlines():
        for command in line.split("  #")[0].strip().split(" && "):
            argv = shlex.split(command)
            assert argv[0] == "relatedcontent", command
            if argv[1] != "serve":
                run_commands([command], site)
                continue
            serves += 1
            # the helper adds --port 0, which wins over the README's port
            with running_server(argv[2:]) as server:
                answer = httpx.get(server.base_url + "related/bin-collection-changes-christmas")
                assert answer.status_code == 200, answer.text
                assert len(answer.json()["related"]) == 5
    assert serves == 2

    if shutil.which("curl") is None or shutil.which("python3") is None:
        pytest.skip("the write example needs curl and python3")
    port = free_port()
    relatedcontent = f"{shlex.quote(sys.executable)} -m relatedcontent"
    script = ["set -e"]
    for line in blocks[1].splitlines():
        line = line.replace("http://127.0.0.1:8000/", f"http://127.0.0.1:{port}/")
        line = line.replace("curl ", "curl --fail -sS ")
        if line.startswith("relatedcontent serve ") and line.endswith(" &"):
            script += [
                line[: -len(" &")].replace("relatedcontent", relatedcontent, 1)
                + f" --port {port} --log-level warning &",
                "SERVER=$!",
                "trap 'kill $SERVER' EXIT",
                f"for i in $(seq 1 600); do curl -s -o /dev/null http://127.0.0.1:{port}/health"
                " && break; sleep 0.1; done",
            ]
        else:
            script.append(line)
    proc = subprocess.run(
        ["bash", "-c", "\n".join(script)],
        cwd=site,
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )
    assert proc.returncode == 0, (proc.stdout, proc.stderr)
    decoder = json.JSONDecoder()
    put, end = decoder.raw_decode(proc.stdout)
    delete, _ = decoder.raw_decode(proc.stdout[end:])
    assert (put["status"], delete["status"]) == ("added", "removed"), proc.stdout
    from relatedcontent import load

    model = load(site / "site-index")
    assert "christmas-trees" not in model.ids_
    assert (model.drift_["added"], model.drift_["removed"]) == (1, 1)
