"""The examples in the public API's docstrings run and give what they show."""

from __future__ import annotations

import doctest
import importlib

import pytest

#: Modules whose docstrings hold examples of the public API.
MODULES = [
    "relatedcontent",  # RelatedContent and the other re-exported classes say they live here
    "relatedcontent._queries",
    "relatedcontent._editing",
    "relatedcontent._distributed",
    "relatedcontent.ingest.articles",
    "relatedcontent.ingest.sql",
    "relatedcontent.neighbors.plan",
    "relatedcontent.outputs.files",
    "relatedcontent.outputs.strings",
    "relatedcontent.text.clean",
]


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples(name):
    if name == "relatedcontent.ingest.sql":
        pytest.importorskip("sqlalchemy", reason="read_sql's example needs SQLAlchemy (sql extra)")
    module = importlib.import_module(name)
    result = doctest.testmod(module, optionflags=doctest.ELLIPSIS, raise_on_error=False)
    assert result.attempted > 0, f"{name} has no examples left; drop it from MODULES"
    assert result.failed == 0


def test_the_server_examples():
    pytest.importorskip("jinja2", reason="the server's examples need the server extra")
    module = importlib.import_module("relatedcontent.server._render")
    result = doctest.testmod(module, raise_on_error=False)
    assert result.attempted > 0
    assert result.failed == 0


def test_every_module_with_examples_is_checked():
    """A new example in a module this file does not list would never run."""
    import pathlib

    root = pathlib.Path(importlib.import_module("relatedcontent").__file__).parent
    with_examples = {
        "relatedcontent." + ".".join(p.relative_to(root).with_suffix("").parts)
        for p in root.rglob("*.py")
        if ">>>" in p.read_text(encoding="utf-8")
    }
    # RelatedContent's own examples are collected through the package (see MODULES).
    assert with_examples - {"relatedcontent._recommender"} <= {
        *MODULES,
        "relatedcontent.server._render",
    }
