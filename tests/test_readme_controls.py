"""The README's editorial-controls example runs as written."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

README_PATH = Path(__file__).resolve().parents[1] / "README.md"
README = README_PATH.read_text(encoding="utf-8")


def test_controls_example(tmp_path, council_path, monkeypatch, capsys):
    code = re.search(
        r"## Editorial controls and explanations\n.*?```python\n(.*?)```", README, re.S
    ).group(1)
    shutil.copy(council_path, tmp_path / "articles.jsonl")
    monkeypatch.chdir(tmp_path)
    exec(compile(code, "README controls", "exec"), {})  # noqa: S102 - our own README
    out = capsys.readouterr().out
    assert out.startswith("pinned term-dates-2027-28-agreed")
    assert "garden-waste-subscriptions-open" not in out
    assert "shared terms:" in out


def test_docs_document_every_related_option():
    from relatedcontent.scoring.options import QueryOptions

    controls = (README_PATH.parent / "docs" / "controls.md").read_text(encoding="utf-8")
    table = re.search(r"The options \(each also settable.*?\n\n(.*?)\n\n", controls, re.S).group(1)
    for name in QueryOptions.__dataclass_fields__:
        assert f"`{name}`" in table, name
