"""Load a function's Lambda handler from its file, the way Lambda does (no package import, fresh module)."""

from __future__ import annotations

import importlib.util
from typing import Any, Callable

from movierec.config import REPO_ROOT


def load_handler(function: str, attribute: str = "handler") -> Callable[[dict, Any], Any]:
    """``functions/<function>/app.py``'s ``attribute``; each call loads a fresh module (a new "container")."""
    path = REPO_ROOT / "functions" / function / "app.py"
    spec = importlib.util.spec_from_file_location(f"movierec_{function}_app", path)
    if spec is None or spec.loader is None:
        raise ImportError(f"cannot load the {function} handler from {path}")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return getattr(module, attribute)
