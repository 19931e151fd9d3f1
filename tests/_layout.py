"""The shape of the package, read from its source with ``ast``: imports, cycles, sizes.

Run it to print the import graph, stage by stage, with module sizes::

    python -m tests._layout

tests/test_layout.py checks the rules the project keeps: no import cycles, no
module over 600 lines, no function over 160 lines, and imports inside
functions only for optional dependencies.
"""

from __future__ import annotations

import ast
import sys
from dataclasses import dataclass, field
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[1] / "src" / "relatedcontent"

#: Modules whose own imports are optional dependencies (the extras): importing them
#: inside a function keeps ``import relatedcontent`` free of those dependencies.
OPTIONAL = {
    "relatedcontent.neighbors.kernel": "numba (the fast extra)",
    "relatedcontent.neighbors.selection": "numba (the fast extra)",
    "relatedcontent.server._app": "fastapi (the server extra)",
    "relatedcontent.server._run": "uvicorn (the server extra)",
    "relatedcontent.contrib.django.signals": "django, once the app registry is ready",
}


@dataclass
class Module:
    """What the layout rules need to know about one module."""

    name: str
    path: Path
    lines: int
    imports: set[str] = field(default_factory=set)
    inner_imports: list[tuple[int, str]] = field(default_factory=list)
    functions: list[tuple[int, str]] = field(default_factory=list)


def _name(path: Path) -> str:
    parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts = parts[:-1]
    return ".".join(parts)


def _targets(module: str, is_package: bool, node: ast.ImportFrom) -> list[str]:
    if node.level:
        base = module.split(".") if is_package else module.split(".")[:-1]
        base = base[: len(base) - (node.level - 1)]
        prefix = ".".join(base)
        source = f"{prefix}.{node.module}" if node.module else prefix
    else:
        source = node.module or ""
    return [source] + [f"{source}.{alias.name}" for alias in node.names]


def _in_type_checking(node: ast.AST, parents: dict[ast.AST, ast.AST]) -> bool:
    parent = parents.get(node)
    while parent is not None:
        if isinstance(parent, ast.If) and "TYPE_CHECKING" in ast.unparse(parent.test):
            return True
        parent = parents.get(parent)
    return False


def _enclosing_function(node: ast.AST, parents: dict[ast.AST, ast.AST]) -> ast.AST | None:
    parent = parents.get(node)
    while parent is not None and not isinstance(parent, (ast.FunctionDef, ast.AsyncFunctionDef)):
        parent = parents.get(parent)
    return parent


def modules() -> dict[str, Module]:
    """Every module of the package, with its imports of the package's own modules."""
    paths = sorted(p for p in PACKAGE.rglob("*.py") if "__pycache__" not in p.parts)
    found = {_name(p): p for p in paths}
    out = {}
    for name, path in found.items():
        source = path.read_text(encoding="utf-8")
        tree = ast.parse(source)
        module = Module(name, path, source.count("\n") + 1)
        parents = {child: node for node in ast.walk(tree) for child in ast.iter_child_nodes(node)}
        for node in ast.walk(tree):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                length = (node.end_lineno or node.lineno) - node.lineno + 1
                module.functions.append((length, node.name))
            if isinstance(node, ast.Import):
                targets = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom):
                targets = _targets(name, path.name == "__init__.py", node)
            else:
                continue
            if _in_type_checking(node, parents):
                continue
            own = {t for t in targets if t in found and t != name}
            if any(t.startswith(f"{targets[0]}.") for t in own):
                own.discard(targets[0])  # "from package import module": the module only
            module.imports |= own
            if own and _enclosing_function(node, parents) is not None:
                module.inner_imports.extend((node.lineno, t) for t in sorted(own))
        out[name] = module
    return out


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan's algorithm)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in sorted(graph[v]):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    sys.setrecursionlimit(max(sys.getrecursionlimit(), 10_000))
    for v in sorted(graph):
        if v not in index:
            visit(v)
    return found


def main() -> None:
    """Print every module (grouped by stage) with its size and the modules it imports."""
    found = modules()
    current = None
    for name in sorted(found, key=lambda n: (n.count(".") > 1, n)):
        stage = name.split(".")[1] if name.count(".") > 1 else "(top level)"
        if stage != current:
            print(f"\n{stage}")
            current = stage
        module = found[name]
        imports = ", ".join(sorted(i.removeprefix("relatedcontent.") for i in module.imports))
        short = name.removeprefix("relatedcontent.") or "relatedcontent"
        print(f"  {short:<32} {module.lines:>4} lines  -> {imports or '-'}")
    graph = {name: module.imports for name, module in found.items()}
    print(f"\n{len(found)} modules; import cycles: {cycles(graph) or 'none'}")


if __name__ == "__main__":
    main()
