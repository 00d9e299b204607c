"""Metric names are defined once (movierec.metrics) and every alarm watches a metric the code emits.

The emitted names are read from the source: every ``add_metric(name=...)`` call in the package, the
functions and the local runners, with the name resolved through ``movierec.metrics`` constants (and
``requests_by_status``, which yields the per-class counters), and the keys of a dict literal that are
``movierec.metrics`` constants (the drift job and the audit function build ``{NAME: value}`` mappings and
emit each entry). A literal name that duplicates a constant
is a failure too: the constant must be used, so a rename cannot miss a place.
"""

from __future__ import annotations

import ast
from pathlib import Path

from movierec import metrics
from movierec.alarms import ALARMS
from movierec.config import REPO_ROOT

SOURCES = [REPO_ROOT / "layers" / "common" / "python" / "movierec", REPO_ROOT / "functions", REPO_ROOT / "infra"]
CONSTANTS = {name: value for name, value in vars(metrics).items() if name.isupper() and isinstance(value, str)}


def _emitted() -> tuple[set[str], list[str]]:
    """(names emitted, literal names that duplicate a constant as ``file:line``)."""
    names: set[str] = set()
    duplicates: list[str] = []
    for root in SOURCES:
        for path in sorted(Path(root).rglob("*.py")):
            for node in ast.walk(ast.parse(path.read_text(), str(path))):
                if isinstance(node, ast.Dict):
                    names.update(CONSTANTS[k.id] for k in node.keys if isinstance(k, ast.Name) and k.id in CONSTANTS)
                    continue
                if not (isinstance(node, ast.Call) and getattr(node.func, "attr", None) == "add_metric"):
                    continue
                arg = next((k.value for k in node.keywords if k.arg == "name"), node.args[0] if node.args else None)
                if isinstance(arg, ast.Constant) and isinstance(arg.value, str):
                    names.add(arg.value)
                    if arg.value in CONSTANTS.values():
                        duplicates.append(f"{path.relative_to(REPO_ROOT)}:{node.lineno}")
                elif isinstance(arg, ast.Name) and arg.id in CONSTANTS:
                    names.add(CONSTANTS[arg.id])
                elif isinstance(arg, ast.Call) and getattr(arg.func, "id", None) == "requests_by_status":
                    names.update(metrics.requests_by_status(s) for s in (200, 400, 500))
    return names, duplicates


def test_every_alarm_watches_a_metric_that_is_emitted() -> None:
    emitted, _ = _emitted()
    watched = {(spec.name, q.metric) for spec in ALARMS for q in spec.queries}
    assert watched and {m for _, m in watched} <= set(CONSTANTS.values())
    missing = sorted((alarm, metric) for alarm, metric in watched if metric not in emitted)
    assert missing == [], f"alarms watch metrics nothing emits: {missing}"
    assert "NoSuchMetric" not in emitted  # the check can fail: a name is found only where it is emitted


def test_metric_names_are_written_once() -> None:
    _, duplicates = _emitted()
    assert duplicates == [], f"literal metric names that must use movierec.metrics constants: {duplicates}"
