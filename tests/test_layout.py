"""The package keeps its shape: no import cycles, small modules and functions, one-way imports."""

from __future__ import annotations

from ._layout import OPTIONAL, cycles, modules

MAX_MODULE_LINES = 600
MAX_FUNCTION_LINES = 160


def test_no_import_cycles():
    graph = {name: module.imports for name, module in modules().items()}
    assert cycles(graph) == []


def test_a_cycle_is_found_when_there_is_one():
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]


def test_modules_and_functions_stay_small():
    long_modules = [(m.name, m.lines) for m in modules().values() if m.lines > MAX_MODULE_LINES]
    long_functions = [
        (m.name, function, length)
        for m in modules().values()
        for length, function in m.functions
        if length > MAX_FUNCTION_LINES
    ]
    assert long_modules == []
    assert long_functions == []


def test_imports_inside_functions_are_for_optional_dependencies_only():
    inner = [
        (m.name, line, target)
        for m in modules().values()
        for line, target in m.inner_imports
        if target not in OPTIONAL
    ]
    assert inner == []


def test_stages_never_import_the_estimator():
    """Stages are functions of the fitted index; only the shells import RelatedContent."""
    stages = ("ingest", "text", "vectors", "neighbors", "scoring", "index")
    offenders = [
        name
        for name, module in modules().items()
        if name.split(".")[1:2]
        and name.split(".")[1] in stages
        and "relatedcontent._recommender" in module.imports
    ]
    assert offenders == []
