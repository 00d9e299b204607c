"""Every function's package holds what its code imports: a module missing from a zip or an image fails
every invocation on AWS, yet passes every local test, because the tests import from this one venv.

For each function of template.yaml, the handler module is followed through the imports that run when it
is loaded (module level, ``if``/``try`` blocks and class bodies included; function bodies and
``TYPE_CHECKING`` blocks not: they run later, or never). Our own modules are looked up in the function's
code and layers as the template lays them out (:func:`infra.invoke.function_spec`); every other module
must be the standard library or come from a distribution its pinned ``requirements.txt`` installs (the
zip's ``CodeUri`` folder, or the file the image's Dockerfile copies and installs).
"""

from __future__ import annotations

import ast
import re
import sys
from importlib import metadata
from pathlib import Path

import pytest
from packaging.utils import canonicalize_name

from infra import cfn
from infra.invoke import FunctionSpec, function_ids, function_spec
from movierec.config import REPO_ROOT, Settings

TEMPLATE = cfn.load()
_REQUIREMENTS_COPY = re.compile(r"^COPY\s+.*?(?P<path>\S*requirements\.txt)\b")


def _modules(spec: FunctionSpec) -> dict[str, Path]:
    """Importable module name -> file, as the function's task root and layers hold them."""
    roots: list[tuple[Path, str]] = [(path, "") for path in spec.layer_paths]
    roots += [(src, dest) for src, dest in spec.code]
    found: dict[str, Path] = {}
    for src, dest in roots:
        if src.is_file():
            found[dest.removesuffix(".py").replace("/", ".")] = src
            continue
        base = [p for p in dest.strip("/").split("/") if p]
        for file in src.rglob("*.py"):
            parts = base + list(file.relative_to(src).with_suffix("").parts)
            if parts[-1] == "__init__":
                parts = parts[:-1]
            if parts:
                found.setdefault(".".join(parts), file)
    return found


def _executed_imports(tree: ast.Module, package: str) -> set[str]:
    """Absolute names of the modules imported when the module loads (``package``: for relative imports)."""
    names: set[str] = set()

    def visit(body: list[ast.stmt]) -> None:
        for node in body:
            if isinstance(node, ast.Import):
                names.update(alias.name for alias in node.names)
            elif isinstance(node, ast.ImportFrom):
                base = node.module or ""
                if node.level:
                    anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                    base = ".".join(anchor + ([node.module] if node.module else []))
                names.add(base)
                names.update(f"{base}.{alias.name}" for alias in node.names)  # maybe submodules
            elif isinstance(node, ast.If):
                if not (isinstance(node.test, ast.Name) and node.test.id == "TYPE_CHECKING"):
                    visit(node.body)
                visit(node.orelse)
            elif isinstance(node, ast.Try):
                visit(node.body)
                for handler in node.handlers:
                    visit(handler.body)
                visit(node.orelse)
                visit(node.finalbody)
            elif isinstance(node, (ast.ClassDef, ast.With)):
                visit(node.body)

    visit(tree.body)
    return names - {"__future__"}


def _third_party(spec: FunctionSpec) -> set[str]:
    """Top-level names of the non-project modules the handler's import closure loads."""
    own = _modules(spec)
    handler_module = spec.handler.rsplit(".", 1)[0]
    assert handler_module in own, f"{spec.logical_id}: handler module {handler_module} is not in its package"
    seen: set[str] = set()
    outside: set[str] = set()
    todo = [handler_module]
    while todo:
        name = todo.pop()
        if name in seen:
            continue
        seen.add(name)
        file = own[name]
        package = name if file.name == "__init__.py" else name.rpartition(".")[0]
        for imported in _executed_imports(ast.parse(file.read_text()), package or name):
            parts = imported.split(".")
            for i in range(1, len(parts) + 1):  # importing a.b.c loads a, a.b and a.b.c
                prefix = ".".join(parts[:i])
                if prefix in own:
                    todo.append(prefix)
            if parts[0] not in own and not any(n.split(".")[0] == parts[0] for n in own):
                outside.add(parts[0])
    return {n for n in outside if n not in sys.stdlib_module_names}


def _requirements(logical_id: str) -> set[str]:
    """Canonical names of the distributions the function's package installs."""
    props = TEMPLATE["Resources"][logical_id]
    if props["Properties"].get("PackageType") == "Image":
        dockerfile = (REPO_ROOT / props["Metadata"]["Dockerfile"]).read_text().splitlines()
        [path] = [m.group("path") for line in dockerfile if (m := _REQUIREMENTS_COPY.match(line.strip()))]
        file = REPO_ROOT / props["Metadata"].get("DockerContext", ".") / path
    else:
        file = REPO_ROOT / props["Properties"]["CodeUri"] / "requirements.txt"
    lines = [line.split("#", 1)[0].strip() for line in file.read_text().splitlines()]
    return {canonicalize_name(line.split("==", 1)[0]) for line in lines if line}


@pytest.mark.parametrize("logical_id", function_ids(TEMPLATE))
def test_every_module_a_function_imports_is_in_its_package(logical_id: str) -> None:
    spec = function_spec(logical_id, Settings(), TEMPLATE)
    providers = metadata.packages_distributions()
    installed = _requirements(logical_id)
    missing = {}
    for name in sorted(_third_party(spec)):
        dists = {canonicalize_name(d) for d in providers.get(name, [])}
        if not dists & installed:
            missing[name] = sorted(dists) or ["(no installed distribution provides it)"]
    assert not missing, f"{logical_id} imports modules its package does not install: {missing}"


def test_the_check_sees_a_missing_module(tmp_path: Path) -> None:
    """The check is not vacuous: a handler importing scipy, in a zip whose requirements lack it, is caught."""
    (tmp_path / "app.py").write_text("import json\nfrom scipy import stats\n\ndef handler(e, c):\n    import torch\n")
    spec = FunctionSpec("Probe", "probe", "app.handler", ((tmp_path, ""),), (), {}, 3.0, 128, "us-east-1", "0")
    assert _third_party(spec) == {"scipy"}  # json is stdlib; torch is imported only when called
