"""The package's structure, checked from its imports: layers point one way, no module cycles, two functions apart.

docs/architecture.md ("Where things live") states the rules this test enforces:
handlers (functions/, infra/) -> logic/serving -> dal/index -> models/config. A new top-level part of the
package must be placed in :data:`LAYERS` (and in the docs) before it can land, so the map stays true.
"""

from __future__ import annotations

import ast
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from movierec.config import REPO_ROOT

PACKAGE = REPO_ROOT / "layers" / "common" / "python"

#: Rank of every top-level part of ``movierec``: a module may import its own rank or a lower one.
LAYERS: dict[str, int] = {
    # models/config: plain types, settings, and the ways every part sets up AWS clients, logs and metrics
    "models": 1, "config": 1, "aws": 1, "observability": 1, "reloaded": 1, "metrics": 1, "alarms": 1, "datasets": 1, "fetch": 1,
    # dal/index: everything that reads or writes a store (DynamoDB, S3, catalog files, the movie API)
    "dal": 2, "index": 2, "catalog": 2,
    # logic/serving: pure logic, rankers, and the services and jobs that combine them with storage
    "logic": 3, "ranking": 3, "serving": 3, "ingest": 3, "evaluation": 3, "training": 3, "gauges": 3,
    "dashboard": 3, "experiments": 3, "drift": 3, "audit": 3, "provenance": 3, "index_job": 3,
}
NAMES = {1: "models/config", 2: "dal/index", 3: "logic/serving"}
#: What pure logic may import besides itself and models: the standard library's computation, no I/O.
PURE_STDLIB = {"__future__", "collections", "dataclasses", "datetime", "enum", "functools", "heapq", "itertools",
               "math", "re", "typing", "zlib", "bisect", "statistics", "hashlib", "json", "abc"}


def _module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _imports(path: Path, module: str) -> Iterator[str]:
    """Every module ``path`` imports, at any depth of the file (imports inside functions count too)."""
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            yield from (alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.rsplit(".", node.level - 1)[0] if node.level > 1 else package
                yield f"{base}.{node.module}" if node.module else base
            elif node.module:
                yield node.module
                # "from movierec.dal import tables" imports the module movierec.dal.tables
                yield from (f"{node.module}.{alias.name}" for alias in node.names)


def _graph() -> dict[str, set[str]]:
    modules = {_module_name(p): p for p in PACKAGE.joinpath("movierec").rglob("*.py")}
    return {m: {i for i in _imports(p, m) if i in modules and i != m} for m, p in modules.items()}


def _part(module: str) -> str:
    return module.split(".")[1] if "." in module else module


GRAPH = _graph()


def test_every_part_of_the_package_has_a_layer() -> None:
    parts = {_part(m) for m in GRAPH if m != "movierec"}
    assert parts - LAYERS.keys() == set(), "place new parts in LAYERS and in docs/architecture.md"


def test_imports_point_down_the_layers() -> None:
    wrong = sorted(
        f"{m} ({NAMES[LAYERS[_part(m)]]}) imports {i} ({NAMES[LAYERS[_part(i)]]})"
        for m, targets in GRAPH.items() if m != "movierec"
        for i in targets if i != "movierec" and LAYERS[_part(i)] > LAYERS[_part(m)]
    )
    assert wrong == []


def test_the_data_layer_takes_no_type_from_logic_or_ranking() -> None:
    wrong = sorted(f"{m} imports {i}" for m, ts in GRAPH.items() if _part(m) == "dal"
                   for i in ts if _part(i) in {"logic", "ranking"})
    assert wrong == []


def test_logic_is_pure() -> None:
    """logic/ imports only itself, models/ and the standard library's computation: no I/O, no AWS types."""
    wrong = []
    for path in PACKAGE.joinpath("movierec", "logic").rglob("*.py"):
        module = _module_name(path)
        for name in _imports(path, module):
            top = name.split(".")[0]
            if top == "movierec":
                if name != "movierec" and _part(name) not in {"logic", "models"}:
                    wrong.append(f"{module} imports {name}")
            elif top not in PURE_STDLIB:
                wrong.append(f"{module} imports {name}")
    assert wrong == []


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Tarjan's strongly connected components of ``graph`` that hold more than one node."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    cycles: list[list[str]] = []
    sys.setrecursionlimit(max(sys.getrecursionlimit(), 10_000))

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in graph.get(v, ()):
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
                cycles.append(sorted(component))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return cycles


def test_no_module_cycles() -> None:
    assert _cycles({m: ts - {"movierec"} for m, ts in GRAPH.items() if m != "movierec"}) == []


def test_no_cycles_between_the_parts_of_the_package() -> None:
    """dal/ and index/ (say) may not import each other: one of them owns what both need."""
    parts: dict[str, set[str]] = {}
    for m, targets in GRAPH.items():
        if m != "movierec":
            parts.setdefault(_part(m), set()).update(_part(t) for t in targets if t != "movierec" and _part(t) != _part(m))
    assert _cycles(parts) == []


def _reach(path: Path) -> set[str]:
    """Every movierec module a function's handler file reaches, transitively."""
    seen: set[str] = set()
    todo = [i for i in _imports(path, path.stem) if i in GRAPH]
    while todo:
        m = todo.pop()
        if m not in seen:
            seen.add(m)
            todo.extend(GRAPH[m])
    return seen


INGEST_ONLY = ("movierec.ingest", "movierec.logic.aggregate", "movierec.logic.parser", "movierec.dal.offsets",
               "movierec.dal.ingest_items", "movierec.dal.intent_codec")
RECOMMEND_ONLY = ("movierec.serving", "movierec.ranking", "movierec.index.loaded")


@pytest.mark.parametrize(("function", "forbidden"), [("recommend", INGEST_ONLY), ("ingest", RECOMMEND_ONLY)])
def test_the_two_functions_import_nothing_of_each_other(function: str, forbidden: tuple[str, ...]) -> None:
    reached = _reach(REPO_ROOT / "functions" / function / "app.py")
    assert sorted(m for m in reached if m.startswith(forbidden)) == []


def test_the_package_imports_no_tooling() -> None:
    """The layer ships to Lambda without infra/ or functions/: nothing in it may import them."""
    wrong = sorted(f"{m} imports {i}" for m in GRAPH
                   for i in _imports(PACKAGE.joinpath(*m.split(".")).with_suffix(".py")
                                     if PACKAGE.joinpath(*m.split(".")).with_suffix(".py").exists()
                                     else PACKAGE.joinpath(*m.split("."), "__init__.py"), m)
                   if i.split(".")[0] in {"infra", "functions", "tests"})
    assert wrong == []
